// SPDX-License-Identifier: BSD-3-Clause
// Which pages the userfaultfd monitor has registered with the kernel, how
// many watches (core registrations) each page has, and the
// UFFDIO_REGISTER/UNREGISTER calls that keep the kernel in step.
//
// Registered ranges are whole VMAs: registering part of a VMA splits it, and
// a split VMA makes the application's mremap of the whole mapping fail with
// EFAULT ("cannot remap across VMAs"); one split per registration also made
// 10^4 registrations cost 15 us each and 10^5 fail with ENOMEM
// (vm.max_map_count). A watch inside a range already registered costs one
// UFFDIO_WRITEPROTECT that changes nothing (is it still registered?) instead
// of a REGISTER; a range is unregistered when no watch is left in it.
//
// registered_ holds pages registered as far as the events read so far tell:
// the monitor thread reports every UNMAP/REMAP event's old range
// (note_unmapped, before any core sees the event) and add() forgets those
// pages before looking. Events not yet read are why add() asks the kernel.
//
// Thread safety: add() and remove() run under the monitor's watch_lock_
// (application threads only). note_unmapped() runs in the monitor thread and
// takes only dropped_lock_, which nobody holds while doing anything else.
#pragma once

#include "core/range_count.hpp"
#include "core/sink.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

namespace umn {

// Where the watch set gets the userfaultfd from: the number the calling
// thread may use, or a negative errno (the application closed it).
class uffd_descriptor {
  public:
    virtual int own_uffd() = 0;

  protected:
    ~uffd_descriptor() = default;
};

class uffd_watch {
  public:
    explicit uffd_watch(uffd_descriptor &fd) : fd_(fd) {}

    // Starts watching [start, end) (page aligned). -EFAULT when a page of it
    // is not mapped, -ENOTSUP for memory userfaultfd cannot watch, -EBADF
    // without a userfaultfd; nothing is watched then.
    int add(uintptr_t start, uintptr_t end);
    // Ends one add() of the same range.
    void remove(uintptr_t start, uintptr_t end);
    // remove() of each of ranges[0, n), any order (sorts them): ranges that
    // abut are counted down, and unregistered once unwatched, as one.
    void remove_many(page_range *ranges, size_t n);
    // The kernel dropped the registration of [start, end) (unmapped or moved).
    void note_unmapped(uintptr_t start, uintptr_t end);

  private:
    struct range {
        uintptr_t start, end;
    };

    bool is_registered(uintptr_t start, uintptr_t end) const;
    bool still_registered(uintptr_t start, uintptr_t end);
    int register_covering(uintptr_t start, uintptr_t end);
    void mark_registered(uintptr_t start, uintptr_t end);
    void forget_registered(uintptr_t start, uintptr_t end);
    void apply_unmapped();
    void unregister_unwatched(uintptr_t start, uintptr_t end);

    uffd_descriptor &fd_;
    range_count watches_;                        // watches per page
    std::map<uintptr_t, uintptr_t> registered_;  // start -> end, disjoint, not abutting

    std::mutex dropped_lock_;
    range dropped_[32];
    size_t dropped_count_ = 0;
    bool dropped_overflow_ = false;             // forget every registered range
    std::atomic<bool> dropped_pending_{false};  // something to apply, without the lock
};

}  // namespace umn
