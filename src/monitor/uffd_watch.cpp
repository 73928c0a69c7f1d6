// SPDX-License-Identifier: BSD-3-Clause
// Locking: none of its own; see uffd_watch.hpp.
#include "monitor/uffd_watch.hpp"

#include "os/sys.hpp"

#include <algorithm>
#include <cerrno>
#include <linux/userfaultfd.h>
#include <new>
#include <sys/ioctl.h>
#include <sys/mman.h>

namespace umn {

namespace {

// Whether every page of [start, end) is mapped: UFFDIO_REGISTER accepts a
// range with holes and registers around them, and a page mapped into a hole
// later would go unseen.
bool fully_mapped(uintptr_t start, uintptr_t end) {
    unsigned char present[4096];
    const uintptr_t chunk = sizeof present * sys::page_size();
    for (uintptr_t at = start; at < end;) {
        const uintptr_t len = std::min(chunk, end - at);
        if (mincore(reinterpret_cast<void *>(at), len, present)) return false;
        at += len;
    }
    return true;
}

// UFFDIO_REGISTER's EINVAL on a fully mapped range means memory userfaultfd
// cannot watch (file-backed private mappings, SysV shm).
int register_error(int error) {
    return error == EINVAL ? -ENOTSUP : -error;
}

}  // namespace

// Makes `at` a segment boundary if it falls inside a segment.
void uffd_watch::split_at(uintptr_t at) {
    auto it = segments_.upper_bound(at);
    if (it == segments_.begin()) return;
    --it;
    if (it->first < at && at < it->second.end) {
        segments_.emplace(at, segment{it->second.end, it->second.count});
        it->second.end = at;
    }
}

int uffd_watch::add(uintptr_t start, uintptr_t end) {
    if (!fully_mapped(start, end)) return -EFAULT;
    const int fd = fd_.own_uffd();
    if (fd < 0) return fd;
    // Registering again is harmless (same context) and needed: the kernel
    // drops the registration with the mapping, and a new mapping at the same
    // address is not registered even if our counts say the pages are watched.
    uffdio_register reg{};
    reg.range.start = start;
    reg.range.len = end - start;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (ioctl(fd, UFFDIO_REGISTER, &reg)) return register_error(errno);
    uintptr_t at = start;  // [start, at) has its count raised
    try {
        split_at(start);
        split_at(end);
        auto it = segments_.lower_bound(start);
        while (at < end) {
            if (it == segments_.end() || it->first > at) {
                uintptr_t gap_end = it == segments_.end() ? end : std::min(end, it->first);
                it = segments_.emplace_hint(it, at, segment{gap_end, 0});
            }
            ++it->second.count;
            at = it->second.end;
            ++it;
        }
    } catch (const std::bad_alloc &) {
        // Give back what was counted. Pages of [at, end) the kernel now
        // watches without a count only cost an event nobody wants.
        count_down(start, at);
        return -ENOMEM;
    }
    return 0;
}

void uffd_watch::remove(uintptr_t start, uintptr_t end) {
    try {
        split_at(start);
        split_at(end);
    } catch (const std::bad_alloc &) {
        return;  // add() made these boundaries; if not, watching too much is safe
    }
    count_down(start, end);
}

// Lowers the counts of [start, end), both segment boundaries, and stops
// watching pages whose count reaches 0. Allocates nothing.
void uffd_watch::count_down(uintptr_t start, uintptr_t end) {
    const int fd = fd_.own_uffd();  // without one, the kernel keeps watching: harmless
    for (auto it = segments_.lower_bound(start); it != segments_.end() && it->first < end;) {
        if (--it->second.count > 0) {
            ++it;
            continue;
        }
        uffdio_range range{it->first, it->second.end - it->first};
        // Fails harmlessly where the mapping is already gone.
        if (fd >= 0) ioctl(fd, UFFDIO_UNREGISTER, &range);
        it = segments_.erase(it);
    }
}

}  // namespace umn
