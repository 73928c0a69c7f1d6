// SPDX-License-Identifier: BSD-3-Clause
// The userfaultfd monitor: one userfaultfd per process (a range can belong to
// one userfaultfd only), read by one monitor thread, feeding every attached
// core.
//
// Ranges are registered in UFFDIO_REGISTER_MODE_WP and never write-protected:
// the process gets UNMAP/REMOVE/REMAP events and has no page-fault duty.
//
// Descriptors (an application may close every descriptor, closefrom(3), and
// reuse the numbers at any time)
//   The monitor thread keeps a private descriptor table (unshare(CLONE_FILES))
//   holding only the userfaultfd, its end of a control socket and a copy of
//   the application's end: the application's closes never reach the reader,
//   and the reader never polls or reads a number the application reused.
//   Application threads use their numbers for the userfaultfd and the control
//   socket only after kcmp(KCMP_FILE) confirms each is still the file the
//   monitor thread holds; otherwise they take a fresh copy from the monitor
//   thread's table (pidfd_getfd, Linux >= 6.9) or fail with -EBADF. A core's
//   readiness eventfd reaches the monitor's table over the control socket
//   (SCM_RIGHTS): the reader writes its own copy.
//
// Locking rules
//   list_lock_    the attached sinks (cores). The monitor thread holds it from
//                 announce to publish; attach/detach take it briefly. Nobody
//                 holding it unmaps memory or waits for the monitor thread.
//   watch_lock_   the watched ranges, the REGISTER/UNREGISTER ioctls and the
//                 application's userfaultfd number. Application threads only;
//                 never the monitor thread (which reports unmapped ranges to
//                 the watch set under its own small lock: uffd_watch.hpp).
//   request_lock_ one request at a time on the control socket (application
//                 threads; the monitor thread answers without a lock).
//   Order: list_lock_ -> core::lock_ (inside the sinks' calls). The monitor
//   thread takes no other lock, allocates nothing and never unmaps or frees
//   memory, so an application thread blocked in munmap (waiting for the
//   monitor to dequeue its event) can never be waited on by the monitor.
//
// No stale window ("announce before read")
//   The kernel releases the unmapping thread when read() dequeues its event,
//   before the monitor has done anything with it. So the monitor polls until
//   an event is pending, moves every attached core's generation (E1 in
//   core.hpp) and makes its umn_notifier_fd readable, and only then reads
//   exactly one event: the event it reads is the oldest, queued before poll
//   returned, so its thread is still blocked when the generation moves.
//   Reading several at once could dequeue an event queued after the
//   announce. Getters wait for publish (E2).
#include "core/checked_mutex.hpp"
#include "monitor/monitor.hpp"
#include "monitor/process_source.hpp"
#include "monitor/uffd_watch.hpp"
#include "os/sys.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/userfaultfd.h>
#include <mutex>
#include <new>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
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

pid_t current_tid() {
    return static_cast<pid_t>(syscall(SYS_gettid));
}

// Whether the calling thread's descriptor `fd` is the file that thread `tid`
// names `its_fd`. Without kcmp (CONFIG_KCMP) only whether fd is open.
bool same_file_in(pid_t tid, int fd, int its_fd) {
    if (fd < 0 || its_fd < 0) return false;
    long r = syscall(SYS_kcmp, current_tid(), tid, KCMP_FILE, fd, its_fd);
    if (r >= 0) return r == 0;
    if (errno == ENOSYS || errno == EPERM) return fcntl(fd, F_GETFD) >= 0;
    return false;  // EBADF: fd is closed
}

// A new descriptor in the calling thread's table for the file that thread
// `tid` names `its_fd`, or -EBADF.
int copy_from_thread(pid_t tid, int its_fd) {
    long pidfd = syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
    if (pidfd < 0) return -EBADF;
    long fd = syscall(SYS_pidfd_getfd, static_cast<int>(pidfd), its_fd, 0);  // close-on-exec
    sys::close_fd(static_cast<int>(pidfd));
    return fd < 0 ? -EBADF : static_cast<int>(fd);
}

