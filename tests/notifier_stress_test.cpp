// SPDX-License-Identifier: BSD-3-Clause
// Several threads register, unregister, unmap and drain at random on one
// notifier. A cookie is never reported twice, never after a successful
// unregister, and every unmapped registration that was not unregistered is
// reported. A report that comes before the owner unmapped ("early") is
// legal: with userfaultfd, an UNMAP event for an address can arrive after
// another thread mapped and registered new memory there (the kernel removes
// the mapping before it queues the event). Early reports are counted, not
// failed: they cost a re-registration, never a stale hit.
#include "support.hpp"

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace umn::test {
namespace {

struct cookie_state {
    std::atomic<bool> unmapped{false};
    std::atomic<bool> unregistered{false};
    std::atomic<bool> reported{false};
    std::atomic<bool> vanished{false};  // unregister said -ENOENT: reported early
};

struct ledger {
    explicit ledger(size_t n) : cookies(n) {}
    std::vector<cookie_state> cookies;
    std::atomic<uint64_t> bad{0};
    std::atomic<uint64_t> early{0};
};

void drain_into(umn_notifier *n, ledger &l) {
    uint64_t buf[32];
    long got;
    while ((got = umn_get_invalid(n, buf, 32)) > 0) {
        for (long i = 0; i < got; ++i) {
            cookie_state &s = l.cookies[buf[i]];
            if (s.reported.exchange(true) || s.unregistered) ++l.bad;
            if (!s.unmapped) ++l.early;
        }
    }
    if (got < 0) ++l.bad;
}

void unregister(umn_notifier *n, ledger &l, uint64_t c) {
    int rc = umn_unregister(n, c);
    if (rc == 0)
        l.cookies[c].unregistered = true;
    else if (rc == -ENOENT)  // a drainer took it early; checked at the end
        l.cookies[c].vanished = true;
    else
        ++l.bad;
}

// One worker: owns cookies [first, first + count).
void worker(umn_notifier *n, ledger &l, uint64_t first, uint64_t count, unsigned seed) {
    std::mt19937 rng(seed);
    for (uint64_t c = first; c < first + count; ++c) {
        mapping m(1 + rng() % 3);
        if (umn_register(n, m.get() + rng() % 100, 1 + rng() % (m.size() / 2), c) != 0) {
            ++l.bad;
            continue;
        }
        if (rng() % 3 == 0) {
            unregister(n, l, c);
        } else {
            l.cookies[c].unmapped = true;
            m.unmap();
        }
        if (rng() % 8 == 0) drain_into(n, l);
    }
}

TEST(NotifierStress, RandomRegisterUnregisterUnmapDrainAcrossThreads) {
    umn_notifier *n;
    ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), 0);
    const unsigned threads = 4;
    const uint64_t per_thread = rounds(5000);
    ledger l(1 + threads * per_thread);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back(worker, n, std::ref(l), 1 + t * per_thread, per_thread, t + 1);
    for (auto &t : pool) t.join();
    drain_into(n, l);
    EXPECT_EQ(l.bad.load(), 0u);
    size_t missing = 0;
    size_t vanished = 0;
    for (auto &s : l.cookies) {
        missing += s.unmapped && !s.reported;
        vanished += s.vanished && !s.reported;
    }
    EXPECT_EQ(missing, 0u) << "unmapped registrations never reported";
    EXPECT_EQ(vanished, 0u) << "unregister said -ENOENT for cookies nobody drained";
    RecordProperty("early_reports", static_cast<int>(l.early.load()));
    std::printf("%llu of %llu registrations reported before their own unmap\n",
                static_cast<unsigned long long>(l.early.load()),
                static_cast<unsigned long long>(threads * per_thread));
    umn_notifier_close(n);
}

}  // namespace
}  // namespace umn::test
