// SPDX-License-Identifier: BSD-3-Clause
// The registration cache (docs/cache.md has the long form).
//
// Structure
//   index   the live regions, non-overlapping, in a treap keyed by start whose
//           links are atomics (index.hpp). Hits walk it without a lock.
//   refs    one word per region, alone with last_used on the region's second
//           cache line: reference count plus state (live, retired, freed). A
//           hit writes that line only, so threads hitting different regions
//           share no written line; lookups read line 0 of other regions only.
//   lock    the cache lock: every change to the index, the LRU list, the
//           retired list, the pool and the counters; drains; registrations.
//           Never taken by a hit. No monitor callback takes it (the cache has
//           no callback: it reads the generation), so reg and dereg may run
//           under it; dereg after a last put runs in the putting thread with
//           no lock held.
//
// Hit (fast_get): load the notifier generation (one acquire load) and
// seen_generation; if they differ, take the slow path, which drains the
// invalid list first. Then the memo: a direct-mapped table from the request's
// first page to the region that served it last (read-only once warm); take a
// reference and check the region is live and covers the request (C4). Else
// walk the index under the seqcount (C2) and remember the result. No lock,
// no syscall, no allocation; the only write is the region's own refs.
//
// Memory-order edges
//   C1 drain -> hit: the slow path unlinks every drained region (inside a seq
//      write section) and then stores seen_generation = g with release; a hit
//      that loads seen_generation == g with acquire also sees the unlinks. With
//      the notifier's E1/E2 (core.hpp), a get that begins after an
//      invalidating call returned loads the moved generation: either it drains
//      itself, or it sees a seen_generation that some drain stored after
//      unlinking the region. No stale hit.
//   C2 seqcount: the writer makes seq odd with an acq_rel RMW (later link
//      stores cannot move above it), stores links with release, makes seq
//      even with release. The reader loads seq (acquire), walks with acquire
//      loads of the links (a link stored inside a write section carries the
//      odd seq with it), does its refs RMW (seq_cst: the walk stays before
//      it), re-loads seq (acquire). Equal and even: the walk saw a tree that
//      held the region for the whole interval.
//   C3 refs: retire does fetch_or(retired); put and a failed hit decrement.
//      Exactly one RMW in refs' modification order produces (retired, 0); its
//      thread CASes the word to freed and deregisters. A hit whose fetch_add
//      precedes the retire keeps the region (retire sees count > 0, the last
//      put deregisters); one after it sees a state bit and backs off. A hit
//      that increments a recycled node read-from the recycling fetch_and
//      (release), which follows the writer's seq changes, so its seq re-check
//      fails (C2). Nodes are pooled, never freed before destroy.
//   C4 memo: a memo slot may name any node, of any age. A reference taken
//      (acq_rel) on a node whose state is live pins it: it cannot be freed
//      or recycled while the count is above zero, so the range read after the
//      increment is this incarnation's (the increment reads-from the release
//      sequence of the recycling fetch_and), and live means indexed and
//      watched: retire sets the retired state under the lock *before* it
//      unlinks the region and drops its notifier registration (and before
//      the drain's seen_generation store, C1). An eviction has no generation
//      behind it: with the state set after the watch was dropped (as it once
//      was), a memo hit in between took an unwatched region as live, and a
//      replacement of its pages then went unseen (1 stale hit in about 100
//      loaded runs of the uffd cache stress). So a memo hit is exactly as
//      fresh as a walk; memo slots are never trusted. They are stored with
//      release and loaded with acquire only so that a node first published
//      through the memo was initialized before another thread's increment.
//
// Policies: a request that overlaps live regions without being covered gets
// their union registered, and they retire (no dereg until their last put).
// If the union cannot be registered, the request alone is. LRU among
// unreferenced regions, with put stamping the cache clock, which ticks at
// every miss (uses between two misses tie). Limits count indexed regions.
#include "cache/cache.hpp"

