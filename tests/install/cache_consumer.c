/* SPDX-License-Identifier: BSD-3-Clause */
/* An outside program written only from DESIGN.md and built against the
 * installed library: a callback registrar that counts reg/dereg, and the
 * cache promises a user relies on. A hit returns the same handle; after
 * munmap + mmap at the same address, get registers anew; a referenced
 * invalidated region is deregistered only at its last put; destroy
 * deregisters the rest. */
#define _GNU_SOURCE
#include <umn/umn.h>

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

struct counts {
    int regs, deregs;
    uint64_t next;
};

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

static int count_reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    struct counts *c = ctx;
    (void)addr, (void)len;
    c->regs++;
    *handle = ++c->next;
    return 0;
}

static void count_dereg(void *ctx, void *addr, size_t len, uint64_t handle) {
    struct counts *c = ctx;
    (void)addr, (void)len, (void)handle;
    c->deregs++;
}

static char *map_at(void *where, size_t len) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (where ? MAP_FIXED : 0);
    char *p = mmap(where, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int main(void) {
    size_t len = 4 * (size_t)sysconf(_SC_PAGESIZE);
    struct counts counts = {0, 0, 0};
    struct umn_registrar registrar = {&counts, count_reg, count_dereg};
    umn_cache *cache = NULL;
    umn_region *first = NULL, *again = NULL, *fresh = NULL, *other = NULL;
    char *buf = map_at(NULL, len), *spare = map_at(NULL, len);
    if (!buf || !spare || umn_cache_create(&cache, &registrar, NULL) != 0) {
        fprintf(stderr, "FAIL: setup\n");
        return 1;
    }

    check(umn_cache_get(cache, buf + 10, 100, &first) == 0, "first get");
    check(umn_cache_get(cache, buf + 10, 100, &again) == 0, "second get");
    check(first == again && umn_region_handle(first) == umn_region_handle(again),
          "a hit returns the same region and handle");
    check(counts.regs == 1, "one registration for two gets");
    umn_cache_put(cache, again);

    /* `first` stays referenced while its memory is replaced. */
    check(munmap(buf, len) == 0 && map_at(buf, len) == buf, "munmap + mmap at the same address");
    check(umn_cache_get(cache, buf + 10, 100, &fresh) == 0, "get after the replacement");
    check(counts.regs == 2 && umn_region_handle(fresh) != umn_region_handle(first),
          "the replaced memory is registered anew");
    check(counts.deregs == 0, "a referenced invalidated region is not deregistered");
    umn_cache_put(cache, first);
    check(counts.deregs == 1, "its last put deregisters it");

    check(umn_cache_get(cache, spare, len, &other) == 0, "get of another buffer");
    umn_cache_put(cache, fresh);
    umn_cache_put(cache, other);
    umn_cache_destroy(cache);
    check(counts.deregs == counts.regs, "destroy deregisters the rest");
    printf("%s: %d registrations, %d deregistrations\n", failures ? "FAILED" : "ok", counts.regs,
           counts.deregs);
    return failures ? 1 : 0;
}
