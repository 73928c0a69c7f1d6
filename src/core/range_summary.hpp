// SPDX-License-Identifier: BSD-3-Clause
// A conservative, lock-free summary of the address ranges an event source
// watches for all its notifiers: `may_overlap` can say yes for a range
// nobody watches (two chunks share a counter, or a registration is not
// released yet), never no for one that is watched since its add() returned.
// The hooks monitor reads it in every hooked call so that unmapping memory
// no notifier watches takes no core's lock, however many notifiers are open.
//
// Memory order: add() and the readers' loads are seq_cst, so a registration
// whose add() precedes (in the single total order) a later seq_cst event the
// hook also orders against (the hooks monitor's watch count) is seen by a
// may_overlap() that follows that event. remove() runs only after the range
// left every index a hook searches, so a stale "yes" is the only effect.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace umn {

class range_summary {
  public:
    void add(uintptr_t start, uintptr_t end) { change(start, end, true); }
    void remove(uintptr_t start, uintptr_t end) { change(start, end, false); }

    bool may_overlap(uintptr_t start, uintptr_t end) const {
        if (start >= end) return false;
        if (wide_.load(std::memory_order_seq_cst) || is_wide(start, end)) return true;
        for (uintptr_t c = first_chunk(start); c <= last_chunk(end); ++c)
            if (counts_[slot(c)].load(std::memory_order_seq_cst)) return true;
        return false;
    }

    // In a fork child: no notifier of this process watches anything yet.
    void reset() {
        for (auto &c : counts_) c.store(0, std::memory_order_relaxed);
        wide_.store(0, std::memory_order_relaxed);
    }

  private:
    static constexpr unsigned chunk_shift = 20;  // 1 MiB of address space per chunk
    static constexpr size_t slots = size_t{1}
                                    << 16;  // 256 KiB of counters, 64 GiB before chunks share one
    static constexpr uintptr_t max_chunks = 1024;  // wider ranges go to wide_

    static uintptr_t first_chunk(uintptr_t start) { return start >> chunk_shift; }
    static uintptr_t last_chunk(uintptr_t end) { return (end - 1) >> chunk_shift; }
    // Adjacent chunks share a cache line and a page: a cache of small
    // regions makes a few counters resident, not one page per region.
    static size_t slot(uintptr_t chunk) { return chunk & (slots - 1); }
    static bool is_wide(uintptr_t start, uintptr_t end) {
        return last_chunk(end) - first_chunk(start) >= max_chunks;
    }

    static void bump(std::atomic<unsigned> &counter, bool up) {
        if (up)
            counter.fetch_add(1, std::memory_order_seq_cst);
        else
            counter.fetch_sub(1, std::memory_order_seq_cst);
    }

    void change(uintptr_t start, uintptr_t end, bool up) {
        if (start >= end) return;
        if (is_wide(start, end)) return bump(wide_, up);
        for (uintptr_t c = first_chunk(start); c <= last_chunk(end); ++c)
            bump(counts_[slot(c)], up);
    }

    std::atomic<unsigned> counts_[slots] = {};
    std::atomic<unsigned> wide_{0};
};

}  // namespace umn