#include "api/fork.hpp"
#include "api/owned.hpp"
#include "config/options.hpp"
#include "diagnostics/reason.hpp"
#include "diagnostics/stats.hpp"
#include "registrar/registrar.hpp"
#include "os/sys.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <unistd.h>

namespace umn {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;
constexpr auto acquire = std::memory_order_acquire;
constexpr auto release = std::memory_order_release;
constexpr auto acq_rel = std::memory_order_acq_rel;

constexpr size_t drain_batch = 64;

uint64_t count_of(uint64_t refs) {
    return refs & cache_refs::count_mask;
}
uintptr_t start_of(const umn_region *r) {
    return r->index.start.load(relaxed);
}
uintptr_t end_of(const umn_region *r) {
    return r->index.end.load(relaxed);
}
uint64_t cookie_of(const umn_region *r) {
    return reinterpret_cast<uintptr_t>(r);
}
bool in_child(const umn_cache *c) {
    return c->fork_epoch != fork_epoch();
}

// ------------------------------------------------------------- index + LRU

// Sections nest: a drain makes seq odd once for all the regions it unlinks.
void write_begin(umn_cache *c) {
    if (c->write_depth++ == 0)
        c->seq.fetch_add(1, acq_rel);  // C2: odd before any link changes (acquire side)
}

void write_end(umn_cache *c) {
    if (--c->write_depth == 0) c->seq.store(c->seq.load(relaxed) + 1, release);  // C2
}

void lru_append(umn_cache *c, umn_region *r, uint64_t stamp) {
    r->queued = stamp;
    c->lru.push_back(r);
}

void index_add(umn_cache *c, umn_region *r) {
    write_begin(c);
    cache_index::insert(c->root, r);
    write_end(c);
    r->place = umn_region::where::index;
    lru_append(c, r, c->clock.load(relaxed));
    ++c->live_regions;
    c->live_bytes += end_of(r) - start_of(r);
}

void index_remove(umn_cache *c, umn_region *r) {
    write_begin(c);
    cache_index::erase(c->root, r);
    write_end(c);
    c->lru.remove(r);
    --c->live_regions;
    c->live_bytes -= end_of(r) - start_of(r);
}

// ------------------------------------------------------------ retirement

// The node's hits are final once it is unreferenced and leaving the index
// or the retired list: they move to the cache's total. Lock held.
void to_pool(umn_cache *c, umn_region *r) {
    UMN_ASSERT_HELD(c->lock);
    c->counters.pooled_hits += r->hits.load(relaxed);
    r->hits.store(0, relaxed);
    r->place = umn_region::where::pool;
}

// C3: wins the right to deregister a retired region with no reference left.
bool claim(umn_region *r) {
    uint64_t expected = cache_refs::retired;
    return r->refs.compare_exchange_strong(expected, cache_refs::freed, acq_rel, relaxed);
}

void dereg(umn_cache *c, umn_region *r) {
    c->registrar.dereg(c->registrar.ctx, reinterpret_cast<void *>(start_of(r)),
                       end_of(r) - start_of(r), r->handle);
}

// Takes r out of the index. Unreferenced: it goes on `freed` for the caller
// to deregister; otherwise on the retired list until its last put. Lock held.
void retire(umn_cache *c, umn_region *r, region_list &freed) {
    UMN_ASSERT_HELD(c->lock);
    // C3, C4: the state first, then the unlink and the watch.
    uint64_t old = r->refs.fetch_or(cache_refs::retired, acq_rel);
    index_remove(c, r);
    if (r->watched) unregister_owned(c->notifier, cookie_of(r), r->watch);
    r->watched = false;
    if (count_of(old) == 0 && claim(r)) {
        to_pool(c, r);
        freed.push_front(r);
    } else {
        r->place = umn_region::where::retired;
        c->retired.push_front(r);
    }
}

// Deregisters what retire() freed. With the lock held (so that a retry can
// reuse the resources) or not; `locked` says which.
void release_freed(umn_cache *c, region_list &freed, bool locked) {
    if (freed.empty()) return;
    freed.for_each([c](umn_region *r) { dereg(c, r); });
    std::unique_lock g(c->lock, std::defer_lock);
    if (!locked) g.lock();
    // Into the pool ahead of older nodes, in O(1): a node at a time would
    // walk the batch again, a cache miss per node once the cache outgrows L2.
    freed.splice_back(c->pool);
    c->pool.splice_back(freed);
}

// The last reference to a retired region went away in this thread.
void release_last(umn_cache *c, umn_region *r) {
    if (!claim(r)) return;
    if (in_child(c)) return;  // the device belongs to the parent
    dereg(c, r);
    std::lock_guard g(c->lock);
    c->retired.remove(r);
    to_pool(c, r);
    c->pool.push_front(r);
}

void drop(umn_cache *c, umn_region *r) {
    uint64_t old = r->refs.fetch_sub(1, acq_rel);  // C3
    if (old == (cache_refs::retired | 1)) release_last(c, r);
}

// --------------------------------------------------------------- eviction

bool over_limits(const umn_cache *c) {
    return c->live_regions > c->max_regions || c->live_bytes > c->max_bytes;
}

// Retires the least recently used unreferenced region; false if none.
// Second chance: a region used since it was queued, or referenced, moves to
// the tail instead.
bool evict_one(umn_cache *c, region_list &freed) {
    for (size_t budget = c->live_regions; budget && !c->lru.empty(); --budget) {
        umn_region *r = c->lru.front();
        uint64_t used = r->last_used.load(relaxed);
        bool referenced = count_of(r->refs.load(acquire)) != 0;
        if (!referenced && used <= r->queued) {
            ++c->counters.evictions;
            retire(c, r, freed);
            return true;
        }
        c->lru.remove(r);
        lru_append(c, r, referenced ? c->clock.load(relaxed) : used);
    }
    return false;
}

void enforce_limits(umn_cache *c, region_list &freed) {
    while (over_limits(c) && evict_one(c, freed)) {
    }
}

// Retires every unreferenced region and deregisters them at once (the lock is
// held), so that a failed registration can be retried with their resources.
void evict_all_unreferenced(umn_cache *c) {
    region_list freed;
    c->lru.for_each([&](umn_region *r) {
        if (count_of(r->refs.load(acquire)) != 0) return;
        ++c->counters.evictions;
        retire(c, r, freed);
    });
    release_freed(c, freed, true);
}

// ---------------------------------------------------------------- misses

// Drains the invalid list if the generation moved. Lock held.
int refresh(umn_cache *c, region_list &freed) {
    UMN_ASSERT_HELD(c->lock);
    uint64_t g = umn_generation(c->notifier);
    if (g == c->seen_generation.load(relaxed)) return 0;
    uint64_t cookies[drain_batch];
    long got;
    ++c->counters.drains;
    write_begin(c);
    do {
        got = umn_get_invalid(c->notifier, cookies, drain_batch);
        for (long i = 0; i < got; ++i) {
            auto *r = reinterpret_cast<umn_region *>(static_cast<uintptr_t>(cookies[i]));
            if (r->place != umn_region::where::index) continue;
            r->watched = false;  // a drained cookie is gone from the notifier
            ++c->counters.invalidations;
            retire(c, r, freed);
        }
    } while (static_cast<size_t>(got) == drain_batch);
    write_end(c);
    if (got < 0) return static_cast<int>(got);
    c->seen_generation.store(g, release);  // C1
    return 0;
}

umn_region *take_node(umn_cache *c) {
    if (umn_region *r = c->pool.pop_front()) return r;
    if (!c->slabs || c->slab_used == region_slab::nodes) {
        void *memory = ::operator new (region_slab::bytes, std::align_val_t{alignof(umn_region)},
                                       std::nothrow);
        if (!memory) return nullptr;
        c->slabs = new (memory) region_slab{c->slabs};
        c->slab_used = 0;
    }
    auto *r = new (c->slabs->node(c->slab_used++)) umn_region;
    r->cache = c;
    return r;
}

bool evictable_error(int rc) {
    return rc == -ENOMEM || rc == -EAGAIN || rc == -ENOSPC || rc == -ENOBUFS;
}

// Records why reg failed unless the registrar did (since `mark`); for a
// registrar that pins pages and ran out of locked memory, adds the limit and
// what this cache holds. Lock held.
int registrar_failure(umn_cache *c, int rc, uintptr_t s, uintptr_t e, unsigned mark) {
    UMN_ASSERT_HELD(c->lock);
    ++c->counters.registrar_failures;
    if (reason_mark() == mark)
        fail(rc, "the registrar failed to register [%p, +%zu): %s", reinterpret_cast<void *>(s),
             e - s, umn_strerror(rc));
    if (!c->pins || (rc != -ENOMEM && rc != -EAGAIN)) return rc;
    char prior[256], limit[32], held[32], max[32];
    snprintf(prior, sizeof prior, "%s", last_reason());
    size_t memlock = sys::memlock_limit();
    return fail(rc,
                "%s; RLIMIT_MEMLOCK is %s (ulimit -l) and this cache holds %s in %zu regions "
                "(max_bytes %s): raise the limit, put regions sooner, or lower max_bytes "
                "(UMN_CACHE_MAX_BYTES)",
                prior,
                memlock == SIZE_MAX ? "unlimited" : format_bytes(memlock, limit, sizeof limit),
                format_bytes(c->live_bytes, held, sizeof held), c->live_regions,
                format_bytes(c->max_bytes, max, sizeof max));
}

// Watches, then registers [s, e) into node n. Watching first: an
// invalidation during reg is then seen, and the region retired at the next
// get, instead of the registrar pinning pages nobody watches.
int register_range(umn_cache *c, umn_region *n, uintptr_t s, uintptr_t e) {
    n->index.start.store(s, relaxed);
    n->index.end.store(e, relaxed);
    int rc = register_owned(c->notifier, s, e, cookie_of(n), &n->watch);
    if (rc) return rc;
    uint64_t handle = 0;
    unsigned mark = reason_mark();
    rc = c->registrar.reg(c->registrar.ctx, reinterpret_cast<void *>(s), e - s, &handle);
    if (rc) {
        unregister_owned(c->notifier, cookie_of(n), n->watch);
        return registrar_failure(c, rc < 0 ? rc : -EIO, s, e, mark);
    }
    n->handle = handle;
    n->watched = true;
    return 0;
}

// Registers [s, e); on -ENOMEM/-EAGAIN/-ENOSPC/-ENOBUFS evicts every unreferenced
// region and tries once more when `retry`.
int try_register(umn_cache *c, umn_region *n, uintptr_t s, uintptr_t e, bool retry) {
    int rc = register_range(c, n, s, e);
    if (rc == 0 || !retry || !evictable_error(rc)) return rc;
    evict_all_unreferenced(c);
    return register_range(c, n, s, e);
}

// Calls f(r) for every indexed region overlapping [s, e). Lock held.
template <class F>
void for_each_overlapping(umn_cache *c, uintptr_t s, uintptr_t e, F f) {
    UMN_ASSERT_HELD(c->lock);
    bool torn = false;
    umn_region *r = cache_index::find_le(c->root, s, &torn);
    if (!r || end_of(r) <= s) r = cache_index::find_ge(c->root, s);
    while (r && start_of(r) < e) {
        umn_region *next = cache_index::find_ge(c->root, end_of(r));
        f(r);
        r = next;
    }
}

// Whether an indexed region overlaps [a0, a1), given le = find_le(x) for an
// x in [a0, a1): le, if it starts at or after a0, overlaps; if it starts
// before, nothing else starts in [a0, x], so only le and the first region
// after a0 can overlap. One search instead of a walk (the common miss has
// no overlap). Lock held.
bool any_overlapping(umn_cache *c, uintptr_t a0, uintptr_t a1, umn_region *le) {
    UMN_ASSERT_HELD(c->lock);
    if (le && end_of(le) > a0) return true;
    umn_region *next = cache_index::find_ge(c->root, a0);
    return next && start_of(next) < a1;
}

// le: find_le(x) for an x in [a0, a1) (any_overlapping).
int register_new(umn_cache *c, uintptr_t a0, uintptr_t a1, umn_region *le, umn_region **out,
                 region_list &freed) {
    uintptr_t u0 = a0, u1 = a1;
    const bool overlaps = any_overlapping(c, a0, a1, le);
    if (overlaps)
        for_each_overlapping(c, a0, a1, [&](umn_region *r) {
            u0 = std::min(u0, start_of(r));
            u1 = std::max(u1, end_of(r));
        });
    umn_region *n = take_node(c);
    if (!n) return -ENOMEM;
    int rc = -EINVAL;
    if (u0 != a0 || u1 != a1) rc = try_register(c, n, u0, u1, false);
    if (rc) rc = try_register(c, n, a0, a1, true);
    if (rc) {
        c->pool.push_front(n);
        return rc;
    }
    // The index only lost regions since (evictions): none overlap if none did.
    if (overlaps)
        for_each_overlapping(c, start_of(n), end_of(n),
                             [&](umn_region *r) { retire(c, r, freed); });
    n->start.store(start_of(n), relaxed);
    n->end.store(end_of(n), relaxed);
    n->refs.fetch_and(cache_refs::count_mask, release);  // C3: live again, keeps transients
    n->refs.fetch_add(1, relaxed);
    c->clock.fetch_add(1, relaxed);
    n->last_used.store(c->clock.load(relaxed), relaxed);
    index_add(c, n);
    enforce_limits(c, freed);
    *out = n;
    return 0;
}

// The memo slot for requests starting at a0: a direct-mapped table from the
// request's first page to the region that served it last. Indexed by the page
// number itself, so that neighbouring buffers share memo cache lines.
std::atomic<umn_region *> &memo_slot(umn_cache *c, uintptr_t a0) {
    return c->memo[(a0 >> c->memo_shift) & c->memo_mask];
}

void remember(umn_cache *c, uintptr_t a0, umn_region *r) {
    std::atomic<umn_region *> &slot = memo_slot(c, a0);
    // Release: a node created by this miss is initialized before another
    // thread's hit loads it from the memo (acquire) and takes a reference.
    if (slot.load(relaxed) != r) slot.store(r, release);  // no write once it is there
}

// A get's range: the caller's bytes, which any live region covering them
// serves, and the aligned block a miss registers.
struct request {
    uintptr_t start, end;                  // [addr, addr + len)
    uintptr_t aligned_start, aligned_end;  // widened to the cache's alignment
};

// C4: takes a reference on r if r is live and covers [a0, a1).
bool take_if_covers(umn_cache *c, umn_region *r, uintptr_t a0, uintptr_t a1) {
    uint64_t old = r->refs.fetch_add(1, acq_rel);
    if ((old & ~cache_refs::count_mask) == 0 && start_of(r) <= a0 && end_of(r) >= a1) return true;
    drop(c, r);
    return false;
}

// C2/C3: a walk of the index; returns the region with a reference taken, or
// nullptr for "take the slow path".
umn_region *walk(umn_cache *c, uintptr_t a0, uintptr_t a1) {
    uint64_t s = c->seq.load(acquire);
    if (s & 1) return nullptr;
    bool torn = false;
    umn_region *r = cache_index::find_le(c->root, a0, &torn);
    if (!r || end_of(r) < a1) return nullptr;
    uint64_t old = r->refs.fetch_add(1, std::memory_order_seq_cst);
    if ((old & ~cache_refs::count_mask) || c->seq.load(acquire) != s) {
        drop(c, r);
        return nullptr;
    }
    return r;
}

// Counts a hit on r, which the caller holds a reference on: a store to the
// line the reference already wrote, no read-modify-write.
inline void count_hit(umn_region *r) {
    r->hits.store(r->hits.load(relaxed) + 1, relaxed);
}

// The lock-free hit: the memo, else a walk. False means "take the slow path".
bool fast_get(umn_cache *c, const request &q, umn_region **out) {
    uint64_t g = umn_generation(c->notifier);
    if (g != c->seen_generation.load(acquire)) return false;      // C1
    umn_region *r = memo_slot(c, q.aligned_start).load(acquire);  // any old value: C4 checks it
    if (r && take_if_covers(c, r, q.start, q.end)) {
        *out = r;
        return true;
    }
    r = walk(c, q.start, q.end);
    if (!r) return false;
    remember(c, q.aligned_start, r);
    *out = r;
    return true;
}

// Registers the aligned block; if the widening reached pages that cannot be
// registered, only the pages of the request: -EFAULT, part of the block is not
// mapped (the buffer sits at a mapping's edge); -ENOTSUP, the block reaches
// into a neighbouring mapping the monitor cannot watch (userfaultfd and a
// private file mapping).
// le: find_le(q.start).
int register_clamped(umn_cache *c, const request &q, umn_region *le, umn_region **out,
                     region_list &freed) {
    int rc = register_new(c, q.aligned_start, q.aligned_end, le, out, freed);
    uintptr_t p0 = sys::page_floor(q.start), p1 = sys::page_floor(q.end - 1) + sys::page_size();
    const bool widened = p0 != q.aligned_start || p1 != q.aligned_end;
    if ((rc != -EFAULT && rc != -ENOTSUP) || !widened) return rc;
    // The failed attempt changed the index only by evictions: find_le again.
    bool torn = false;
    return register_new(c, p0, p1, cache_index::find_le(c->root, q.start, &torn), out, freed);
}

int bad_get(const umn_cache *c, const void *addr, size_t len) {
    if (!c) return fail(-EINVAL, "umn_cache_get: the cache is NULL");
    return fail(-EINVAL, "umn_cache_get: [%p, +%zu) is not a range (NULL, empty or wrapping)", addr,
                len);
}

int slow_get(umn_cache *c, const request &q, umn_region **out) {
    unsigned mark = reason_mark();
    if (in_child(c))  // before the lock: a parent thread may have held it
        return fail(-ECHILD,
                    "umn_cache_get: cache created by the parent process; create a new "
                    "one in the child");
    region_list freed;
    int rc;
    {
        std::lock_guard g(c->lock);
        rc = refresh(c, freed);
        if (rc == 0) {
            bool torn = false;
            umn_region *r = cache_index::find_le(c->root, q.start, &torn);
            if (r && end_of(r) >= q.end) {
                r->refs.fetch_add(1, relaxed);  // live: only the lock holder retires
                count_hit(r);
                *out = r;
            } else {
                ++c->counters.misses;
                rc = register_clamped(c, q, r, out, freed);
            }
        }
    }
    release_freed(c, freed, false);
    if (rc == 0) remember(c, q.aligned_start, *out);
    return static_cast<int>(finish(rc, mark, "umn_cache_get"));
}

// --------------------------------------------------------------- creation

int read_params(const umn_cache_params *p, umn_cache_params *out) {
    *out = umn_cache_params{};
    if (!p) return 0;
    if (p->struct_size < sizeof(size_t))
        return fail(-EINVAL,
                    "umn_cache_create: params.struct_size %zu is too small (set it to "
                    "sizeof(struct umn_cache_params))",
                    p->struct_size);
    size_t known = std::min(p->struct_size, sizeof *out);
    const auto *bytes = reinterpret_cast<const unsigned char *>(p);
    // A newer caller's extra fields are accepted only if unused (zero).
    for (size_t i = known; i < p->struct_size; ++i)
        if (bytes[i])
            return fail(-EINVAL,
                        "umn_cache_create: params has fields this library (%zu bytes) "
                        "does not know, and they are set",
                        sizeof *out);
    std::memcpy(out, p, known);
    // Checked as an int: loading an out-of-range enum value is undefined.
    static_assert(sizeof(umn_monitor) == sizeof(int));
    int monitor;
    std::memcpy(&monitor, &out->monitor, sizeof monitor);
    if (monitor < UMN_MONITOR_AUTO || monitor > UMN_MONITOR_HOOKS)
        return fail(-EINVAL, "umn_cache_create: params.monitor %d is not a umn_monitor", monitor);
    return 0;
}

// A memo of about max_regions slots, within [2^10, 2^20].
int make_memo(umn_cache *c) {
    unsigned bits = 10;
    while (bits < 20 && (size_t{1} << bits) < c->max_regions) ++bits;
    // calloc, not new[](): memory fresh from the kernel is not written, so
    // only the pages of slots in use become resident (the largest memo is
    // 8 MiB: 2048 pages written at create and unmapped at destroy). All-zero
    // bytes are a null lock-free atomic pointer.
    static_assert(sizeof(std::atomic<umn_region *>) == sizeof(umn_region *) &&
                  std::atomic<umn_region *>::is_always_lock_free);
    c->memo = static_cast<std::atomic<umn_region *> *>(
        std::calloc(size_t{1} << bits, sizeof(std::atomic<umn_region *>)));
    c->memo_mask = (uint32_t{1} << bits) - 1;
    c->memo_shift = sys::page_shift();
    return c->memo ? 0 : -ENOMEM;
}

int configure(umn_cache *c, const umn_cache_params &p) {
    size_t align = p.alignment ? p.alignment : sys::page_size();
    if (align & (align - 1))
        return fail(-EINVAL, "umn_cache_create: params.alignment %zu is not a power of two", align);
    align = std::max(align, sys::page_size());
    c->align_mask = align - 1;
    if (!p.max_regions)
        if (int rc = require(option::cache_max_regions)) return rc;
    if (!p.max_bytes)
        if (int rc = require(option::cache_max_bytes)) return rc;
    const options_t &o = options();
    c->max_regions = p.max_regions ? p.max_regions : o.cache_max_regions;
    c->max_bytes = p.max_bytes         ? p.max_bytes
                   : o.cache_max_bytes ? o.cache_max_bytes
                                       : default_cache_max_bytes(c->pins);
    return make_memo(c);
}

// Deregisters every region of a list: one pass, since at 10^6 regions every
// walk of the list costs ~100 ms.
void dereg_list(umn_cache *c, region_list &list) {
    list.for_each([c](umn_region *r) { dereg(c, r); });
    list.forget_all();
}

// The nodes' memory, all at once (umn_region is trivially destructible).
void free_slabs(umn_cache *c) {
    static_assert(std::is_trivially_destructible_v<umn_region>);
    while (region_slab *s = c->slabs) {
        c->slabs = s->next;
        ::operator delete (s, std::align_val_t{alignof(umn_region)});
    }
}

int create(umn_cache **out, const umn_registrar *r, const umn_cache_params *p) {
    if (!out) return fail(-EINVAL, "umn_cache_create: out is NULL");
    *out = nullptr;
    if (!r || !r->reg || !r->dereg)
        return fail(-EINVAL, "umn_cache_create: the registrar is NULL or lacks reg or dereg");
    umn_cache_params params;
    if (int rc = read_params(p, &params)) return rc;
    auto *c = new (std::nothrow) umn_cache;
    if (!c) return -ENOMEM;
    c->pins = registrar_pins(*r);
    int rc;
    try {  // the first options() call builds strings
        rc = configure(c, params);
    } catch (const std::bad_alloc &) {
        rc = -ENOMEM;
    }
    if (rc == 0) rc = umn_notifier_open(&c->notifier, params.monitor);
    if (rc == 0 && c->max_regions >= options().max_registrations)
        rc = umn_notifier_set_limit(c->notifier, c->max_regions + 1);
    if (rc) {
        umn_notifier_close(c->notifier);
        std::free(c->memo);
        delete c;
        return rc;
    }
    c->registrar = *r;
    c->fork_epoch = fork_epoch();
    c->seen_generation.store(umn_generation(c->notifier), relaxed);
    stats_track(c, read_cache_stats);
    *out = c;
    return 0;
}

}  // namespace

