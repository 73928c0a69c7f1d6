// SPDX-License-Identifier: BSD-3-Clause
// The hooks monitor: libc's mmap, munmap, mremap, madvise, brk, shmat, shmdt,
// process_madvise and remap_file_pages (and the dynamic loader's own munmap,
// which dlclose uses) are patched
// so that every call invalidates the registrations it touches, in the calling
// thread, before the system call is made. The hook then makes the system call
// itself with the raw instruction (or, where another library patched the
// entry first, calls that library's hook, so both see the call, and runs its
// second pass when it returns).
// How the code is patched, and why that is safe for running threads, is in
// src/os/patch.hpp and src/os/patch_x86_64.cpp; which pages each call
// changes, in hooks_ranges.cpp; docs/hooks.md has the rest.
//
// Locking rules
//   install_lock   serializes patching, re-patching (watch) and the report.
//                  Application threads only; never taken inside a hook.
//   attach_lock    serializes attach/detach (the writers of the core list).
//                  Never taken inside a hook.
//   core list      read by hooks without locks (attached_sinks, in
//                  core/sink.hpp: acquire/release links), protected for
//                  reclamation by two reader epochs (below). A hook takes no lock of its own; it
//                  takes each attached core's lock_ (inside invalidate_now),
//                  which nobody holds across an allocation, a free or a call
//                  into libc's mapping functions, so a hook called with an
//                  allocator lock held cannot deadlock.
//   Order: (application locks, malloc's arena lock) -> core::lock_.
//
// A hook allocates nothing, calls no dlsym, takes no lock the application can
// hold and uses only raw system calls: it is async-signal-safe as far as a
// hooked call can be.
//
// Reader epochs (a two-counter scheme in the manner of SRCU)
//   A hook enters epoch e = epoch_ & 1 by incrementing readers[e][slot]
//   (seq_cst), then re-reads epoch_; if it changed it leaves and retries. So
//   either its increment precedes the writer's flip in the single total order
//   of seq_cst operations (and the writer's wait sees it), or it sees the flip
//   and the list after the writer's unlink. detach() unlinks, flips epoch_
//   (seq_cst RMW) and waits until the old epoch's counters are all zero; then
//   no hook can still hold the unlinked node. Counters are spread over slots
//   by thread so that threads unmapping in parallel do not share a line.
#include "monitor/hooks.hpp"
#include "monitor/hooks_mapped.hpp"
#include "monitor/hooks_quiesce.hpp"
#include "monitor/hooks_ranges.hpp"

#include "core/range_summary.hpp"
#include "monitor/monitor.hpp"
#include "monitor/process_source.hpp"
#include "os/patch.hpp"
#include "os/raw_syscall.hpp"
#include "os/sys.hpp"

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <memory>
#include <mutex>
#include <new>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <vector>

namespace umn {

namespace {

// ---- the attached cores, read by hooks ----

class reader_epochs {
  public:
    static constexpr unsigned slots = 16;

    unsigned enter() {
        const unsigned slot = slot_of_thread();
        for (;;) {
            unsigned e = epoch_.load(std::memory_order_seq_cst) & 1;
            counters_[e][slot].value.fetch_add(1, std::memory_order_seq_cst);
            if ((epoch_.load(std::memory_order_seq_cst) & 1) == e) return e * slots + slot;
            counters_[e][slot].value.fetch_sub(1, std::memory_order_release);
        }
    }
    void leave(unsigned ticket) {
        // Release: the hook's reads of the list happen before the writer sees zero.
        counters_[ticket / slots][ticket % slots].value.fetch_sub(1, std::memory_order_release);
    }
    // Writers are serialized by the caller.
    void synchronize() {
        unsigned old = epoch_.fetch_add(1, std::memory_order_seq_cst) & 1;
        for (unsigned slot = 0; slot < slots; ++slot)
            for (unsigned spins = 0; counters_[old][slot].value.load(std::memory_order_acquire);
                 ++spins)
                sys::relax(spins);
    }
    // In a fork child (one thread): the parent's readers do not exist here.
    void reset() {
        for (auto &epoch : counters_)
            for (auto &c : epoch) c.value.store(0, std::memory_order_relaxed);
    }

