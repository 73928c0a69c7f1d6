// SPDX-License-Identifier: BSD-3-Clause
// `umn check`: which cases and monitors to run, the table or JSON of the
// results, and the exit status. The cases themselves are tools/testkit.
#include "commands.hpp"
#include "table.hpp"
#include "usage.hpp"

#include "coverage.hpp"
#include "monitor/monitor.hpp"
#include "config/options.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace umn::cli {

namespace {

constexpr umn_monitor all_monitors[] = {UMN_MONITOR_KERNEL, UMN_MONITOR_UFFD, UMN_MONITOR_HOOKS};

struct row {
    umn_monitor monitor;
    const testkit::coverage_case *c;
    testkit::step_result step;
    testkit::verdict verdict;
};

struct skip {
    umn_monitor monitor;
    std::string reason;
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

// The monitors named (each once; default: all) that can be used here; the
// others go to `skipped` with the reason.
std::vector<umn_monitor> pick_monitors(const check_options &o, std::vector<skip> *skipped) {
    std::vector<umn_monitor> named;
    for (const std::string &name : o.monitors) {
        umn_monitor m;
        if (parse_monitor(name, &m) && std::find(named.begin(), named.end(), m) == named.end())
            named.push_back(m);
    }
    if (named.empty()) named.assign(std::begin(all_monitors), std::end(all_monitors));
    std::vector<umn_monitor> usable;
    for (umn_monitor m : named) {
        probe_result r = probe(m);
        if (r.error == 0)
            usable.push_back(m);
        else
            skipped->push_back({m, r.detail});
    }
    return usable;
}

std::string case_names() {
    std::string out;
    for (const testkit::coverage_case &c : testkit::coverage_cases())
        out += (out.empty() ? "" : " ") + std::string(c.name);
    return out;
}

// The cases named (default: all); false after printing the valid names when
// one is unknown.
bool pick_cases(const check_options &o, std::vector<const testkit::coverage_case *> *out) {
    if (o.cases.empty()) {
        for (const testkit::coverage_case &c : testkit::coverage_cases()) out->push_back(&c);
        return true;
    }
    for (const std::string &name : o.cases) {
        const testkit::coverage_case *c = testkit::find_case(name);
        if (!c) {
            fmt::print(stderr, "umn check: no case named '{}'; the cases are:\n{}", name,
                       paragraph("  ", case_names()));
            return false;
        }
        out->push_back(c);
    }
    return true;
}

// "uffd, hooks": the monitors a case is documented as invisible to.
std::vector<std::string> invisible_to(const testkit::coverage_case &c) {
    std::vector<std::string> out;
    for (umn_monitor m : all_monitors)
        if (c.invisible_to & (1u << m)) out.push_back(monitor_name(m));
    return out;
}

int list_cases(bool json) {
    nlohmann::json out = nlohmann::json::array();
    table t({{"case", 34}, {"what it does", 0}});
    for (const testkit::coverage_case &c : testkit::coverage_cases()) {
        std::vector<std::string> blind = invisible_to(c);
        out.push_back({{"case", c.name},
                       {"what", c.what},
                       {"invisible_to", blind},
                       {"why_invisible", c.why_invisible}});
        t.row({c.name, c.what});
        if (!blind.empty())
            t.note(fmt::format("invisible to {}: {}", fmt::join(blind, ", "), c.why_invisible));
    }
    fmt::print("{}", json ? out.dump(2) + "\n" : t.render());
    return exit_ok;
}

const char *yes_no(bool b) {
    return b ? "yes" : "no";
}

bool expected(const testkit::step_result &s) {
    return s.expected || s.frames == testkit::truth::changed;
}

// The verdict column: one word; why a step is invisible goes in a note.
const char *verdict_word(testkit::verdict v) {
    return v == testkit::verdict::invisible ? "invisible" : testkit::verdict_text(v);
}

void print_table(const std::vector<row> &rows, const std::vector<skip> &skipped, int status) {
    table t({{"monitor", 7},
             {"case", 34},
             {"truth", 11},
             {"exp", 3},
             {"seen", 4},
             {"verdict", 9},
             {"step", 0}});
    for (const row &r : rows) {
        const testkit::step_result &s = r.step;
        t.row({monitor_name(r.monitor), r.c->name, testkit::truth_text(s.frames),
               yes_no(expected(s)), yes_no(s.seen), verdict_word(r.verdict), s.label});
        std::string detail = testkit::verdict_detail(*r.c, r.verdict, s);
        if (r.verdict == testkit::verdict::invisible)
            t.note(
                fmt::format("not visible to {} (documented): {}", monitor_name(r.monitor), detail));
        else if (!detail.empty())
            t.note(detail);
    }
    if (!rows.empty()) fmt::print("{}", t.render());
    for (const skip &s : skipped)
        fmt::print("{}", paragraph(fmt::format("SKIP {}: ", monitor_name(s.monitor)), s.reason));
    fmt::print("{}\n", status == exit_ok ? "umn check: every case ok or documented as invisible"
                       : status == exit_skipped ? "umn check: nothing ran (every monitor skipped)"
                                                : "umn check: FAILED");
}

void print_json(const std::vector<row> &rows, const std::vector<skip> &skipped, int status) {
    nlohmann::json out;
    out["skipped_monitors"] = nlohmann::json::array();
    for (const skip &s : skipped)
        out["skipped_monitors"].push_back(
            {{"monitor", monitor_name(s.monitor)}, {"reason", s.reason}});
    out["results"] = nlohmann::json::array();
    for (const row &r : rows) {
        const testkit::step_result &s = r.step;
        out["results"].push_back({{"monitor", monitor_name(r.monitor)},
                                  {"case", r.c->name},
                                  {"step", s.label},
                                  {"truth", testkit::truth_text(s.frames)},
                                  {"expected", expected(s)},
                                  {"seen", s.seen},
                                  {"verdict", testkit::verdict_text(r.verdict)},
                                  {"problem", s.problem},
                                  {"detail", testkit::verdict_detail(*r.c, r.verdict, s)},
                                  {"acceptable", testkit::acceptable(r.verdict)}});
    }
    out["exit_status"] = status;
    fmt::print("{}\n", out.dump(2));
}

}  // namespace

int check(const check_options &o) {
    if (o.list) return list_cases(o.json);
    std::vector<const testkit::coverage_case *> cases;
    if (!pick_cases(o, &cases)) return exit_usage;
    std::vector<skip> skipped;
    std::vector<umn_monitor> monitors = pick_monitors(o, &skipped);
    std::vector<row> rows;
    bool ok = true;
    for (umn_monitor m : monitors) {
        for (const testkit::coverage_case *c : cases) {
            for (const testkit::step_result &s : testkit::run_case(*c, m)) {
                testkit::verdict v = testkit::judge(*c, m, s);
                ok = ok && testkit::acceptable(v);
                rows.push_back({m, c, s, v});
            }
        }
    }
    int status = !ok ? exit_failed : monitors.empty() ? exit_skipped : exit_ok;
    if (o.json)
        print_json(rows, skipped, status);
    else
        print_table(rows, skipped, status);
    return status;
}

}  // namespace umn::cli
