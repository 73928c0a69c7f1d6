/* SPDX-License-Identifier: BSD-3-Clause */
/* The public C header must compile as strict C11 (and later) on its own. */
#include <umn/umn.h>
#include <umn/verbs.h> /* without rdma-core's headers */
#include <umn/ofi.h>   /* without libfabric's headers */

uint64_t header_check_c(const umn_notifier *n) {
    return umn_generation(n);
}

struct ibv_mr *header_check_verbs_c(const umn_region *r) {
    return umn_region_mr(r);
}

/* The stats structs and their initializers, as C. */
uint64_t header_check_stats_c(const umn_cache *c, const umn_notifier *n) {
    struct umn_cache_stats cs = UMN_CACHE_STATS_INIT;
    struct umn_notifier_stats ns = UMN_NOTIFIER_STATS_INIT;
    if (umn_cache_stats(c, &cs) || umn_notifier_stats(n, &ns)) return 0;
    return cs.hits + ns.events;
}
