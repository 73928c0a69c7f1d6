// SPDX-License-Identifier: BSD-3-Clause
// Randomized multi-threaded torture of the cache, judged by ground truth.
//
// A recording registrar reads the physical frames of every region from
// /proc/self/pagemap when it registers it (what a device would have pinned).
// Getter threads get/put random ranges of shared slots while mutator threads
// replace the slots' pages (mmap(MAP_FIXED) over, munmap + mmap, mremap of
// fresh pages onto the slot), each change bracketed by a per-slot version
// (odd while changing). Getters also malloc/free and mmap/madvise/munmap
// private buffers between shared gets.
//
// The contract promises that a get never returns a region whose pages were
// changed by a call that RETURNED before the get began. So a get is checked
// when (1) its slot's version did not move from before the get until after
// the current frames were read, and (2) no unmapping call (munmap, free,
// madvise, a slot change) over its pages was running in another thread when
// it began: every such call had returned, so the generation had moved. A
// checked get whose region recorded other frames than the current ones is
// stale. Gets that began while another thread's unmapping call over the same
// pages was still running are counted apart ("in-flight window"): with
// userfaultfd the kernel frees the address range before it queues the event,
// so another thread can mmap the same addresses and hit the old region before
// that munmap returns (the contract does not cover it; docs/cache.md).
//
// MADV_DONTNEED is used on private pages only, kept apart from the slots:
// with userfaultfd, a DONTNEED racing another thread's registration of the
// same pages is a known monitor limitation (docs/reliability.md), not what
// this test measures (seen here before the pages were kept apart: a getter
// holding a slot's old address registered pages another thread had mapped in
// the slot's hole and was discarding).
// UMN_TEST_SCALE scales the number of gets (10^6 in the plain build).
#include "cache_support.hpp"

#include "pagemap.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <sys/mman.h>
#include <thread>
#include <vector>

namespace umn::test {
namespace {

using testkit::frames;

// Records the frames of each registration, by handle.
class recording_registrar {
  public:
    explicit recording_registrar(const testkit::pagemap &pm) : pm_(pm) {}
    umn_registrar registrar() { return umn_registrar{this, reg_fn, dereg_fn}; }

    // True if the frames `now` behind the pages from `addr` differ from what
    // region r recorded for those pages, or r is no longer registered.
    bool stale(umn_region *r, const void *addr, const frames &now) {
        std::lock_guard g(lock_);
        auto it = recorded_.find(umn_region_handle(r));
        if (it == recorded_.end()) return true;  // deregistered while referenced
        size_t first = (reinterpret_cast<uintptr_t>(addr) - it->second.start) / page();
        const frames &pinned = it->second.pinned;
        if (first + now.size() > pinned.size()) return true;
        auto from = pinned.begin() + static_cast<ptrdiff_t>(first);
        return testkit::frames_changed(frames(from, from + static_cast<ptrdiff_t>(now.size())),
                                       now);
    }

  private:
    struct record {
        uintptr_t start;
        frames pinned;
    };
    static int reg_fn(void *ctx, void *addr, size_t len, uint64_t *handle) {
        auto *self = static_cast<recording_registrar *>(ctx);
        frames f = self->pm_.read(addr, len);
        std::lock_guard g(self->lock_);
        *handle = self->next_++;
        self->recorded_[*handle] = record{reinterpret_cast<uintptr_t>(addr), std::move(f)};
        return 0;
    }
    static void dereg_fn(void *ctx, void *, size_t, uint64_t handle) {
        auto *self = static_cast<recording_registrar *>(ctx);
        std::lock_guard g(self->lock_);
        self->recorded_.erase(handle);
    }

