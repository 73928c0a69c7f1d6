// SPDX-License-Identifier: BSD-3-Clause
// A watchdog that bounds each reliability test. If a test is still running
// when its time is up, the watchdog prints every thread's kernel stack
// (/proc/self/task/*/stack: where a thread blocked in munmap waits for the
// userfaultfd reader) and user stack (gdb -batch -p, run through posix_spawn
// so no fork handler runs in a possibly deadlocked process), then ends the
// process with status 124 so that ctest reports the test failed.
//
// UMN_WATCHDOG_SECONDS overrides the per-test limit (default 240 s).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace umn::reliability {

// Exit status of a process the watchdog ended.
constexpr int watchdog_exit_status = 124;

class watchdog {
  public:
    watchdog();
    ~watchdog();
    watchdog(const watchdog &) = delete;
    watchdog &operator=(const watchdog &) = delete;

    // Starts counting `limit` for the test called `name`.
    void arm(const std::string &name, std::chrono::seconds limit);
    void disarm();

  private:
    void run();
    [[noreturn]] void fire();

    std::mutex lock_;
    std::condition_variable changed_;
    std::string name_;
    std::chrono::steady_clock::time_point deadline_;
    std::chrono::seconds limit_{0};
    bool armed_ = false;
    bool stop_ = false;
    std::thread thread_;
};

// Writes every thread's kernel stack, then gdb's backtrace of every thread,
// to file descriptor `fd`. Safe to call while other threads are deadlocked.
void dump_all_stacks(int fd);

// The per-test limit: UMN_WATCHDOG_SECONDS, else `fallback`.
std::chrono::seconds watchdog_limit(std::chrono::seconds fallback);

// Puts a watchdog around every gtest test of this process.
void install_watchdog_listener();

}  // namespace umn::reliability
