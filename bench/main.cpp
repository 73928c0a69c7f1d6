// SPDX-License-Identifier: BSD-3-Clause
// umn_bench: every row of `umn bench` under Google Benchmark's own command
// line (--benchmark_filter, --benchmark_out=FILE --benchmark_out_format=json,
// ...). Extra flags: --quick (short runs), --monitor=hooks|uffd|kernel (umn's
// monitor in the hit rows). `umn_bench --worker ...` is a munmap worker.
#include "benchmarks.hpp"
#include "os/options.hpp"

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

int main(int argc, char **argv) {
    if (argc > 1 && std::strcmp(argv[1], "--worker") == 0)
        return umn::bench::worker_main(argc - 2, argv + 2);
    umn::bench::options o;
    o.worker_command = {argv[0], "--worker"};
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--quick")
            o.quick = true;
        else if (a.rfind("--monitor=", 0) == 0 && umn::parse_monitor(a.substr(10), &o.monitor))
            continue;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    umn::bench::register_benchmarks(o);
    benchmark::RunSpecifiedBenchmarks();
    umn::bench::release_benchmarks();
    benchmark::Shutdown();
    return 0;
}
