// SPDX-License-Identifier: BSD-3-Clause
// The user-space notifier core: registrations, the generation, the one-shot
// invalid list. The backend (backend.hpp) of a notifier whose monitor is
// userfaultfd or hooks; those monitors feed it as its event_source, and see
// it only as an event_sink (sink.hpp).
//
// Locking rules
//   update_lock_  serializes the application-side mutations (add, remove,
//                 drain, destruction). It may be held across watch/unwatch
//                 system calls, allocation and free. Event sources never
//                 take it. add_owned and remove_owned skip it: the owner
//                 (the cache, under its lock) already serializes them with
//                 each other, its drains and the destruction (backend.hpp).
//   lock_         protects both trees, the invalid list, the counters and the
//                 readiness eventfd's state. Held for a few hundred instructions at most: no
//                 allocation, no free, no blocking system call inside. Taken
//                 by event sources (the userfaultfd monitor thread, a hooked
//                 libc call) and, nested inside update_lock_, by the
//                 application-side paths. Order: update_lock_ -> lock_.
//
// Generation protocol (every memory-order argument below names its edge)
//   generation_   the public counter, alone on its cache line. Only grows,
//                 from 1. It lives on a page of its own that reads zero in
//                 any child (MADV_WIPEONFORK, also after a raw clone that runs
//                 no fork handler), beside `opener`, nonzero in this process
//                 only: a cache comparing generations leaves its hit path in
//                 a child, and a hooked call there leaves this core alone.
//   published_    the last generation whose cookies are on the invalid list.
//   E1: a source moves generation_ (seq_cst RMW: a full barrier on x86, so it
//       is globally visible before the source releases the unmapping thread)
//       before the call that invalidated returns to its caller.
//   E2: the cookies are linked under lock_, then published_ is stored with
//       release; drain() acquires published_ until it reaches the generation
//       it observed, then takes lock_: whoever saw the generation move finds
//       the cookies ("already drainable"). add() waits the same way, so an
//       event from a call that returned before add() began never reaches
//       the new registration.
//   announce()/publish() pairs of one core are serialized by the source (one
//   monitor thread, or lock_ for invalidate_now()). published_ only grows
//   (a max-store): a deferred invalidation (below) publishes too.
//
// Readiness (umn_notifier_fd)
//   An eventfd, readable while cookies wait. Application threads use the
//   number umn_notifier_fd() returned (event_fd_), and only after the source
//   confirms it is still that file (the application may close any number;
//   without a private table a source can only check that the number still
//   names an eventfd, file_id_);
//   the source's own thread uses its copy (source_event_fd_, the same number
//   unless the source keeps a private descriptor table). announce_event()
//   makes it readable before the unmapping thread is released (without lock_,
//   which that thread may hold), so a poller woken by the generation finds
//   POLLIN too; publish_event() clears it again if the event invalidated
//   nothing: a poller may wake once for an event that was not its own.
//
// Deferred invalidation (a hooked call in a signal handler)
//   invalidate_now() runs inside hooked libc calls, also in signal handlers
//   that may have interrupted this very thread inside a lock_ section (any
//   core's): waiting for lock_ there would wait forever. So when the thread
//   is inside one (a thread-local count, raised before locking) it puts the
//   range in a free slot of deferred_ (state free -> filling -> ready, the
//   ready store with release), moves generation_ and publishes it (E1, E2),
//   and returns. Whoever holds lock_ next applies the ready ranges (acquire)
//   before anything else, and again before unlocking (guard below), so a
//   drain that saw the generation move finds the cookies. With every slot
//   taken, deferred_all_ asks for every registration to be invalidated (too
//   many invalidations, never too few). Other threads' hooks wait for lock_
//   as before.
#pragma once

#include "core/backend.hpp"
#include "core/checked_mutex.hpp"
#include "core/ilist.hpp"
#include "core/sink.hpp"
#include "core/treap.hpp"
#include "os/sys.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>

namespace umn {

struct registration {
    registration() : by_address() {}

    uintptr_t start = 0;  // page aligned
    uintptr_t end = 0;    // page aligned, exclusive
    uint64_t cookie = 0;
    // A registration is either in the address tree or on one list (the
    // invalid list, or a batch being moved or freed), never both, so the two
    // share their links (72 bytes: an 80-byte malloc block, not 96). What
    // takes a subtree out and lists its nodes reads a node's children before
    // it links the node (treap::in_order).
    union {
        treap_links<registration> by_address;
        ilist_link<registration> link;
    };
    uintptr_t max_end = 0;                // largest end in this address subtree
    treap_links<registration> by_cookie;  // unused when owned
    uint32_t priority = 0;                // both treaps' (address_priority, set once)
    bool invalid = false;
    bool owned = false;  // added by add_owned(): not in the cookie tree
};

static_assert(sizeof(registration) <= 72, "a registration fits an 80-byte malloc block");

using registration_list = ilist<registration, &registration::link>;

struct address_order {
    static treap_links<registration> &links(registration *r) { return r->by_address; }
    static bool less(const registration *a, const registration *b);
    static uint32_t priority(const registration *r) { return r->priority; }
    static void update(registration *r);
    // t's max_end is some other registration's end unless it is n's.
    static bool unchanged_without(const registration *t, const registration *n) {
        return t->max_end != n->end;
    }
};

struct cookie_order {
    static treap_links<registration> &links(registration *r) { return r->by_cookie; }
    static bool less(const registration *a, const registration *b) { return a->cookie < b->cookie; }
    static uint32_t priority(const registration *r) { return r->priority; }
    static void update(registration *) {}
    static bool unchanged_without(const registration *, const registration *) { return true; }
};

class core final : public backend, public event_sink {
  public:
    // Attaches to `source`; check error() afterwards.
    explicit core(event_source &source);
    ~core() override;
    core(const core &) = delete;
    core &operator=(const core &) = delete;
    int error() const { return attach_error_; }

