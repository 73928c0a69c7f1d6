// SPDX-License-Identifier: BSD-3-Clause
// What a cache's memory monitor adds to munmap. Each measurement runs in a
// fresh process (this program re-executed as a worker) holding one cache
// only: UCX's hooks, once installed, stay in libc for the life of the
// process and would tax every later munmap, umn's included.
//
// The worker pairs, per sample, a munmap through libc (hooked, or seen by
// userfaultfd when registered) with a raw munmap (the syscall instruction
// itself: libc's syscall() is hooked too, by umn) of an identical
// unregistered range, and reports both medians; the overhead is their
// difference, which cancels the (noisy, ~10 us here) kernel work. The two
// alternate which goes first: the first munmap of a pair ran ~150 ns slower
// than the second even with nothing hooked (umn-uffd over unregistered
// memory), which counted as overhead while libc always went first.
#pragma once

#include "os/raw_syscall.hpp"
#include "workloads.hpp"

#include <cstdint>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace umn::bench {

struct munmap_case {
    const char *name;
    size_t len;
    size_t align;     // the range starts aligned to exactly this (not twice it)
    bool registered;  // a cached region covers the whole range
};

extern const std::vector<munmap_case> munmap_cases;

struct munmap_result {
    bool available = false;  // false: the side cannot run here, `message` says why
    std::string message;     // why unavailable, or the error
    std::vector<double> libc_ns;
    std::vector<double> syscall_ns;
};

// What a worker process reports: "ok" and rows of numbers, or why not.
struct worker_output {
    bool available = false;
    std::string message;
    std::vector<std::vector<double>> rows;
};

// Starts `worker_command` + `job` (this program, as a worker) and reads its
// report.
worker_output run_worker(const std::vector<std::string> &worker_command,
                         const std::vector<std::string> &job);
// Writes the report run_worker reads; returns the worker's exit status.
int print_worker_output(const worker_output &r);

// Where a munmap is measured: how many regions the cache under test holds
// besides the range, how many caches of the same side are open (each
// other one holding `other_regions`; on umn each cache has its own notifier),
// and whether the range is the page right after the cache's regions (a
// one-page unregistered case only) instead of a reservation of its own
// wherever mmap puts it: a layout that does not change from run to run, and
// the hardest for a monitor to tell from a registered page.
struct munmap_setting {
    size_t regions = 1000;
    size_t caches = 1;
    bool beside_regions = false;
    static constexpr size_t other_regions = 100;
};

// Runs `side` ("ucx", "umn-hooks", "umn-uffd", ...) on case `index` in a
// worker: job = side, "munmap", index, samples, regions, caches, beside.
munmap_result measure_munmap(const std::vector<std::string> &worker_command,
                             const std::string &side, size_t index, size_t samples,
                             const munmap_setting &setting = {});

namespace detail {

// munmap by the syscall instruction itself: no libc entry, hooked or not.
inline void raw_munmap(void *p, size_t len) {
    sys::raw_syscall3(SYS_munmap, reinterpret_cast<long>(p), static_cast<long>(len), 0);
}

// A PROT_NONE reservation with room for a range of `len` starting aligned
// to exactly `align`; the range is mapped and unmapped inside it.
struct reservation {
    char *base = nullptr;
    size_t len = 0;
    char *range = nullptr;
    size_t range_len = 0;

    // A range inside memory the caller owns (not unmapped here).
    reservation(char *inside, size_t range_bytes) : range(inside), range_len(range_bytes) {}
    reservation(size_t range_bytes, size_t align)
        : len(range_bytes + 4 * align), range_len(range_bytes) {
        void *p = mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return;
        base = static_cast<char *>(p);
        uintptr_t a = (reinterpret_cast<uintptr_t>(base) + 2 * align - 1) & ~(2 * align - 1);
        range = reinterpret_cast<char *>(a + align);  // aligned to align, not to 2 * align
    }
    ~reservation() {
        if (base) raw_munmap(base, len);
    }
    bool map() {
        return mmap(range, range_len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == range;
    }
};

inline double time_libc_munmap(void *p, size_t len) {
    double t0 = now_ns();
    munmap(p, len);
    return now_ns() - t0;
}

inline double time_raw_munmap(void *p, size_t len) {
    double t0 = now_ns();
    raw_munmap(p, len);
    return now_ns() - t0;
}

}  // namespace detail

// The worker's measurement for one cache type, in this process.
template <class Cache>
munmap_result measure_in_this_process(const cache_config &config, const munmap_case &c,
                                      size_t samples, const munmap_setting &setting = {}) {
    munmap_result r;
    // The cache under test holds setting.regions besides the range, so that
    // looking the unmapped range up is not a lookup in an empty table.
    // Beside: the fixture's mapping has two more pages after the regions',
    // one for each range, each with an unwatched page after it.
    const size_t beside_pages = setting.beside_regions ? 4 : 0;
    cache_fixture<Cache> f(setting.regions + beside_pages, config);
    if (f.error == 0) f.warm(0, setting.regions);
    std::vector<std::unique_ptr<cache_fixture<Cache>>> others;
    for (size_t i = 1; i < setting.caches && f.error == 0; i++) {
        others.push_back(
            std::make_unique<cache_fixture<Cache>>(munmap_setting::other_regions, config));
        if (others.back()->error == 0) others.back()->warm(0, munmap_setting::other_regions);
        if (others.back()->error != 0) {
            f.error = others.back()->error;
            f.why = others.back()->why;
        }
    }
    if (f.error != 0) {
        r.message = f.failure();
        return r;
    }
    if (setting.beside_regions && (c.registered || c.len != page_size())) {
        r.message = "error: only an unregistered page can lie beside the regions";
        return r;
    }
    detail::reservation libc_range = setting.beside_regions
                                         ? detail::reservation(f.pages.at(setting.regions), c.len)
                                         : detail::reservation(c.len, c.align);
    detail::reservation raw_range =
        setting.beside_regions ? detail::reservation(f.pages.at(setting.regions + 2), c.len)
                               : detail::reservation(c.len, c.align);
    if (!libc_range.range || !raw_range.range) {
        r.message = "error: cannot reserve address space";
        return r;
    }
    r.available = true;
    for (size_t i = 0; i < samples; i++) {
        if (!libc_range.map() || !raw_range.map()) {
            r.available = false;
            r.message = "error: mmap(MAP_FIXED) failed";
            return r;
        }
        if (c.registered) {
            typename Cache::region region;
            if (f.cache.get(libc_range.range, c.len, &region) < 0) {
                r.available = false;
                r.message = "error: get failed";
                return r;
            }
            f.cache.put(region);
        }
        double libc_ns, raw_ns;
        if (i % 2) {
            raw_ns = detail::time_raw_munmap(raw_range.range, c.len);
            libc_ns = detail::time_libc_munmap(libc_range.range, c.len);
        } else {
            libc_ns = detail::time_libc_munmap(libc_range.range, c.len);
            raw_ns = detail::time_raw_munmap(raw_range.range, c.len);
        }
        r.libc_ns.push_back(libc_ns);
        r.syscall_ns.push_back(raw_ns);
    }
    return r;
}
// The rows of a munmap worker's report: libc and raw syscall time per sample.
inline worker_output as_worker_output(const munmap_result &r) {
    worker_output out;
    out.available = r.available;
    out.message = r.message;
    for (size_t i = 0; i < r.libc_ns.size(); i++)
        out.rows.push_back({r.libc_ns[i], r.syscall_ns[i]});
    return out;
}

}  // namespace umn::bench
