// SPDX-License-Identifier: BSD-3-Clause
#include "usage.hpp"

#include <umn/umn.h>

#include <fmt/core.h>

namespace umn::cli {

std::string version_text(const char *program) {
    return fmt::format("{} {} (libumn {})", program, UMN_PROJECT_VERSION, umn_version());
}

std::optional<int> parse(CLI::App &app, int argc, char **argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }
    return std::nullopt;
}

}  // namespace umn::cli