// Closes every descriptor of the calling thread's table but the three kept.
void close_all_but(int a, int b, int c) {
    int keep[3] = {a, b, c};
    std::sort(keep, keep + 3);
    unsigned from = 0;
    for (int fd : keep) {
        if (static_cast<unsigned>(fd) > from) syscall(SYS_close_range, from, fd - 1, 0);
        from = static_cast<unsigned>(fd) + 1;
    }
    syscall(SYS_close_range, from, ~0u, 0);
}

// Descriptor calls on the monitor thread's table (and on the control socket,
// whose numbers differ between the two tables) go through syscall(), past a
// sanitizer's interceptors: ThreadSanitizer models one descriptor table per
// process and records every creation, use and close of a number, so a
// descriptor the monitor thread receives or closes in its own table would
// read to it as a race with whatever the application opens or closes under
// the same number in its table (two different files). Nothing is ordered
// through these descriptors: messages carry copied bytes and descriptors, and
// cores order their state with their own atomics and locks.
ssize_t private_read(int fd, void *buf, size_t len) {
    return syscall(SYS_read, fd, buf, len);
}

void private_close(int fd) {
    syscall(SYS_close, fd);
}

// One message on the control socket. share: the descriptor travels as
// SCM_RIGHTS and the answer is its number in the monitor's table; drop: the
// monitor closes `fd` in its table, no answer.
struct control_message {
    enum kind_t : int { share, drop } kind;
    int fd;
};

union control_buffer {
    char bytes[CMSG_SPACE(sizeof(int))];
    cmsghdr align;
};

ssize_t send_message(int socket, const control_message &m, int passed_fd) {
    iovec iov{const_cast<control_message *>(&m), sizeof m};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    control_buffer control{};
    if (passed_fd >= 0) {
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &passed_fd, sizeof passed_fd);
    }
    ssize_t n;
    do n = syscall(SYS_sendmsg, socket, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

// Receives one message; *passed_fd is the descriptor it carried or -1.
ssize_t receive_message(int socket, control_message *m, int *passed_fd) {
    iovec iov{m, sizeof *m};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    control_buffer control{};
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    ssize_t n;
    do n = syscall(SYS_recvmsg, socket, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    *passed_fd = -1;
    cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        std::memcpy(passed_fd, CMSG_DATA(c), sizeof *passed_fd);
    return n;
}

class uffd_monitor final : public event_source, private uffd_descriptor {
  public:
    explicit uffd_monitor(int fd) : uffd_(fd), private_uffd_(fd), watched_(*this) {}

    int attach(event_sink &sink) override;
    void detach(event_sink &sink) override;
    int watch(uintptr_t start, uintptr_t end) override;
    void unwatch(uintptr_t start, uintptr_t end) override;
    void unwatch_many(page_range *ranges, size_t n) override;
    int share_fd(int fd) override;
    void drop_shared_fd(int source_fd) override;
    bool same_file(int fd, int source_fd) override;
    bool reset_in_child();

  private:
    // The userfaultfd as the calling application thread names it (see the
    // top), or -EBADF. watch_lock_ held.
    int own_uffd() override;
    int start_thread();
    int enter_private_table();
    void run();
    void handle_one_event();
    void handle_request();
    void note_unregistered(const uffd_msg &msg);
    void dispatch(const uffd_msg &msg);
    void invalidate_all(uintptr_t start, uintptr_t end);
    int own_descriptor(int *number, int private_number);

    int uffd_;                      // the application's number
    const int private_uffd_;        // the monitor thread's number
    int control_ = -1;              // the application's end of the control socket
    int private_control_ = -1;      // the monitor thread's end, in its table
    int private_control_app_ = -1;  // the application's end, in the monitor's table
    pid_t monitor_tid_ = 0;
    std::mutex list_lock_;
    attached_sinks sinks_;
    std::thread thread_;
    std::atomic<int> start_state_{1};  // 1 starting, 0 running, < 0 failed
    std::mutex request_lock_;
    checked_mutex watch_lock_;
    uffd_watch watched_;
};

int uffd_monitor::attach(event_sink &sink) {
    std::lock_guard g(list_lock_);
    if (!thread_.joinable()) {
        if (int rc = start_thread()) return rc;
    }
    sinks_.add(sink);
    return 0;
}

void uffd_monitor::detach(event_sink &sink) {
    std::lock_guard g(list_lock_);
    sinks_.remove(sink);
}

// The thread runs for the rest of the process: stopping it while any range is
// still registered would hang every thread that unmaps that range.
int uffd_monitor::start_thread() {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair)) return -errno;
    control_ = private_control_app_ = pair[0];
    private_control_ = pair[1];
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
        start_state_.wait(1, std::memory_order_acquire);
        rc = start_state_.load(std::memory_order_acquire);
    } catch (const std::system_error &e) {
        rc = e.code().value() ? -e.code().value() : -EAGAIN;
    } catch (const std::bad_alloc &) {
        rc = -ENOMEM;
    }
    sys::restore_signals(old);
    sys::close_fd(private_control_);  // this table's copy; the monitor keeps its own
    if (rc) {
        if (thread_.joinable()) thread_.join();
        sys::close_fd(control_);
        control_ = private_control_ = private_control_app_ = -1;
    }
    return rc;
}

