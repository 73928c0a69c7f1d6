// SPDX-License-Identifier: BSD-3-Clause
// umn's registration cache beside UCX's ucs_rcache: registering the rows with
// Google Benchmark, and the munmap worker. Used by bench/main.cpp (umn_bench,
// Google Benchmark's own command line and JSON) and `umn bench` (the table
// with umn/UCX ratios and the plot).
#pragma once

#include <umn/umn.h>

#include <string>
#include <vector>

namespace umn::bench {

struct options {
    bool quick = false;  // short runs and the smaller sizes only (scripts/run.sh)
    // The monitor of umn's cache in the rows where the monitor is not what
    // is measured (hits, threads).
    enum umn_monitor monitor = UMN_MONITOR_AUTO;
    // argv that starts this program as a munmap worker; worker_main gets the
    // arguments that follow it.
    std::vector<std::string> worker_command;
};

// Registers every row, each workload on UCX then on umn (adjacent in time, so
// both see the same machine load).
void register_benchmarks(const options &o);

// Frees the fixture the last benchmark left; call after running them.
void release_benchmarks();

// A munmap worker: argv = side, case index, samples (see munmap_cost.hpp).
int worker_main(int argc, char **argv);

}  // namespace umn::bench
