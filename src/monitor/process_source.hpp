// SPDX-License-Identifier: BSD-3-Clause
// A process-wide event source: made once, by the first notifier that needs
// it, and reset in a fork child, where the parent's monitor thread and
// attached cores do not exist and its locks may be held by threads that do
// not exist either. Every such source is reset the same way, from one place:
// api/fork.cpp calls reset_process_sources_in_child() after fork() (its
// pthread_atfork child handler) and after a raw clone (the first umn call
// that notices one), with no other thread inside umn.
#pragma once

#include <atomic>
#include <mutex>
#include <new>

namespace umn {

// Resets every process_source made so far. Takes no lock.
void reset_process_sources_in_child();

// What reset_process_sources_in_child() walks: every process_source, linked
// once when it is constructed (lock-free: no lock to inherit held).
class process_wide {
  public:
    virtual void reset_in_child() = 0;

  protected:
    process_wide();
    ~process_wide() = default;
    process_wide(const process_wide &) = delete;
    process_wide &operator=(const process_wide &) = delete;

  private:
    friend void reset_process_sources_in_child();
    process_wide *next_ = nullptr;
};

// The one instance of T in this process. T provides
//   bool reset_in_child();  // drops the parent's state; returns whether the
//                           // object serves the child too (false: the next
//                           // get() makes a new one; the old one is leaked,
//                           // its thread and locks being the parent's)
// Use it as a function-local static, so that it is constructed (and linked
// for the reset) before its first use.
template <class T>
class process_source final : private process_wide {
  public:
    // The instance, made by make(error) on first use; nullptr (with *error
    // set by make) when it cannot be made.
    template <class Make>
    T *get(Make make, int *error) {
        std::lock_guard g(lock_);
        if (!instance_) instance_ = make(error);
        return instance_;
    }
    // The instance if one was made, else nullptr.
    T *made() {
        std::lock_guard g(lock_);
        return instance_;
    }

  private:
    void reset_in_child() override {
        if (instance_ && !instance_->reset_in_child()) instance_ = nullptr;
        new (&lock_) std::mutex;
    }

    std::mutex lock_;
    T *instance_ = nullptr;
};

}  // namespace umn
