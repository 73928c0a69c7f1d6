// SPDX-License-Identifier: BSD-3-Clause
// umn-bench: what `umn bench` runs. A program of its own because it links
// UCX, whose libucm patches libc's mapping functions as soon as it is loaded.
#include "commands.hpp"
#include "config/options.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char **argv) {
    CLI::App app{
        "umn bench: umn's registration cache beside UCX's ucs_rcache, table with umn/UCX "
        "ratios"};
    umn::cli::bench_options bench;
    std::string monitor = "auto";
    app.add_flag("--quick", bench.quick, "short runs and small sizes only (< 1 minute)");
    app.add_option("--json", bench.json, "where to write the JSON")->capture_default_str();
    app.add_option("--plot", bench.plot, "draw ns per hit vs regions and threads as SVG (gnuplot)");
    app.add_option("--filter", bench.filter, "run only rows matching this regex");
    app.add_option("-m,--monitor", monitor, "umn's monitor for the hit rows")
        ->check(CLI::IsMember({"auto", "kernel", "uffd", "hooks"}));
    std::vector<std::string> worker_args;
    CLI::App *w = app.add_subcommand("bench-worker", "")->group("");  // hidden: spawned by bench
    w->add_option("args", worker_args);

    CLI11_PARSE(app, argc, argv);
    if (app.got_subcommand("bench-worker")) return umn::cli::bench_worker(worker_args);
    umn::parse_monitor(monitor, &bench.monitor);
    return umn::cli::bench(bench);
}
