// SPDX-License-Identifier: BSD-3-Clause
// range_summary: the hooks monitor's lock-free "may this range be watched"
// answer. It may say yes for unwatched memory, never no for watched memory;
// an unwatched page beside watched ones must get a no, or every unmapping
// there takes the lock of every open notifier.
#include "core/range_summary.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <utility>
#include <vector>

namespace umn::test {
namespace {

constexpr uintptr_t KiB = 1024, MiB = 1024 * KiB, page = 4 * KiB;
constexpr uintptr_t base = 0x7f0000000000;  // 1 MiB aligned

struct summary_test : ::testing::Test {
    std::unique_ptr<range_summary> s = std::make_unique<range_summary>();
    bool page_watched(uintptr_t at) const { return s->may_overlap(at, at + page); }
};

TEST_F(summary_test, UnwatchedPageNextToAWatchedPageInTheSameMiBIsNotWatched) {
    s->add(base + 100 * page, base + 101 * page);
    EXPECT_TRUE(page_watched(base + 100 * page));
    EXPECT_FALSE(page_watched(base + 101 * page));
    EXPECT_FALSE(page_watched(base + 99 * page));
    EXPECT_FALSE(page_watched(base + 200 * page));
    EXPECT_TRUE(s->may_overlap(base + 90 * page, base + 101 * page));
    EXPECT_FALSE(s->may_overlap(base + 90 * page, base + 100 * page));
}

TEST_F(summary_test, UnwatchedPageAfterAHundredWatchedPagesIsNotWatched) {
    for (uintptr_t i = 0; i < 100; ++i) s->add(base + i * page, base + (i + 1) * page);
    for (uintptr_t i = 0; i < 100; ++i) EXPECT_TRUE(page_watched(base + i * page)) << i;
    EXPECT_FALSE(page_watched(base + 100 * page));
    EXPECT_FALSE(page_watched(base + 101 * page));
    EXPECT_FALSE(page_watched(base - page));
}

TEST_F(summary_test, AlignedBlocksAndChunksAreCountedWholeAndNoWider) {
    s->add(base + 64 * KiB, base + 128 * KiB);
    s->add(base + 2 * MiB, base + 3 * MiB);
    EXPECT_TRUE(page_watched(base + 64 * KiB));
    EXPECT_TRUE(page_watched(base + 128 * KiB - page));
    EXPECT_FALSE(page_watched(base + 128 * KiB));
    EXPECT_FALSE(page_watched(base + 64 * KiB - page));
    EXPECT_TRUE(page_watched(base + 2 * MiB + 512 * KiB));
    EXPECT_FALSE(page_watched(base + 3 * MiB));
    EXPECT_FALSE(page_watched(base + 2 * MiB - page));
}

TEST_F(summary_test, RemoveForgetsOnlyItsOwnRange) {
    s->add(base, base + page);
    s->add(base, base + 2 * page);
    s->remove(base, base + page);
    EXPECT_TRUE(page_watched(base));
    EXPECT_TRUE(page_watched(base + page));
    s->remove(base, base + 2 * page);
    EXPECT_FALSE(s->may_overlap(base, base + 4 * MiB));
}

TEST_F(summary_test, WideRangesAreAlwaysMaybe) {
    s->add(base, base + 2048 * MiB);
    EXPECT_TRUE(page_watched(base + 4096 * MiB));
    s->remove(base, base + 2048 * MiB);
    EXPECT_FALSE(page_watched(base + 4096 * MiB));
    EXPECT_TRUE(s->may_overlap(0, uintptr_t{1} << 47));  // too wide to look at
}

TEST_F(summary_test, ResetForgetsEverything) {
    s->add(base, base + page);
    s->add(base + 64 * KiB, base + 128 * KiB);
    s->add(base + MiB, base + 2 * MiB);
    s->reset();
    EXPECT_FALSE(s->may_overlap(base, base + 4 * MiB));
}

// Random ranges of every size and alignment against a brute-force list:
// never a no for a watched range, and a no for a page far from every range.
TEST_F(summary_test, NeverSaysNoForAWatchedRange) {
    std::mt19937_64 rng(7);
    std::vector<std::pair<uintptr_t, uintptr_t>> live;
    auto random_range = [&] {
        const uintptr_t start = base + (rng() % 4096) * page;
        const uintptr_t sizes[] = {1, 2, 5, 16, 17, 40, 256, 300, 700};
        return std::make_pair(start, start + sizes[rng() % 9] * page);
    };
    for (int step = 0; step < 20000; ++step) {
        if (live.size() < 64 && rng() % 2) {
            live.push_back(random_range());
            s->add(live.back().first, live.back().second);
        } else if (!live.empty()) {
            const size_t i = rng() % live.size();
            s->remove(live[i].first, live[i].second);
            live.erase(live.begin() + static_cast<long>(i));
        }
        auto [qs, qe] = random_range();
        bool overlaps = false;
        for (auto [ls, le] : live) overlaps = overlaps || (ls < qe && qs < le);
        if (overlaps) {
            ASSERT_TRUE(s->may_overlap(qs, qe)) << step;
        }
        // At least one MiB from every live range: a no.
        bool far = true;
        for (auto [ls, le] : live) far = far && (le + MiB <= qs || qe + MiB <= ls);
        if (far) {
            ASSERT_FALSE(s->may_overlap(qs, qe)) << step;
        }
    }
}

}  // namespace
}  // namespace umn::test
