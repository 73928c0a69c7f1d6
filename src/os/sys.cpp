// SPDX-License-Identifier: BSD-3-Clause
#include "os/sys.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace umn::sys {

size_t page_size() {
    static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

int make_eventfd() {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void eventfd_raise(int fd) {
    uint64_t one = 1;
    // Non-blocking and far below the counter's limit: cannot fail usefully.
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

void eventfd_clear(int fd) {
    uint64_t value;
    ssize_t r = read(fd, &value, sizeof value);
    (void)r;
}

void close_fd(int fd) {
    close(fd);
}

int open_rdwr(const char *path) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
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
