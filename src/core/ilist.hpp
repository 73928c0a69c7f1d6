// SPDX-License-Identifier: BSD-3-Clause
// An intrusive doubly linked list: the nodes carry the links (an ilist_link
// member), so linking and unlinking never allocate and a node unlinks itself
// in O(1) without a search. A node is on at most one list per link member.
//
// Not thread-safe: each list's owner states the lock that guards it.
#pragma once

namespace umn {

template <class T>
struct ilist_link {
    T *prev = nullptr, *next = nullptr;
};

template <class T, ilist_link<T> T::*Link>
class ilist {
  public:
    bool empty() const { return head_ == nullptr; }
    T *front() const { return head_; }
    T *back() const { return tail_; }
    static T *next(const T *x) { return (x->*Link).next; }

    void push_back(T *x) {
        (x->*Link).prev = tail_;
        (x->*Link).next = nullptr;
        (tail_ ? (tail_->*Link).next : head_) = x;
        tail_ = x;
    }

    void push_front(T *x) {
        (x->*Link).prev = nullptr;
        (x->*Link).next = head_;
        (head_ ? (head_->*Link).prev : tail_) = x;
        head_ = x;
    }

    // x must be on this list.
    void remove(T *x) {
        ilist_link<T> &l = x->*Link;
        (l.prev ? (l.prev->*Link).next : head_) = l.next;
        (l.next ? (l.next->*Link).prev : tail_) = l.prev;
        l.prev = l.next = nullptr;
    }

    T *pop_front() {
        T *x = head_;
        if (x) remove(x);
        return x;
    }

    // Moves every node of `other` to the end of this list.
    void splice_back(ilist &other) {
        if (other.empty()) return;
        (other.head_->*Link).prev = tail_;
        (tail_ ? (tail_->*Link).next : head_) = other.head_;
        tail_ = other.tail_;
        other.head_ = other.tail_ = nullptr;
    }

    // Empties the list without touching the nodes (their links go stale):
    // for an owner that frees them another way.
    void forget_all() { head_ = tail_ = nullptr; }

    // Calls f(x) for each node, front to back; f may unlink or free x.
    template <class F>
    void for_each(F &&f) const {
        for (T *x = head_; x;) {
            T *following = next(x);
            f(x);
            x = following;
        }
    }

  private:
    T *head_ = nullptr;
    T *tail_ = nullptr;
};

}  // namespace umn
