// SPDX-License-Identifier: BSD-3-Clause
// The userfaultfd monitor: one userfaultfd per process (a range can belong to
// one userfaultfd only), read by one monitor thread, feeding every attached
// core.
//
// Ranges are registered in UFFDIO_REGISTER_MODE_WP and never write-protected:
// the process gets UNMAP/REMOVE/REMAP events and has no page-fault duty.
//
// Locking rules
//   list_lock_   the list of attached cores. The monitor thread holds it from
//                announce to publish; attach/detach take it briefly. Nobody
//                holding it unmaps memory or waits for the monitor thread.
//   watch_lock_  the per-page watch counts and the REGISTER/UNREGISTER
//                ioctls. Application threads only; never the monitor thread.
//   Order: list_lock_ -> core::lock_ (inside core::invalidate). The monitor
//   thread takes no other lock, allocates nothing and never unmaps or frees
//   memory, so an application thread blocked in munmap (waiting for the
//   monitor to dequeue its event) can never be waited on by the monitor.
//
// No stale window ("announce before read")
//   The kernel releases the unmapping thread when read() dequeues its event,
//   before the monitor has done anything with it. So the monitor polls until
//   an event is pending, moves every attached core's generation (E1 in
//   core.hpp), and only then reads exactly one event: the event it reads is
//   the oldest, queued before poll returned, so its thread is still blocked
//   when the generation moves. Reading several at once could dequeue an event
//   queued after the announce. Getters wait for publish (E2).
#include "core/core.hpp"
#include "monitor/monitor.hpp"
#include "os/sys.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <map>
#include <mutex>
#include <new>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

