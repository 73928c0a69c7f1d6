// SPDX-License-Identifier: BSD-3-Clause
#include "core/range_count.hpp"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <new>
#include <utility>

namespace umn {

int range_count::add(uintptr_t start, uintptr_t end) {
    uintptr_t at = start;  // [start, at) has its count raised
    try {
        if (!any_held(start, end)) {
            add_unheld(start, end);
            return 0;
        }
        split_at(start);
        split_at(end);
        auto it = counts_.lower_bound(start);
        while (at < end) {
            if (it == counts_.end() || it->first > at) {
                uintptr_t gap_end = it == counts_.end() ? end : std::min(end, it->first);
                it = counts_.emplace_hint(it, at, segment{gap_end, 0});
            }
            ++it->second.count;
            at = it->second.end;
            ++it;
        }
    } catch (const std::bad_alloc &) {
        count_down(start, at, nullptr);
        join_at(start);
        join_at(end);
        return -ENOMEM;
    }
    // Inside [start, end) neighbours were unequal and still are (a filled
    // gap, 1, abuts only segments now above 1): only the ends can join.
    join_at(start);
    join_at(end);
    return 0;
}

void range_count::remove(uintptr_t start, uintptr_t end, release_fn released) {
    if (remove_single_holder(start, end, released)) return;
    try {
        split_at(start);
        split_at(end);
    } catch (const std::bad_alloc &) {
        return;
    }
    count_down(start, end, released);
    join_at(start);
    join_at(end);
}

bool range_count::any_held(uintptr_t start, uintptr_t end) const {
    auto it = counts_.lower_bound(start);
    if (it != counts_.end() && it->first < end) return true;
    return it != counts_.begin() && std::prev(it)->second.end > start;
}

size_t range_count::holders(uintptr_t at) const {
    auto it = counts_.upper_bound(at);
    if (it == counts_.begin()) return 0;
    --it;
    return at < it->second.end ? it->second.count : 0;
}

// [start, end), which nobody holds, gets one holder: it joins an abutting
// neighbour of count 1 (allocating nothing) or becomes a segment.
void range_count::add_unheld(uintptr_t start, uintptr_t end) {
    auto next = counts_.lower_bound(start);  // starts at or after end
    const bool right = next != counts_.end() && next->first == end && next->second.count == 1;
    if (next != counts_.begin()) {
        auto left = std::prev(next);
        if (left->second.end == start && left->second.count == 1) {
            left->second.end = right ? next->second.end : end;
            if (right) counts_.erase(next);
            return;
        }
    }
    if (right)
        move_start(next, start);
    else
        counts_.emplace_hint(next, start, segment{end, 1});
}

// The common removal: [start, end) lies in one segment of count 1, which
// goes, shrinks (no allocation) or is cut in two. Returns false, changing
// nothing, when [start, end) is not in one such segment.
bool range_count::remove_single_holder(uintptr_t start, uintptr_t end, release_fn released) {
    auto it = counts_.upper_bound(start);
    if (it == counts_.begin()) return false;
    --it;
    const uintptr_t first = it->first, last = it->second.end;
    if (it->second.count != 1 || last < end) return false;
    if (first == start && last == end) {
        counts_.erase(it);
    } else if (last == end) {
        it->second.end = start;
    } else if (first == start) {
        move_start(it, end);
    } else {
        try {
            counts_.emplace_hint(std::next(it), end, segment{last, 1});
        } catch (const std::bad_alloc &) {
            return true;  // as remove(): those pages stay held
        }
        it->second.end = start;
    }
    if (released) released(start, end);
    return true;
}

// Moves the segment at `it` to start at `start`, reusing its node (no other
// segment starts between the two).
void range_count::move_start(iterator it, uintptr_t start) {
    auto hint = std::next(it);
    auto node = counts_.extract(it);
    node.key() = start;
    counts_.insert(hint, std::move(node));
}

// Makes `at` a segment boundary if it falls inside a segment.
void range_count::split_at(uintptr_t at) {
    auto it = counts_.upper_bound(at);
    if (it == counts_.begin()) return;
    --it;
    if (it->first < at && at < it->second.end) {
        counts_.emplace(at, segment{it->second.end, it->second.count});
        it->second.end = at;
    }
}

// Joins the two segments that meet at `at` if their counts are equal.
void range_count::join_at(uintptr_t at) {
    auto right = counts_.find(at);
    if (right == counts_.end() || right == counts_.begin()) return;
    auto left = std::prev(right);
    if (left->second.end != at || left->second.count != right->second.count) return;
    left->second.end = right->second.end;
    counts_.erase(right);
}

// Lowers the counts of [start, end), both segment boundaries, and drops the
// segments that reach 0. Allocates nothing.
void range_count::count_down(uintptr_t start, uintptr_t end, release_fn released) {
    for (auto it = counts_.lower_bound(start); it != counts_.end() && it->first < end;) {
        if (--it->second.count > 0) {
            ++it;
            continue;
        }
        if (released) released(it->first, it->second.end);
        it = counts_.erase(it);
    }
}

}  // namespace umn
