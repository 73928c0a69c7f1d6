// SPDX-License-Identifier: BSD-3-Clause
// ilist: the intrusive doubly linked list behind the notifier core's invalid
// list, the cache's LRU, retired and pool lists and the fork registry.
#include "core/ilist.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace umn::test {
namespace {

struct node {
    explicit node(int v = 0) : value(v) {}
    int value;
    ilist_link<node> link;
    ilist_link<node> other;  // a second list through the same nodes
};
using list = ilist<node, &node::link>;

std::vector<int> values(const list &l) {
    std::vector<int> v;
    for (node *n = l.front(); n; n = list::next(n)) v.push_back(n->value);
    return v;
}

// Links nodes[0..count) to l in order, valued 0..count-1.
void fill(list &l, node *nodes, int count) {
    for (int i = 0; i < count; ++i) {
        nodes[i].value = i;
        l.push_back(&nodes[i]);
    }
}

TEST(Ilist, PushBackAndPushFrontKeepTheirOrder) {
    node a{1}, b{2}, c{3};
    list l;
    EXPECT_TRUE(l.empty());
    l.push_back(&b);
    l.push_back(&c);
    l.push_front(&a);
    EXPECT_EQ(values(l), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(l.front(), &a);
    EXPECT_EQ(l.back(), &c);
}

TEST(Ilist, RemovingTheHeadTheMiddleOrTheTailRelinksTheRest) {
    node n[5];
    list l;
    fill(l, n, 5);
    l.remove(&n[2]);
    EXPECT_EQ(values(l), (std::vector<int>{0, 1, 3, 4}));
    l.remove(&n[0]);
    l.remove(&n[4]);
    EXPECT_EQ(values(l), (std::vector<int>{1, 3}));
    EXPECT_EQ(l.back(), &n[3]);
    EXPECT_EQ(n[2].link.next, nullptr);  // an unlinked node carries no stale links
    l.remove(&n[1]);
    l.remove(&n[3]);
    EXPECT_TRUE(l.empty());
    EXPECT_EQ(l.back(), nullptr);
}

TEST(Ilist, PopFrontEmptiesInOrderThenGivesNull) {
    node a{1}, b{2};
    list l;
    l.push_back(&a);
    l.push_back(&b);
    EXPECT_EQ(l.pop_front(), &a);
    EXPECT_EQ(l.pop_front(), &b);
    EXPECT_EQ(l.pop_front(), nullptr);
    EXPECT_EQ(l.back(), nullptr);
}

TEST(Ilist, SpliceBackMovesEveryNodeAndEmptiesTheOther) {
    node n[4];
    list l, batch;
    fill(l, n, 2);
    fill(batch, n + 2, 2);
    n[2].value = 2;
    n[3].value = 3;
    l.splice_back(batch);
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(values(l), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(n[2].link.prev, &n[1]);
    list empty;
    l.splice_back(empty);
    EXPECT_EQ(l.back(), &n[3]);
    empty.splice_back(l);  // into an empty list
    EXPECT_EQ(values(empty), (std::vector<int>{0, 1, 2, 3}));
}

TEST(Ilist, ForEachMayUnlinkTheNodeItVisits) {
    node n[4];
    list l;
    fill(l, n, 4);
    l.for_each([&](node *x) {
        if (x->value % 2) l.remove(x);
    });
    EXPECT_EQ(values(l), (std::vector<int>{0, 2}));
}

TEST(Ilist, ANodeIsOnOneListPerLinkMember) {
    node a{1}, b{2};
    list by_link;
    ilist<node, &node::other> by_other;
    by_link.push_back(&a);
    by_link.push_back(&b);
    by_other.push_back(&b);
    by_other.push_back(&a);
    by_link.remove(&a);
    EXPECT_EQ(values(by_link), (std::vector<int>{2}));
    EXPECT_EQ(by_other.front(), &b);
    EXPECT_EQ(by_other.back(), &a);
}

}  // namespace
}  // namespace umn::test
