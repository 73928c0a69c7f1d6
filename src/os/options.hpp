// SPDX-License-Identifier: BSD-3-Clause
// Every environment variable umn reads is parsed here, once.
//   UMN_MONITOR=kernel|uffd|hooks   overrides UMN_MONITOR_AUTO
//   UMN_MAX_REGISTRATIONS=N         per-notifier limit (default 1<<20)
//   UMN_CACHE_MAX_REGIONS=N         cache default for max_regions
//   UMN_CACHE_MAX_BYTES=N           cache default for max_bytes (suffix k/m/g allowed)
//   UMN_IBVERBS_LIBRARY=name        what the ibverbs registrar dlopens (default libibverbs.so.1)
#pragma once

#include <umn/umn.h>

#include <cstddef>
#include <string>

namespace umn {

struct options_t {
    umn_monitor monitor = UMN_MONITOR_AUTO;
    std::string monitor_text;  // UMN_MONITOR as given, "" if unset
    bool monitor_invalid = false;
    size_t max_registrations = size_t{1} << 20;
    size_t cache_max_regions = 0;  // 0: the cache's own default
    size_t cache_max_bytes = 0;
    std::string ibverbs_library;  // "" = libibverbs.so.1
};

const options_t &options();

// "kernel", "uffd"/"userfaultfd", "hooks", "auto"; false if unknown.
bool parse_monitor(const std::string &text, umn_monitor *out);
const char *monitor_name(umn_monitor m);
// Parses "123", "64k", "2M", "1g"; false on junk or overflow.
bool parse_size(const std::string &text, size_t *out);

}  // namespace umn
