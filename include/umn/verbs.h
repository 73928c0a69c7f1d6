/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * umn/verbs.h: the ibverbs registrar for umn's registration cache.
 *
 * A companion header rather than part of umn.h: umn.h stays free of RDMA
 * (programs that never use verbs see none of it), and this header needs only
 * forward declarations, so it compiles without rdma-core's headers. libumn
 * opens libibverbs.so.1 with dlopen at the first call here, so linking -lumn
 * adds no dependency on rdma-core either.
 *
 *   struct umn_registrar r;
 *   umn_registrar_ibverbs(&r, pd, IBV_ACCESS_LOCAL_WRITE);
 *   umn_cache_create(&cache, &r, NULL);
 *   ... umn_cache_get(cache, buf, len, &region);
 *       struct ibv_mr *mr = umn_region_mr(region);    lkey/rkey for the work request
 *   umn_cache_destroy(cache);
 *   umn_registrar_release(&r);
 */
#ifndef UMN_VERBS_H
#define UMN_VERBS_H

#include <umn/umn.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ibv_pd;
struct ibv_mr;

/*
 * Fills *out with a registrar whose reg is ibv_reg_mr(pd, page range,
 * access) and whose dereg is ibv_dereg_mr; a region's handle is its
 * struct ibv_mr * (see umn_region_mr). reg returns -errno from ibv_reg_mr
 * (-ENOMEM when the locked-memory limit is reached lets the cache evict and
 * retry). The pd must outlive every cache using the registrar; give the
 * registrar back with umn_registrar_release() after the last such cache is
 * destroyed. -EINVAL: out or pd is NULL; -ENOTSUP: libibverbs.so.1 cannot be
 * loaded (`umn info` says why); -ENOMEM.
 */
int umn_registrar_ibverbs(struct umn_registrar *out, struct ibv_pd *pd, int access);

/* The memory region behind a region of a cache on the ibverbs registrar. */
static inline struct ibv_mr *umn_region_mr(const umn_region *r) {
    return (struct ibv_mr *)(uintptr_t)umn_region_handle(r);
}

#ifdef __cplusplus
}
#endif

#endif /* UMN_VERBS_H */
