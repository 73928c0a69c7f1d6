// SPDX-License-Identifier: BSD-3-Clause
// The notifier's C API: every bad input gets a clear negative errno and leaves
// the other registrations intact; one-shot reporting; fork; the pollable fd.
#include "support.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <utility>
#include <poll.h>
#include <set>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace umn::test {
namespace {

using NotifierApi = notifier_fixture;

// Whether a mapping in [start, start + len) is registered with a
// userfaultfd (the "uw" flag of /proc/self/smaps).
bool userfaultfd_registered(const char *start, size_t len) {
    std::ifstream smaps("/proc/self/smaps");
    const auto from = reinterpret_cast<uintptr_t>(start);
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        unsigned long lo, hi;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2)
            inside = lo < from + len && hi > from;
        else if (inside && line.rfind("VmFlags:", 0) == 0 && line.find(" uw") != std::string::npos)
            return true;
    }
    return false;
}

// A registration that must survive a bad call, and fire afterwards.
class survivor {
  public:
    explicit survivor(umn_notifier *n) : n_(n), m_(1) {
        EXPECT_EQ(umn_register(n_, m_.get(), m_.size(), cookie), 0);
    }
    // Unmaps and checks that exactly this cookie is reported.
    void expect_fires() {
        m_.unmap();
        uint64_t got[4];
        EXPECT_EQ(umn_get_invalid(n_, got, 4), 1);
        EXPECT_EQ(got[0], cookie);
    }
    static constexpr uint64_t cookie = 0x5eed;

  private:
    umn_notifier *n_;
    mapping m_;
};

TEST(NotifierOpen, RejectsNullOutAndUnknownMonitor) {
    EXPECT_EQ(umn_notifier_open(nullptr, UMN_MONITOR_AUTO), -EINVAL);
    umn_notifier *n = reinterpret_cast<umn_notifier *>(0x1);
    EXPECT_EQ(umn_notifier_open(&n, static_cast<umn_monitor>(42)), -EINVAL);
    EXPECT_EQ(n, nullptr);
}

TEST(NotifierOpen, NullHandleIsHarmless) {
    umn_notifier_close(nullptr);
    EXPECT_EQ(umn_notifier_monitor(nullptr), UMN_MONITOR_AUTO);
    EXPECT_EQ(umn_generation(nullptr), 0u);
    EXPECT_EQ(umn_register(nullptr, &errno, 1, 1), -EINVAL);
    EXPECT_EQ(umn_unregister(nullptr, 1), -EINVAL);
    uint64_t c;
    EXPECT_EQ(umn_get_invalid(nullptr, &c, 1), -EINVAL);
    EXPECT_EQ(umn_notifier_fd(nullptr), -EINVAL);
}

TEST_F(NotifierApi, ReportsTheMonitorItChose) {
    umn_monitor m = umn_notifier_monitor(n);
    EXPECT_TRUE(m == UMN_MONITOR_KERNEL || m == UMN_MONITOR_UFFD || m == UMN_MONITOR_HOOKS);
}

TEST_F(NotifierApi, BadRangesGiveEinvalAndLeaveOthersIntact) {
    survivor s(n);
    mapping m(1);
    EXPECT_EQ(umn_register(n, nullptr, 10, 1), -EINVAL);
    EXPECT_EQ(umn_register(n, m.get(), 0, 2), -EINVAL);
    EXPECT_EQ(umn_register(n, reinterpret_cast<void *>(UINTPTR_MAX - 10), 100, 3), -EINVAL);
    EXPECT_EQ(umn_register(n, reinterpret_cast<void *>(UINTPTR_MAX - 10), 5, 4), -EINVAL);
    s.expect_fires();
}

TEST_F(NotifierApi, DuplicateCookieGivesEexist) {
    survivor s(n);
    mapping m(1);
    EXPECT_EQ(umn_register(n, m.get(), m.size(), survivor::cookie), -EEXIST);
    s.expect_fires();
}

TEST_F(NotifierApi, UnknownCookieGivesEnoent) {
    survivor s(n);
    EXPECT_EQ(umn_unregister(n, 12345), -ENOENT);
    s.expect_fires();
    EXPECT_EQ(umn_unregister(n, survivor::cookie), -ENOENT);  // drained: gone
}