int read_cache_stats(const umn_cache *c, struct umn_cache_stats *out, bool wait) {
    if (!c || !out) return fail(-EINVAL, "umn_cache_stats: %s is NULL", c ? "out" : "the cache");
    if (in_child(c)) return fail(-ECHILD, "umn_cache_stats: cache created by the parent process");
    struct umn_cache_stats s = UMN_CACHE_STATS_INIT;
    auto *cache = const_cast<umn_cache *>(c);  // the lock only
    std::unique_lock g(cache->lock, std::defer_lock);
    if (wait)
        g.lock();
    else if (!g.try_lock())
        return -EBUSY;
    s.hits = c->counters.pooled_hits;
    c->lru.for_each([&](const umn_region *r) { s.hits += r->hits.load(relaxed); });
    c->retired.for_each([&](const umn_region *r) {
        s.hits += r->hits.load(relaxed);
        ++s.retired_regions;
    });
    s.misses = c->counters.misses;
    s.evictions = c->counters.evictions;
    s.invalidations = c->counters.invalidations;
    s.registrar_failures = c->counters.registrar_failures;
    s.drains = c->counters.drains;
    s.live_regions = c->live_regions;
    s.live_bytes = c->live_bytes;
    g.unlock();
    return copy_stats(&s, sizeof s, out, "umn_cache_stats");
}

}  // namespace umn