  private:
    static unsigned slot_of_thread() {
        // pthread_self reads the thread pointer: no lock, no allocation.
        auto self = static_cast<uintptr_t>(pthread_self());
        return static_cast<unsigned>((self >> 12) ^ (self >> 20)) % slots;
    }
    struct alignas(64) counter {
        std::atomic<long> value{0};
    };
    std::atomic<unsigned> epoch_{0};
    counter counters_[2][slots];
};

reader_epochs readers;
attached_sinks sinks;  // the attached cores
// What the attached cores watch (watch/unwatch): a hooked call over memory
// it rules out takes no core's lock (see before_call).
range_summary watched;
// Chunks of address space found fully mapped (watch's -EFAULT check).
mapped_chunks mapped;
std::atomic<void **> libc_curbrk{nullptr};  // libc's __curbrk, which its brk keeps

using hook_ranges::range;
using hook_ranges::sbrk_call;

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer only: glibc's start_thread calls madvise(MADV_DONTNEED) on
// the unused part of a dying thread's own stack after ThreadSanitizer has
// dropped the thread's state, and instrumented code (the core's mutex) run
// there crashes. Such a call ends just below the current stack pointer;
// under ThreadSanitizer it is not reported. Plain and ASan builds see it.
bool dying_thread_stack(long nr, const range &r) {
    if (nr != SYS_madvise) return false;
    const auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    const uintptr_t slack = 64 << 10;  // PTHREAD_STACK_MIN, a page of rounding, our frames
    return r.end <= sp + slack && r.end + slack >= sp;
}
#else
constexpr bool dying_thread_stack(long, const range &) {
    return false;
}
#endif

// What one hooked call changes, computed once before the system call.
struct call_ranges {
    range r[hook_ranges::max_ranges];
    int n = 0;
    uint64_t watches = 0;  // watch_count when the first pass ran
};

// Registrations made so far (watch() counts them after the core inserted
// the registration): a hook that sees it move while its call ran runs a
// second pass after the system call.
std::atomic<uint64_t> watch_count{0};

void invalidate_all(const call_ranges &c) {
    unsigned ticket = readers.enter();
    sinks.for_each([&c](event_sink &s) {
        for (int i = 0; i < c.n; ++i)
            if (c.r[i].start < c.r[i].end) s.invalidate_now(c.r[i].start, c.r[i].end);
    });
    readers.leave(ticket);
}

bool may_be_watched(const call_ranges &c) {
    for (int i = 0; i < c.n; ++i)
        if (watched.may_overlap(c.r[i].start, c.r[i].end)) return true;
    return false;
}

// The first pass, before the system call: invalidates, in every attached
// core, what the call `nr` with `args` is about to change. Returns whether
// the call changes anything. Runs inside hooked libc calls: see the top.
bool before_call(long nr, const long *args, call_ranges *c) {
    // seq_cst, and before the list is read: a core attached after this load
    // can only gain a registration that watch() counts after it (after_call).
    c->watches = watch_count.load(std::memory_order_seq_cst);
    const bool attached = !sinks.empty();
    if (!attached && nr == SYS_shmdt) {  // its ranges cost a read of /proc
        c->n = -1;                       // unknown
        return false;
    }
    c->n = hook_ranges::affected(nr, args, c->r);
    if (!c->n || dying_thread_stack(nr, c->r[0])) return false;
    // A registration counted before the load above was added to `watched`
    // before it was counted (watch()): a range the summary rules out holds
    // none of those, and the second pass covers the rest.
    if (attached && may_be_watched(*c)) invalidate_all(*c);
    return true;
}

// The second pass, after the system call, before it returns. A registration
// the first pass did not find was inserted after it took the cores' locks
// (or into a core attached since); if it was also counted before the load
// below, this pass finds it (the core inserts before watch() counts, under
// lock_). If it was counted after that load, its caller's device
// registration, which follows umn_register, already sees the pages as the
// system call left them.
void after_call(const call_ranges &c) {
    if (watch_count.load(std::memory_order_seq_cst) != c.watches) invalidate_all(c);
}

// After the system call: the remembered mapped chunks a call that can
// remove mappings touched are forgotten (hooks_mapped.hpp).
void forget_mapped(long nr, const call_ranges &c) {
    if (nr == SYS_madvise || nr == SYS_process_madvise || nr == SYS_remap_file_pages) return;
    if (c.n < 0 || (nr == SYS_shmdt && c.n == 0)) mapped.forget_all();  // ranges unknown
    for (int i = 0; i < c.n; ++i) mapped.changed(c.r[i].start, c.r[i].end);
}

// Everything after the system call, before the hooked call returns.
void finish_call(long nr, const call_ranges &c, bool concerned) {
    forget_mapped(nr, c);
    if (concerned) after_call(c);
}

long hooked_syscall(long nr, const long *a) {
    call_ranges c;
    bool concerned = before_call(nr, a, &c);
    long result = sys::raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    finish_call(nr, c, concerned);
    return result;
}

// ---- what the trampolines call (os/patch.hpp; index = nr) ----

long site_handler(long nr, const long *args) {
    return hooked_syscall(nr, args);
}

// A chained call's first pass, kept in the trampoline's stack frame
// (patch::chained_fn's state) for the second, after the other library's
// code made the system call.
struct chained_call {
    call_ranges c;
    bool concerned = false;
};
static_assert(sizeof(chained_call) <= patch::chained_state_bytes);
static_assert(alignof(chained_call) <= patch::chained_state_align);

void chained_before(long nr, const long *args, void *state) {
    auto *call = new (state) chained_call;
    call->concerned = before_call(nr, args, &call->c);
}

// Whether a chained entry gets a point after its system call: not libc's
// syscall(), whose arguments may be on the stack, so the trampoline jumps to
// the other library's code instead of calling it.
bool chained_runs_after(long nr) {
    return nr != patch::any_syscall;
}

// Not run where !chained_runs_after(nr).
void chained_after(long nr, const long *, void *state) {
    const auto *call = std::launder(static_cast<chained_call *>(state));
    finish_call(nr, call->c, call->concerned);
}

// ---- entry replacements: libc's own signatures and errno convention ----

long as_int_result(long r) {
    if (!sys::raw_failed(r)) return r;
    errno = static_cast<int>(-r);
    return -1;
}

void *as_pointer_result(long r) {
    return reinterpret_cast<void *>(as_int_result(r));
}

long arg(const void *p) {
    return reinterpret_cast<long>(p);
}

void *hook_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset) {
    const long a[6] = {arg(addr), static_cast<long>(len), prot, flags, fd, offset};
    return as_pointer_result(hooked_syscall(SYS_mmap, a));
}

int hook_munmap(void *addr, size_t len) {
    const long a[6] = {arg(addr), static_cast<long>(len)};
    return static_cast<int>(as_int_result(hooked_syscall(SYS_munmap, a)));
}

void *hook_mremap(void *old, size_t old_size, size_t new_size, int flags, ...) {
    void *target = nullptr;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    const long a[6] = {arg(old), static_cast<long>(old_size), static_cast<long>(new_size), flags,
                       arg(target)};
    return as_pointer_result(hooked_syscall(SYS_mremap, a));
}

int hook_madvise(void *addr, size_t len, int advice) {
    const long a[6] = {arg(addr), static_cast<long>(len), advice};
    return static_cast<int>(as_int_result(hooked_syscall(SYS_madvise, a)));
}

// glibc's brk: the kernel returns the new break (the old one on failure),
// which libc keeps in __curbrk for sbrk.
int hook_brk(void *addr) {
    const long a[6] = {arg(addr)};
    long r = hooked_syscall(SYS_brk, a);
    *libc_curbrk.load(std::memory_order_relaxed) = reinterpret_cast<void *>(r);
    if (static_cast<uintptr_t>(r) < reinterpret_cast<uintptr_t>(addr)) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void *hook_shmat(int id, const void *addr, int flags) {
    const long a[6] = {id, arg(addr), flags};
    return as_pointer_result(hooked_syscall(SYS_shmat, a));
}

int hook_shmdt(const void *addr) {
    const long a[6] = {arg(addr)};
    return static_cast<int>(as_int_result(hooked_syscall(SYS_shmdt, a)));
}

// ---- the patched entries ----

struct function_desc {
    const char *name;
    long nr;
    void *replacement;       // entry mode
    const char *aliases[3];  // other exported names of the same code
};

const function_desc libc_functions[] = {
    {"mmap", SYS_mmap, reinterpret_cast<void *>(hook_mmap), {"__mmap", "mmap64", nullptr}},
    {"munmap", SYS_munmap, reinterpret_cast<void *>(hook_munmap), {"__munmap", nullptr, nullptr}},
    {"mremap", SYS_mremap, reinterpret_cast<void *>(hook_mremap), {"__mremap", nullptr, nullptr}},
    {"madvise",
     SYS_madvise,
     reinterpret_cast<void *>(hook_madvise),
     {"__madvise", nullptr, nullptr}},
    {"brk", SYS_brk, reinterpret_cast<void *>(hook_brk), {"__brk", nullptr, nullptr}},
    {"shmat", SYS_shmat, reinterpret_cast<void *>(hook_shmat), {nullptr, nullptr, nullptr}},
    {"shmdt", SYS_shmdt, reinterpret_cast<void *>(hook_shmdt), {nullptr, nullptr, nullptr}},
    // Site-patched (their first instruction moves an argument register).
    {"process_madvise", SYS_process_madvise, nullptr, {nullptr, nullptr, nullptr}},
    {"remap_file_pages", SYS_remap_file_pages, nullptr, {"__remap_file_pages", nullptr, nullptr}},
    // syscall(SYS_munmap, ...) from programs and from allocators that
    // replace libc's mapping functions with their own (gperftools tcmalloc).
    {"syscall", patch::any_syscall, nullptr, {nullptr, nullptr, nullptr}},
    // Seen through brk, unless another library patched it (chained then).
    {"sbrk", sbrk_call, nullptr, {"__sbrk", nullptr, nullptr}},
};

// One patched (or unpatchable) entry.
struct patched_entry {
    std::string library;
    std::string name;
    long nr = 0;
    uintptr_t fn = 0;  // function start (0 for a stub found without symbols)
    size_t size = 0;
    void *replacement = nullptr;
    patch::plan plan;
    uintptr_t trampoline = 0;
    std::string note;  // aliases, or why not patched
    bool written = false;
    bool via_brk = false;  // sbrk: seen through brk
};

// An executable segment of a loaded object: the one of the object loaded at
// `base` (by_base), else the one containing `address`.
code_range text_segment(uintptr_t base_or_address, bool by_base) {
    struct query {
        uintptr_t key;
        bool by_base;
        code_range text;
    } q{base_or_address, by_base, {}};
    dl_iterate_phdr(
        [](dl_phdr_info *info, size_t, void *data) {
            auto *q = static_cast<query *>(data);
            if (q->by_base && info->dlpi_addr != q->key) return 0;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr) &ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
                code_range r{info->dlpi_addr + ph.p_vaddr,
                             info->dlpi_addr + ph.p_vaddr + ph.p_memsz};
                if (q->by_base || r.contains(q->key)) {
                    q->text = r;
                    return 1;
                }
            }
            return 0;
        },
        &q);
    return q.text;
}

