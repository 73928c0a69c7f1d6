// SPDX-License-Identifier: BSD-3-Clause
// The C API of the notifier: argument checks, fork checks, dispatch to the
// backend. Thread safety is the backend's (see core.hpp, monitor/kernel.cpp).
#include "core/notifier.hpp"

#include "core/core.hpp"
#include "config/options.hpp"
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
        *why = "no kernel module (" + k.detail + "), no hooks (" + h.detail +
               "); userfaultfd usable";
        return UMN_MONITOR_UFFD;
    }
    *why = "no kernel module (" + k.detail + "), no hooks (" + h.detail + "), no userfaultfd (" +
           u.detail + ")";
    return UMN_MONITOR_HOOKS;
}

}  // namespace umn

using umn::fork_epoch;

namespace {

// 0 when n may be used by this process, else the error to return.
int check(const umn_notifier *n) {
    if (!n) return -EINVAL;
    if (n->fork_epoch != fork_epoch()) return -ECHILD;
    return 0;
}

}  // namespace

extern "C" {

int umn_notifier_open(umn_notifier **out, enum umn_monitor monitor) {
    if (!out) return -EINVAL;
    *out = nullptr;
    if (monitor < UMN_MONITOR_AUTO || monitor > UMN_MONITOR_HOOKS) return -EINVAL;
    umn_monitor chosen;
    try {  // options and the probes build strings
        if (monitor == UMN_MONITOR_AUTO)
            if (int rc = umn::require(umn::option::monitor)) return rc;
        if (int rc = umn::require(umn::option::max_registrations)) return rc;
        std::string why;
        chosen = umn::choose_monitor(monitor, &why);
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
    std::unique_ptr<umn::backend> backend;
    if (int rc = umn::open_backend(chosen, &backend)) return rc;
    auto *n = new (std::nothrow) umn_notifier{};
    if (!n) return -ENOMEM;
    n->head.generation = backend->generation();
    n->monitor = chosen;
    n->fork_epoch = fork_epoch();
    n->backend = backend.release();
    umn::registry_add(n);
    *out = n;
    return 0;
}

void umn_notifier_close(umn_notifier *n) {
    if (!n) return;
    umn::registry_remove(n);
    // In a child the backend's threads and locks belong to the parent: free
    // only our copy of the memory would be wrong too (locks may be held), so
    // an inherited notifier is abandoned.
    if (n->fork_epoch != fork_epoch()) return;
    delete n->backend;
    delete n;
}

enum umn_monitor umn_notifier_monitor(const umn_notifier *n) {
    return n ? n->monitor : UMN_MONITOR_AUTO;
}

int umn_register(umn_notifier *n, const void *addr, size_t len, uint64_t cookie) {
    if (int rc = check(n)) return rc;
    uintptr_t start = reinterpret_cast<uintptr_t>(addr);
    if (!addr || len == 0 || start + len < start) return -EINVAL;
    uintptr_t page = umn::sys::page_size();
    uintptr_t last = start + len - 1;
    if (last + page < last) return -EINVAL;  // the page rounding would wrap
    return n->backend->add(umn::sys::page_floor(start), umn::sys::page_floor(last) + page, cookie);
}

int umn_unregister(umn_notifier *n, uint64_t cookie) {
    if (int rc = check(n)) return rc;
    return n->backend->remove(cookie);
}

long umn_get_invalid(umn_notifier *n, uint64_t *cookies, size_t max) {
    if (int rc = check(n)) return rc;
    if (!cookies && max) return -EINVAL;
    if (max == 0) return 0;
    return n->backend->drain(cookies, max);
}

int umn_notifier_fd(const umn_notifier *n) {
    if (int rc = check(n)) return rc;
    return n->backend->poll_fd();
}

int umn_notifier_set_limit(umn_notifier *n, size_t max_registrations) {
    if (int rc = check(n)) return rc;
    return n->backend->set_limit(max_registrations);
}

}  // extern "C"
