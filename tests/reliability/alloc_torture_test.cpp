// SPDX-License-Identifier: BSD-3-Clause
// The allocator torture: threads malloc, realloc and free buffers of every
// size class (small, medium, above the mmap thresholds) and umn_cache_get
// each live buffer, judged by ground truth: the registrar captures the
// physical frames of every page it registers (/proc/self/pagemap, root), and
// a get whose region captured other frames for the buffer's pages than the
// ones behind them now is stale. The buffer is live and owned by the getter,
// so its pages can only have changed before it was allocated.
//
// The same binary runs with the default allocator in every build, and in
// the plain build under jemalloc, tcmalloc and mimalloc (LD_PRELOAD; see
// CMakeLists.txt) with each monitor: allocators free memory back to the
// kernel in different ways (munmap, MADV_DONTNEED, MADV_FREE, brk).
//
// A get is checked only if no other thread was inside malloc/realloc/free
// when it began: with userfaultfd the kernel frees an unmapped range before
// it queues the event, so another thread can be handed the same addresses
// and hit the old region before that munmap returns (outside the contract,
// docs/cache.md). Transparent huge pages are disabled for the process
// (khugepaged would move pages without any unmapping call).
#include "stamp_registrar.hpp"
#include "support.hpp"

#include "pagemap.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <mutex>
#include <random>
#include <sys/prctl.h>
#include <thread>
#include <vector>

namespace umn::reliability {
namespace {

struct torture_counts {
    uint64_t gets = 0;
    uint64_t checked = 0;
    uint64_t stale = 0;
    uint64_t errors = 0;
    uint64_t allocations = 0;
    void add(const torture_counts &o) {
        gets += o.gets;
        checked += o.checked;
        stale += o.stale;
        errors += o.errors;
        allocations += o.allocations;
    }
};

// Threads inside an allocator call right now (see the top of the file).
std::atomic<int> allocator_calls{0};

template <class F>
auto in_allocator(F f) {
    allocator_calls.fetch_add(1, std::memory_order_seq_cst);
    auto result = f();
    allocator_calls.fetch_sub(1, std::memory_order_seq_cst);
    return result;
}

size_t random_size(std::mt19937 &rng) {
    unsigned pick = rng() % 16;
    if (pick < 7) return 16 + rng() % 4096;                 // small
    if (pick < 11) return 8192 + rng() % (120 << 10);       // medium
    if (pick < 15) return (130 << 10) + rng() % (1 << 20);  // above glibc's mmap threshold
    return (2 << 20) + rng() % (2 << 20);                   // large
}

struct buffer {
    char *p = nullptr;
    size_t len = 0;
};

class torturer {
  public:
    torturer(umn_cache *c, stamp_registrar &reg, const testkit::pagemap &pm, unsigned seed)
        : c_(c), reg_(reg), pm_(pm), rng_(seed), live_(12) {}
    ~torturer() {
        for (buffer &b : live_) std::free(b.p);
    }

    void step() {
        buffer &b = live_[rng_() % live_.size()];
        switch (rng_() % 8) {
            case 0:
            case 1:  // replace: free and allocate anew
                in_allocator([&] {
                    std::free(b.p);
                    return 0;
                });
                b = {nullptr, 0};
                [[fallthrough]];
            case 2:
                if (!b.p) allocate(b);
                break;
            case 3:  // grow or shrink
                if (b.p) reallocate(b);
                break;
            default:
                break;
        }
        if (b.p) get_and_check(b);
    }

    const torture_counts &counts() const { return counts_; }

  private:
    void allocate(buffer &b) {
        size_t len = random_size(rng_);
        auto *p = in_allocator([&] { return static_cast<char *>(std::malloc(len)); });
        if (!p) return;
        std::memset(p, static_cast<int>(rng_()), len);  // present, written pages
        b = {p, len};
        ++counts_.allocations;
    }

