// SPDX-License-Identifier: BSD-3-Clause
// The umn tool's subcommands. Each returns the process exit status.
#pragma once

#include <umn/umn.h>

#include <string>
#include <vector>

namespace umn::cli {

// `umn info`; `json`: one JSON document instead of text.
int info(bool json);

struct check_options {
    std::vector<std::string> monitors;  // empty: every usable monitor
    std::vector<std::string> cases;     // empty: every case
    bool list = false;                  // list the cases, run nothing
    bool json = false;
};
int check(const check_options &o);

struct bench_options {
    bool quick = false;  // short runs, small sizes (scripts/run.sh)
    std::string json = "umn-bench.json";
    std::string plot;                             // SVG path; empty: no plot
    std::string filter;                           // Google Benchmark regex over row names
    enum umn_monitor monitor = UMN_MONITOR_AUTO;  // umn's monitor for the hit rows
};
// In umn-bench (tools/umn/bench_main.cpp).
int bench(const bench_options &o);
// The hidden `umn bench-worker`: one munmap measurement in a fresh process.
int bench_worker(const std::vector<std::string> &args);
// In umn: runs umn-bench from this program's directory with `args`.
int run_bench_program(const std::vector<std::string> &args);

}  // namespace umn::cli
