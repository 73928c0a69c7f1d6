// SPDX-License-Identifier: BSD-3-Clause
// umn.hpp: a cache releases its registrar after itself, a registrar what it
// keeps alive (the ring) after itself, cache_params sets struct_size, and a
// region_ref that outlives its cache is an assertion in builds without NDEBUG
// (this file is one: umn.hpp is included with NDEBUG undefined).
#undef NDEBUG
#include <umn/umn.hpp>

#include "support.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <liburing.h>
#include <memory>
#include <string>
#include <vector>

namespace umn::test {
namespace {

// Records reg/dereg and the end of what the registrar keeps alive.
struct order_log {
    std::vector<std::string> events;
    static int reg(void *ctx, void *, size_t, uint64_t *handle) {
        static_cast<order_log *>(ctx)->events.push_back("reg");
        *handle = 1;
        return 0;
    }
    static void dereg(void *ctx, void *, size_t, uint64_t) {
        static_cast<order_log *>(ctx)->events.push_back("dereg");
    }
};

umn::registrar logging_registrar(order_log &log) {
    std::error_code ec;
    umn::registrar plain = umn::registrar::callbacks(ec, &log, order_log::reg, order_log::dereg);
    EXPECT_FALSE(ec);
    std::shared_ptr<void> device(
        &log, [](void *p) { static_cast<order_log *>(p)->events.push_back("device gone"); });
    return umn::registrar::adopt(plain.get(), std::move(device));
}

TEST(CppRaii, CacheDeregistersBeforeItsRegistrarLetsTheDeviceGo) {
    order_log log;
    mapping m(1);
    {
        std::error_code ec;
        umn::cache c = umn::cache::create(ec, logging_registrar(log));
        ASSERT_TRUE(c) << ec.message() << ": " << umn::last_error();
        umn::region_ref r = c.get(m.get(), 8, ec);
        ASSERT_TRUE(r);
    }
    EXPECT_EQ(log.events, (std::vector<std::string>{"reg", "dereg", "device gone"}));
}

TEST(CppRaii, FailedCreateReleasesTheRegistrar) {
    order_log log;
    umn::cache_params p;
    p.alignment = 3;  // not a power of two
    std::error_code ec;
    umn::cache c = umn::cache::create(ec, logging_registrar(log), p);
    EXPECT_FALSE(c);
    EXPECT_EQ(ec, std::errc::invalid_argument);
    EXPECT_NE(std::string(umn::last_error()).find("alignment"), std::string::npos);
    EXPECT_EQ(log.events, (std::vector<std::string>{"device gone"}));
}

TEST(CppRaii, CacheParamsSetStructSizeAndDefaults) {
    umn::cache_params p;
    EXPECT_EQ(p.struct_size, sizeof(umn_cache_params));
    EXPECT_EQ(p.monitor, UMN_MONITOR_AUTO);
    EXPECT_EQ(p.max_regions, 0u);
    EXPECT_EQ(p.max_bytes, 0u);
    EXPECT_EQ(p.alignment, 0u);
}

TEST(CppRaii, StatsThroughTheWrappers) {
    order_log log;
    mapping m(1);
    std::error_code ec;
    umn::cache c = umn::cache::create(ec, logging_registrar(log));
    ASSERT_TRUE(c);
    for (int i = 0; i < 3; ++i) c.get(m.get(), 8, ec);
    struct umn_cache_stats s = c.stats(ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(s.hits, 2u);
    EXPECT_EQ(s.misses, 1u);
}

// The registrar shares the ring: the cache, then the registrar (which empties
// the ring's buffer table), then the ring go, whichever order the owners drop them.
TEST(CppRaii, IoUringRingOutlivesTheRegistrarThatUsesIt) {
    auto ring = std::shared_ptr<struct io_uring>(new struct io_uring, [](struct io_uring *r) {
        io_uring_queue_exit(r);
        delete r;
    });
    if (int rc = io_uring_queue_init(4, ring.get(), 0); rc < 0) {
        // Not initialized: exit must not run on it.
        ring = std::shared_ptr<struct io_uring>(new struct io_uring,
                                                [](struct io_uring *r) { delete r; });
        GTEST_SKIP() << "io_uring unavailable here: " << strerror(-rc);
    }
    std::weak_ptr<struct io_uring> watch = ring;
    mapping m(1);
    std::error_code ec;
    umn::cache c = umn::cache::create(ec, umn::registrar::io_uring(ec, std::move(ring), 4));
    ASSERT_TRUE(c) << ec.message() << ": " << umn::last_error();
    umn::region_ref r = c.get(m.get(), 8, ec);
    ASSERT_TRUE(r) << umn::last_error();
    EXPECT_EQ(r.handle(), 0u);
    EXPECT_FALSE(watch.expired()) << "the registrar keeps the ring";
    r.reset();
    c = umn::cache();
    EXPECT_TRUE(watch.expired()) << "the ring goes with the cache's registrar";
}

TEST(CppRaiiDeathTest, RegionRefOutlivingItsCacheAsserts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            order_log log;
            mapping m(1);
            std::error_code ec;
            umn::cache c = umn::cache::create(ec, logging_registrar(log));
            umn::region_ref r = c.get(m.get(), 8, ec);
            c = umn::cache();  // r is still held
        },
        "a umn::region_ref outlives its umn::cache");
}

}  // namespace
}  // namespace umn::test
