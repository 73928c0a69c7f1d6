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

// "ok" then one line of numbers per row, or one line saying why not.
void parse_worker_output(const std::string &out, worker_output *r) {
    size_t eol = out.find('\n');
    std::string status = out.substr(0, eol);
    if (status != "ok") {
        r->message = status.empty() ? "error: the worker died without a word" : status;
        return;
    }
    r->available = true;
    for (size_t at = eol; at != std::string::npos && at + 1 < out.size();) {
        size_t next = out.find('\n', at + 1);
        std::string line = out.substr(at + 1, next == std::string::npos ? next : next - at - 1);
        std::vector<double> row;
        const char *p = line.c_str();
        double v;
        int used;
        while (std::sscanf(p, "%lf%n", &v, &used) == 1) {
            row.push_back(v);
            p += used;
        }
        r->rows.push_back(row);
        at = next;
    }
}

}  // namespace

worker_output run_worker(const std::vector<std::string> &worker_command,
                         const std::vector<std::string> &job) {
    worker_output r;
    std::vector<std::string> args = worker_command;
    args.insert(args.end(), job.begin(), job.end());
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

munmap_result measure_munmap(const std::vector<std::string> &worker_command,
                             const std::string &side, size_t index, size_t samples,
                             const munmap_setting &setting) {
    worker_output out =
        run_worker(worker_command, {side, "munmap", std::to_string(index), std::to_string(samples),
                                    std::to_string(setting.regions), std::to_string(setting.caches),
                                    std::to_string(setting.beside_regions ? 1 : 0)});
    munmap_result r;
    r.available = out.available;
    r.message = out.message;
    for (const auto &row : out.rows) {
        if (row.size() != 2) continue;
        r.libc_ns.push_back(row[0]);
        r.syscall_ns.push_back(row[1]);
    }
    if (r.available && r.libc_ns.empty()) {
        r.available = false;
        r.message = "error: the worker measured nothing";
    }
    return r;
}

int print_worker_output(const worker_output &r) {
    if (!r.available) {
        std::printf("%s\n", r.message.c_str());
        return 0;
    }
    std::printf("ok\n");
    for (const auto &row : r.rows) {
        for (size_t i = 0; i < row.size(); i++) std::printf(i ? " %.1f" : "%.1f", row[i]);
        std::printf("\n");
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace umn::bench
