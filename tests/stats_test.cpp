// SPDX-License-Identifier: BSD-3-Clause
// umn_cache_stats() and umn_notifier_stats(): each counter counts what its
// comment in umn.h says, and the struct_size versioning.
#include "cache_support.hpp"
#include "core/core.hpp"

#include <umn/umn.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

namespace umn::test {
namespace {

class CacheStats : public cache_fixture {
  protected:
    struct umn_cache_stats stats() {
        struct umn_cache_stats s = UMN_CACHE_STATS_INIT;
        EXPECT_EQ(umn_cache_stats(c, &s), 0);
        return s;
    }
    // get + put of [addr, addr + len).
    void use(const void *addr, size_t len) { umn_cache_put(c, get(addr, len)); }
};

TEST_F(CacheStats, HitsAndMissesCountGets) {
    mapping a(1), b(2);
    use(a.get(), 8);
    for (int i = 0; i < 3; ++i) use(a.get() + 16, 8);
    use(b.get(), b.size());
    struct umn_cache_stats s = stats();
    EXPECT_EQ(s.hits, 3u);
    EXPECT_EQ(s.misses, 2u);
    EXPECT_EQ(s.live_regions, 2u);
    EXPECT_EQ(s.live_bytes, 3 * page());
    EXPECT_EQ(s.registrar_failures, 0u);
}

TEST_F(CacheStats, HitsOfRegionsThatLeftTheCacheAreKept) {
    mapping a(1), b(1);
    use(a.get(), 8);
    use(a.get(), 8);
    a.unmap();
    use(b.get(), 8);  // drains: a's region is gone
    struct umn_cache_stats s = stats();
    EXPECT_EQ(s.hits, 1u);
    EXPECT_EQ(s.live_regions, 1u);
}

TEST_F(CacheStats, EvictionsCountRegionsRetiredForTheLimit) {
    destroy();
    open(cache_params(2));
    mapping m(3);
    for (size_t i = 0; i < 3; ++i) use(m.get() + i * page(), 8);
    struct umn_cache_stats s = stats();
    EXPECT_EQ(s.evictions, 1u);
    EXPECT_EQ(s.live_regions, 2u);
    EXPECT_EQ(s.invalidations, 0u);
}

TEST_F(CacheStats, InvalidationsAndDrainsCountUnmappedRegions) {
    mapping a(1), b(1), d(1);
    use(a.get(), 8);
    use(b.get(), 8);
    EXPECT_EQ(stats().drains, 0u);
    a.unmap();
    b.unmap();
    use(d.get(), 8);
    struct umn_cache_stats s = stats();
    EXPECT_EQ(s.invalidations, 2u);
    EXPECT_GE(s.drains, 1u);
    EXPECT_EQ(s.evictions, 0u);
}

TEST_F(CacheStats, RetiredRegionsCountReferencedInvalidatedRegionsUntilTheirPut) {
    mapping a(1), b(1);
    umn_region *held = get(a.get(), 8);
    a.unmap();
    use(b.get(), 8);
    EXPECT_EQ(stats().retired_regions, 1u);
    umn_cache_put(c, held);
    EXPECT_EQ(stats().retired_regions, 0u);
}

TEST_F(CacheStats, RegistrarFailuresCountFailedRegs) {
    mapping a(1);
    counter.fail_next(1, -EIO);
    umn_region *r = nullptr;
    EXPECT_EQ(umn_cache_get(c, a.get(), 8, &r), -EIO);
    struct umn_cache_stats s = stats();
    EXPECT_EQ(s.registrar_failures, 1u);
    EXPECT_EQ(s.misses, 1u);
    EXPECT_EQ(s.live_regions, 0u);
}

// A caller built against an older, shorter struct: only its fields are
// written; a newer, longer one: the fields this library lacks are zeroed.
TEST_F(CacheStats, StructSizeLimitsWhatIsWritten) {
    mapping a(1);
    use(a.get(), 8);
    use(a.get(), 8);
    uint64_t buffer[16];
    std::memset(buffer, 0xab, sizeof buffer);
    size_t short_size = sizeof(size_t) + sizeof(uint64_t);  // struct_size and hits
    std::memcpy(buffer, &short_size, sizeof short_size);
    ASSERT_EQ(umn_cache_stats(c, reinterpret_cast<struct umn_cache_stats *>(buffer)), 0);
    EXPECT_EQ(buffer[1], 1u);
    EXPECT_EQ(buffer[2], 0xababababababababu) << "wrote past struct_size";

    size_t long_size = sizeof buffer;
    std::memcpy(buffer, &long_size, sizeof long_size);
    ASSERT_EQ(umn_cache_stats(c, reinterpret_cast<struct umn_cache_stats *>(buffer)), 0);
    EXPECT_EQ(buffer[15], 0u) << "a field this library does not know";

    size_t too_small = sizeof(size_t);
    std::memcpy(buffer, &too_small, sizeof too_small);
    EXPECT_EQ(umn_cache_stats(c, reinterpret_cast<struct umn_cache_stats *>(buffer)), -EINVAL);
    EXPECT_EQ(umn_cache_stats(nullptr, reinterpret_cast<struct umn_cache_stats *>(buffer)),
              -EINVAL);
}

TEST_F(CacheStats, InheritedCacheGivesEchildInTheChild) {
    pid_t pid = fork();
    if (pid == 0) {
        struct umn_cache_stats s = UMN_CACHE_STATS_INIT;
        _exit(umn_cache_stats(c, &s) == -ECHILD ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

class NotifierStats : public notifier_fixture {
  protected:
    struct umn_notifier_stats stats() {
        struct umn_notifier_stats s = UMN_NOTIFIER_STATS_INIT;
        EXPECT_EQ(umn_notifier_stats(n, &s), 0);
        return s;
    }
};

TEST_F(NotifierStats, EventsInvalidatedDrainedAndRegistrationsFollowAnUnmap) {
    mapping m(3);
    ASSERT_EQ(umn_register(n, m.get(), page(), 1), 0);
    ASSERT_EQ(umn_register(n, m.get() + 2 * page(), page(), 2), 0);
    struct umn_notifier_stats before = stats();
    EXPECT_EQ(before.registrations, 2u);
    EXPECT_EQ(before.invalidated, 0u);
    m.unmap();
    struct umn_notifier_stats after = stats();
    EXPECT_GT(after.events, before.events);
    if (umn_notifier_monitor(n) != UMN_MONITOR_KERNEL) {
        EXPECT_EQ(after.invalidated, 2u);
    }
    EXPECT_EQ(after.registrations, 2u) << "undrained registrations still count";
    EXPECT_EQ(drain().size(), 2u);
    after = stats();
    EXPECT_EQ(after.drained, 2u);
    EXPECT_EQ(after.registrations, 0u);
    EXPECT_EQ(after.deferred, 0u);
}

// A page no notifier watches, in the same 64 KiB and the same MiB as watched
// ones: its munmap reaches no notifier (on hooks, a notifier reached takes
// its lock, and with many notifiers open that cost grows with each).
TEST_F(NotifierStats, UnmappingAnUnwatchedPageBesideWatchedPagesIsNoEvent) {
    mapping m(8);
    ASSERT_EQ(umn_register(n, m.get(), 2 * page(), 1), 0);
    ASSERT_EQ(umn_register(n, m.get() + 5 * page(), page(), 2), 0);
    const struct umn_notifier_stats before = stats();
    ASSERT_EQ(munmap(m.get() + 2 * page(), page()), 0);
    ASSERT_EQ(munmap(m.get() + 4 * page(), page()), 0);
    ASSERT_EQ(munmap(m.get() + 6 * page(), page()), 0);
    const struct umn_notifier_stats after = stats();
    // Hooks only: the kernel gives userfaultfd an event for each of these.
    if (umn_notifier_monitor(n) == UMN_MONITOR_HOOKS) {
        EXPECT_EQ(after.events, before.events);
    }
    EXPECT_EQ(after.invalidated, 0u);
    EXPECT_TRUE(drain().empty());
}

// A source that watches nothing: the core alone.
class quiet_source final : public event_source {
  public:
    int attach(event_sink &) override { return 0; }
    void detach(event_sink &) override {}
    int watch(uintptr_t, uintptr_t) override { return 0; }
    void unwatch(uintptr_t, uintptr_t) override {}
};

TEST(NotifierStatsCore, DeferredCountsInvalidationsFromInsideALockSection) {
    quiet_source source;
    core c(source);
    ASSERT_EQ(c.error(), 0);
    ASSERT_EQ(c.add(0x10000, 0x11000, 7), 0);
    c.run_inside_lock_for_test(
        [](void *arg) { static_cast<core *>(arg)->invalidate_now(0x10000, 0x11000); }, &c);
    struct umn_notifier_stats s = UMN_NOTIFIER_STATS_INIT;
    c.stats(&s);
    EXPECT_EQ(s.deferred, 1u);
    EXPECT_EQ(s.invalidated, 1u) << "applied when the lock section ended";
    uint64_t cookie = 0;
    EXPECT_EQ(c.drain(&cookie, 1), 1);
    EXPECT_EQ(cookie, 7u);
}

}  // namespace
}  // namespace umn::test