class hooks_monitor final : public event_source {
  public:
    int install();
    int attach(event_sink &sink) override;
    void detach(event_sink &sink) override;
    int watch(uintptr_t start, uintptr_t end) override;
    void unwatch(uintptr_t start, uintptr_t end) override { watched.remove(start, end); }
    std::vector<hook_entry> report();
    std::string install_note();
    bool reset_in_child();

  private:
    void find_entries(std::vector<patched_entry> *out);
    void plan_entry(patched_entry *e);
    bool ours(uintptr_t address) const;
    int apply(std::vector<patched_entry *> &todo);
    void repatch_overwritten();
    void repatch_locked();
    void publish_jumps();
    bool jump_overwritten() const;
    void settle(const std::vector<patched_entry *> &patched);

    std::mutex install_lock_;
    std::vector<patched_entry> entries_;
    std::vector<std::unique_ptr<patch::code_area>> areas_;
    bool installed_ = false;
    int install_error_ = 0;
    quiesce_result settled_;
    uintptr_t brk_function = 0;
    std::mutex attach_lock_;
    // The jumps written (where, to which trampoline), for watch's check
    // without install_lock_; rewritten under it after every patching.
    static constexpr unsigned max_jumps = 16;
    std::atomic<uintptr_t> jump_at_[max_jumps] = {};
    std::atomic<uintptr_t> jump_to_[max_jumps] = {};
    std::atomic<unsigned> jumps_{0};
};

