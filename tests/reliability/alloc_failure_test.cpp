// SPDX-License-Identifier: BSD-3-Clause
// Allocation failure inside umn. Each API call is run again and again with
// its 1st, 2nd, ... allocation failing until it completes without reaching
// the failure. Every outcome must be success or -ENOMEM (never an exception
// through the C API, never a crash), a failed call must leave everything as
// it was (no leak, no half registration, no lost cookie), and the next call
// must work. The first notifier of a process (which creates the monitor and
// its thread) is swept in a fresh child process per step.
#include "failing_new.hpp"
#include "support.hpp"
#include "threads.hpp"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <memory>
#include <sys/wait.h>

namespace umn::reliability {
namespace {

constexpr long max_steps = 400;
using umn::test::page;

struct outcome {
    long rc = 0;
    bool injected = false;  // the armed allocation failure happened
    bool threw = false;     // an exception left the C API
};

outcome with_failure_at(long step, const std::function<long()> &call) {
    outcome o;
    fail_allocation_after(step);
    try {
        o.rc = call();
    } catch (...) {
        o.threw = true;
    }
    o.injected = disarm_allocation_failure();
    return o;
}

// One API call under test: `setup` and `check` run with no failure armed;
// `check` sees the outcome and undoes what a successful call did.
struct step_plan {
    const char *what;
    std::function<void()> setup;
    std::function<long()> call;
    std::function<void(const outcome &)> check;
};

// Runs the plan with its 1st, 2nd, ... allocation failing until the call
// completes without reaching the failure. Returns the number of failure
// points.
long sweep(const step_plan &plan) {
    for (long step = 0; step < max_steps; ++step) {
        const long live = live_allocations();
        plan.setup();
        outcome o = with_failure_at(step, plan.call);
        EXPECT_FALSE(o.threw) << plan.what << ": an exception escaped at allocation " << step;
        if (o.injected)
            EXPECT_TRUE(o.rc == 0 || o.rc == -ENOMEM) << plan.what << " gave " << o.rc;
        else
            EXPECT_EQ(o.rc, 0) << plan.what << " failed with no failure injected";
        plan.check(o);
        EXPECT_EQ(live_allocations(), live)
            << plan.what << ": leak after failing allocation " << step;
        if (!o.injected || ::testing::Test::HasFailure()) {
            std::printf("%s: %ld allocation failure points\n", plan.what, step);
            return step;
        }
    }
    ADD_FAILURE() << plan.what << " still allocating after " << max_steps << " steps";
    return max_steps;
}

class AllocationFailure : public umn::test::notifier_fixture {};

// Bug fixed: choosing the monitor builds strings; std::bad_alloc escaped
// umn_notifier_open.
TEST_F(AllocationFailure, OpenReturnsEnomemInsteadOfThrowing) {
    umn_notifier *other = nullptr;
    sweep({"umn_notifier_open", [] {},
           [&] { return static_cast<long>(umn_notifier_open(&other, UMN_MONITOR_AUTO)); },
           [&](const outcome &o) {
               if (o.rc == 0) umn_notifier_close(other);
               other = nullptr;
           }});
}

// Bug fixed: a failed std::map insertion in the userfaultfd monitor's watch
// counts threw std::bad_alloc through umn_register and left counts raised.
// The new registration spans an existing one, so the failure can come after
// some counts were raised; the existing registration must stay watched.
TEST_F(AllocationFailure, RegisterRollsBackWatchCountsWhenTheirMapCannotGrow) {
    std::unique_ptr<umn::test::mapping> m;
    sweep({"umn_register",
           [&] {
               m = std::make_unique<umn::test::mapping>(3);
               ASSERT_EQ(umn_register(n, m->get() + page(), 1, 8), 0);
           },
           [&] { return static_cast<long>(umn_register(n, m->get() + 10, m->size() - 20, 7)); },
           [&](const outcome &o) {
               // Success must mean watched; failure must leave nothing behind.
               m->unmap();
               std::vector<uint64_t> got = drain();
               std::sort(got.begin(), got.end());
               const std::vector<uint64_t> both{7, 8}, kept{8};
               EXPECT_EQ(got, o.rc == 0 ? both : kept);
               if (o.rc != 0) {
                   EXPECT_EQ(umn_unregister(n, 7), -ENOENT);
               }
               m.reset();
           }});
}

TEST_F(AllocationFailure, UnregisterLeavesTheRegistrationOnFailure) {
    umn::test::mapping m(1);
    sweep({"umn_unregister", [&] { ASSERT_EQ(umn_register(n, m.get(), 100, 1), 0); },
           [&] { return static_cast<long>(umn_unregister(n, 1)); },
           [&](const outcome &o) {
               if (o.rc != 0) {
                   EXPECT_EQ(umn_unregister(n, 1), 0);
               }
               EXPECT_EQ(umn_unregister(n, 1), -ENOENT);
           }});
}

TEST_F(AllocationFailure, DrainLosesNoCookie) {
    std::unique_ptr<umn::test::mapping> m;
    uint64_t got = 0;
    sweep({"umn_get_invalid",
           [&] {
               m = std::make_unique<umn::test::mapping>(1);
               ASSERT_EQ(umn_register(n, m->get(), 100, 2), 0);
               m->unmap();
           },
           [&] {
               long k = umn_get_invalid(n, &got, 1);
               return k == 1 ? 0L : k == 0 ? -1000L : k;
           },
           [&](const outcome &o) {
               if (o.rc != 0) {
                   EXPECT_EQ(umn_get_invalid(n, &got, 1), 1);
               }
               EXPECT_EQ(got, 2u);
               m.reset();
           }});
}

TEST_F(AllocationFailure, CloseWithLiveRegistrationsNeverCrashes) {
    umn_notifier *other = nullptr;
    std::unique_ptr<umn::test::mapping> m;
    sweep({"umn_notifier_close",
           [&] {
               ASSERT_EQ(umn_notifier_open(&other, UMN_MONITOR_AUTO), 0);
               m = std::make_unique<umn::test::mapping>(3);
               for (uint64_t c = 0; c < 3; ++c)
                   ASSERT_EQ(umn_register(other, m->get() + c * page(), 1, c), 0);
           },
           [&] {
               umn_notifier_close(other);
               return 0L;
           },
           [&](const outcome &) { m.reset(); }});
}

// A registrar that allocates nothing (so only umn's allocations fail) and
// counts; not thread-safe (one thread uses it).
struct counting_registrar {
    uint64_t regs = 0;
    uint64_t deregs = 0;
    static int reg(void *ctx, void *, size_t, uint64_t *handle) {
        *handle = ++static_cast<counting_registrar *>(ctx)->regs;
        return 0;
    }
    static void dereg(void *ctx, void *, size_t, uint64_t) {
        ++static_cast<counting_registrar *>(ctx)->deregs;
    }
    umn_registrar registrar() { return {this, reg, dereg}; }
};

// The fixture's notifier makes the process-wide monitor exist (it lives as
// long as the process) before the tests count allocations.
class AllocationFailureCache : public umn::test::notifier_fixture {};

TEST_F(AllocationFailureCache, CreateReturnsEnomemAndLeaksNothing) {
    counting_registrar counting;
    umn_registrar r = counting.registrar();
    umn_cache *c = nullptr;
    sweep({"umn_cache_create", [] {},
           [&] { return static_cast<long>(umn_cache_create(&c, &r, nullptr)); },
           [&](const outcome &o) {
               if (o.rc == 0) umn_cache_destroy(c);
               c = nullptr;
           }});
}

TEST_F(AllocationFailureCache, MissReturnsEnomemAndRegistersNothingHalfway) {
    counting_registrar counting;
    umn_registrar r = counting.registrar();
    umn_cache *c = nullptr;
    std::unique_ptr<umn::test::mapping> m;
    umn_region *region = nullptr;
    sweep({"umn_cache_get (miss)",
           [&] {
               ASSERT_EQ(umn_cache_create(&c, &r, nullptr), 0);
               m = std::make_unique<umn::test::mapping>(2);
           },
           [&] { return static_cast<long>(umn_cache_get(c, m->get() + 5, 100, &region)); },
           [&](const outcome &o) {
               if (o.rc == 0) {
                   umn_cache_put(c, region);
               } else {
                   EXPECT_EQ(region, nullptr);
                   EXPECT_EQ(counting.regs, counting.deregs);
               }
               // The cache still works after the failure.
               EXPECT_EQ(umn_cache_get(c, m->get() + 5, 100, &region), 0);
               umn_cache_put(c, region);
               umn_cache_destroy(c);
               m.reset();
               EXPECT_EQ(counting.regs, counting.deregs);
           }});
}

// In a fresh process: the first open creates the process-wide monitor.
// Exit status: 0 ok, 1 wrong error, 2 exception escaped, 3 not usable after.
[[noreturn]] void first_open_child(long step) {
    umn_notifier *n = nullptr;
    outcome o = with_failure_at(
        step, [&] { return static_cast<long>(umn_notifier_open(&n, UMN_MONITOR_AUTO)); });
    if (o.threw) _exit(2);
    if (o.rc != 0 && o.rc != -ENOMEM) _exit(1);
    if (o.rc != 0 && umn_notifier_open(&n, UMN_MONITOR_AUTO) != 0) _exit(3);
    umn::test::mapping m(1);
    uint64_t c = 0;
    if (umn_register(n, m.get(), 1, 5) != 0) _exit(3);
    m.unmap();
    if (umn_get_invalid(n, &c, 1) != 1 || c != 5) _exit(3);
    _exit(o.injected ? 0 : 100);  // 100: the call completed without the failure
}

// Bug fixed: creating the userfaultfd monitor (throwing new) and its thread
// (std::thread allocates its state) threw std::bad_alloc through the first
// umn_notifier_open of a process.
TEST(AllocationFailureFirstOpen, CreatingTheMonitorAndItsThreadReturnsEnomemAndRecovers) {
    long step = 0;
    for (; step < max_steps; ++step) {
        pid_t pid = fork();
        if (pid == 0) first_open_child(step);
        ASSERT_GT(pid, 0);
        int status = wait_child(pid, 60);
        ASSERT_TRUE(WIFEXITED(status))
            << "child crashed at allocation " << step << ", status " << status;
        if (WEXITSTATUS(status) == 100) break;
        ASSERT_EQ(WEXITSTATUS(status), 0)
            << "first open failing allocation " << step
            << " (1 wrong error, 2 exception escaped, 3 unusable after)";
    }
    std::printf("first umn_notifier_open: %ld allocation failure points\n", step);
    EXPECT_LT(step, max_steps);
}

}  // namespace
}  // namespace umn::reliability
