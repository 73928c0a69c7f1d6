// SPDX-License-Identifier: BSD-3-Clause
#include "ucx_cache.hpp"

extern "C" {
#include <ucm/api/ucm.h>
}

#include <cerrno>
#include <climits>
#include <cstdint>

namespace umn::bench {

namespace {

ucs_status_t count_reg(void *context, ucs_rcache_t *, void *, ucs_rcache_region_t *, uint16_t) {
    static_cast<registrar_counts *>(context)->regs.fetch_add(1, std::memory_order_relaxed);
    return UCS_OK;
}

void count_dereg(void *context, ucs_rcache_t *, ucs_rcache_region_t *) {
    static_cast<registrar_counts *>(context)->deregs.fetch_add(1, std::memory_order_relaxed);
}

void dump_nothing(void *, ucs_rcache_t *, ucs_rcache_region_t *, char *buf, size_t max) {
    if (max) buf[0] = '\0';
}

const ucs_rcache_ops_t counting_ops = {count_reg, count_dereg, dump_nothing};

}  // namespace

ucx_cache::~ucx_cache() {
    if (cache_) ucs_rcache_destroy(cache_);
}

int ucx_cache::open(const cache_config &config, std::string *why) {
    ucs_rcache_params_t p = {};
    p.region_struct_size = sizeof(ucs_rcache_region_t);
    p.alignment = page_size();
    p.max_alignment = page_size();
    p.ucm_events = UCM_EVENT_VM_UNMAPPED;
    p.ucm_event_priority = 1000;
    p.ops = &counting_ops;
    p.context = config.counts;
    p.flags = 0;  // as UCP uses it: LRU eviction on, no PFN check unless UCX_RCACHE_CHECK_PFN
    p.max_regions = config.max_regions;
    p.max_size = config.max_bytes;
    p.max_unreleased = SIZE_MAX;
    ucs_status_t status = ucs_rcache_create(&p, "umn-bench", nullptr, &cache_);
    if (status != UCS_OK) {
        cache_ = nullptr;
        *why = std::string("ucs_rcache_create: ") + ucs_status_string(status);
        return -EIO;
    }
    return 0;
}

}  // namespace umn::bench
