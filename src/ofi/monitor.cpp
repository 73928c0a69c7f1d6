// SPDX-License-Identifier: BSD-3-Clause
// umn as libfabric's imported memory monitor (docs/libfabric.md).
//
// libfabric's cache calls subscribe(addr, len) when it caches a registration
// and valid(addr, len) at every hit, both under its global cache lock
// (mm_lock); notify(addr, len), our way back, takes that same lock. So:
//
// Locking rules
//   libfabric's mm_lock   held by libfabric around subscribe, unsubscribe and
//                         valid; taken by notify.
//   lock_                 the subscription tables and the pending list. Taken
//                         by subscribe, unsubscribe, start/stop, the slow
//                         path of valid, and by the delivery thread, which
//                         never holds it while it calls notify.
//   umn's own locks       inside umn_register / umn_get_invalid.
//   Order: mm_lock -> lock_ -> umn. notify is called only by the delivery
//   thread with no lock of ours held, never from subscribe or valid.
//
// The hit path (valid, nothing changed)
//   clean_generation is the notifier's generation up to which every
//   invalidated range has been delivered to libfabric by notify (so its
//   entries are gone from every cache), or kUnclean while a range dropped by
//   us waits for delivery. valid answers true when the notifier's generation
//   still equals it: no lock, no system call, no store; four loads (the
//   notifier's head from the object libfabric passes, its generation
//   pointer, the generation, clean_generation beside the head), all on the
//   line libfabric already reads. Otherwise it drains the notifier under
//   lock_ and answers whether this range's registration is still live.
//
// Edges
//   D1  the delivery thread reads the generation G, drains every cookie
//       (umn: a cookie is drainable once the generation that announced it is
//       visible), calls notify for each range, then stores G into
//       clean_generation with release, under lock_ and only if nothing new
//       is pending. valid's acquire load of it pairs with that store: G equal
//       to the live generation means libfabric has removed every entry over a
//       range invalidated so far (notify ran under mm_lock before this valid's
//       caller took it).
//   D2  whoever drops a registration of ours (eviction) stores kUnclean under
//       lock_ before the range goes on the pending list, so hits take the
//       slow path, which no longer finds the range, until D1 delivers it.
//
// Registrations libfabric forgets
//   1.17 never calls unsubscribe: an entry evicted by its LRU or purged for
//   an overlapping one leaves our registration behind. A range subscribed
//   again reuses its live registration; at max_subscriptions the one at the
//   front of the eviction order (unsubscribed ones first, then the oldest
//   subscribed) is unregistered and its range notified, so a cache that still
//   held it drops the entry (D2). Memory stays bounded; correctness never
//   depends on unsubscribe.
//
// fork: the child has no delivery thread and umn's calls give -ECHILD. Its
// generation reads UINT64_MAX after fork(); after a raw clone (no fork
// handler) 0 with a user-space monitor until its first umn call, UINT64_MAX
// with the kernel monitor (the module's page for another process). Neither
// equals clean_generation (user-space generations start at 1; kUnclean is
// not UINT64_MAX), so every valid takes the slow path, which asks umn
// (in_child) and answers false before taking any lock; subscribe fails too:
// the child's libfabric never serves a cached registration
// (ImportMonitor.ChildOfARawCloneNeverValidates).
#include "ofi/monitor.hpp"

#include "os/sys.hpp"

#include <rdma/fabric.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_ext.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <list>
#include <mutex>
#include <new>
#include <poll.h>
#include <thread>
#include <unordered_map>
#include <vector>

namespace umn::ofi {

namespace {

constexpr uint64_t kUnclean = UINT64_MAX - 1;  // no real generation reaches it

struct range {
    uintptr_t addr;
    size_t len;
    bool operator==(const range &o) const { return addr == o.addr && len == o.len; }
};

struct range_hash {
    size_t operator()(const range &r) const {
        return std::hash<uintptr_t>()(r.addr) * 31 + std::hash<size_t>()(r.len);
    }
};

struct subscription {
    uint64_t cookie;
    range where;
    size_t subscribers;  // subscribes minus unsubscribes; 1.17 only counts up
};

using order_list = std::list<subscription>;

}  // namespace

class import_monitor {
  public:
    explicit import_monitor(const monitor_params &p)
        : max_(p.max_subscriptions ? p.max_subscriptions : 1) {}
    ~import_monitor();
    int open(umn_monitor monitor);

