// SPDX-License-Identifier: BSD-3-Clause
// x86-64 code patching (interface and vocabulary in patch.hpp).
//
// Why no thread ever executes a half-written instruction
//
// Every patch replaces exactly one instruction of at least 5 bytes by a
// 5-byte `jmp rel32` (e9 + displacement) to a trampoline mapped within reach:
// `mov $nr, %eax` (b8 + imm32) before a `syscall`, or the first instruction
// of another patcher's jump (e9 rel32, or movabs $target, %r11 of the
// `movabs; jmp *%r11` that UCX, Open MPI and libfabric write). Because the
// patched bytes lie inside one old instruction, no instruction boundary of the
// old code falls inside the new jump: a thread that was preempted or
// interrupted by a signal at any old boundary resumes on either an untouched
// old instruction or the start of the jump. (Patchers that overwrite 13 bytes
// covering several instructions break exactly there: a thread stopped between
// two of them resumes in the middle of the new code.)
//
// The bytes change in one of two ways, both under a temporary
// PROT_READ|PROT_WRITE|PROT_EXEC of the page (execute permission is never
// removed, since other threads run there; the original protection is restored
// right after) with every signal blocked in the patching thread:
//
//   1. The 5 bytes lie within one naturally aligned 8-byte word: one
//      `lock cmpxchg` on that word (which also refuses if the bytes changed
//      since they were inspected). The store is a single access to a single
//      cache line; instruction fetch on x86 is coherent with data stores
//      (the line is invalidated in every instruction cache, and a core whose
//      pipeline holds instructions from a modified line discards them), so a
//      thread fetches either all old or all new bytes of the word. Both are
//      complete instructions.
//   2. Otherwise (they straddle two words): first a 2-byte `jmp .` (eb fe)
//      replaces the first two bytes of the instruction, by cmpxchg on the word
//      holding them (a thread arriving now spins on it); then the three
//      remaining bytes are written (nobody executes them: arriving threads
//      spin on the first two bytes, and no old instruction boundary lies
//      among them); then the first two bytes become e9 + the displacement's
//      low byte, by cmpxchg. Each intermediate state is made of complete
//      instructions. This is the scheme HotSpot uses for MT-safe jumps.
//
// After each step every thread of the process is made to execute a
// serializing instruction (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_
// CORE)), which is what Intel's SDM (vol. 3, 8.1.3, cross-modifying code)
// asks of the executing processors before they run modified code, so no core
// keeps a stale pre-decoded copy of the old bytes beyond the step. Kernels
// without SYNC_CORE fall back on the TLB-shootdown interrupts of the
// mprotect calls around the write, which serialize the cores running this
// process.
//
// The patching thread runs only raw system calls and its own code between
// the steps of 2 (it must never reach the instruction it spins others on);
// a site whose first two bytes straddle two words is refused.
#include "os/patch.hpp"

#include "os/raw_syscall.hpp"
#include "os/sys.hpp"

#include <capstone/capstone.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <linux/membarrier.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace umn::patch {

namespace {

constexpr size_t jump_length = 5;
constexpr unsigned char endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};

const unsigned char *bytes_at(uintptr_t a) {
    return reinterpret_cast<const unsigned char *>(a);
}

