// SPDX-License-Identifier: BSD-3-Clause
// A registrar that models a device for the cache tests: reg captures one
// value per page it registers, as a device would capture the physical pages:
// by default the page's stamp (stamped_slots.hpp), refusing (-EAGAIN) a
// range with a page whose stamp is 0 (mid-replacement); or any other capture,
// such as the physical frame from /proc/self/pagemap. With fail_one_in > 0
// it also fails at random with -ENOMEM, -EAGAIN or -EFAULT (fault
// injection). It checks that every dereg matches one live reg, exactly once.
//
// Thread-safe: one mutex around the records and the random generator.
#pragma once

#include <umn/umn.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

namespace umn::reliability {

struct registrar_counts {
    uint64_t regs = 0;
    uint64_t deregs = 0;
    uint64_t injected = 0;    // failures injected
    uint64_t refused = 0;     // stamp 0
    uint64_t bad_deregs = 0;  // unknown handle, or range not the one registered
};

class stamp_registrar {
  public:
    // One value per page of [addr, addr + len).
    using capture_fn = std::function<std::vector<uint64_t>(const void *addr, size_t len)>;

    explicit stamp_registrar(unsigned fail_one_in = 0, unsigned seed = 1);
    // Captures with `capture`; a page captured as 0 is accepted (and never
    // compared) unless refuse_zero.
    stamp_registrar(capture_fn capture, bool refuse_zero);
    umn_registrar registrar();

    // The value the registration `handle` captured for the page at `addr`
    // (which the region must cover); 0 if the handle is not live.
    uint64_t captured(uint64_t handle, const void *addr) const;
    registrar_counts counts() const;
    size_t live() const;

  private:
    struct record {
        uintptr_t start;
        size_t len;
        std::vector<uint64_t> stamps;
    };
    static int reg(void *ctx, void *addr, size_t len, uint64_t *handle);
    static void dereg(void *ctx, void *addr, size_t len, uint64_t handle);
    int injected_error();

    mutable std::mutex lock_;
    std::unordered_map<uint64_t, record> live_;
    uint64_t next_handle_ = 1;
    capture_fn capture_;
    bool refuse_zero_ = true;
    unsigned fail_one_in_ = 0;
    std::mt19937 rng_;
    registrar_counts counts_;
};

}  // namespace umn::reliability
