// SPDX-License-Identifier: BSD-3-Clause
// The workloads, written once for any cache with open/get/put (ucx_cache,
// umn_cache_side) so both sides run the identical loop: same addresses, same
// lengths, same access order, same registrar. Row names are
// "<workload>/side:<side>"; the report pairs rows by workload.
//
// Threads: Google Benchmark runs a multi-threaded benchmark function once per
// thread; thread 0 builds the fixture before the start barrier (inside
// state.begin()) and the others pick it up after it, so the barrier's mutex
// is the happens-before edge for the fixture pointer.
#pragma once

#include "fixture.hpp"
#include "registrar.hpp"
#include "config/options.hpp"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

namespace umn::bench {

// Every get asks for a malloc-like buffer inside one page: page i of the
// fixture's mapping holds buffer i, so each buffer is its own region.
constexpr size_t buffer_offset = 64;
constexpr size_t buffer_len = 1024;
// Miss rows: the cache keeps miss_cached regions and the loop cycles through
// miss_pages pages in order, so every get misses and evicts the oldest one.
constexpr size_t miss_cached = 1024;
constexpr size_t miss_pages = 4096;

template <class Cache>
struct cache_fixture : fixture {
    registrar_counts counts;  // outlives the cache, which deregisters on close
    mapping pages;
    Cache cache;
    std::string why;
    int error = 0;
    size_t next = 0;              // where a cycling loop continues
    double bytes_per_region = 0;  // resident memory the warm-up added, per region

    cache_fixture(size_t npages, cache_config config) : pages(npages) {
        config.counts = &counts;
        if (!pages.ok()) {
            error = -ENOMEM;
            why = "mmap failed";
            return;
        }
        error = cache.open(config, &why);
        if (error == -ENOTSUP) why = "unavailable: " + why;
    }
    void *buffer(size_t i) { return pages.at(i) + buffer_offset; }
    // What a row reports when the fixture failed: "unavailable: ..." as is.
    std::string failure() const { return error == -ENOTSUP ? why : "error: " + why; }

    // One get+put per page; every one must register a new region.
    int warm(size_t first, size_t count) {
        long rss = resident_bytes();
        uint64_t regs = counts.regs.load();
        for (size_t i = first; i < first + count; i++) {
            typename Cache::region r;
            if (int rc = cache.get(buffer(i), buffer_len, &r); rc < 0) {
                why = "get failed while warming up";
                return error = rc;
            }
            cache.put(r);
        }
        if (counts.regs.load() - regs != count) {
            why = "warming up did not register one region per page";
            return error = -EPROTO;
        }
        bytes_per_region = static_cast<double>(resident_bytes() - rss) / static_cast<double>(count);
        return 0;
    }
};

// The fixture for `key`, built (and warmed over its first `warm_pages`
// pages) unless the previous call of the same benchmark left it; nullptr
// after reporting the error to `state`.
template <class Cache>
cache_fixture<Cache> *get_fixture(benchmark::State &state, const std::string &key, size_t npages,
                                  size_t warm_pages, const cache_config &config) {
    auto *f = static_cast<cache_fixture<Cache> *>(current_fixture(key));
    if (!f) {
        auto made = std::make_unique<cache_fixture<Cache>>(npages, config);
        if (made->error == 0 && made->warm(0, warm_pages) == 0) made->next = warm_pages % npages;
        f = made.get();
        set_fixture(key, std::move(made));
    }
    if (f->error != 0) {
        state.SkipWithError(f->why.c_str());
        return nullptr;
    }
    return f;
}

// A next index in [0, n): a xorshift step and a multiply-shift, a few
// cycles, the same for both sides.
inline size_t random_index(uint64_t *x, size_t n) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return static_cast<size_t>((static_cast<uint64_t>(static_cast<uint32_t>(*x)) * n) >> 32);
}

enum class access { sequential, random };

// get+put of buffers already cached, `regions` of them, in `order`.
template <class Cache, access order>
void hit(benchmark::State &state, size_t regions, cache_config config) {
    std::string key = std::string(Cache::side) + "/hit/" + std::to_string(regions);
    auto *f = get_fixture<Cache>(state, key, regions, regions, config);
    if (!f) return;
    uint64_t regs = f->counts.regs.load();
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t i = 0;
    for (auto _ : state) {
        size_t index;
        if constexpr (order == access::sequential) {
            index = i;
            if (++i == regions) i = 0;
        } else {
            index = random_index(&x, regions);
        }
        typename Cache::region r;
        if (f->cache.get(f->buffer(index), buffer_len, &r) < 0) {
            state.SkipWithError("get failed in the hit loop");
            break;
        }
        benchmark::DoNotOptimize(r);
        f->cache.put(r);
    }
    if (f->counts.regs.load() != regs) state.SkipWithError("a get missed in the hit loop");
}

