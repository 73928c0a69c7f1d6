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
