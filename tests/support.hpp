// SPDX-License-Identifier: BSD-3-Clause
// Helpers shared by the tests. The monitor under test is UMN_MONITOR_AUTO,
// so ctest runs the same binary once per monitor by setting UMN_MONITOR.
#pragma once

#include <umn/umn.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace umn::test {

inline size_t page() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Round counts scale with UMN_TEST_SCALE (default 1; sanitizer builds 0.1).
inline size_t rounds(size_t base) {
#ifdef UMN_TEST_DEFAULT_SCALE
    double scale = UMN_TEST_DEFAULT_SCALE;
#else
    double scale = 1.0;
#endif
    if (const char *s = std::getenv("UMN_TEST_SCALE")) scale = std::atof(s);
    size_t n = static_cast<size_t>(static_cast<double>(base) * scale);
    return n ? n : 1;
}

// fork without libc's fork(): the system call itself, so no pthread_atfork
// handler runs (as in runtimes that clone directly).
inline pid_t raw_fork() {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"(long{SYS_fork}) : "rcx", "r11", "memory");
    return static_cast<pid_t>(ret);
}

// Anonymous private pages, populated, unmapped at scope exit unless released.
class mapping {
  public:
    explicit mapping(size_t pages, int prot = PROT_READ | PROT_WRITE) : len_(pages * page()) {
        void *p = mmap(nullptr, len_, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        p_ = p == MAP_FAILED ? nullptr : static_cast<char *>(p);
    }
    ~mapping() {
        if (p_) munmap(p_, len_);
    }
    mapping(const mapping &) = delete;
    mapping &operator=(const mapping &) = delete;
    char *get() const { return p_; }
    size_t size() const { return len_; }
    // Leaves the pages to the caller, who unmaps them.
    void release() { p_ = nullptr; }
    // Unmaps now (the event under test).
    void unmap() {
        munmap(p_, len_);
        p_ = nullptr;
    }

  private:
    char *p_;
    size_t len_;
};

// An open notifier on the monitor under test, closed at scope exit.
class notifier_fixture : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), 0); }
    void TearDown() override { umn_notifier_close(n); }

    // Drains everything; returns the cookies in order.
    std::vector<uint64_t> drain() {
        std::vector<uint64_t> out;
        uint64_t buf[16];
        long got;
        while ((got = umn_get_invalid(n, buf, 16)) > 0) out.insert(out.end(), buf, buf + got);
        EXPECT_GE(got, 0);
        return out;
    }

    umn_notifier *n = nullptr;
};

// Why a torture of the allocator with pagemap ground truth cannot run here,
// or nullptr. ThreadSanitizer's allocator unmaps freed blocks with raw system
// calls, which the hooks monitor cannot see (docs/hooks.md).
inline const char *why_no_allocator_torture(bool frames_readable) {
    if (!frames_readable)
        return "physical frame numbers in /proc/self/pagemap need root (CAP_SYS_ADMIN)";
#if defined(__SANITIZE_THREAD__)
    umn_notifier *probe = nullptr;
    if (umn_notifier_open(&probe, UMN_MONITOR_AUTO) != 0) return nullptr;
    const bool hooks = umn_notifier_monitor(probe) == UMN_MONITOR_HOOKS;
    umn_notifier_close(probe);
    if (hooks)
        return "ThreadSanitizer's allocator unmaps freed blocks with raw system calls, which the "
               "hooks monitor cannot see (docs/hooks.md)";
#endif
    return nullptr;
}

}  // namespace umn::test
