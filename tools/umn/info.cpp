// SPDX-License-Identifier: BSD-3-Clause
#include "commands.hpp"
#include "table.hpp"
#include "usage.hpp"

#include "api/notifier.hpp"
#include "monitor/hooks.hpp"
#include "monitor/monitor.hpp"
#include "config/options.hpp"
#include "pagemap.hpp"
#include "registrar/cuda.hpp"
#include "registrar/ibverbs.hpp"

#include <umn/ofi.h>

#include "os/raw_syscall.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace umn::cli {

namespace {

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

// The libfabric plugin (include/umn/ofi.h): FI_PROVIDER_PATH=dir loads it.
struct fabric_plugin {
    uint32_t built_for = umn_ofi_built_for();  // FI_VERSION; 0: built without libfabric
    std::string dir = umn_ofi_plugin_dir();
    std::string path = dir + "/" UMN_OFI_PLUGIN_NAME;
    bool present = access(path.c_str(), R_OK) == 0;

    std::string libfabric() const {
        return fmt::format("{}.{}", built_for >> 16, built_for & 0xffff);
    }
    const char *status() const {
        return !built_for ? "not built" : present ? "installed" : "missing";
    }
    std::string text() const {
        if (!built_for)
            return "not built (libumn was built without libfabric's headers, package "
                   "libfabric-dev)";
        if (!present)
            return fmt::format("built for libfabric {}, but {} is missing (not installed)",
                               libfabric(), path);
        return fmt::format("{} for libfabric {}; FI_PROVIDER_PATH={} loads it into a program", path,
                           libfabric(), dir);
    }
};

// How to read the counters (umn.h: umn_cache_stats, umn_notifier_stats).
std::string statistics_text() {
    return fmt::format(
        "UMN_STATS=1 prints each cache's and notifier's counters to stderr when it is closed and "
        "at exit ({} here); a program reads them with umn_cache_stats() and "
        "umn_notifier_stats() (umn.h, man umn_cache_stats).",
        options().stats ? "on" : "off");
}

// Everything `umn info` reports, gathered once, printed as text or JSON.
struct facts {
    struct monitor {
        umn_monitor id;
        probe_result probe;
        double munmap_cost_ns;  // negative: unusable (an errno)
    };
    std::vector<monitor> monitors;
    std::vector<hook_entry> hooks;
    umn_monitor chosen;
    std::string why;
    bool ground_truth;
    probe_result ibverbs;
    probe_result cuda;
    std::vector<option_view> options;
    fabric_plugin plugin;
};

facts gather() {
    facts f;
    for (umn_monitor m : {UMN_MONITOR_KERNEL, UMN_MONITOR_UFFD, UMN_MONITOR_HOOKS}) {
        probe_result p = m == UMN_MONITOR_KERNEL ? probe_kernel()
                         : m == UMN_MONITOR_UFFD ? probe_uffd()
                                                 : probe_hooks();
        f.monitors.push_back({m, p, munmap_cost(m)});
    }
    f.hooks = hooks_report();
    f.chosen = choose_monitor(UMN_MONITOR_AUTO, &f.why);
    f.ground_truth = testkit::pagemap().available();
    f.ibverbs = verbs::probe();
    f.cuda = cuda::probe();
    f.options = describe_options();
    return f;
}

const char *const ground_truth_text[] = {"unavailable (frame numbers need root)",
                                         "physical frames from /proc/self/pagemap"};

// Every UMN_* variable: the value in use and the default, like `ucx_info -c`.
void print_options(const std::vector<option_view> &options) {
    fmt::print("\nenvironment (every UMN_* variable umn reads):\n");
    table t({{"variable", 24}, {"value", 16}, {"default", 16}, {"meaning", 0}}, 2, 2);
    for (const option_view &v : options) {
        t.row({v.name, v.value, v.default_text, v.doc});
        if (!v.error.empty()) t.note(fmt::format("refused: {}", v.error));
    }
    fmt::print("{}", t.render());
}

// "name  yes|no  why" rows: the monitors, the registrars.
void print_probes(const std::vector<std::pair<std::string, probe_result>> &probes) {
    table t({{"", 8}, {"", 3}, {"", 0}}, 2, 2);
    for (const auto &[name, p] : probes) t.row({name, p.error ? "no" : "yes", p.detail});
    fmt::print("{}", t.render());
}

void print_text(const facts &f) {
    fmt::print("{}\n\nmonitors:\n", version_text("umn"));
    std::vector<std::pair<std::string, probe_result>> monitors;
    for (const facts::monitor &m : f.monitors) monitors.push_back({monitor_name(m.id), m.probe});
    print_probes(monitors);

    fmt::print("\nhooks entries (libc functions and their aliases, the loader's own copies):\n");
    table hooks({{"", 6}, {"", 18}, {"", 18}, {"", 0}}, 2, 2);
    for (const hook_entry &h : f.hooks) hooks.row({h.library, h.name, h.how, h.detail});
    fmt::print("{}", hooks.render());

    fmt::print("\n{}",
               paragraph("AUTO chooses: ", fmt::format("{} ({})", monitor_name(f.chosen), f.why)));
    fmt::print("{}", paragraph("",
                               "cost here, added to a munmap of one registered page (median of "
                               "200; `umn bench` compares each monitor with UCX):"));
    table costs({{"", 8}, {"", 0}}, 2, 2);
    for (const facts::monitor &m : f.monitors)
        costs.row({monitor_name(m.id),
                   m.munmap_cost_ns < 0 ? "unusable" : fmt::format("{:.0f} ns", m.munmap_cost_ns)});
    fmt::print("{}", costs.render());
    fmt::print("\n{}",
               paragraph("ground truth for `umn check`: ", ground_truth_text[f.ground_truth]));

    print_options(f.options);
    fmt::print("\n{}", paragraph("statistics: ", statistics_text()));

    fmt::print("\nregistrars:\n");
    print_probes({{"ibverbs", f.ibverbs}, {"cuda", f.cuda}});
    fmt::print("\n{}", paragraph("libfabric plugin: ", f.plugin.text()));
}

nlohmann::json probe_json(const probe_result &p) {
    return {{"usable", p.error == 0}, {"reason", p.detail}};
}

void print_json(const facts &f) {
    nlohmann::json out;
    out["version"] = {{"umn", UMN_PROJECT_VERSION},
                      {"libumn", umn_version()},
                      {"headers", fmt::format("{}.{}.{}", UMN_VERSION_MAJOR, UMN_VERSION_MINOR,
                                              UMN_VERSION_PATCH)}};
    out["monitors"] = nlohmann::json::array();
    for (const facts::monitor &m : f.monitors) {
        nlohmann::json j = probe_json(m.probe);
        j["name"] = monitor_name(m.id);
        j["munmap_cost_ns"] =
            m.munmap_cost_ns < 0 ? nlohmann::json(nullptr) : nlohmann::json(m.munmap_cost_ns);
        out["monitors"].push_back(j);
    }
    out["auto"] = {{"monitor", monitor_name(f.chosen)}, {"why", f.why}};
    out["hooks_entries"] = nlohmann::json::array();
    for (const hook_entry &h : f.hooks)
        out["hooks_entries"].push_back({{"library", h.library},
                                        {"name", h.name},
                                        {"how", h.how},
                                        {"detail", h.detail},
                                        {"patched", h.patched}});
    out["ground_truth"] = {{"available", f.ground_truth},
                           {"source", ground_truth_text[f.ground_truth]}};
    nlohmann::json ibverbs = probe_json(f.ibverbs);
    ibverbs["name"] = "ibverbs";
    nlohmann::json cuda = probe_json(f.cuda);
    cuda["name"] = "cuda";
    out["registrars"] = nlohmann::json::array({ibverbs, cuda});
    out["variables"] = nlohmann::json::array();
    for (const option_view &v : f.options)
        out["variables"].push_back(
            {{"name", v.name},
             {"value", v.value},
             {"default", v.default_text},
             {"set", v.set},
             {"doc", v.doc},
             {"refused", v.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.error)}});
    const fabric_plugin &p = f.plugin;
    out["statistics"] = {{"printed_at_exit", options().stats},
                         {"environment", "UMN_STATS=1"},
                         {"functions", {"umn_cache_stats", "umn_notifier_stats"}}};
    out["libfabric_plugin"] = {
        {"status", p.status()},
        {"built_for_libfabric", p.built_for ? nlohmann::json(p.libfabric()) : nullptr},
        {"path", p.path},
        {"fi_provider_path", p.dir}};
    fmt::print("{}\n", out.dump(2));
}

}  // namespace

int info(bool json) {
    facts f = gather();
    if (json)
        print_json(f);
    else
        print_text(f);
    return exit_ok;
}

}  // namespace umn::cli