extern "C" {

int umn_cache_stats(const umn_cache *c, struct umn_cache_stats *out) {
    return umn::read_cache_stats(c, out, true);
}

int umn_cache_create(umn_cache **out, const struct umn_registrar *r,
                     const struct umn_cache_params *p) {
    unsigned mark = umn::reason_mark();
    return static_cast<int>(umn::finish(umn::create(out, r, p), mark, "umn_cache_create"));
}

void umn_cache_destroy(umn_cache *c) {
    if (!c) return;
    // In a child the device and the lock belong to the parent: abandon.
    if (umn::in_child(c)) return;
    umn::stats_close(c);
    // The notifier never dereferences a cookie: closing it first is safe,
    // and the regions are then deregistered and freed in one pass.
    umn_notifier_close(c->notifier);
    umn::dereg_list(c, c->lru);
    umn::dereg_list(c, c->retired);
    c->pool.forget_all();
    umn::free_slabs(c);
    std::free(c->memo);
    delete c;
}

int umn_cache_get(umn_cache *c, const void *addr, size_t len, umn_region **out) {
    if (!out) return umn::fail(-EINVAL, "umn_cache_get: out is NULL");
    *out = nullptr;
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    if (!c || !addr || len == 0 || a + len - 1 < a) return umn::bad_get(c, addr, len);
    uintptr_t last = (a + len - 1) | c->align_mask;
    if (last + 1 == 0) return umn::bad_get(c, addr, len);  // the aligned end would wrap
    const umn::request q{a, a + len, a & ~c->align_mask, last + 1};
    if (umn::fast_get(c, q, out)) {
        umn::count_hit(*out);
        return 0;
    }
    return umn::slow_get(c, q, out);
}

void umn_cache_put(umn_cache *c, umn_region *r) {
    if (!c || !r || r->cache != c) return;
    r->last_used.store(c->clock.load(umn::relaxed), umn::relaxed);
    uint64_t old = r->refs.load(umn::relaxed);
    do {
        if (umn::count_of(old) == 0) return;  // a put without a reference
    } while (!r->refs.compare_exchange_weak(old, old - 1, umn::acq_rel, umn::relaxed));
    if (old == (umn::cache_refs::retired | 1)) umn::release_last(c, r);
}

uint64_t umn_region_handle(const umn_region *r) {
    return r ? r->handle : 0;
}

void *umn_region_addr(const umn_region *r) {
    return r ? reinterpret_cast<void *>(umn::start_of(r)) : nullptr;
}

size_t umn_region_len(const umn_region *r) {
    return r ? umn::end_of(r) - umn::start_of(r) : 0;
}

}  // extern "C"
