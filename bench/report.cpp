// SPDX-License-Identifier: BSD-3-Clause
#include "report.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <map>
#include <sys/wait.h>

namespace umn::bench {

namespace {

double in_ns(double t, benchmark::TimeUnit unit) {
    switch (unit) {
        case benchmark::kSecond:
            return t * 1e9;
        case benchmark::kMillisecond:
            return t * 1e6;
        case benchmark::kMicrosecond:
            return t * 1e3;
        case benchmark::kNanosecond:
            break;
    }
    return t;
}

bool starts_with(const std::string &s, const char *prefix) {
    return s.rfind(prefix, 0) == 0;
}

double counter(const benchmark::BenchmarkReporter::Run &run, const char *name) {
    auto it = run.counters.find(name);
    return it == run.counters.end() ? 0 : it->second.value;
}

measurement to_measurement(const benchmark::BenchmarkReporter::Run &run) {
    measurement m;
    const std::string &name = run.run_name.function_name;
    size_t at = name.find("/side:");
    m.workload = name.substr(0, at);
    m.side = at == std::string::npos ? "" : name.substr(at + 6);
    if (!run.run_name.threads.empty()) m.workload += "/" + run.run_name.threads;
    m.threads = static_cast<int>(run.threads);
    if (run.error_occurred) {
        m.error = run.error_message.empty() ? "failed" : run.error_message;
        return m;
    }
    if (starts_with(m.workload, "munmap/") || starts_with(m.workload, "scale/munmap-registered/"))
        m.value = counter(run, "overhead_ns");
    else if (starts_with(m.workload, "scale/munmap-unregistered/"))
        m.value = counter(run, "munmap_ns");
    else if (starts_with(m.workload, "scale/close/"))
        m.value = counter(run, "close_ms");
    else if (starts_with(m.workload, "invalidate/"))
        m.value = counter(run, "ns_per_region");
    else if (starts_with(m.workload, "memory/"))
        m.value = counter(run, "bytes_per_region");
    else  // Google Benchmark reports CPU time per iteration per thread
        m.value = in_ns(run.GetAdjustedCPUTime(), run.time_unit);
    return m;
}

std::string unit_of(const std::string &workload) {
    if (starts_with(workload, "munmap/") || starts_with(workload, "scale/munmap-registered/"))
        return "ns added";
    if (starts_with(workload, "scale/munmap-unregistered/")) return "ns/munmap";
    if (starts_with(workload, "scale/close/")) return "ms";
    if (starts_with(workload, "invalidate/")) return "ns/region";
    if (starts_with(workload, "memory/")) return "bytes/region";
    if (workload.find("/threads:") != std::string::npos) return "ns/op/thread";
    return "ns/op";
}

}  // namespace

std::string format_value(const std::optional<measurement> &m) {
    if (!m) return "-";
    if (!m->error.empty()) return starts_with(m->error, "unavailable") ? "unavailable" : "failed";
    char buf[32];
    std::snprintf(buf, sizeof buf, m->value < 100 ? "%.1f" : "%.0f", m->value);
    return buf;
}

namespace {

bool measured(const std::optional<measurement> &m) {
    return m && m->error.empty();
}

// A target relative to umn's value in another row of the same umn side.
void relative_target(table_row *row, const std::map<std::string, double> &umn_values,
                     const std::string &base_row, double factor, const char *target) {
    row->target = target;
    auto base = umn_values.find(row->umn_side + " " + base_row);
    if (!measured(row->umn) || base == umn_values.end())
        row->verdict = "n/a";
    else
        row->verdict = row->umn->value <= factor * base->second ? "met" : "MISSED";
}

// The targets for umn. `umn_value` finds umn's value of another row
// of the same umn side (the two-thread target is relative to one thread).
void judge(table_row *row, const std::map<std::string, double> &umn_values) {
    const std::string &w = row->workload;
    bool both = measured(row->ucx) && measured(row->umn);
    double umn = measured(row->umn) ? row->umn->value : 0;
    auto verdict = [&](bool ok, bool needs_ucx) {
        if (!measured(row->umn) || (needs_ucx && !both))
            row->verdict = "n/a";
        else
            row->verdict = ok ? "met" : "MISSED";
    };
    if (w == "hit/sequential/regions:1") {
        row->target = "<= 12 ns and >= 4.5x faster";
        verdict(umn <= 12 && row->ratio() <= 1 / 4.5, true);
    } else if (w == "hit/random/regions:100000") {
        row->target = "<= 25 ns";
        verdict(umn <= 25, false);
    } else if (w == "hit/separate-regions/threads:2") {
        relative_target(row, umn_values, "hit/separate-regions/threads:1", 1.3,
                        "<= 1.3x umn on 1 thread");
    } else if (starts_with(w, "miss/")) {
        row->target = "<= 150 ns";
        verdict(umn <= 150, false);
    } else if (starts_with(w, "munmap/")) {
        row->target = "below UCX";
        verdict(umn < row->ucx->value, true);
    } else if (w == "scale/munmap-registered/registrations:1000000") {
        relative_target(row, umn_values, "scale/munmap-registered/registrations:1000", 2.0,
                        "<= 2x at 10^3");
    } else if (w == "scale/close/registrations:1000000") {
        row->target = "<= 300 ms";
        verdict(umn <= 300, false);
    } else if (w == "scale/munmap-unregistered/notifiers:64") {
        relative_target(row, umn_values, "scale/munmap-unregistered/notifiers:1", 1.1,
                        "<= 1.1x 1 notifier");
    }
}

}  // namespace

void collector::ReportRuns(const std::vector<Run> &runs) {
    for (const Run &run : runs) {
        if (run.run_type != Run::RT_Iteration) continue;
        results_.push_back(to_measurement(run));
        if (!progress_) continue;
        const measurement &m = results_.back();
        std::fprintf(stderr, "  %-48s %-10s %s\n", m.workload.c_str(), m.side.c_str(),
                     m.error.empty() ? format_value(m).c_str() : m.error.c_str());
    }
}

double table_row::ratio() const {
    if (!measured(ucx) || !measured(umn) || ucx->value <= 0) return 0;
    return umn->value / ucx->value;
}

std::vector<table_row> make_table(const std::vector<measurement> &results) {
    std::vector<table_row> rows;
    std::map<std::string, size_t> ucx_of;  // workload -> index in results
    std::map<std::string, double> umn_values;
    for (size_t i = 0; i < results.size(); i++) {
        const measurement &m = results[i];
        if (m.side == "ucx") ucx_of[m.workload] = i;
        if (m.error.empty()) umn_values[m.side + " " + m.workload] = m.value;
    }
    std::map<std::string, bool> has_umn;
    for (const measurement &m : results)
        if (m.side != "ucx") has_umn[m.workload] = true;
    for (const measurement &m : results) {
        bool ucx_only = m.side == "ucx" && !has_umn[m.workload];
        if (m.side == "ucx" && !ucx_only) continue;
        table_row row;
        row.workload = m.workload;
        row.unit = unit_of(m.workload);
        if (auto it = ucx_of.find(m.workload); it != ucx_of.end()) row.ucx = results[it->second];
        if (!ucx_only) {
            row.umn = m;
            row.umn_side = m.side;
        }
        judge(&row, umn_values);
        rows.push_back(row);
    }
    return rows;
}

int plot_svg(const std::vector<table_row> &rows, const std::string &path, std::string *why) {
    auto value = [&](const std::string &workload, bool ucx) {
        for (const table_row &r : rows) {
            const auto &m = ucx ? r.ucx : r.umn;
            if (r.workload == workload && measured(m)) return m->value;
        }
        return std::nan("");  // gnuplot leaves a gap
    };
    auto print_point = [](FILE *f, int x, std::initializer_list<double> ys) {
        std::fprintf(f, "%d", x);
        for (double y : ys) std::isnan(y) ? std::fprintf(f, " nan") : std::fprintf(f, " %.2f", y);
        std::fprintf(f, "\n");
    };
    bool png = path.size() > 4 && path.compare(path.size() - 4, 4, ".png") == 0;
    const char *terminal = png ? "pngcairo size 1000,440 font 'sans,10'"
                               : "svg size 1000,440 dynamic font 'sans,11' background '#ffffff'";
    FILE *gp = popen("gnuplot 2>&1", "w");
    if (!gp) {
        *why = "cannot run gnuplot";
        return -ENOENT;
    }
    std::fprintf(gp, "$regions << EOD\n");
    for (int n : {1, 1000, 100000}) {
        std::string seq = "hit/sequential/regions:" + std::to_string(n);
        std::string rnd = "hit/random/regions:" + std::to_string(n);
        print_point(gp, n,
                    {value(seq, true), value(seq, false), value(rnd, true), value(rnd, false)});
    }
    std::fprintf(gp, "EOD\n$threads << EOD\n");
    for (int t : {1, 2}) {
        std::string sep = "hit/separate-regions/threads:" + std::to_string(t);
        std::string same = "hit/same-region/threads:" + std::to_string(t);
        print_point(gp, t,
                    {value(sep, true), value(sep, false), value(same, true), value(same, false)});
    }
    std::fprintf(gp, "EOD\n");
    std::fprintf(gp,
                 "set terminal %s\n"
                 "set output '%s'\n"
                 "set datafile missing 'nan'\n"
                 "set multiplot layout 1,2 title 'cache hit (get+put), umn vs UCX 1.13 "
                 "ucs\\_rcache, CPU ns per hit (lower is better)'\n"
                 "set grid\nset key top left\nset yrange [0:*]\n"
                 "set logscale xy\nset yrange [5:*]\nset xlabel 'cached regions'\n"
                 "set ylabel 'ns per hit (log scale)'\n"
                 "set xrange [0.5:200000]\n"
                 "plot $regions u 1:2 w lp lw 2 pt 7 lc rgb '#c03030' t 'UCX sequential', \\\n"
                 "  '' u 1:4 w lp lw 2 pt 5 dt 2 lc rgb '#c03030' t 'UCX random', \\\n"
                 "  '' u 1:3 w lp lw 2 pt 7 lc rgb '#2060c0' t 'umn sequential', \\\n"
                 "  '' u 1:5 w lp lw 2 pt 5 dt 2 lc rgb '#2060c0' t 'umn random'\n"
                 "unset logscale xy\nset yrange [0:*]\nset xrange [0.5:2.5]\nset xtics 1\n"
                 "set xlabel 'threads'\nset ylabel 'ns per hit, per thread'\n"
                 "plot $threads u 1:2 w lp lw 2 pt 7 lc rgb '#c03030' t 'UCX own region', \\\n"
                 "  '' u 1:4 w lp lw 2 pt 5 dt 2 lc rgb '#c03030' t 'UCX same region', \\\n"
                 "  '' u 1:3 w lp lw 2 pt 7 lc rgb '#2060c0' t 'umn own region', \\\n"
                 "  '' u 1:5 w lp lw 2 pt 5 dt 2 lc rgb '#2060c0' t 'umn same region'\n"
                 "unset multiplot\n",
                 terminal, path.c_str());
    int status = pclose(gp);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *why = WIFEXITED(status) && WEXITSTATUS(status) == 127
                   ? "gnuplot not found (Debian: apt-get install gnuplot-nox)"
                   : "gnuplot failed";
        return -EIO;
    }
    return 0;
}

}  // namespace umn::bench
