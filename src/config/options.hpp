// SPDX-License-Identifier: BSD-3-Clause
// Every UMN_* environment variable umn reads, parsed once from one table
// (options.cpp) that also holds the defaults and the documentation.
//
// A value that does not parse is not silently replaced by the default: the
// option keeps its default, remembers why the value was refused, and every
// call that depends on the option fails with -EINVAL and that reason
// (require()). An empty value counts as unset.
#pragma once

#include <umn/umn.h>

#include <cstddef>
#include <string>
#include <vector>

namespace umn {

enum class option : unsigned {
    monitor,
    max_registrations,
    cache_max_regions,
    cache_max_bytes,
    ibverbs_library,
    cudart_library,
    stats,
    count
};

struct options_t {
    umn_monitor monitor = UMN_MONITOR_AUTO;
    size_t max_registrations = 0;
    size_t cache_max_regions = 0;
    size_t cache_max_bytes = 0;  // 0: default_cache_max_bytes()
    std::string ibverbs_library;
    std::string cudart_library;  // "auto": libcudart.so, then versioned sonames
    bool stats = false;
    // Per option: the text in use (the environment's, or the default's) and
    // why the environment's was refused ("" if it was not).
    std::string text[static_cast<unsigned>(option::count)];
    std::string error[static_cast<unsigned>(option::count)];
};

const options_t &options();

// 0, or -EINVAL with the reason recorded for umn_last_error() when the
// environment value of `o` was refused.
int require(option o);

// The default max_bytes of a cache: half of physical memory; for a registrar
// that pins pages (pins == true) also at most three quarters of
// RLIMIT_MEMLOCK, the rest left for the regions retired but still referenced
// and for other users of locked memory.
size_t default_cache_max_bytes(bool pins);

// One row per option, in table order, for `umn info`.
struct option_view {
    const char *name;          // "UMN_MONITOR"
    const char *doc;           // one line
    const char *default_text;  // as the table gives it
    bool set;                  // present and non-empty in the environment
    std::string value;         // the text in use: the environment's if accepted, else the default
    std::string error;         // why the environment's value was refused, "" if it was not
};
std::vector<option_view> describe_options();

// Test hook: reads the environment again (not thread-safe).
void reload_options_for_test();

// "kernel", "uffd"/"userfaultfd", "hooks", "auto"; false if unknown.
bool parse_monitor(const std::string &text, umn_monitor *out);
const char *monitor_name(umn_monitor m);
// Parses "123", "64k", "2M", "1g"; false on junk or overflow.
bool parse_size(const std::string &text, size_t *out);

}  // namespace umn
