// SPDX-License-Identifier: BSD-3-Clause
// umn_strerror() and umn_last_error(): what a negative errno means in umn's
// terms, and why this thread's last failing call failed.
#include "diagnostics/reason.hpp"

#include <umn/umn.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace umn {

namespace {

constexpr size_t reason_size = 384;

thread_local char reason_text[reason_size];
// Counts the reasons recorded; read at every call that may fail (three times
// per cache miss), so it is initial-exec TLS: a load off the thread pointer
// instead of a __tls_get_addr call. Four bytes of the static TLS reserve.
__attribute__((tls_model("initial-exec"))) thread_local unsigned reason_count = 0;

void record(const char *format, va_list args) {
    vsnprintf(reason_text, sizeof reason_text, format, args);
    ++reason_count;
}

void record_text(const char *format, ...) __attribute__((format(printf, 1, 2)));
void record_text(const char *format, ...) {
    va_list args;
    va_start(args, format);
    record(format, args);
    va_end(args);
}

}  // namespace

int fail(int rc, const char *format, ...) {
    va_list args;
    va_start(args, format);
    record(format, args);
    va_end(args);
    return rc;
}

unsigned reason_mark() {
    return reason_count;
}

long finish(long rc, unsigned mark, const char *call) {
    if (rc < 0 && reason_count == mark)
        record_text("%s: %s", call, umn_strerror(static_cast<int>(rc)));
    return rc;
}

const char *last_reason() {
    return reason_text;
}

const char *format_bytes(size_t bytes, char *buf, size_t size) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%zu bytes", bytes);
        return buf;
    }
    double value = static_cast<double>(bytes) / 1024;
    unsigned unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024;
        ++unit;
    }
    snprintf(buf, size,
             value == static_cast<double>(static_cast<size_t>(value)) ? "%.0f %s" : "%.1f %s",
             value, units[unit]);
    return buf;
}

}  // namespace umn

namespace {

// What each errno means when a umn call returns it.
const char *umn_meaning(int err) {
    switch (err) {
        case 0:
            return "success";
        case EINVAL:
            return "invalid argument: a NULL pointer, a zero or wrapping length, an unknown "
                   "monitor, a bad parameter, or a UMN_* environment value that does not parse "
                   "(umn_last_error() names it)";
        case ECHILD:
            return "notifier opened by the parent process; open a new one in the child";
        case ENOSPC:
            return "the notifier's registration limit is reached (umn_notifier_set_limit, "
                   "UMN_MAX_REGISTRATIONS)";
        case ENOBUFS:
            return "the io_uring fixed-buffer table is full, also after evicting unused "
                   "regions (give the registrar more slots)";
        case EEXIST:
            return "cookie already in use by a live or undrained registration";
        case ENOENT:
            return "no such registration (unknown cookie, or already drained)";
        case ENOMEM:
            return "out of memory, or the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l) is "
                   "reached";
        case EAGAIN:
            return "the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l) is reached, or the "
                   "device is temporarily out of resources";
        case ENOTSUP:
            return "not available here: the monitor or registrar cannot run on this machine "
                   "(umn info says why)";
        case EPROTO:
            return "the loaded umn kernel module speaks another ABI version than this library";
        case EPERM:
            return "not permitted (userfaultfd: vm.unprivileged_userfaultfd=0 and no "
                   "CAP_SYS_PTRACE)";
        case EBUSY:
            return "already claimed: a range watched by another userfaultfd, or a ring that "
                   "already has a buffer table";
        case EBADF:
            return "bad file descriptor (an io_uring ring that is not set up)";
        default:
            return nullptr;
    }
}

}  // namespace

extern "C" {

const char *umn_strerror(int err) {
    long e = err < 0 ? -static_cast<long>(err) : err;
    if (e > INT_MAX) return "unknown error";
    if (const char *m = umn_meaning(static_cast<int>(e))) return m;
    const char *d = strerrordesc_np(static_cast<int>(e));  // a static string, thread-safe
    return d ? d : "unknown error";
}

const char *umn_last_error(void) {
    return umn::last_reason();
}

}  // extern "C"