// Runs in the monitor thread: its own descriptor table, holding only what it
// uses. 0 or a negative errno.
int uffd_monitor::enter_private_table() {
    if (unshare(CLONE_FILES)) return -errno;
    close_all_but(private_uffd_, private_control_, private_control_app_);
    // Another thread may have closed our numbers before the copy was taken.
    if (fcntl(private_uffd_, F_GETFD) < 0 || fcntl(private_control_, F_GETFD) < 0) return -EBADF;
    monitor_tid_ = current_tid();
    return 0;
}

void uffd_monitor::run() {
    int rc = enter_private_table();
    start_state_.store(rc, std::memory_order_release);
    start_state_.notify_one();
    if (rc) return;
    pollfd fds[2] = {{private_uffd_, POLLIN, 0}, {private_control_, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) continue;  // EINTR cannot happen (signals blocked)
        if (fds[1].revents & POLLIN) handle_request();
        if (fds[0].revents & POLLIN) handle_one_event();
    }
}

void uffd_monitor::handle_one_event() {
    std::lock_guard g(list_lock_);
    sinks_.for_each([](event_sink &s) { s.announce_event(); });
    uffd_msg msg;
    ssize_t n = private_read(private_uffd_, &msg, sizeof msg);  // exactly one event: see the top
    if (n == static_cast<ssize_t>(sizeof msg)) {
        note_unregistered(msg);
        dispatch(msg);
    }
    sinks_.for_each([](event_sink &s) { s.publish_event(); });
}

// Answers one request of an application thread (see control_message).
void uffd_monitor::handle_request() {
    control_message m;
    int passed;
    if (receive_message(private_control_, &m, &passed) != static_cast<ssize_t>(sizeof m)) {
        if (passed >= 0) private_close(passed);
        return;
    }
    if (m.kind == control_message::share) {
        control_message answer{control_message::share, passed >= 0 ? passed : -EBADF};
        send_message(private_control_, answer, -1);
    } else {
        if (passed >= 0) private_close(passed);
        if (m.fd != private_uffd_ && m.fd != private_control_ && m.fd != private_control_app_)
            private_close(m.fd);
    }
}