uint32_t load32(const unsigned char *p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

uint64_t load64(const unsigned char *p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::string hex(uintptr_t a) {
    std::ostringstream s;
    s << "0x" << std::hex << a;
    return s.str();
}

// `mov $nr, %eax; syscall` at `at`.
bool is_syscall_stub(const unsigned char *c, long nr) {
    return c[0] == 0xb8 && load32(c + 1) == static_cast<uint32_t>(nr) && c[5] == 0x0f &&
           c[6] == 0x05;
}

// The instruction before a `syscall` that a site jump may replace: 5 bytes,
// position-independent, so the trampoline runs a copy of it first:
// `mov $nr, %eax` (the wrappers), or `mov disp8(%rsp), %r9` (libc's
// syscall(), loading its sixth argument; `nr` any_syscall).
bool displaceable(const unsigned char *c, long nr) {
    if (nr != any_syscall) return c[0] == 0xb8 && load32(c + 1) == static_cast<uint32_t>(nr);
    return (c[0] == 0x4c && c[1] == 0x8b && c[2] == 0x4c && c[3] == 0x24) || c[0] == 0xb8;
}

// A jump another patcher wrote at `c`: its target and the length of the
// instruction our jump would replace.
bool foreign_jump(const unsigned char *c, uintptr_t *target, size_t *length) {
    if (c[0] == 0xe9) {  // jmp rel32
        auto rel = static_cast<int32_t>(load32(c + 1));
        *target = reinterpret_cast<uintptr_t>(c) + jump_length + static_cast<intptr_t>(rel);
        *length = jump_length;
        return true;
    }
    // movabs $target, %r11; jmp *%r11 (UCX bistro, Open MPI patcher, libfabric memhooks)
    if (c[0] == 0x49 && c[1] == 0xbb && c[10] == 0x41 && c[11] == 0xff && c[12] == 0xe3) {
        *target = load64(c + 2);
        *length = 10;
        return true;
    }
    // movabs $target, %rax; jmp *%rax
    if (c[0] == 0x48 && c[1] == 0xb8 && c[10] == 0xff && c[11] == 0xe0) {
        *target = load64(c + 2);
        *length = 10;
        return true;
    }
    return false;
}

void keep_original(plan *p) {
    std::memcpy(p->original, bytes_at(p->at), sizeof p->original);
}

// A site plan for the displaceable instruction at `at` before a `syscall`.
plan site_plan(uintptr_t at) {
    plan p;
    p.how = mode::site;
    p.at = at;
    p.resume = at + 7;  // after the syscall instruction
    p.length = jump_length;
    keep_original(&p);
    return p;
}

// Capstone, opened for one inspection.
class disassembler {
  public:
    disassembler() {
        ok_ = cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) == CS_ERR_OK;
        if (ok_) cs_option(handle_, CS_OPT_DETAIL, CS_OPT_ON);
    }
    ~disassembler() {
        if (ok_) cs_close(&handle_);
    }
    disassembler(const disassembler &) = delete;
    disassembler &operator=(const disassembler &) = delete;
    bool ok() const { return ok_; }

    // Calls f(insn) for each instruction of [start, start + size); false if
    // some bytes do not decode.
    template <class F>
    bool each(uintptr_t start, size_t size, F &&f) {
        cs_insn *insn = cs_malloc(handle_);
        if (!insn) return false;
        const uint8_t *code = bytes_at(start);
        uint64_t address = start;
        while (size && cs_disasm_iter(handle_, &code, &size, &address, insn)) f(*insn);
        cs_free(insn, 1);
        return size == 0;
    }

    // Whether the instruction reads or writes a vector register (which the
    // handler, ordinary C++ code, may clobber).
    bool uses_vector_registers(const cs_insn &insn) const {
        cs_regs read, written;
        uint8_t nread = 0, nwritten = 0;
        if (cs_regs_access(handle_, &insn, read, &nread, written, &nwritten) != CS_ERR_OK)
            return true;
        auto vector = [&](uint16_t reg) {
            const char *name = cs_reg_name(handle_, reg);
            return name && (!std::strncmp(name, "xmm", 3) || !std::strncmp(name, "ymm", 3) ||
                            !std::strncmp(name, "zmm", 3));
        };
        for (uint8_t i = 0; i < nread; ++i)
            if (vector(read[i])) return true;
        for (uint8_t i = 0; i < nwritten; ++i)
            if (vector(written[i])) return true;
        return false;
    }

  private:
    csh handle_ = 0;
    bool ok_ = false;
};

// The site plan: the function's only system call, preceded by `mov $nr,
// %eax`, in a function that touches no vector register.
plan plan_site(uintptr_t fn, size_t size, long nr) {
    plan p;
    disassembler d;
    if (!d.ok()) {
        p.why = "the disassembler (capstone) does not open";
        return p;
    }
    unsigned syscalls = 0;
    bool vector = false;
    uintptr_t last = 0, site = 0;
    bool decoded = d.each(fn, size, [&](const cs_insn &insn) {
        vector = vector || d.uses_vector_registers(insn);
        if (insn.id == X86_INS_SYSCALL) {
            ++syscalls;
            if (last && insn.address == last + jump_length && displaceable(bytes_at(last), nr))
                site = last;
        }
        last = static_cast<uintptr_t>(insn.address);
    });
    if (!decoded)
        p.why = "undecodable code in the function at " + hex(fn);
    else if (syscalls != 1 || !site)
        p.why = "not one system call preceded by a displaceable instruction";
    else if (vector)
        p.why = "the function uses vector registers";
    if (!p.why.empty()) return p;
    return site_plan(site);
}

// ---- writing ----

int page_protection(uintptr_t addr) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        uintptr_t start = 0, end = 0;
        char perms[5] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3) continue;
        if (addr < start || addr >= end) continue;
        int prot = 0;
        if (perms[0] == 'r') prot |= PROT_READ;
        if (perms[1] == 'w') prot |= PROT_WRITE;
        if (perms[2] == 'x') prot |= PROT_EXEC;
        return prot;
    }
    return -ENOMEM;
}