void hooks_monitor::find_entries(std::vector<patched_entry> *out) {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (libc) {
        brk_function = reinterpret_cast<uintptr_t>(dlsym(libc, "brk"));
        libc_curbrk.store(static_cast<void **>(dlsym(libc, "__curbrk")), std::memory_order_relaxed);
        for (const function_desc &f : libc_functions) {
            patched_entry e;
            e.library = "libc";
            e.name = f.name;
            e.nr = f.nr;
            e.replacement = f.replacement;
            void *fn = dlsym(libc, f.name);
            Dl_info info;
            ElfW(Sym) *sym = nullptr;
            if (fn && dladdr1(fn, &info, reinterpret_cast<void **>(&sym), RTLD_DL_SYMENT) && sym) {
                e.fn = reinterpret_cast<uintptr_t>(fn);
                e.size = sym->st_size;
            }
            for (const char *alias : f.aliases) {
                if (!alias) break;
                void *a = dlsym(libc, alias);
                e.note += std::string(e.note.empty() ? "" : ", ") + alias +
                          (!a        ? " (internal: glibc defines it as an alias)"
                           : a == fn ? " (same code)"
                                     : " (DIFFERENT code: not patched)");
            }
            out->push_back(e);
        }
        dlclose(libc);
    }
    // The dynamic loader keeps its own munmap (dlclose unmaps with it); the
    // loader's symbols are stripped, so its stub is found by its code.
    patched_entry e;
    e.library = "ld.so";
    e.name = "munmap";
    e.nr = SYS_munmap;
    out->push_back(e);
}

