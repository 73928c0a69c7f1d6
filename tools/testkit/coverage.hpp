// SPDX-License-Identifier: BSD-3-Clause
// The event-coverage matrix: one case per mmap sequence that can (or must
// not) invalidate a registration. `umn check` prints it; the tests assert it.
//
// A case runs in a child process of its own (sbrk, SysV shm and fork leave
// traces), opens a notifier on the monitor under test, and reports steps.
// Each step compares three things:
//   truth     did a registered page's physical frame change or vanish
//             (/proc/self/pagemap; unavailable when not root);
//   expected  the contract (docs/design.md) says the step invalidates, or the
//             truth says a frame changed;
//   seen      which cookies the notifier reported, and whether the generation
//             had moved when the call returned.
#pragma once

#include <umn/umn.h>

#include <ostream>
#include <string>
#include <vector>

namespace umn::testkit {

enum class truth { unavailable, unchanged, changed };

struct step_result {
    std::string label;
    truth frames = truth::unavailable;
    bool expected = false;
    bool seen = false;
    bool may_change = false;  // the call may or may not change pages: an event is allowed
    std::string problem;      // non-empty: setup failed, or cookies/generation disagree
    std::string skipped;      // non-empty: the step could not run here, and why
    bool refused = false;     // umn_register said -ENOTSUP: this monitor cannot watch it
};

enum class verdict { ok, missed, false_event, invisible, skipped, error };

struct coverage_case {
    const char *name;
    const char *what;  // one line: the sequence of calls
    // Monitors that cannot see this case, documented (bit 1 << umn_monitor).
    unsigned invisible_to;
    const char *why_invisible;
};

// How GoogleTest names a case in its output (instead of the struct's bytes).
inline void PrintTo(const coverage_case &c, std::ostream *os) {
    *os << c.name;
}

const std::vector<coverage_case> &coverage_cases();
const coverage_case *find_case(const std::string &name);

// Runs one case in a forked child with the given monitor; never throws.
// A child that hangs past `timeout_ms` is killed and reported as an error.
std::vector<step_result> run_case(const coverage_case &c, umn_monitor monitor,
                                  int timeout_ms = 20000);

verdict judge(const coverage_case &c, umn_monitor monitor, const step_result &s);
const char *verdict_text(verdict v);
const char *truth_text(truth t);
// The reason to print after the verdict: why invisible, why skipped, or the
// problem; "" when there is none.
std::string verdict_detail(const coverage_case &c, verdict v, const step_result &s);
// True when the verdict is acceptable: ok, documented as invisible, or
// skipped with its reason (a kernel without the call, a machine without the
// resource).
bool acceptable(verdict v);

}  // namespace umn::testkit
