// SPDX-License-Identifier: BSD-3-Clause
// umn bench: umn's registration cache beside UCX's ucs_rcache in one run
// (bench/), as a table with the ratio umn/UCX per row, Google Benchmark's
// JSON with that table added, and optionally a gnuplot SVG.
#include "commands.hpp"
#include "table.hpp"

#include "benchmarks.hpp"
#include "api/notifier.hpp"
#include "config/options.hpp"
#include "report.hpp"

#include <benchmark/benchmark.h>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sys/utsname.h>
#include <unistd.h>

namespace umn::cli {

namespace {

std::string scratch_json() {
    char path[] = "/tmp/umn-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return "";
    close(fd);
    return path;
}

// Google Benchmark's flags for this run; it writes its JSON to `json`.
std::vector<std::string> benchmark_flags(const bench_options &o, const std::string &json) {
    std::vector<std::string> flags = {"umn-bench", "--benchmark_out=" + json,
                                      "--benchmark_out_format=json"};
    if (!o.filter.empty()) flags.push_back("--benchmark_filter=" + o.filter);
    return flags;
}

nlohmann::json table_json(const std::vector<bench::table_row> &rows) {
    nlohmann::json out = nlohmann::json::array();
    for (const bench::table_row &r : rows) {
        auto side = [](const std::optional<bench::measurement> &m) -> nlohmann::json {
            if (!m) return nullptr;
            if (!m->error.empty()) return {{"side", m->side}, {"error", m->error}};
            return {{"side", m->side}, {"value", m->value}};
        };
        nlohmann::json row = {{"row", r.workload},  {"unit", r.unit},     {"ucx", side(r.ucx)},
                              {"umn", side(r.umn)}, {"target", r.target}, {"verdict", r.verdict}};
        row["ratio_umn_over_ucx"] = r.ratio() > 0 ? nlohmann::json(r.ratio()) : nullptr;
        out.push_back(row);
    }
    return out;
}

// Google Benchmark's JSON from `from` plus the table, written to `to`.
int write_json(const std::string &from, const std::string &to,
               const std::vector<bench::table_row> &rows) {
    nlohmann::json doc;
    std::ifstream in(from);
    doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded()) doc = nlohmann::json::object();
    doc["umn_table"] = table_json(rows);
    std::ofstream out(to);
    out << doc.dump(2) << "\n";
    return out.good() ? 0 : -EIO;
}

// "unavailable" as "n/a" keeps the value columns narrow; the notes say why.
std::string value_cell(const std::optional<bench::measurement> &m) {
    std::string v = bench::format_value(m);
    return v == "unavailable" ? "n/a" : v;
}

std::string format_table(const std::vector<bench::table_row> &rows) {
    table t({{"row", 36},
             {"umn side", 9},
             {"unit", 12},
             {"UCX", 11, true},
             {"umn", 11, true},
             {"umn/UCX", 8, true},
             {"verdict", 7},
             {"target", 0}});
    std::set<std::string> notes;  // side + reason, once each
    for (const bench::table_row &r : rows) {
        t.row({r.workload, r.umn_side.empty() ? "-" : r.umn_side, r.unit, value_cell(r.ucx),
               value_cell(r.umn), r.ratio() > 0 ? fmt::format("{:.2f}x", r.ratio()) : "-",
               r.verdict, r.target});
        for (const auto *m : {&r.ucx, &r.umn})
            if (*m && !(*m)->error.empty()) notes.insert((*m)->side + ": " + (*m)->error);
    }
    std::string out = t.render();
    for (const std::string &n : notes) out += paragraph("  note: ", n);
    return out;
}

void print_header(const bench_options &o) {
    utsname u = {};
    uname(&u);
    fmt::print("umn bench{}: umn's registration cache beside UCX 1.13 ucs_rcache, one process\n",
               o.quick ? " --quick" : "");
    fmt::print("machine: {} {} {}, {} CPUs online; no-op registrar on both sides\n", u.sysname,
               u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN));
    std::string why;
    umn_monitor hits = o.monitor == UMN_MONITOR_AUTO ? choose_monitor(o.monitor, &why) : o.monitor;
    fmt::print("umn's monitor in the hit rows: {}; rows named umn-<monitor> use that one\n",
               monitor_name(hits));
    fmt::print(
        "times: CPU ns per op per thread (hit, miss), median ns added to munmap (each in\n"
        "a fresh process, vs raw syscall), median ns per region drained (invalidate)\n\n");
}

}  // namespace

int bench(const bench_options &o) {
    print_header(o);
    std::string json = scratch_json();
    if (json.empty()) {
        fmt::print(stderr, "umn bench: cannot create a scratch file in /tmp\n");
        return 1;
    }
    std::vector<std::string> flags = benchmark_flags(o, json);
    std::vector<char *> argv;
    for (auto &f : flags) argv.push_back(f.data());
    int argc = static_cast<int>(argv.size());
    argv.push_back(nullptr);
    benchmark::Initialize(&argc, argv.data());

    bench::options bo;
    bo.quick = o.quick;
    bo.monitor = o.monitor;
    bo.worker_command = {"/proc/self/exe", "bench-worker"};
    bench::register_benchmarks(bo);
    bench::collector results(true);
    benchmark::RunSpecifiedBenchmarks(&results);
    bench::release_benchmarks();
    benchmark::Shutdown();

    std::vector<bench::table_row> rows = bench::make_table(results.results());
    fmt::print("\n{}", format_table(rows));
    int status = 0;
    if (write_json(json, o.json, rows) == 0)
        fmt::print("\nJSON (Google Benchmark's, plus \"umn_table\"): {}\n", o.json);
    else {
        fmt::print(stderr, "umn bench: cannot write {}\n", o.json);
        status = 1;
    }
    std::remove(json.c_str());
    if (!o.plot.empty()) {
        std::string why;
        if (bench::plot_svg(rows, o.plot, &why) == 0)
            fmt::print("plot: {}\n", o.plot);
        else {
            fmt::print(stderr, "umn bench: no plot: {}\n", why);
            status = 1;
        }
    }
    return status;
}

int bench_worker(const std::vector<std::string> &args) {
    std::vector<std::string> copy = args;
    std::vector<char *> argv;
    for (auto &a : copy) argv.push_back(a.data());
    return bench::worker_main(static_cast<int>(argv.size()), argv.data());
}

}  // namespace umn::cli
