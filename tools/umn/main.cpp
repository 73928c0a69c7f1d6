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

    CLI11_PARSE(app, argc, argv);
    if (app.got_subcommand("info")) return umn::cli::info();
    return umn::cli::check(check);
}
