// SPDX-License-Identifier: BSD-3-Clause
// A notifier belongs to the process that opened it. In a child every call on
// an inherited notifier returns -ECHILD, and umn_generation() reads a value
// the parent never had (UINT64_MAX after fork(); 0 after a raw clone until the
// child's first umn call, UINT64_MAX from then on) so that a cache comparing
// generations leaves its hit path.
//
// Two ways to learn of a child:
//   fork()      pthread_atfork's child handler, before the child runs on;
//   raw clone   (syscall(SYS_clone), SYS_fork: no fork handler runs) the
//               process mark, a word on a MADV_WIPEONFORK page that is
//               `ours` in the process that opened a notifier and reads zero
//               in any child. fork_epoch() checks it; the first caller that
//               finds it zero does the child handler's work (become_child).
// Either way become_child is the one fork path of umn: it also resets every
// monitor's process-wide state (monitor/process_source.hpp).
//
// Locking: registry_lock guards the list of open notifiers. pthread_atfork's
// prepare handler takes it, so the child sees a consistent list; the child
// handler runs with every other thread gone. After a raw clone the lock may
// be held by a parent thread that does not exist in the child: become_child
// makes a new one. No child thread can be using it then: every path to it
// passes fork_epoch() first, which waits while become_child runs.
#include "api/fork.hpp"

#include "api/notifier.hpp"
#include "core/checked_mutex.hpp"
#include "monitor/process_source.hpp"
#include "os/sys.hpp"

#include <atomic>
#include <cerrno>
#include <mutex>
#include <new>
#include <pthread.h>

namespace umn {

namespace {

checked_mutex registry_lock;
ilist<umn_notifier, &umn_notifier::registry_link> registry;  // open notifiers
std::atomic<uint64_t> epoch{0};
const uint64_t forked_generation = UINT64_MAX;

// The process mark's values; zero means "a child that has not noticed yet".
constexpr uint64_t ours = 1;
constexpr uint64_t becoming = 2;
std::atomic<std::atomic<uint64_t> *> process_mark{nullptr};  // set once

// What a child does first: new epoch, the parent's notifiers off the list,
// every monitor's process-wide state reset. The registry lock is held.
void become_child() {
    UMN_ASSERT_HELD(registry_lock);
    epoch.fetch_add(1, std::memory_order_relaxed);
    registry.for_each([](umn_notifier *n) { n->head.generation = &forked_generation; });
    registry.forget_all();  // the parent's notifiers are not ours to track
    reset_process_sources_in_child();
    if (std::atomic<uint64_t> *mark = process_mark.load(std::memory_order_relaxed))
        mark->store(ours, std::memory_order_release);
}

// A raw clone: fork_epoch() found the mark zero.
void notice_raw_clone(std::atomic<uint64_t> &mark) {
    uint64_t expected = 0;
    if (mark.compare_exchange_strong(expected, becoming, std::memory_order_acquire)) {
        new (&registry_lock) checked_mutex;
        std::lock_guard g(registry_lock);
        become_child();  // stores `ours` with release
        return;
    }
    for (unsigned spins = 0; mark.load(std::memory_order_acquire) != ours; ++spins)
        sys::relax(spins);
}

void before_fork() {
    registry_lock.lock();
}
void after_fork_parent() {
    registry_lock.unlock();
}

void after_fork_child() {
    become_child();
    registry_lock.unlock();
}

}  // namespace

int install_fork_handlers() {
    static int error = [] {
        void *page = sys::map_wiped_on_fork(sys::page_size());
        if (!page) return -ENOSYS;
        auto *mark = new (page) std::atomic<uint64_t>(ours);
        process_mark.store(mark, std::memory_order_release);
        return pthread_atfork(before_fork, after_fork_parent, after_fork_child) ? -ENOMEM : 0;
    }();
    return error;
}

uint64_t fork_epoch() {
    // Acquire: pairs with the release stores of the mark (become_child) and
    // of the pointer (install_fork_handlers).
    std::atomic<uint64_t> *mark = process_mark.load(std::memory_order_acquire);
    if (mark && mark->load(std::memory_order_acquire) != ours) notice_raw_clone(*mark);
    return epoch.load(std::memory_order_relaxed);
}

int registry_add(umn_notifier *n) {
    if (int rc = install_fork_handlers()) return rc;
    std::lock_guard g(registry_lock);
    registry.push_front(n);
    return 0;
}

void registry_remove(umn_notifier *n) {
    const bool inherited = n->fork_epoch != fork_epoch();  // before the lock: it may notice a child
    std::lock_guard g(registry_lock);
    if (inherited) return;  // not on this process's list
    registry.remove(n);
}

}  // namespace umn
