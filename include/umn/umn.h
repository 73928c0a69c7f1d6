/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * umn: know when memory registered with a device stops being the memory the
 * device holds, and cache registrations on top of that.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; none sets errno, aborts or prints. All are thread-safe. In a child
 * created by fork() every call on an inherited object returns -ECHILD.
 * The contract is docs/design.md.
 */
#ifndef UMN_UMN_H
#define UMN_UMN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of these headers (CMake's project VERSION; checked at build). */
#define UMN_VERSION_MAJOR 0
#define UMN_VERSION_MINOR 1
#define UMN_VERSION_PATCH 0

/* The version of the library in use, "MAJOR.MINOR.PATCH" (static storage). */
const char *umn_version(void);

/* -------------------------------------------------------------------- errors */

/*
 * What a negative errno returned by umn means in umn's terms, e.g. -ECHILD:
 * "notifier opened by the parent process; open a new one in the child". The
 * sign is ignored. The string is static; never NULL.
 */
const char *umn_strerror(int err);
/*
 * Why the last failing umn call in this thread failed, in one line naming
 * the cause ("module umn not loaded (/dev/umn: No such file or directory)",
 * "UMN_CACHE_MAX_BYTES='lots' is not a size ..."); "" if none failed yet.
 * Successful calls leave it as it is. Valid until the thread's next umn call.
 */
const char *umn_last_error(void);

/* ------------------------------------------------------------------ notifier */

enum umn_monitor {
    UMN_MONITOR_AUTO = 0,   /* kernel, else hooks, else userfaultfd; UMN_MONITOR overrides */
    UMN_MONITOR_KERNEL = 1, /* the umn kernel module, /dev/umn */
    UMN_MONITOR_UFFD = 2,   /* userfaultfd events read by a monitor thread */
    UMN_MONITOR_HOOKS = 3   /* patched libc entry points */
};

typedef struct umn_notifier umn_notifier;

/* Opens a notifier watching this process's address space. */
int umn_notifier_open(umn_notifier **out, enum umn_monitor monitor);
/* Unregisters everything and frees the notifier. NULL is a no-op. */
void umn_notifier_close(umn_notifier *n);
/* The monitor actually in use (never UMN_MONITOR_AUTO); AUTO for NULL. */
enum umn_monitor umn_notifier_monitor(const umn_notifier *n);

/*
 * Watches every page that [addr, addr + len) touches under `cookie`.
 * -EINVAL: NULL, len == 0 or wrap-around; -EEXIST: cookie in use (live or
 * invalidated and not yet drained); -ENOSPC: over the limit; -ECHILD: after fork.
 */
int umn_register(umn_notifier *n, const void *addr, size_t len, uint64_t cookie);
/* Removes a registration, also one invalidated but not yet drained. -ENOENT if unknown. */
int umn_unregister(umn_notifier *n, uint64_t cookie);
/*
 * Moves up to `max` invalidated cookies into `cookies` and returns how many.
 * Each registration is reported at most once and then forgotten (one-shot).
 */
long umn_get_invalid(umn_notifier *n, uint64_t *cookies, size_t max);
/* A descriptor that polls readable (POLLIN) while invalidated cookies wait. */
int umn_notifier_fd(const umn_notifier *n);
/* Caps live plus undrained registrations (default 1<<20, or UMN_MAX_REGISTRATIONS). */
int umn_notifier_set_limit(umn_notifier *n, size_t max_registrations);

/* Implementation detail of umn_generation(); do not use. */
struct umn__notifier_head {
    const uint64_t *generation;
};

/*
 * A counter that only grows. It moves before the call that invalidated a
 * registration returns, and before that cookie can be drained: a cache that
 * compares it at each hit never serves memory unmapped before the lookup.
 * One acquire load, no system call. In a child made by fork() it reads
 * UINT64_MAX; in one made by a raw clone (no fork handlers), 0 or
 * UINT64_MAX, never a value it had in the parent.
 */
static inline uint64_t umn_generation(const umn_notifier *n) {
    if (!n) return 0;
    return __atomic_load_n(((const struct umn__notifier_head *)(const void *)n)->generation,
                           __ATOMIC_ACQUIRE);
}

/* --------------------------------------------------------------------- cache */

