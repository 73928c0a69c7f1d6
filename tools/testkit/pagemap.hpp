// SPDX-License-Identifier: BSD-3-Clause
// Ground truth for tests and `umn check`: the physical frame behind each page,
// read from /proc/self/pagemap. Frame numbers are visible to root only
// (CAP_SYS_ADMIN); otherwise available() is false and callers must say that
// ground truth is unavailable rather than guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace umn::testkit {

// 0 for a page that is not present (never touched, unmapped or swapped).
using frames = std::vector<uint64_t>;

class pagemap {
  public:
    pagemap();
    ~pagemap();
    pagemap(const pagemap &) = delete;
    pagemap &operator=(const pagemap &) = delete;

    // True when frame numbers are readable (root).
    bool available() const { return available_; }
    // Frames of every page touched by [addr, addr + len).
    frames read(const void *addr, size_t len) const;

  private:
    int fd_ = -1;
    bool available_ = false;
};

// True if any page present in `before` has a different frame (or none) in `after`.
bool frames_changed(const frames &before, const frames &after);

}  // namespace umn::testkit
