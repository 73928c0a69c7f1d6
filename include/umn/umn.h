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

#define UMN_VERSION_MAJOR 0
#define UMN_VERSION_MINOR 1

/* ------------------------------------------------------------------ notifier */

enum umn_monitor {
    UMN_MONITOR_AUTO = 0,   /* kernel, else userfaultfd, else hooks; UMN_MONITOR overrides */
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
 * One acquire load, no system call. In a forked child it reads UINT64_MAX.
 */
static inline uint64_t umn_generation(const umn_notifier *n) {
    if (!n) return 0;
    return __atomic_load_n(((const struct umn__notifier_head *)(const void *)n)->generation,
                           __ATOMIC_ACQUIRE);
}

#ifdef __cplusplus
}
#endif

#endif /* UMN_UMN_H */