TEST_F(NotifierApi, LimitGivesEnospc) {
    mapping m(3);
    EXPECT_EQ(umn_notifier_set_limit(n, 0), -EINVAL);
    ASSERT_EQ(umn_notifier_set_limit(n, 2), 0);
    ASSERT_EQ(umn_register(n, m.get(), 1, 1), 0);
    ASSERT_EQ(umn_register(n, m.get() + page(), 1, 2), 0);
    EXPECT_EQ(umn_register(n, m.get() + 2 * page(), 1, 3), -ENOSPC);
    EXPECT_EQ(umn_unregister(n, 1), 0);
    EXPECT_EQ(umn_register(n, m.get() + 2 * page(), 1, 3), 0);
    m.unmap();
    EXPECT_EQ(drain().size(), 2u);
}

TEST_F(NotifierApi, GetInvalidWithMaxZeroReturnsZeroAndNullBufferIsEinval) {
    survivor s(n);
    uint64_t c;
    EXPECT_EQ(umn_get_invalid(n, &c, 0), 0);
    EXPECT_EQ(umn_get_invalid(n, nullptr, 0), 0);
    EXPECT_EQ(umn_get_invalid(n, nullptr, 4), -EINVAL);
    s.expect_fires();
}

TEST_F(NotifierApi, EachCookieIsReportedExactlyOnce) {
    mapping m(2);
    ASSERT_EQ(umn_register(n, m.get(), 1, 10), 0);
    ASSERT_EQ(umn_register(n, m.get() + page(), 1, 11), 0);
    uint64_t g = umn_generation(n);
    m.unmap();
    EXPECT_GT(umn_generation(n), g);
    uint64_t a, b, c;
    ASSERT_EQ(umn_get_invalid(n, &a, 1), 1);
    ASSERT_EQ(umn_get_invalid(n, &b, 1), 1);
    EXPECT_EQ(umn_get_invalid(n, &c, 1), 0);
    EXPECT_NE(a, b);
    EXPECT_TRUE((a == 10 || a == 11) && (b == 10 || b == 11));
}

TEST_F(NotifierApi, UnregisterOfAnUndrainedCookieRemovesItFromTheList) {
    mapping m(1);
    ASSERT_EQ(umn_register(n, m.get(), m.size(), 7), 0);
    m.unmap();
    EXPECT_EQ(umn_unregister(n, 7), 0);
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(umn_unregister(n, 7), -ENOENT);
}

TEST_F(NotifierApi, CookieIsReusableOnceDrained) {
    mapping a(1), b(1);
    ASSERT_EQ(umn_register(n, a.get(), a.size(), 9), 0);
    a.unmap();
    EXPECT_EQ(umn_register(n, b.get(), b.size(), 9), -EEXIST);  // still on the list
    EXPECT_EQ(drain(), std::vector<uint64_t>{9});
    EXPECT_EQ(umn_register(n, b.get(), b.size(), 9), 0);
}

TEST_F(NotifierApi, UnalignedRangeCoversEveryTouchedPage) {
    mapping m(4);
    // Touches pages 0 and 1 only.
    ASSERT_EQ(umn_register(n, m.get() + 100, page(), 1), 0);
    ASSERT_EQ(munmap(m.get() + 2 * page(), page()), 0);
    EXPECT_TRUE(drain().empty());
    ASSERT_EQ(munmap(m.get() + page(), page()), 0);
    EXPECT_EQ(drain(), std::vector<uint64_t>{1});
}

TEST_F(NotifierApi, MprotectDoesNotInvalidate) {
    mapping m(2);
    ASSERT_EQ(umn_register(n, m.get(), m.size(), 1), 0);
    uint64_t g = umn_generation(n);
    ASSERT_EQ(mprotect(m.get(), m.size(), PROT_READ), 0);
    ASSERT_EQ(mprotect(m.get(), m.size(), PROT_READ | PROT_WRITE), 0);
    EXPECT_EQ(umn_generation(n), g);
    EXPECT_TRUE(drain().empty());
}

TEST_F(NotifierApi, FdPollsReadableWhileCookiesWait) {
    int fd = umn_notifier_fd(n);
    ASSERT_GE(fd, 0);
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0);
    mapping m(1);
    ASSERT_EQ(umn_register(n, m.get(), m.size(), 1), 0);
    m.unmap();
    EXPECT_EQ(poll(&p, 1, 1000), 1);
    EXPECT_TRUE(p.revents & POLLIN);
    EXPECT_EQ(drain().size(), 1u);
    EXPECT_EQ(poll(&p, 1, 0), 0);
}

TEST_F(NotifierApi, CloseWithLiveRegistrationsLeavesMemoryUsable) {
    mapping m(2);
    ASSERT_EQ(umn_register(n, m.get(), m.size(), 1), 0);
    umn_notifier_close(n);
    n = nullptr;
    m.get()[0] = 1;
    m.unmap();  // must not wait for a monitor that no longer listens
    ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), 0);
}

