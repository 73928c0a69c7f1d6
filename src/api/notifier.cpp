// SPDX-License-Identifier: BSD-3-Clause
// The C API of the notifier: argument checks, fork checks, dispatch to the
// backend. Thread safety is the backend's (see core.hpp, monitor/kernel.cpp).
#include "api/notifier.hpp"
#include "api/owned.hpp"

#include "core/core.hpp"
#include "config/options.hpp"
#include "diagnostics/reason.hpp"
#include "diagnostics/stats.hpp"
#include "monitor/monitor.hpp"
#include "os/sys.hpp"

#include <atomic>
#include <cerrno>
#include <new>
#include <string>

static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t) &&
                  std::atomic<uint64_t>::is_always_lock_free,
              "umn_generation() loads the counter as a plain uint64_t");

namespace umn {

namespace {

int open_core(event_source *source, int error, std::unique_ptr<backend> *out) {
    if (!source) return error;
    auto c = std::unique_ptr<core>(new (std::nothrow) core(*source));
    if (!c) return -ENOMEM;
    if (int rc = c->error()) return rc;
    *out = std::move(c);
    return 0;
}

}  // namespace

int open_backend(umn_monitor monitor, std::unique_ptr<backend> *out) {
    // Before a process-wide source is made: every child must reset it.
    if (int rc = install_fork_handlers()) return rc;
    int error = 0;
    switch (monitor) {
        case UMN_MONITOR_KERNEL:
            *out = open_kernel_backend(&error);
            return *out ? 0 : error;
        case UMN_MONITOR_UFFD: {
            event_source *s = uffd_source(&error);
            return open_core(s, error, out);
        }
        case UMN_MONITOR_HOOKS: {
            event_source *s = hooks_source(&error);
            return open_core(s, error, out);
        }
        default:
            return -EINVAL;
    }
}

umn_monitor choose_monitor(umn_monitor requested, std::string *why) {
    if (requested != UMN_MONITOR_AUTO) {
        *why = "requested by the caller";
        return requested;
    }
    const options_t &o = options();
    if (o.error[static_cast<unsigned>(option::monitor)].empty() && o.monitor != UMN_MONITOR_AUTO) {
        *why = "UMN_MONITOR=" + o.text[static_cast<unsigned>(option::monitor)];
        return o.monitor;
    }
    // Cheapest complete monitor first: the kernel sees every change
    // synchronously; the hooks add a few hundred ns to a hooked call and
    // invalidate before it returns; userfaultfd adds a round trip through a
    // monitor thread (~10-20 us) to every unmapping call over registered
    // memory and cannot close the race between a discard and a
    // registration, so it is the last resort.
    probe_result k = probe_kernel();
    if (k.error == 0) {
        *why = "kernel module present: " + k.detail;
        return UMN_MONITOR_KERNEL;
    }
    probe_result h = probe_hooks();
    if (h.error == 0) {
        *why = "no kernel module (" + k.detail +
               "); hooks usable: synchronous and cheapest without the module, "
               "blind to raw system calls";
        return UMN_MONITOR_HOOKS;
    }
    probe_result u = probe_uffd();
    if (u.error == 0) {
        *why =
            "no kernel module (" + k.detail + "), no hooks (" + h.detail + "); userfaultfd usable";
        return UMN_MONITOR_UFFD;
    }
    *why = "no kernel module (" + k.detail + "), no hooks (" + h.detail + "), no userfaultfd (" +
           u.detail + ")";
    return UMN_MONITOR_HOOKS;
}

}  // namespace umn

using umn::fail;
using umn::finish;
using umn::fork_epoch;
using umn::reason_mark;

