// SPDX-License-Identifier: BSD-3-Clause
// The cache's lookup index: a treap of non-overlapping regions keyed by start
// whose links and bounds are atomics, so that hits can walk it without a lock
// while one writer (holding the cache lock) changes it.
//
// Readers use the seqcount protocol described at the top of cache.cpp: a
// walk may see a half-done rotation or a node that was recycled meanwhile,
// and the caller throws the answer away unless the seqcount did not move. Walks are bounded so that
// a torn view cannot loop. Nodes are never freed while the cache lives (type-stable memory), so a
// torn walk only ever reads region memory.
#pragma once

#include <atomic>
#include <cstdint>

struct umn_region;

namespace umn::cache_index {

struct links {
    std::atomic<umn_region *> left{nullptr};
    std::atomic<umn_region *> right{nullptr};
    std::atomic<uintptr_t> start{0};  // page aligned; the key
    std::atomic<uintptr_t> end{0};    // exclusive
    // The treap priority is a hash of the node's address: nothing stored.
};

using root_t = std::atomic<umn_region *>;

// A walk longer than this saw a torn tree (a treap of 2^32 nodes is far
// shallower with overwhelming probability): the caller takes the slow path.
constexpr unsigned max_walk = 256;

// The region with the largest start <= key, or nullptr. *torn is set when the
// walk gave up.
umn_region *find_le(const root_t &root, uintptr_t key, bool *torn);
// The region with the smallest start >= key, or nullptr (writer only).
umn_region *find_ge(const root_t &root, uintptr_t key);
// Writer only (cache lock held, inside a seqcount write section).
void insert(root_t &root, umn_region *r);
void erase(root_t &root, umn_region *r);

}  // namespace umn::cache_index
