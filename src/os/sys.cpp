// SPDX-License-Identifier: BSD-3-Clause
#include "os/sys.hpp"

#include <atomic>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace umn::sys {

namespace {
// Zero until the first call. A plain atomic rather than a function-local
// static: no guard variable, so a hook may read it inside a hooked system
// call or a signal handler. Racing first calls store the same value.
constinit std::atomic<size_t> page_bytes{0};
}  // namespace

size_t page_size() {
    size_t size = page_bytes.load(std::memory_order_relaxed);
    if (size == 0) {
        size = static_cast<size_t>(sysconf(_SC_PAGESIZE));  // async-signal-safe
        page_bytes.store(size, std::memory_order_relaxed);
    }
    return size;
}

unsigned page_shift() {
    return static_cast<unsigned>(std::countr_zero(page_size()));
}

int make_eventfd() {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

// Both go through syscall(): fd may be a number in the userfaultfd monitor
// thread's private descriptor table, which ThreadSanitizer's one table per
// process would confuse with the application's descriptor of that number
// (monitor/uffd.cpp). Callers order memory with their own atomics and locks,
// never through the eventfd.
void eventfd_raise(int fd) {
    uint64_t one = 1;
    // Non-blocking and far below the counter's limit: cannot fail usefully.
    long r = syscall(SYS_write, fd, &one, sizeof one);
    (void)r;
}

void eventfd_clear(int fd) {
    uint64_t value;
    long r = syscall(SYS_read, fd, &value, sizeof value);
    (void)r;
}

void close_fd(int fd) {
    close(fd);
}

file_id identify(int fd) {
    struct stat st;
    if (fstat(fd, &st)) return {};
    return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

int open_rdwr(const char *path) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

char read_sysctl_char(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return '?';
    char c = '?';
    if (read(fd, &c, 1) != 1) c = '?';
    close(fd);
    return c;
}

size_t memlock_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
    return static_cast<size_t>(limit.rlim_cur);
}

void *map_wiped_on_fork(size_t len) {
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    if (madvise(p, len, MADV_WIPEONFORK) == 0) return p;
    munmap(p, len);
    return nullptr;
}

void unmap_wiped(void *p, size_t len) {
    munmap(p, len);
}

void relax(unsigned spins) {
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    } else
        sched_yield();
}

static_assert(sizeof(signal_mask) >= sizeof(sigset_t));

void block_all_signals(signal_mask *old) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, reinterpret_cast<sigset_t *>(old->bits));
}

void restore_signals(const signal_mask &old) {
    pthread_sigmask(SIG_SETMASK, reinterpret_cast<const sigset_t *>(old.bits), nullptr);
}

}  // namespace umn::sys