void hooks_monitor::plan_entry(patched_entry *e) {
    if (!e->fn) {
        if (e->library == "ld.so") {
            code_range t = text_segment(getauxval(AT_BASE), true);
            if (t.start)
                e->plan = patch::plan_stub_in(t.start, t.end, e->nr);
            else
                e->plan.why = "the loader's code was not found";
        } else {
            e->plan.why = "symbol not found";
        }
        return;
    }
    bool entry_allowed = e->replacement && (e->nr != SYS_brk || libc_curbrk.load());
    e->plan = patch::plan_function(e->fn, e->size, e->nr, entry_allowed);
    if (e->nr == sbrk_call && e->plan.how != patch::mode::chained) {
        e->plan.how = patch::mode::none;
        e->via_brk = brk_function && patch::calls(e->fn, e->size, brk_function);
        e->plan.why = e->via_brk ? "calls brk, which is patched" : "does not call brk directly";
    }
}

bool hooks_monitor::ours(uintptr_t address) const {
    for (const patched_entry &e : entries_)
        if (e.trampoline && address == e.trampoline) return true;
    return false;
}

// Builds the trampolines of `todo` in a fresh code area near each, seals it,
// then writes the jumps.
int hooks_monitor::apply(std::vector<patched_entry *> &todo) {
    int first_error = 0;
    for (patched_entry *e : todo) {
        if (e->plan.how == patch::mode::chained && ours(e->plan.previous)) {
            e->plan.how = patch::mode::none;
            e->plan.why = "already patched by this umn";
            continue;
        }
        auto area = std::make_unique<patch::code_area>(e->plan.at);
        if (!area->ok()) {
            e->plan.why = "no memory for a trampoline within reach";
            e->plan.how = patch::mode::none;
            continue;
        }
        switch (e->plan.how) {
            case patch::mode::entry:
                e->trampoline = area->add_jump(reinterpret_cast<uintptr_t>(e->replacement));
                break;
            case patch::mode::site:
                e->trampoline = area->add_site(e->plan, site_handler);
                break;
            case patch::mode::chained:
                e->trampoline =
                    area->add_chained(e->plan, chained_before,
                                      chained_runs_after(e->nr) ? chained_after : nullptr, e->nr);
                break;
            default:
                continue;
        }
        if (int rc = area->seal()) {
            e->plan.how = patch::mode::none;
            e->plan.why = std::string("cannot make the trampoline executable: ") + strerror(-rc);
            if (!first_error) first_error = rc;
            continue;
        }
        areas_.push_back(std::move(area));
        int rc = patch::write_jump(e->plan, e->trampoline);
        if (rc) {
            e->plan.why = std::string("writing the jump failed: ") + strerror(-rc);
            if (!first_error) first_error = rc;
            continue;
        }
        e->written = true;
    }
    return first_error;
}