int protect(uintptr_t start, size_t len, int prot) {
    long rc =
        sys::raw_syscall3(SYS_mprotect, static_cast<long>(start), static_cast<long>(len), prot);
    return static_cast<int>(rc);
}

bool sync_core_registered() {
    static const bool registered =
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0;
    return registered;
}

// Every thread of the process executes a serializing instruction before this
// returns (see the top of the file).
void serialize_all_cores() {
    if (sync_core_registered())
        sys::raw_syscall3(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0);
}

// lock cmpxchg on code: inline assembly, so that sanitizers do not treat the
// libc text as data they shadow.
bool compare_exchange(uint64_t *word, uint64_t *expected, uint64_t desired) {
    bool swapped;
    __asm__ volatile("lock cmpxchgq %3, %1"
                     : "=@ccz"(swapped), "+m"(*word), "+a"(*expected)
                     : "r"(desired)
                     : "memory");
    return swapped;
}

void store_byte(uintptr_t at, unsigned char value) {
    __asm__ volatile("movb %1, %0" : "=m"(*reinterpret_cast<unsigned char *>(at)) : "q"(value));
}

// Replaces n bytes at `at` (within one aligned 8-byte word) from `expect` to
// `desired` with one compare-and-swap of the word.
int swap_bytes(uintptr_t at, const unsigned char *expect, const unsigned char *desired, size_t n) {
    auto *word = reinterpret_cast<uint64_t *>(at & ~uintptr_t{7});
    const size_t offset = at & 7;
    uint64_t old;
    std::memcpy(&old, word, 8);
    for (;;) {
        unsigned char image[8];
        std::memcpy(image, &old, 8);
        if (std::memcmp(image + offset, expect, n)) return -EAGAIN;
        std::memcpy(image + offset, desired, n);
        uint64_t updated;
        std::memcpy(&updated, image, 8);
        if (compare_exchange(word, &old, updated)) return 0;
    }
}

// The three steps of scheme 2 at the top of the file.
int write_straddling(uintptr_t at, const unsigned char *original, const unsigned char *jump) {
    static const unsigned char spin[2] = {0xeb, 0xfe};  // jmp .
    if ((at & 7) == 7) return -ENOTSUP;
    if (int rc = swap_bytes(at, original, spin, 2)) return rc;
    serialize_all_cores();
    for (size_t i = 2; i < jump_length; ++i) store_byte(at + i, jump[i]);
    serialize_all_cores();
    return swap_bytes(at, spin, jump, 2);
}

// ---- trampolines ----

class emitter {
  public:
    explicit emitter(unsigned char *at) : start_(at), at_(at) {}
    void bytes(std::initializer_list<unsigned char> b) {
        for (unsigned char c : b) *at_++ = c;
    }
    void u32(uint32_t v) {
        std::memcpy(at_, &v, 4);
        at_ += 4;
    }
    void u64(uint64_t v) {
        std::memcpy(at_, &v, 8);
        at_ += 8;
    }
    // ff 15 / ff 25 with a rip-relative literal patched in by literal().
    unsigned char *rip_slot(unsigned char opcode2) {
        bytes({0xff, opcode2});
        unsigned char *slot = at_;
        u32(0);
        return slot;
    }
    void literal(unsigned char *slot, uint64_t value) {
        auto rel = static_cast<uint32_t>(at_ - (slot + 4));
        std::memcpy(slot, &rel, 4);
        u64(value);
    }
    size_t size() const { return static_cast<size_t>(at_ - start_); }

