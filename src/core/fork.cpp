// SPDX-License-Identifier: BSD-3-Clause
// A notifier belongs to the process that opened it. In a child every call on
// an inherited notifier returns -ECHILD, and umn_generation() reads
// UINT64_MAX so that a cache comparing generations leaves its hit path.
//
// Locking: registry_lock guards the list of open notifiers. pthread_atfork's
// prepare handler takes it, so the child sees a consistent list; the child
// handler runs with every other thread gone.
#include "core/notifier.hpp"

#include <atomic>
#include <mutex>
#include <pthread.h>

namespace umn {

namespace {

std::mutex registry_lock;
umn_notifier *registry_head = nullptr;
std::atomic<uint64_t> epoch{0};
const uint64_t forked_generation = UINT64_MAX;

void before_fork() {
    registry_lock.lock();
}
void after_fork_parent() {
    registry_lock.unlock();
}

void after_fork_child() {
    epoch.fetch_add(1, std::memory_order_relaxed);
    for (umn_notifier *n = registry_head; n; n = n->registry_next)
        n->head.generation = &forked_generation;
    registry_head = nullptr;  // the parent's notifiers are not ours to track
    registry_lock.unlock();
    uffd_forget_after_fork();
}

void install_fork_handlers() {
    static std::once_flag once;
    std::call_once(once, [] { pthread_atfork(before_fork, after_fork_parent, after_fork_child); });
}

}  // namespace

uint64_t fork_epoch() {
    return epoch.load(std::memory_order_relaxed);
}

void registry_add(umn_notifier *n) {
    install_fork_handlers();
    std::lock_guard g(registry_lock);
    n->registry_prev = nullptr;
    n->registry_next = registry_head;
    if (registry_head) registry_head->registry_prev = n;
    registry_head = n;
}

void registry_remove(umn_notifier *n) {
    std::lock_guard g(registry_lock);
    if (n->fork_epoch != fork_epoch()) return;  // inherited: not on this process's list
    (n->registry_prev ? n->registry_prev->registry_next : registry_head) = n->registry_next;
    if (n->registry_next) n->registry_next->registry_prev = n->registry_prev;
}

}  // namespace umn