// The kernel dropped the registration of an unmapped or moved range. Told
// to the watch set before any sink sees the event: a registration a core
// inserts after this event's invalidation then finds its pages unregistered
// and registers them again.
void uffd_monitor::note_unregistered(const uffd_msg &msg) {
    if (msg.event == UFFD_EVENT_UNMAP)
        watched_.note_unmapped(msg.arg.remove.start, msg.arg.remove.end);
    else if (msg.event == UFFD_EVENT_REMAP)
        watched_.note_unmapped(msg.arg.remap.from, msg.arg.remap.from + msg.arg.remap.len);
}

void uffd_monitor::invalidate_all(uintptr_t start, uintptr_t end) {
    sinks_.for_each([=](event_sink &s) { s.invalidate(start, end); });
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
            ioctl(private_uffd_, UFFDIO_WRITEPROTECT, &wp);
            break;
        }
        default:
            break;
    }
}

// *number if it still names the file the monitor thread calls
// private_number, else a fresh copy (stored in *number), else -EBADF. Never
// closes *number: once it is not ours it belongs to the application.
int uffd_monitor::own_descriptor(int *number, int private_number) {
    if (same_file_in(monitor_tid_, *number, private_number)) return *number;
    int copy = copy_from_thread(monitor_tid_, private_number);
    if (copy >= 0) *number = copy;
    return copy;
}

int uffd_monitor::own_uffd() {
    UMN_ASSERT_HELD(watch_lock_);
    if (monitor_tid_ == 0) return uffd_;  // no monitor thread yet: nothing registered
    return own_descriptor(&uffd_, private_uffd_);
}

int uffd_monitor::watch(uintptr_t start, uintptr_t end) {
    std::lock_guard g(watch_lock_);
    return watched_.add(start, end);
}

void uffd_monitor::unwatch(uintptr_t start, uintptr_t end) {
    std::lock_guard g(watch_lock_);
    watched_.remove(start, end);
}

void uffd_monitor::unwatch_many(page_range *ranges, size_t n) {
    std::lock_guard g(watch_lock_);
    watched_.remove_many(ranges, n);
}

int uffd_monitor::share_fd(int fd) {
    std::lock_guard g(request_lock_);
    int control = own_descriptor(&control_, private_control_app_);
    if (control < 0) return control;
    control_message answer{control_message::share, -EBADF};
    int passed;
    if (send_message(control, {control_message::share, fd}, fd) < 0 ||
        receive_message(control, &answer, &passed) != static_cast<ssize_t>(sizeof answer))
        return -EIO;
    if (passed >= 0) sys::close_fd(passed);  // never sent; defensive
    return answer.fd;
}

void uffd_monitor::drop_shared_fd(int source_fd) {
    if (source_fd < 0) return;
    std::lock_guard g(request_lock_);
    int control = own_descriptor(&control_, private_control_app_);
    if (control >= 0) send_message(control, {control_message::drop, source_fd}, -1);
}

bool uffd_monitor::same_file(int fd, int source_fd) {
    return same_file_in(monitor_tid_, fd, source_fd);
}

// In a fork child (process_source.hpp). The parent's userfaultfd watches the
// parent's mm and its reader thread does not exist here: the child starts
// over with its own. This process's table is a copy of the parent's
// application table: close our numbers only where they are still ours (the
// parent's monitor thread still holds the originals).
bool uffd_monitor::reset_in_child() {
    if (monitor_tid_ == 0 || same_file_in(monitor_tid_, uffd_, private_uffd_)) sys::close_fd(uffd_);
    if (control_ >= 0 && same_file_in(monitor_tid_, control_, private_control_app_))
        sys::close_fd(control_);
    return false;
}

uffd_monitor *make_monitor(int *error) {
    int fd = open_initialized(nullptr);
    if (fd < 0) {
        *error = fd;
        return nullptr;
    }
    auto *m = new (std::nothrow) uffd_monitor(fd);  // lives as long as the process
    if (!m) {
        sys::close_fd(fd);
        *error = -ENOMEM;
    }
    return m;
}

}  // namespace

event_source *uffd_source(int *error) {
    static process_source<uffd_monitor> instance;
    return instance.get(make_monitor, error);
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
