// SPDX-License-Identifier: BSD-3-Clause
#include "core/range_count.hpp"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <new>

namespace umn {

int range_count::add(uintptr_t start, uintptr_t end) {
    uintptr_t at = start;  // [start, at) has its count raised
    try {
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
        return -ENOMEM;
    }
    return 0;
}

void range_count::remove(uintptr_t start, uintptr_t end, release_fn released) {
    auto exact = counts_.find(start);
    if (exact != counts_.end() && exact->second.end == end && exact->second.count == 1) {
        counts_.erase(exact);  // the only holder of exactly these pages: no split
        if (released) released(start, end);
        return;
    }
    try {
        split_at(start);
        split_at(end);
    } catch (const std::bad_alloc &) {
        return;
    }
    count_down(start, end, released);
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