// Patches every entry not patched yet. -ENOMEM (an allocation failed) may be
// retried; nothing half-done is left behind: a jump is written only to a
// finished trampoline, and entries already written are kept.
int hooks_monitor::install() {
    std::lock_guard g(install_lock_);
    if (installed_) return install_error_;
    std::string why;
    if (!patch::supported(&why)) {
        installed_ = true;
        install_error_ = -ENOTSUP;
        return install_error_;
    }
    try {
        if (entries_.empty()) find_entries(&entries_);
        std::vector<patched_entry *> todo;
        for (patched_entry &e : entries_) {
            if (e.written) continue;
            plan_entry(&e);
            if (e.plan.how != patch::mode::none) todo.push_back(&e);
        }
        int rc = apply(todo);
        settle(todo);
        if (rc == -ENOMEM) throw std::bad_alloc();  // e.g. reading /proc/self/maps
    } catch (const std::bad_alloc &) {
        bool any_written = false;
        for (const patched_entry &e : entries_) any_written = any_written || e.written;
        if (!any_written) entries_.clear();
        return -ENOMEM;
    }
    installed_ = true;
    install_error_ = -ENOTSUP;  // without libc's munmap the monitor would miss the commonest call
    for (const patched_entry &e : entries_)
        if (e.library == "libc" && e.nr == SYS_munmap && e.written) install_error_ = 0;
    publish_jumps();
    return install_error_;
}

