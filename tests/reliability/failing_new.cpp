// SPDX-License-Identifier: BSD-3-Clause
// The replaced global allocation functions. Thread safety: the countdown is
// thread_local; the live count is one relaxed atomic.
#include "failing_new.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace umn::reliability {

namespace {

thread_local long countdown = -1;  // -1: disarmed
thread_local bool failed = false;
std::atomic<long> live{0};

void *allocate(std::size_t size, std::size_t alignment) {
    if (countdown >= 0 && countdown-- == 0) {
        failed = true;
        return nullptr;
    }
    if (size == 0) size = 1;
    void *p = nullptr;
    if (alignment <= alignof(std::max_align_t)) {
        p = std::malloc(size);
    } else if (posix_memalign(&p, alignment, size)) {
        p = nullptr;
    }
    if (p) live.fetch_add(1, std::memory_order_relaxed);
    return p;
}

void *allocate_or_throw(std::size_t size, std::size_t alignment) {
    void *p = allocate(size, alignment);
    if (!p) throw std::bad_alloc();
    return p;
}

void release(void *p) {
    if (!p) return;
    live.fetch_sub(1, std::memory_order_relaxed);
    std::free(p);
}

constexpr std::size_t plain = alignof(std::max_align_t);

}  // namespace

void fail_allocation_after(long n) {
    failed = false;
    countdown = n;
}

bool disarm_allocation_failure() {
    countdown = -1;
    return failed;
}

long live_allocations() {
    return live.load(std::memory_order_relaxed);
}

}  // namespace umn::reliability

using umn::reliability::allocate;
using umn::reliability::allocate_or_throw;
using umn::reliability::plain;
using umn::reliability::release;

void *operator new(std::size_t n) {
    return allocate_or_throw(n, plain);
}
void *operator new[](std::size_t n) {
    return allocate_or_throw(n, plain);
}
void *operator new(std::size_t n, std::align_val_t a) {
    return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void *operator new[](std::size_t n, std::align_val_t a) {
    return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
    return allocate(n, plain);
}
void *operator new[](std::size_t n, const std::nothrow_t &) noexcept {
    return allocate(n, plain);
}
void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
    return allocate(n, static_cast<std::size_t>(a));
}
void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
    return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void *p) noexcept {
    release(p);
}
void operator delete[](void *p) noexcept {
    release(p);
}
void operator delete(void *p, std::size_t) noexcept {
    release(p);
}
void operator delete[](void *p, std::size_t) noexcept {
    release(p);
}
void operator delete(void *p, std::align_val_t) noexcept {
    release(p);
}
void operator delete[](void *p, std::align_val_t) noexcept {
    release(p);
}
void operator delete(void *p, std::size_t, std::align_val_t) noexcept {
    release(p);
}
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept {
    release(p);
}
void operator delete(void *p, const std::nothrow_t &) noexcept {
    release(p);
}
void operator delete[](void *p, const std::nothrow_t &) noexcept {
    release(p);
}
