// SPDX-License-Identifier: BSD-3-Clause
// umn and UCX in one process: UCX's libucm hooks feed a ucs_rcache while
// umn's monitor feeds a umn cache, both over the same buffers. Each buffer is
// replaced (munmap + mmap, mmap(MAP_FIXED) over, MADV_DONTNEED, mremap, and
// free + malloc), and after each replacement both caches must register anew:
// each cache's registration captured what the "device" would hold (the
// page's stamp, or its physical frame from /proc/self/pagemap), and a get
// that returns a capture older than the memory behind the buffer now is
// stale. Neither may crash, and both must receive their events.
#include "monitor/hooks.hpp"
#include "stamp_registrar.hpp"
#include "stress.hpp"
#include "stamped_slots.hpp"
#include "support.hpp"

#include "pagemap.hpp"

extern "C" {  // rcache.h declares no C linkage itself
#include <ucm/api/ucm.h>
#include <ucs/memory/rcache.h>
}

#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <malloc.h>
#include <random>
#include <sys/mman.h>
#include <vector>

namespace umn::reliability {
namespace {

using capture_fn = stamp_registrar::capture_fn;

// A ucs_rcache region with the first page's capture appended.
struct ucx_region {
    ucs_rcache_region_t super;
    uint64_t captured;
};

struct ucx_context {
    capture_fn capture;
    uint64_t regs = 0;
    uint64_t deregs = 0;
};

ucs_status_t ucx_reg(void *context, ucs_rcache_t *, void *, ucs_rcache_region_t *region, uint16_t) {
    auto *ctx = static_cast<ucx_context *>(context);
    auto *r = reinterpret_cast<ucx_region *>(region);
    r->captured = ctx->capture(reinterpret_cast<void *>(region->super.start), 1).at(0);
    ++ctx->regs;
    return UCS_OK;
}

void ucx_dereg(void *context, ucs_rcache_t *, ucs_rcache_region_t *) {
    ++static_cast<ucx_context *>(context)->deregs;
}

void ucx_dump(void *, ucs_rcache_t *, ucs_rcache_region_t *, char *buf, size_t max) {
    if (max) buf[0] = '\0';
}

const ucs_rcache_ops_t ucx_ops = {ucx_reg, ucx_dereg, ucx_dump};

// Both caches over one capture.
class two_caches {
  public:
    explicit two_caches(capture_fn capture) : umn_reg_(capture, false) {
        ucx_ctx_.capture = std::move(capture);
        ucs_rcache_params_t p{};
        p.region_struct_size = sizeof(ucx_region);
        p.alignment = UCS_RCACHE_MIN_ALIGNMENT;
        p.max_alignment = umn::test::page();
        p.ucm_events = UCM_EVENT_VM_UNMAPPED;
        p.ucm_event_priority = 1000;
        p.ops = &ucx_ops;
        p.context = &ucx_ctx_;
        p.max_regions = ULONG_MAX;
        p.max_size = SIZE_MAX;
        p.max_unreleased = SIZE_MAX;
        ucx_status_ = ucs_rcache_create(&p, "umn-coexistence", nullptr, &rcache_);
        umn_registrar r = umn_reg_.registrar();
        umn_status_ = umn_cache_create(&cache_, &r, nullptr);
    }
    ~two_caches() {
        umn_cache_destroy(cache_);
        if (rcache_) ucs_rcache_destroy(rcache_);
    }
    bool ok() const { return ucx_status_ == UCS_OK && umn_status_ == 0; }

    // Gets [p, p + len) from both caches; counts captures older than `now`
    // (the value behind p at this moment) as stale.
    void get_both(void *p, size_t len, uint64_t now) {
        ucs_rcache_region_t *ur = nullptr;
        if (ucs_rcache_get(rcache_, p, len, PROT_READ | PROT_WRITE, nullptr, &ur) != UCS_OK) {
            ++errors;
        } else {
            uint64_t first_page_start = reinterpret_cast<uintptr_t>(p) & ~(umn::test::page() - 1);
            if (ur->super.start == first_page_start)
                ucx_stale += reinterpret_cast<ucx_region *>(ur)->captured != now;
            ucs_rcache_region_put(rcache_, ur);
        }
        umn_region *r = nullptr;
        if (umn_cache_get(cache_, p, len, &r) != 0) {
            ++errors;
        } else {
            umn_stale += umn_reg_.captured(umn_region_handle(r), p) != now;
            umn_cache_put(cache_, r);
        }
    }

