// SPDX-License-Identifier: BSD-3-Clause
// treap: the notifier core's interval tree. Erasing (by node, or the node a
// descent chooses) must leave every subtree's max_end right, also where it
// skips recomputing a node whose max_end the erased node did not set.
#include "core/core.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

namespace umn::test {
namespace {

using address_treap = treap<registration, address_order>;

// Checks every node's max_end against its subtree; returns the subtree's.
uintptr_t checked_max_end(const registration *t, size_t *nodes) {
    if (!t) return 0;
    ++*nodes;
    uintptr_t m = std::max({t->end, checked_max_end(t->by_address.left, nodes),
                            checked_max_end(t->by_address.right, nodes)});
    EXPECT_EQ(t->max_end, m) << "node at " << t->start;
    return m;
}

// The descent core.cpp's take_overlapping uses: the leftmost overlapping.
address_treap::step toward_first(const registration *t, uintptr_t start, uintptr_t end) {
    const registration *left = t->by_address.left;
    if (left && left->max_end > start) return address_treap::step::left;
    if (t->start >= end) return address_treap::step::none;
    if (t->end > start) return address_treap::step::here;
    return address_treap::step::right;
}

TEST(Treap, EraseAndEraseChosenKeepMaxEndOfEverySubtree) {
    std::mt19937_64 rng(11);
    std::vector<std::unique_ptr<registration>> all;
    std::vector<registration *> live;
    address_treap t;
    for (uint64_t cookie = 0; cookie < 3000; ++cookie) {
        auto r = std::make_unique<registration>();
        r->start = (rng() % 2000) * 4096;
        r->end = r->start + (1 + rng() % (rng() % 8 ? 4 : 300)) * 4096;
        r->cookie = cookie;
        r->priority = address_priority(r.get());
        t.insert(r.get());
        live.push_back(r.get());
        all.push_back(std::move(r));
    }
    while (!live.empty()) {
        if (rng() % 2) {
            const size_t i = rng() % live.size();
            t.erase(live[i]);
            live.erase(live.begin() + static_cast<long>(i));
        } else {
            const uintptr_t start = (rng() % 2300) * 4096, end = start + (1 + rng() % 16) * 4096;
            registration *want = nullptr;
            for (registration *r : live)
                if (r->start < end && r->end > start && (!want || address_order::less(r, want)))
                    want = r;
            registration *next = nullptr;
            registration *got = t.erase_chosen(
                [&](const registration *n) { return toward_first(n, start, end); }, &next);
            ASSERT_EQ(got, want);
            if (got) {
                registration *successor = nullptr;
                for (registration *r : live)
                    if (address_order::less(got, r) &&
                        (!successor || address_order::less(r, successor)))
                        successor = r;
                ASSERT_EQ(next, successor);
            }
            if (got) live.erase(std::find(live.begin(), live.end(), got));
        }
        size_t nodes = 0;
        checked_max_end(t.root(), &nodes);
        ASSERT_EQ(nodes, live.size());
        if (::testing::Test::HasFailure()) return;
    }
    EXPECT_TRUE(t.empty());
}

}  // namespace
}  // namespace umn::test