// install_lock_ held. A reader may see a pair half rewritten: it then finds
// a mismatch and re-checks under the lock.
void hooks_monitor::publish_jumps() {
    unsigned n = 0;
    bool blind_after = false;  // an entry with no point after its system call
    for (const patched_entry &e : entries_) {
        if (!e.written) continue;
        blind_after =
            blind_after || (e.plan.how == patch::mode::chained && !chained_runs_after(e.nr));
        if (n == max_jumps) continue;
        jump_at_[n].store(e.plan.at, std::memory_order_relaxed);
        jump_to_[n].store(e.trampoline, std::memory_order_relaxed);
        ++n;
    }
    jumps_.store(n, std::memory_order_release);
    mapped.set_usable(!blind_after && n < max_jumps);
}

// Whether a jump we wrote was overwritten (or may have been: a pair being
// rewritten). No lock.
bool hooks_monitor::jump_overwritten() const {
    const unsigned n = jumps_.load(std::memory_order_acquire);
    for (unsigned i = 0; i < n; ++i)
        if (!patch::jumps_to(jump_at_[i].load(std::memory_order_relaxed),
                             jump_to_[i].load(std::memory_order_relaxed)))
            return true;
    return false;
}

// Another library may patch an entry after us (UCX writes its jump over
// ours). Re-planning then finds its jump and chains to it.
void hooks_monitor::repatch_overwritten() {
    std::lock_guard g(install_lock_);
    try {
        repatch_locked();
    } catch (const std::bad_alloc &) {
        // Retried at the next registration; the entries stay as they were.
    }
}

void hooks_monitor::repatch_locked() {
    std::vector<patched_entry *> todo;
    for (patched_entry &e : entries_) {
        if (!e.written || patch::jumps_to(e.plan.at, e.trampoline)) continue;
        e.written = false;
        e.trampoline = 0;
        plan_entry(&e);
        if (e.plan.how != patch::mode::none) todo.push_back(&e);
    }
    if (todo.empty()) return;
    apply(todo);
    settle(todo);
    publish_jumps();
}

// The code a thread may still run after the jump at e was written.
code_range old_code(const patched_entry &e) {
    if (e.fn) return {e.fn, e.fn + e.size};
    const uintptr_t around = 64;  // a stub found without symbols: its neighbourhood
    return {e.plan.at - around, e.plan.at + around};
}

// Waits out the calls other threads began in the code just patched
// (hooks_quiesce.cpp). The hooks' own system calls come from this library.
void hooks_monitor::settle(const std::vector<patched_entry *> &patched) {
    std::vector<code_range> unpatched;
    for (const patched_entry *e : patched)
        if (e->written) unpatched.push_back(old_code(*e));
    if (unpatched.empty()) return;
    const code_range ours = text_segment(reinterpret_cast<uintptr_t>(&hooked_syscall), false);
    quiesce_result r = wait_for_unhooked_calls({ours}, unpatched);
    settled_.waited += r.waited;
    settled_.unconfirmed += r.unconfirmed;
    settled_.micros += r.micros;
}

int hooks_monitor::attach(event_sink &sink) {
    std::lock_guard g(attach_lock_);
    sinks.add(sink);
    return 0;
}

void hooks_monitor::detach(event_sink &sink) {
    std::lock_guard g(attach_lock_);
    sinks.remove(sink);
    readers.synchronize();  // no hook still walks on `sink` (see the top)
}

int hooks_monitor::watch(uintptr_t start, uintptr_t end) {
    // Like the other monitors, refuse a range with unmapped pages (msync
    // with MS_ASYNC, or a chunk it found mapped: hooks_mapped.hpp).
    if (int rc = mapped.check(start, end)) return rc;
    watched.add(start, end);  // before the count: see before_call
    watch_count.fetch_add(1, std::memory_order_seq_cst);
    if (jump_overwritten()) repatch_overwritten();
    return 0;
}

// In a fork child (process_source.hpp). The parent's cores are not this
// process's: their locks may be held by threads that do not exist here. The
// patched code is the child's too: hooks keep working on cores it opens.
bool hooks_monitor::reset_in_child() {
    sinks.forget();
    readers.reset();
    watched.reset();
    mapped.forget_all();
    new (&attach_lock_) std::mutex;
    new (&install_lock_) std::mutex;
    return true;
}

