// SPDX-License-Identifier: BSD-3-Clause
// checked_mutex: "caller holds X" comments become assertions in
// UMN_DEBUG_LOCKS builds (the sanitizer builds of scripts/test.sh).
#include "core/checked_mutex.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace umn::test {
namespace {

// A function whose rule is "caller holds lock".
void needs_lock(checked_mutex &lock) {
    UMN_ASSERT_HELD(lock);
}

class CheckedMutexDeathTest : public ::testing::Test {
  protected:
    void SetUp() override {
#if !UMN_DEBUG_LOCKS
        GTEST_SKIP() << "built without UMN_DEBUG_LOCKS, where the assertion is compiled out "
                        "(cmake -DUMN_DEBUG_LOCKS=ON; the sanitizer builds turn it on)";
#endif
        GTEST_FLAG_SET(death_test_style, "threadsafe");
    }
};

TEST(CheckedMutex, AFunctionCalledWithTheLockHeldPasses) {
    checked_mutex lock;
    std::lock_guard g(lock);
    needs_lock(lock);
    EXPECT_TRUE(true);  // reached: the assertion did not fire
}

TEST_F(CheckedMutexDeathTest, AFunctionCalledWithoutTheLockAborts) {
    checked_mutex lock;
    EXPECT_DEATH(needs_lock(lock), "needs_lock runs without holding lock");
}

TEST_F(CheckedMutexDeathTest, AFunctionCalledAfterUnlockAborts) {
    checked_mutex lock;
    lock.lock();
    lock.unlock();
    EXPECT_DEATH(needs_lock(lock), "without holding lock");
}

TEST_F(CheckedMutexDeathTest, ALockHeldByAnotherThreadDoesNotCount) {
    // The child dies before the mutex, still locked, would be destroyed.
    auto locked_elsewhere = [] {
        checked_mutex lock;
        std::thread([&] { lock.lock(); }).join();
        needs_lock(lock);
    };
    EXPECT_DEATH(locked_elsewhere(), "without holding lock");
}

}  // namespace
}  // namespace umn::test
