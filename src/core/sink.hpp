// SPDX-License-Identifier: BSD-3-Clause
// The contract between the user-space core and the event sources that feed it
// (the userfaultfd and hooks monitors), in the manner of mmu_notifier.h's ops:
// a source sees a core only as an event_sink, the core sees its source only as
// an event_source, and neither includes the other's header.
//
// What a source owes its sinks (the generation protocol, E1 and E2, is at the
// top of core.hpp):
//   - invalidate() every range whose pages may have changed, before the call
//     that changed them returns to its caller;
//   - a source that learns of a change only after the changing call is
//     released (userfaultfd) calls announce_event() before releasing it and
//     publish_event() once every range of the event is invalidated; the
//     announce_event/publish_event pairs of one sink are serialized by the
//     source;
//   - a source that runs inside the changing call (hooks) calls
//     invalidate_now() instead, which announces, invalidates and publishes in
//     one critical section, also from a signal handler.
//
// A source is process-wide (a range belongs to one userfaultfd only, libc is
// patched once), so several sinks attach to one source: attached_sinks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace umn {

// Page aligned: [start, end).
struct page_range {
    uintptr_t start;
    uintptr_t end;
};

class event_sink {
  public:
    // Moves the generation (E1) and makes the sink's umn_notifier_fd
    // readable, before the source releases the changing call.
    virtual void announce_event() = 0;
    // Puts every registration overlapping [start, end) on the invalid list.
    virtual void invalidate(uintptr_t start, uintptr_t end) = 0;
    // Publishes the announced generation (E2); clears the readiness again if
    // the event invalidated nothing.
    virtual void publish_event() = 0;
    // announce + invalidate + publish in one critical section, moving the
    // generation only if a registration overlaps. Returns whether one did.
    virtual bool invalidate_now(uintptr_t start, uintptr_t end) = 0;

  protected:
    event_sink() = default;
    ~event_sink() = default;
    event_sink(const event_sink &) = delete;
    event_sink &operator=(const event_sink &) = delete;

  private:
    friend class attached_sinks;
    std::atomic<event_sink *> next_attached_{nullptr};
};

// What the core asks of its source. Ranges are page aligned: [start, end).
class event_source {
  public:
    virtual ~event_source() = default;
    virtual int attach(event_sink &sink) = 0;
    // After detach() returns the source never touches `sink` again.
    virtual void detach(event_sink &sink) = 0;
    // Start/stop seeing events for pages of [start, end). Called by
    // application threads with no umn lock held. Calls nest (reference
    // counted by the source).
    virtual int watch(uintptr_t start, uintptr_t end) = 0;
    virtual void unwatch(uintptr_t start, uintptr_t end) = 0;
    // Ends one watch() of each of ranges[0, n), in any order; the source may
    // reorder the array. A source that pays a lock or a system call per
    // unwatch() does them in one pass (closing a notifier of 10^6
    // registrations).
    virtual void unwatch_many(page_range *ranges, size_t n) {
        for (size_t i = 0; i < n; ++i) unwatch(ranges[i].start, ranges[i].end);
    }

    // A sink's readiness eventfd `fd`, just made by an application thread,
    // as the thread that runs this source's events names it: fd itself for a
    // source that runs in application threads, a copy in its own descriptor
    // table for one that keeps a private table. Negative errno on failure.
    virtual int share_fd(int fd) { return fd; }
    // Lets go of share_fd()'s result (never closes the application's number).
    virtual void drop_shared_fd(int source_fd) { (void)source_fd; }
    // Whether the application's descriptor `fd` still refers to the file
    // behind `source_fd`: an application may close any number and reuse it.
    virtual bool same_file(int fd, int source_fd) { return fd == source_fd; }
};

// The sinks attached to one source, linked through the sinks themselves (so
// attaching allocates nothing). Writers (add, remove) are serialized by the
// source. Readers walk with acquire loads, under the writers' lock
// (userfaultfd) or without one (hooks): a removed sink keeps its link, so a
// reader standing on it walks on, and a lock-free source waits such readers
// out before detach() returns (hooks: reader epochs).
class attached_sinks {
  public:
    void add(event_sink &s) {
        s.next_attached_.store(head_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        head_.store(&s, std::memory_order_release);  // pairs with the readers' acquire loads
    }
    void remove(event_sink &s) {
        std::atomic<event_sink *> *link = &head_;
        for (event_sink *e; (e = link->load(std::memory_order_relaxed));
             link = &e->next_attached_) {
            if (e != &s) continue;
            link->store(s.next_attached_.load(std::memory_order_relaxed),
                        std::memory_order_release);
            return;
        }
    }
    bool empty() const { return head_.load(std::memory_order_acquire) == nullptr; }
    template <class F>
    void for_each(F f) const {
        for (event_sink *s = head_.load(std::memory_order_acquire); s;
             s = s->next_attached_.load(std::memory_order_acquire))
            f(*s);
    }
    // In a fork child: the parent's sinks are not this process's (their locks
    // may be held by threads that do not exist here).
    void forget() { head_.store(nullptr, std::memory_order_relaxed); }

  private:
    std::atomic<event_sink *> head_{nullptr};
};

}  // namespace umn