    int subscribe(const void *addr, size_t len);
    void unsubscribe(const void *addr, size_t len);
    // export_ops' valid: libfabric's cache calls it at every hit.
    static bool valid(fid_mem_monitor *fid, const void *addr, size_t len);
    void stop();
    void stats(umn_ofi_stats *out) const;

    // What libfabric is handed (&fid) and all that a hit reads, on one line:
    // written at open, then clean_generation at deliveries (D1, D2).
    struct alignas(64) holder {
        fid_mem_monitor fid;
        import_monitor *self;
        const umn__notifier_head *head;  // notifier_'s (umn.h)
        std::atomic<uint64_t> clean_generation{0};
    } holder_{};

  private:
    // A child (fork, or a raw clone, which runs no fork handler) must not
    // take lock_: a parent thread may have held it at the clone. umn's check
    // tells without a lock, and from then on the generation reads UINT64_MAX.
    bool in_child() const { return umn_get_invalid(notifier_, nullptr, 0) == -ECHILD; }
    bool valid_slow(const void *addr, size_t len);
    long drain_locked();
    void retire_locked(order_list::iterator it);
    void evict_locked(order_list::iterator it);
    void run();
    void deliver();
    void wake() { sys::eventfd_raise(wake_fd_); }
    static void bump(std::atomic<uint64_t> &c) { c.fetch_add(1, std::memory_order_relaxed); }

    umn_notifier *notifier_ = nullptr;
    const size_t max_;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread thread_;

    std::mutex lock_;
    order_list order_;  // front: evicted first
    std::unordered_map<range, order_list::iterator, range_hash> by_range_;
    std::unordered_map<uint64_t, order_list::iterator> by_cookie_;
    std::vector<range> pending_;  // dropped ranges libfabric has not been told of
    bool notify_lost_ = false;    // a range could not be queued (out of memory)
    uint64_t next_cookie_ = 1;

