// SPDX-License-Identifier: BSD-3-Clause
// Code patching for the hooks monitor: how a libc entry point is inspected,
// which trampolines are built for it and how the jump to them is written
// while other threads run. The architecture-neutral interface; each
// architecture implements it in its own file (patch_x86_64.cpp). The
// atomicity argument lives at the top of that file and in docs/hooks.md.
//
// Three ways to intercept a function (chosen by plan_function):
//   entry    the first instruction loads the system call number and is long
//            enough to hold a jump: it becomes a jump to a replacement with
//            the function's own signature (the hook does the system call).
//   site     the function does more before its system call (mmap, mremap):
//            the instruction that loads the system call number becomes a jump
//            to a trampoline that calls the handler with the system call's
//            arguments and resumes after the system call instruction, with
//            the handler's result as the system call's result.
//   chained  the entry already jumps somewhere (another library patched it:
//            UCX's libucm, Open MPI's patcher, libfabric's memhooks): the jump
//            is replaced by one to a trampoline that calls a handler before the
//            other patcher's code (which makes the system call) and, for calls
//            whose arguments are all in registers, another when it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace umn::patch {

enum class mode : uint8_t { none, entry, site, chained };
const char *mode_name(mode m);

// What plan_function decided for one function.
struct plan {
    mode how = mode::none;
    uintptr_t at = 0;                 // where the jump goes
    uintptr_t resume = 0;             // site: where the trampoline continues
    uintptr_t previous = 0;           // chained: the other patcher's target
    size_t length = 0;                // bytes of the instruction the jump replaces
    unsigned char original[16] = {};  // its bytes as plan_function saw them
    std::string why;                  // mode::none: why not
};

// Inspects [fn, fn + size) of a function that makes system call `nr`
// (any_syscall: libc's syscall(), whose number comes in a register).
// `entry_allowed`: whether a replacement with the function's signature exists.
plan plan_function(uintptr_t fn, size_t size, long nr, bool entry_allowed = true);

// Whether the function [fn, fn + size) calls `target` directly.
bool calls(uintptr_t fn, size_t size, uintptr_t target);

// Finds a system call stub for `nr` in [start, end) (code without symbols,
// e.g. the dynamic loader's own munmap): the one function-aligned place that
// loads `nr` and makes the system call. mode::none when there is not exactly
// one.
plan plan_stub_in(uintptr_t start, uintptr_t end, long nr);

constexpr long any_syscall = -1;

// The handler a site trampoline calls. `args` are the six arguments in
// system call order; `index` is the system call number (rax at the system
// call). Returns the system call's result (-errno on failure).
using handler_fn = long (*)(long index, const long *args);

// What a chained trampoline calls before and after the other patcher's code.
// `args` are the six argument registers of the function's entry, `index` the
// one given to add_chained. `state` is scratch space in the trampoline's own
// stack frame, chained_state_bytes long and chained_state_align aligned, the
// same for the calls before and after one call of the function, so that the
// two need neither allocation nor thread-local storage (and a call nested in
// a signal handler gets its own).
using chained_fn = void (*)(long index, const long *args, void *state);
constexpr size_t chained_state_bytes = 192;
constexpr size_t chained_state_align = 8;

// Executable memory within reach of a patch (a relative jump), filled once
// and then made read+execute: never writable and executable at once.
class code_area {
  public:
    // Maps a page within ±1 GiB of `near`; check ok().
    explicit code_area(uintptr_t near);
    ~code_area();
    code_area(const code_area &) = delete;
    code_area &operator=(const code_area &) = delete;
    bool ok() const { return base_ != nullptr; }

    // Each returns the trampoline's address, 0 when the page is full.
    uintptr_t add_jump(uintptr_t target);  // entry: a jump to the replacement
    uintptr_t add_site(const plan &p, handler_fn handler);
    // Chained: `before` runs, then the other patcher's code; with `after`,
    // that code is called and `after` runs when it returns (the call's
    // result kept), else it is jumped to (a function with arguments on the
    // stack, such as syscall(), must be jumped to).
    uintptr_t add_chained(const plan &p, chained_fn before, chained_fn after, long index);
    // Makes the page read+execute; no add_* afterwards. -errno on failure.
    int seal();

  private:
    uintptr_t reserve(size_t bytes);
    unsigned char *base_ = nullptr;
    size_t used_ = 0;
    size_t size_ = 0;
    bool sealed_ = false;
};

// Replaces the instruction at p.at (p.length bytes, the first p.length bytes
// unchanged since plan_function looked) by a jump to `target`, atomically for
// threads executing it. Blocks signals in the calling thread meanwhile.
// -EAGAIN if the bytes changed, -ERANGE if target is out of reach.
int write_jump(const plan &p, uintptr_t target);

// Whether the jump written at `at` still goes to `target`.
bool jumps_to(uintptr_t at, uintptr_t target);

// Whether this architecture and kernel support patching at all; why not.
bool supported(std::string *why);

}  // namespace umn::patch
