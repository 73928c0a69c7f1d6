// SPDX-License-Identifier: BSD-3-Clause
// The one place that names the sides and the rows.
#include "benchmarks.hpp"

#include "munmap_cost.hpp"
#include "monitor/monitor.hpp"
#include "config/options.hpp"
#include "ucx_cache.hpp"
#include "umn_cache.hpp"
#include "workloads.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace umn::bench {

namespace {

using benchmark::internal::Benchmark;

std::string row_name(const std::string &workload, const std::string &side) {
    return workload + "/side:" + side;
}

template <class Fn>
Benchmark *add(const std::string &workload, const std::string &side, Fn &&fn) {
    return benchmark::RegisterBenchmark(row_name(workload, side).c_str(), std::forward<Fn>(fn));
}

double min_time(const options &o) {
    return o.quick ? 0.05 : 0.5;
}

template <class Cache>
struct side_tag {
    using cache = Cache;
};

cache_config on_monitor(enum umn_monitor m) {
    cache_config config;
    config.monitor = m;
    return config;
}

// Calls fn(side_tag<Cache>, side name, config) for UCX, then for umn on the
// monitor `o` names (the rows where the monitor does not matter).
template <class Fn>
void for_each_side(const options &o, Fn &&fn) {
    fn(side_tag<ucx_cache>{}, std::string(ucx_cache::side), cache_config{});
    fn(side_tag<umn_cache_side>{}, std::string(umn_cache_side::side), on_monitor(o.monitor));
}

// The monitors whose own cost a row measures: the two that need no kernel
// module always (a row says "unavailable" if one cannot run), the kernel
// monitor where its module is loaded.
std::vector<enum umn_monitor> measured_monitors() {
    std::vector<enum umn_monitor> monitors = {UMN_MONITOR_HOOKS, UMN_MONITOR_UFFD};
    if (probe_kernel().error == 0) monitors.insert(monitors.begin(), UMN_MONITOR_KERNEL);
    return monitors;
}

std::string umn_side_name(enum umn_monitor m) {
    return std::string(umn_cache_side::side) + "-" + monitor_name(m);
}

// Calls fn(side_tag<Cache>, config) for the side called `side`; false if
// no side has that name.
template <class Fn>
bool with_side(const std::string &side, registrar_counts *counts, Fn &&fn) {
    cache_config config;
    config.counts = counts;
    if (side == ucx_cache::side) {
        fn(side_tag<ucx_cache>{}, config);
        return true;
    }
    for (enum umn_monitor m : {UMN_MONITOR_KERNEL, UMN_MONITOR_HOOKS, UMN_MONITOR_UFFD}) {
        if (side != umn_side_name(m)) continue;
        config.monitor = m;
        fn(side_tag<umn_cache_side>{}, config);
        return true;
    }
    return false;
}

// One row of one value, measure(f), from a cache warmed with `regions`
// regions; the message says why when no such cache could be made.
template <class Cache, class Measure>
worker_output measure_warm_cache(const cache_config &config, size_t regions, Measure &&measure) {
    worker_output out;
    cache_fixture<Cache> f(regions, config);
    if (f.error == 0) f.warm(0, regions);
    if (f.error != 0) {
        out.message = f.failure();
        return out;
    }
    out.available = true;
    out.rows.push_back({measure(f)});
    return out;
}

// Resident memory per cached region, in a fresh process (in this one, memory
// freed by earlier rows would be reused and hide the growth).
template <class Cache>
worker_output measure_memory(const cache_config &config, size_t regions) {
    return measure_warm_cache<Cache>(config, regions,
                                     [](cache_fixture<Cache> &f) { return f.bytes_per_region; });
}

// The same for rows that measure the monitor: UCX, then umn on each monitor.
template <class Fn>
void for_each_monitor_side(Fn &&fn) {
    fn(side_tag<ucx_cache>{}, std::string(ucx_cache::side), cache_config{});
    for (enum umn_monitor m : measured_monitors())
        fn(side_tag<umn_cache_side>{}, umn_side_name(m), on_monitor(m));
}

void register_hits(const options &o) {
    for (size_t n : {size_t{1}, size_t{1000}, size_t{100000}}) {
        std::string regions = "regions:" + std::to_string(n);
        for_each_side(o, [&](auto tag, const std::string &side, const cache_config &config) {
            using Cache = typename decltype(tag)::cache;
            add("hit/sequential/" + regions, side, [n, config](benchmark::State &s) {
                hit<Cache, access::sequential>(s, n, config);
            })->MinTime(min_time(o));
        });
        if (n == 1) continue;
        for_each_side(o, [&](auto tag, const std::string &side, const cache_config &config) {
            using Cache = typename decltype(tag)::cache;
            add("hit/random/" + regions, side, [n, config](benchmark::State &s) {
                hit<Cache, access::random>(s, n, config);
            })->MinTime(min_time(o));
        });
    }
}

void register_threads(const options &o) {
    for (bool same : {false, true}) {
        for_each_side(o, [&](auto tag, const std::string &side, const cache_config &config) {
            using Cache = typename decltype(tag)::cache;
            add(same ? "hit/same-region" : "hit/separate-regions", side,
                [same, config](benchmark::State &s) { hit_threads<Cache>(s, same, config); })
                ->Threads(1)
                ->Threads(2)
                ->MinTime(min_time(o));
        });
    }
}

void register_misses(const options &o) {
    for_each_monitor_side([&](auto tag, const std::string &side, const cache_config &config) {
        using Cache = typename decltype(tag)::cache;
        add("miss/lru", side, [config](benchmark::State &s) {
            miss<Cache>(s, config);
        })->MinTime(min_time(o));
    });
}

void register_invalidations(const options &o) {
    for (size_t n : {size_t{1000}, size_t{100000}}) {
        if (o.quick && n > 1000) continue;
        for_each_monitor_side([&](auto tag, const std::string &side, const cache_config &config) {
            using Cache = typename decltype(tag)::cache;
            add("invalidate/regions:" + std::to_string(n), side,
                [n, config](benchmark::State &s) { invalidate<Cache>(s, n, config); })
                ->Iterations(n > 1000 ? 3 : (o.quick ? 5 : 50))
                ->UseManualTime();
        });
    }
}

void run_munmap_row(benchmark::State &s, const options &o, const std::string &side, size_t index,
                    size_t samples, const munmap_setting &setting = {}) {
    munmap_result r = measure_munmap(o.worker_command, side, index, samples, setting);
    if (!r.available) {
        s.SkipWithError(r.message.c_str());
        return;
    }
    size_t k = 0;
    for (auto _ : s) s.SetIterationTime(r.libc_ns[k++ % r.libc_ns.size()] * 1e-9);
    double libc = median(r.libc_ns), raw = median(r.syscall_ns);
    s.counters["munmap_ns"] = libc;
    s.counters["syscall_ns"] = raw;
    s.counters["overhead_ns"] = libc - raw;
}

// Row `row` on every monitor side: munmap case `index` under `setting`.
void add_munmap_rows(const options &o, const std::string &row, size_t index, size_t samples,
                     const munmap_setting &setting = {}) {
    for_each_monitor_side([&](auto, const std::string &side, const cache_config &) {
        add(row, side,
            [o, side, index, samples, setting](benchmark::State &s) {
                run_munmap_row(s, o, side, index, samples, setting);
            })
            ->Iterations(static_cast<benchmark::IterationCount>(samples))
            ->UseManualTime();
    });
}

void register_munmaps(const options &o) {
    size_t samples = o.quick ? 300 : 3000;
    for (size_t i = 0; i < munmap_cases.size(); i++)
        add_munmap_rows(o, std::string("munmap/") + munmap_cases[i].name, i, samples);
}

// The one value a worker reports for `job` (side, row kind, size); false,
// with the row skipped and the reason given, when it reports none.
bool worker_value(benchmark::State &s, const options &o, const std::vector<std::string> &job,
                  double *value) {
    worker_output out = run_worker(o.worker_command, job);
    if (!out.available || out.rows.empty() || out.rows[0].empty()) {
        s.SkipWithError(out.available ? "error: no value" : out.message.c_str());
        return false;
    }
    *value = out.rows[0][0];
    return true;
}

void register_memory(const options &o) {
    for (size_t n : {size_t{1000}, size_t{100000}}) {
        if (o.quick && n > 1000) continue;
        for_each_monitor_side([&](auto, const std::string &side, const cache_config &) {
            add("memory/regions:" + std::to_string(n), side, [o, side, n](benchmark::State &s) {
                double bytes = 0;
                if (!worker_value(s, o, {side, "memory", std::to_string(n)}, &bytes)) return;
                for (auto _ : s) {
                }
                s.counters["bytes_per_region"] = bytes;
            })->Iterations(1);
        });
    }
}

size_t munmap_case_index(const std::string &name) {
    for (size_t i = 0; i < munmap_cases.size(); i++)
        if (name == munmap_cases[i].name) return i;
    std::abort();  // a row names a case that does not exist
}

// The CPU time closing a cache of n regions takes, in a fresh process.
template <class Cache>
worker_output measure_close(const cache_config &config, size_t regions) {
    return measure_warm_cache<Cache>(config, regions, [](cache_fixture<Cache> &f) {
        double t0 = thread_cpu_ns();
        f.cache.close();
        return (thread_cpu_ns() - t0) / 1e6;
    });
}

// Scale: a munmap of one registered page with 10^3..10^6 regions cached,
// closing a cache that holds them, and an unregistered munmap with one or
// 64 caches (on umn, 64 notifiers) open, each holding regions: of the page
// right after the regions of one of them, so that the row measures the same
// layout every run (where mmap put a page of its own, it shared 1 MiB of
// address space with the regions in some runs only).
void register_scale(const options &o) {
    const size_t samples = o.quick ? 300 : 3000;
    std::vector<size_t> sizes = {1000, 100000};
    if (!o.quick) sizes.push_back(1000000);
    for (size_t n : sizes) {
        munmap_setting setting;
        setting.regions = n;
        add_munmap_rows(o, "scale/munmap-registered/registrations:" + std::to_string(n),
                        munmap_case_index("registered/4KiB"), samples, setting);
        for_each_monitor_side([&](auto, const std::string &side, const cache_config &) {
            add("scale/close/registrations:" + std::to_string(n), side,
                [o, side, n](benchmark::State &s) {
                    double ms = 0;
                    if (!worker_value(s, o, {side, "close", std::to_string(n)}, &ms)) return;
                    for (auto _ : s) s.SetIterationTime(ms * 1e-3);
                    s.counters["close_ms"] = ms;
                })
                ->Iterations(1)
                ->UseManualTime();
        });
    }
    for (size_t caches : {size_t{1}, size_t{64}}) {
        munmap_setting setting;
        setting.regions = munmap_setting::other_regions;
        setting.caches = caches;
        setting.beside_regions = true;
        add_munmap_rows(o, "scale/munmap-unregistered/notifiers:" + std::to_string(caches),
                        munmap_case_index("unregistered/4KiB"), samples, setting);
    }
}

}  // namespace

