// SPDX-License-Identifier: BSD-3-Clause
// The options table: every UMN_* variable parsed in one place, a bad value
// refused the same way for each (the call that depends on it fails with
// -EINVAL and names the variable), and `umn info`'s view of the table.
#include "cache_support.hpp"
#include "config/options.hpp"
#include "env_support.hpp"

#include <umn/umn.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace umn::test {
namespace {

std::string last_error() {
    return umn_last_error();
}

// What umn_cache_create with no params says when it refuses (-EINVAL).
std::string default_cache_refusal() {
    counting_registrar reg;
    umn_registrar r = reg.registrar();
    umn_cache *c = nullptr;
    EXPECT_EQ(umn_cache_create(&c, &r, nullptr), -EINVAL);
    EXPECT_EQ(c, nullptr);
    return last_error();
}

bool contains(const std::string &text, const char *part) {
    return text.find(part) != std::string::npos;
}

TEST(Options, BadCacheMaxBytesFailsCacheCreateWithTheReason) {
    scoped_env env("UMN_CACHE_MAX_BYTES", "lots");
    EXPECT_PRED2(contains, default_cache_refusal(), "UMN_CACHE_MAX_BYTES='lots' is not a size");
}

TEST(Options, BadCacheMaxBytesIsIgnoredWhenParamsSetMaxBytes) {
    scoped_env env("UMN_CACHE_MAX_BYTES", "lots");
    counting_registrar reg;
    umn_registrar r = reg.registrar();
    umn_cache_params p{};
    p.struct_size = sizeof p;
    p.max_bytes = size_t{1} << 20;
    umn_cache *c = nullptr;
    ASSERT_EQ(umn_cache_create(&c, &r, &p), 0);
    umn_cache_destroy(c);
}

TEST(Options, BadCacheMaxRegionsFailsCacheCreateWithTheReason) {
    scoped_env env("UMN_CACHE_MAX_REGIONS", "many");
    EXPECT_PRED2(contains, default_cache_refusal(), "UMN_CACHE_MAX_REGIONS='many' is not a number");
}

TEST(Options, ZeroMaxRegistrationsFailsNotifierOpenWithTheReason) {
    scoped_env env("UMN_MAX_REGISTRATIONS", "0");
    umn_notifier *n = nullptr;
    EXPECT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), -EINVAL);
    EXPECT_EQ(n, nullptr);
    EXPECT_NE(last_error().find("UMN_MAX_REGISTRATIONS='0' must be at least 1"), std::string::npos)
        << last_error();
}

TEST(Options, UppercaseMonitorFailsAutoOpenButNotAnExplicitMonitor) {
    umn_monitor under_test = options().monitor;  // the run's own UMN_MONITOR
    scoped_env env("UMN_MONITOR", "HOOKS");
    umn_notifier *n = nullptr;
    EXPECT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), -EINVAL);
    EXPECT_EQ(last_error(), "UMN_MONITOR='HOOKS' is not one of auto, kernel, uffd, hooks");
    if (under_test == UMN_MONITOR_AUTO) return;  // no monitor named for this run
    ASSERT_EQ(umn_notifier_open(&n, under_test), 0);
    umn_notifier_close(n);
}

TEST(Options, SizesTakeSuffixesAndEmptyMeansUnset) {
    {
        scoped_env env("UMN_CACHE_MAX_BYTES", "64m");
        EXPECT_EQ(options().cache_max_bytes, size_t{64} << 20);
    }
    scoped_env env("UMN_CACHE_MAX_REGIONS", "");
    EXPECT_EQ(options().cache_max_regions, size_t{131072});
    EXPECT_TRUE(options().error[static_cast<unsigned>(option::cache_max_regions)].empty());
}

TEST(Options, DescribeListsEveryVariableWithValueDefaultAndRefusal) {
    scoped_env env("UMN_CACHE_MAX_BYTES", "lots");
    std::vector<option_view> rows = describe_options();
    ASSERT_EQ(rows.size(), static_cast<size_t>(option::count));
    bool seen = false;
    for (const option_view &v : rows) {
        EXPECT_EQ(std::string(v.name).rfind("UMN_", 0), 0u);
        EXPECT_NE(std::string(v.doc), "");
        EXPECT_NE(std::string(v.default_text), "");
        if (std::string(v.name) != "UMN_CACHE_MAX_BYTES") continue;
        seen = true;
        EXPECT_TRUE(v.set);
        EXPECT_EQ(v.value, "auto");  // the refused value is not in use
        EXPECT_NE(v.error.find("'lots'"), std::string::npos);
    }
    EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace umn::test
