/* SPDX-License-Identifier: BSD-3-Clause */
/* An outside program written only from DESIGN.md and built against the
 * installed library (pkg-config or find_package): it runs the 2009 seed's
 * mmap sequence and checks that each cookie is drained exactly once. */
#define _GNU_SOURCE
#include <umn/umn.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

static int by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Drains the invalid list and checks it held exactly the expected cookies. */
static void expect_drained(umn_notifier *n, const uint64_t *want, long count, const char *step) {
    uint64_t got[8];
    long k = umn_get_invalid(n, got, 8);
    char what[128];
    snprintf(what, sizeof what, "%s: drained %ld cookies, expected %ld", step, k, count);
    check(k == count, what);
    if (k > 0) qsort(got, (size_t)k, sizeof got[0], by_value);
    for (long i = 0; i < k && i < count; i++) {
        snprintf(what, sizeof what, "%s: cookie %llu", step, (unsigned long long)want[i]);
        check(got[i] == want[i], what);
    }
    check(umn_get_invalid(n, got, 8) == 0, "a cookie was reported twice");
}

static void *map_fixed(void *at, size_t len) {
    return mmap(at, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

int main(void) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    umn_notifier *n = NULL;
    int rc = umn_notifier_open(&n, UMN_MONITOR_AUTO);
    if (rc < 0) {
        fprintf(stderr, "umn_notifier_open: %s\n", strerror(-rc));
        return 1;
    }
    char *t = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    check(t != MAP_FAILED, "mmap 3 pages");

    uint64_t gen = umn_generation(n);
    check(umn_register(n, t, 3 * pg, 1) == 0, "register cookie 1");
    check(map_fixed(t + pg, pg) != MAP_FAILED, "mmap MAP_FIXED over the middle");
    check(umn_generation(n) > gen, "generation moved after MAP_FIXED");
    expect_drained(n, (uint64_t[]){1}, 1, "after MAP_FIXED");

    gen = umn_generation(n);
    check(umn_register(n, t, 3 * pg, 2) == 0, "register cookie 2");
    check(munmap(t + pg, pg) == 0, "munmap the middle page");
    check(umn_generation(n) > gen, "generation moved after munmap");
    expect_drained(n, (uint64_t[]){2}, 1, "after munmap");

    check(umn_register(n, t, pg, 3) == 0, "register cookie 3 (first page)");
    check(umn_register(n, t + 2 * pg, pg, 4) == 0, "register cookie 4 (last page)");
    check(map_fixed(t + pg, pg) != MAP_FAILED, "mmap MAP_FIXED into the hole");
    expect_drained(n, NULL, 0, "after MAP_FIXED into the hole");

    check(munmap(t, 3 * pg) == 0, "munmap everything");
    expect_drained(n, (uint64_t[]){3, 4}, 2, "after munmap of everything");
    check(umn_unregister(n, 3) == -ENOENT, "unregister of a drained cookie is -ENOENT");
    enum umn_monitor monitor = umn_notifier_monitor(n);
    umn_notifier_close(n);
    printf("seed_consumer (monitor %d): %s\n", (int)monitor, failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
