// SPDX-License-Identifier: BSD-3-Clause
// Helpers for the cache tests: a registrar that counts and can fail on
// demand, and a cache fixture on the monitor under test (UMN_MONITOR_AUTO).
#pragma once

#include "support.hpp"

#include <umn/umn.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

namespace umn::test {

// Counts reg/dereg calls and remembers the live registrations. fail_next(n,
// e) makes the next n regs return e. Thread-safe.
class counting_registrar {
  public:
    umn_registrar registrar() { return umn_registrar{this, reg_fn, dereg_fn}; }

    void fail_next(int times, int error) {
        std::lock_guard g(lock_);
        fail_times_ = times;
        fail_error_ = error;
    }
    size_t regs() const {
        std::lock_guard g(lock_);
        return regs_;
    }
    size_t deregs() const {
        std::lock_guard g(lock_);
        return deregs_;
    }
    size_t failed() const {
        std::lock_guard g(lock_);
        return failed_;
    }
    size_t live() const {
        std::lock_guard g(lock_);
        return live_.size();
    }
    // A dereg of something not registered, or twice.
    size_t bad_deregs() const {
        std::lock_guard g(lock_);
        return bad_;
    }
    bool is_live(uint64_t handle) const {
        std::lock_guard g(lock_);
        return live_.count(handle) != 0;
    }

  private:
    static int reg_fn(void *ctx, void *addr, size_t len, uint64_t *handle) {
        auto *self = static_cast<counting_registrar *>(ctx);
        std::lock_guard g(self->lock_);
        if (self->fail_times_ > 0) {
            --self->fail_times_;
            ++self->failed_;
            return self->fail_error_;
        }
        ++self->regs_;
        *handle = self->next_++;
        self->live_[*handle] = {addr, len};
        return 0;
    }
    static void dereg_fn(void *ctx, void *addr, size_t len, uint64_t handle) {
        auto *self = static_cast<counting_registrar *>(ctx);
        std::lock_guard g(self->lock_);
        ++self->deregs_;
        auto it = self->live_.find(handle);
        if (it == self->live_.end() || it->second != std::make_pair(addr, len))
            ++self->bad_;
        else
            self->live_.erase(it);
    }

    mutable std::mutex lock_;
    size_t regs_ = 0, deregs_ = 0, failed_ = 0, bad_ = 0;
    int fail_times_ = 0, fail_error_ = 0;
    uint64_t next_ = 1;
    std::map<uint64_t, std::pair<void *, size_t>> live_;
};

inline umn_cache_params cache_params(size_t max_regions = 0, size_t max_bytes = 0,
                                     size_t alignment = 0) {
    umn_cache_params p{};
    p.struct_size = sizeof p;
    p.monitor = UMN_MONITOR_AUTO;
    p.max_regions = max_regions;
    p.max_bytes = max_bytes;
    p.alignment = alignment;
    return p;
}

// A cache with a counting registrar; destroyed (and checked for balanced
// reg/dereg) at the end of each test unless the test destroyed it.
class cache_fixture : public ::testing::Test {
  protected:
    void open(const umn_cache_params &p) {
        umn_registrar r = counter.registrar();
        ASSERT_EQ(umn_cache_create(&c, &r, &p), 0);
    }
    void SetUp() override { open(cache_params()); }
    void TearDown() override { destroy(); }
    void destroy() {
        if (!c) return;
        umn_cache_destroy(c);
        c = nullptr;
        EXPECT_EQ(counter.live(), 0u) << "destroy left registrations behind";
        EXPECT_EQ(counter.bad_deregs(), 0u);
    }
    // get that must succeed.
    umn_region *get(const void *addr, size_t len) {
        umn_region *r = nullptr;
        EXPECT_EQ(umn_cache_get(c, addr, len, &r), 0);
        return r;
    }

    counting_registrar counter;
    umn_cache *c = nullptr;
};

}  // namespace umn::test