hook_entry describe(const patched_entry &e) {
    hook_entry h;
    h.library = e.library;
    h.name = e.name;
    h.patched = e.written;
    char where[64];
    std::snprintf(where, sizeof where, "at %#lx", static_cast<unsigned long>(e.plan.at));
    if (e.written) {
        h.how = patch::mode_name(e.plan.how);
        h.detail = where;
        if (e.plan.how == patch::mode::chained) {
            Dl_info info;
            const char *owner =
                dladdr(reinterpret_cast<void *>(e.plan.previous), &info) && info.dli_fname
                    ? info.dli_fname
                    : "anonymous code";
            h.detail += std::string(", chained to ") + owner;
        }
    } else if (e.plan.how != patch::mode::none) {
        h.how = std::string("would use ") + patch::mode_name(e.plan.how);
        h.detail = where;
    } else {
        h.how = e.via_brk ? "via brk" : "not patched";
        h.patched = e.via_brk;
        h.detail = e.plan.why;
    }
    if (!e.note.empty()) h.detail += "; " + e.note;
    return h;
}

std::vector<hook_entry> hooks_monitor::report() {
    std::lock_guard g(install_lock_);
    std::vector<patched_entry> planned;
    const std::vector<patched_entry> *shown = &entries_;
    if (!installed_) {
        find_entries(&planned);
        for (patched_entry &e : planned) plan_entry(&e);
        shown = &planned;
    }
    std::vector<hook_entry> out;
    for (const patched_entry &e : *shown) out.push_back(describe(e));
    return out;
}

std::string hooks_monitor::install_note() {
    std::lock_guard g(install_lock_);
    if (!installed_) return {};
    char text[200];
    std::snprintf(text, sizeof text,
                  "waited %.1f ms for %u threads in mapping calls begun before the patch; "
                  "%u threads could not be inspected (always running)",
                  static_cast<double>(settled_.micros) / 1000, settled_.waited,
                  settled_.unconfirmed);
    return text;
}

process_source<hooks_monitor> &instance() {
    static process_source<hooks_monitor> source;
    return source;
}

hooks_monitor *make_monitor(int *error) {
    auto *m = new (std::nothrow) hooks_monitor;  // lives as long as the process
    if (!m) *error = -ENOMEM;
    return m;
}

// The process's monitor, nullptr before the first hooks notifier opened.
hooks_monitor *current_instance() {
    return instance().made();
}

}  // namespace

event_source *hooks_source(int *error) {
    hooks_monitor *m = instance().get(make_monitor, error);
    if (!m) return nullptr;
    if (int rc = m->install()) {
        *error = rc;
        return nullptr;
    }
    return m;
}

probe_result probe_hooks() {
    probe_result r;
    std::string why;
    if (!patch::supported(&why)) return {-ENOTSUP, why};
    unsigned patched = 0, total = 0;
    bool munmap_ok = false;
    for (const hook_entry &h : hooks_report()) {
        ++total;
        bool ok = h.patched || h.how.rfind("would use", 0) == 0;
        patched += ok;
        if (ok && h.library == "libc" && h.name == "munmap") munmap_ok = true;
    }
    if (!munmap_ok) return {-ENOTSUP, "libc's munmap cannot be patched"};
    r.detail = "patches libc entry points (" + std::to_string(patched) + " of " +
               std::to_string(total) + " entries; `umn info` lists them); raw syscalls unseen";
    return r;
}

std::vector<hook_entry> hooks_report() {
    if (hooks_monitor *m = current_instance()) return m->report();
    hooks_monitor probe;  // plans without writing anything
    return probe.report();
}

std::string hooks_install_note() {
    hooks_monitor *m = current_instance();
    return m ? m->install_note() : std::string();
}

}  // namespace umn
