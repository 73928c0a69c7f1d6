// SPDX-License-Identifier: BSD-3-Clause
// x86-64 raw system calls (see raw_syscall.hpp). The kernel takes the number
// in rax and arguments in rdi, rsi, rdx, r10, r8, r9; `syscall` clobbers rcx
// and r11.
#pragma once

namespace umn::sys {

inline long raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    long result;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return result;
}

inline long raw_syscall3(long nr, long a0, long a1, long a2) {
    long result;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                     : "rcx", "r11", "memory");
    return result;
}

}  // namespace umn::sys
