// SPDX-License-Identifier: BSD-3-Clause
// The watchdog itself must be able to fail a test: run this binary on a test
// that hangs, with a short limit, and check that it ends with the watchdog's
// status and prints the hung thread's stack.
#include "watchdog.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace umn::reliability {
namespace {

// Blocks forever in a helper thread and in the test thread; only runs when
// the outer test asks for it.
[[gnu::noinline]] void hang_here_for_the_watchdog(int fd) {
    char c;
    while (read(fd, &c, 1) != 0) {
    }
}

TEST(WatchdogSelfTest, Hangs) {
    if (!std::getenv("UMN_WATCHDOG_SELFTEST")) GTEST_SKIP() << "run by WatchdogFires only";
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    hang_here_for_the_watchdog(fds[0]);
}

// Runs this binary with --gtest_filter=WatchdogSelfTest.Hangs; returns its
// wait status and output.
int run_hanging_child(std::string *output) {
    int out[2];
    if (pipe(out)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(out[0]);
        setenv("UMN_WATCHDOG_SELFTEST", "1", 1);
        setenv("UMN_WATCHDOG_SECONDS", "2", 1);
        execl("/proc/self/exe", "watchdog-selftest", "--gtest_filter=WatchdogSelfTest.Hangs",
              static_cast<char *>(nullptr));
        _exit(127);
    }
    close(out[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) output->append(buf, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

TEST(WatchdogFires, OnAHungTestWithEveryThreadsStack) {
    std::string output;
    int status = run_hanging_child(&output);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), watchdog_exit_status) << output;
    EXPECT_NE(output.find("watchdog: WatchdogSelfTest.Hangs still running after 2 s"),
              std::string::npos)
        << output;
    EXPECT_NE(output.find("=== kernel stacks of every thread"), std::string::npos) << output;
    if (access("/usr/bin/gdb", X_OK) == 0) {
        EXPECT_NE(output.find("hang_here_for_the_watchdog"), std::string::npos) << output;
    }
}

}  // namespace
}  // namespace umn::reliability