namespace umn {

namespace {

constexpr uint64_t required_features =
    UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_REMAP;

// Opens a userfaultfd the way this process is allowed to: the syscall with
// UFFD_USER_MODE_ONLY (unprivileged since 5.11), then without it (root or
// vm.unprivileged_userfaultfd=1), then /dev/userfaultfd.
int open_userfaultfd(std::string *why) {
    const int flags = O_CLOEXEC | O_NONBLOCK;
    long fd = syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
    if (fd >= 0) return static_cast<int>(fd);
    int first = errno;
    fd = syscall(SYS_userfaultfd, flags);
    if (fd >= 0) return static_cast<int>(fd);
    int dev = sys::open_rdwr("/dev/userfaultfd");
    if (dev >= 0) {
        fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
        int e = errno;
        sys::close_fd(dev);
        if (fd >= 0) return static_cast<int>(fd);
        errno = e;
    }
    if (why)
        *why = std::string("userfaultfd(UFFD_USER_MODE_ONLY): ") + std::strerror(first) +
               "; /dev/userfaultfd: " + std::strerror(-dev) +
               " (vm.unprivileged_userfaultfd=0 needs Linux >= 5.11 or root)";
    return -first;
}

// Opens and initializes a userfaultfd with the events umn needs plus
// write-protect registration of shmem where the kernel has it.
int open_initialized(std::string *why) {
    int probe = open_userfaultfd(why);
    if (probe < 0) return probe;
    uffdio_api api{};
    api.api = UFFD_API;
    int rc = ioctl(probe, UFFDIO_API, &api);
    int e = errno;
    sys::close_fd(probe);
    if (rc) {
        if (why) *why = std::string("UFFDIO_API: ") + std::strerror(e);
        return -e;
    }
    if ((api.features & required_features) != required_features) {
        if (why) *why = "kernel lacks UFFD_FEATURE_EVENT_UNMAP/REMOVE/REMAP";
        return -ENOTSUP;
    }
    const uint64_t supported = api.features;
    int fd = open_userfaultfd(why);
    if (fd < 0) return fd;
    api = uffdio_api{};
    api.api = UFFD_API;
    api.features = required_features | (supported & UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
    if (ioctl(fd, UFFDIO_API, &api)) {
        e = errno;
        sys::close_fd(fd);
        if (why) *why = std::string("UFFDIO_API: ") + std::strerror(e);
        return -e;
    }
    return fd;
}

// UFFDIO_REGISTER says EINVAL both for a range with nothing mapped and for
// memory userfaultfd cannot watch (file-backed private mappings): tell them
// apart so the caller learns which.
int register_error(uintptr_t start, uintptr_t end, int error) {
    if (error != EINVAL) return -error;
    unsigned char present[64];
    const uintptr_t chunk = sizeof present * sys::page_size();
    for (uintptr_t at = start; at < end; at += chunk) {
        size_t len = std::min(chunk, end - at);
        if (mincore(reinterpret_cast<void *>(at), len, present)) return -EFAULT;
    }
    return -ENOTSUP;
}

class uffd_monitor final : public event_source {
  public:
    explicit uffd_monitor(int fd) : fd_(fd) {}

    int attach(core &c) override;
    void detach(core &c) override;
    int watch(uintptr_t start, uintptr_t end) override;
    void unwatch(uintptr_t start, uintptr_t end) override;
    void forget();

  private:
    struct segment {
        uintptr_t end;
        size_t count;
    };
    using segments = std::map<uintptr_t, segment>;

    int start_thread();
    void run();
    void handle_one_event();
    void dispatch(const uffd_msg &msg);
    void invalidate_all(uintptr_t start, uintptr_t end);
    void split_at(uintptr_t at);
    void count_down(uintptr_t start, uintptr_t end);

    int fd_;
    int stop_fd_ = -1;
    std::mutex list_lock_;
    core *cores_ = nullptr;
    std::thread thread_;
    std::atomic<bool> started_{false};
    std::mutex watch_lock_;
    segments watched_;  // disjoint page ranges with their watch counts
};

int uffd_monitor::attach(core &c) {
    std::lock_guard g(list_lock_);
    if (!thread_.joinable()) {
        if (int rc = start_thread()) return rc;
    }
    c.next_attached = cores_;
    cores_ = &c;
    return 0;
}

void uffd_monitor::detach(core &c) {
    std::lock_guard g(list_lock_);
    for (core **p = &cores_; *p; p = &(*p)->next_attached) {
        if (*p == &c) {
            *p = c.next_attached;
            break;
        }
    }
}

// The thread runs for the rest of the process: stopping it while any range is
// still registered would hang every thread that unmaps that range.
int uffd_monitor::start_thread() {
    stop_fd_ = sys::make_eventfd();
    if (stop_fd_ < 0) return stop_fd_;
    // The monitor thread must never run an application signal handler: one
    // that unmaps registered memory would wait for its own read forever.
    sys::signal_mask old;
    sys::block_all_signals(&old);
    int rc = 0;
    try {
        thread_ = std::thread([this] { run(); });
        // Returns once the thread runs our code: a fork() right after the
        // first notifier opened must not copy a thread still starting up
        // (seen under ASan: the child inherited an allocator mutex the
        // starting thread held and hung in its first allocation).
        started_.wait(false, std::memory_order_acquire);
    } catch (const std::system_error &e) {
        rc = e.code().value() ? -e.code().value() : -EAGAIN;
    } catch (const std::bad_alloc &) {
        rc = -ENOMEM;
    }
    sys::restore_signals(old);
    if (rc) {
        sys::close_fd(stop_fd_);
        stop_fd_ = -1;
    }
    return rc;
}

void uffd_monitor::run() {
    started_.store(true, std::memory_order_release);
    started_.notify_one();
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) continue;  // EINTR cannot happen (signals blocked)
        if (fds[1].revents) return;
        if (fds[0].revents & POLLIN) handle_one_event();
    }
}

void uffd_monitor::handle_one_event() {
    std::lock_guard g(list_lock_);
    for (core *c = cores_; c; c = c->next_attached) c->announce();
    uffd_msg msg;
    ssize_t n = read(fd_, &msg, sizeof msg);  // exactly one event: see the top
    if (n == static_cast<ssize_t>(sizeof msg)) dispatch(msg);
    for (core *c = cores_; c; c = c->next_attached) c->publish();
}

void uffd_monitor::invalidate_all(uintptr_t start, uintptr_t end) {
    for (core *c = cores_; c; c = c->next_attached) c->invalidate(start, end);
}

void uffd_monitor::dispatch(const uffd_msg &msg) {
    switch (msg.event) {
        case UFFD_EVENT_UNMAP:
        case UFFD_EVENT_REMOVE:
            invalidate_all(msg.arg.remove.start, msg.arg.remove.end);
            break;
        case UFFD_EVENT_REMAP:
            invalidate_all(msg.arg.remap.from, msg.arg.remap.from + msg.arg.remap.len);
            break;
        case UFFD_EVENT_PAGEFAULT: {
            // Never expected: nothing is write-protected. Should the kernel
            // deliver a fault anyway, resolve it rather than hang the thread.
            uffdio_writeprotect wp{};
            wp.range.start = sys::page_floor(msg.arg.pagefault.address);
            wp.range.len = sys::page_size();
            ioctl(fd_, UFFDIO_WRITEPROTECT, &wp);
            break;
        }
        default:
            break;
    }
}

// Makes `at` a segment boundary if it falls inside a segment.
void uffd_monitor::split_at(uintptr_t at) {
    auto it = watched_.upper_bound(at);
    if (it == watched_.begin()) return;
    --it;
    if (it->first < at && at < it->second.end) {
        watched_.emplace(at, segment{it->second.end, it->second.count});
        it->second.end = at;
    }
}

int uffd_monitor::watch(uintptr_t start, uintptr_t end) {
    std::lock_guard g(watch_lock_);
    // Registering again is harmless (same context) and needed: the kernel
    // drops the registration with the mapping, and a new mapping at the same
    // address is not registered even if our counts say the pages are watched.
    uffdio_register reg{};
    reg.range.start = start;
    reg.range.len = end - start;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (ioctl(fd_, UFFDIO_REGISTER, &reg)) return register_error(start, end, errno);
    uintptr_t at = start;  // [start, at) has its count raised
    try {
        split_at(start);
        split_at(end);
        auto it = watched_.lower_bound(start);
        while (at < end) {
            if (it == watched_.end() || it->first > at) {
                uintptr_t gap_end = it == watched_.end() ? end : std::min(end, it->first);
                it = watched_.emplace_hint(it, at, segment{gap_end, 0});
            }
            ++it->second.count;
            at = it->second.end;
            ++it;
        }
    } catch (const std::bad_alloc &) {
        // Give back what was counted. Pages of [at, end) the kernel now
        // watches without a count only cost an event nobody wants.
        count_down(start, at);
        return -ENOMEM;
    }
    return 0;
}

void uffd_monitor::unwatch(uintptr_t start, uintptr_t end) {
    std::lock_guard g(watch_lock_);
    try {
        split_at(start);
        split_at(end);
    } catch (const std::bad_alloc &) {
        return;  // watch() made these boundaries; if not, watching too much is safe
    }
    count_down(start, end);
}

// Lowers the counts of [start, end), both segment boundaries, and stops
// watching pages whose count reaches 0. Allocates nothing.
void uffd_monitor::count_down(uintptr_t start, uintptr_t end) {
    for (auto it = watched_.lower_bound(start); it != watched_.end() && it->first < end;) {
        if (--it->second.count > 0) {
            ++it;
            continue;
        }
        uffdio_range range{it->first, it->second.end - it->first};
        // Fails harmlessly where the mapping is already gone.
        ioctl(fd_, UFFDIO_UNREGISTER, &range);
        it = watched_.erase(it);
    }
}

void uffd_monitor::forget() {
    sys::close_fd(fd_);
    if (stop_fd_ >= 0) sys::close_fd(stop_fd_);
}

std::mutex instance_lock;
uffd_monitor *instance = nullptr;

}  // namespace

event_source *uffd_source(int *error) {
    std::lock_guard g(instance_lock);
    if (!instance) {
        int fd = open_initialized(nullptr);
        if (fd < 0) {
            *error = fd;
            return nullptr;
        }
        instance = new (std::nothrow) uffd_monitor(fd);  // lives as long as the process
        if (!instance) {
            sys::close_fd(fd);
            *error = -ENOMEM;
            return nullptr;
        }
    }
    return instance;
}

void uffd_forget_after_fork() {
    // The parent's userfaultfd watches the parent's mm and its reader thread
    // does not exist here; the child starts over with its own.
    if (instance) instance->forget();
    instance = nullptr;
    new (&instance_lock) std::mutex;
}

probe_result probe_uffd() {
    probe_result r;
    int fd = open_initialized(&r.detail);
    if (fd < 0) {
        r.error = fd;
        return r;
    }
    sys::close_fd(fd);
    r.detail = getuid() == 0 ? "userfaultfd available (root)"
                             : "userfaultfd available (UFFD_USER_MODE_ONLY)";
    return r;
}

}  // namespace umn
