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
void set_left(umn_region *r, umn_region *v) {
    r->index.left.store(v, release);
}
void set_right(umn_region *r, umn_region *v) {
    r->index.right.store(v, release);
}
uintptr_t key(const umn_region *r) {
    return r->index.start.load(relaxed);
}

// splitmix64: priorities that look random but need no state.
uint64_t mix(uint64_t x) {
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
    if (l->index.priority > r->index.priority) {
        set_right(l, merge(right(l), r));
        return l;
    }
    set_left(r, merge(l, left(r)));
    return r;
}

umn_region *insert_at(umn_region *t, umn_region *n) {
    if (!t) return n;
    if (n->index.priority > t->index.priority) {
        umn_region *a, *b;
        split(t, key(n), a, b);
        set_left(n, a);
        set_right(n, b);
        return n;
    }
    if (key(n) < key(t))
        set_left(t, insert_at(left(t), n));
    else
        set_right(t, insert_at(right(t), n));
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
    r->index.priority = mix(reinterpret_cast<uintptr_t>(r));
    set_left(r, nullptr);
    set_right(r, nullptr);
    root.store(insert_at(root.load(relaxed), r), release);
}

void erase(root_t &root, umn_region *r) {
    root.store(erase_at(root.load(relaxed), key(r)), release);
}

}  // namespace umn::cache_index
