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
#include "diagnostics/reason.hpp"
#include "registrar/registrar.hpp"

#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
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

struct span {
    uintptr_t end;
    uint64_t count;
};

std::mutex table_lock;
std::map<uintptr_t, span> &table() {
    static std::map<uintptr_t, span> spans;  // disjoint [start, end) -> regions holding it
    return spans;
}
uint64_t next_handle = 1;

// Makes x a span boundary if a span covers it.
void split_at(uintptr_t x) {
    auto &t = table();
    auto it = t.upper_bound(x);
    if (it == t.begin()) return;
    --it;
    if (it->first < x && it->second.end > x) {
        t.emplace(x, span{it->second.end, it->second.count});
        it->second.end = x;
    }
}

// Counts one more region over [s, e), creating spans for the gaps.
void hold(uintptr_t s, uintptr_t e) {
    auto &t = table();
    split_at(s);
    split_at(e);
    auto it = t.lower_bound(s);
    for (uintptr_t pos = s; pos < e;) {
        if (it != t.end() && it->first == pos) {
            ++it->second.count;
            pos = it->second.end;
            ++it;
        } else {
            uintptr_t gap_end = it != t.end() && it->first < e ? it->first : e;
            t.emplace_hint(it, pos, span{gap_end, 1});
            pos = gap_end;
        }
    }
}

// Counts one region less over [s, e) and unlocks the spans nobody holds.
void let_go(uintptr_t s, uintptr_t e) {
    auto &t = table();
    split_at(s);
    split_at(e);
    for (auto it = t.lower_bound(s); it != t.end() && it->first < e;) {
        if (--it->second.count) {
            ++it;
            continue;
        }
        unlock_pages(reinterpret_cast<void *>(it->first), it->second.end - it->first);
        it = t.erase(it);
    }
}

}  // namespace

int mlock_reg(void *, void *addr, size_t len, uint64_t *handle) {
    auto s = reinterpret_cast<uintptr_t>(addr);
    std::lock_guard g(table_lock);
    if (lock_pages(addr, len) != 0) return pin_failure(errno, "mlock", addr, len);
    try {
        hold(s, s + len);
    } catch (const std::bad_alloc &) {
        // Spans counted so far stay held: those pages stay locked longer than
        // needed, which is safe; unlocking them could unlock another region's.
        return fail(-ENOMEM, "mlock registrar: out of memory counting locked pages");
    }
    *handle = next_handle++;
    return 0;
}

namespace {

void mlock_dereg(void *, void *addr, size_t len, uint64_t) {
    auto s = reinterpret_cast<uintptr_t>(addr);
    std::lock_guard g(table_lock);
    try {
        let_go(s, s + len);
    } catch (const std::bad_alloc &) {
        // A split failed: the pages stay locked (safe, see above).
    }
}

}  // namespace

}  // namespace umn

extern "C" int umn_registrar_mlock(struct umn_registrar *out) {
    if (!out) return umn::fail(-EINVAL, "umn_registrar_mlock: out is NULL");
    *out = umn_registrar{nullptr, umn::mlock_reg, umn::mlock_dereg};
    return 0;
}
