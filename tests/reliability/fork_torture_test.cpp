// SPDX-License-Identifier: BSD-3-Clause
// fork() in the middle of a torture run. Churn threads keep unmapping
// registered memory while the main thread forks again and again. The parent
// must stay correct (no late, lost or duplicate event); each child must get
// -ECHILD from every call on the inherited notifier, read UINT64_MAX as its
// generation, and be able to open a notifier of its own and use it; the
// same for a cache (with a region held across the fork) while cache getters
// race slot replacements in the parent.
#include "churn.hpp"
#include "stress.hpp"
#include "support.hpp"
#include "threads.hpp"

#include <atomic>
#include <cerrno>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>

namespace umn::reliability {
namespace {

// Bits of the child's exit status: which check failed.
enum child_failure : int {
    generation_not_forked = 1,
    inherited_call_worked = 2,
    own_open_failed = 4,
    own_churn_failed = 8,
    inherited_cache_worked = 16,
    own_cache_failed = 32,
};

int check_inherited(umn_notifier *n) {
    int bad = 0;
    uint64_t c;
    char buf[64];
    if (umn_register(n, buf, sizeof buf, 99) != -ECHILD) bad = inherited_call_worked;
    if (umn_unregister(n, 1) != -ECHILD) bad = inherited_call_worked;
    if (umn_get_invalid(n, &c, 1) != -ECHILD) bad = inherited_call_worked;
    if (umn_notifier_fd(n) != -ECHILD) bad = inherited_call_worked;
    if (umn_notifier_set_limit(n, 10) != -ECHILD) bad = inherited_call_worked;
    if (umn_generation(n) != UINT64_MAX) bad |= generation_not_forked;
    umn_notifier_close(n);  // frees nothing of the parent's, must not crash
    return bad;
}

// The inherited cache: gets give -ECHILD, puts and destroy do not crash
// (and touch neither the parent's device nor its lock).
int check_inherited_cache(umn_cache *c, umn_region *held, stamped_slots &slots) {
    int bad = 0;
    umn_region *r = nullptr;
    if (umn_cache_get(c, slots.addr(0), 8, &r) != -ECHILD || r) bad = inherited_cache_worked;
    umn_cache_put(c, held);
    umn_cache_destroy(c);
    return bad;
}

// A cache of the child's own registers, sees an invalidation, registers again.
int check_own_cache() {
    stamped_slots slots(1);
    stamp_registrar reg;
    umn_registrar r = reg.registrar();
    umn_cache *c = nullptr;
    if (!slots.ok() || umn_cache_create(&c, &r, nullptr) != 0) return own_cache_failed;
    std::mt19937 rng(1);
    int bad = 0;
    for (uint64_t round = 1; round <= 3 && !bad; ++round) {
        umn_region *region = nullptr;
        if (umn_cache_get(c, slots.addr(0), 8, &region) != 0 ||
            reg.captured(umn_region_handle(region), slots.addr(0)) != slots.version(0))
            bad = own_cache_failed;
        umn_cache_put(c, region);
        slots.replace(0, rng, stamped_slots::replace_map_fixed);
    }
    umn_cache_destroy(c);
    if (reg.counts().regs != 3 || reg.live() != 0) bad = own_cache_failed;
    return bad;
}

struct inherited {
    umn_notifier *notifier;
    umn_cache *cache;
    umn_region *held;
    stamped_slots *slots;
};

[[noreturn]] void child_main(const inherited &from_parent, unsigned seed) {
    int bad = check_inherited(from_parent.notifier);
    bad |= check_inherited_cache(from_parent.cache, from_parent.held, *from_parent.slots);
    bad |= check_own_cache();
    {
        churn own(seed);
        if (own.open_error()) {
            bad |= own_open_failed;
        } else {
            for (int r = 0; r < 50; ++r) own.round();
            if (own.counts().bad() || own.counts().invalidations == 0) bad |= own_churn_failed;
        }
    }
    _exit(bad);  // no exit handlers: the parent's threads are not here
}

TEST(ForkTorture, ForkWhileOtherThreadsUnmapRegisteredMemory) {
#if defined(__SANITIZE_ADDRESS__)
    // GCC 12's libasan takes no lock across fork(): a child forked while a
    // load thread was inside ASan's allocator inherits that size class's
    // mutex locked and hangs in its first allocation of that class (seen:
    // the child's userfaultfd monitor thread in __sanitizer::FutexWait on a
    // mutex in the allocator's region metadata, its main thread in mmap
    // waiting for that monitor). glibc's malloc locks its arenas across fork;
    // the plain and TSan builds run this test, and the API tests check
    // -ECHILD in a child under ASan (docs/reliability.md).
    GTEST_SKIP() << "ASan's allocator is not fork-safe with other threads allocating";
#elif defined(__SANITIZE_THREAD__)
    // GCC 12's libtsan likewise: about 1 child in 12 runs hung with its new
    // userfaultfd monitor thread spinning on the runtime's
    // internal_allocator_cache_mu, which it inherited locked from a parent
    // thread that was allocating at the fork. The plain build runs this test.
    GTEST_SKIP() << "TSan's internal allocator is not fork-safe with other threads allocating";
#endif
    umn_notifier *n;
    ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), 0);
    umn::test::mapping kept(2);
    ASSERT_EQ(umn_register(n, kept.get(), kept.size(), 1), 0);
    // A cache with a region held across the forks.
    stamped_slots held_slot(1);
    ASSERT_TRUE(held_slot.ok());
    stamp_registrar held_reg;
    umn_registrar r = held_reg.registrar();
    umn_cache *cache = nullptr;
    ASSERT_EQ(umn_cache_create(&cache, &r, nullptr), 0);
    umn_region *held = nullptr;
    ASSERT_EQ(umn_cache_get(cache, held_slot.addr(0), 8, &held), 0);
    const inherited for_child{n, cache, held, &held_slot};

