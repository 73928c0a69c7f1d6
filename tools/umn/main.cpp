// SPDX-License-Identifier: BSD-3-Clause
// umn: inspect the monitors and check what each of them sees.
#include "commands.hpp"
#include "os/options.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char **argv) {
    CLI::App app{"umn: memory-registration invalidation notifier"};
    app.require_subcommand(1);

    app.add_subcommand("info", "list the monitors, whether each is usable here and why");

    umn::cli::check_options check;
    CLI::App *c = app.add_subcommand(
        "check",
        "run the event-coverage matrix (each case in its own process) and judge it "
        "against ground truth from /proc/self/pagemap");
    c->add_option("-m,--monitor", check.monitors,
                  "kernel, uffd or hooks (repeatable; default: all usable)")
        ->check(CLI::IsMember({"kernel", "uffd", "userfaultfd", "hooks"}));
    c->add_option("-c,--case", check.cases, "run only this case (repeatable)");
    c->add_flag("--json", check.json, "print JSON instead of a table");

    umn::cli::bench_options bench;
    std::string bench_monitor = "auto";
    CLI::App *b = app.add_subcommand(
        "bench", "umn's registration cache beside UCX's ucs_rcache: table with umn/UCX ratios");
    b->add_flag("--quick", bench.quick, "short runs and small sizes only (< 1 minute)");
    b->add_option("--json", bench.json, "where to write the JSON")->capture_default_str();
    b->add_option("--plot", bench.plot, "draw ns per hit vs regions and threads as SVG (gnuplot)");
    b->add_option("--filter", bench.filter, "run only rows matching this regex");
    b->add_option("-m,--monitor", bench_monitor, "umn's monitor for the hit rows")
        ->check(CLI::IsMember({"auto", "kernel", "uffd", "hooks"}));
    std::vector<std::string> worker_args;
    CLI::App *w = app.add_subcommand("bench-worker", "")->group("");  // hidden: spawned by bench
    w->add_option("args", worker_args);

    CLI11_PARSE(app, argc, argv);
    if (app.got_subcommand("info")) return umn::cli::info();
    if (app.got_subcommand("bench-worker")) return umn::cli::bench_worker(worker_args);
    if (app.got_subcommand("bench")) {
        umn::parse_monitor(bench_monitor, &bench.monitor);
        return umn::cli::bench(bench);
    }
    return umn::cli::check(check);
}