// get+put from every thread, each on its own region or all on region 0.
template <class Cache>
void hit_threads(benchmark::State &state, bool same_region, cache_config config) {
    constexpr size_t max_threads = 64;
    std::string key = std::string(Cache::side) + "/threads";
    if (state.thread_index() == 0) get_fixture<Cache>(state, key, max_threads, max_threads, config);
    auto it = state.begin();  // the start barrier: thread 0's fixture is visible after it
    auto end = state.end();
    auto *f = static_cast<cache_fixture<Cache> *>(current_fixture(key));
    if (!f || f->error != 0 || state.threads() > static_cast<int>(max_threads)) {
        for (; it != end; ++it) {
        }  // keep the stop barrier balanced
        return;
    }
    void *buffer = f->buffer(same_region ? 0 : static_cast<size_t>(state.thread_index()));
    bool failed = false;
    for (; it != end; ++it) {
        typename Cache::region r;
        if (f->cache.get(buffer, buffer_len, &r) < 0) {
            failed = true;  // keep iterating: breaking would unbalance the stop barrier
            continue;
        }
        benchmark::DoNotOptimize(r);
        f->cache.put(r);
    }
    if (failed) state.SkipWithError("get failed in the threads loop");
}

// Steady-state misses: the cache holds miss_cached regions, the loop cycles
// through miss_pages pages, so each get registers one region and evicts one.
template <class Cache>
void miss(benchmark::State &state, cache_config config) {
    config.max_regions = miss_cached;
    std::string key = std::string(Cache::side) + "/miss/" + monitor_name(config.monitor);
    auto *f = get_fixture<Cache>(state, key, miss_pages, miss_cached, config);
    if (!f) return;
    uint64_t regs = f->counts.regs.load();
    size_t i = f->next;
    for (auto _ : state) {
        typename Cache::region r;
        if (f->cache.get(f->buffer(i), buffer_len, &r) < 0) {
            state.SkipWithError("get failed in the miss loop");
            break;
        }
        f->cache.put(r);
        if (++i == miss_pages) i = 0;
    }
    f->next = i;
    if (f->counts.regs.load() - regs != static_cast<uint64_t>(state.iterations()))
        state.SkipWithError("a get hit in the miss loop");
}

// Invalidation throughput: `regions` cached one-page regions in one mapping;
// time munmap of the whole mapping plus get+put of a sentinel buffer until
// every region is deregistered (UCX deregisters on its next miss, so the
// sentinel's first get is a miss on both sides, then hits).
template <class Cache>
void invalidate(benchmark::State &state, size_t regions, cache_config config) {
    constexpr size_t sentinels = 4096;
    std::string key = std::string(Cache::side) + "/invalidate/" + monitor_name(config.monitor);
    auto *f = get_fixture<Cache>(state, key, sentinels, 0, config);
    if (!f) return;
    std::vector<double> samples;
    for (auto _ : state) {
        mapping arena(regions);
        if (!arena.ok() || f->next == sentinels) {
            state.SkipWithError("out of memory or sentinel pages");
            break;
        }
        for (size_t i = 0; i < regions; i++) {
            typename Cache::region r;
            if (f->cache.get(arena.at(i) + buffer_offset, buffer_len, &r) < 0) break;
            f->cache.put(r);
        }
        uint64_t target = f->counts.deregs.load() + regions;
        void *sentinel = f->buffer(f->next++);
        double start = now_ns();
        arena.unmap();
        double deadline = start + 2e9;
        double end = start;
        do {
            typename Cache::region r;
            if (f->cache.get(sentinel, buffer_len, &r) < 0) break;
            f->cache.put(r);
            end = now_ns();
        } while (f->counts.deregs.load() < target && end < deadline);
        if (f->counts.deregs.load() < target) {
            state.SkipWithError("unmapped regions were not deregistered within 2 s");
            break;
        }
        state.SetIterationTime((end - start) * 1e-9);
        samples.push_back(end - start);
    }
    if (samples.empty()) return;
    double per_region = median(samples) / static_cast<double>(regions);
    state.counters["ns_per_region"] = per_region;
    state.counters["regions_per_s"] = 1e9 / per_region;
}

}  // namespace umn::bench
