// SPDX-License-Identifier: BSD-3-Clause
// The central promise: when munmap returns, the generation has moved and the
// cookie is drainable, as seen from every thread. Thread A unmaps and then
// publishes a flag (release); thread B, after acquiring the flag, must see
// both without waiting. Run with and without a third thread keeping the
// other core busy (which is what exposed read-then-bump in DESIGN.md).
#include "support.hpp"

#include <atomic>
#include <thread>

namespace umn::test {
namespace {

struct round_state {
    std::atomic<uint64_t> armed{0};     // round whose buffer B registered
    std::atomic<uint64_t> unmapped{0};  // round whose munmap returned
    char *buffer = nullptr;
};

// Thread A: unmap each round's buffer as soon as it is armed.
void unmapper(round_state &s, uint64_t total) {
    for (uint64_t r = 1; r <= total; ++r) {
        while (s.armed.load(std::memory_order_acquire) != r) std::this_thread::yield();
        munmap(s.buffer, page());
        s.unmapped.store(r, std::memory_order_release);
    }
}

struct outcome {
    uint64_t generation_late = 0;
    uint64_t cookie_late = 0;
};

outcome run_rounds(umn_notifier *n, uint64_t total) {
    round_state s;
    outcome o;
    std::thread a(unmapper, std::ref(s), total);
    for (uint64_t r = 1; r <= total; ++r) {
        void *p = mmap(nullptr, page(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        s.buffer = static_cast<char *>(p);
        EXPECT_EQ(umn_register(n, p, page(), r), 0);
        uint64_t before = umn_generation(n);
        s.armed.store(r, std::memory_order_release);
        while (s.unmapped.load(std::memory_order_acquire) != r) std::this_thread::yield();
        if (umn_generation(n) == before) ++o.generation_late;
        uint64_t got = 0;
        if (umn_get_invalid(n, &got, 1) != 1 || got != r) ++o.cookie_late;
    }
    a.join();
    return o;
}

class NoStaleWindow : public notifier_fixture {};

TEST_F(NoStaleWindow, MunmapInAnotherThreadIsSeenAtOnce) {
    uint64_t total = rounds(100000);
    outcome o = run_rounds(n, total);
    EXPECT_EQ(o.generation_late, 0u) << "of " << total << " rounds";
    EXPECT_EQ(o.cookie_late, 0u) << "of " << total << " rounds";
}

TEST_F(NoStaleWindow, MunmapInAnotherThreadIsSeenAtOnceWithABusyCore) {
    std::atomic<bool> stop{false};
    std::thread busy([&] {
        volatile uint64_t x = 0;
        while (!stop.load(std::memory_order_relaxed)) x = x + 1;
    });
    uint64_t total = rounds(50000);
    outcome o = run_rounds(n, total);
    stop = true;
    busy.join();
    EXPECT_EQ(o.generation_late, 0u) << "of " << total << " rounds";
    EXPECT_EQ(o.cookie_late, 0u) << "of " << total << " rounds";
}

}  // namespace
}  // namespace umn::test
