/* SPDX-License-Identifier: BSD-3-Clause */
/* What the fake libibverbs (fake_ibverbs.c) returns as a struct ibv_mr *:
 * the arguments of the registration, for the registrar test to inspect. */
#ifndef UMN_TESTS_FAKE_IBVERBS_H
#define UMN_TESTS_FAKE_IBVERBS_H

#include <stddef.h>
#include <stdint.h>

struct fake_mr {
    void *pd;
    void *addr;
    size_t len;
    uint64_t iova;
    unsigned access;
};

#endif
