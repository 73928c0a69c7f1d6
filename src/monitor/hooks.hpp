// SPDX-License-Identifier: BSD-3-Clause
// What the hooks monitor patched, for `umn info` and the tests.
#pragma once

#include <string>
#include <vector>

namespace umn {

struct hook_entry {
    std::string library;  // "libc", "ld.so"
    std::string name;     // the function (aliases listed in `detail`)
    std::string how;      // "entry", "site", "chained", "via brk", "not patched"
    std::string detail;   // where, what it chains to, or why not
    bool patched = false;
};

// The entries as installed (after the first hooks notifier opened), else as
// they would be patched now (nothing is written).
std::vector<hook_entry> hooks_report();

// After install: how long it waited for mapping calls other threads had begun
// in the unpatched code (src/monitor/hooks_quiesce.hpp); "" before.
std::string hooks_install_note();

}  // namespace umn
