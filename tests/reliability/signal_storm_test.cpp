// SPDX-License-Identifier: BSD-3-Clause
// Signals while registered memory is unmapped. Churn threads unmap, map over,
// madvise and mremap registered memory while (a) a storm thread sends
// SIGUSR1 (no SA_RESTART) and SIGUSR2 (SA_RESTART) to every thread of the
// process, the userfaultfd reader included, and (b) a helper process stops
// and continues the whole process (SIGSTOP cannot be blocked, so the monitor
// thread's poll and read are interrupted too). No event may be lost and
// none may arrive late: each invalidating call must find its cookie
// drainable when it returns.
#include "churn.hpp"
#include "support.hpp"
#include "threads.hpp"

#include <atomic>
#include <csignal>
#include <dirent.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

namespace umn::reliability {
namespace {

std::atomic<uint64_t> signals_handled{0};

// The handler reads this notifier's generation the way a cache hit would
// (async-signal-safe: one load). Opened once and never closed: a handler
// may still run in some thread after the storm stops.
std::atomic<umn_notifier *> handler_notifier{nullptr};
std::atomic<uint64_t> handler_generation_sum{0};

void on_signal(int) {
    signals_handled.fetch_add(1, std::memory_order_relaxed);
    if (umn_notifier *n = handler_notifier.load(std::memory_order_acquire))
        handler_generation_sum.fetch_add(umn_generation(n), std::memory_order_relaxed);
}

int open_handler_notifier() {
    if (handler_notifier.load()) return 0;
    umn_notifier *n = nullptr;
    int rc = umn_notifier_open(&n, UMN_MONITOR_AUTO);
    handler_notifier.store(n, std::memory_order_release);
    return rc;
}

void install_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, nullptr);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, nullptr);
}

// Ignoring (not SIG_DFL) discards signals still pending on a thread that
// blocks them, such as the monitor thread: with SIG_DFL such a leftover
// SIGUSR1 killed the process after the test had passed (seen in CI).
void restore_handlers() {
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
}

// Sends SIGUSR1 and SIGUSR2 to every thread of the process until stopped.
uint64_t storm(const std::atomic<bool> &stop) {
    uint64_t sent = 0;
    const pid_t pid = getpid();
    while (!stop.load(std::memory_order_relaxed)) {
        for (pid_t tid : thread_ids()) {
            if (tid == static_cast<pid_t>(syscall(SYS_gettid))) continue;
            sent += syscall(SYS_tgkill, pid, tid, (sent & 1) ? SIGUSR1 : SIGUSR2) == 0;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return sent;
}

TEST(SignalStorm, UnmapUnderSignalsToEveryThreadLosesNoEvent) {
    install_handlers();
    const unsigned workers = 2;
    const uint64_t per_worker = umn::test::rounds(20000);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> sent{0};
    churn_counts total;
    ASSERT_EQ(open_handler_notifier(), 0);
    std::thread stormer([&] { sent = storm(stop); });
    total = run_churn(workers, per_worker, 7);
    stop = true;
    stormer.join();
    restore_handlers();
    std::printf("signal storm: %llu rounds, %llu invalidations, %llu signals sent, %llu handled\n",
                static_cast<unsigned long long>(total.rounds),
                static_cast<unsigned long long>(total.invalidations),
                static_cast<unsigned long long>(sent.load()),
                static_cast<unsigned long long>(signals_handled.load()));
    EXPECT_EQ(total.rounds, workers * per_worker);
    EXPECT_EQ(total.late, 0u) << "events seen late or lost";
    EXPECT_EQ(total.duplicate, 0u) << "cookies reported twice or after unregister";
    EXPECT_EQ(total.errors, 0u);
    EXPECT_GT(signals_handled.load(), 0u) << "the storm never reached a thread";
}

// A helper process stops and continues this process until its pipe closes;
// it always leaves the process continued.
pid_t start_stopper(int *write_end) {
    int fds[2];
    if (pipe(fds)) return -1;
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        pollfd p{fds[0], POLLIN, 0};
        for (unsigned i = 0;; ++i) {
            kill(parent, SIGSTOP);
            usleep(100 + i % 300);
            kill(parent, SIGCONT);
            if (poll(&p, 1, 1 + static_cast<int>(i % 3)) != 0) _exit(0);
        }
    }
    close(fds[0]);
    *write_end = fds[1];
    return pid;
}

TEST(SignalStorm, UnmapWhileTheProcessIsStoppedAndContinued) {
    int pipe_end = -1;
    pid_t stopper = start_stopper(&pipe_end);
    ASSERT_GT(stopper, 0);
    const unsigned workers = 2;
    const uint64_t per_worker = umn::test::rounds(10000);
    churn_counts total = run_churn(workers, per_worker, 11);
    close(pipe_end);
    int status = 0;
    ASSERT_EQ(waitpid(stopper, &status, 0), stopper);
    std::printf("stop/continue storm: %llu rounds, %llu invalidations\n",
                static_cast<unsigned long long>(total.rounds),
                static_cast<unsigned long long>(total.invalidations));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(total.rounds, workers * per_worker);
    EXPECT_EQ(total.late, 0u) << "events seen late or lost";
    EXPECT_EQ(total.duplicate, 0u);
    EXPECT_EQ(total.errors, 0u);
}

}  // namespace
}  // namespace umn::reliability
