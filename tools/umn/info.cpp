// SPDX-License-Identifier: BSD-3-Clause
#include "commands.hpp"

#include "core/notifier.hpp"
#include "monitor/hooks.hpp"
#include "monitor/monitor.hpp"
#include "os/options.hpp"
#include "pagemap.hpp"
#include "registrar/ibverbs.hpp"

#include <fmt/core.h>

namespace umn::cli {

namespace {

void print_monitor(const char *name, const probe_result &r) {
    fmt::print("  {:<8} {:<4} {}\n", name, r.error ? "no" : "yes", r.detail);
}

}  // namespace

int info() {
    fmt::print("umn {}.{}\n\nmonitors:\n", UMN_VERSION_MAJOR, UMN_VERSION_MINOR);
    print_monitor("kernel", probe_kernel());
    print_monitor("uffd", probe_uffd());
    print_monitor("hooks", probe_hooks());
    fmt::print("\nhooks entries (libc functions and their aliases, the loader's own copies):\n");
    for (const hook_entry &h : hooks_report())
        fmt::print("  {:<6} {:<8} {:<18} {}\n", h.library, h.name, h.how, h.detail);
    const options_t &o = options();
    if (o.monitor_invalid)
        fmt::print("\nUMN_MONITOR={} is not a monitor (kernel, uffd, hooks or auto)\n",
                   o.monitor_text);
    std::string why;
    umn_monitor chosen = choose_monitor(UMN_MONITOR_AUTO, &why);
    fmt::print("\nAUTO chooses: {} ({})\n", monitor_name(chosen), why);
    testkit::pagemap pm;
    fmt::print("ground truth for `umn check`: {}\n", pm.available()
                                                         ? "physical frames from /proc/self/pagemap"
                                                         : "unavailable (frame numbers need root)");
    fmt::print("\nregistrars:\n");
    print_monitor("ibverbs", verbs::probe());
    return 0;
}

}  // namespace umn::cli
