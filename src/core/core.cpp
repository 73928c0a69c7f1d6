// SPDX-License-Identifier: BSD-3-Clause
// Locking rules and the generation protocol are stated in core.hpp.
#include "core/core.hpp"

#include "config/options.hpp"
#include "os/sys.hpp"

#include <cerrno>
#include <iterator>
#include <new>

namespace umn {

namespace {

// How many lock_ sections (of any core) this thread is in, counting one that
// is still waiting for the lock. Initial-exec TLS: a hooked call may read it
// in a signal handler, where a lazily allocated TLS block is not an option.
__attribute__((tls_model("initial-exec"))) thread_local unsigned lock_sections = 0;

}  // namespace

bool address_order::less(const registration *a, const registration *b) {
    if (a->start != b->start) return a->start < b->start;
    return a->cookie < b->cookie;  // cookies are unique: a total order
}

void address_order::update(registration *r) {
    uintptr_t m = r->end;
    if (r->by_address.left && r->by_address.left->max_end > m) m = r->by_address.left->max_end;
    if (r->by_address.right && r->by_address.right->max_end > m) m = r->by_address.right->max_end;
    r->max_end = m;
}

namespace {

using address_treap = treap<registration, address_order>;

// From t, where the leftmost registration overlapping [start, end) is.
address_treap::step toward_first_overlapping(const registration *t, uintptr_t start,
                                             uintptr_t end) {
    const registration *left = t->by_address.left;
    // left's nodes start before t: one ends inside, if t starts inside
    if (left && left->max_end > start) return address_treap::step::left;
    if (t->start >= end) return address_treap::step::none;
    if (t->end > start) return address_treap::step::here;
    return address_treap::step::right;
}

// Ranges to unwatch, handed to the source a batch at a time (one pass of
// its watch lock per batch, not per registration).
class unwatch_batch {
  public:
    explicit unwatch_batch(event_source &source) : source_(source) {}
    ~unwatch_batch() { flush(); }
    unwatch_batch(const unwatch_batch &) = delete;
    unwatch_batch &operator=(const unwatch_batch &) = delete;

    void add(const registration *r) {
        if (n_ == std::size(ranges_)) flush();
        ranges_[n_++] = {r->start, r->end};
    }
    void flush() {
        if (n_) source_.unwatch_many(ranges_, n_);
        n_ = 0;
    }