/*
 * A registration cache: umn_cache_get() returns a region registered with a
 * device (through a registrar) that covers [addr, addr + len), registering on
 * a miss; a hit costs a few loads and one atomic on the region's own cache
 * line. Regions whose memory is unmapped, replaced or discarded leave the
 * cache at once (the cache watches them with its own notifier) and are
 * deregistered after their last umn_cache_put(). docs/cache.md has the design.
 */
typedef struct umn_cache umn_cache;
typedef struct umn_region umn_region;

/*
 * How the cache registers memory with a device. `reg` registers the page
 * aligned [addr, addr + len) and stores a handle (an MR pointer, a buffer
 * index); it returns 0 or a negative errno (-ENOMEM, -EAGAIN, -ENOSPC and -ENOBUFS make
 * the cache evict unused regions and retry once). `dereg` undoes one `reg`.
 * reg runs in a thread that missed, under the cache's miss lock (hits never
 * take it); dereg runs there too or in the thread dropping a retired region's
 * last reference. Neither ever runs inside a monitor callback. Both must be
 * thread-safe if several threads use the cache.
 */
struct umn_registrar {
    void *ctx;
    int (*reg)(void *ctx, void *addr, size_t len, uint64_t *handle);
    void (*dereg)(void *ctx, void *addr, size_t len, uint64_t handle);
};

struct umn_cache_params {
    size_t struct_size;       /* sizeof(struct umn_cache_params) */
    enum umn_monitor monitor; /* AUTO by default */
    size_t max_regions;       /* 0 = default; LRU eviction of unused regions */
    size_t max_bytes;         /* 0 = default */
    size_t alignment;         /* registration granularity, 0 = page size */
};

/*
 * Opens a cache with its own notifier. The registrar is copied. Defaults:
 * max_regions 131072 (UMN_CACHE_MAX_REGIONS), max_bytes half of physical
 * memory and, for umn's registrars that pin pages (mlock, io_uring,
 * ibverbs without on-demand paging), at most 3/4 of RLIMIT_MEMLOCK
 * (UMN_CACHE_MAX_BYTES overrides), alignment the page size. -EINVAL: NULL
 * arguments, a registrar without reg/dereg, an alignment that is not a power
 * of two, a struct_size this library cannot read, or a UMN_CACHE_* variable
 * that does not parse (when the params leave that limit at 0).
 */
int umn_cache_create(umn_cache **out, const struct umn_registrar *r,
                     const struct umn_cache_params *p /* NULL = defaults */);
/*
 * Deregisters every region, also those still referenced (their umn_region
 * pointers become invalid), and frees the cache. NULL is a no-op. In a forked
 * child the inherited cache is abandoned without touching the device.
 */
void umn_cache_destroy(umn_cache *c);
/*
 * Takes a reference on a region covering [addr, addr + len). -EINVAL: NULL,
 * len == 0 or wrap-around; -ECHILD: in a forked child; otherwise the error of
 * the registrar or the notifier. *out is NULL on failure.
 */
int umn_cache_get(umn_cache *c, const void *addr, size_t len, umn_region **out);
/* Drops a reference. NULL, a region of another cache, or a put of a region
 * with no reference left are ignored. */
void umn_cache_put(umn_cache *c, umn_region *r);
/* What reg stored, the registered start and length (0/NULL for NULL). Stable
 * while the caller holds a reference. */
uint64_t umn_region_handle(const umn_region *r);
void *umn_region_addr(const umn_region *r);
size_t umn_region_len(const umn_region *r);

/* ---------------------------------------------------------------- statistics */

/*
 * Counters every cache and notifier keeps (always on: a hit adds one store
 * to a line it already writes). Versioned like umn_cache_params: the caller
 * sets struct_size to sizeof(struct umn_cache_stats) (or the stats
 * functions' _INIT macros do); the library fills the fields it knows that fit,
 * zeroes the rest, and returns 0; -EINVAL: NULL or a struct_size smaller
 * than struct_size plus one counter; -ECHILD: an object of the parent process.
 * UMN_STATS=1 prints both to stderr when an object is closed or the process
 * exits.
 */
