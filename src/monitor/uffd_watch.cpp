// SPDX-License-Identifier: BSD-3-Clause
// Locking: see uffd_watch.hpp.
#include "monitor/uffd_watch.hpp"

#include "os/sys.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <new>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace umn {

namespace {

// PROCMAP_QUERY (Linux >= 6.11): the VMA covering an address, from an ioctl
// on /proc/self/maps. Declared here for older headers.
struct procmap_query {
    uint64_t size;
    uint64_t query_flags;
    uint64_t query_addr;
    uint64_t vma_start;
    uint64_t vma_end;
    uint64_t vma_flags;
    uint64_t vma_page_size;
    uint64_t vma_offset;
    uint64_t inode;
    uint32_t dev_major;
    uint32_t dev_minor;
    uint32_t vma_name_size;
    uint32_t build_id_size;
    uint64_t vma_name_addr;
    uint64_t build_id_addr;
};
const unsigned long procmap_query_request = _IOWR('f', 17, procmap_query);

// The smallest run of whole VMAs covering [start, end) in *from, *to: 0,
// -EFAULT if a page of [start, end) is not mapped, -ENOTTY if the kernel
// cannot say (before Linux 6.11).
int whole_vmas(uintptr_t start, uintptr_t end, uintptr_t *from, uintptr_t *to) {
    int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps < 0) return -ENOTTY;
    int rc = 0;
    for (uintptr_t at = start; at < end && rc == 0;) {
        procmap_query q{};
        q.size = sizeof q;
        q.query_addr = at;  // no flags: the VMA covering `at`, else ENOENT
        if (ioctl(maps, procmap_query_request, &q)) {
            rc = errno == ENOENT ? -EFAULT : -ENOTTY;
            break;
        }
        if (at == start) *from = q.vma_start;
        *to = q.vma_end;
        at = q.vma_end;
    }
    sys::close_fd(maps);
    return rc;
}

// Whether every page of [start, end) is mapped (where whole_vmas() cannot
// tell): UFFDIO_REGISTER registers around holes, and a page mapped into a
// hole later would go unseen.
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

// UFFDIO_REGISTER's EINVAL on a mapped range means memory userfaultfd cannot
// watch (file-backed private mappings, SysV shm).
int register_error(int error) {
    return error == EINVAL ? -ENOTSUP : -error;
}

int register_range(int fd, uintptr_t start, uintptr_t end) {
    uffdio_register reg{};
    reg.range.start = start;
    reg.range.len = end - start;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    return ioctl(fd, UFFDIO_REGISTER, &reg) ? register_error(errno) : 0;
}

// Whether every VMA in [start, end) is registered in write-protect mode:
// UFFDIO_WRITEPROTECT (resolving, which changes nothing here: nothing is ever
// write-protected) gives ENOENT for a VMA that is not.
bool all_registered(int fd, uintptr_t start, uintptr_t end) {
    uffdio_writeprotect wp{};
    wp.range.start = start;
    wp.range.len = end - start;
    wp.mode = 0;
    return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

}  // namespace

int uffd_watch::add(uintptr_t start, uintptr_t end) {
    apply_unmapped();
    if (!is_registered(start, end) || !still_registered(start, end)) {
        if (int rc = register_covering(start, end)) return rc;
    }
    int rc = watches_.add(start, end);
    if (rc) unregister_unwatched(start, end);
    return rc;
}

void uffd_watch::remove(uintptr_t start, uintptr_t end) {
    page_range one{start, end};
    remove_many(&one, 1);
}

void uffd_watch::remove_many(page_range *ranges, size_t n) {
    apply_unmapped();
    auto by_start = [](const page_range &a, const page_range &b) { return a.start < b.start; };
    if (!std::is_sorted(ranges, ranges + n, by_start)) std::sort(ranges, ranges + n, by_start);
    for (size_t i = 0; i < n;) {
        // A run of abutting ranges holds each of its pages once per range
        // over it, like the ranges themselves.
        const uintptr_t start = ranges[i].start;
        uintptr_t end = ranges[i].end;
        for (++i; i < n && ranges[i].start == end; ++i) end = ranges[i].end;
        watches_.remove(start, end);  // out of memory: still watched, which is safe
        unregister_unwatched(start, end);
    }
}

void uffd_watch::note_unmapped(uintptr_t start, uintptr_t end) {
    std::lock_guard g(dropped_lock_);
    if (dropped_count_ < std::size(dropped_))
        dropped_[dropped_count_++] = {start, end};
    else
        dropped_overflow_ = true;
    dropped_pending_.store(true, std::memory_order_release);  // pairs with apply_unmapped()
}

