// SPDX-License-Identifier: BSD-3-Clause
// Which pages a mapping call changes: the hooks monitor's decoding of a
// system call number and its arguments into the page ranges it is about to
// unmap, replace or discard. Pure decoding plus a few raw reads (the current
// break, a SysV segment's size, /proc/self/maps); how libc is patched and
// how a hook invalidates live in hooks.cpp.
//
// Everything here runs inside hooked libc calls: no allocation, no lock, no
// libc call that could itself be hooked; raw system calls and the stack only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace umn::hook_ranges {

// Pages [start, end), page aligned. No default values: a hooked call's
// array of them is written only as far as affected() fills it.
struct range {
    uintptr_t start;
    uintptr_t end;
};

// The most ranges one call yields. A process_madvise with more iovecs gets
// the hull of the rest in the last range (more is invalidated, never less).
constexpr int max_ranges = 8;

// Not a system call number: sbrk(increment), chained where another library
// replaced it (its replacement moves the break itself).
constexpr long sbrk_call = -2;

// The page ranges the call `nr` with arguments `args` (system call order)
// can change, in out[0..return value). 0: the call changes no page.
int affected(long nr, const long *args, range *out);

// Whether madvise `advice` can replace or drop the pages it is given.
bool discards_pages(long advice);

// Whether `pid` is the pid in the "Pid:" line of the fdinfo text read from
// `fd` (/proc/self/fdinfo/N of a pidfd). Unreadable text counts as ours (the
// caller then invalidates: more, never less); no "Pid:" line, or -1 (the
// process is gone), is not.
bool fdinfo_names_pid(int fd, long pid);

// One /proc/self/maps line [line, stop): its start, end and inode.
bool parse_maps_line(const char *line, const char *stop, uintptr_t *start, uintptr_t *end,
                     unsigned long *inode);

// Reads maps text from `fd` (as /proc/self/maps lays it out) and finds the
// run of adjacent mappings that starts at `addr` and shares its inode: the
// mappings of the SysV segment attached there. Sets *out and returns true
// when a mapping starts at `addr`.
bool segment_at(int fd, uintptr_t addr, range *out);

}  // namespace umn::hook_ranges