  private:
    event_source &source_;
    page_range ranges_[256];  // 4 KiB of stack
    size_t n_ = 0;
};

}  // namespace

core::process_words *core::map_process_words() {
    void *page = sys::map_wiped_on_fork(sizeof(process_words));
    if (page) return new (page) process_words;
    static process_words unusable;  // for a core that fails to open: no opener
    unusable.opener.store(0, std::memory_order_relaxed);
    return &unusable;
}

core::core(event_source &source)
    : words_(map_process_words()),
      generation_(words_->generation),
      limit_(options().max_registrations),
      source_(source) {
    attach_error_ =
        words_->opener.load(std::memory_order_relaxed) ? source_.attach(*this) : -ENOMEM;
}

core::~core() {
    if (attach_error_ == 0) source_.detach(*this);
    std::lock_guard update(update_lock_);
    registration *live;
    registration_list invalid;
    {
        // Every registration is live (in the address tree) or invalid (on
        // the list): detaching the roots empties all three structures at
        // once, and one walk of each outside lock_ frees them (erasing node
        // by node took seconds at 10^6 registrations).
        guard g(*this);
        live = by_address_.take_all();
        by_cookie_.take_all();
        invalid.splice_back(invalid_);
        count_ = 0;
    }
    {
        // In address order: a source joins neighbouring ranges.
        unwatch_batch unwatched(source_);
        address_treap::in_order(live, [&](registration *r) {
            unwatched.add(r);
            delete r;
        });
    }
    release(invalid);
    while (spare_count_) delete spares_[--spare_count_];
    if (event_fd_ >= 0) {
        if (event_fd_is_ours()) sys::close_fd(event_fd_);
        source_.drop_shared_fd(source_event_fd_.load(std::memory_order_relaxed));
    }
    if (words_->opener.load(std::memory_order_relaxed)) sys::unmap_wiped(words_, sizeof *words_);
}

const uint64_t *core::generation() const {
    // std::atomic<uint64_t> is a plain uint64_t in memory (static_assert in
    // notifier.cpp), so the inline umn_generation() can load it directly.
    return reinterpret_cast<const uint64_t *>(&generation_);
}

registration *core::find_cookie(uint64_t cookie) const {
    registration *t = by_cookie_.root();
    while (t && t->cookie != cookie)
        t = cookie < t->cookie ? t->by_cookie.left : t->by_cookie.right;
    return t;
}

int core::add(uintptr_t start, uintptr_t end, uint64_t cookie) {
    return insert(start, end, cookie, false, nullptr);
}

int core::add_owned(uintptr_t start, uintptr_t end, uint64_t cookie, void **token) {
    registration *r = nullptr;
    int rc = insert(start, end, cookie, true, &r);
    *token = r;
    return rc;
}

// An owned registration skips the cookie tree: its owner promised unique
// cookies and removes it by node (remove_owned).
int core::insert(uintptr_t start, uintptr_t end, uint64_t cookie, bool owned, registration **out) {
    registration *r = owned ? take_spare() : nullptr;
    if (!r) r = new (std::nothrow) registration;
    if (!r) return -ENOMEM;
    r->start = start;
    r->end = end;
    r->cookie = cookie;
    r->priority = address_priority(r);
    r->owned = owned;

    // An event announced before this call (its unmapping call has returned)
    // is processed before the registration exists: a thread never sees its
    // new registration invalidated by a call it had already finished.
    wait_published();
    std::unique_lock update(update_lock_, std::defer_lock);
    if (!owned) update.lock();  // an owner serializes its calls itself (top of core.hpp)
    {
        guard g(*this);
        int rc = 0;
        if (!owned && find_cookie(cookie))
            rc = -EEXIST;
        else if (count_ >= limit_)
            rc = -ENOSPC;
        if (rc) {
            delete r;
            return rc;
        }
        // Insert before watching: an event that arrives while the watch is
        // being set up then finds the registration instead of missing it.
        by_address_.insert(r);
        if (!owned) by_cookie_.insert(r);
        ++count_;
    }
    int rc = source_.watch(start, end);
    if (rc == 0) {
        if (out) *out = r;
        return 0;
    }
    {
        guard g(*this);
        forget(r);
    }
    delete r;
    return rc;
}

int core::remove_owned(uint64_t, void *token) {
    return remove_node(static_cast<registration *>(token), 0);
}

int core::remove(uint64_t cookie) {
    return remove_node(nullptr, cookie);
}

// Removes r (an owned registration's token) or, when r is null, the
// registration with this cookie: forgets it under lock_, then unwatches and
// frees it outside.
int core::remove_node(registration *r, uint64_t cookie) {
    const bool owned = r != nullptr;
    std::unique_lock update(update_lock_, std::defer_lock);
    if (!owned) update.lock();  // an owner serializes its calls itself (top of core.hpp)
    {
        guard g(*this);
        if (!r) r = find_cookie(cookie);
        if (!r) return -ENOENT;
        forget(r);
    }
    if (owned) {  // the owner's: a spare for its next add_owned
        source_.unwatch(r->start, r->end);
        keep_spare(r);
        return 0;
    }
    registration_list batch;
    batch.push_back(r);
    release(batch);
    return 0;
}

// A cleared registration node from the spares, or nullptr. Owner only.
registration *core::take_spare() {
    if (spare_count_ == 0) return nullptr;
    return new (spares_[--spare_count_]) registration;
}

// Keeps r, which no structure holds any more, or frees it. Owner only.
void core::keep_spare(registration *r) {
    if (spare_count_ == max_spares)
        delete r;
    else
        spares_[spare_count_++] = r;
}

long core::drain(uint64_t *cookies, size_t max) {
    wait_published();
    registration_list taken;
    long n = 0;
    std::lock_guard update(update_lock_);
    {
        guard g(*this);
        while (!invalid_.empty() && static_cast<size_t>(n) < max) {
            registration *r = invalid_.front();
            cookies[n++] = r->cookie;
            forget(r);
            taken.push_front(r);
        }
        counters_.drained += static_cast<uint64_t>(n);
    }
    release(taken);
    return n;
}

int core::poll_fd() {
    std::lock_guard update(update_lock_);  // event_fd_ changes under both locks
    if (event_fd_ >= 0 && event_fd_is_ours()) return event_fd_;
    if (event_fd_ >= 0) {
        // The application closed it (the number may be someone else's now):
        // let go of the source's copy only, and make a new one.
        int old_source_fd;
        {
            guard g(*this);
            old_source_fd = source_event_fd_.exchange(-1, std::memory_order_relaxed);
            event_fd_ = -1;
            readable_ = false;
        }
        source_.drop_shared_fd(old_source_fd);
    }
    int fd = sys::make_eventfd();
    if (fd < 0) return fd;
    int shared = source_.share_fd(fd);
    if (shared < 0) {
        sys::close_fd(fd);
        return shared;
    }
    sys::file_id id = sys::identify(fd);
    guard g(*this);
    event_fd_ = fd;
    event_fd_id_ = id;
    source_event_fd_.store(shared, std::memory_order_release);  // pairs with announce_event()
    readable_ = false;
    set_readable(!invalid_.empty(), event_fd_);
    return event_fd_;
}

int core::set_limit(size_t max_registrations) {
    if (max_registrations == 0) return -EINVAL;
    guard g(*this);
    limit_ = max_registrations;
    return 0;
}

// Removes r from whichever structure holds it. Caller holds lock_.
void core::forget(registration *r) {
    UMN_ASSERT_HELD(lock_);
    if (r->invalid)
        unlink_invalid(r);
    else
        by_address_.erase(r);
    if (!r->owned) by_cookie_.erase(r);
    --count_;
}

// Unwatches and frees a batch no structure holds any more, outside lock_.
void core::release(registration_list &batch) {
    unwatch_batch unwatched(source_);
    batch.for_each([&](registration *r) {
        unwatched.add(r);
        delete r;
    });
    batch.forget_all();
}

void core::unlink_invalid(registration *r) {
    UMN_ASSERT_HELD(lock_);
    invalid_.remove(r);
    r->invalid = false;
    if (invalid_.empty()) set_readable_by_application(false);
}

// lock_ held. fd names the eventfd in the calling thread's descriptor table.
void core::set_readable(bool readable, int fd) {
    UMN_ASSERT_HELD(lock_);
    if (fd < 0 || readable == readable_) return;
    readable_ = readable;
    if (readable)
        sys::eventfd_raise(fd);
    else
        sys::eventfd_clear(fd);
}

// lock_ held. Touches the application's number only while it is still ours.
void core::set_readable_by_application(bool readable) {
    UMN_ASSERT_HELD(lock_);
    if (event_fd_ < 0 || readable == readable_) return;
    if (!event_fd_is_ours()) return;
    set_readable(readable, event_fd_);
}

// lock_ held. A source sharing the application's table checks the number
// still names an eventfd; a private copy cannot have been closed.
void core::set_readable_by_source(bool readable) {
    UMN_ASSERT_HELD(lock_);
    const int fd = source_event_fd_.load(std::memory_order_relaxed);
    if (fd < 0 || readable == readable_) return;
    if (fd == event_fd_ && !(sys::identify(fd) == event_fd_id_)) return;
    set_readable(readable, fd);
}

bool core::event_fd_is_ours() const {
    return sys::identify(event_fd_) == event_fd_id_ &&
           source_.same_file(event_fd_, source_event_fd_.load(std::memory_order_relaxed));
}

// Unlinks every live registration overlapping [start, end) from the address
// tree; returns them as a batch, in address order. Caller holds lock_. The
// first few are found and erased one by one, leftmost first, each in one
// descent, until the one that follows in address order starts past the range
// (a munmap of one registered buffer: one descent). Beyond that, those starting
// inside the range leave as one subtree (two splits and a merge,
// O(log n + k)) and those starting before it and reaching in are erased one
// by one.
registration_list core::take_overlapping(uintptr_t start, uintptr_t end) {
    UMN_ASSERT_HELD(lock_);
    constexpr unsigned erased_one_by_one = 8;
    registration_list found;
    for (unsigned n = 0; n < erased_one_by_one; ++n) {
        registration *next;
        registration *r = take_first_overlapping(start, end, &next);
        if (!r) return found;
        found.push_back(r);
        // r was the leftmost overlapping one: those before it do not
        // overlap, and from `next` on every one starts at or after next.
        if (!next || next->start >= end) return found;
    }
    registration low, high;  // keys: (start, 0) sorts before every registration at start
    low.start = start;
    high.start = end;
    registration *inside = by_address_.take_range(&low, &high);
    registration *next;
    while (registration *r = take_first_overlapping(start, end, &next)) found.push_back(r);
    address_treap::in_order(inside, [&](registration *r) { found.push_back(r); });
    return found;
}

// Erases the leftmost live registration overlapping [start, end) from the
// address tree and returns it, or nullptr. Caller holds lock_.
registration *core::take_first_overlapping(uintptr_t start, uintptr_t end, registration **next) {
    // One descent finds and erases it.
    return by_address_.erase_chosen(
        [start, end](const registration *t) { return toward_first_overlapping(t, start, end); },
        next);
}

void core::announce() {
    // E1: seq_cst RMW before the source releases the unmapping thread.
    announced_ = generation_.fetch_add(1, std::memory_order_seq_cst) + 1;
}

// Moves every live registration overlapping [start, end) to the invalid
// list; returns whether there was one. lock_ held.
bool core::invalidate_locked(uintptr_t start, uintptr_t end) {
    UMN_ASSERT_HELD(lock_);
    registration_list taken = take_overlapping(start, end);
    const bool found = !taken.empty();
    taken.for_each([this](registration *r) {
        r->invalid = true;
        ++counters_.invalidated;
    });
    invalid_.splice_back(taken);
    if (!invalid_.empty()) set_readable_by_source(true);
    return found;
}

void core::invalidate(uintptr_t start, uintptr_t end) {
    guard g(*this);
    ++counters_.events;
    invalidate_locked(start, end);
}

void core::run_inside_lock_for_test(void (*f)(void *), void *arg) {
    guard g(*this);
    f(arg);
}

void core::stats(struct umn_notifier_stats *out) {
    // E2: an event whose generation move this thread can see is counted.
    wait_published();
    out->deferred = deferred_count_.load(std::memory_order_relaxed);
    guard g(*this);
    out->events = counters_.events;
    out->invalidated = counters_.invalidated;
    out->drained = counters_.drained;
    out->registrations = count_;
}

void core::publish() {
    publish_at_least(announced_);
}

// The eventfd is raised without lock_: an application thread blocked in this
// event's munmap may hold lock_ (a signal handler's munmap). readable_ is put
// back in step by publish_event().
void core::announce_event() {
    announce();
    const int fd = source_event_fd_.load(std::memory_order_acquire);
    if (fd >= 0) sys::eventfd_raise(fd);
}

void core::publish_event() {
    {
        guard g(*this);
        const int fd = source_event_fd_.load(std::memory_order_relaxed);
        if (fd >= 0) {
            readable_ = !invalid_.empty();
            if (!readable_) sys::eventfd_clear(fd);  // the event invalidated nothing
        }
    }
    publish();
}

// E2: a release max-store, since deferred invalidations publish too.
void core::publish_at_least(uint64_t g) {
    uint64_t current = published_.load(std::memory_order_relaxed);
    while (current < g && !published_.compare_exchange_weak(current, g, std::memory_order_release,
                                                            std::memory_order_relaxed)) {
    }
}

bool core::invalidate_now(uintptr_t start, uintptr_t end) {
    // A child inherited this core (its lock_ may be held by a thread that
    // does not exist there): not this process's registrations.
    if (words_->opener.load(std::memory_order_relaxed) == 0) return false;
    if (lock_sections > 0) {  // a signal handler interrupted this thread inside umn
        defer(start, end);
        return true;
    }
    guard g(*this);
    ++counters_.events;
    // The cookies become drainable when lock_ is released: moving the
    // generation after linking them, still under lock_, keeps E1.
    const bool found = invalidate_locked(start, end);
    if (found) {
        announce();
        publish();
    }
    return found;
}

// This thread is inside a lock_ section (a signal handler interrupted it):
// leave the range for the holder, then move and publish the generation
// (E1, E2).
void core::defer(uintptr_t start, uintptr_t end) {
    bool placed = false;
    for (deferred_range &d : deferred_) {
        int expected = deferred_range::free;
        if (!d.state.compare_exchange_strong(expected, deferred_range::filling,
                                             std::memory_order_acquire, std::memory_order_relaxed))
            continue;
        d.start = start;
        d.end = end;
        d.state.store(deferred_range::ready, std::memory_order_release);
        placed = true;
        break;
    }
    if (!placed) deferred_all_.store(true, std::memory_order_release);
    deferred_count_.fetch_add(1, std::memory_order_relaxed);  // a statistic: no edge
    deferred_pending_.fetch_add(1, std::memory_order_release);
    publish_at_least(generation_.fetch_add(1, std::memory_order_seq_cst) + 1);
}

// Applies the deferred ranges. lock_ held.
void core::apply_deferred() {
    UMN_ASSERT_HELD(lock_);
    if (deferred_pending_.load(std::memory_order_acquire) == 0) return;
    deferred_pending_.exchange(0, std::memory_order_acq_rel);
    if (deferred_all_.exchange(false, std::memory_order_acq_rel)) invalidate_locked(0, UINTPTR_MAX);
    for (deferred_range &d : deferred_) {
        if (d.state.load(std::memory_order_acquire) != deferred_range::ready) continue;
        invalidate_locked(d.start, d.end);
        d.state.store(deferred_range::free, std::memory_order_release);
    }
}

core::guard::guard(core &c) : c_(c) {
    ++lock_sections;  // before locking: a handler may run while lock() waits
    c_.lock_.lock();
    c_.apply_deferred();
}

core::guard::~guard() {
    c_.apply_deferred();
    c_.lock_.unlock();
    --lock_sections;
}

void core::wait_published() const {
    // E2: a generation observed here has its cookies linked once published_
    // reaches it. The announcer is never blocked on a lock an application
    // thread holds, so this wait is bounded by one event's processing.
    uint64_t seen = generation_.load(std::memory_order_acquire);
    for (unsigned spins = 0; published_.load(std::memory_order_acquire) < seen; ++spins)
        sys::relax(spins);
}

}  // namespace umn
