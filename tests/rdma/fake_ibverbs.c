/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A stand-in for libibverbs.so.1 with the three symbols the ibverbs registrar
 * resolves, so the host test can check what the registrar passes through
 * without an RDMA device. Each mr is a malloc'd record of its arguments;
 * a pd whose first byte is 'F' makes registration fail with EFAULT.
 */
#include "fake_ibverbs.h"

#include <errno.h>
#include <stdlib.h>

int fake_ibverbs_live_mrs;

void *ibv_reg_mr_iova2(void *pd, void *addr, size_t len, uint64_t iova, unsigned access) {
    if (*(const char *)pd == 'F') {
        errno = EFAULT;
        return NULL;
    }
    struct fake_mr *mr = malloc(sizeof *mr);
    if (!mr) return NULL;
    *mr = (struct fake_mr){pd, addr, len, iova, access};
    fake_ibverbs_live_mrs++;
    return mr;
}

void *ibv_reg_mr(void *pd, void *addr, size_t len, int access) {
    return ibv_reg_mr_iova2(pd, addr, len, (uintptr_t)addr, (unsigned)access);
}

int ibv_dereg_mr(void *mr) {
    free(mr);
    fake_ibverbs_live_mrs--;
    return 0;
}
