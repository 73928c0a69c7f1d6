// SPDX-License-Identifier: BSD-3-Clause
// The hooks monitor patches libc while other threads run: threads that are
// mapping and unmapping in a loop when the first hooks notifier opens must
// neither crash nor lose events, and every later notifier (one per thread,
// opened and closed repeatedly) must see each unmap of its own registration.
// Runs once, in its own process (ctest), so the patching really happens
// under the running threads.
#include "support.hpp"

#include "monitor/hooks.hpp"
#include "os/patch.hpp"
#include "os/raw_syscall.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <dlfcn.h>
#include <link.h>
#include <sys/syscall.h>
#include <thread>
#include <vector>

namespace {

using umn::test::page;

// Maps, touches and unmaps one and three pages (the middle one first) until
// told to stop; returns the number of rounds.
size_t churn_until(const std::atomic<bool> &stop) {
    size_t rounds = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        auto *one = static_cast<char *>(
            mmap(nullptr, page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        auto *three = static_cast<char *>(
            mmap(nullptr, 3 * page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (one == MAP_FAILED || three == MAP_FAILED) return 0;
        one[0] = three[2 * page()] = 1;
        munmap(three + page(), page());
        munmap(one, page());
        munmap(three, page());  // not all three: another thread may map into the hole
        munmap(three + 2 * page(), page());
        ++rounds;
    }
    return rounds;
}

// With its own notifier: register a fresh page, unmap it, and expect the
// generation moved and exactly that cookie drained. Returns the misses.
size_t unmap_registered_pages(size_t rounds, uint64_t first_cookie) {
    umn_notifier *n = nullptr;
    if (umn_notifier_open(&n, UMN_MONITOR_HOOKS) != 0) return rounds;
    size_t missed = 0;
    for (size_t i = 0; i < rounds; ++i) {
        umn::test::mapping m(1);
        uint64_t cookie = first_cookie + i, drained = 0;
        // Read before registering: a churning thread's unmap of this address
        // just before our mmap reused it may already invalidate the new
        // registration (its second pass; early, never late).
        uint64_t before = umn_generation(n);
        if (!m.get() || umn_register(n, m.get(), page(), cookie) != 0) {
            ++missed;
            continue;
        }
        m.unmap();
        bool seen = umn_generation(n) > before && umn_get_invalid(n, &drained, 1) == 1;
        missed += !seen || drained != cookie;
    }
    umn_notifier_close(n);
    return missed;
}

TEST(HooksPatching, ThreadsMappingAndUnmappingWhileLibcIsPatchedSeeEveryLaterUnmap) {
    std::atomic<bool> stop{false};
    std::vector<size_t> churned(2);
    std::vector<std::thread> churners;
    for (size_t &count : churned) churners.emplace_back([&] { count = churn_until(stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

    umn_notifier *first = nullptr;
    int rc = umn_notifier_open(&first, UMN_MONITOR_HOOKS);  // patches libc now
    if (rc == -ENOTSUP) {
        stop = true;
        for (auto &t : churners) t.join();
        GTEST_SKIP() << "hooks monitor unavailable here";
    }
    ASSERT_EQ(rc, 0);

    const size_t rounds = umn::test::rounds(2000);
    std::vector<size_t> missed(2);
    std::vector<std::thread> checkers;
    for (size_t t = 0; t < missed.size(); ++t)
        checkers.emplace_back([&, t] {
            for (uint64_t batch = 0; batch < 10; ++batch)  // a new notifier each batch
                missed[t] += unmap_registered_pages(rounds / 10, (t << 32) + batch * rounds);
        });
    for (auto &t : checkers) t.join();
    stop = true;
    for (auto &t : churners) t.join();
    umn_notifier_close(first);

    for (size_t t = 0; t < missed.size(); ++t) {
        EXPECT_GT(churned[t], 0u) << "churning thread " << t << " stopped";
        EXPECT_EQ(missed[t], 0u) << "unmaps not reported to checking thread " << t;
    }
}

// What the other library's hook does inside each call, before its system
// call (set by a test).
std::atomic<void (*)(void *, size_t)> inside_foreign_munmap{nullptr};

// Another library's munmap hook: the system call by its own instruction, so
// no hook of umn's sees it (only the trampoline that chains to it).
int foreign_munmap(void *addr, size_t len) {
    if (auto inside = inside_foreign_munmap.load()) inside(addr, len);
    long r = umn::sys::raw_syscall6(SYS_munmap, reinterpret_cast<long>(addr),
                                    static_cast<long>(len), 0, 0, 0, 0);
    if (!umn::sys::raw_failed(r)) return 0;
    errno = static_cast<int>(-r);
    return -1;
}

// Writes a jump to foreign_munmap over libc's munmap, as another library
// would; false with the reason if it cannot.
bool write_foreign_munmap_jump(std::string *why) {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void *fn = libc ? dlsym(libc, "munmap") : nullptr;
    Dl_info info;
    ElfW(Sym) *sym = nullptr;
    if (!fn || !dladdr1(fn, &info, reinterpret_cast<void **>(&sym), RTLD_DL_SYMENT) || !sym) {
        *why = "libc's munmap not found";
        return false;
    }
    umn::patch::plan p =
        umn::patch::plan_function(reinterpret_cast<uintptr_t>(fn), sym->st_size, SYS_munmap);
    if (p.how == umn::patch::mode::none) {
        *why = "libc's munmap cannot be patched: " + p.why;
        return false;
    }
    static auto *area = new umn::patch::code_area(p.at);  // its code stays for the process
    const uintptr_t jump = area->add_jump(reinterpret_cast<uintptr_t>(&foreign_munmap));
    if (!jump || area->seal() || umn::patch::write_jump(p, jump)) {
        *why = "writing the jump failed";
        return false;
    }
    return true;
}

// Once per process (the tests may run in one).
bool patch_munmap_as_another_library(std::string *why) {
    static std::string failed;
    static const bool patched = write_foreign_munmap_jump(&failed);
    *why = failed;
    return patched;
}

// Patches libc's munmap as another library would, then opens a hooks
// notifier: 0, -ENOTSUP with *why (the test is skipped), or the open's error.
int open_behind_another_library(umn_notifier **n, std::string *why) {
    if (!umn::patch::supported(why) || !patch_munmap_as_another_library(why)) return -ENOTSUP;
    int rc = umn_notifier_open(n, UMN_MONITOR_HOOKS);
    if (rc == -ENOTSUP) *why = "hooks monitor unavailable here";
    return rc;
}

// Whether libc's munmap is chained behind the other library's hook (a
// registration re-patches it if umn had patched first).
bool libc_munmap_chained() {
    bool chained = false;
    for (const umn::hook_entry &h : umn::hooks_report())
        if (h.library == "libc" && h.name == "munmap") chained = h.how == "chained";
    return chained;
}

// Behind another library's hook the monitor calls that hook and runs again
// when it returns: the call's result and errno come back unchanged, and the
// 2 MiB chunks the monitor found mapped are forgotten, so a page unmapped
// beside a registered one gives -EFAULT (the other hook's system call is one
// no hook of umn's sees).
TEST(HooksPatching, ChainedBehindAnotherLibrarysMunmapForgetsMappedChunksAfterTheCall) {
    std::string why;
    umn_notifier *n = nullptr;
    int rc = open_behind_another_library(&n, &why);
    if (rc == -ENOTSUP) GTEST_SKIP() << why;
    ASSERT_EQ(rc, 0);

    const size_t chunk = 2 << 20;
    auto *m = static_cast<char *>(
        mmap(nullptr, 3 * chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(m, MAP_FAILED);
    char *c = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(m) + chunk - 1) & ~(chunk - 1));
    errno = 0;
    EXPECT_EQ(munmap(c + 1, page()), -1);  // unaligned
    EXPECT_EQ(errno, EINVAL);
    ASSERT_EQ(umn_register(n, c, page(), 1), 0);  // re-patches if umn had patched first
    EXPECT_TRUE(libc_munmap_chained()) << "libc's munmap is not chained behind the other hook";
    ASSERT_EQ(munmap(c + 3 * page(), page()), 0);
    EXPECT_EQ(umn_register(n, c + 3 * page(), page(), 2), -EFAULT);
    EXPECT_EQ(umn_register(n, c + 4 * page(), page(), 3), 0);
    umn_notifier_close(n);
    munmap(m, 3 * chunk);
}

// A registration made by another thread while the other library's hook is
// inside a munmap of its pages (after umn's first pass, before the system
// call) is invalid when munmap returns: the chained trampoline runs the
// second pass when the other hook returns, as an unchained hook does after
// its own system call.
namespace register_inside {
char *pages = nullptr;      // the range unmapped
std::atomic<int> stage{0};  // 1: the hook is inside the call; 2: registered
int result = -1;            // the registration's, published by stage 2
uint64_t generation = 0;    // after it, published by stage 2

void wait_for(int wanted) {
    for (int i = 0; stage.load(std::memory_order_acquire) < wanted && i < 5000; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void let_another_thread_register(void *addr, size_t) {
    if (addr != pages || stage.load() != 0) return;
    stage.store(1, std::memory_order_release);
    wait_for(2);
}
}  // namespace register_inside

TEST(HooksPatching, ChainedBehindAnotherLibrarysMunmapInvalidatesARegistrationMadeDuringTheCall) {
    namespace inside = register_inside;
    std::string why;
    umn_notifier *n = nullptr;
    int rc = open_behind_another_library(&n, &why);
    if (rc == -ENOTSUP) GTEST_SKIP() << why;
    ASSERT_EQ(rc, 0);
    umn::test::mapping neighbour(1), target(2);
    ASSERT_TRUE(neighbour.get() && target.get());
    ASSERT_EQ(umn_register(n, neighbour.get(), page(), 1), 0);  // re-patches if umn was first
    ASSERT_TRUE(libc_munmap_chained()) << "libc's munmap is not chained behind the other hook";

    inside::pages = target.get();
    inside::stage.store(0);
    std::thread registrar([n] {
        inside::wait_for(1);
        inside::result = umn_register(n, inside::pages, 2 * page(), 2);
        inside::generation = umn_generation(n);
        inside::stage.store(2, std::memory_order_release);
    });
    inside_foreign_munmap.store(inside::let_another_thread_register);
    target.release();
    EXPECT_EQ(munmap(inside::pages, 2 * page()), 0);
    inside_foreign_munmap.store(nullptr);
    registrar.join();
    ASSERT_EQ(inside::stage.load(), 2) << "the other hook was not entered";
    ASSERT_EQ(inside::result, 0);
    EXPECT_GT(umn_generation(n), inside::generation)
        << "munmap returned with a registration of its pages still valid";
    uint64_t drained[2] = {};
    EXPECT_EQ(umn_get_invalid(n, drained, 2), 1);
    EXPECT_EQ(drained[0], 2u);
    umn_notifier_close(n);
}

}  // namespace
