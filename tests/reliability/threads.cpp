// SPDX-License-Identifier: BSD-3-Clause
#include "threads.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <mutex>
#include <sys/wait.h>
#include <thread>

namespace umn::reliability {

std::vector<pid_t> thread_ids() {
    std::vector<pid_t> out;
    DIR *d = opendir("/proc/self/task");
    if (!d) return out;
    while (dirent *e = readdir(d))
        if (e->d_name[0] != '.') out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
    closedir(d);
    return out;
}

churn_counts run_churn(unsigned workers, uint64_t rounds, unsigned seed,
                       const std::atomic<bool> *keep_going) {
    churn_counts total;
    std::mutex lock;
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < workers; ++w) {
        pool.emplace_back([&, w] {
            churn c(seed + w);
            churn_counts mine;
            if (c.open_error()) {
                mine.errors = 1;
            } else {
                for (uint64_t r = 0; r < rounds || (keep_going && keep_going->load()); ++r)
                    c.round();
                mine = c.counts();
            }
            std::lock_guard g(lock);
            total.add(mine);
        });
    }
    for (auto &t : pool) t.join();
    return total;
}

int wait_child(pid_t pid, int seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

}  // namespace umn::reliability
