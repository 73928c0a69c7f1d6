// SPDX-License-Identifier: BSD-3-Clause
// What both caches in the benchmark share: a registrar that does nothing but
// count (so a miss costs only the cache's own work), the cache limits, and
// the page helpers. Counters are relaxed atomics: the benchmark reads them
// only to check that a hit loop really hit and a drain really drained.
#pragma once

#include <umn/umn.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unistd.h>

namespace umn::bench {

inline size_t page_size() {
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return page;
}

struct registrar_counts {
    std::atomic<uint64_t> regs{0};
    std::atomic<uint64_t> deregs{0};
    uint64_t live() const {
        return regs.load(std::memory_order_relaxed) - deregs.load(std::memory_order_relaxed);
    }
};

struct cache_config {
    size_t max_regions = size_t{1} << 20;
    size_t max_bytes = size_t{1} << 40;
    enum umn_monitor monitor = UMN_MONITOR_AUTO;  // umn only
    registrar_counts *counts = nullptr;           // required
};

}  // namespace umn::bench
