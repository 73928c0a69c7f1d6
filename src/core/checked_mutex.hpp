// SPDX-License-Identifier: BSD-3-Clause
// A std::mutex whose "caller holds it" rule can be asserted. In builds with
// UMN_DEBUG_LOCKS (the sanitizer builds of scripts/test.sh; CMake option of
// the same name) it records its owner thread, and UMN_ASSERT_HELD(m) aborts
// with the lock's and the function's names when the calling thread does not
// hold m. In other builds it is a std::mutex and the assertion compiles to
// nothing.
//
// The owner is the thread's pthread_self(), which stays valid in a signal
// handler and in the forking thread's copy after fork().
#pragma once

#include <mutex>

#if UMN_DEBUG_LOCKS
#include <atomic>
#include <cstdint>
#include <pthread.h>
#endif

namespace umn {

#if UMN_DEBUG_LOCKS
[[noreturn]] void lock_not_held(const char *lock, const char *function);
#endif

class checked_mutex {
  public:
    void lock() {
        m_.lock();
        note_owner();
    }
    bool try_lock() {
        if (!m_.try_lock()) return false;
        note_owner();
        return true;
    }
    void unlock() {
        forget_owner();
        m_.unlock();
    }

    void assert_held([[maybe_unused]] const char *lock,
                     [[maybe_unused]] const char *function) const {
#if UMN_DEBUG_LOCKS
        if (owner_.load(std::memory_order_relaxed) != self()) lock_not_held(lock, function);
#endif
    }

  private:
#if UMN_DEBUG_LOCKS
    static uintptr_t self() {
        return static_cast<uintptr_t>(pthread_self());
    }
    void note_owner() {
        owner_.store(self(), std::memory_order_relaxed);
    }
    void forget_owner() {
        owner_.store(0, std::memory_order_relaxed);
    }
    std::atomic<uintptr_t> owner_{0};
#else
    void note_owner() {}
    void forget_owner() {}
#endif
    std::mutex m_;
};

}  // namespace umn

// "Caller holds m": checked in UMN_DEBUG_LOCKS builds, nothing otherwise.
#define UMN_ASSERT_HELD(m) (m).assert_held(#m, __func__)
