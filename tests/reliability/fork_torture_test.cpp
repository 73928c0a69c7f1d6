// SPDX-License-Identifier: BSD-3-Clause
// fork() in the middle of a torture run. Churn threads keep unmapping
// registered memory while the main thread forks again and again. The parent
// must stay correct (no late, lost or duplicate event); each child must get
// -ECHILD from every call on the inherited notifier, read UINT64_MAX as its
// generation, and be able to open a notifier of its own and use it.
#include "churn.hpp"
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

[[noreturn]] void child_main(umn_notifier *inherited, unsigned seed) {
    int bad = check_inherited(inherited);
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
    umn_notifier *n;
    ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), 0);
    umn::test::mapping kept(2);
    ASSERT_EQ(umn_register(n, kept.get(), kept.size(), 1), 0);

    const unsigned workers = 2;
    const uint64_t per_worker = umn::test::rounds(10000);
    std::atomic<bool> done{false};
    churn_counts total;
    std::thread load([&] {
        total = run_churn(workers, per_worker, 21);
        done = true;
    });
    const int forks = 20;
    int children_ok = 0;
    for (int f = 0; f < forks; ++f) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        pid_t pid = fork();
        if (pid == 0) child_main(n, 100 + f);
        ASSERT_GT(pid, 0);
        int status = wait_child(pid, 60);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "child " << f << " status " << status << " (exit bits: see child_failure)";
        children_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    const bool forked_during_run = !done.load();
    load.join();
    std::printf("fork torture: %d forks (%s the churn), %llu parent rounds, %llu invalidations\n",
                forks, forked_during_run ? "all during" : "some after",
                static_cast<unsigned long long>(total.rounds),
                static_cast<unsigned long long>(total.invalidations));
    EXPECT_EQ(children_ok, forks);
    EXPECT_EQ(total.rounds, workers * per_worker);
    EXPECT_EQ(total.late, 0u);
    EXPECT_EQ(total.duplicate, 0u);
    EXPECT_EQ(total.errors, 0u);

    // The parent's own notifier still works after all the forks.
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
