// SPDX-License-Identifier: BSD-3-Clause
// One thread's churn on a notifier of its own: each round maps a few pages,
// registers a random sub-range, then invalidates it one of several ways (or
// unregisters it). Right after the invalidating call returns, the cookie
// must be drainable, exactly once (the no-stale-window and one-shot
// promises); after an unregister nothing may be drained. Used as the load
// under signal storms and forks.
#pragma once

#include <umn/umn.h>

#include <cstdint>
#include <random>

namespace umn::reliability {

struct churn_counts {
    uint64_t rounds = 0;
    uint64_t invalidations = 0;  // rounds whose action must produce an event
    uint64_t late = 0;           // generation unmoved or cookie not drainable on return
    uint64_t duplicate = 0;      // a cookie drained twice, or after unregister
    uint64_t errors = 0;         // an API call failed, or the test's own mmap did
    uint64_t bad() const { return late + duplicate + errors; }
    void add(const churn_counts &o);
};

class churn {
  public:
    explicit churn(unsigned seed);
    ~churn();
    churn(const churn &) = delete;
    churn &operator=(const churn &) = delete;

    int open_error() const { return open_error_; }
    umn_notifier *notifier() const { return n_; }
    const churn_counts &counts() const { return counts_; }
    void round();

  private:
    enum class action { munmap, map_fixed, dontneed, mremap_move, unregister, count };
    void act(action a, char *base, size_t len);
    void move_registered(char *base, size_t len, size_t offset, size_t sub);
    void check_drained(uint64_t cookie, uint64_t before, bool expect);

    umn_notifier *n_ = nullptr;
    int open_error_ = 0;
    std::mt19937 rng_;
    uint64_t next_cookie_ = 1;
    churn_counts counts_;
};

}  // namespace umn::reliability
