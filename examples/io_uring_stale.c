/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bug umn exists for, with io_uring fixed buffers.
 *
 * A program registers a buffer with io_uring once and keeps the buffer index
 * (what a hand-written cache does). It then munmaps the buffer, maps new
 * memory at the same address with new contents, and writes the buffer to a
 * file with IORING_OP_WRITE_FIXED: the file receives the OLD contents,
 * because io_uring kept the pages it pinned at registration.
 *
 * The same program asking umn's cache for the buffer before each write gets
 * a fresh registration after the munmap, and the file receives the new
 * contents.
 *
 *   cc io_uring_stale.c $(pkg-config --cflags --libs umn) -luring
 *
 * Exit status: 0 when the naive way wrote the old contents and umn the new
 * ones, 1 on any other outcome, 77 when io_uring is unavailable here.
 */
#define _GNU_SOURCE
#include <umn/umn.h>

#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { buffer_len = 64 * 1024 };

static struct io_uring ring;
static int file = -1;

/* Writes `buf` to the file through fixed buffer `index`; returns the first
 * byte the file received, or 0. */
static char write_fixed(char *buf, uint64_t index) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    struct io_uring_cqe *cqe;
    char first = 0;
    if (!sqe) return 0;
    io_uring_prep_write_fixed(sqe, file, buf, buffer_len, 0, (int)index);
    if (io_uring_submit(&ring) != 1 || io_uring_wait_cqe(&ring, &cqe) != 0) return 0;
    int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    if (res != buffer_len || pread(file, &first, 1, 0) != 1) return 0;
    return first;
}

/* A buffer filled with `fill`, at `at` if not NULL. */
static char *map_buffer(void *at, char fill) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0);
    char *p = mmap(at, buffer_len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
    memset(p, fill, buffer_len);
    return p;
}

/* munmap, then new memory with new contents at the same address. */
static int replace_buffer(char *buf, char fill) {
    return munmap(buf, buffer_len) == 0 && map_buffer(buf, fill) == buf ? 0 : -1;
}

static int naive(struct umn_registrar *r) {
    char *buf = map_buffer(NULL, 'o');
    uint64_t index;
    if (!buf || r->reg(r->ctx, buf, buffer_len, &index) != 0) return -1;
    char before = write_fixed(buf, index);
    if (replace_buffer(buf, 'n') != 0) return -1;
    char after = write_fixed(buf, index); /* the index registered once */
    printf("without umn: wrote '%c', replaced the buffer with 'n', wrote '%c'%s\n", before, after,
           after == 'o' ? "  <- the old pages: stale" : "");
    r->dereg(r->ctx, buf, buffer_len, index);
    munmap(buf, buffer_len);
    return after == 'o' ? 0 : -1;
}

/* get + write + put through the cache. */
static char cached_write(umn_cache *cache, char *buf) {
    umn_region *region;
    if (umn_cache_get(cache, buf, buffer_len, &region) != 0) return 0;
    char first = write_fixed(buf, umn_region_handle(region));
    umn_cache_put(cache, region);
    return first;
}

static int with_umn(struct umn_registrar *r) {
    umn_cache *cache;
    int rc = umn_cache_create(&cache, r, NULL);
    if (rc != 0) {
        fprintf(stderr, "umn_cache_create: %s\n", strerror(-rc));
        return -1;
    }
    char *buf = map_buffer(NULL, 'o');
    char before = buf ? cached_write(cache, buf) : 0;
    char after = buf && replace_buffer(buf, 'n') == 0 ? cached_write(cache, buf) : 0;
    printf("with umn:    wrote '%c', replaced the buffer with 'n', wrote '%c'%s\n", before, after,
           after == 'n' ? "  <- re-registered: correct" : "");
    umn_cache_destroy(cache);
    if (buf) munmap(buf, buffer_len);
    return after == 'n' ? 0 : -1;
}

int main(void) {
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        fprintf(stderr, "io_uring unavailable: %s\n", strerror(-rc));
        return 77;
    }
    file = memfd_create("umn-io_uring-example", MFD_CLOEXEC);
    if (file < 0) {
        perror("memfd_create");
        return 1;
    }
    struct umn_registrar r;
    rc = umn_registrar_io_uring(&r, &ring, 8);
    if (rc != 0) {
        fprintf(stderr, "umn_registrar_io_uring: %s\n", strerror(-rc));
        return 1;
    }
    int status = (naive(&r) != 0) | (with_umn(&r) != 0);
    umn_registrar_release(&r);
    io_uring_queue_exit(&ring);
    return status;
}
