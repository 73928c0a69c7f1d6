// SPDX-License-Identifier: BSD-3-Clause
// The hooks monitor refuses to watch a range with unmapped pages (-EFAULT,
// as the other monitors do), which msync(MS_ASYNC) tells: one system call
// per registration, about a fifth of a cache miss. mapped_chunks remembers a
// few 2 MiB chunks of address space that one msync found fully mapped;
// a range inside one needs no system call. Every hooked call that may remove
// a mapping forgets the chunks it touches after its system call, so a
// remembered chunk is as true as a fresh msync for everything the hooks see
// (raw system calls are unseen, as they are for invalidation).
//
// Ordering (a slot word holds chunk, ticket and a "checked" bit; seq_cst
// throughout): check() stores the chunk unchecked, runs msync, then CASes
// its own word (the ticket makes it unique) to checked. A hooked call loads
// each slot after its system call returned and clears one that overlaps.
// If that load comes before the store, the call had returned before the
// msync began (the mmap_lock orders the two system calls), so msync fails;
// if after, the CAS finds the word cleared or replaced and nothing is
// remembered. A hooked call that continues into another library's hook
// (chained) makes its system call there: the trampoline calls that hook and
// clears the slots the call touched when it returns. While an entry is chained with no
// point after the call (syscall(), whose arguments may be on the stack),
// nothing is remembered (set_usable).
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <sys/mman.h>

namespace umn {

class mapped_chunks {
  public:
    // 0, or -EFAULT if a page of [start, end) is not mapped (another msync
    // error as -errno). Any thread; takes no lock.
    int check(uintptr_t start, uintptr_t end) {
        const uintptr_t chunk = start >> chunk_shift;
        const bool one_chunk = (end - 1) >> chunk_shift == chunk && chunk <= max_chunk;
        if (!one_chunk || !usable_.load(std::memory_order_relaxed)) return msync_range(start, end);
        std::atomic<uint64_t> &slot = slots_[chunk % slots];
        uint64_t seen = slot.load(std::memory_order_seq_cst);
        if (seen && chunk_of(seen) == chunk) {
            if (seen & checked) return 0;
            if (seen & holey) return msync_range(start, end);
        }
        // One ticket per attempt: a CAS cannot succeed on another
        // attempt's word for the same chunk.
        uint64_t ticket = tickets_.fetch_add(1, std::memory_order_relaxed) & ticket_mask;
        const uint64_t unchecked = (ticket << ticket_shift) | (chunk << 1) | present;
        slot.store(unchecked, std::memory_order_seq_cst);
        uint64_t expected = unchecked;
        if (msync_range(chunk << chunk_shift, (chunk + 1) << chunk_shift) == 0) {
            slot.compare_exchange_strong(expected, unchecked | checked, std::memory_order_seq_cst);
            return 0;
        }
        // The chunk has a hole (a small mapping): until the slot is reused,
        // ranges in it get their own msync without trying the chunk again.
        slot.compare_exchange_strong(expected, unchecked | holey, std::memory_order_seq_cst);
        return msync_range(start, end);
    }

    // A hooked call that may have removed mappings in [start, end) returned
    // from its system call. Async-signal-safe: loads and CAS only.
    void changed(uintptr_t start, uintptr_t end) {
        if (start >= end) return;
        const uintptr_t first = start >> chunk_shift, last = (end - 1) >> chunk_shift;
        for (std::atomic<uint64_t> &slot : slots_) {
            uint64_t seen = slot.load(std::memory_order_seq_cst);
            if (!seen || chunk_of(seen) < first || chunk_of(seen) > last) continue;
            slot.compare_exchange_strong(seen, 0, std::memory_order_seq_cst);
        }
    }

    // False while some hooked entry has no point after its system call.
    // Turning it off forgets every chunk.
    void set_usable(bool usable) {
        usable_.store(usable, std::memory_order_seq_cst);
        if (!usable) forget_all();
    }

    // In a fork child, or when the calls' ranges are unknown.
    // Async-signal-safe; writes only a slot that holds a chunk.
    void forget_all() {
        for (std::atomic<uint64_t> &slot : slots_)
            if (slot.load(std::memory_order_seq_cst)) slot.store(0, std::memory_order_seq_cst);
    }

  private:
    static constexpr unsigned chunk_shift = 21;  // 2 MiB
    static constexpr unsigned slots = 4;
    static constexpr unsigned ticket_shift = 32;
    static constexpr uint64_t ticket_mask = (uint64_t{1} << 32) - 1;
    static constexpr uint64_t present = 1, holey = uint64_t{1} << 30, checked = uint64_t{1} << 31;
    static constexpr uintptr_t max_chunk = (uintptr_t{1} << 29) - 1;  // 1 PiB of address space

    static uintptr_t chunk_of(uint64_t word) { return (word >> 1) & max_chunk; }

    static int msync_range(uintptr_t start, uintptr_t end) {
        if (msync(reinterpret_cast<void *>(start), end - start, MS_ASYNC) == 0) return 0;
        return errno == ENOMEM ? -EFAULT : -errno;
    }

    alignas(64) std::atomic<uint64_t> slots_[slots] = {};
    std::atomic<bool> usable_{false};
    std::atomic<uint64_t> tickets_{0};
};

}  // namespace umn
