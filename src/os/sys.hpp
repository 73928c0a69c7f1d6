// SPDX-License-Identifier: BSD-3-Clause
// The thin OS layer: every system call the library makes outside a monitor's
// own file goes through here. Functions return a negative errno, never set it
// for the caller to read.
#pragma once

#include <cstddef>
#include <cstdint>

namespace umn::sys {

// The one page-size source; safe in signal handlers and hooked calls.
size_t page_size();
unsigned page_shift();  // log2(page_size())
inline uintptr_t page_floor(uintptr_t a) {
    return a & ~(page_size() - 1);
}

int make_eventfd();          // non-blocking, close-on-exec
void eventfd_raise(int fd);  // makes fd readable
void eventfd_clear(int fd);  // makes fd unreadable
void close_fd(int fd);

// What fstat says a descriptor is (device and inode; zeros if closed). Every
// eventfd shares one inode: equal ids tell "still an eventfd", not which.
struct file_id {
    uint64_t dev = 0;
    uint64_t ino = 0;
    bool operator==(const file_id &) const = default;
};
file_id identify(int fd);
int open_rdwr(const char *path);  // close-on-exec; -errno on failure

// The first character of /proc/sys/NAME ("vm/unprivileged_userfaultfd"), '?'
// if unreadable.
char read_sysctl_char(const char *name);
// RLIMIT_MEMLOCK's soft limit in bytes; SIZE_MAX when unlimited or unknown.
size_t memlock_limit();
// Zeroed private pages that read zero again in every child, also one made by
// a raw clone (MADV_WIPEONFORK); nullptr if unavailable.
void *map_wiped_on_fork(size_t len);
void unmap_wiped(void *p, size_t len);

// Spin-then-yield backoff for short waits on another thread's progress.
void relax(unsigned spins);

// Blocks every signal in the calling thread; returns the old mask in *old.
struct signal_mask {
    unsigned long bits[128 / sizeof(unsigned long)];
};
void block_all_signals(signal_mask *old);
void restore_signals(const signal_mask &old);

}  // namespace umn::sys
