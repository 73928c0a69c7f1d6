// SPDX-License-Identifier: BSD-3-Clause
// The cache's C and C++ API: bad inputs give a negative errno and no crash,
// a hit returns the same region, misuse of put is ignored, destroy
// deregisters everything (also regions still referenced), fork gives -ECHILD.
#include "cache_support.hpp"

#include <umn/umn.hpp>

#include <cstdlib>
#include <sys/wait.h>
#include <vector>

namespace umn::test {
namespace {

using CacheApi = cache_fixture;

int reg_nothing(void *, void *, size_t, uint64_t *) {
    return 0;
}
void dereg_nothing(void *, void *, size_t, uint64_t) {}

TEST(CacheCreate, RejectsBadArguments) {
    umn_registrar ok{nullptr, reg_nothing, dereg_nothing};
    umn_cache *c = reinterpret_cast<umn_cache *>(0x1);
    EXPECT_EQ(umn_cache_create(nullptr, &ok, nullptr), -EINVAL);
    EXPECT_EQ(umn_cache_create(&c, nullptr, nullptr), -EINVAL);
    EXPECT_EQ(c, nullptr);
    umn_registrar no_reg{nullptr, nullptr, dereg_nothing};
    EXPECT_EQ(umn_cache_create(&c, &no_reg, nullptr), -EINVAL);
    umn_registrar no_dereg{nullptr, reg_nothing, nullptr};
    EXPECT_EQ(umn_cache_create(&c, &no_dereg, nullptr), -EINVAL);

    umn_cache_params p = cache_params(0, 0, 3 * page());
    EXPECT_EQ(umn_cache_create(&c, &ok, &p), -EINVAL) << "alignment not a power of two";
    p = cache_params();
    p.struct_size = 2;
    EXPECT_EQ(umn_cache_create(&c, &ok, &p), -EINVAL) << "struct_size too small";
    p = cache_params();
    p.monitor = static_cast<umn_monitor>(42);
    EXPECT_EQ(umn_cache_create(&c, &ok, &p), -EINVAL) << "unknown monitor";
    EXPECT_EQ(c, nullptr);
}

TEST(CacheCreate, AcceptsANewerParamsStructOnlyIfItsTailIsZero) {
    umn_registrar ok{nullptr, reg_nothing, dereg_nothing};
    struct {
        umn_cache_params p;
        uint64_t future_field;
    } newer{cache_params(), 0};
    newer.p.struct_size = sizeof newer;
    umn_cache *c = nullptr;
    ASSERT_EQ(umn_cache_create(&c, &ok, &newer.p), 0);
    umn_cache_destroy(c);
    newer.future_field = 1;
    EXPECT_EQ(umn_cache_create(&c, &ok, &newer.p), -EINVAL);
    EXPECT_EQ(c, nullptr);
}

TEST(CacheCreate, NullHandlesAreHarmless) {
    umn_cache_destroy(nullptr);
    umn_cache_put(nullptr, nullptr);
    EXPECT_EQ(umn_region_handle(nullptr), 0u);
    EXPECT_EQ(umn_region_addr(nullptr), nullptr);
    EXPECT_EQ(umn_region_len(nullptr), 0u);
    umn_region *r = reinterpret_cast<umn_region *>(0x1);
    EXPECT_EQ(umn_cache_get(nullptr, &r, 1, &r), -EINVAL);
    EXPECT_EQ(r, nullptr);
}

TEST_F(CacheApi, BadRangesGiveEinval) {
    mapping m(1);
    umn_region *r = reinterpret_cast<umn_region *>(0x1);
    EXPECT_EQ(umn_cache_get(c, m.get(), 1, nullptr), -EINVAL);
    EXPECT_EQ(umn_cache_get(c, nullptr, 1, &r), -EINVAL);
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(umn_cache_get(c, m.get(), 0, &r), -EINVAL);
    auto *top = reinterpret_cast<const void *>(UINTPTR_MAX - 10);
    EXPECT_EQ(umn_cache_get(c, top, 100, &r), -EINVAL) << "wrap-around";
    EXPECT_EQ(umn_cache_get(c, top, 5, &r), -EINVAL) << "the page rounding wraps";
    EXPECT_EQ(counter.regs(), 0u);
    // The cache still works.
    umn_region *ok = get(m.get(), m.size());
    ASSERT_NE(ok, nullptr);
    umn_cache_put(c, ok);
}

TEST_F(CacheApi, HitReturnsTheSameRegionWithoutRegistering) {
    std::vector<char> buf(3 * page() + 100);  // malloc'd, unaligned
    umn_region *a = get(buf.data() + 7, buf.size() - 7);
    ASSERT_NE(a, nullptr);
    auto start = reinterpret_cast<uintptr_t>(umn_region_addr(a));
    auto want = reinterpret_cast<uintptr_t>(buf.data() + 7);
    EXPECT_EQ(start % page(), 0u);
    EXPECT_LE(start, want);
    EXPECT_GE(start + umn_region_len(a), want + buf.size() - 7);
    umn_region *b = get(buf.data() + 7, buf.size() - 7);
    umn_region *inner = get(buf.data() + page(), 10);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, inner) << "a sub-range is a hit";
    EXPECT_EQ(umn_region_handle(b), umn_region_handle(a));
    EXPECT_EQ(counter.regs(), 1u);
    for (umn_region *r : {a, b, inner}) umn_cache_put(c, r);
    umn_region *again = get(buf.data() + 7, 1);
    EXPECT_EQ(again, a) << "an unreferenced region stays cached";
    umn_cache_put(c, again);
    EXPECT_EQ(counter.regs(), 1u);
    EXPECT_EQ(counter.deregs(), 0u);
}

TEST_F(CacheApi, MisusedPutsAreIgnored) {
    mapping m(2);
    umn_region *r = get(m.get(), m.size());
    ASSERT_NE(r, nullptr);
    umn_cache_put(c, r);
    umn_cache_put(c, r);  // double put: no reference left, ignored
    umn_cache_put(c, nullptr);

    counting_registrar other_counter;
    umn_registrar other_r = other_counter.registrar();
    umn_cache *other;
    ASSERT_EQ(umn_cache_create(&other, &other_r, nullptr), 0);
    umn_cache_put(other, r);  // a region of another cache, ignored
    umn_cache_destroy(other);

    // The region's count is intact: one get, then invalidation defers the
    // dereg to exactly that one put.
    umn_region *held = get(m.get(), m.size());
    EXPECT_EQ(held, r);
    m.unmap();
    mapping fresh(1);  // any get drains the invalid list
    umn_region *f = get(fresh.get(), 1);
    EXPECT_EQ(counter.deregs(), 0u) << "dereg ran while a reference was held";
    umn_cache_put(c, held);
    EXPECT_EQ(counter.deregs(), 1u);
    umn_cache_put(c, f);
}

TEST_F(CacheApi, DestroyDeregistersEverythingAlsoWhatIsStillReferenced) {
    mapping a(1), b(2), d(1);
    umn_region *ra = get(a.get(), a.size());
    umn_region *rb = get(b.get(), b.size());
    umn_region *rd = get(d.get(), d.size());
    umn_cache_put(c, rd);
    (void)ra;
    (void)rb;
    // b retired (invalidated) while referenced: on the retired list.
    b.unmap();
    umn_region *again = get(a.get(), 1);
    EXPECT_EQ(counter.regs(), 3u);
    EXPECT_EQ(counter.deregs(), 0u);
    (void)again;
    destroy();  // checks that every registration was deregistered once
    EXPECT_EQ(counter.deregs(), 3u);
}

TEST_F(CacheApi, CppWrappersPutAndDestroy) {
    mapping m(1);
    std::error_code ec;
    auto cc = umn::cache::create(ec, counter.registrar());
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(cc);
    {
        umn::region_ref ref = cc.get(m.get(), m.size(), ec);
        ASSERT_FALSE(ec);
        ASSERT_TRUE(ref);
        EXPECT_EQ(ref.addr(), m.get());
        EXPECT_EQ(ref.len(), m.size());
        umn::region_ref moved = std::move(ref);
        EXPECT_FALSE(ref);
        EXPECT_TRUE(moved);
    }
    m.unmap();
    mapping other(1);
    umn::region_ref r2 = cc.get(other.get(), 1, ec);  // drains: the first region deregisters now
    EXPECT_EQ(counter.deregs(), 1u) << "region_ref did not put";
    umn::region_ref bad = cc.get(nullptr, 1, ec);
    EXPECT_EQ(ec, std::errc::invalid_argument);
    EXPECT_FALSE(bad);
    r2.reset();
    cc = umn::cache();
    EXPECT_EQ(counter.deregs(), 2u);
}

// Exit codes name the first failing check.
int child_checks(umn_cache *c, umn_region *held, const mapping &m) {
    umn_region *r = reinterpret_cast<umn_region *>(0x1);
    if (umn_cache_get(c, m.get(), 1, &r) != -ECHILD) return 2;
    if (r != nullptr) return 3;
    umn_cache_put(c, held);  // ignored or harmless
    umn_cache_destroy(c);    // abandoned, no crash
    return 0;
}

// Forks with `fork_fn`; the child checks the inherited cache, the parent's
// cache must be intact afterwards.
void fork_and_check_child(umn_cache *c, const counting_registrar &counter, pid_t (*fork_fn)()) {
    mapping m(1);
    umn_region *r = nullptr;
    ASSERT_EQ(umn_cache_get(c, m.get(), m.size(), &r), 0);
    pid_t pid = fork_fn();
    if (pid == 0) _exit(child_checks(c, r, m));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "first failing check in the child";
    EXPECT_EQ(counter.deregs(), 0u) << "the child deregistered the parent's region";
    umn_region *again = nullptr;
    EXPECT_EQ(umn_cache_get(c, m.get(), 1, &again), 0);
    EXPECT_EQ(again, r) << "the parent's cache is intact";
    umn_cache_put(c, again);
    umn_cache_put(c, r);
}

TEST_F(CacheApi, InheritedCacheGivesEchildInTheChild) {
    fork_and_check_child(c, counter, fork);
}

// A raw fork runs no fork handler (the child's get returned the parent's
// region from the hit path).
TEST_F(CacheApi, InheritedCacheGivesEchildInAChildOfARawFork) {
    fork_and_check_child(c, counter, raw_fork);
}

}  // namespace
}  // namespace umn::test
