// SPDX-License-Identifier: BSD-3-Clause
// A conservative, lock-free summary of the address ranges an event source
// watches for all its notifiers: `may_overlap` can say yes for a range
// nobody watches (two units share a counter, or a registration is rounded
// out to coarser units, or it is not released yet), never no for one that
// is watched since its add() returned. The hooks monitor reads it in every
// hooked call so that unmapping memory no notifier watches takes no core's
// lock, however many notifiers are open.
//
// Three levels: 1 MiB chunks, 64 KiB blocks, 4 KiB pages. A range is
// counted at the finest level where it touches at most `max_units` units
// (a one-page registration counts its page; a 64 KiB aligned one its
// block; a 1 MiB aligned one its chunk), in that level's `own` counters,
// and once in the `finer` counter of each coarser unit it touches. So an
// add is a few counter increments whatever the range's size, and an
// unwatched page that shares a chunk or a block with watched memory is told
// apart from it (unless that memory is a range rounded out to the block).
//
// Memory order: add() and the readers' loads are seq_cst, so a registration
// whose add() precedes (in the single total order) a later seq_cst event the
// hook also orders against (the hooks monitor's watch count) is seen by a
// may_overlap() that follows that event: every counter add() raised is seen
// raised, whichever of them the reader looks at and in which order.
// remove() runs only after the range left every index a hook searches, so
// a stale "yes" is the only effect; a remove() half done lowers only its own
// range's share of each counter, and every other range's share stays.
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
        if (wide_.load(std::memory_order_seq_cst) || units(chunk, start, end) > max_chunks)
            return true;
        if (units(page, start, end) == 1) return any_own_at(start);
        return any_in<chunk>(start, end);
    }

    // In a fork child: no notifier of this process watches anything yet.
    // Stores only where a counter is nonzero: pages never written stay
    // unmapped.
    void reset() {
        for (auto &c : pages_) clear(c);
        for (auto &level : coarse_)
            for (auto &c : level) {
                clear(c.own);
                clear(c.finer);
            }
        wide_.store(0, std::memory_order_relaxed);
    }

  private:
    enum level_id : unsigned { page = 0, block = 1, chunk = 2 };
    static constexpr unsigned shifts[3] = {12, 16, 20};
    static constexpr unsigned max_units = 4;       // per range, at the level it is counted
    static constexpr uintptr_t max_chunks = 1024;  // wider ranges go to wide_
    // Slots per level: units that far apart share a counter (a false yes
    // only). Adjacent units share a cache line and a page, so a cache of
    // small regions makes a few counters resident, not one page per region.
    static constexpr size_t slots = size_t{1} << 16;

    struct cell {
        std::atomic<unsigned> own{0};    // ranges counted at this level touching the unit
        std::atomic<unsigned> finer{0};  // ranges counted at a finer level inside it
    };

    static uintptr_t first(level_id l, uintptr_t start) { return start >> shifts[l]; }
    static uintptr_t last(level_id l, uintptr_t end) { return (end - 1) >> shifts[l]; }
    static uintptr_t units(level_id l, uintptr_t start, uintptr_t end) {
        return last(l, end) - first(l, start) + 1;
    }
    // The counters of `unit` at level l (a page has no finer counter);
    // Summary is range_summary, const or not.
    template <class Summary>
    static auto &own(Summary &s, level_id l, uintptr_t unit) {
        const size_t i = unit & (slots - 1);
        return l == page ? s.pages_[i] : s.coarse_[l - 1][i].own;
    }
    template <class Summary>
    static auto &finer(Summary &s, level_id l, uintptr_t unit) {
        return s.coarse_[l - 1][unit & (slots - 1)].finer;
    }
    static bool load(const std::atomic<unsigned> &c) { return c.load(std::memory_order_seq_cst); }
    static void clear(std::atomic<unsigned> &c) {
        if (c.load(std::memory_order_relaxed)) c.store(0, std::memory_order_relaxed);
    }

    // One page: a range touching it raised the own counter of its page, its
    // block or its chunk, whichever level it is counted at.
    bool any_own_at(uintptr_t address) const {
        return load(own(*this, page, address >> shifts[page])) ||
               load(own(*this, block, address >> shifts[block])) ||
               load(own(*this, chunk, address >> shifts[chunk]));
    }

    // Whether a range counted at level L or finer may touch [start, end).
    // A template, so that the three levels inline into one loop nest.
    template <level_id L>
    bool any_in(uintptr_t start, uintptr_t end) const {
        for (uintptr_t u = first(L, start); u <= last(L, end); ++u) {
            if (load(own(*this, L, u))) return true;
            if constexpr (L != page) {
                if (!load(finer(*this, L, u))) continue;
                // Inclusive bounds: the unit at the top of the address space.
                const uintptr_t unit_first = u << shifts[L];
                const uintptr_t unit_last = unit_first + ((uintptr_t{1} << shifts[L]) - 1);
                // A finer range touches the unit: it overlaps [start, end)
                // if that covers the unit, else look one level down.
                if (start <= unit_first && end - 1 >= unit_last) return true;
                const uintptr_t from = start > unit_first ? start : unit_first;
                const uintptr_t to = end - 1 < unit_last ? end : unit_last + 1;
                if (any_in<static_cast<level_id>(L - 1)>(from, to)) return true;
            }
        }
        return false;
    }

    static void bump(std::atomic<unsigned> &counter, bool up) {
        if (up)
            counter.fetch_add(1, std::memory_order_seq_cst);
        else
            counter.fetch_sub(1, std::memory_order_seq_cst);
    }

    void change(uintptr_t start, uintptr_t end, bool up) {
        if (start >= end) return;
        if (units(chunk, start, end) > max_chunks) return bump(wide_, up);
        level_id l = page;
        while (l != chunk && units(l, start, end) > max_units) l = static_cast<level_id>(l + 1);
        for (uintptr_t u = first(l, start); u <= last(l, end); ++u) bump(own(*this, l, u), up);
        for (auto coarser = static_cast<unsigned>(l) + 1; coarser <= chunk; ++coarser) {
            const auto c = static_cast<level_id>(coarser);
            for (uintptr_t u = first(c, start); u <= last(c, end); ++u)
                bump(finer(*this, c, u), up);
        }
    }

    std::atomic<unsigned> pages_[slots] = {};
    cell coarse_[2][slots] = {};  // blocks, chunks
    std::atomic<unsigned> wide_{0};
};

}  // namespace umn
