// SPDX-License-Identifier: BSD-3-Clause
#include "commands.hpp"

#include "core/notifier.hpp"
#include "monitor/hooks.hpp"
#include "monitor/monitor.hpp"
#include "config/options.hpp"
#include "pagemap.hpp"
#include "registrar/ibverbs.hpp"

#include "os/raw_syscall.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace umn::cli {

namespace {

void print_monitor(const char *name, const probe_result &r) {
    fmt::print("  {:<8} {:<4} {}\n", name, r.error ? "no" : "yes", r.detail);
}

double elapsed_ns(void (*unmap)(void *), void *page) {
    auto t0 = std::chrono::steady_clock::now();
    unmap(page);
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

// In the child: what `m` adds to a libc munmap of one registered page, as
// the median of libc munmap minus the median of a raw munmap of an
// unregistered page; a negative value is an errno.
double munmap_cost_in_child(umn_monitor m) {
    umn_notifier *n;
    if (int rc = umn_notifier_open(&n, m)) return rc;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE)), samples = 200;
    std::vector<double> libc, raw;
    for (size_t i = 0; i < samples; ++i) {
        void *a = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        void *b = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED || b == MAP_FAILED) return -ENOMEM;
        if (int rc = umn_register(n, a, page, i)) return rc;
        libc.push_back(elapsed_ns([](void *p) { munmap(p, sysconf(_SC_PAGESIZE)); }, a));
        raw.push_back(elapsed_ns(
            [](void *p) {
                sys::raw_syscall3(SYS_munmap, reinterpret_cast<long>(p), sysconf(_SC_PAGESIZE), 0);
            },
            b));
        uint64_t c;
        while (umn_get_invalid(n, &c, 1) > 0) {
        }
    }
    umn_notifier_close(n);
    return std::max(0.0, median(libc) - median(raw));
}

// munmap_cost_in_child in a child process: patched libc and a process-wide
// userfaultfd stay with the process, and must not change what `umn info`
// or the next monitor sees.
double munmap_cost(umn_monitor m) {
    int fds[2];
    if (pipe(fds)) return -errno;
    pid_t pid = fork();
    if (pid == 0) {
        double v = munmap_cost_in_child(m);
        _exit(write(fds[1], &v, sizeof v) == sizeof v ? 0 : 1);
    }
    close(fds[1]);
    double v = -ECHILD;
    if (pid < 0 || read(fds[0], &v, sizeof v) != sizeof v) v = -ECHILD;
    close(fds[0]);
    if (pid > 0) waitpid(pid, nullptr, 0);
    return v;
}

void print_costs() {
    fmt::print("cost here, added to a munmap of one registered page (median of 200):\n ");
    for (umn_monitor m : {UMN_MONITOR_KERNEL, UMN_MONITOR_HOOKS, UMN_MONITOR_UFFD}) {
        double v = munmap_cost(m);
        if (v < 0)
            fmt::print(" {} unusable", monitor_name(m));
        else
            fmt::print(" {} {:.0f} ns", monitor_name(m), v);
        fmt::print("{}", m == UMN_MONITOR_UFFD ? "\n" : ",");
    }
    fmt::print("  (`umn bench` compares every row with UCX: miss, invalidate, munmap, memory)\n");
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
    fmt::print("\nenvironment:\n");
    for (const option_view &v : describe_options()) {
        fmt::print("  {:<22} {:<16} (default {}) {}\n", v.name, v.value, v.default_text, v.doc);
        if (!v.error.empty()) fmt::print("  {:<22} refused: {}\n", "", v.error);
    }
    std::string why;
    umn_monitor chosen = choose_monitor(UMN_MONITOR_AUTO, &why);
    fmt::print("\nAUTO chooses: {} ({})\n", monitor_name(chosen), why);
    print_costs();
    testkit::pagemap pm;
    fmt::print("ground truth for `umn check`: {}\n", pm.available()
                                                         ? "physical frames from /proc/self/pagemap"
                                                         : "unavailable (frame numbers need root)");
    fmt::print("\nregistrars:\n");
    print_monitor("ibverbs", verbs::probe());
    return 0;
}

}  // namespace umn::cli