  private:
    unsigned char *start_;
    unsigned char *at_;
};

// Calls handler(index, args[, state]) with args pointing at six saved
// registers, the stack aligned; rbx keeps the unaligned stack pointer.
// index_from_rax: the handler's index is rax (the system call number).
// state_at: where the state lies, as an offset from args (0: no state;
// under 120, a one-byte displacement).
unsigned char *emit_call_handler(emitter &e, long index, bool index_from_rax,
                                 unsigned char state_at = 0) {
    e.bytes({0x53});                          // push %rbx
    e.bytes({0x48, 0x8d, 0x74, 0x24, 0x08});  // lea 8(%rsp), %rsi
    if (state_at) {
        e.bytes({0x48, 0x8d, 0x54, 0x24});  // lea 8+state_at(%rsp), %rdx
        e.bytes({static_cast<unsigned char>(8 + state_at)});
    }
    e.bytes({0x48, 0x89, 0xe3});        // mov %rsp, %rbx
    e.bytes({0x48, 0x83, 0xe4, 0xf0});  // and $-16, %rsp
    if (index_from_rax) {
        e.bytes({0x48, 0x89, 0xc7});  // mov %rax, %rdi
    } else {
        e.bytes({0x48, 0xc7, 0xc7});  // mov $index, %rdi (sign-extended: indexes may be negative)
        e.u32(static_cast<uint32_t>(index));
    }
    unsigned char *slot = e.rip_slot(0x15);  // call *handler(%rip)
    e.bytes({0x48, 0x89, 0xdc});             // mov %rbx, %rsp
    e.bytes({0x5b});                         // pop %rbx
    return slot;
}

}  // namespace

const char *mode_name(mode m) {
    switch (m) {
        case mode::entry:
            return "entry";
        case mode::site:
            return "site";
        case mode::chained:
            return "chained";
        default:
            return "none";
    }
}

plan plan_function(uintptr_t fn, size_t size, long nr, bool entry_allowed) {
    uintptr_t at = fn;
    if (size >= sizeof endbr64 && !std::memcmp(bytes_at(fn), endbr64, sizeof endbr64))
        at += sizeof endbr64;
    plan p;
    if (foreign_jump(bytes_at(at), &p.previous, &p.length)) {
        p.how = mode::chained;
        p.at = at;
        keep_original(&p);
        return p;
    }
    if (entry_allowed && is_syscall_stub(bytes_at(at), nr)) {
        p.how = mode::entry;
        p.at = at;
        p.length = jump_length;
        keep_original(&p);
        return p;
    }
    return plan_site(fn, size, nr);
}

bool calls(uintptr_t fn, size_t size, uintptr_t target) {
    disassembler d;
    bool found = false;
    if (!d.ok()) return false;
    d.each(fn, size, [&](const cs_insn &insn) {
        const cs_x86 &x = insn.detail->x86;
        if (insn.id == X86_INS_CALL && x.op_count == 1 && x.operands[0].type == X86_OP_IMM &&
            static_cast<uintptr_t>(x.operands[0].imm) == target)
            found = true;
    });
    return found;
}

plan plan_stub_in(uintptr_t start, uintptr_t end, long nr) {
    plan p;
    unsigned found = 0;
    uintptr_t where = 0;
    for (uintptr_t a = start; a + 7 <= end; ++a) {
        if (!is_syscall_stub(bytes_at(a), nr)) continue;
        ++found;
        where = a;
    }
    if (found != 1 || (where & 15)) {
        p.why = std::to_string(found) + " places load the number and make the system call";
        return p;
    }
    return site_plan(where);
}

