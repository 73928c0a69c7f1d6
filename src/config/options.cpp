// SPDX-License-Identifier: BSD-3-Clause
// The options table: every UMN_* variable with its parser, default and
// documentation, read once at the first options() call. Defaults are given
// as text and go through the same parser as the environment.
#include "config/options.hpp"

#include "diagnostics/reason.hpp"
#include "os/sys.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <unistd.h>

namespace umn {

namespace {

// Parses text into o; false with *why set when it does not parse.
using parse_fn = bool (*)(const std::string &text, options_t *o, std::string *why);

struct option_def {
    option id;
    const char *name;
    parse_fn parse;
    const char *default_text;
    const char *doc;
};

bool parse_monitor_option(const std::string &text, options_t *o, std::string *why) {
    if (parse_monitor(text, &o->monitor)) return true;
    *why = "is not one of auto, kernel, uffd, hooks";
    return false;
}

bool parse_count(const std::string &text, size_t *out, std::string *why) {
    size_t value;
    if (!parse_size(text, &value)) {
        *why = "is not a number (digits, optionally followed by k, m or g)";
        return false;
    }
    if (value == 0) {
        *why = "must be at least 1";
        return false;
    }
    *out = value;
    return true;
}

bool parse_max_registrations(const std::string &text, options_t *o, std::string *why) {
    return parse_count(text, &o->max_registrations, why);
}

bool parse_cache_max_regions(const std::string &text, options_t *o, std::string *why) {
    return parse_count(text, &o->cache_max_regions, why);
}

bool parse_cache_max_bytes(const std::string &text, options_t *o, std::string *why) {
    if (text == "auto") {
        o->cache_max_bytes = 0;
        return true;
    }
    size_t value;
    if (parse_size(text, &value) && value > 0) {
        o->cache_max_bytes = value;
        return true;
    }
    *why = "is not a size (bytes, optionally followed by k, m or g, or auto)";
    return false;
}

bool parse_ibverbs_library(const std::string &text, options_t *o, std::string *) {
    o->ibverbs_library = text;
    return true;
}

bool parse_cudart_library(const std::string &text, options_t *o, std::string *) {
    o->cudart_library = text;
    return true;
}

bool parse_bool(const std::string &text, options_t *o, std::string *why) {
    std::string t = text;
    std::transform(t.begin(), t.end(), t.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    if (t == "1" || t == "yes" || t == "true" || t == "on") {
        o->stats = true;
        return true;
    }
    if (t == "0" || t == "no" || t == "false" || t == "off") {
        o->stats = false;
        return true;
    }
    *why = "is not one of 1, 0, yes, no, true, false, on, off";
    return false;
}

// The table. Order is what `umn info` prints.
const option_def table[] = {
    {option::monitor, "UMN_MONITOR", parse_monitor_option, "auto",
     "monitor of notifiers opened with UMN_MONITOR_AUTO: auto, kernel, uffd or hooks"},
    {option::max_registrations, "UMN_MAX_REGISTRATIONS", parse_max_registrations, "1048576",
     "live plus undrained registrations per notifier (umn_notifier_set_limit overrides)"},
    {option::cache_max_regions, "UMN_CACHE_MAX_REGIONS", parse_cache_max_regions, "131072",
     "regions a cache keeps before LRU eviction, when umn_cache_params.max_regions is 0"},
    {option::cache_max_bytes, "UMN_CACHE_MAX_BYTES", parse_cache_max_bytes, "auto",
     "bytes a cache keeps registered, when umn_cache_params.max_bytes is 0; auto: half of "
     "physical memory, and for registrars that pin pages at most 3/4 of RLIMIT_MEMLOCK"},
    {option::ibverbs_library, "UMN_IBVERBS_LIBRARY", parse_ibverbs_library, "libibverbs.so.1",
     "the library the ibverbs registrar loads with dlopen"},
    {option::cudart_library, "UMN_CUDART_LIBRARY", parse_cudart_library, "auto",
     "the CUDA runtime the cuda registrar loads with dlopen; auto: libcudart.so, then "
     "libcudart.so.13, .12, .11.0, .10.2, .10.1"},
    {option::stats, "UMN_STATS", parse_bool, "0",
     "1: print each cache's and notifier's statistics to stderr when it is closed or the "
     "process exits"},
};
static_assert(sizeof table / sizeof table[0] == static_cast<size_t>(option::count));

unsigned slot(option id) {
    return static_cast<unsigned>(id);
}

options_t read_options() {
    options_t o;
    for (const option_def &d : table) {
        std::string unused;
        d.parse(d.default_text, &o, &unused);
        o.text[slot(d.id)] = d.default_text;
        const char *env = std::getenv(d.name);
        if (!env || !*env) continue;
        std::string why;
        // A refused value leaves the default in place (parsers fail before storing).
        if (d.parse(env, &o, &why))
            o.text[slot(d.id)] = env;
        else
            o.error[slot(d.id)] = std::string(d.name) + "='" + env + "' " + why;
    }
    return o;
}

options_t &storage() {
    static options_t o = read_options();
    return o;
}

}  // namespace

const options_t &options() {
    return storage();
}

void reload_options_for_test() {
    storage() = read_options();
}

int require(option id) {
    const std::string &error = options().error[slot(id)];
    if (error.empty()) return 0;
    return fail(-EINVAL, "%s", error.c_str());
}

size_t default_cache_max_bytes(bool pins) {
    size_t page = sys::page_size();
    long pages = sysconf(_SC_PHYS_PAGES);
    size_t bytes = pages > 0 ? static_cast<size_t>(pages) / 2 * page : SIZE_MAX;
    size_t memlock = sys::memlock_limit();
    if (!pins || memlock == SIZE_MAX) return bytes;
    return std::max(std::min(bytes, memlock - memlock / 4), page);
}

std::vector<option_view> describe_options() {
    const options_t &o = options();
    std::vector<option_view> rows;
    for (const option_def &d : table) {
        const char *env = std::getenv(d.name);
        rows.push_back(option_view{d.name, d.doc, d.default_text, env && *env, o.text[slot(d.id)],
                                   o.error[slot(d.id)]});
    }
    return rows;
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