// Forgets the pages the monitor thread reported unmapped.
void uffd_watch::apply_unmapped() {
    if (!dropped_pending_.load(std::memory_order_acquire)) return;
    range taken[std::size(dropped_)];
    size_t n;
    bool all;
    {
        std::lock_guard g(dropped_lock_);
        n = dropped_count_;
        all = dropped_overflow_;
        std::copy(dropped_, dropped_ + n, taken);
        dropped_count_ = 0;
        dropped_overflow_ = false;
        dropped_pending_.store(false, std::memory_order_relaxed);
    }
    if (all) registered_.clear();
    for (size_t i = 0; i < n; ++i) {
        forget_registered(taken[i].start, taken[i].end);
        unregister_unwatched(taken[i].start, taken[i].end);  // the VMA's unwatched rest
    }
}

bool uffd_watch::is_registered(uintptr_t start, uintptr_t end) const {
    auto it = registered_.upper_bound(start);
    if (it == registered_.begin()) return false;
    --it;
    return it->first <= start && end <= it->second;  // ranges never abut: one holds it all
}

// registered_ lags the kernel by the events not yet read: another thread's
// munmap drops the registration at once and its event may still be queued
// when this thread maps new memory at the same address. Ask the kernel (one
// UFFDIO_WRITEPROTECT, no VMA change); a moment later every unmap of these
// pages is an event that invalidates the caller's registration, inserted
// before this call.
bool uffd_watch::still_registered(uintptr_t start, uintptr_t end) {
    const int fd = fd_.own_uffd();
    return fd >= 0 && all_registered(fd, start, end);
}

// Registers the whole VMAs around [start, end), then checks they are still
// mapped and each is registered: a neighbouring VMA unmapped (no event: not
// registered yet) just before the UFFDIO_REGISTER and mapped again just after
// it would otherwise count as registered. 0 or a negative errno.
int uffd_watch::register_covering(uintptr_t start, uintptr_t end) {
    const int fd = fd_.own_uffd();
    if (fd < 0) return fd;
    for (int attempt = 0; attempt < 3; ++attempt) {
        uintptr_t from = start, to = end;
        int rc = whole_vmas(start, end, &from, &to);
        if (rc == -EFAULT) return rc;
        if (rc && !fully_mapped(start, end)) return -EFAULT;
        if (int e = register_range(fd, from, to)) return e;
        uintptr_t again_from, again_to;
        const bool whole = rc == 0;  // else the kernel cannot list VMAs: [start, end) exactly
        if (whole && (whole_vmas(from, to, &again_from, &again_to) || again_from != from ||
                      again_to != to || !all_registered(fd, from, to)))
            continue;
        try {
            mark_registered(from, to);
        } catch (const std::bad_alloc &) {
            // Unrecorded: a later watch registers again, which is harmless.
        }
        return 0;
    }
    // The VMAs kept changing: [start, end) itself is registered if mapped,
    // but nothing is recorded, so the next watch looks again.
    return fully_mapped(start, end) ? 0 : -EFAULT;
}

// Adds [start, end) to registered_, merging ranges that overlap or abut.
void uffd_watch::mark_registered(uintptr_t start, uintptr_t end) {
    auto it = registered_.upper_bound(start);
    if (it != registered_.begin() && std::prev(it)->second >= start) --it;
    while (it != registered_.end() && it->first <= end) {
        start = std::min(start, it->first);
        end = std::max(end, it->second);
        it = registered_.erase(it);
    }
    registered_.emplace_hint(it, start, end);
}

// Removes [start, end) from registered_. On allocation failure forgets the
// whole overlapping ranges instead (they are registered again when watched).
void uffd_watch::forget_registered(uintptr_t start, uintptr_t end) {
    auto it = registered_.upper_bound(start);
    if (it != registered_.begin() && std::prev(it)->second > start) --it;
    range kept[2];
    size_t n = 0;
    while (it != registered_.end() && it->first < end) {
        if (it->first < start) kept[n++] = {it->first, start};
        if (it->second > end) kept[n++] = {end, it->second};
        it = registered_.erase(it);
    }
    try {
        for (size_t i = 0; i < n; ++i) registered_.emplace(kept[i].start, kept[i].end);
    } catch (const std::bad_alloc &) {
    }
}

// Unregisters each registered range overlapping [start, end) in which no
// page is watched any more. Unregistering the whole range (whole VMAs) keeps
// them unsplit.
void uffd_watch::unregister_unwatched(uintptr_t start, uintptr_t end) {
    // Ranges that abut [start, end) count too: they are what is left of a
    // registered VMA whose watched part was unmapped, and would otherwise
    // stay registered with nothing in them watched.
    auto it = registered_.upper_bound(start);
    if (it != registered_.begin() && std::prev(it)->second >= start) --it;
    while (it != registered_.end() && it->first <= end) {
        if (watches_.any_held(it->first, it->second)) {
            ++it;
            continue;
        }
        const int fd = fd_.own_uffd();  // without one the kernel keeps watching: harmless
        uffdio_range r{it->first, it->second - it->first};
        if (fd >= 0) ioctl(fd, UFFDIO_UNREGISTER, &r);  // fails harmlessly where unmapped
        it = registered_.erase(it);
    }
}

}  // namespace umn
