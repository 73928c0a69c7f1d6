/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The notifier alone, in C, for a program that keeps its own table of
 * registrations and sleeps in poll(): watch four buffers, unmap two of them,
 * wake up when umn_notifier_fd() turns readable, drain the invalidated
 * cookies, and drop those entries from the table.
 *
 *   cc notifier_poll.c $(pkg-config --cflags --libs umn)
 *
 * Exit status: 0 when exactly the two unmapped buffers were reported, 1
 * otherwise.
 */
#define _GNU_SOURCE
#include <umn/umn.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { buffers = 4 };

/* The program's own table: cookie i is entry i. */
static struct entry {
    char *addr;
    size_t len;
    int live;
} table[buffers];

static int watch_all(umn_notifier *n) {
    size_t len = 3 * (size_t)sysconf(_SC_PAGESIZE);
    for (uint64_t i = 0; i < buffers; i++) {
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
        memset(p, 'a' + (int)i, len);
        table[i] = (struct entry){p, len, 1};
        int rc = umn_register(n, p, len, i);
        if (rc < 0) {
            fprintf(stderr, "umn_register: %s\n", strerror(-rc));
            return -1;
        }
    }
    return 0;
}

/* Waits until cookies are waiting, drains them and marks their entries
 * dead; returns how many entries died, or -1. */
static int drain_when_readable(umn_notifier *n) {
    struct pollfd p = {.fd = umn_notifier_fd(n), .events = POLLIN};
    if (p.fd < 0 || poll(&p, 1, 5000) != 1) return -1;
    uint64_t cookies[buffers];
    long count = umn_get_invalid(n, cookies, buffers);
    for (long i = 0; i < count; i++) {
        printf("cookie %llu invalidated: entry %llu is no longer the memory registered\n",
               (unsigned long long)cookies[i], (unsigned long long)cookies[i]);
        table[cookies[i]].live = 0;
    }
    return (int)count;
}

int main(void) {
    umn_notifier *n;
    int rc = umn_notifier_open(&n, UMN_MONITOR_AUTO);
    if (rc < 0) {
        fprintf(stderr, "umn_notifier_open: %s\n", strerror(-rc));
        return 1;
    }
    uint64_t before = umn_generation(n);
    int ok = watch_all(n) == 0;
    /* The generation moves inside these calls; the fd polls readable after. */
    ok = ok && munmap(table[1].addr, table[1].len) == 0 && munmap(table[3].addr, table[3].len) == 0;
    ok = ok && umn_generation(n) != before;
    ok = ok && drain_when_readable(n) == 2;
    ok = ok && table[0].live && !table[1].live && table[2].live && !table[3].live;
    for (uint64_t i = 0; i < buffers; i++)
        if (table[i].live) {
            umn_unregister(n, i);
            munmap(table[i].addr, table[i].len);
        }
    umn_notifier_close(n);
    printf("notifier_poll: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