void register_benchmarks(const options &o) {
    register_hits(o);
    register_threads(o);
    register_misses(o);
    register_invalidations(o);
    register_munmaps(o);
    register_memory(o);
    register_scale(o);
}

void release_benchmarks() {
    clear_fixture();
}

int worker_main(int argc, char **argv) {
    std::vector<std::string> job(argv, argv + argc);
    worker_output out;
    out.message =
        "error: worker arguments: SIDE munmap CASE SAMPLES REGIONS CACHES BESIDE | SIDE memory "
        "REGIONS "
        "| SIDE close REGIONS";
    auto number = [&](size_t i) { return std::strtoul(job[i].c_str(), nullptr, 10); };
    bool munmap = job.size() == 7 && job[1] == "munmap";
    bool memory = job.size() == 3 && job[1] == "memory";
    bool close = job.size() == 3 && job[1] == "close";
    size_t index = munmap ? number(2) : 0;
    if (!(munmap && index < munmap_cases.size()) && !memory && !close)
        return print_worker_output(out);
    munmap_setting setting;
    if (munmap) {
        setting.regions = number(4);
        setting.caches = number(5);
        setting.beside_regions = number(6) != 0;
    }
    size_t count = munmap ? number(3) : number(2);
    registrar_counts counts;
    bool known = with_side(job[0], &counts, [&](auto tag, const cache_config &config) {
        using Cache = typename decltype(tag)::cache;
        if (munmap)
            out = as_worker_output(
                measure_in_this_process<Cache>(config, munmap_cases[index], count, setting));
        else if (memory)
            out = measure_memory<Cache>(config, count);
        else
            out = measure_close<Cache>(config, count);
    });
    if (!known) out.message = "error: unknown side " + job[0];
    return print_worker_output(out);
}

}  // namespace umn::bench