    std::atomic<uint64_t> subscribes_{0}, subscribe_failures_{0}, unsubscribes_{0}, slow_checks_{0},
        invalid_answers_{0}, invalidations_{0}, evictions_{0}, notifies_{0}, live_{0};
};

namespace {

import_monitor *self_of(fid_mem_monitor *fid) {
    return reinterpret_cast<import_monitor::holder *>(fid)->self;
}

int op_start(fid_mem_monitor *) {
    return 0;  // the notifier and the delivery thread run from creation on
}
void op_stop(fid_mem_monitor *fid) {
    self_of(fid)->stop();
}
int op_subscribe(fid_mem_monitor *fid, const void *addr, size_t len) {
    return self_of(fid)->subscribe(addr, len);
}
void op_unsubscribe(fid_mem_monitor *fid, const void *addr, size_t len) {
    self_of(fid)->unsubscribe(addr, len);
}

fi_ops_mem_monitor export_ops = {
    sizeof(fi_ops_mem_monitor), op_start, op_stop, op_subscribe, op_unsubscribe,
    import_monitor::valid,
};

}  // namespace

// D1: the generation, then clean_generation; equal means nothing undelivered.
// umn_generation() without its null test: the notifier is open as long as the
// monitor.
bool import_monitor::valid(fid_mem_monitor *fid, const void *addr, size_t len) {
    const holder *h = reinterpret_cast<const holder *>(fid);
    if (__atomic_load_n(h->head->generation, __ATOMIC_ACQUIRE) ==
        h->clean_generation.load(std::memory_order_acquire))
        return true;
    return h->self->valid_slow(addr, len);
}

int import_monitor::open(umn_monitor monitor) {
    static_assert(offsetof(holder, fid) == 0, "libfabric passes &holder_.fid");
    holder_.fid.fid.fclass = FI_CLASS_MEM_MONITOR;
    holder_.fid.fid.context = this;
    holder_.fid.export_ops = &export_ops;
    holder_.self = this;
    wake_fd_ = sys::make_eventfd();
    if (wake_fd_ < 0) return wake_fd_;
    int rc = umn_notifier_open(&notifier_, monitor);
    if (rc) return rc;
    holder_.head = reinterpret_cast<const umn__notifier_head *>(notifier_);
    holder_.clean_generation.store(umn_generation(notifier_), std::memory_order_relaxed);
    // Return only once the thread runs: a fork right after must not copy a
    // thread still starting.
    std::atomic<bool> running{false};
    try {
        thread_ = std::thread([this, &running] {
            running.store(true, std::memory_order_release);
            run();
        });
    } catch (const std::system_error &) {
        return -EAGAIN;
    }
    while (!running.load(std::memory_order_acquire)) sys::relax(64);
    return 0;
}

import_monitor::~import_monitor() {
    if (thread_.joinable()) {
        stopping_.store(true, std::memory_order_release);
        wake();
        thread_.join();
    }
    if (wake_fd_ >= 0) sys::close_fd(wake_fd_);
    umn_notifier_close(notifier_);
}

int import_monitor::subscribe(const void *addr, size_t len) {
    if (in_child()) return -ECHILD;
    const range where{reinterpret_cast<uintptr_t>(addr), len};
    std::lock_guard guard(lock_);
    bump(subscribes_);
    // A registration invalidated but not yet drained must not be reused.
    if (umn_generation(notifier_) != holder_.clean_generation.load(std::memory_order_relaxed) &&
        drain_locked() > 0)
        wake();
    if (auto found = by_range_.find(where); found != by_range_.end()) {
        found->second->subscribers++;
        order_.splice(order_.end(), order_, found->second);
        return 0;
    }
    if (order_.size() >= max_) evict_locked(order_.begin());
    const uint64_t cookie = next_cookie_++;
    int rc = umn_register(notifier_, addr, len, cookie);
    if (rc) {
        bump(subscribe_failures_);
        return rc;
    }
    try {
        auto it = order_.insert(order_.end(), subscription{cookie, where, 1});
        by_range_.emplace(where, it);
        by_cookie_.emplace(cookie, it);
    } catch (const std::bad_alloc &) {
        umn_unregister(notifier_, cookie);
        by_range_.erase(where);
        if (!order_.empty() && order_.back().cookie == cookie) order_.pop_back();
        bump(subscribe_failures_);
        return -ENOMEM;
    }
    live_.store(order_.size(), std::memory_order_relaxed);
    return 0;
}

void import_monitor::unsubscribe(const void *addr, size_t len) {
    if (in_child()) return;
    std::lock_guard guard(lock_);
    bump(unsubscribes_);
    auto found = by_range_.find(range{reinterpret_cast<uintptr_t>(addr), len});
    if (found == by_range_.end()) return;
    // Unsubscribed registrations are evicted first; never unregistered here,
    // so a miscounted unsubscribe cannot leave a cached entry unwatched.
    if (found->second->subscribers > 0 && --found->second->subscribers == 0)
        order_.splice(order_.begin(), order_, found->second);
}

bool import_monitor::valid_slow(const void *addr, size_t len) {
    if (in_child()) return false;
    std::lock_guard guard(lock_);
    bump(slow_checks_);
    long drained = drain_locked();
    if (drained > 0) wake();
    // An error (-ECHILD in a child made by a raw clone, which runs no fork
    // handler) means nothing can be vouched for.
    if (drained >= 0 && by_range_.count(range{reinterpret_cast<uintptr_t>(addr), len})) return true;
    bump(invalid_answers_);
    return false;
}

// Moves every invalidated registration to the pending list; returns how
// many, or umn's error. Caller holds lock_.
long import_monitor::drain_locked() {
    uint64_t cookies[64];
    long total = 0;
    for (;;) {
        long n = umn_get_invalid(notifier_, cookies, 64);
        if (n < 0 && total == 0) return n;
        if (n <= 0) break;
        for (long i = 0; i < n; i++) {
            auto found = by_cookie_.find(cookies[i]);
            if (found == by_cookie_.end()) continue;
            bump(invalidations_);
            retire_locked(found->second);
        }
        total += n;
        if (n < 64) break;
    }
    return total;
}

// Forgets a registration (already gone from umn) and queues its range for
// notify. Caller holds lock_.
void import_monitor::retire_locked(order_list::iterator it) {
    try {
        pending_.push_back(it->where);
    } catch (const std::bad_alloc &) {
        // libfabric will not hear of this range: hits stay on the slow path,
        // which answers from the tables, for good.
        notify_lost_ = true;
    }
    by_range_.erase(it->where);
    by_cookie_.erase(it->cookie);
    order_.erase(it);
    live_.store(order_.size(), std::memory_order_relaxed);
}

void import_monitor::evict_locked(order_list::iterator it) {
    holder_.clean_generation.store(kUnclean, std::memory_order_relaxed);  // D2, under lock_
    umn_unregister(notifier_, it->cookie);  // -ENOENT: invalidated meanwhile; notified either way
    bump(evictions_);
    retire_locked(it);
    wake();
}

void import_monitor::stop() {
    if (in_child()) return;
    // The last cache is gone: nothing can hold an entry over our ranges.
    std::lock_guard guard(lock_);
    for (const subscription &s : order_) umn_unregister(notifier_, s.cookie);
    order_.clear();
    by_range_.clear();
    by_cookie_.clear();
    live_.store(0, std::memory_order_relaxed);
}

void import_monitor::run() {
    pollfd fds[2] = {{umn_notifier_fd(notifier_), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    while (!stopping_.load(std::memory_order_acquire)) {
        sys::eventfd_clear(wake_fd_);  // before deliver: a later raise wakes the next poll
        deliver();
        poll(fds, 2, -1);
    }
}

// D1. Never holds lock_ while calling into libfabric.
void import_monitor::deliver() {
    for (;;) {
        std::vector<range> batch;
        uint64_t generation;
        {
            std::lock_guard guard(lock_);
            generation = umn_generation(notifier_);
            drain_locked();
            batch.swap(pending_);
        }
        // import_ops is written by libfabric's bind, before any subscribe:
        // read only once a range is pending (lock_ above orders the two).
        fi_ops_mem_notify *notify = batch.empty() ? nullptr : holder_.fid.import_ops;
        for (const range &r : batch) {
            if (!notify) break;
            notify->notify(&holder_.fid, reinterpret_cast<const void *>(r.addr), r.len);
            bump(notifies_);
        }
        std::lock_guard guard(lock_);
        if (pending_.empty() && !notify_lost_) {
            holder_.clean_generation.store(generation, std::memory_order_release);  // D1
            return;
        }
    }
}

void import_monitor::stats(umn_ofi_stats *out) const {
    auto get = [](const std::atomic<uint64_t> &c) { return c.load(std::memory_order_relaxed); };
    out->monitor = umn_notifier_monitor(notifier_);
    out->subscribes = get(subscribes_);
    out->subscribe_failures = get(subscribe_failures_);
    out->unsubscribes = get(unsubscribes_);
    out->slow_checks = get(slow_checks_);
    out->invalid_answers = get(invalid_answers_);
    out->invalidations = get(invalidations_);
    out->evictions = get(evictions_);
    out->notifies = get(notifies_);
    out->live = get(live_);
}

int monitor_create(const monitor_params &p, import_monitor **out) {
    auto *m = new (std::nothrow) import_monitor(p);
    if (!m) return -ENOMEM;
    int rc = m->open(p.monitor);
    if (rc) {
        delete m;
        return rc;
    }
    *out = m;
    return 0;
}

void monitor_destroy(import_monitor *m) {
    delete m;
}

fid_mem_monitor *monitor_fid(import_monitor *m) {
    return &m->holder_.fid;
}

void monitor_stats(const import_monitor *m, umn_ofi_stats *out) {
    m->stats(out);
}

}  // namespace umn::ofi
