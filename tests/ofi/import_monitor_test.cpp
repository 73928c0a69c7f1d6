// SPDX-License-Identifier: BSD-3-Clause
// The import monitor (src/ofi/monitor.cpp) driven the way libfabric's cache
// drives it: subscribe and valid with a stand-in of libfabric's global cache
// lock held, notify taking that lock. No libfabric and no RDMA device needed.
#include "ofi/monitor.hpp"
#include "support.hpp"

#include <rdma/fabric.h>
#include <rdma/fi_ext.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

using umn::test::page;

// Stands in for libfabric: its cache lock, its cache's entries (a range
// stays cached until notify or a refused valid removes it), what notify was told.
struct fake_libfabric {
    std::mutex mm_lock;
    std::atomic<std::thread::id> mm_lock_owner{};
    std::set<std::pair<uintptr_t, size_t>> entries;  // guarded by mm_lock
    std::mutex notified_lock;
    std::vector<std::pair<const void *, size_t>> notified;
    std::atomic<int> notify_under_own_lock{0};
    fi_ops_mem_notify notify_ops{sizeof(fi_ops_mem_notify), &notify};

    static fake_libfabric *current;

    // libfabric's notify takes the cache lock and drops every entry that
    // overlaps; a monitor calling it from inside subscribe/valid (lock held
    // by this very thread) would deadlock.
    static void notify(fid_mem_monitor *, const void *addr, size_t len) {
        fake_libfabric *f = current;
        if (f->mm_lock_owner.load() == std::this_thread::get_id()) {
            f->notify_under_own_lock++;
            return;
        }
        std::lock_guard cache(f->mm_lock);
        auto a = reinterpret_cast<uintptr_t>(addr);
        std::erase_if(f->entries,
                      [&](const auto &e) { return e.first < a + len && a < e.first + e.second; });
        std::lock_guard guard(f->notified_lock);
        f->notified.emplace_back(addr, len);
    }
    bool was_notified(const void *addr, size_t len) {
        std::lock_guard guard(notified_lock);
        for (auto &[a, l] : notified)
            if (a == addr && l == len) return true;
        return false;
    }
    // Waits up to 5 s for the delivery thread.
    bool wait_notified(const void *addr, size_t len) {
        for (int i = 0; i < 5000; i++) {
            if (was_notified(addr, len)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return false;
    }
};
fake_libfabric *fake_libfabric::current;

class ImportMonitor : public ::testing::Test {
  protected:
    void SetUp() override { open(umn::ofi::monitor_params{}); }
    void TearDown() override {
        umn::ofi::monitor_destroy(m);
        EXPECT_EQ(fabric.notify_under_own_lock.load(), 0)
            << "notify called from inside subscribe/valid";
    }
    void open(const umn::ofi::monitor_params &p) {
        if (m) umn::ofi::monitor_destroy(m);
        m = nullptr;
        fake_libfabric::current = &fabric;
        ASSERT_EQ(umn::ofi::monitor_create(p, &m), 0);
        fid = umn::ofi::monitor_fid(m);
        ASSERT_EQ(fid->fid.fclass, (size_t)FI_CLASS_MEM_MONITOR);
        ASSERT_EQ(fid->export_ops->size, sizeof(fi_ops_mem_monitor));
        fid->import_ops = &fabric.notify_ops;  // what fi_import's bind does
        ASSERT_EQ(fid->export_ops->start(fid), 0);
    }
    // The calls libfabric makes under its cache lock: subscribe caches the
    // range; hit is a cache lookup, true when the entry is there and valid
    // (a refused entry is dropped, as libfabric's search does).
    int subscribe(const void *a, size_t l) {
        std::lock_guard cache(fabric.mm_lock);
        fabric.mm_lock_owner = std::this_thread::get_id();
        int rc = fid->export_ops->subscribe(fid, a, l);
        fabric.mm_lock_owner = std::thread::id{};
        if (rc == 0) fabric.entries.emplace(reinterpret_cast<uintptr_t>(a), l);
        return rc;
    }
    bool hit(const void *a, size_t l) {
        std::lock_guard cache(fabric.mm_lock);
        auto entry = fabric.entries.find({reinterpret_cast<uintptr_t>(a), l});
        if (entry == fabric.entries.end()) return false;
        fabric.mm_lock_owner = std::this_thread::get_id();
        bool ok = fid->export_ops->valid(fid, a, l);
        fabric.mm_lock_owner = std::thread::id{};
        if (!ok) fabric.entries.erase(entry);
        return ok;
    }
    void unsubscribe(const void *a, size_t l) {
        std::lock_guard cache(fabric.mm_lock);
        fid->export_ops->unsubscribe(fid, a, l);
    }
    umn_ofi_stats stats() {
        umn_ofi_stats s{};
        umn::ofi::monitor_stats(m, &s);
        return s;
    }
    // Waits until every invalidation has been delivered (valid fast again).
    void settle() {
        for (int i = 0; i < 5000 && stats().invalidations > stats().notifies; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

    fake_libfabric fabric;
    umn::ofi::import_monitor *m = nullptr;
    fid_mem_monitor *fid = nullptr;
};

char *map_fixed(void *where, size_t len) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (where ? MAP_FIXED : 0);
    void *p = mmap(where, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char *>(p);
}

TEST_F(ImportMonitor, ValidUntilThePagesAreReplacedThenNotified) {
    char *buf = map_fixed(nullptr, 4 * page());
    ASSERT_NE(buf, nullptr);
    buf[0] = 1;
    ASSERT_EQ(subscribe(buf + 100, 3 * page()), 0);
    EXPECT_TRUE(hit(buf + 100, 3 * page()));
    ASSERT_EQ(map_fixed(buf, 4 * page()), buf);  // new pages at the same address
    // No stale window: the call has returned, so the next hit is refused.
    EXPECT_FALSE(hit(buf + 100, 3 * page()));
    EXPECT_TRUE(fabric.wait_notified(buf + 100, 3 * page()));
    EXPECT_EQ(stats().live, 0u);
    munmap(buf, 4 * page());
}

TEST_F(ImportMonitor, DiscardedPagesInvalidate) {
    char *buf = map_fixed(nullptr, 2 * page());
    ASSERT_NE(buf, nullptr);
    buf[0] = 1;
    ASSERT_EQ(subscribe(buf, 2 * page()), 0);
    ASSERT_EQ(madvise(buf, page(), MADV_DONTNEED), 0);
    EXPECT_FALSE(hit(buf, 2 * page()));
    EXPECT_TRUE(fabric.wait_notified(buf, 2 * page()));
    munmap(buf, 2 * page());
}

TEST_F(ImportMonitor, HitsTakeNoSlowPathWhenNothingChanged) {
    umn::test::mapping buf(2);
    ASSERT_EQ(subscribe(buf.get(), buf.size()), 0);
    settle();
    uint64_t slow = stats().slow_checks;
    for (int i = 0; i < 1000; i++) ASSERT_TRUE(hit(buf.get(), buf.size()));
    EXPECT_EQ(stats().slow_checks, slow);
}

TEST_F(ImportMonitor, UnrelatedInvalidationLeavesOtherRangesValid) {
    umn::test::mapping keep(1);
    char *gone = map_fixed(nullptr, page());
    ASSERT_NE(gone, nullptr);
    ASSERT_EQ(subscribe(keep.get(), keep.size()), 0);
    ASSERT_EQ(subscribe(gone, page()), 0);
    munmap(gone, page());
    EXPECT_TRUE(hit(keep.get(), keep.size()));  // still live
    EXPECT_FALSE(hit(gone, page()));
    settle();
    EXPECT_TRUE(hit(keep.get(), keep.size()));
}

TEST_F(ImportMonitor, SubscribingTheSameRangeAgainReusesItsRegistration) {
    umn::test::mapping buf(2);
    for (int i = 0; i < 10; i++) ASSERT_EQ(subscribe(buf.get(), buf.size()), 0);
    EXPECT_EQ(stats().live, 1u);
    EXPECT_EQ(stats().subscribes, 10u);
}

TEST_F(ImportMonitor, ResubscribeAfterInvalidationWatchesTheNewPages) {
    char *buf = map_fixed(nullptr, page());
    ASSERT_NE(buf, nullptr);
    ASSERT_EQ(subscribe(buf, page()), 0);
    ASSERT_EQ(map_fixed(buf, page()), buf);
    // libfabric's miss path: valid says no, the entry is rebuilt, subscribed.
    EXPECT_FALSE(hit(buf, page()));
    // The delivery thread's notify for the replacement erases every entry
    // over the range, a re-subscribed one too if it comes late (early, never
    // late); libfabric then just registers again. Let it arrive first.
    settle();
    ASSERT_EQ(subscribe(buf, page()), 0);
    EXPECT_TRUE(hit(buf, page()));
    ASSERT_EQ(map_fixed(buf, page()), buf);
    EXPECT_FALSE(hit(buf, page()));
    munmap(buf, page());
}

// 1.17 never unsubscribes: forgotten entries must not pile up registrations.
TEST_F(ImportMonitor, ForgottenRangesAreBoundedByMaxSubscriptions) {
    open(umn::ofi::monitor_params{UMN_MONITOR_AUTO, 4});
    umn::test::mapping buf(8);
    for (size_t i = 0; i < 8; i++) ASSERT_EQ(subscribe(buf.get() + i * page(), page()), 0);
    EXPECT_EQ(stats().live, 4u);
    EXPECT_EQ(stats().evictions, 4u);
    // The evicted ranges are refused at once and notified to libfabric.
    EXPECT_FALSE(hit(buf.get(), page()));
    EXPECT_TRUE(fabric.wait_notified(buf.get() + 3 * page(), page()));
    EXPECT_TRUE(hit(buf.get() + 7 * page(), page()));
}

TEST_F(ImportMonitor, UnsubscribedRangesAreEvictedFirst) {
    open(umn::ofi::monitor_params{UMN_MONITOR_AUTO, 2});
    umn::test::mapping buf(3);
    ASSERT_EQ(subscribe(buf.get(), page()), 0);
    ASSERT_EQ(subscribe(buf.get() + page(), page()), 0);
    unsubscribe(buf.get() + page(), page());
    ASSERT_EQ(subscribe(buf.get() + 2 * page(), page()), 0);
    EXPECT_TRUE(fabric.wait_notified(buf.get() + page(), page()));
    EXPECT_TRUE(hit(buf.get(), page()));
    EXPECT_EQ(stats().unsubscribes, 1u);
}

TEST_F(ImportMonitor, StopDropsEveryRegistrationAndStartAgainWorks) {
    umn::test::mapping buf(2);
    ASSERT_EQ(subscribe(buf.get(), page()), 0);
    fid->export_ops->stop(fid);  // the last domain closed, its cache emptied
    fabric.entries.clear();
    EXPECT_EQ(stats().live, 0u);
    ASSERT_EQ(fid->export_ops->start(fid), 0);  // a domain opened again
    ASSERT_EQ(subscribe(buf.get(), page()), 0);
    buf.unmap();
    EXPECT_FALSE(hit(buf.get(), page()));
}

TEST_F(ImportMonitor, ForkedChildNeverValidatesNorSubscribes) {
    umn::test::mapping buf(1);
    ASSERT_EQ(subscribe(buf.get(), page()), 0);
    settle();
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Must not take the parent's locks: no thread of ours here.
        bool ok = fid->export_ops->valid(fid, buf.get(), page());
        int rc = fid->export_ops->subscribe(fid, buf.get(), page());
        _exit(!ok && rc == -ECHILD ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_TRUE(hit(buf.get(), page()));  // the parent's registration lives on
}

// A raw clone (syscall(SYS_clone, SIGCHLD) or SYS_fork) runs no fork
// handler: umn's generation reads 0 there (user-space monitors) or UINT64_MAX
// (kernel), never the parent's, and umn's calls give -ECHILD. The child
// never gets valid == true, nor a subscription, and does not hang (alarm),
// before and after the parent's first delivered invalidation.
int raw_clone_child(bool use_fork, const std::function<int()> &child) {
    long pid = use_fork ? syscall(SYS_fork) : syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        alarm(10);
        _exit(child());
    }
    int status = 0;
    if (pid < 0 || waitpid(static_cast<pid_t>(pid), &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(ImportMonitor, ChildOfARawCloneNeverValidates) {
    umn::test::mapping buf(1), other(1);
    ASSERT_EQ(subscribe(buf.get(), page()), 0);
    auto child = [&] {
        bool ok = fid->export_ops->valid(fid, buf.get(), page());
        bool never = fid->export_ops->valid(fid, other.get(), page());
        int rc = fid->export_ops->subscribe(fid, other.get(), page());
        return ok || never ? 1 : rc != -ECHILD ? 2 : 0;
    };
    for (bool invalidated : {false, true}) {
        if (invalidated) {  // the parent's generation and clean generation move
            ASSERT_EQ(subscribe(other.get(), page()), 0);
            ASSERT_EQ(map_fixed(other.get(), page()), other.get());
            EXPECT_TRUE(fabric.wait_notified(other.get(), page()));
        }
        settle();
        ASSERT_TRUE(hit(buf.get(), page()));
        for (bool use_fork : {false, true}) {
            SCOPED_TRACE(std::string(use_fork ? "SYS_fork" : "SYS_clone") +
                         (invalidated ? ", after an invalidation" : ", nothing invalidated"));
            // 1: valid said true; 2: subscribe did not fail with -ECHILD;
            // 142: hung (SIGALRM).
            EXPECT_EQ(raw_clone_child(use_fork, child), 0);
            EXPECT_TRUE(hit(buf.get(), page()));  // the parent's registration lives on
        }
    }
}

// Threads hit, subscribe and replace pages while the delivery thread takes
// the cache lock in notify: no deadlock, and no hit on replaced pages.
TEST_F(ImportMonitor, ConcurrentHitsReplacementsAndNotifies) {
    const size_t slots = 8;
    char *buf = map_fixed(nullptr, slots * page());
    ASSERT_NE(buf, nullptr);
    std::atomic<bool> done{false};
    std::atomic<int> stale{0};
    std::mutex slot_lock[slots];
    const size_t rounds = umn::test::rounds(2000);
    std::thread replacer([&] {
        for (size_t i = 0; i < rounds; i++) {
            size_t s = i % slots;
            std::lock_guard g(slot_lock[s]);
            ASSERT_EQ(map_fixed(buf + s * page(), page()), buf + s * page());
            // The hit after the replacement returned must be refused.
            if (hit(buf + s * page(), page())) stale++;
        }
        done = true;
    });
    std::vector<std::thread> hitters;
    for (int t = 0; t < 2; t++)
        hitters.emplace_back([&, t] {
            for (size_t i = t; !done; i++) {
                size_t s = i % slots;
                std::lock_guard g(slot_lock[s]);
                if (!hit(buf + s * page(), page())) {
                    ASSERT_EQ(subscribe(buf + s * page(), page()), 0);
                }
            }
        });
    replacer.join();
    for (auto &h : hitters) h.join();
    EXPECT_EQ(stale.load(), 0);
    munmap(buf, slots * page());
}

}  // namespace
