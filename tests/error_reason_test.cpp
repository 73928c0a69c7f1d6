// SPDX-License-Identifier: BSD-3-Clause
// umn_strerror() and umn_last_error(): each failure names its cause.
#include "cache_support.hpp"

#include <umn/umn.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <linux/capability.h>
#include <string>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace umn::test {
namespace {

bool contains(const std::string &text, const char *part) {
    return text.find(part) != std::string::npos;
}

TEST(Strerror, SaysWhatUmnMeansByEachErrno) {
    EXPECT_STREQ(umn_strerror(-ECHILD),
                 "notifier opened by the parent process; open a new one in the child");
    EXPECT_STREQ(umn_strerror(ECHILD), umn_strerror(-ECHILD)) << "the sign is ignored";
    EXPECT_TRUE(contains(umn_strerror(-ENOSPC), "registration limit"));
    EXPECT_TRUE(contains(umn_strerror(-ENOBUFS), "io_uring fixed-buffer table is full"));
    EXPECT_TRUE(contains(umn_strerror(-ENOMEM), "RLIMIT_MEMLOCK"));
    EXPECT_STREQ(umn_strerror(0), "success");
}

TEST(Strerror, FallsBackToTheSystemTextAndNeverReturnsNull) {
    EXPECT_STREQ(umn_strerror(-EIO), strerrordesc_np(EIO));
    EXPECT_STREQ(umn_strerror(INT_MIN), "unknown error");
    EXPECT_STREQ(umn_strerror(100000), "unknown error");
}

class LastError : public notifier_fixture {};

TEST_F(LastError, UnregisterOfAnUnknownCookieNamesTheCookie) {
    EXPECT_EQ(umn_unregister(n, 0xabc), -ENOENT);
    EXPECT_STREQ(umn_last_error(),
                 "umn_unregister: cookie 0xabc is not registered (unknown, or drained)");
}

TEST_F(LastError, NotifierLimitSaysWhichLimit) {
    mapping m(2);
    ASSERT_EQ(umn_notifier_set_limit(n, 1), 0);
    ASSERT_EQ(umn_register(n, m.get(), page(), 1), 0);
    EXPECT_EQ(umn_register(n, m.get() + page(), page(), 2), -ENOSPC);
    EXPECT_TRUE(contains(umn_last_error(), "the notifier's limit of 1 registrations is reached"))
        << umn_last_error();
    EXPECT_EQ(umn_register(n, m.get(), page(), 1), -EEXIST);
    EXPECT_TRUE(contains(umn_last_error(), "cookie 0x1 is in use")) << umn_last_error();
}

TEST_F(LastError, BadArgumentsSayWhichArgument) {
    EXPECT_EQ(umn_register(n, nullptr, 1, 1), -EINVAL);
    EXPECT_TRUE(contains(umn_last_error(), "umn_register: [(nil), +1) is not a range"))
        << umn_last_error();
    EXPECT_EQ(umn_notifier_open(nullptr, UMN_MONITOR_AUTO), -EINVAL);
    EXPECT_STREQ(umn_last_error(), "umn_notifier_open: out is NULL");
    EXPECT_EQ(umn_notifier_set_limit(n, 0), -EINVAL);
    EXPECT_STREQ(umn_last_error(), "umn_notifier_set_limit: the limit must be at least 1");
}

TEST_F(LastError, IsPerThreadAndKeptAcrossSuccessfulCalls) {
    EXPECT_EQ(umn_unregister(n, 7), -ENOENT);
    std::string other = "unset";
    std::thread([&] { other = umn_last_error(); }).join();
    EXPECT_EQ(other, "");
    mapping m(1);
    ASSERT_EQ(umn_register(n, m.get(), page(), 1), 0);
    EXPECT_TRUE(contains(umn_last_error(), "cookie 0x7"));
}

TEST_F(LastError, InheritedNotifierSaysOpenANewOneInTheChild) {
    pid_t pid = fork();
    if (pid == 0) {
        mapping m(1);
        bool ok = umn_register(n, m.get(), page(), 1) == -ECHILD &&
                  contains(umn_last_error(), "open a new one in the child");
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(LastErrorOpen, KernelMonitorWithoutTheModuleSaysItIsNotLoaded) {
    if (access("/dev/umn", F_OK) == 0) GTEST_SKIP() << "/dev/umn exists: the module is loaded";
    umn_notifier *n = nullptr;
    EXPECT_EQ(umn_notifier_open(&n, UMN_MONITOR_KERNEL), -ENOENT);
    EXPECT_STREQ(umn_last_error(),
                 "kernel monitor unavailable: module umn not loaded (/dev/umn: "
                 "No such file or directory)");
}

class LastErrorCache : public cache_fixture {};

TEST_F(LastErrorCache, RegistrarFailureWithoutItsOwnReasonNamesTheRange) {
    mapping m(1);
    counter.fail_next(1, -EIO);
    umn_region *r = nullptr;
    EXPECT_EQ(umn_cache_get(c, m.get(), 8, &r), -EIO);
    EXPECT_TRUE(contains(umn_last_error(), "the registrar failed to register ["))
        << umn_last_error();
    EXPECT_TRUE(contains(umn_last_error(), strerrordesc_np(EIO))) << umn_last_error();
}

TEST_F(LastErrorCache, BadParamsSayWhichField) {
    umn_registrar r = counter.registrar();
    umn_cache *other = nullptr;
    umn_cache_params p = cache_params(0, 0, 3 * page());
    EXPECT_EQ(umn_cache_create(&other, &r, &p), -EINVAL);
    EXPECT_TRUE(contains(umn_last_error(), "alignment")) << umn_last_error();
    p = cache_params();
    p.struct_size = 1;
    EXPECT_EQ(umn_cache_create(&other, &r, &p), -EINVAL);
    EXPECT_TRUE(contains(umn_last_error(), "struct_size")) << umn_last_error();
    r.dereg = nullptr;
    EXPECT_EQ(umn_cache_create(&other, &r, nullptr), -EINVAL);
    EXPECT_TRUE(contains(umn_last_error(), "lacks reg or dereg")) << umn_last_error();
    umn_region *region = nullptr;
    EXPECT_EQ(umn_cache_get(c, nullptr, 1, &region), -EINVAL);
    EXPECT_TRUE(contains(umn_last_error(), "umn_cache_get: [(nil), +1) is not a range"))
        << umn_last_error();
}

// Drops CAP_IPC_LOCK (so that RLIMIT_MEMLOCK applies to mlock even for root)
// and lowers the soft limit. For a forked child only.
bool limit_locked_memory(size_t bytes) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0) return false;
    for (auto &d : data) {
        d.effective &= ~(1u << CAP_IPC_LOCK);
        d.permitted &= ~(1u << CAP_IPC_LOCK);
    }
    if (syscall(SYS_capset, &header, data) != 0) return false;
    rlimit limit{};
    getrlimit(RLIMIT_MEMLOCK, &limit);
    limit.rlim_cur = bytes;
    return setrlimit(RLIMIT_MEMLOCK, &limit) == 0;
}

// In a child limited to 64 KiB of locked memory: 17 pages held by an mlock
// cache cannot all be locked, and the reason names the limit; the cache's
// default max_bytes follows the limit.
int memlock_child() {
    if (!limit_locked_memory(64 << 10)) return 2;
    umn_registrar r;
    umn_cache *c = nullptr;
    if (umn_registrar_mlock(&r) || umn_cache_create(&c, &r, nullptr)) return 3;
    mapping m(17);
    umn_region *held[17] = {};
    int rc = 0;
    for (size_t i = 0; i < 17 && rc == 0; ++i)
        rc = umn_cache_get(c, m.get() + i * page(), page(), &held[i]);
    bool ok = (rc == -ENOMEM || rc == -EAGAIN) &&
              contains(umn_last_error(), "RLIMIT_MEMLOCK is 64 KiB (ulimit -l)") &&
              contains(umn_last_error(), "mlock of 4 KiB at") &&
              // The default max_bytes of a pinning registrar: 3/4 of the limit.
              contains(umn_last_error(), "(max_bytes 48 KiB)");
    if (!ok) fprintf(stderr, "rc %d: %s\n", rc, umn_last_error());
    for (umn_region *h : held) umn_cache_put(c, h);
    umn_cache_destroy(c);
    return ok ? 0 : 1;
}

TEST(LastErrorMemlock, MlockAtTheLimitNamesRlimitMemlock) {
    if (page() != 4096) GTEST_SKIP() << "the expected text assumes 4 KiB pages";
    pid_t pid = fork();
    if (pid == 0) _exit(memlock_child());
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "2: cannot drop CAP_IPC_LOCK or set the limit";
}

}  // namespace
}  // namespace umn::test