    const testkit::pagemap &pm_;
    std::mutex lock_;
    uint64_t next_ = 1;
    std::map<uint64_t, record> recorded_;
};

struct slot {
    std::atomic<char *> base{nullptr};
    size_t len = 0;
    std::atomic<uint64_t> version{0};  // odd while a mutator changes the mapping
    std::mutex mutators;               // one mutator at a time per slot
};

struct tally {
    std::atomic<uint64_t> gets{0}, checked{0}, stale{0}, errors{0}, changes{0};
    std::atomic<uint64_t> window_stale{0};  // stale, but an unmapping call was in flight
};

// The ranges of the unmapping call (munmap, free, madvise, a slot change) each
// thread is running now, packed as (first page << 28 | pages), 0 for none.
// Two per thread: an mremap unmaps its source as well as its target.
constexpr size_t max_threads = 8;
std::atomic<uint64_t> in_flight[2 * max_threads];

uint64_t pack(const void *addr, size_t len) {
    uintptr_t first = reinterpret_cast<uintptr_t>(addr) / page();
    uintptr_t last = (reinterpret_cast<uintptr_t>(addr) + len - 1) / page();
    return (uint64_t{first} << 28) | (last - first + 1);
}

// Whether a running unmapping call touches a page of [addr, addr + len).
bool unmapping_overlaps(const void *addr, size_t len) {
    uint64_t want = pack(addr, len);
    uint64_t first = want >> 28, end = first + (want & ((1u << 28) - 1));
    for (auto &slot : in_flight) {
        uint64_t v = slot.load(std::memory_order_seq_cst);
        uint64_t f = v >> 28, e = f + (v & ((1u << 28) - 1));
        if (v && f < end && first < e) return true;
    }
    return false;
}

// Publishes this thread's unmapping call for its duration.
class unmapping_call {
  public:
    unmapping_call(unsigned thread, const void *addr, size_t len, unsigned which = 0)
        : slot_(in_flight[2 * thread + which]) {
        slot_.store(pack(addr, len), std::memory_order_seq_cst);
    }
    ~unmapping_call() { slot_.store(0, std::memory_order_seq_cst); }
    unmapping_call(const unmapping_call &) = delete;
    unmapping_call &operator=(const unmapping_call &) = delete;