TEST(NotifierTwo, OverlappingRangesInTwoNotifiersBothFire) {
    umn_notifier *a, *b;
    ASSERT_EQ(umn_notifier_open(&a, UMN_MONITOR_AUTO), 0);
    ASSERT_EQ(umn_notifier_open(&b, UMN_MONITOR_AUTO), 0);
    mapping m(3);
    ASSERT_EQ(umn_register(a, m.get(), 2 * page(), 1), 0);
    ASSERT_EQ(umn_register(b, m.get() + page(), 2 * page(), 2), 0);
    EXPECT_EQ(umn_unregister(a, 1), 0);  // b must keep seeing the shared page
    ASSERT_EQ(umn_register(a, m.get(), page(), 3), 0);
    ASSERT_EQ(munmap(m.get() + page(), page()), 0);
    uint64_t c = 0;
    EXPECT_EQ(umn_get_invalid(b, &c, 1), 1);
    EXPECT_EQ(c, 2u);
    EXPECT_EQ(umn_get_invalid(a, &c, 1), 0);
    m.unmap();
    EXPECT_EQ(umn_get_invalid(a, &c, 1), 1);
    EXPECT_EQ(c, 3u);
    umn_notifier_close(a);
    umn_notifier_close(b);
}

// Closing a notifier unwatches its registrations in batches, abutting ones
// as one range: pages another notifier registered stay watched (each fires
// when unmapped alone), whatever shapes the closed notifier's registrations
// had (abutting, overlapping, covering, invalidated and never drained).
TEST(NotifierTwo, CloseOfAbuttingAndOverlappingRegistrationsKeepsTheOthersPagesWatched) {
    constexpr size_t pages = 64;
    umn_notifier *a, *b;
    ASSERT_EQ(umn_notifier_open(&a, UMN_MONITOR_AUTO), 0);
    ASSERT_EQ(umn_notifier_open(&b, UMN_MONITOR_AUTO), 0);
    mapping m(pages);
    uint64_t cookie = 0;
    for (size_t p = 0; p < pages; ++p)
        ASSERT_EQ(umn_register(a, m.get() + p * page(), page(), cookie++), 0);
    for (size_t p = 0; p + 4 <= pages; p += 3)
        ASSERT_EQ(umn_register(a, m.get() + p * page(), 4 * page(), cookie++), 0);
    ASSERT_EQ(umn_register(a, m.get(), m.size(), cookie++), 0);
    for (size_t p = 1; p < pages; p += 5) ASSERT_EQ(umn_register(b, m.get() + p * page(), 1, p), 0);
    ASSERT_EQ(munmap(m.get(), page()), 0);  // a's page 0 only: left undrained
    uint64_t c = 0;
    EXPECT_EQ(umn_get_invalid(b, &c, 1), 0);
    umn_notifier_close(a);
    for (size_t p = 1; p < pages; p += 5) {
        ASSERT_EQ(munmap(m.get() + p * page(), page()), 0);
        EXPECT_EQ(umn_get_invalid(b, &c, 1), 1) << "page " << p;
        EXPECT_EQ(c, p);
    }
    const bool uffd = umn_notifier_monitor(b) == UMN_MONITOR_UFFD;
    umn_notifier_close(b);
    if (uffd) {
        EXPECT_FALSE(userfaultfd_registered(m.get(), m.size())) << "watched by nobody";
    }
}

// Registrations of every shape around an unmapped range (starting before it
// and reaching in, inside it, covering it, ending at its start, starting at
// its end, nested in each other): exactly the overlapping ones fire, and the
// others stay registered.
TEST_F(NotifierApi, UnmapFiresExactlyTheOverlappingOnesAmongNestedRegistrations) {
    constexpr size_t pages = 32, count = 60;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<size_t>(x >> 32);
    };
    for (size_t round = 0; round < 20; ++round) {
        mapping m(pages);
        ASSERT_NE(m.get(), nullptr);
        std::set<uint64_t> expected;
        const size_t u0 = 8 + round % 8, u1 = u0 + 1 + round % 10;
        for (uint64_t cookie = 0; cookie < count; ++cookie) {
            size_t a = next() % pages, b = next() % pages;
            if (a > b) std::swap(a, b);
            ++b;  // pages [a, b)
            ASSERT_EQ(umn_register(n, m.get() + a * page(), (b - a) * page(), cookie), 0);
            if (a < u1 && b > u0) expected.insert(cookie);
        }
        ASSERT_EQ(munmap(m.get() + u0 * page(), (u1 - u0) * page()), 0);
        uint64_t got[count + 1];
        long k = umn_get_invalid(n, got, count + 1);
        ASSERT_GE(k, 0);
        EXPECT_EQ(std::set<uint64_t>(got, got + k), expected) << "round " << round;
        for (uint64_t cookie = 0; cookie < count; ++cookie) {
            if (expected.count(cookie)) continue;
            EXPECT_EQ(umn_unregister(n, cookie), 0) << cookie;
        }
        m.unmap();
        EXPECT_EQ(umn_get_invalid(n, got, count + 1), 0);
    }
}

