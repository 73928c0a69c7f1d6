// SPDX-License-Identifier: BSD-3-Clause
#include "os/options.hpp"

#include <cctype>
#include <cstdlib>

namespace umn {

namespace {

void read_size(const char *name, size_t *out) {
    const char *v = std::getenv(name);
    size_t parsed;
    if (v && parse_size(v, &parsed) && parsed > 0) *out = parsed;
}

options_t read_options() {
    options_t o;
    if (const char *m = std::getenv("UMN_MONITOR")) {
        o.monitor_text = m;
        o.monitor_invalid = !parse_monitor(o.monitor_text, &o.monitor);
    }
    read_size("UMN_MAX_REGISTRATIONS", &o.max_registrations);
    read_size("UMN_CACHE_MAX_REGIONS", &o.cache_max_regions);
    read_size("UMN_CACHE_MAX_BYTES", &o.cache_max_bytes);
    if (const char *lib = std::getenv("UMN_IBVERBS_LIBRARY")) o.ibverbs_library = lib;
    return o;
}

}  // namespace

const options_t &options() {
    static const options_t o = read_options();
    return o;
}

bool parse_monitor(const std::string &text, umn_monitor *out) {
    if (text == "auto" || text.empty())
        *out = UMN_MONITOR_AUTO;
    else if (text == "kernel")
        *out = UMN_MONITOR_KERNEL;
    else if (text == "uffd" || text == "userfaultfd")
        *out = UMN_MONITOR_UFFD;
    else if (text == "hooks")
        *out = UMN_MONITOR_HOOKS;
    else
        return false;
    return true;
}

const char *monitor_name(umn_monitor m) {
    switch (m) {
        case UMN_MONITOR_KERNEL:
            return "kernel";
        case UMN_MONITOR_UFFD:
            return "uffd";
        case UMN_MONITOR_HOOKS:
            return "hooks";
        default:
            return "auto";
    }
}

bool parse_size(const std::string &text, size_t *out) {
    size_t i = 0, value = 0;
    if (text.empty()) return false;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
        size_t digit = static_cast<size_t>(text[i] - '0');
        if (value > (SIZE_MAX - digit) / 10) return false;
        value = value * 10 + digit;
    }
    if (i == 0) return false;
    unsigned shift = 0;
    if (i < text.size()) {
        switch (std::tolower(static_cast<unsigned char>(text[i]))) {
            case 'k':
                shift = 10;
                break;
            case 'm':
                shift = 20;
                break;
            case 'g':
                shift = 30;
                break;
            default:
                return false;
        }
        if (++i != text.size()) return false;
    }
    if (shift && value > (SIZE_MAX >> shift)) return false;
    *out = value << shift;
    return true;
}

}  // namespace umn
