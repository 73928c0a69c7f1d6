// SPDX-License-Identifier: BSD-3-Clause
#include "commands.hpp"

#include "coverage.hpp"
#include "monitor/monitor.hpp"
#include "config/options.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace umn::cli {

namespace {

struct row {
    umn_monitor monitor;
    const testkit::coverage_case *c;
    testkit::step_result step;
    testkit::verdict verdict;
};

probe_result probe(umn_monitor m) {
    switch (m) {
        case UMN_MONITOR_KERNEL:
            return probe_kernel();
        case UMN_MONITOR_UFFD:
            return probe_uffd();
        default:
            return probe_hooks();
    }
}

// The monitors to run: those named, or every usable one. Unusable named
// monitors are an error; unusable defaults are listed and skipped.
bool pick_monitors(const check_options &o, std::vector<umn_monitor> *out,
                   std::vector<std::string> *skipped) {
    bool ok = true;
    if (o.monitors.empty()) {
        for (umn_monitor m : {UMN_MONITOR_KERNEL, UMN_MONITOR_UFFD, UMN_MONITOR_HOOKS}) {
            probe_result r = probe(m);
            if (r.error == 0)
                out->push_back(m);
            else
                skipped->push_back(fmt::format("{}: {}", monitor_name(m), r.detail));
        }
        return ok;
    }
    for (const std::string &name : o.monitors) {
        umn_monitor m;
        parse_monitor(name, &m);
        probe_result r = probe(m);
        if (r.error) {
            skipped->push_back(fmt::format("{}: {}", monitor_name(m), r.detail));
            ok = false;
        } else {
            out->push_back(m);
        }
    }
    return ok;
}

std::vector<const testkit::coverage_case *> pick_cases(const check_options &o, bool *ok) {
    std::vector<const testkit::coverage_case *> out;
    if (o.cases.empty()) {
        for (const testkit::coverage_case &c : testkit::coverage_cases()) out.push_back(&c);
        return out;
    }
    for (const std::string &name : o.cases) {
        const testkit::coverage_case *c = testkit::find_case(name);
        if (c)
            out.push_back(c);
        else
            *ok = false, fmt::print(stderr, "umn check: no case named {}\n", name);
    }
    return out;
}

const char *yes_no(bool b) {
    return b ? "yes" : "no";
}

void print_table(const std::vector<row> &rows) {
    fmt::print("{:<7} {:<33} {:<56} {:<11} {:<8} {:<5} {}\n", "monitor", "case", "step", "truth",
               "expected", "seen", "verdict");
    for (const row &r : rows) {
        const testkit::step_result &s = r.step;
        bool expected = s.expected || s.frames == testkit::truth::changed;
        fmt::print("{:<7} {:<33} {:<56} {:<11} {:<8} {:<5} {}", monitor_name(r.monitor), r.c->name,
                   s.label, testkit::truth_text(s.frames), yes_no(expected), yes_no(s.seen),
                   testkit::verdict_text(r.verdict));
        std::string detail = testkit::verdict_detail(*r.c, r.verdict, s);
        if (!detail.empty()) fmt::print(": {}", detail);
        fmt::print("\n");
    }
}

void print_json(const std::vector<row> &rows, const std::vector<std::string> &skipped) {
    nlohmann::json out;
    out["skipped_monitors"] = skipped;
    out["results"] = nlohmann::json::array();
    for (const row &r : rows) {
        const testkit::step_result &s = r.step;
        out["results"].push_back({{"monitor", monitor_name(r.monitor)},
                                  {"case", r.c->name},
                                  {"step", s.label},
                                  {"truth", testkit::truth_text(s.frames)},
                                  {"expected", s.expected || s.frames == testkit::truth::changed},
                                  {"seen", s.seen},
                                  {"verdict", testkit::verdict_text(r.verdict)},
                                  {"problem", s.problem},
                                  {"detail", testkit::verdict_detail(*r.c, r.verdict, s)},
                                  {"acceptable", testkit::acceptable(r.verdict)}});
    }
    fmt::print("{}\n", out.dump(2));
}

}  // namespace

int check(const check_options &o) {
    std::vector<umn_monitor> monitors;
    std::vector<std::string> skipped;
    bool ok = pick_monitors(o, &monitors, &skipped);
    std::vector<const testkit::coverage_case *> cases = pick_cases(o, &ok);
    std::vector<row> rows;
    for (umn_monitor m : monitors) {
        for (const testkit::coverage_case *c : cases) {
            for (const testkit::step_result &s : testkit::run_case(*c, m)) {
                testkit::verdict v = testkit::judge(*c, m, s);
                ok = ok && testkit::acceptable(v);
                rows.push_back({m, c, s, v});
            }
        }
    }
    if (o.json) {
        print_json(rows, skipped);
    } else {
        print_table(rows);
        for (const std::string &s : skipped) fmt::print("not run: {}\n", s);
        fmt::print("{}\n", ok ? "umn check: every case ok or documented as invisible"
                              : "umn check: FAILED");
    }
    return ok ? 0 : 1;
}

}  // namespace umn::cli
