// SPDX-License-Identifier: BSD-3-Clause
// What umn and umn-bench share on their command lines: the version line and
// one meaning for exit statuses.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace umn::cli {

// Exit statuses of umn and umn-bench (also in their --help and man pages).
enum exit_status : int {
    exit_ok = 0,
    exit_failed = 1,        // a check case failed; bench could not write its output
    exit_usage = 2,         // unknown subcommand, option, monitor or case
    exit_skipped = 77,      // umn check: no requested monitor is usable here
    exit_no_program = 127,  // umn bench: umn-bench missing beside umn
};

// "umn 0.1.0 (libumn 0.1.0)": the project's version and umn_version().
std::string version_text(const char *program);

// CLI11's parse with umn's exit statuses: nullopt to go on, else the status
// to exit with (0 after --help or --version, exit_usage after an error,
// whose message went to stderr).
std::optional<int> parse(CLI::App &app, int argc, char **argv);

}  // namespace umn::cli