code_area::code_area(uintptr_t near) {
    size_ = sys::page_size();
    const uintptr_t step = uintptr_t{1} << 20, reach = uintptr_t{1} << 30;
    const uintptr_t origin = near & ~(step - 1);
    for (uintptr_t distance = step; distance < reach && !base_; distance += step) {
        for (uintptr_t hint : {origin + distance, origin - distance}) {
            void *p = mmap(reinterpret_cast<void *>(hint), size_, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (p == MAP_FAILED) continue;
            if (reinterpret_cast<uintptr_t>(p) != hint) {  // kernel without NOREPLACE
                munmap(p, size_);
                continue;
            }
            base_ = static_cast<unsigned char *>(p);
            break;
        }
    }
}

code_area::~code_area() {
    // Trampolines stay: a thread may be inside one, or jump to one, at any
    // time for the rest of the process. Only an unused page is returned.
    if (base_ && used_ == 0) munmap(base_, size_);
}

uintptr_t code_area::reserve(size_t bytes) {
    const size_t aligned = (bytes + 15) & ~size_t{15};
    if (!base_ || sealed_ || used_ + aligned > size_) return 0;
    uintptr_t at = reinterpret_cast<uintptr_t>(base_) + used_;
    used_ += aligned;
    return at;
}

uintptr_t code_area::add_jump(uintptr_t target) {
    uintptr_t at = reserve(16);
    if (!at) return 0;
    emitter e(reinterpret_cast<unsigned char *>(at));
    e.literal(e.rip_slot(0x25), target);  // jmp *target(%rip)
    return at;
}

uintptr_t code_area::add_site(const plan &p, handler_fn handler) {
    uintptr_t at = reserve(112);
    if (!at) return 0;
    emitter e(reinterpret_cast<unsigned char *>(at));
    // The replaced instruction first, where it stood: the stack is untouched.
    for (size_t i = 0; i < p.length; ++i) e.bytes({p.original[i]});
    e.bytes({0x48, 0x8d, 0x64, 0x24, 0x80});  // lea -128(%rsp), %rsp: keep the red zone
    e.bytes({0x41, 0x51, 0x41, 0x50, 0x41, 0x52, 0x52, 0x56, 0x57});  // push r9 r8 r10 rdx rsi rdi
    unsigned char *handler_slot = emit_call_handler(e, 0, true);
    e.bytes({0x5f, 0x5e, 0x5a, 0x41, 0x5a, 0x41, 0x58, 0x41, 0x59});  // pop rdi rsi rdx r10 r8 r9
    e.bytes({0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00});        // lea 128(%rsp), %rsp
    unsigned char *resume_slot = e.rip_slot(0x25);  // jmp *resume(%rip), rax = result
    e.literal(handler_slot, reinterpret_cast<uint64_t>(handler));
    e.literal(resume_slot, p.resume);
    return at;
}

uintptr_t code_area::add_chained(const plan &p, chained_fn before, chained_fn after, long index) {
    static_assert(chained_state_bytes % 16 == 0 && chained_state_bytes < (1u << 31));
    uintptr_t at = reserve(192);
    if (!at) return 0;
    emitter e(reinterpret_cast<unsigned char *>(at));
    // At a function entry: arguments in rdi rsi rdx rcx r8 r9, al counts the
    // vector registers of a variadic call (mremap). All are kept for the
    // other patcher's code. Below the return address: the state, then the
    // saved registers; rsp is 16-byte aligned after them, so the state is
    // 8-byte aligned (chained_state_align).
    constexpr unsigned char saved = 56;  // seven registers
    e.bytes({0x48, 0x81, 0xec});         // sub $chained_state_bytes, %rsp
    e.u32(chained_state_bytes);
    e.bytes(
        {0x50, 0x41, 0x51, 0x41, 0x50, 0x51, 0x52, 0x56, 0x57});  // push rax r9 r8 rcx rdx rsi rdi
    unsigned char *before_slot = emit_call_handler(e, index, false, saved);
    if (!after) {
        e.bytes({0x5f, 0x5e, 0x5a, 0x59, 0x41, 0x58, 0x41, 0x59,
                 0x58});              // pop rdi rsi rdx rcx r8 r9 rax
        e.bytes({0x48, 0x81, 0xc4});  // add $chained_state_bytes, %rsp
        e.u32(chained_state_bytes);   // rsp as at the entry: stack arguments in place
        unsigned char *previous_slot = e.rip_slot(0x25);  // jmp *previous(%rip)
        e.literal(before_slot, reinterpret_cast<uint64_t>(before));
        e.literal(previous_slot, p.previous);
        return at;
    }
    // Call the other patcher's code instead of jumping to it, so that `after`
    // runs once the call is done. The saved registers and the state stay on
    // the stack (the functions patched take no arguments there).
    e.bytes({0x48, 0x8b, 0x3c, 0x24});                // mov (%rsp), %rdi
    e.bytes({0x48, 0x8b, 0x74, 0x24, 0x08});          // mov 8(%rsp), %rsi
    e.bytes({0x48, 0x8b, 0x54, 0x24, 0x10});          // mov 16(%rsp), %rdx
    e.bytes({0x48, 0x8b, 0x4c, 0x24, 0x18});          // mov 24(%rsp), %rcx
    e.bytes({0x4c, 0x8b, 0x44, 0x24, 0x20});          // mov 32(%rsp), %r8
    e.bytes({0x4c, 0x8b, 0x4c, 0x24, 0x28});          // mov 40(%rsp), %r9
    e.bytes({0x48, 0x8b, 0x44, 0x24, 0x30});          // mov 48(%rsp), %rax
    unsigned char *previous_slot = e.rip_slot(0x15);  // call *previous(%rip)
    e.bytes({0x48, 0x89, 0x44, 0x24, 0x30});          // mov %rax, 48(%rsp)
    unsigned char *after_slot = emit_call_handler(e, index, false, saved);
    e.bytes({0x48, 0x8b, 0x44, 0x24, 0x30});  // mov 48(%rsp), %rax
    e.bytes({0x48, 0x81, 0xc4});              // add $56+chained_state_bytes, %rsp
    e.u32(saved + chained_state_bytes);
    e.bytes({0xc3});  // ret
    e.literal(before_slot, reinterpret_cast<uint64_t>(before));
    e.literal(previous_slot, p.previous);
    e.literal(after_slot, reinterpret_cast<uint64_t>(after));
    return at;
}

int code_area::seal() {
    if (!base_) return -ENOMEM;
    if (sealed_) return 0;
    sealed_ = true;
    if (mprotect(base_, size_, PROT_READ | PROT_EXEC)) return -errno;
    return 0;
}

int write_jump(const plan &p, uintptr_t target) {
    const intptr_t rel = static_cast<intptr_t>(target - (p.at + jump_length));
    if (rel != static_cast<int32_t>(rel)) return -ERANGE;
    unsigned char jump[jump_length] = {0xe9};
    auto rel32 = static_cast<uint32_t>(static_cast<int32_t>(rel));
    std::memcpy(jump + 1, &rel32, 4);

    const uintptr_t first = sys::page_floor(p.at);
    const size_t len = sys::page_floor(p.at + jump_length - 1) + sys::page_size() - first;
    int prot = page_protection(first);
    if (prot < 0) return prot;
    if (!(prot & PROT_EXEC)) return -EFAULT;
    sync_core_registered();  // before the first step: registration may be slow

    sys::signal_mask old;
    sys::block_all_signals(&old);
    int rc = protect(first, len, prot | PROT_WRITE);
    if (rc == 0) {
        if ((p.at & 7) + jump_length <= 8)
            rc = swap_bytes(p.at, p.original, jump, jump_length);
        else
            rc = write_straddling(p.at, p.original, jump);
        serialize_all_cores();
        protect(first, len, prot);
    }
    sys::restore_signals(old);
    return rc;
}

bool jumps_to(uintptr_t at, uintptr_t target) {
    const unsigned char *c = bytes_at(at);
    if (c[0] != 0xe9) return false;
    auto rel = static_cast<int32_t>(load32(c + 1));
    return at + jump_length + static_cast<intptr_t>(rel) == target;
}

bool supported(std::string *why) {
    disassembler d;
    if (!d.ok()) {
        *why = "the disassembler (capstone) does not open";
        return false;
    }
    return true;
}

}  // namespace umn::patch