struct umn_cache_stats {
    size_t struct_size;          /* sizeof(struct umn_cache_stats) */
    uint64_t hits;               /* gets served by a cached region */
    uint64_t misses;             /* gets that called the registrar */
    uint64_t evictions;          /* regions retired to honour the limits or to retry reg */
    uint64_t invalidations;      /* regions retired because their memory changed */
    uint64_t registrar_failures; /* reg calls that failed */
    uint64_t drains;             /* times a get drained the notifier's invalid list */
    uint64_t live_regions;       /* regions in the cache now */
    uint64_t live_bytes;         /* bytes they register */
    uint64_t retired_regions;    /* out of the cache, deregistered at their last put */
};
#define UMN_CACHE_STATS_INIT \
    { sizeof(struct umn_cache_stats), 0, 0, 0, 0, 0, 0, 0, 0, 0 }
/*
 * Hits on one region by threads at the same instant may be undercounted
 * (a hit adds to its region's counter without an atomic read-modify-write);
 * everything else is exact.
 */
int umn_cache_stats(const umn_cache *c, struct umn_cache_stats *out);

struct umn_notifier_stats {
    size_t struct_size;     /* sizeof(struct umn_notifier_stats) */
    uint64_t events;        /* invalidation events the monitor delivered to this notifier
                               (kernel monitor: generation moves) */
    uint64_t invalidated;   /* registrations moved to the invalid list (kernel: 0, unknown) */
    uint64_t drained;       /* cookies umn_get_invalid returned */
    uint64_t deferred;      /* invalidations deferred from a signal handler (hooks) */
    uint64_t registrations; /* live plus undrained registrations now (kernel: 0, unknown) */
};
#define UMN_NOTIFIER_STATS_INIT \
    { sizeof(struct umn_notifier_stats), 0, 0, 0, 0, 0 }
int umn_notifier_stats(const umn_notifier *n, struct umn_notifier_stats *out);

/* ---------------------------------------------------------------- registrars */

/*
 * Registrars that ship with umn. Each constructor fills *out and returns 0 or
 * a negative errno; a registrar holding resources is given back with
 * umn_registrar_release() once no cache uses it any more.
 */

/* Calls reg/dereg with ctx: the same as filling the struct by hand, with the
 * NULL checks done (-EINVAL). Nothing to release. */
int umn_registrar_callbacks(struct umn_registrar *out, void *ctx,
                            int (*reg)(void *ctx, void *addr, size_t len, uint64_t *handle),
                            void (*dereg)(void *ctx, void *addr, size_t len, uint64_t handle));

/* Locks the pages in memory (mlock). Overlapping regions are counted per
 * page, so a page is unlocked only when no region holds it. Handles count up
 * from 1. RLIMIT_MEMLOCK exhaustion comes back as -ENOMEM or -EAGAIN, so the
 * cache evicts and retries. Nothing to release. */
int umn_registrar_mlock(struct umn_registrar *out);

/*
 * io_uring fixed buffers. Installs a sparse buffer table of `slots` entries
 * (1..16384) in the ring and fills one slot per registration (handle = the
 * buffer index for IORING_OP_READ_FIXED / WRITE_FIXED). A full table gives
 * -ENOBUFS after the cache's eviction (-ENOSPC is the notifier's limit); a ring that already has a
 * buffer table gives -EBUSY. `ring` is liburing's struct io_uring, declared here only as an
 * incomplete type so that umn.h needs no liburing header and libumn no
 * liburing library (the registrar talks to the kernel directly). Release it
 * before io_uring_queue_exit().
 */
struct io_uring;
int umn_registrar_io_uring(struct umn_registrar *out, struct io_uring *ring, unsigned slots);

/*
 * CUDA page-locked host memory: reg is cudaHostRegister(addr, len, flags)
 * (flags as cudaHostRegister takes them: cudaHostRegisterDefault 0,
 * Portable 1, Mapped 2, ...), dereg cudaHostUnregister, handle the
 * registered host address. The CUDA runtime is loaded with dlopen at the
 * first call (UMN_CUDART_LIBRARY, else libcudart.so and its versioned
 * sonames), so libumn does not link it. -ENOTSUP, with the reason in
 * umn_last_error(), when the library, the driver or a device is missing.
 * Memory already registered with CUDA by someone else makes reg fail with
 * -EAGAIN. Release it with umn_registrar_release().
 */
int umn_registrar_cuda(struct umn_registrar *out, unsigned flags);

/* Frees what a umn_registrar_* constructor allocated and clears *r. A
 * registrar filled by hand, or already released, is only cleared. */
void umn_registrar_release(struct umn_registrar *r);

#ifdef __cplusplus
}
#endif

#endif /* UMN_UMN_H */
