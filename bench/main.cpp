// SPDX-License-Identifier: BSD-3-Clause
// umn_bench: every row of `umn bench` under Google Benchmark's own command
// line (--benchmark_filter, --benchmark_out=FILE --benchmark_out_format=json,
// ...). Extra flags: --quick (short runs), --monitor=hooks|uffd|kernel (umn's
// monitor in the hit rows). `umn_bench --worker ...` is a munmap worker.
// Exits 1 if a row failed (a hit loop that missed, a drain that did not
// deregister, ...); a side that cannot run here ("unavailable") is not a
// failure. Times never fail it.
#include "benchmarks.hpp"
#include "config/options.hpp"

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

class checking_reporter : public benchmark::ConsoleReporter {
  public:
    bool failed = false;
    void ReportRuns(const std::vector<Run> &runs) override {
        for (const Run &r : runs)
            if (r.error_occurred && r.error_message.rfind("unavailable", 0) != 0) failed = true;
        ConsoleReporter::ReportRuns(runs);
    }
};

}  // namespace

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
    checking_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    umn::bench::release_benchmarks();
    benchmark::Shutdown();
    return reporter.failed ? 1 : 0;
}
