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
#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <poll.h>
#include <sys/mman.h>
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

// A handler that replaces registered memory, interrupting a thread that is
// inside umn (holding its locks) as often as the storm can: the hooked
// mmap(MAP_FIXED) in the handler, and with userfaultfd the monitor thread
// the handler's call waits for, must neither wait for the interrupted
// thread nor lose the invalidation. The handler checks the promise itself:
// when its call returns, the generation has moved.
struct handler_target {
    std::atomic<umn_notifier *> notifier{nullptr};
    std::atomic<char *> page{nullptr};
    std::atomic<bool> armed{false};  // the page is registered and not yet invalidated
    std::atomic<uint64_t> replaced{0};
    std::atomic<uint64_t> not_moved{0};
    std::atomic<uint64_t> failed{0};
};
handler_target target;

void replace_in_handler(int) {
    int saved = errno;
    umn_notifier *n = target.notifier.load(std::memory_order_acquire);
    char *p = target.page.load(std::memory_order_acquire);
    if (n && p) {
        uint64_t before = umn_generation(n);
        void *q = mmap(p, umn::test::page(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (q != p)
            target.failed.fetch_add(1, std::memory_order_relaxed);
        else if (target.armed.exchange(false) && umn_generation(n) == before)
            target.not_moved.fetch_add(1, std::memory_order_relaxed);
        target.replaced.fetch_add(1, std::memory_order_relaxed);
    }
    errno = saved;
}

// Registers the handler's page and arms the handler's check, with the
// signal blocked so that the handler never runs between the two.
bool arm(umn_notifier *n, char *page, uint64_t cookie) {
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    bool ok = umn_register(n, page, umn::test::page(), cookie) == 0;
    target.armed = ok;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return ok;
}

// The interrupted thread: registers, unregisters and drains, so that the
// signals often land while it holds the notifier's locks; re-registers the
// handler's page whenever its registration was invalidated.
void work_inside_umn(umn_notifier *n, char *page, uint64_t rounds, uint64_t *errors) {
    umn::test::mapping others(16);
    uint64_t page_cookie = 1, next = 2;
    *errors += !arm(n, page, page_cookie);
    for (uint64_t i = 0; i < rounds; ++i) {
        const uint64_t c = next++;
        char *at = others.get() + (i % 16) * umn::test::page();
        *errors += umn_register(n, at, umn::test::page(), c) != 0;
        uint64_t drained[16];
        long k;
        bool page_invalid = false;
        while ((k = umn_get_invalid(n, drained, 16)) > 0)
            for (long j = 0; j < k; ++j) page_invalid |= drained[j] == page_cookie;
        *errors += k < 0;
        *errors += umn_unregister(n, c) != 0;
        if (page_invalid) {
            page_cookie = next++;
            *errors += !arm(n, page, page_cookie);
        }
    }
}

TEST(SignalStorm, HandlerReplacingRegisteredMemoryInterruptsAThreadInsideUmn) {
    umn_notifier *n;
    ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), 0);
    umn::test::mapping page(1);
    target.page.store(page.get(), std::memory_order_release);
    target.notifier.store(n, std::memory_order_release);
    struct sigaction sa {};
    sa.sa_handler = replace_in_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);

    const pid_t worker_tid_unset = 0;
    std::atomic<pid_t> worker_tid{worker_tid_unset};
    std::atomic<bool> stop{false};
    uint64_t errors = 0, sent = 0;
    std::thread worker([&] {
        worker_tid = static_cast<pid_t>(syscall(SYS_gettid));
        work_inside_umn(n, page.get(), umn::test::rounds(200000), &errors);
        stop = true;
    });
    while (worker_tid.load() == worker_tid_unset) std::this_thread::yield();
    while (!stop.load()) {
        sent += syscall(SYS_tgkill, getpid(), worker_tid.load(), SIGUSR1) == 0;
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    worker.join();
    target.notifier.store(nullptr, std::memory_order_release);
    signal(SIGUSR1, SIG_IGN);
    std::printf(
        "handler storm: %llu signals, %llu replacements in the handler, %llu without "
        "the generation moving, %llu failed\n",
        static_cast<unsigned long long>(sent),
        static_cast<unsigned long long>(target.replaced.load()),
        static_cast<unsigned long long>(target.not_moved.load()),
        static_cast<unsigned long long>(target.failed.load()));
    EXPECT_EQ(errors, 0u);
    EXPECT_GT(target.replaced.load(), 0u);
    EXPECT_EQ(target.not_moved.load(), 0u) << "a replacement returned before the generation moved";
    EXPECT_EQ(target.failed.load(), 0u);
    umn_notifier_close(n);
}

}  // namespace
}  // namespace umn::reliability
