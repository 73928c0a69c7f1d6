// SPDX-License-Identifier: BSD-3-Clause
// The event-coverage matrix of `umn check`, one test per case, on the monitor
// AUTO resolves to (ctest sets UMN_MONITOR). A case the monitor cannot see
// passes only if it is documented as invisible to that monitor; a step the
// machine cannot run (an older kernel, no second NUMA node) is a skip with
// its reason.
#include "api/notifier.hpp"
#include "coverage.hpp"
#include "config/options.hpp"

#include <gtest/gtest.h>

namespace umn::test {
namespace {

class Coverage : public ::testing::TestWithParam<testkit::coverage_case> {};

TEST_P(Coverage, MatchesGroundTruth) {
    std::string why;
    umn_monitor m = choose_monitor(UMN_MONITOR_AUTO, &why);
    const testkit::coverage_case &c = GetParam();
    std::string skipped;
    for (const testkit::step_result &s : testkit::run_case(c, m)) {
        testkit::verdict v = testkit::judge(c, m, s);
        if (v == testkit::verdict::skipped) skipped += s.label + ": " + s.skipped + "; ";
        EXPECT_TRUE(testkit::acceptable(v))
            << monitor_name(m) << " / " << c.name << " / " << s.label << ": "
            << testkit::verdict_text(v) << " (truth " << testkit::truth_text(s.frames) << ", seen "
            << s.seen << ") " << testkit::verdict_detail(c, v, s);
    }
    if (!skipped.empty() && !HasFailure()) GTEST_SKIP() << skipped;
}

INSTANTIATE_TEST_SUITE_P(Cases, Coverage, ::testing::ValuesIn(testkit::coverage_cases()),
                         [](const auto &info) { return std::string(info.param.name); });

}  // namespace
}  // namespace umn::test