  private:
    std::atomic<uint64_t> &slot_;
};

constexpr size_t arena_pages = 64;

char *map_populated(void *at, size_t len, int extra_flags) {
    void *p = mmap(at, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | extra_flags, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char *>(p);
}

// Gives the slot new pages at (normally) the same address.
void replace(slot &s, unsigned how, unsigned thread) {
    char *base = s.base.load(std::memory_order_relaxed);
    switch (how % 3) {
        case 0:  // mmap(MAP_FIXED) over
            map_populated(base, s.len, MAP_FIXED);
            break;
        case 1: {  // munmap + mmap; another thread may take the hole meanwhile
            munmap(base, s.len);
            char *p = map_populated(base, s.len, MAP_FIXED_NOREPLACE);
            s.base.store(p ? p : map_populated(nullptr, s.len, 0), std::memory_order_relaxed);
            break;
        }
        default: {  // mremap fresh pages onto the slot
            // The source range is free for other threads' mmaps before its
            // userfaultfd event: part of the in-flight window too.
            char *fresh = map_populated(nullptr, s.len, 0);
            unmapping_call source(thread, fresh, s.len, 1);
            if (fresh) mremap(fresh, s.len, s.len, MREMAP_MAYMOVE | MREMAP_FIXED, base);
            break;
        }
    }
    char *now = s.base.load(std::memory_order_relaxed);
    if (now) std::memset(now, static_cast<int>(how), s.len);
}

void mutator(std::vector<slot> &slots, std::atomic<bool> &stop, tally &t, unsigned thread) {
    std::mt19937 rng(thread);
    while (!stop.load(std::memory_order_relaxed)) {
        slot &s = slots[rng() % slots.size()];
        {
            std::lock_guard g(s.mutators);
            unmapping_call call(thread, s.base.load(std::memory_order_relaxed), s.len);
            s.version.fetch_add(1, std::memory_order_seq_cst);  // odd: changing
            replace(s, rng(), thread);
            s.version.fetch_add(1, std::memory_order_seq_cst);  // even: stable again
        }
        t.changes.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

// One get/check/put over [addr, addr + len). `version` is null for memory the
// caller owns; otherwise v1 is its value read before the caller read `addr`.
void get_and_check(umn_cache *c, recording_registrar &rec, const testkit::pagemap &pm,
                   const char *addr, size_t len, const std::atomic<uint64_t> *version, tally &t,
                   uint64_t v1 = 0) {
    bool in_flight = unmapping_overlaps(addr, len);
    umn_region *r = nullptr;
    int rc = umn_cache_get(c, addr, len, &r);
    frames now = pm.read(addr, len);
    uint64_t v2 = version ? version->load(std::memory_order_seq_cst) : 0;
    bool stable = v1 == v2 && (v1 & 1) == 0;
    t.gets.fetch_add(1, std::memory_order_relaxed);
    if (rc != 0) {
        if (stable) t.errors.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (stable && rec.stale(r, addr, now))
        (in_flight ? t.window_stale : t.stale).fetch_add(1, std::memory_order_relaxed);
    if (stable && !in_flight) t.checked.fetch_add(1, std::memory_order_relaxed);
    umn_cache_put(c, r);
}

// A private buffer: malloc'd (sometimes large enough for glibc to mmap it),
// or pages mapped inside this thread's own reserved `arena` that get
// MADV_DONTNEED and are then replaced by PROT_NONE again. The arena keeps
// them out of the holes a slot's munmap leaves: a getter holding a slot's
// old address could register them while the DONTNEED is under way, which is
// the known userfaultfd limitation above.
void private_round(umn_cache *c, recording_registrar &rec, const testkit::pagemap &pm,
                   std::mt19937 &rng, tally &t, unsigned thread, char *arena) {
    if (rng() % 2) {
        size_t len = 1 + rng() % (256 * 1024);
        auto *p = static_cast<char *>(std::malloc(len));
        if (!p) return;
        std::memset(p, 1, len);
        get_and_check(c, rec, pm, p, len, nullptr, t);
        get_and_check(c, rec, pm, p, len, nullptr, t);
        unmapping_call call(thread, p - 64, len + 64);  // with glibc's chunk header
        std::free(p);
        return;
    }
    size_t len = (1 + rng() % 4) * page();
    char *p = arena + (rng() % (arena_pages - 4)) * page();
    if (!map_populated(p, len, MAP_FIXED)) return;
    get_and_check(c, rec, pm, p, len, nullptr, t);
    {
        unmapping_call call(thread, p, len);
        madvise(p, len, MADV_DONTNEED);
    }
    std::memset(p, 2, len);  // new frames
    get_and_check(c, rec, pm, p, len, nullptr, t);
    unmapping_call call(thread, p, len);
    mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

void getter(umn_cache *c, recording_registrar &rec, const testkit::pagemap &pm,
            std::vector<slot> &slots, size_t gets, tally &t, unsigned thread) {
    std::mt19937 rng(thread);
    void *arena =
        mmap(nullptr, arena_pages * page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(arena, MAP_FAILED);
    for (size_t i = 0; i < gets; ++i) {
        if (i % 64 == 63) {
            private_round(c, rec, pm, rng, t, thread, static_cast<char *>(arena));
            continue;
        }
        slot &s = slots[rng() % slots.size()];
        uint64_t v1 = s.version.load(std::memory_order_seq_cst);  // before reading base
        char *base = s.base.load(std::memory_order_relaxed);
        size_t off = rng() % s.len;
        size_t len = 1 + rng() % (s.len - off);
        get_and_check(c, rec, pm, base + off, len, &s.version, t, v1);
    }
    munmap(arena, arena_pages * page());
}

TEST(CacheTorture, NoGetReturnsARegionWhosePagesChangedBeforeTheGetBegan) {
    testkit::pagemap pm;
    if (const char *why = umn::test::why_no_allocator_torture(pm.available())) GTEST_SKIP() << why;
    recording_registrar rec(pm);
    umn_registrar r = rec.registrar();
    umn_cache_params p = cache_params(64);  // small: eviction runs too
    umn_cache *c;
    ASSERT_EQ(umn_cache_create(&c, &r, &p), 0);

    std::vector<slot> slots(16);
    for (size_t i = 0; i < slots.size(); ++i) {
        slots[i].len = (1 + i % 4) * page();
        slots[i].base = map_populated(nullptr, slots[i].len, 0);
        ASSERT_NE(slots[i].base.load(), nullptr);
    }
    const unsigned getters = 3, mutators = 2;
    const size_t gets = rounds(1000000) / getters;
    tally t;
    std::atomic<bool> stop{false};
    std::vector<std::thread> muts, gets_pool;
    for (unsigned i = 0; i < mutators; ++i)
        muts.emplace_back(mutator, std::ref(slots), std::ref(stop), std::ref(t), getters + i);
    for (unsigned i = 0; i < getters; ++i)
        gets_pool.emplace_back(getter, c, std::ref(rec), std::cref(pm), std::ref(slots), gets,
                               std::ref(t), i);
    for (auto &th : gets_pool) th.join();
    stop = true;
    for (auto &th : muts) th.join();

    auto ull = [](const std::atomic<uint64_t> &v) { return static_cast<unsigned long long>(v); };
    std::printf(
        "%llu gets, %llu checked, %llu slot page replacements: %llu stale; "
        "%llu stale in the in-flight window (not covered by the contract)\n",
        ull(t.gets), ull(t.checked), ull(t.changes), ull(t.stale), ull(t.window_stale));
    RecordProperty("in_flight_window_stale", static_cast<int>(t.window_stale.load()));
    EXPECT_EQ(t.stale.load(), 0u) << "a get returned a region whose pages had changed";
    EXPECT_EQ(t.errors.load(), 0u) << "a get on stable memory failed";
    EXPECT_GT(t.changes.load(), 0u);
    EXPECT_GT(t.checked.load(), t.gets.load() / 2);
    umn_cache_destroy(c);
    for (slot &s : slots) munmap(s.base.load(), s.len);
}

}  // namespace
}  // namespace umn::test
