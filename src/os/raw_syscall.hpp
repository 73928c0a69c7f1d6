// SPDX-License-Identifier: BSD-3-Clause
// Raw system calls: the instruction itself, no libc wrapper, no errno. Used
// where libc must not be entered (inside the hooks monitor's patched libc
// entry points, where the wrapper is the code being intercepted). Results
// follow the kernel's convention: a value in [-4095, -1] is -errno.
// Each architecture has its own file; this header picks it.
#pragma once

#if defined(__x86_64__)
#include "os/raw_syscall_x86_64.hpp"
#else
#define UMN_NO_RAW_SYSCALL 1
#endif

namespace umn::sys {

inline bool raw_failed(long result) {
    return static_cast<unsigned long>(result) > -4096UL;
}

}  // namespace umn::sys
