// SPDX-License-Identifier: BSD-3-Clause
// umn_hit_count REGIONS ITERATIONS [random]: warms REGIONS one-page regions
// in umn's cache (no-op registrar), then runs ITERATIONS get+put hits inside
// umn_bench_hit_loop() only, so `valgrind --tool=callgrind
// --toggle-collect=umn_bench_hit_loop` counts the instructions of the hits
// alone (bench/callgrind_check.sh divides by ITERATIONS). Also a target for
// `perf record`. Exit status 1 if any get missed.
#include "registrar.hpp"
#include "umn_cache.hpp"
#include "workloads.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" __attribute__((noinline)) int umn_bench_hit_loop(umn::bench::umn_cache_side *cache,
                                                            char *base, size_t regions,
                                                            size_t iterations, bool random) {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t i = 0;
    size_t page = umn::bench::page_size();
    for (size_t n = 0; n < iterations; n++) {
        size_t index;
        if (random) {
            index = umn::bench::random_index(&x, regions);
        } else {
            index = i;
            if (++i == regions) i = 0;
        }
        umn_region *r;
        if (cache->get(base + index * page + umn::bench::buffer_offset, umn::bench::buffer_len,
                       &r) < 0)
            return -1;
        cache->put(r);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s REGIONS ITERATIONS [random]\n", argv[0]);
        return 2;
    }
    size_t regions = std::strtoul(argv[1], nullptr, 10);
    size_t iterations = std::strtoul(argv[2], nullptr, 10);
    bool random = argc > 3 && std::strcmp(argv[3], "random") == 0;
    umn::bench::cache_fixture<umn::bench::umn_cache_side> f(regions, umn::bench::cache_config{});
    if (f.error == 0) f.warm(0, regions);
    if (f.error != 0) {
        std::fprintf(stderr, "umn_hit_count: %s\n", f.why.c_str());
        return 1;
    }
    uint64_t regs = f.counts.regs.load();
    if (umn_bench_hit_loop(&f.cache, f.pages.at(0), regions, iterations, random) < 0 ||
        f.counts.regs.load() != regs) {
        std::fprintf(stderr, "umn_hit_count: a get missed\n");
        return 1;
    }
    return 0;
}
