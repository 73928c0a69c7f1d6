// SPDX-License-Identifier: BSD-3-Clause
// How many holders cover each page: disjoint [start, end) segments, each with
// a positive count, neighbours that abut with equal counts joined (a cache of
// 10^6 abutting one-page regions is one segment, not 10^6 map nodes). The userfaultfd watch set
// counts watches per page in it (a range is unregistered once no page of it is watched) and the
// mlock registrar counts regions per page (munlock does not nest, so a page is unlocked once no
// region holds it).
//
// Not thread-safe: each user guards its own instance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace umn {

class range_count {
  public:
    using release_fn = void (*)(uintptr_t start, uintptr_t end);

    // One more holder of every page of [start, end); -ENOMEM with nothing
    // changed.
    int add(uintptr_t start, uintptr_t end);
    // One holder less of [start, end), which add() counted; calls
    // released(s, e) for each part of it nobody holds any more. Out of
    // memory for a split: nothing changes, so those pages stay held (safe for
    // both users: too much watched, too much locked).
    void remove(uintptr_t start, uintptr_t end, release_fn released = nullptr);
    // Whether some page of [start, end) is held.
    bool any_held(uintptr_t start, uintptr_t end) const;
    // The holders of the page at `at` (0 outside every segment).
    size_t holders(uintptr_t at) const;
    // How many segments: the runs of abutting pages with equal counts.
    size_t segments() const { return counts_.size(); }

  private:
    struct segment {
        uintptr_t end;
        size_t count;
    };
    using iterator = std::map<uintptr_t, segment>::iterator;

    void add_unheld(uintptr_t start, uintptr_t end);
    bool remove_single_holder(uintptr_t start, uintptr_t end, release_fn released);
    void move_start(iterator it, uintptr_t start);
    void split_at(uintptr_t at);
    void join_at(uintptr_t at);
    void count_down(uintptr_t start, uintptr_t end, release_fn released);

    std::map<uintptr_t, segment> counts_;
};

}  // namespace umn
