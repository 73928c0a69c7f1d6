// SPDX-License-Identifier: BSD-3-Clause
// The hooks monitor patches libc while other threads run: threads that are
// mapping and unmapping in a loop when the first hooks notifier opens must
// neither crash nor lose events, and every later notifier (one per thread,
// opened and closed repeatedly) must see each unmap of its own registration.
// Runs once, in its own process (ctest), so the patching really happens
// under the running threads.
#include "support.hpp"

#include <atomic>
#include <thread>
#include <vector>

namespace {

using umn::test::page;

// Maps, touches and unmaps one and three pages (the middle one first) until
// told to stop; returns the number of rounds.
size_t churn_until(const std::atomic<bool> &stop) {
    size_t rounds = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        auto *one = static_cast<char *>(
            mmap(nullptr, page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        auto *three = static_cast<char *>(
            mmap(nullptr, 3 * page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (one == MAP_FAILED || three == MAP_FAILED) return 0;
        one[0] = three[2 * page()] = 1;
        munmap(three + page(), page());
        munmap(one, page());
        munmap(three, page());  // not all three: another thread may map into the hole
        munmap(three + 2 * page(), page());
        ++rounds;
    }
    return rounds;
}

// With its own notifier: register a fresh page, unmap it, and expect the
// generation moved and exactly that cookie drained. Returns the misses.
size_t unmap_registered_pages(size_t rounds, uint64_t first_cookie) {
    umn_notifier *n = nullptr;
    if (umn_notifier_open(&n, UMN_MONITOR_HOOKS) != 0) return rounds;
    size_t missed = 0;
    for (size_t i = 0; i < rounds; ++i) {
        umn::test::mapping m(1);
        uint64_t cookie = first_cookie + i, drained = 0;
        // Read before registering: a churning thread's unmap of this address
        // just before our mmap reused it may already invalidate the new
        // registration (its second pass; early, never late).
        uint64_t before = umn_generation(n);
        if (!m.get() || umn_register(n, m.get(), page(), cookie) != 0) {
            ++missed;
            continue;
        }
        m.unmap();
        bool seen = umn_generation(n) > before && umn_get_invalid(n, &drained, 1) == 1;
        missed += !seen || drained != cookie;
    }
    umn_notifier_close(n);
    return missed;
}

TEST(HooksPatching, ThreadsMappingAndUnmappingWhileLibcIsPatchedSeeEveryLaterUnmap) {
    std::atomic<bool> stop{false};
    std::vector<size_t> churned(2);
    std::vector<std::thread> churners;
    for (size_t &count : churned) churners.emplace_back([&] { count = churn_until(stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

    umn_notifier *first = nullptr;
    int rc = umn_notifier_open(&first, UMN_MONITOR_HOOKS);  // patches libc now
    if (rc == -ENOTSUP) {
        stop = true;
        for (auto &t : churners) t.join();
        GTEST_SKIP() << "hooks monitor unavailable here";
    }
    ASSERT_EQ(rc, 0);

    const size_t rounds = umn::test::rounds(2000);
    std::vector<size_t> missed(2);
    std::vector<std::thread> checkers;
    for (size_t t = 0; t < missed.size(); ++t)
        checkers.emplace_back([&, t] {
            for (uint64_t batch = 0; batch < 10; ++batch)  // a new notifier each batch
                missed[t] += unmap_registered_pages(rounds / 10, (t << 32) + batch * rounds);
        });
    for (auto &t : checkers) t.join();
    stop = true;
    for (auto &t : churners) t.join();
    umn_notifier_close(first);

    for (size_t t = 0; t < missed.size(); ++t) {
        EXPECT_GT(churned[t], 0u) << "churning thread " << t << " stopped";
        EXPECT_EQ(missed[t], 0u) << "unmaps not reported to checking thread " << t;
    }
}

}  // namespace
