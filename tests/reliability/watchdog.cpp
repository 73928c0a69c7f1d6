// SPDX-License-Identifier: BSD-3-Clause
// Locking: lock_ guards the deadline and the flags; the watchdog thread waits
// on changed_ until the deadline. When it fires, the rest of the process may
// be deadlocked (a thread inside malloc, a thread blocked in munmap), so
// fire() allocates nothing and starts gdb with vfork + execve.
#include "watchdog.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace umn::reliability {

namespace {

void write_all(int fd, const char *text, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        len -= static_cast<size_t>(n);
    }
}

void write_text(int fd, const char *text) {
    write_all(fd, text, std::strlen(text));
}

// Copies /proc/self/task/<tid>/<what> to fd.
void copy_task_file(int fd, const char *tid, const char *what) {
    char path[320];
    std::snprintf(path, sizeof path, "/proc/self/task/%s/%s", tid, what);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return;
    char buf[4096];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) write_all(fd, buf, static_cast<size_t>(n));
    close(in);
}

// Kernel stacks of every thread, read with getdents64 (no malloc).
void dump_kernel_stacks(int fd) {
    int dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return;
    alignas(8) char buf[8192];
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long at = 0; at < n;) {
            auto *d = reinterpret_cast<struct dirent64 *>(buf + at);
            at += d->d_reclen;
            if (d->d_name[0] == '.') continue;
            write_text(fd, "--- thread ");
            write_text(fd, d->d_name);
            write_text(fd, " ");
            copy_task_file(fd, d->d_name, "comm");
            copy_task_file(fd, d->d_name, "stack");
        }
    }
    close(dir);
}

// gdb's backtrace of every thread, bounded by timeout(1) in case a thread
// cannot be stopped (a thread blocked in an uninterruptible wait).
void dump_user_stacks(int fd) {
    const char *timeout = "/usr/bin/timeout";
    const char *gdb = "/usr/bin/gdb";
    if (access(timeout, X_OK) || access(gdb, X_OK)) {
        write_text(fd, "watchdog: no /usr/bin/gdb, user stacks not available\n");
        return;
    }
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);  // no-op without Yama
    char pid[32];
    std::snprintf(pid, sizeof pid, "%d", static_cast<int>(getpid()));
    const char *argv[] = {timeout,
                          "-s",
                          "KILL",
                          "60",
                          gdb,
                          "-batch",
                          "-nx",
                          "-p",
                          pid,
                          "-ex",
                          "set pagination off",
                          "-ex",
                          "thread apply all bt",
                          nullptr};
    pid_t child = vfork();
    if (child == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execve(timeout, const_cast<char *const *>(argv), environ);
        _exit(127);
    }
    if (child < 0) return;
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

void dump_all_stacks(int fd) {
    write_text(fd, "=== kernel stacks of every thread\n");
    dump_kernel_stacks(fd);
    write_text(fd, "=== user stacks of every thread (gdb)\n");
    dump_user_stacks(fd);
    write_text(fd, "=== end of stacks\n");
}

std::chrono::seconds watchdog_limit(std::chrono::seconds fallback) {
    const char *s = std::getenv("UMN_WATCHDOG_SECONDS");
    long v = s ? std::atol(s) : 0;
    return v > 0 ? std::chrono::seconds(v) : fallback;
}

watchdog::watchdog() : thread_([this] { run(); }) {}

watchdog::~watchdog() {
    {
        std::lock_guard g(lock_);
        stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void watchdog::arm(const std::string &name, std::chrono::seconds limit) {
    {
        std::lock_guard g(lock_);
        name_ = name;
        limit_ = limit;
        deadline_ = std::chrono::steady_clock::now() + limit;
        armed_ = true;
    }
    changed_.notify_all();
}

void watchdog::disarm() {
    {
        std::lock_guard g(lock_);
        armed_ = false;
    }
    changed_.notify_all();
}

void watchdog::run() {
    std::unique_lock g(lock_);
    while (!stop_) {
        if (!armed_) {
            changed_.wait(g);
        } else if (changed_.wait_until(g, deadline_) == std::cv_status::timeout && armed_ &&
                   std::chrono::steady_clock::now() >= deadline_) {
            fire();
        }
    }
}

void watchdog::fire() {
    char line[512];
    std::snprintf(line, sizeof line, "\n[  FAILED  ] watchdog: %s still running after %lld s\n",
                  name_.c_str(), static_cast<long long>(limit_.count()));
    write_text(2, line);
    dump_all_stacks(2);
    write_text(2, line);
    _exit(watchdog_exit_status);
}

namespace {

class watchdog_listener : public ::testing::EmptyTestEventListener {
  public:
    void OnTestStart(const ::testing::TestInfo &t) override {
        dog_.arm(std::string(t.test_suite_name()) + "." + t.name(),
                 watchdog_limit(std::chrono::seconds(240)));
    }
    void OnTestEnd(const ::testing::TestInfo &) override { dog_.disarm(); }

  private:
    watchdog dog_;
};

}  // namespace

void install_watchdog_listener() {
    ::testing::UnitTest::GetInstance()->listeners().Append(new watchdog_listener);
}

}  // namespace umn::reliability
