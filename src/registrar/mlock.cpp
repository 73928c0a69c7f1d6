// SPDX-License-Identifier: BSD-3-Clause
// The mlock registrar: reg locks the pages in memory, dereg unlocks them.
//
// mlock does not nest (one munlock undoes any number of mlocks), but cached
// regions overlap: the cache registers the union of overlapping requests and
// retires the old regions later. So the registrar keeps a process-wide count
// per page span and unlocks a span only when no region holds it. Memory locks
// are per process, hence one table for every cache.
//
// mlock and munlock are called through syscall(): ASan and TSan intercept
// them as no-ops (they would lock shadow memory too), and a registrar that
// reports pinned pages must pin them, and meet RLIMIT_MEMLOCK, in every build.
//
// Locking: table_lock guards the span table and brackets each mlock/munlock,
// so a span's count and its locked state change together.
#include "core/range_count.hpp"
#include "diagnostics/reason.hpp"
#include "registrar/registrar.hpp"

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace umn {

namespace {

int lock_pages(void *addr, size_t len) {
    return static_cast<int>(syscall(SYS_mlock, addr, len));
}

void unlock_pages(void *addr, size_t len) {
    syscall(SYS_munlock, addr, len);
}

void unlock_span(uintptr_t start, uintptr_t end) {
    unlock_pages(reinterpret_cast<void *>(start), end - start);
}

std::mutex table_lock;
range_count &table() {
    static range_count spans;  // regions holding each page
    return spans;
}
uint64_t next_handle = 1;

}  // namespace

int mlock_reg(void *, void *addr, size_t len, uint64_t *handle) {
    auto s = reinterpret_cast<uintptr_t>(addr);
    std::lock_guard g(table_lock);
    if (lock_pages(addr, len) != 0) return pin_failure(errno, "mlock", addr, len);
    if (table().add(s, s + len) != 0) {
        // Nothing counted: pages of it that no other region holds stay locked
        // longer than needed, which is safe; unlocking them could unlock
        // another region's.
        return fail(-ENOMEM, "mlock registrar: out of memory counting locked pages");
    }
    *handle = next_handle++;
    return 0;
}

namespace {

void mlock_dereg(void *, void *addr, size_t len, uint64_t) {
    auto s = reinterpret_cast<uintptr_t>(addr);
    std::lock_guard g(table_lock);
    table().remove(s, s + len, unlock_span);  // out of memory: they stay locked (safe)
}

}  // namespace

}  // namespace umn

extern "C" int umn_registrar_mlock(struct umn_registrar *out) {
    if (!out) return umn::fail(-EINVAL, "umn_registrar_mlock: out is NULL");
    *out = umn_registrar{nullptr, umn::mlock_reg, umn::mlock_dereg};
    return 0;
}
