// SPDX-License-Identifier: BSD-3-Clause
// The objects behind umn_cache and umn_region. The design, the locking rules
// and the memory-order edges are stated at the top of cache.cpp.
#pragma once

#include <umn/umn.h>

#include "cache/index.hpp"
#include "core/checked_mutex.hpp"
#include "core/ilist.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>

namespace umn::cache_refs {
// umn_region::refs: the reference count in the low bits, the state on top.
constexpr uint64_t retired = uint64_t{1} << 62;  // out of the index, dereg at the last put
constexpr uint64_t freed = uint64_t{1} << 63;    // deregistered (pooled or being reused)
constexpr uint64_t count_mask = retired - 1;
}  // namespace umn::cache_refs

struct umn_region {
    // Line 0, read by every lookup that walks past this node. Written only by
    // the writer, and start/end only while the node is outside the index.
    alignas(64) umn::cache_index::links index;
    uint64_t handle = 0;  // what reg stored; read by holders of a reference
    umn_cache *cache = nullptr;
    // Writer only (cache lock held): the LRU list while the node is indexed,
    // else the retired list, the pool or a freed batch; never two at once.
    // Memo hits do not read this line.
    umn::ilist_link<umn_region> link;

    // Line 1, written by gets and puts of this region, and by the writer
    // when the region itself changes state or LRU position.
    alignas(64) std::atomic<uint64_t> refs{umn::cache_refs::freed};
    std::atomic<uint64_t> last_used{0};  // cache clock at the last put
    // Hits on this incarnation: a plain load and store by the hitting thread
    // (no RMW: concurrent hits on one region may undercount). Moved into the
    // cache's total when the node returns to the pool.
    std::atomic<uint64_t> hits{0};
    // Copies of index.start/end for memo hits, which then touch this line
    // only; set while the node is outside the index, before it goes live.
    std::atomic<uintptr_t> start{0};
    std::atomic<uintptr_t> end{0};
    uint64_t queued = 0;  // writer only: clock when it entered its LRU position
    enum class where : uint8_t { pool, index, retired } place = where::pool;  // writer only
    bool watched = false;   // writer only: registered with the cache's notifier
    void *watch = nullptr;  // writer only: that registration's token (api/owned.hpp)
};

static_assert(sizeof(umn_region) == 128, "two cache lines per region");

namespace umn {

using region_list = ilist<umn_region, &umn_region::link>;
using lru_list = region_list;  // the same link: a region is on one list at a time

// Nodes are carved from slabs, constructed one at a time as the cache grows
// (a page is touched when its first node is handed out), and freed only by
// destroy: type-stable memory for lock-free walks, no allocator header per
// node.
struct region_slab {
    static constexpr size_t bytes = 64 << 10;
    static constexpr size_t nodes = bytes / sizeof(umn_region) - 1;  // slot 0: this header
    region_slab *next = nullptr;
    umn_region *node(size_t i) { return reinterpret_cast<umn_region *>(this) + 1 + i; }
};

}  // namespace umn

struct umn_cache {
    // Line 0, read by every get and put; written only on misses, drains and
    // evictions (cache lock held).
    alignas(64) umn_notifier *notifier = nullptr;
    std::atomic<uint64_t> seen_generation{0};  // the notifier generation last drained
    std::atomic<uint64_t> seq{0};              // index seqcount: odd while the writer changes it
    umn::cache_index::root_t root{nullptr};
    std::atomic<uint64_t> clock{1};             // ticks at every miss; LRU stamps
    std::atomic<umn_region *> *memo = nullptr;  // request start page -> region (C4)
    uint32_t memo_mask = 0;                     // memo slots - 1 (at most 2^20)
    uint32_t memo_shift = 0;                    // log2(page size): a slot per page
    uintptr_t align_mask = 0;                   // alignment - 1
    uint64_t fork_epoch = 0;

    // Everything below: cache lock held.
    alignas(64) umn::checked_mutex lock;
    umn_registrar registrar{};
    size_t max_regions = 0;
    size_t max_bytes = 0;
    bool pins = false;         // the registrar pins pages (RLIMIT_MEMLOCK applies)
    unsigned write_depth = 0;  // nested index write sections (seq is odd while > 0)
    size_t live_regions = 0;   // in the index
    size_t live_bytes = 0;
    umn::lru_list lru;
    umn::region_list retired;           // out of the index, still referenced
    umn::region_list pool;              // deregistered nodes for reuse
    umn::region_slab *slabs = nullptr;  // where every node lives until destroy
    size_t slab_used = 0;               // nodes handed out from the first slab

    struct {
        uint64_t pooled_hits = 0;  // hits of regions since returned to the pool
        uint64_t misses = 0;
        uint64_t evictions = 0;
        uint64_t invalidations = 0;
        uint64_t registrar_failures = 0;
        uint64_t drains = 0;
    } counters;
};

namespace umn {

// umn_cache_stats(); with wait == false gives -EBUSY instead of waiting for
// the cache lock (the exit report).
int read_cache_stats(const umn_cache *c, struct umn_cache_stats *out, bool wait);

}  // namespace umn
