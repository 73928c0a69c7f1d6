// SPDX-License-Identifier: BSD-3-Clause
// umn-bench: what `umn bench` runs. A program of its own because it links
// UCX, whose libucm patches libc's mapping functions as soon as it is loaded.
#include "commands.hpp"
#include "usage.hpp"
#include "config/options.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char **argv) {
    // Not an option users see: bench runs `umn-bench bench-worker ...` (/proc/self/exe).
    if (argc > 1 && std::string(argv[1]) == "bench-worker")
        return umn::cli::bench_worker(std::vector<std::string>(argv + 2, argv + argc));
    CLI::App app{
        "umn-bench: umn's registration cache beside UCX's ucs_rcache, a table with umn/UCX "
        "ratios\n(`umn bench ARGS` runs `umn-bench ARGS`)",
        "umn-bench"};
    app.set_version_flag("--version", umn::cli::version_text("umn-bench"),
                         "print umn-bench's and libumn's versions");
    app.footer(
        "Exit status:\n"
        "  0    success\n"
        "  1    the JSON or the plot could not be written\n"
        "  2    usage error: unknown option or monitor\n"
        "  127  (from `umn bench`) umn-bench is missing beside umn");
    umn::cli::bench_options bench;
    std::string monitor = "auto";
    app.add_flag("--quick", bench.quick, "short runs and small sizes only (< 1 minute)");
    app.add_option("--json", bench.json, "where to write the JSON")->capture_default_str();
    app.add_option("--plot", bench.plot, "draw ns per hit vs regions and threads as SVG (gnuplot)");
    app.add_option("--filter", bench.filter, "run only rows matching this regex");
    app.add_option("-m,--monitor", monitor, "umn's monitor for the hit rows")
        ->check(CLI::IsMember({"auto", "kernel", "uffd", "hooks"}))
        ->capture_default_str();

    if (std::optional<int> status = umn::cli::parse(app, argc, argv)) return *status;
    umn::parse_monitor(monitor, &bench.monitor);
    return umn::cli::bench(bench);
}
