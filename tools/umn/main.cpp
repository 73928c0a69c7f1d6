// SPDX-License-Identifier: BSD-3-Clause
// umn: inspect the monitors and check what each of them sees.
#include "commands.hpp"

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

    // `umn bench` is its own program (umn-bench, beside this one): it links
    // UCX, whose libucm patches libc's mmap when loaded, and `umn check`
    // must see libc as the application would, not chained behind UCX.
    CLI::App *b =
        app.add_subcommand("bench",
                           "umn's registration cache beside UCX's ucs_rcache (runs umn-bench; see "
                           "`umn bench --help`)");
    b->prefix_command();

    CLI11_PARSE(app, argc, argv);
    if (app.got_subcommand("info")) return umn::cli::info();
    if (app.got_subcommand("bench")) return umn::cli::run_bench_program(b->remaining());
    return umn::cli::check(check);
}
