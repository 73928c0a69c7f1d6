/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One cache, several threads: each worker repeatedly takes a region for its
 * own buffer (a hit after the first time) and checks that the region covers
 * the buffer, while the main thread keeps replacing one shared buffer with
 * new memory at the same address. Every get of the shared buffer that starts
 * after a replacement returned must see a region registered after it began:
 * the registrar stamps each registration with a counter, and the main thread
 * publishes, after each replacement, the counter value it read before it.
 *
 *   cc -pthread cache_threads.c $(pkg-config --cflags --libs umn)
 *
 * Exit status: 0 when no thread saw a region older than the memory, 1
 * otherwise.
 */
#define _GNU_SOURCE
#include <umn/umn.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

enum { workers = 4, rounds = 2000, replacements = 200, buffer_len = 64 * 1024 };

static atomic_ulong registrations;  /* the registrar's stamp */
static atomic_ulong replaced_after; /* stamp read before the latest replacement */
static atomic_int stale, done;
static char *shared;
static umn_cache *cache;

/* A registrar standing in for a device: the handle is a stamp. */
static int reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    (void)ctx, (void)addr, (void)len;
    *handle = atomic_fetch_add(&registrations, 1) + 1;
    return 0;
}
static void dereg(void *ctx, void *addr, size_t len, uint64_t handle) {
    (void)ctx, (void)addr, (void)len, (void)handle;
}

static void *worker(void *arg) {
    char *own = arg;
    for (int i = 0; i < rounds || !atomic_load(&done); i++) {
        umn_region *r;
        unsigned long floor = atomic_load(&replaced_after);
        if (umn_cache_get(cache, shared, buffer_len, &r) == 0) {
            if (umn_region_handle(r) <= floor) atomic_fetch_add(&stale, 1);
            umn_cache_put(cache, r);
        }
        if (umn_cache_get(cache, own, buffer_len, &r) == 0) {
            char *start = umn_region_addr(r);
            if (start > own || start + umn_region_len(r) < own + buffer_len)
                atomic_fetch_add(&stale, 1);
            umn_cache_put(cache, r);
        }
    }
    return NULL;
}

static char *map(void *at) {
    char *p = mmap(at, buffer_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int main(void) {
    struct umn_registrar r;
    int rc = umn_registrar_callbacks(&r, NULL, reg, dereg);
    if (rc == 0) rc = umn_cache_create(&cache, &r, NULL);
    if (rc < 0) {
        fprintf(stderr, "umn_cache_create: %s\n", strerror(-rc));
        return 1;
    }
    shared = map(NULL);
    char *own[workers];
    pthread_t threads[workers];
    for (int i = 0; i < workers; i++) {
        own[i] = map(NULL);
        pthread_create(&threads[i], NULL, worker, own[i]);
    }
    for (int i = 0; i < replacements; i++) {
        /* A registration stamped up to `before` was made before the new
         * memory existed; once map() has returned, no get may return it. */
        unsigned long before = atomic_load(&registrations);
        if (map(shared) != shared) atomic_fetch_add(&stale, 1);
        atomic_store(&replaced_after, before);
        /* Let a worker miss on the new memory before replacing it again. */
        for (long spins = 0; atomic_load(&registrations) == before; spins++) {
            if (spins == 1000000) {
                fprintf(stderr, "cache_threads: no worker registered the new memory\n");
                atomic_fetch_add(&stale, 1);
                break;
            }
            sched_yield();
        }
    }
    atomic_store(&done, 1);
    for (int i = 0; i < workers; i++) pthread_join(threads[i], NULL);
    umn_cache_destroy(cache);
    printf("cache_threads: %d threads, %d replacements, %lu registrations, %d stale: %s\n", workers,
           replacements, atomic_load(&registrations), atomic_load(&stale),
           atomic_load(&stale) ? "FAILED" : "ok");
    return atomic_load(&stale) ? 1 : 0;
}
