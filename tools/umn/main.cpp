// SPDX-License-Identifier: BSD-3-Clause
// umn: inspect the monitors and check what each of them sees.
#include "commands.hpp"
#include "table.hpp"
#include "usage.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>

namespace {

using namespace umn::cli;

const char *const exit_statuses =
    "Exit status:\n"
    "  0    success\n"
    "  1    umn check: a case failed; umn bench: its JSON or plot could not be written\n"
    "  2    usage error: unknown subcommand, option, monitor or case\n"
    "  77   umn check: no requested monitor is usable here (each printed as SKIP)\n"
    "  127  umn bench: umn-bench is missing beside umn";

std::vector<CLI::App *> subcommands(CLI::App &app) {
    return app.get_subcommands([](CLI::App *) { return true; });
}

CLI::App *find_subcommand(CLI::App &app, const std::string &name) {
    for (CLI::App *s : subcommands(app))
        if (s->get_name() == name) return s;
    return nullptr;
}

// To stderr: why, the subcommands and where to read more; exit_usage.
int usage_error(CLI::App &app, const std::string &why) {
    table t({{"", 8}, {"", 0}}, 2, 2);
    for (CLI::App *s : subcommands(app)) t.row({s->get_name(), s->get_description()});
    fmt::print(stderr, "umn: {}\nsubcommands:\n{}run `umn help SUBCOMMAND` for its options\n", why,
               t.render());
    return exit_usage;
}

// The first word that is not an option names the subcommand (umn itself has
// no option that takes a value).
const char *subcommand_word(int argc, char **argv) {
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] != '-') return argv[i];
    return nullptr;
}

int help(CLI::App &app, const std::string &name) {
    // App::help() would print the help of the subcommand parsed: `help`.
    if (name.empty()) {
        fmt::print("{}", app.get_formatter()->make_help(&app, "umn", CLI::AppFormatMode::Normal));
        return exit_ok;
    }
    CLI::App *s = find_subcommand(app, name);
    if (!s) return usage_error(app, fmt::format("'{}' is not a subcommand", name));
    // umn-bench owns bench's options.
    if (name == "bench") return run_bench_program({"--help"});
    fmt::print("{}", s->help("umn"));
    return exit_ok;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"umn: memory-registration invalidation notifier", "umn"};
    app.set_version_flag("--version", version_text("umn"), "print umn's and libumn's versions");
    app.require_subcommand(0, 1);  // `umn help check` asks about check, runs nothing
    app.footer(std::string("Run `umn help SUBCOMMAND` for a subcommand's options.\n\n") +
               exit_statuses);

    bool info_json = false;
    CLI::App *i = app.add_subcommand("info", "which monitors work here, AUTO's choice, settings");
    i->add_flag("--json", info_json, "print JSON instead of text");
    i->footer("Exit status: 0 success, 2 usage error.");

    check_options check;
    CLI::App *c = app.add_subcommand(
        "check", "run the event-coverage matrix, judged against /proc/self/pagemap");
    c->add_option("-m,--monitor", check.monitors,
                  "kernel, uffd or hooks (repeatable; default: every usable one)")
        ->check(CLI::IsMember({"kernel", "uffd", "userfaultfd", "hooks"}));
    c->add_option("-c,--case", check.cases, "run only this case (repeatable; see --list)");
    c->add_flag("-l,--list", check.list, "list the cases and what each does, run nothing");
    c->add_flag("--json", check.json, "print JSON instead of a table");
    c->footer(
        "A monitor that cannot be used here is printed as SKIP with the reason.\n\n"
        "Exit status:\n"
        "  0    every case run was ok or is documented as invisible to its monitor\n"
        "  1    a case failed (MISSED, FALSE or ERROR)\n"
        "  2    usage error: unknown option, monitor or case\n"
        "  77   nothing ran: no requested monitor is usable here");

    // `umn bench` is its own program (umn-bench, beside this one): it links
    // UCX, whose libucm patches libc's mmap when loaded, and `umn check`
    // must see libc as the application would, not chained behind UCX. Every
    // argument, --help included, goes to umn-bench.
    CLI::App *b =
        app.add_subcommand("bench", "umn's registration cache beside UCX's (runs umn-bench)");
    b->prefix_command();
    b->set_help_flag();

    std::string help_topic;
    CLI::App *h = app.add_subcommand("help", "this list, or a subcommand's options");
    h->add_option("subcommand", help_topic, "info, check, bench or help");

    const char *word = subcommand_word(argc, argv);
    if (word && !find_subcommand(app, word))
        return usage_error(app, fmt::format("'{}' is not a subcommand", word));
    if (std::optional<int> status = parse(app, argc, argv)) return *status;
    if (i->parsed()) return info(info_json);
    if (c->parsed()) return umn::cli::check(check);
    if (b->parsed()) return run_bench_program(b->remaining());
    if (h->parsed()) return help(app, help_topic);
    return usage_error(app, "a subcommand is required");
}