// 64 notifiers open: an unmapping over one notifier's page reaches that
// notifier only, an unmapping of memory none watches reaches none, and a
// page released by one notifier and registered by another still fires.
TEST(NotifierMany, EachOf64NotifiersSeesItsOwnPageUnmapped) {
    constexpr size_t count = 64;
    std::vector<umn_notifier *> ns(count);
    for (auto &n : ns) ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_AUTO), 0);
    mapping m(2 * count), unwatched(1);
    for (size_t i = 0; i < count; ++i)
        ASSERT_EQ(umn_register(ns[i], m.get() + 2 * i * page(), 1, i), 0);
    unwatched.unmap();
    uint64_t c = 0;
    for (auto *n : ns) EXPECT_EQ(umn_get_invalid(n, &c, 1), 0);
    EXPECT_EQ(umn_unregister(ns[0], 0), 0);
    ASSERT_EQ(umn_register(ns[1], m.get(), 1, 100), 0);
    ASSERT_EQ(munmap(m.get(), page()), 0);
    EXPECT_EQ(umn_get_invalid(ns[0], &c, 1), 0);
    EXPECT_EQ(umn_get_invalid(ns[1], &c, 1), 1);
    EXPECT_EQ(c, 100u);
    for (size_t i = 1; i < count; ++i) {
        ASSERT_EQ(munmap(m.get() + 2 * i * page(), page()), 0);
        EXPECT_EQ(umn_get_invalid(ns[i], &c, 1), 1) << "notifier " << i;
        EXPECT_EQ(c, i);
    }
    for (auto *n : ns) umn_notifier_close(n);
}

// A registration wider than the hooks monitor's per-chunk summary (1 GiB).
TEST_F(NotifierApi, UnmapInsideAGibibyteRegistrationFires) {
    const size_t len = size_t{3} << 30;
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    char *base = static_cast<char *>(p);
    ASSERT_EQ(umn_register(n, base, len, 7), 0);
    ASSERT_EQ(munmap(base + len / 2, page()), 0);
    uint64_t c = 0;
    EXPECT_EQ(umn_get_invalid(n, &c, 1), 1);
    EXPECT_EQ(c, 7u);
    munmap(base, len);
}

// In the child every call on the inherited notifier is -ECHILD, the
// generation reads UINT64_MAX, and a new notifier works.
int child_checks(umn_notifier *inherited) {
    uint64_t c;
    mapping m(1);
    if (umn_register(inherited, m.get(), 1, 99) != -ECHILD) return 1;
    if (umn_unregister(inherited, 1) != -ECHILD) return 2;
    if (umn_get_invalid(inherited, &c, 1) != -ECHILD) return 3;
    if (umn_notifier_fd(inherited) != -ECHILD) return 4;
    if (umn_generation(inherited) != UINT64_MAX) return 5;
    umn_notifier_close(inherited);  // abandoned, not freed: must not crash
    umn_notifier *own;
    if (umn_notifier_open(&own, UMN_MONITOR_AUTO)) return 6;
    if (umn_register(own, m.get(), 1, 1)) return 7;
    m.unmap();
    if (umn_get_invalid(own, &c, 1) != 1 || c != 1) return 8;
    umn_notifier_close(own);
    return 0;
}

TEST_F(NotifierApi, InheritedNotifierGivesEchildInTheChild) {
    survivor s(n);
    pid_t pid = fork();
    if (pid == 0) _exit(child_checks(n));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "first failing check in the child";
    s.expect_fires();  // the parent's registration is intact
}

// A raw fork runs no fork handler: the child must still get -ECHILD, and its
// generation must differ from the parent's before any umn call (a cache's hit
// path reads nothing else).
TEST_F(NotifierApi, InheritedNotifierGivesEchildInAChildOfARawFork) {
    survivor s(n);
    const uint64_t parent_generation = umn_generation(n);
    pid_t pid = raw_fork();
    if (pid == 0) _exit(umn_generation(n) == parent_generation ? 20 : child_checks(n));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "first failing check in the child (20: same generation)";
    s.expect_fires();
}

}  // namespace
}  // namespace umn::test
