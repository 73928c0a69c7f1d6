// SPDX-License-Identifier: BSD-3-Clause
// See index.hpp and the edges at the top of cache.cpp.
#include "cache/index.hpp"

#include "cache/cache.hpp"

namespace umn::cache_index {

namespace {

// Links are stored with release and loaded with acquire (plain moves on
// x86): a reader that follows a link the writer stored inside a write section
// happens after the writer made the seqcount odd, so its re-check fails (C2).
constexpr auto relaxed = std::memory_order_relaxed;
constexpr auto acquire = std::memory_order_acquire;
constexpr auto release = std::memory_order_release;

umn_region *left(const umn_region *r) {
    return r->index.left.load(acquire);
}
umn_region *right(const umn_region *r) {
    return r->index.right.load(acquire);
}
// A link that keeps its value is not stored: walkers keep the node's line
// shared, and most levels of an insert or erase path keep their child.
void set_left(umn_region *r, umn_region *v) {
    if (r->index.left.load(relaxed) != v) r->index.left.store(v, release);
}
void set_right(umn_region *r, umn_region *v) {
    if (r->index.right.load(relaxed) != v) r->index.right.store(v, release);
}
uintptr_t key(const umn_region *r) {
    return r->index.start.load(relaxed);
}

// splitmix64 of the node's address: a priority that looks random and needs
// no field (a node keeps its address, so its priority, for life).
uint64_t priority(const umn_region *r) {
    uint64_t x = reinterpret_cast<uintptr_t>(r);
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Splits t into l (keys < k) and r (keys >= k).
void split(umn_region *t, uintptr_t k, umn_region *&l, umn_region *&r) {
    if (!t) {
        l = r = nullptr;
        return;
    }
    umn_region *a, *b;
    if (key(t) < k) {
        split(right(t), k, a, b);
        set_right(t, a);
        l = t;
        r = b;
    } else {
        split(left(t), k, a, b);
        set_left(t, b);
        l = a;
        r = t;
    }
}

// Every key of l is less than every key of r.
umn_region *merge(umn_region *l, umn_region *r) {
    if (!l) return r;
    if (!r) return l;
    if (priority(l) > priority(r)) {
        set_right(l, merge(right(l), r));
        return l;
    }
    set_left(r, merge(l, left(r)));
    return r;
}

// pn: priority(n), computed once for the whole descent.
umn_region *insert_at(umn_region *t, umn_region *n, uint64_t pn) {
    if (!t) return n;
    if (pn > priority(t)) {
        umn_region *a, *b;
        split(t, key(n), a, b);
        set_left(n, a);
        set_right(n, b);
        return n;
    }
    if (key(n) < key(t))
        set_left(t, insert_at(left(t), n, pn));
    else
        set_right(t, insert_at(right(t), n, pn));
    return t;
}

umn_region *erase_at(umn_region *t, uintptr_t k) {
    if (!t) return nullptr;
    if (key(t) == k) return merge(left(t), right(t));
    if (k < key(t))
        set_left(t, erase_at(left(t), k));
    else
        set_right(t, erase_at(right(t), k));
    return t;
}

}  // namespace

umn_region *find_le(const root_t &root, uintptr_t k, bool *torn) {
    umn_region *best = nullptr;
    umn_region *t = root.load(acquire);
    for (unsigned steps = 0; t; ++steps) {
        if (steps == max_walk) {
            *torn = true;
            return nullptr;
        }
        if (key(t) <= k) {
            best = t;
            t = right(t);
        } else {
            t = left(t);
        }
    }
    return best;
}

umn_region *find_ge(const root_t &root, uintptr_t k) {
    umn_region *best = nullptr;
    for (umn_region *t = root.load(relaxed); t;) {
        if (key(t) >= k) {
            best = t;
            t = left(t);
        } else {
            t = right(t);
        }
    }
    return best;
}

void insert(root_t &root, umn_region *r) {
    set_left(r, nullptr);
    set_right(r, nullptr);
    umn_region *t = root.load(relaxed);
    umn_region *after = insert_at(t, r, priority(r));
    if (after != t) root.store(after, release);
}

void erase(root_t &root, umn_region *r) {
    umn_region *t = root.load(relaxed);
    umn_region *after = erase_at(t, key(r));
    if (after != t) root.store(after, release);
}

}  // namespace umn::cache_index
