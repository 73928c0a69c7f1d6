// SPDX-License-Identifier: BSD-3-Clause
// Which pages the userfaultfd monitor has registered with the kernel, with a
// count of the watches (core registrations) on each, and the
// UFFDIO_REGISTER/UNREGISTER calls that keep the kernel in step.
//
// Not thread safe: the monitor calls it under its watch_lock_, from
// application threads only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

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

  private:
    struct segment {
        uintptr_t end;
        size_t count;
    };

    void split_at(uintptr_t at);
    void count_down(uintptr_t start, uintptr_t end);

    uffd_descriptor &fd_;
    std::map<uintptr_t, segment> segments_;  // disjoint page ranges with their watch counts
};

}  // namespace umn
