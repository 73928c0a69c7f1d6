// SPDX-License-Identifier: BSD-3-Clause
// The cache's policies: overlap (the union is registered, the old regions
// retire), invalidation by each mmap sequence (the region leaves at once, its
// dereg waits for the last put), evict-and-retry on -ENOMEM/-EAGAIN/-ENOSPC,
// other errors, LRU eviction order and the limits, alignment.
#include "cache_support.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace umn::test {
namespace {

using CachePolicy = cache_fixture;

char *page_at(const mapping &m, size_t i) {
    return m.get() + i * page();
}

TEST_F(CachePolicy, PartialOverlapRegistersTheUnionAndRetiresTheOld) {
    mapping m(4);
    umn_region *left = get(page_at(m, 0), 2 * page());
    umn_region *right = get(page_at(m, 1), 2 * page());  // pages 1-2 overlap pages 0-1
    ASSERT_NE(left, nullptr);
    ASSERT_NE(right, nullptr);
    EXPECT_NE(left, right);
    EXPECT_EQ(umn_region_addr(right), m.get()) << "the union starts at the old region";
    EXPECT_EQ(umn_region_len(right), 3 * page());
    EXPECT_EQ(counter.regs(), 2u);
    EXPECT_EQ(counter.deregs(), 0u) << "the old region is still referenced";
    umn_region *any = get(page_at(m, 0), 1);
    EXPECT_EQ(any, right) << "the old region left the lookup";
    umn_cache_put(c, left);
    EXPECT_EQ(counter.deregs(), 1u) << "dereg at the old region's last put";
    umn_cache_put(c, right);
    umn_cache_put(c, any);
}

TEST_F(CachePolicy, UnionThatCannotBeRegisteredFallsBackToTheRequest) {
    mapping m(3);
    umn_region *left = get(page_at(m, 0), 2 * page());
    umn_cache_put(c, left);
    counter.fail_next(1, -EFAULT);  // the union's registration fails
    umn_region *r = get(page_at(m, 1), 2 * page());
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(counter.failed(), 1u);
    EXPECT_EQ(umn_region_addr(r), page_at(m, 1));
    EXPECT_EQ(umn_region_len(r), 2 * page());
    EXPECT_EQ(counter.deregs(), 1u) << "the overlapped region retires all the same";
    umn_region *first = get(page_at(m, 0), 1);
    EXPECT_NE(first, r);
    umn_cache_put(c, first);
    umn_cache_put(c, r);
}

// Each sequence replaces or discards the pages under a cached region.
enum class change { munmap_mmap, map_fixed, dontneed, mremap_away };

void apply(change how, mapping &m) {
    void *p = m.get();
    switch (how) {
        case change::munmap_mmap:
            ASSERT_EQ(munmap(p, m.size()), 0);
            ASSERT_EQ(mmap(p, m.size(), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                      p);
            break;
        case change::map_fixed:
            ASSERT_EQ(mmap(p, m.size(), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                      p);
            break;
        case change::dontneed:
            ASSERT_EQ(madvise(p, m.size(), MADV_DONTNEED), 0);
            break;
        case change::mremap_away: {
            // Move the pages out and map fresh memory in their place.
            void *away = mmap(nullptr, m.size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            ASSERT_NE(away, MAP_FAILED);
            ASSERT_EQ(mremap(p, m.size(), m.size(), MREMAP_MAYMOVE | MREMAP_FIXED, away), away);
            ASSERT_EQ(mmap(p, m.size(), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                      p);
            munmap(away, m.size());
            break;
        }
    }
    static_cast<volatile char *>(p)[0] = 1;
}

class CacheInvalidation : public cache_fixture, public ::testing::WithParamInterface<change> {};

TEST_P(CacheInvalidation, RegionLeavesAtOnceAndDeregsAfterTheLastPut) {
    mapping m(2);
    umn_region *held = get(m.get(), m.size());
    uint64_t old_handle = umn_region_handle(held);
    apply(GetParam(), m);
    umn_region *fresh = get(m.get(), m.size());
    ASSERT_NE(fresh, nullptr);
    EXPECT_NE(umn_region_handle(fresh), old_handle) << "a stale hit";
    EXPECT_EQ(counter.regs(), 2u);
    EXPECT_EQ(counter.deregs(), 0u) << "dereg ran while a reference was held";
    EXPECT_TRUE(counter.is_live(old_handle));
    umn_cache_put(c, held);
    EXPECT_EQ(counter.deregs(), 1u);
    EXPECT_FALSE(counter.is_live(old_handle));
    umn_cache_put(c, fresh);
}

TEST_P(CacheInvalidation, UnreferencedRegionDeregsAtTheNextGet) {
    mapping m(1);
    umn_cache_put(c, get(m.get(), m.size()));
    apply(GetParam(), m);
    umn_region *fresh = get(m.get(), 1);
    EXPECT_EQ(counter.regs(), 2u);
    EXPECT_EQ(counter.deregs(), 1u);
    umn_cache_put(c, fresh);
}

std::string change_name(const ::testing::TestParamInfo<change> &info) {
    static const char *const names[] = {"munmap_mmap", "map_fixed", "dontneed", "mremap_away"};
    return names[static_cast<int>(info.param)];
}

INSTANTIATE_TEST_SUITE_P(Each, CacheInvalidation,
                         ::testing::Values(change::munmap_mmap, change::map_fixed, change::dontneed,
                                           change::mremap_away),
                         change_name);

class CacheRetry : public cache_fixture, public ::testing::WithParamInterface<int> {};

TEST_P(CacheRetry, EvictsUnreferencedRegionsAndRetriesOnce) {
    mapping kept(1), idle(1), idle2(1), want(1);
    umn_region *k = get(kept.get(), 1);
    umn_cache_put(c, get(idle.get(), 1));
    umn_cache_put(c, get(idle2.get(), 1));
    counter.fail_next(1, GetParam());
    umn_region *w = get(want.get(), 1);
    EXPECT_NE(w, nullptr);
    EXPECT_EQ(counter.failed(), 1u);
    EXPECT_EQ(counter.deregs(), 2u) << "both unreferenced regions evicted";
    EXPECT_TRUE(counter.is_live(umn_region_handle(k))) << "a referenced region was evicted";
    umn_cache_put(c, w);

    counter.fail_next(2, GetParam());
    mapping other(1);
    umn_region *r = nullptr;
    EXPECT_EQ(umn_cache_get(c, other.get(), 1, &r), GetParam()) << "retried more than once";
    EXPECT_EQ(counter.failed(), 3u);
    EXPECT_EQ(umn_cache_get(c, other.get(), 1, &r), 0) << "the cache recovered";
    umn_cache_put(c, r);
    umn_cache_put(c, k);
}

INSTANTIATE_TEST_SUITE_P(Each, CacheRetry, ::testing::Values(-ENOMEM, -EAGAIN, -ENOSPC),
                         [](const auto &info) { return "errno" + std::to_string(-info.param); });

TEST_F(CachePolicy, OtherErrorsPropagateWithoutEviction) {
    mapping idle(1), m(1);
    umn_cache_put(c, get(idle.get(), 1));
    counter.fail_next(1, -EIO);
    umn_region *r = nullptr;
    EXPECT_EQ(umn_cache_get(c, m.get(), 1, &r), -EIO);
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(counter.deregs(), 0u) << "evicted on an error that eviction cannot fix";
    // Consistent: the failed range is not half-registered with the notifier.
    r = get(m.get(), 1);
    ASSERT_NE(r, nullptr);
    umn_cache_put(c, r);
    m.unmap();
    mapping other(1);
    umn_cache_put(c, get(other.get(), 1));
    EXPECT_EQ(counter.deregs(), 1u);
}

TEST_F(CachePolicy, PositiveRegistrarResultIsAnError) {
    counter.fail_next(1, 7);
    mapping m(1);
    umn_region *r = nullptr;
    EXPECT_EQ(umn_cache_get(c, m.get(), 1, &r), -EIO);
}

// With max_regions = 3: uses separated by misses are ordered exactly.
TEST_F(CachePolicy, EvictsLeastRecentlyUsedUnreferencedRegion) {
    destroy();
    open(cache_params(3));
    mapping a(1), b(1), d(1), e(1), f(1);
    umn_region *ra = get(a.get(), 1);
    uint64_t ha = umn_region_handle(ra);
    umn_cache_put(c, ra);
    umn_region *rb = get(b.get(), 1);
    uint64_t hb = umn_region_handle(rb);
    umn_cache_put(c, rb);
    umn_region *rd = get(d.get(), 1);
    uint64_t hd = umn_region_handle(rd);
    umn_cache_put(c, rd);
    umn_cache_put(c, get(a.get(), 1));  // a is now more recent than b and d
    umn_region *re = get(e.get(), 1);   // over the limit: b goes
    EXPECT_FALSE(counter.is_live(hb));
    EXPECT_TRUE(counter.is_live(ha));
    EXPECT_TRUE(counter.is_live(hd));
    umn_cache_put(c, re);
    umn_region *rf = get(f.get(), 1);  // then d
    EXPECT_FALSE(counter.is_live(hd));
    EXPECT_TRUE(counter.is_live(ha));
    EXPECT_EQ(counter.live(), 3u);
    umn_cache_put(c, rf);
}

TEST_F(CachePolicy, ReferencedRegionsAreNeverEvicted) {
    destroy();
    open(cache_params(2));
    mapping m(4);
    umn_region *held[4];
    for (size_t i = 0; i < 4; ++i) held[i] = get(page_at(m, i), 1);
    EXPECT_EQ(counter.live(), 4u) << "the limit bounds unreferenced regions only";
    for (umn_region *r : held) umn_cache_put(c, r);
    mapping n(1);
    umn_cache_put(c, get(n.get(), 1));
    EXPECT_EQ(counter.live(), 2u) << "the next miss brings the cache back under the limit";
}

TEST_F(CachePolicy, MaxBytesLimitsUnreferencedBytes) {
    destroy();
    open(cache_params(0, 4 * page()));
    mapping a(2), b(2), d(1);
    umn_cache_put(c, get(a.get(), a.size()));
    umn_cache_put(c, get(b.get(), b.size()));
    EXPECT_EQ(counter.live(), 2u);
    umn_cache_put(c, get(d.get(), d.size()));  // 5 pages > 4: a goes
    EXPECT_EQ(counter.live(), 2u);
    EXPECT_EQ(counter.deregs(), 1u);
}

TEST_F(CachePolicy, AlignmentWidensTheRegistration) {
    destroy();
    const size_t align = 16 * page();
    open(cache_params(0, 0, align));
    mapping m(64);
    auto base = (reinterpret_cast<uintptr_t>(m.get()) + align - 1) & ~(align - 1);
    auto *p = reinterpret_cast<char *>(base) + 3 * page() + 5;
    umn_region *r = get(p, 10);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(umn_region_addr(r)), base);
    EXPECT_EQ(umn_region_len(r), align);
    umn_region *neighbour = get(p + 4 * page(), 1);
    EXPECT_EQ(neighbour, r) << "same aligned block: a hit";
    umn_cache_put(c, neighbour);
    umn_cache_put(c, r);
}

// A valid buffer at the start of a mapping whose aligned block begins in the
// unmapped gap below it: the registration is clamped to the mapped pages
// (it once failed with -EFAULT on the hooks monitor).
TEST_F(CachePolicy, BufferAtMappingEdgeWithAlignedBlockPartlyUnmappedIsRegistered) {
    destroy();
    const size_t align = 16 * page();
    open(cache_params(0, 0, align));
    mapping m(3 * 16);
    ASSERT_NE(m.get(), nullptr);
    auto block = (reinterpret_cast<uintptr_t>(m.get()) + align - 1) & ~(align - 1);
    // Keep [block + 12 pages, block + 20 pages): the buffer is its first 4
    // pages, the aligned block [block, block + 16 pages) is 3/4 unmapped.
    auto *keep = reinterpret_cast<char *>(block + 12 * page());
    ASSERT_EQ(munmap(m.get(), static_cast<size_t>(keep - m.get())), 0);
    ASSERT_EQ(
        munmap(keep + 8 * page(), static_cast<size_t>(m.get() + m.size() - keep) - 8 * page()), 0);
    m.release();
    umn_region *r = nullptr;
    ASSERT_EQ(umn_cache_get(c, keep, 4 * page(), &r), 0);
    ASSERT_NE(r, nullptr);
    auto *addr = static_cast<char *>(umn_region_addr(r));
    EXPECT_LE(addr, keep);
    EXPECT_GE(addr + umn_region_len(r), keep + 4 * page());
    EXPECT_GE(addr, keep) << "the region reaches into the unmapped gap";
    umn_region *again = get(keep + page(), page());
    EXPECT_EQ(again, r) << "inside the clamped region: a hit";
    umn_cache_put(c, again);
    umn_cache_put(c, r);
    EXPECT_EQ(counter.regs(), 1u);
    ASSERT_EQ(munmap(keep, 8 * page()), 0);
    mapping other(1);
    umn_cache_put(c, get(other.get(), 1));  // drains
    EXPECT_EQ(counter.deregs(), 1u) << "the clamped region was not invalidated";
}

// The aligned block around a buffer reaches into a private file mapping,
// which the userfaultfd monitor cannot watch (UFFDIO_REGISTER: EINVAL): the
// buffer's own pages are registered instead of failing with -ENOTSUP.
TEST_F(CachePolicy, AlignedBlockReachingIntoAFileMappingRegistersTheBuffer) {
    destroy();
    const size_t align = 16 * page();
    open(cache_params(0, 0, align));
    mapping reserve(3 * 16, PROT_NONE);
    ASSERT_NE(reserve.get(), nullptr);
    auto *block = reinterpret_cast<char *>(
        (reinterpret_cast<uintptr_t>(reserve.get()) + align - 1) & ~(align - 1));
    int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    void *file = mmap(block, 8 * page(), PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    ::close(fd);
    ASSERT_EQ(file, block);
    char *buffer = block + 8 * page();
    ASSERT_EQ(mmap(buffer, 8 * page(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0),
              buffer);
    umn_region *r = nullptr;
    ASSERT_EQ(umn_cache_get(c, buffer, page(), &r), 0) << umn_last_error();
    EXPECT_LE(static_cast<char *>(umn_region_addr(r)), buffer);
    EXPECT_GE(static_cast<char *>(umn_region_addr(r)) + umn_region_len(r), buffer + page());
    umn_cache_put(c, r);
}

}  // namespace
}  // namespace umn::test
