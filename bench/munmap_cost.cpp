// SPDX-License-Identifier: BSD-3-Clause
#include "munmap_cost.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace umn::bench {

constexpr size_t KiB = 1024, MiB = 1024 * KiB;

const std::vector<munmap_case> munmap_cases = {
    {"unregistered/4KiB", 4 * KiB, 4 * KiB, false},
    {"unregistered/1MiB", 1 * MiB, 4 * KiB, false},
    {"registered/4KiB", 4 * KiB, 4 * KiB, true},
    {"registered/64KiB/align:64KiB", 64 * KiB, 64 * KiB, true},
    {"registered/64KiB/align:4KiB", 64 * KiB, 4 * KiB, true},
    {"registered/1MiB/align:1MiB", 1 * MiB, 1 * MiB, true},
    {"registered/1MiB/align:4KiB", 1 * MiB, 4 * KiB, true},
};

namespace {

std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

void parse_worker_output(const std::string &out, munmap_result *r) {
    size_t eol = out.find('\n');
    std::string status = out.substr(0, eol);
    if (status.rfind("ok", 0) != 0) {
        r->message = status.empty() ? "the worker died without a word" : status;
        return;
    }
    r->available = true;
    const char *p = out.c_str() + eol + 1;
    double libc, raw;
    int used;
    while (std::sscanf(p, "%lf %lf%n", &libc, &raw, &used) == 2) {
        r->libc_ns.push_back(libc);
        r->syscall_ns.push_back(raw);
        p += used;
    }
}

}  // namespace

munmap_result measure_munmap(const std::vector<std::string> &worker_command,
                             const std::string &side, size_t index, size_t samples) {
    munmap_result r;
    std::vector<std::string> args = worker_command;
    args.insert(args.end(), {side, std::to_string(index), std::to_string(samples)});
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        r.message = "error: pipe failed";
        return r;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        r.message = std::string("error: cannot start the worker: ") + std::strerror(rc);
        return r;
    }
    std::string text = read_all(out[0]);
    close(out[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    parse_worker_output(text, &r);
    if (r.available && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        r.available = false;
        r.message = "error: the worker failed";
    }
    return r;
}

int print_worker_result(const munmap_result &r) {
    if (!r.available) {
        std::printf("%s\n", r.message.c_str());
        return 0;
    }
    std::printf("ok\n");
    for (size_t i = 0; i < r.libc_ns.size(); i++)
        std::printf("%.1f %.1f\n", r.libc_ns[i], r.syscall_ns[i]);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace umn::bench