namespace {

// 0 when n may be used by this process, else the error to return.
int check(const umn_notifier *n, const char *call) {
    if (!n) return fail(-EINVAL, "%s: the notifier is NULL", call);
    if (n->fork_epoch != fork_epoch())
        return fail(-ECHILD,
                    "%s: notifier opened by the parent process; open a new one in the child", call);
    return 0;
}

// Why the backend of `monitor` did not open: what its probe sees.
int open_failure(int rc, umn_monitor monitor) {
    umn::probe_result p;
    try {
        p = monitor == UMN_MONITOR_KERNEL ? umn::probe_kernel()
            : monitor == UMN_MONITOR_UFFD ? umn::probe_uffd()
                                          : umn::probe_hooks();
    } catch (const std::bad_alloc &) {
        return rc;
    }
    if (p.error == 0 || p.detail.empty()) return rc;  // finish() says what rc means
    if (monitor == UMN_MONITOR_UFFD && rc == -EPERM)
        return fail(rc,
                    "userfaultfd not permitted: vm.unprivileged_userfaultfd=%c and no "
                    "CAP_SYS_PTRACE (%s)",
                    umn::sys::read_sysctl_char("vm/unprivileged_userfaultfd"), p.detail.c_str());
    return fail(rc, "%s monitor unavailable: %s", umn::monitor_name(monitor), p.detail.c_str());
}

int open_notifier(umn_notifier **out, enum umn_monitor monitor) {
    if (!out) return fail(-EINVAL, "umn_notifier_open: out is NULL");
    *out = nullptr;
    if (monitor < UMN_MONITOR_AUTO || monitor > UMN_MONITOR_HOOKS)
        return fail(-EINVAL,
                    "umn_notifier_open: monitor %d is not one of AUTO, KERNEL, UFFD, HOOKS",
                    static_cast<int>(monitor));
    umn_monitor chosen;
    try {  // options and the probes build strings
        if (monitor == UMN_MONITOR_AUTO)
            if (int rc = umn::require(umn::option::monitor)) return rc;
        if (int rc = umn::require(umn::option::max_registrations)) return rc;
        if (int rc = umn::require(umn::option::stats)) return rc;
        std::string why;
        chosen = umn::choose_monitor(monitor, &why);
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
    std::unique_ptr<umn::backend> backend;
    if (int rc = umn::open_backend(chosen, &backend)) return open_failure(rc, chosen);
    auto *n = new (std::nothrow) umn_notifier{};
    if (!n) return -ENOMEM;
    n->head.generation = backend->generation();
    n->monitor = chosen;
    n->fork_epoch = fork_epoch();
    n->limit.store(umn::options().max_registrations, std::memory_order_relaxed);
    n->backend = backend.release();
    if (int rc = umn::registry_add(n)) {
        delete n->backend;
        delete n;
        return rc;
    }
    umn::stats_track(n);
    *out = n;
    return 0;
}

// The reason for a failed add, in the caller's terms.
int add_failure(const umn_notifier *n, int rc, const void *addr, size_t len, uint64_t cookie) {
    auto cookie_value = static_cast<unsigned long long>(cookie);
    switch (rc) {
        case -EEXIST:
            return fail(rc,
                        "umn_register: cookie %#llx is in use (live, or invalidated and not "
                        "yet drained)",
                        cookie_value);
        case -ENOSPC:
            return fail(rc,
                        "umn_register: the notifier's limit of %zu registrations is reached "
                        "(live plus undrained; umn_notifier_set_limit, UMN_MAX_REGISTRATIONS)",
                        n->limit.load(std::memory_order_relaxed));
        case -EBUSY:
            return fail(rc,
                        "umn_register: [%p, +%zu) is watched by another userfaultfd (the "
                        "application's own, or another library's)",
                        addr, len);
        case -ENOTSUP:
            return fail(rc,
                        "umn_register: the %s monitor cannot watch [%p, +%zu) (userfaultfd "
                        "cannot watch file-backed private mappings)",
                        umn::monitor_name(n->monitor), addr, len);
        case -EFAULT:
            return fail(rc, "umn_register: part of [%p, +%zu) is not mapped", addr, len);
        default:
            return rc;
    }
}

// A failed add as umn_register reports it (the reason recorded since mark).
int report_add_failure(const umn_notifier *n, int rc, const void *addr, size_t len, uint64_t cookie,
                       unsigned mark) {
    return static_cast<int>(finish(add_failure(n, rc, addr, len, cookie), mark, "umn_register"));
}

}  // namespace

int umn::register_owned(umn_notifier *n, uintptr_t start, uintptr_t end, uint64_t cookie,
                        void **token) {
    unsigned mark = reason_mark();
    int rc = n->backend->add_owned(start, end, cookie, token);
    if (rc == 0) return 0;
    return report_add_failure(n, rc, reinterpret_cast<void *>(start), end - start, cookie, mark);
}

int umn::unregister_owned(umn_notifier *n, uint64_t cookie, void *token) {
    return n->backend->remove_owned(cookie, token);
}

extern "C" {

int umn_notifier_open(umn_notifier **out, enum umn_monitor monitor) {
    unsigned mark = reason_mark();
    return static_cast<int>(finish(open_notifier(out, monitor), mark, "umn_notifier_open"));
}

void umn_notifier_close(umn_notifier *n) {
    if (!n) return;
    umn::registry_remove(n);
    // In a child the backend's threads and locks belong to the parent: free
    // only our copy of the memory would be wrong too (locks may be held), so
    // an inherited notifier is abandoned.
    if (n->fork_epoch != fork_epoch()) return;
    umn::stats_close(n);
    delete n->backend;
    delete n;
}

enum umn_monitor umn_notifier_monitor(const umn_notifier *n) {
    return n ? n->monitor : UMN_MONITOR_AUTO;
}

int umn_register(umn_notifier *n, const void *addr, size_t len, uint64_t cookie) {
    unsigned mark = reason_mark();
    if (int rc = check(n, "umn_register")) return rc;
    uintptr_t start = reinterpret_cast<uintptr_t>(addr);
    if (!addr || len == 0 || start + len < start)
        return fail(-EINVAL, "umn_register: [%p, +%zu) is not a range (NULL, empty or wrapping)",
                    addr, len);
    uintptr_t page = umn::sys::page_size();
    uintptr_t last = start + len - 1;
    if (last + page < last)
        return fail(-EINVAL, "umn_register: [%p, +%zu) wraps when rounded to pages", addr, len);
    int rc =
        n->backend->add(umn::sys::page_floor(start), umn::sys::page_floor(last) + page, cookie);
    if (rc == 0) return 0;
    return report_add_failure(n, rc, addr, len, cookie, mark);
}

int umn_unregister(umn_notifier *n, uint64_t cookie) {
    unsigned mark = reason_mark();
    if (int rc = check(n, "umn_unregister")) return rc;
    int rc = n->backend->remove(cookie);
    if (rc == -ENOENT)
        return fail(rc, "umn_unregister: cookie %#llx is not registered (unknown, or drained)",
                    static_cast<unsigned long long>(cookie));
    return static_cast<int>(finish(rc, mark, "umn_unregister"));
}

long umn_get_invalid(umn_notifier *n, uint64_t *cookies, size_t max) {
    unsigned mark = reason_mark();
    if (int rc = check(n, "umn_get_invalid")) return rc;
    if (!cookies && max)
        return fail(-EINVAL, "umn_get_invalid: cookies is NULL and max is %zu", max);
    if (max == 0) return 0;
    long got = n->backend->drain(cookies, max);
    return finish(got, mark, "umn_get_invalid");
}

int umn_notifier_fd(const umn_notifier *n) {
    unsigned mark = reason_mark();
    if (int rc = check(n, "umn_notifier_fd")) return rc;
    int fd = n->backend->poll_fd();
    return static_cast<int>(finish(fd, mark, "umn_notifier_fd"));
}

int umn_notifier_stats(const umn_notifier *n, struct umn_notifier_stats *out) {
    if (int rc = check(n, "umn_notifier_stats")) return rc;
    if (!out) return fail(-EINVAL, "umn_notifier_stats: out is NULL");
    struct umn_notifier_stats s = UMN_NOTIFIER_STATS_INIT;
    n->backend->stats(&s);
    return umn::copy_stats(&s, sizeof s, out, "umn_notifier_stats");
}

int umn_notifier_set_limit(umn_notifier *n, size_t max_registrations) {
    unsigned mark = reason_mark();
    if (int rc = check(n, "umn_notifier_set_limit")) return rc;
    if (max_registrations == 0)
        return fail(-EINVAL, "umn_notifier_set_limit: the limit must be at least 1");
    int rc = n->backend->set_limit(max_registrations);
    if (rc == 0) n->limit.store(max_registrations, std::memory_order_relaxed);
    return static_cast<int>(finish(rc, mark, "umn_notifier_set_limit"));
}

}  // extern "C"