    // Load: churn on notifiers, and cache getters racing slot replacements.
    stamped_slots slots(8);
    ASSERT_TRUE(slots.ok());
    stress_config cfg;
    // No munmap + mmap: the churn threads map small regions all the time and
    // would take a slot's address while it is unmapped.
    cfg.kinds = stamped_slots::replace_map_fixed | stamped_slots::replace_mremap;
    cfg.slots = 8;
    cfg.lookups = umn::test::rounds(200000);
    cfg.replacements = umn::test::rounds(10000);
    cache_run cache_load;
    std::thread cache_thread([&] { cache_load = run_cache_getters(cfg, slots, 0); });

    const unsigned workers = 2;
    const uint64_t per_worker = umn::test::rounds(10000);
    std::atomic<bool> forking{true};  // the churn goes on at least until the last fork
    churn_counts total;
    std::thread load([&] { total = run_churn(workers, per_worker, 21, &forking); });
    const int forks = 20;
    int children_ok = 0;
    for (int f = 0; f < forks; ++f) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        pid_t pid = fork();
        if (pid == 0) child_main(for_child, 100 + f);
        if (pid < 0) {
            ADD_FAILURE() << "fork failed";
            break;  // still stop the load below
        }
        int status = wait_child(pid, 60);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "child " << f << " status " << status << " (exit bits: see child_failure)";
        children_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    forking = false;
    load.join();
    cache_thread.join();
    std::printf("fork torture: %d forks during %llu parent rounds, %llu invalidations\n", forks,
                static_cast<unsigned long long>(total.rounds),
                static_cast<unsigned long long>(total.invalidations));
    EXPECT_EQ(children_ok, forks);
    EXPECT_GE(total.rounds, workers * per_worker);
    EXPECT_EQ(total.late, 0u);
    EXPECT_EQ(total.duplicate, 0u);
    EXPECT_EQ(total.errors, 0u);
    std::printf("fork torture: cache load %llu lookups, %llu replacements, %llu stale\n",
                static_cast<unsigned long long>(cache_load.counts.lookups),
                static_cast<unsigned long long>(slots.replacements()),
                static_cast<unsigned long long>(cache_load.counts.stale));
    EXPECT_EQ(cache_load.counts.stale, 0u);
    EXPECT_EQ(cache_load.counts.errors + cache_load.counts.impossible, 0u);
    EXPECT_EQ(cache_load.registrar.bad_deregs, 0u);
    EXPECT_EQ(cache_load.live_after_destroy, 0u);
    EXPECT_EQ(slots.failed_replacements(), 0u);

    // The parent's cache and notifier still work after all the forks.
    umn_cache_put(cache, held);
    umn_region *again = nullptr;
    EXPECT_EQ(umn_cache_get(cache, held_slot.addr(0), 8, &again), 0);
    EXPECT_EQ(again, held);
    umn_cache_put(cache, again);
    umn_cache_destroy(cache);
    EXPECT_EQ(held_reg.live(), 0u);

    uint64_t before = umn_generation(n);
    kept.unmap();
    EXPECT_NE(umn_generation(n), before);
    uint64_t c = 0;
    EXPECT_EQ(umn_get_invalid(n, &c, 1), 1);
    EXPECT_EQ(c, 1u);
    umn_notifier_close(n);
}

}  // namespace
}  // namespace umn::reliability
