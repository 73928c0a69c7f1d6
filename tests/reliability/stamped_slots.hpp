// SPDX-License-Identifier: BSD-3-Clause
// Ground truth for the no-stale-window stress: an arena of one-page slots.
// Each mapping a slot ever gets carries a stamp in its first word, unique and
// increasing per slot; a mutator replaces a slot's mapping (munmap + mmap,
// mmap(MAP_FIXED) over, MADV_DONTNEED, mremap of a stamped page onto it),
// writes the new stamp, and only then publishes it as the slot's version
// (release). A getter that acquires version v before its lookup and is then
// handed a registration made over a mapping with a stamp below v was handed
// memory replaced before its lookup began: a stale hit.
//
// Stamp 0 means "mapping not initialized yet": a registration over it is
// refused, since the pages would change when the mutator writes the stamp.
//
// A slot's stamps are slot + 1, then up in steps of count(), so a stamp also
// says which slot it was written for. That matters: while a slot is
// unmapped (munmap + mmap replacement), another mutator's mmap(NULL) for an
// mremap replacement can land in the hole for a moment and stamp its page
// for its own slot. A registration made over the hole then captured a page
// that really was there; its stamp is foreign, not stale.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>

namespace umn::reliability {

class stamped_slots {
  public:
    explicit stamped_slots(size_t count);
    ~stamped_slots();
    stamped_slots(const stamped_slots &) = delete;
    stamped_slots &operator=(const stamped_slots &) = delete;

    bool ok() const { return base_ != nullptr; }
    size_t count() const { return count_; }
    char *addr(size_t slot) const;
    // The stamp published last (acquire); pairs with the release in replace().
    uint64_t version(size_t slot) const;
    // Whether `stamp` was written for `slot` (see the top).
    bool belongs(size_t slot, uint64_t stamp) const {
        return stamp % count_ == (slot + 1) % count_;
    }

    // Ways to replace a slot's mapping (a bit mask of them for replace()).
    enum kind : unsigned {
        replace_munmap = 1,     // munmap, then mmap the hole again
        replace_map_fixed = 2,  // mmap(MAP_FIXED) over
        replace_dontneed = 4,   // madvise(MADV_DONTNEED): the next write gets a new page
        replace_mremap = 8,     // mremap a page that already carries its stamp
    };
    // Replaces slot's mapping one of the `kinds` ways, at random, and
    // publishes the new stamp. Only one thread may replace a given slot.
    // False (and counted) if a call failed or the test lost the slot's
    // address to another mmap while it was unmapped; the slot must not be
    // used again.
    bool replace(size_t slot, std::mt19937 &rng, unsigned kinds);

    // The first word of the page at addr as it is now, 0 if unmapped. Read
    // by a system call, so a concurrent munmap gives 0 rather than SIGSEGV.
    static uint64_t read_stamp(const void *addr);

    uint64_t replacements() const { return replacements_.load(); }
    // Replacements that failed (the slot stays as it was).
    uint64_t failed_replacements() const { return failed_.load(); }

  private:
    struct slot_state {
        alignas(64) std::atomic<uint64_t> version{0};
    };
    bool remap(size_t slot, std::mt19937 &rng, unsigned kinds);
    void publish(size_t slot, uint64_t stamp);

    char *base_ = nullptr;
    size_t count_;
    std::unique_ptr<slot_state[]> slots_;
    std::atomic<uint64_t> replacements_{0};
    std::atomic<uint64_t> failed_{0};
};

}  // namespace umn::reliability