    uint64_t ucx_regs() const { return ucx_ctx_.regs; }
    uint64_t umn_regs() const { return umn_reg_.counts().regs; }

    uint64_t ucx_stale = 0;
    uint64_t umn_stale = 0;
    uint64_t errors = 0;

  private:
    ucx_context ucx_ctx_;
    stamp_registrar umn_reg_;
    ucs_rcache_t *rcache_ = nullptr;
    umn_cache *cache_ = nullptr;
    ucs_status_t ucx_status_;
    int umn_status_;
};

std::vector<uint64_t> stamps(const void *addr, size_t len) {
    std::vector<uint64_t> out;
    for (size_t off = 0; off < len; off += umn::test::page())
        out.push_back(stamped_slots::read_stamp(static_cast<const char *>(addr) + off));
    return out;
}

TEST(UcxCoexistence, RcacheAndUmnCacheBothInvalidateOnEveryReplacement) {
    stamped_slots slots(8);
    ASSERT_TRUE(slots.ok());
    two_caches caches(stamps);
    ASSERT_TRUE(caches.ok());
    std::mt19937 rng(1);
    // No mremap(MREMAP_FIXED): UCX 1.13's libucm hooks mremap with four
    // arguments and drops new_address, so the call fails (ENOMEM) in any
    // process that loads libucm (openucx/ucx#8820, fixed after 1.13).
    const unsigned all = stamped_slots::replace_munmap | stamped_slots::replace_map_fixed |
                         stamped_slots::replace_dontneed;
    const uint64_t rounds = umn::test::rounds(5000);
    for (uint64_t i = 0; i < rounds; ++i) {
        size_t s = rng() % slots.count();
        caches.get_both(slots.addr(s), 64, slots.version(s));
        caches.get_both(slots.addr(s), 64, slots.version(s));  // a hit in both
        ASSERT_TRUE(slots.replace(s, rng, all)) << "replacement " << i << ": " << strerror(errno);
    }
    std::printf(
        "ucx coexistence: %llu replacements; ucs_rcache %llu registrations, %llu stale; "
        "umn %llu registrations, %llu stale\n",
        static_cast<unsigned long long>(slots.replacements()),
        static_cast<unsigned long long>(caches.ucx_regs()),
        static_cast<unsigned long long>(caches.ucx_stale),
        static_cast<unsigned long long>(caches.umn_regs()),
        static_cast<unsigned long long>(caches.umn_stale));
    EXPECT_EQ(caches.errors, 0u);
    EXPECT_EQ(caches.umn_stale, 0u) << "umn missed events with UCX's hooks installed";
    EXPECT_EQ(caches.ucx_stale, 0u) << "UCX missed events with umn installed";
    // Every get after a replacement registered again in both.
    EXPECT_GE(caches.umn_regs(), rounds);
    EXPECT_GE(caches.ucx_regs(), rounds);
}

TEST(UcxCoexistence, RcacheAndUmnCacheBothInvalidateWhenFreeReturnsMemory) {
    testkit::pagemap pm;
    if (!pm.available())
        GTEST_SKIP() << "physical frame numbers in /proc/self/pagemap need root (CAP_SYS_ADMIN)";
    two_caches caches([&](const void *a, size_t n) { return pm.read(a, n); });
    ASSERT_TRUE(caches.ok());
    std::mt19937 rng(2);
    // A fixed threshold: glibc would otherwise raise it after the first free
    // and serve the next buffers from the heap, never unmapping them.
    mallopt(M_MMAP_THRESHOLD, 128 << 10);
    const uint64_t rounds = umn::test::rounds(500);
    for (uint64_t i = 0; i < rounds; ++i) {
        // Above the mmap threshold of glibc, jemalloc and friends: free unmaps.
        size_t len = (1 << 20) + rng() % (1 << 20);
        auto *p = static_cast<char *>(std::malloc(len));
        ASSERT_NE(p, nullptr);
        std::memset(p, static_cast<int>(i), len);
        uint64_t frame = pm.read(p, 1).at(0);
        caches.get_both(p, len, frame);
        caches.get_both(p, len, frame);
        std::free(p);
    }
    std::printf(
        "ucx coexistence (malloc/free): %llu rounds; ucs_rcache %llu registrations, "
        "%llu stale; umn %llu registrations, %llu stale\n",
        static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(caches.ucx_regs()),
        static_cast<unsigned long long>(caches.ucx_stale),
        static_cast<unsigned long long>(caches.umn_regs()),
        static_cast<unsigned long long>(caches.umn_stale));
    EXPECT_EQ(caches.errors, 0u);
    EXPECT_EQ(caches.umn_stale, 0u);
    EXPECT_EQ(caches.ucx_stale, 0u);
}

// The no-stale stress (no_stale_stress_test.cpp) with UCX's hooks installed
// before umn's: the hooks monitor then chains behind libucm, and a
// registration made while another thread's munmap is under way must still
// be invalidated before that munmap returns.
TEST(UcxCoexistence, NoStaleHitWhileUnmappingWithUcxHooksInstalledFirst) {
    two_caches ucx_first(stamps);  // an rcache: UCX's hooks are in place
    ASSERT_TRUE(ucx_first.ok());
    stress_config cfg;
    cfg.kinds = stamped_slots::replace_munmap | stamped_slots::replace_map_fixed;
    cfg.lookups = soak("UMN_SOAK_ROUNDS", 1000000);
    cfg.replacements = soak("UMN_SOAK_REPLACEMENTS", 100000);
    stamped_slots slots(cfg.slots);
    ASSERT_TRUE(slots.ok());
    stress_counts total = run_notifier_getters(cfg, slots);
    for (const hook_entry &h : hooks_report())
        if (h.library == "libc" && h.name == "munmap")
            std::printf("hooks: libc munmap %s %s\n", h.how.c_str(), h.detail.c_str());
    std::printf("ucx-first stress: %llu lookups, %llu misses, %llu replacements, %llu stale\n",
                static_cast<unsigned long long>(total.lookups),
                static_cast<unsigned long long>(total.misses),
                static_cast<unsigned long long>(slots.replacements()),
                static_cast<unsigned long long>(total.stale));
    EXPECT_EQ(total.stale, 0u) << "hits over memory replaced before the lookup began";
    EXPECT_EQ(total.errors + total.impossible, 0u);
    EXPECT_EQ(slots.failed_replacements(), 0u);
    EXPECT_GE(slots.replacements(), cfg.replacements);
}

// With UCX's hooks installed first the hooks monitor calls libucm's hook and
// runs again when it returns: the call's result and errno come back as they
// were, and the chunks found mapped are forgotten after an unmapping call, so
// a page unmapped (or moved away) beside a registered one gives -EFAULT.
TEST(UcxCoexistence, RegisterOverPagesUnmappedThroughUcxHooksGivesEfault) {
    two_caches ucx_first(stamps);
    ASSERT_TRUE(ucx_first.ok());
    umn_notifier *n = nullptr;
    ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_HOOKS), 0);
    for (const hook_entry &h : hooks_report())
        if (h.library == "libc" && h.name == "munmap")
            std::printf("hooks: libc munmap %s %s\n", h.how.c_str(), h.detail.c_str());
    const size_t page = umn::test::page(), chunk = 2 << 20;
    const size_t len = 3 * chunk;
    auto *m = static_cast<char *>(
        mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(m, MAP_FAILED);
    char *c = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(m) + chunk - 1) & ~(chunk - 1));
    auto *target = static_cast<char *>(
        mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(target, MAP_FAILED);
    errno = 0;
    EXPECT_EQ(munmap(c + 1, page), -1);  // unaligned: EINVAL through both hooks
    EXPECT_EQ(errno, EINVAL);
    ASSERT_EQ(umn_register(n, c, page, 1), 0);
    ASSERT_EQ(munmap(c + 3 * page, page), 0);
    EXPECT_EQ(umn_register(n, c + 3 * page, page, 2), -EFAULT);
    ASSERT_EQ(umn_register(n, c + chunk - page, page, 3), 0);
    // Grown, so moved away (the next page is mapped); libucm's mremap takes
    // no new address, so MREMAP_FIXED is not used.
    void *moved = mremap(c + 5 * page, page, 2 * page, MREMAP_MAYMOVE);
    ASSERT_NE(moved, MAP_FAILED);
    ASSERT_NE(moved, c + 5 * page);
    EXPECT_EQ(umn_register(n, c + 5 * page, page, 4), -EFAULT);
    EXPECT_EQ(umn_register(n, c + 6 * page, page, 5), 0);
    umn_notifier_close(n);
    munmap(m, len);
    munmap(target, page);
    munmap(moved, 2 * page);
}

}  // namespace
}  // namespace umn::reliability
