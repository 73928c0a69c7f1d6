// SPDX-License-Identifier: BSD-3-Clause
#include "umn_cache.hpp"

#include "config/options.hpp"

#include <cstring>

namespace umn::bench {

namespace {

int count_reg(void *ctx, void *, size_t, uint64_t *handle) {
    *handle = static_cast<registrar_counts *>(ctx)->regs.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

void count_dereg(void *ctx, void *, size_t, uint64_t) {
    static_cast<registrar_counts *>(ctx)->deregs.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

umn_cache_side::~umn_cache_side() {
    if (cache_) umn_cache_destroy(cache_);
}

int umn_cache_side::open(const cache_config &config, std::string *why) {
    registrar_ = {config.counts, count_reg, count_dereg};
    umn_cache_params p = {};
    p.struct_size = sizeof(p);
    p.monitor = config.monitor;
    p.max_regions = config.max_regions;
    p.max_bytes = config.max_bytes;
    p.alignment = 0;
    int rc = umn_cache_create(&cache_, &registrar_, &p);
    if (rc < 0) {
        cache_ = nullptr;
        *why = std::string("umn_cache_create(") + monitor_name(config.monitor) +
               "): " + std::strerror(-rc);
    }
    return rc;
}

}  // namespace umn::bench
