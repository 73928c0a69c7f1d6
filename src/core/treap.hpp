// SPDX-License-Identifier: BSD-3-Clause
// An intrusive treap: the nodes are the caller's objects, so inserting and
// erasing never allocate (the notifier core calls erase from monitor
// callbacks, where allocating could re-enter an allocator's munmap).
// No Debian library offers an intrusive tree with a user augmentation hook,
// which the interval search needs.
//
// Traits supplies: `links(Node*) -> treap_links<Node>&`, `less(const Node*,
// const Node*)` (a strict total order), `priority(const Node*)` (random
// looking, fixed while linked), `update(Node*)` called whenever a
// node's children change (for augmented data such as an interval's max end),
// and `unchanged_without(const Node *t, const Node *n)`: whether t's
// augmented data stays as it is when n leaves t's subtree (erasing then
// skips update(t), which reads both children; true for t must mean true for
// t's ancestors too, as for a subtree maximum).
// Not thread-safe: the owner locks.
#pragma once

#include <cstdint>

namespace umn {

// The priority lives in the node (Traits::priority), not in the links: one
// value serves every treap a node is in.
template <class Node>
struct treap_links {
    Node *left = nullptr;
    Node *right = nullptr;
};

// splitmix64 of a node's address: a priority that looks random and needs
// no state, computed once when the node is made.
inline uint32_t address_priority(const void *node) {
    uint64_t x = reinterpret_cast<uintptr_t>(node);
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return static_cast<uint32_t>((x ^ (x >> 31)) >> 32);
}

template <class Node, class Traits>
class treap {
  public:
    Node *root() const { return root_; }
    bool empty() const { return root_ == nullptr; }

    void insert(Node *n) {
        auto &l = Traits::links(n);
        l.left = l.right = nullptr;
        Traits::update(n);
        root_ = insert_at(root_, n);
    }

    // `n` must be in this treap.
    void erase(Node *n) { root_ = erase_at(root_, n); }

    // Where, seen from node t, the node to erase is.
    enum class step { left, here, right, none };
    // Erases the node that choose(t) -> step leads to from the root, and
    // returns it (nullptr if it leads nowhere): one descent to find and
    // erase, instead of a search and then erase()'s descent. *next becomes
    // the node that followed the erased one in order (nullptr if none).
    template <class Choose>
    Node *erase_chosen(Choose &&choose, Node **next) {
        // A loop that remembers the path (a tree deeper than that, unlikely
        // for a treap, takes the recursive walk instead).
        constexpr int max_path = 96;
        Node *path[max_path];
        int depth = 0;
        Node **link = &root_;
        Node *after = nullptr;  // the lowest ancestor t is left of
        for (Node *t = root_; t && depth < max_path;) {
            switch (choose(static_cast<const Node *>(t))) {
                case step::here:
                    *link = unlink(t, after, next);
                    // An ancestor left unchanged leaves those above it so.
                    while (depth > 0 && !Traits::unchanged_without(path[depth - 1], t))
                        Traits::update(path[--depth]);
                    return t;
                case step::left:
                    path[depth++] = after = t;
                    link = &left(t);
                    break;
                case step::right:
                    path[depth++] = t;
                    link = &right(t);
                    break;
                default:
                    return nullptr;
            }
            t = *link;
        }
        if (depth < max_path) return nullptr;
        Node *found = nullptr;
        root_ = erase_chosen_at(root_, choose, nullptr, found, next);
        return found;
    }

    // Takes out every node n with !less(n, low) and less(n, high) in
    // O(log n); returns them as one subtree (in_order() walks it).
    Node *take_range(const Node *low, const Node *high) {
        Node *before, *inside, *after;
        split(root_, low, before, inside);
        split(inside, high, inside, after);
        root_ = merge(before, after);
        return inside;
    }

    // Calls f(node) for every node of the subtree at t in order, reading a
    // node's children before f sees it, so f may reuse its links or free it.
    template <class F>
    static void in_order(Node *t, F &&f) {
        if (!t) return;
        Node *l = left(t), *r = right(t);
        in_order(l, f);
        f(t);
        in_order(r, f);
    }

    // Empties the treap in O(1); returns the old root, whose subtree
    // in_order() or post_order() can still walk.
    Node *take_all() {
        Node *t = root_;
        root_ = nullptr;
        return t;
    }

    // Calls f(node) for every node of the subtree at t, each after its
    // children, so f may free the node.
    template <class F>
    static void post_order(Node *t, F &&f) {
        if (!t) return;
        post_order(left(t), f);
        post_order(right(t), f);
        f(t);
    }

  private:
    static Node *&left(Node *n) { return Traits::links(n).left; }
    static Node *&right(Node *n) { return Traits::links(n).right; }
    static uint32_t priority(const Node *n) { return Traits::priority(n); }

    // Splits t into l (nodes less than k) and r (the rest).
    static void split(Node *t, const Node *k, Node *&l, Node *&r) {
        if (!t) {
            l = r = nullptr;
        } else if (Traits::less(t, k)) {
            split(right(t), k, right(t), r);
            l = t;
            Traits::update(t);
        } else {
            split(left(t), k, l, left(t));
            r = t;
            Traits::update(t);
        }
    }

    // Every node of l is less than every node of r.
    static Node *merge(Node *l, Node *r) {
        if (!l) return r;
        if (!r) return l;
        if (priority(l) > priority(r)) {
            right(l) = merge(right(l), r);
            Traits::update(l);
            return l;
        }
        left(r) = merge(l, left(r));
        Traits::update(r);
        return r;
    }

    static Node *insert_at(Node *t, Node *n) {
        if (!t) return n;
        if (priority(n) > priority(t)) {
            split(t, n, left(n), right(n));
            Traits::update(n);
            return n;
        }
        if (Traits::less(n, t))
            left(t) = insert_at(left(t), n);
        else
            right(t) = insert_at(right(t), n);
        Traits::update(t);
        return t;
    }

    static Node *erase_at(Node *t, Node *n) {
        if (t == n) return merge(left(t), right(t));
        if (Traits::less(n, t))
            left(t) = erase_at(left(t), n);
        else
            right(t) = erase_at(right(t), n);
        if (!Traits::unchanged_without(t, n)) Traits::update(t);
        return t;
    }

    // `after`: the lowest ancestor of t whose left subtree t is in, the node
    // that follows t's subtree in order.
    template <class Choose>
    static Node *erase_chosen_at(Node *t, Choose &choose, Node *after, Node *&found, Node **next) {
        if (!t) return t;
        Node **child;
        switch (choose(t)) {
            case step::here:
                found = t;
                return unlink(t, after, next);
            case step::left:
                child = &left(t);
                after = t;
                break;
            case step::right:
                child = &right(t);
                break;
            default:
                return t;
        }
        Node *c = erase_chosen_at(*child, choose, after, found, next);
        if (!found) return t;  // nothing erased: nothing written
        *child = c;
        if (!Traits::unchanged_without(t, found)) Traits::update(t);
        return t;
    }

    // Takes t out: returns the subtree that replaces it, and sets *next to
    // the node that follows t in order (`after`: the node that follows t's
    // subtree).
    static Node *unlink(Node *t, Node *after, Node **next) {
        *next = right(t) ? leftmost(right(t)) : after;
        return merge(left(t), right(t));
    }

    static Node *leftmost(Node *t) {
        while (left(t)) t = left(t);
        return t;
    }

    Node *root_ = nullptr;
};

}  // namespace umn
