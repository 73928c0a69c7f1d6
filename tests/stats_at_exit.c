/* SPDX-License-Identifier: BSD-3-Clause */
/* UMN_STATS=1: a cache left open prints its statistics when the process
 * exits (ctest matches the line); one destroyed prints at destroy. */
#include <umn/umn.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static int reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    (void)ctx;
    (void)len;
    *handle = (uint64_t)(uintptr_t)addr;
    return 0;
}

static void dereg(void *ctx, void *addr, size_t len, uint64_t handle) {
    (void)ctx;
    (void)addr;
    (void)len;
    (void)handle;
}

int main(void) {
    struct umn_registrar r;
    umn_cache *kept, *closed;
    char *buffer = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    umn_region *region;
    int i, rc = umn_registrar_callbacks(&r, NULL, reg, dereg);
    if (buffer == MAP_FAILED) return 1;
    if (rc == 0) rc = umn_cache_create(&kept, &r, NULL);
    if (rc == 0) rc = umn_cache_create(&closed, &r, NULL);
    if (rc) {
        fprintf(stderr, "umn: %s\n", umn_last_error());
        return 1;
    }
    for (i = 0; i < 4 && rc == 0; ++i) {
        rc = umn_cache_get(kept, buffer, 64, &region);
        umn_cache_put(kept, region);
    }
    if (rc) fprintf(stderr, "umn: %s\n", umn_last_error());
    umn_cache_destroy(closed);
    return rc ? 1 : 0; /* `kept` is reported by the exit handler */
}
