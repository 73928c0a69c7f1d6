// SPDX-License-Identifier: BSD-3-Clause
// The umn tool's subcommands. Each returns the process exit status.
#pragma once

#include <umn/umn.h>

#include <string>
#include <vector>

namespace umn::cli {

int info();

struct check_options {
    std::vector<std::string> monitors;  // empty: every usable monitor
    std::vector<std::string> cases;     // empty: every case
    bool json = false;
};
int check(const check_options &o);

}  // namespace umn::cli
