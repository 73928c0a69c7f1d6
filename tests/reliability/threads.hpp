// SPDX-License-Identifier: BSD-3-Clause
// Small helpers for the reliability tests: the threads of this process, a
// pool of churn threads, a bounded wait for a child process.
#pragma once

#include "churn.hpp"

#include <atomic>
#include <sys/types.h>
#include <vector>

namespace umn::reliability {

// Thread ids of this process (from /proc/self/task).
std::vector<pid_t> thread_ids();

// Runs `workers` threads, each a churn of `rounds` rounds on its own
// notifier (seeds seed, seed + 1, ...), and more while *keep_going (if
// given) is true; returns the summed counts. A notifier that fails to open
// counts as one error.
churn_counts run_churn(unsigned workers, uint64_t rounds, unsigned seed,
                       const std::atomic<bool> *keep_going = nullptr);

// Waits up to `seconds` for `pid`; kills it on timeout. Returns the wait
// status, or -1 if it had to be killed.
int wait_child(pid_t pid, int seconds);

}  // namespace umn::reliability