    int add(uintptr_t start, uintptr_t end, uint64_t cookie) override;
    int remove(uint64_t cookie) override;
    int add_owned(uintptr_t start, uintptr_t end, uint64_t cookie, void **token) override;
    int remove_owned(uint64_t cookie, void *token) override;
    long drain(uint64_t *cookies, size_t max) override;
    int poll_fd() override;
    int set_limit(size_t max_registrations) override;
    const uint64_t *generation() const override;
    void stats(struct umn_notifier_stats *out) override;

    // Test hook: calls f(arg) inside a lock_ section of this core, where a
    // signal handler interrupting one runs (invalidate_now() defers there).
    void run_inside_lock_for_test(void (*f)(void *), void *arg);

    // The sink (sink.hpp; the generation protocol above).
    void announce_event() override;
    void invalidate(uintptr_t start, uintptr_t end) override;
    void publish_event() override;
    bool invalidate_now(uintptr_t start, uintptr_t end) override;

  private:
    // lock_, with deferred invalidations applied after locking and before
    // unlocking (see the top).
    class guard {
      public:
        explicit guard(core &c);
        ~guard();
        guard(const guard &) = delete;
        guard &operator=(const guard &) = delete;

      private:
        core &c_;
    };
    struct deferred_range {
        enum : int { free, filling, ready };
        std::atomic<int> state{free};
        uintptr_t start = 0;  // written while filling, read when ready
        uintptr_t end = 0;
    };

    void announce();
    void publish();
    void defer(uintptr_t start, uintptr_t end);
    void apply_deferred();
    bool invalidate_locked(uintptr_t start, uintptr_t end);
    void publish_at_least(uint64_t g);
    registration *find_cookie(uint64_t cookie) const;
    int insert(uintptr_t start, uintptr_t end, uint64_t cookie, bool owned, registration **out);
    registration_list take_overlapping(uintptr_t start, uintptr_t end);
    registration *take_first_overlapping(uintptr_t start, uintptr_t end, registration **next);
    int remove_node(registration *r, uint64_t cookie);
    void unlink_invalid(registration *r);
    void forget(registration *r);
    void wait_published() const;
    void set_readable(bool readable, int fd);
    void set_readable_by_source(bool readable);
    void set_readable_by_application(bool readable);
    bool event_fd_is_ours() const;
    void release(registration_list &batch);
    registration *take_spare();
    void keep_spare(registration *r);

    // Both on one MADV_WIPEONFORK page (see the top).
    struct process_words {
        alignas(64) std::atomic<uint64_t> generation{1};
        alignas(64) std::atomic<uint64_t> opener{1};
    };
    static process_words *map_process_words();
    process_words *const words_;
    std::atomic<uint64_t> &generation_;
    alignas(64) std::atomic<uint64_t> published_{1};
    uint64_t announced_ = 0;  // written by the serialized announcer only

    alignas(64) std::atomic<unsigned> deferred_pending_{0};  // ready ranges, roughly
    std::atomic<bool> deferred_all_{false};
    std::atomic<uint64_t> deferred_count_{0};  // statistics: defer() calls
    deferred_range deferred_[8];

    alignas(64) checked_mutex lock_;
    treap<registration, address_order> by_address_;
    treap<registration, cookie_order> by_cookie_;
    registration_list invalid_;
    size_t count_ = 0;  // live plus undrained
    struct {
        uint64_t events = 0;  // invalidate() and invalidate_now() calls
        uint64_t invalidated = 0;
        uint64_t drained = 0;
    } counters_;
    size_t limit_;
    int event_fd_ = -1;                     // the application's number (umn_notifier_fd)
    std::atomic<int> source_event_fd_{-1};  // the same file, as the source's thread names it
    sys::file_id event_fd_id_{};
    bool readable_ = false;

    std::mutex update_lock_;
    // Owned registrations that remove_owned() took out, for add_owned() to
    // reuse instead of a free and an allocation per cache miss. Only those
    // two touch it, and their owner serializes them (no lock).
    static constexpr unsigned max_spares = 64;
    registration *spares_[max_spares] = {};
    unsigned spare_count_ = 0;
    event_source &source_;
    int attach_error_ = 0;
};

}  // namespace umn
