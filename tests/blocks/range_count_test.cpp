// SPDX-License-Identifier: BSD-3-Clause
// range_count: per-page holder counts shared by the userfaultfd watch set and
// the mlock registrar.
#include "core/range_count.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace umn::test {
namespace {

std::vector<std::pair<uintptr_t, uintptr_t>> released;

void record(uintptr_t start, uintptr_t end) {
    released.emplace_back(start, end);
}

// The released pages as sorted, merged ranges.
std::vector<std::pair<uintptr_t, uintptr_t>> take_released() {
    std::vector<std::pair<uintptr_t, uintptr_t>> merged;
    std::sort(released.begin(), released.end());
    for (auto r : released) {
        if (!merged.empty() && merged.back().second == r.first)
            merged.back().second = r.second;
        else
            merged.push_back(r);
    }
    released.clear();
    return merged;
}

using ranges = std::vector<std::pair<uintptr_t, uintptr_t>>;

using counts = std::vector<size_t>;

counts holders_at(const range_count &c, std::initializer_list<uintptr_t> pages) {
    counts v;
    for (uintptr_t p : pages) v.push_back(c.holders(p));
    return v;
}

// Removes one holder of [start, end); what that released.
ranges remove_one(range_count &c, uintptr_t start, uintptr_t end) {
    c.remove(start, end, record);
    return take_released();
}

TEST(RangeCount, OneHolderAddedAndRemovedReleasesExactlyItsPages) {
    range_count c;
    ASSERT_EQ(c.add(0x1000, 0x5000), 0);
    EXPECT_EQ(holders_at(c, {0xfff, 0x1000, 0x4fff, 0x5000}), (counts{0, 1, 1, 0}));
    EXPECT_EQ(remove_one(c, 0x1000, 0x5000), (ranges{{0x1000, 0x5000}}));
    EXPECT_EQ(c.segments(), 0u);
}

TEST(RangeCount, OverlappingHoldersReleaseOnlyPagesNobodyHolds) {
    range_count c;
    ASSERT_EQ(c.add(0, 10), 0);
    ASSERT_EQ(c.add(5, 15), 0);
    EXPECT_EQ(holders_at(c, {4, 5, 10}), (counts{1, 2, 1}));
    EXPECT_EQ(remove_one(c, 0, 10), (ranges{{0, 5}}));
    EXPECT_EQ(c.holders(5), 1u);
    EXPECT_EQ(remove_one(c, 5, 15), (ranges{{5, 15}}));
    EXPECT_EQ(c.segments(), 0u);
}

TEST(RangeCount, TheSameRangeTwiceIsReleasedOnlyByTheSecondRemove) {
    range_count c;
    for (int holder = 0; holder < 2; ++holder) ASSERT_EQ(c.add(100, 200), 0);
    ranges first = remove_one(c, 100, 200), second = remove_one(c, 100, 200);
    EXPECT_TRUE(first.empty());
    EXPECT_EQ(second, (ranges{{100, 200}}));
}

TEST(RangeCount, AnyHeldTreatsEndsAsExclusive) {
    range_count c;
    ASSERT_EQ(c.add(10, 20), 0);
    EXPECT_FALSE(c.any_held(0, 10));
    EXPECT_FALSE(c.any_held(20, 30));
    EXPECT_TRUE(c.any_held(0, 11));
    EXPECT_TRUE(c.any_held(19, 30));
    EXPECT_TRUE(c.any_held(12, 13));  // inside one segment
    EXPECT_TRUE(c.any_held(0, 100));  // around it
}

TEST(RangeCount, RemovingWithoutACallbackStillForgetsThePages) {
    range_count c;
    ASSERT_EQ(c.add(0, 8), 0);
    c.remove(2, 4);  // part of what was added: a holder of just those pages
    EXPECT_EQ(c.holders(1), 1u);
    EXPECT_EQ(c.holders(2), 0u);
    EXPECT_FALSE(c.any_held(2, 4));
    EXPECT_TRUE(c.any_held(4, 8));
}

// Abutting one-page holders (a cache of one-page regions) share one segment
// whichever order they come in; removing one from the middle cuts it in two.
TEST(RangeCount, AbuttingHoldersWithEqualCountsAreOneSegment) {
    range_count c;
    for (uintptr_t p = 100; p < 200; ++p) ASSERT_EQ(c.add(p, p + 1), 0);
    for (uintptr_t p = 99; p >= 50; --p) ASSERT_EQ(c.add(p, p + 1), 0);
    ASSERT_EQ(c.add(40, 50), 0);
    ASSERT_EQ(c.add(200, 210), 0);
    EXPECT_EQ(c.segments(), 1u);
    EXPECT_EQ(remove_one(c, 120, 121), (ranges{{120, 121}}));
    EXPECT_EQ(c.segments(), 2u);
    EXPECT_EQ(holders_at(c, {39, 40, 119, 120, 121, 209, 210}), (counts{0, 1, 1, 0, 1, 1, 0}));
    ASSERT_EQ(c.add(120, 121), 0);
    EXPECT_EQ(c.segments(), 1u);
    ASSERT_EQ(c.add(60, 70), 0);  // a second holder of part of it
    EXPECT_EQ(c.segments(), 3u);
    EXPECT_TRUE(remove_one(c, 60, 70).empty());
    EXPECT_EQ(c.segments(), 1u);
    EXPECT_EQ(remove_one(c, 40, 210), (ranges{{40, 210}}));
    EXPECT_EQ(c.segments(), 0u);
}

// How many runs of abutting pages with one equal, nonzero count.
size_t runs(const std::vector<size_t> &per_page) {
    size_t n = 0;
    for (size_t p = 0; p < per_page.size(); ++p)
        if (per_page[p] && (p == 0 || per_page[p - 1] != per_page[p])) ++n;
    return n;
}

// Random adds and removes over 64 pages against a plain per-page array.
TEST(RangeCount, RandomHoldersMatchAPerPageCount) {
    constexpr uintptr_t pages = 64;
    std::mt19937 rng(18);
    range_count c;
    std::vector<size_t> expected(pages, 0);
    std::vector<std::pair<uintptr_t, uintptr_t>> held;
    for (int step = 0; step < 4000; ++step) {
        if (held.empty() || rng() % 2) {
            uintptr_t a = rng() % pages, b = rng() % pages;
            if (a == b) continue;
            if (a > b) std::swap(a, b);
            ASSERT_EQ(c.add(a, b), 0);
            for (uintptr_t p = a; p < b; ++p) ++expected[p];
            held.emplace_back(a, b);
        } else {
            size_t i = rng() % held.size();
            auto [a, b] = held[i];
            held.erase(held.begin() + static_cast<long>(i));
            c.remove(a, b, record);
            ranges want;
            for (uintptr_t p = a; p < b; ++p)
                if (--expected[p] == 0) {
                    if (!want.empty() && want.back().second == p)
                        want.back().second = p + 1;
                    else
                        want.emplace_back(p, p + 1);
                }
            ASSERT_EQ(take_released(), want) << "step " << step;
        }
        for (uintptr_t p = 0; p < pages; ++p) ASSERT_EQ(c.holders(p), expected[p]) << "page " << p;
        ASSERT_EQ(c.segments(), runs(expected)) << "step " << step;
    }
}

}  // namespace
}  // namespace umn::test
