// SPDX-License-Identifier: BSD-3-Clause
// Registrations by cookie: an intrusive chained hash table (the node is the
// caller's, linked through Node::cookie_next, keyed by Node::cookie).
// Looking a cookie up is one hash and a short chain, where a tree walk cost
// a dependent cache miss per level on every register and unregister.
// Not thread-safe: the core guards it with update_lock_ (event sources never
// look a cookie up). Only reserve() allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace umn {

template <class Node>
class cookie_table {
  public:
    cookie_table() = default;
    cookie_table(const cookie_table &) = delete;
    cookie_table &operator=(const cookie_table &) = delete;
    ~cookie_table() { delete[] buckets_; }

    // Makes room for `n` nodes at one node per bucket. If the allocation
    // fails a table that has buckets keeps working with longer chains;
    // returns false if it has none (insert() needs them).
    bool reserve(size_t n) {
        if (n <= buckets()) return true;
        const size_t grown = buckets() ? 2 * buckets() : 16;
        auto *fresh = new (std::nothrow) Node *[grown]();
        if (!fresh) return buckets_ != nullptr;
        Node **old = buckets_;
        const size_t old_count = buckets();
        buckets_ = fresh;
        mask_ = grown - 1;
        for (size_t i = 0; i < old_count; ++i)
            for (Node *n = old[i], *next; n; n = next) {
                next = n->cookie_next;
                link(n);
            }
        delete[] old;
        return true;
    }

    Node *find(uint64_t cookie) const {
        if (!buckets_) return nullptr;
        Node *n = buckets_[slot(cookie)];
        while (n && n->cookie != cookie) n = n->cookie_next;
        return n;
    }

    // A reserve() must have returned true.
    void insert(Node *n) { link(n); }

    // `n` must be in the table.
    void erase(Node *n) {
        Node **at = &buckets_[slot(n->cookie)];
        while (*at != n) at = &(*at)->cookie_next;
        *at = n->cookie_next;
    }

    // Frees the buckets of a table that holds no node, so an idle notifier
    // keeps no memory for it.
    void release_if_empty(size_t nodes) {
        if (nodes) return;
        delete[] buckets_;
        buckets_ = nullptr;
        mask_ = 0;
    }

    // Empties the table, calling f(node) once per node (f may free it).
    template <class F>
    void clear(F &&f) {
        for (size_t i = 0; i < buckets(); ++i) {
            for (Node *n = buckets_[i], *next; n; n = next) {
                next = n->cookie_next;
                f(n);
            }
            buckets_[i] = nullptr;
        }
    }

  private:
    size_t buckets() const { return buckets_ ? mask_ + 1 : 0; }
    size_t slot(uint64_t cookie) const {
        cookie ^= cookie >> 33;  // cookies are often aligned pointers or small counters
        cookie *= 0xff51afd7ed558ccdull;
        cookie ^= cookie >> 33;
        return static_cast<size_t>(cookie) & mask_;
    }
    void link(Node *n) {
        Node *&head = buckets_[slot(n->cookie)];
        n->cookie_next = head;
        head = n;
    }

    Node **buckets_ = nullptr;
    size_t mask_ = 0;
};

}  // namespace umn
