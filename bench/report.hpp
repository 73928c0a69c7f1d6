// SPDX-License-Identifier: BSD-3-Clause
// The side-by-side table of `umn bench`: Google Benchmark runs collected,
// paired by workload (UCX beside each umn side), the ratio umn/UCX per row,
// the targets judged, and the gnuplot figure.
#pragma once

#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

namespace umn::bench {

// One run as the table reads it. Every value is a cost: lower is better.
struct measurement {
    std::string workload;  // row name without the side, "/threads:N" kept
    std::string side;      // "ucx", "umn", "umn-hooks", "umn-uffd"
    std::string error;     // non-empty: not measured (unavailable or failed)
    double value = 0;      // ns per op (per thread), per munmap, per region; bytes per region
    int threads = 1;
};

// A display reporter that keeps the runs and prints one progress line each.
class collector : public benchmark::BenchmarkReporter {
  public:
    explicit collector(bool progress) : progress_(progress) {}
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &runs) override;
    const std::vector<measurement> &results() const { return results_; }

  private:
    bool progress_;
    std::vector<measurement> results_;
};

struct table_row {
    std::string workload;
    std::string unit;
    std::string umn_side;
    std::optional<measurement> ucx, umn;
    std::string target;    // the target for umn, empty if none
    std::string verdict;   // "met", "MISSED", "n/a" (a side unmeasured) or empty
    double ratio() const;  // umn / UCX; 0 if either is missing
};

std::vector<table_row> make_table(const std::vector<measurement> &results);
// A value as the table prints it: "25.9", "1213", "unavailable", "failed", "-".
std::string format_value(const std::optional<measurement> &m);

// Draws ns per hit against regions and against threads, umn beside UCX, as
// SVG (PNG if `path` ends in .png) through gnuplot. 0 or a negative errno; *why says what failed.
int plot_svg(const std::vector<table_row> &rows, const std::string &path, std::string *why);

}  // namespace umn::bench