    void reallocate(buffer &b) {
        size_t len = random_size(rng_);
        auto *p = in_allocator([&] { return static_cast<char *>(std::realloc(b.p, len)); });
        if (!p) return;
        if (len > b.len) std::memset(p + b.len, static_cast<int>(rng_()), len - b.len);
        b = {p, len};
        ++counts_.allocations;
    }

    void get_and_check(const buffer &b) {
        ++counts_.gets;
        const bool checkable = allocator_calls.load(std::memory_order_seq_cst) == 0;
        umn_region *r = nullptr;
        if (umn_cache_get(c_, b.p, b.len, &r) != 0) {
            ++counts_.errors;
            return;
        }
        if (checkable) {
            ++counts_.checked;
            testkit::frames now = pm_.read(b.p, b.len);
            const uintptr_t first = reinterpret_cast<uintptr_t>(b.p) & ~(page() - 1);
            for (size_t i = 0; i < now.size(); ++i) {
                uint64_t then = reg_.captured(umn_region_handle(r),
                                              reinterpret_cast<void *>(first + i * page()));
                if (then != 0 && then != now[i]) {
                    ++counts_.stale;
                    break;
                }
            }
        }
        umn_cache_put(c_, r);
    }

    static size_t page() { return umn::test::page(); }

    umn_cache *c_;
    stamp_registrar &reg_;
    const testkit::pagemap &pm_;
    std::mt19937 rng_;
    std::vector<buffer> live_;
    torture_counts counts_;
};

// Whether the library at `path` is mapped into this process.
bool mapped(const std::string &path) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line))
        if (line.find(path) != std::string::npos) return true;
    return false;
}

TEST(AllocatorTorture, MallocReallocFreeNeverGetAStaleRegion) {
    testkit::pagemap pm;
    if (const char *why = umn::test::why_no_allocator_torture(pm.available())) GTEST_SKIP() << why;
    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
    const char *preload = std::getenv("LD_PRELOAD");
    std::printf("allocator: %s\n", preload && *preload ? preload : "default");
    if (preload && *preload) {
        EXPECT_TRUE(mapped(preload)) << preload << " is not loaded";
    }
    stamp_registrar reg([&](const void *a, size_t n) { return pm.read(a, n); }, false);
    umn_registrar r = reg.registrar();
    umn_cache_params params{};
    params.struct_size = sizeof params;
    params.max_regions = 256;  // small: eviction runs too
    umn_cache *c = nullptr;
    ASSERT_EQ(umn_cache_create(&c, &r, &params), 0);

    const unsigned threads = 2;
    const uint64_t steps = umn::test::rounds(20000);
    torture_counts total;
    std::mutex lock;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            torturer tt(c, reg, pm, t + 1);
            for (uint64_t s = 0; s < steps; ++s) tt.step();
            std::lock_guard g(lock);
            total.add(tt.counts());
        });
    }
    for (auto &t : pool) t.join();
    umn_cache_destroy(c);
    registrar_counts rc = reg.counts();
    std::printf(
        "allocator torture: %llu allocations, %llu gets (%llu checked), %llu registrations, "
        "%llu stale\n",
        static_cast<unsigned long long>(total.allocations),
        static_cast<unsigned long long>(total.gets), static_cast<unsigned long long>(total.checked),
        static_cast<unsigned long long>(rc.regs), static_cast<unsigned long long>(total.stale));
    RecordProperty("gets", std::to_string(total.gets));
    EXPECT_EQ(total.stale, 0u) << "a get returned a region whose pages had changed";
    EXPECT_EQ(total.errors, 0u) << "a get on a live buffer failed";
    EXPECT_GT(total.checked, total.gets / 4);
    EXPECT_EQ(rc.regs, rc.deregs);
    EXPECT_EQ(rc.bad_deregs, 0u);
    EXPECT_EQ(reg.live(), 0u);
}

}  // namespace
}  // namespace umn::reliability
