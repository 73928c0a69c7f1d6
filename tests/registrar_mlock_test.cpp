// SPDX-License-Identifier: BSD-3-Clause
// The mlock registrar locks the pages of each region and unlocks a page only
// when no region holds it: the overlap policy keeps an old region alive next
// to the union that replaced it, and mlock itself does not nest.
#include "cache_support.hpp"

#include <fstream>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace umn::test {
namespace {

// VmLck of this process, in bytes.
size_t locked_bytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmLck:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
    return 0;
}

// Whether locking a page shows in VmLck (not where RLIMIT_MEMLOCK is 0).
// Through syscall(), as the registrar calls it: the sanitizers intercept
// mlock as a no-op.
bool mlock_takes_effect() {
    mapping probe(1);
    size_t before = locked_bytes();
    if (syscall(SYS_mlock, probe.get(), probe.size()) != 0) return false;
    bool locked = locked_bytes() > before;
    syscall(SYS_munlock, probe.get(), probe.size());
    return locked;
}

class RegistrarMlock : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!mlock_takes_effect())
            GTEST_SKIP() << "mlock has no visible effect here (RLIMIT_MEMLOCK is 0?)";
        ASSERT_EQ(umn_registrar_mlock(&registrar), 0);
        umn_cache_params p = cache_params();
        ASSERT_EQ(umn_cache_create(&cache, &registrar, &p), 0);
        base = locked_bytes();
    }
    void TearDown() override { umn_cache_destroy(cache); }
    umn_region *get(const void *addr, size_t len) {
        umn_region *r = nullptr;
        int rc = umn_cache_get(cache, addr, len, &r);
        if (rc == -ENOMEM || rc == -EAGAIN || rc == -EPERM)
            ADD_FAILURE() << "mlock refused (RLIMIT_MEMLOCK?): " << rc;
        return r;
    }

    umn_registrar registrar{};
    umn_cache *cache = nullptr;
    size_t base = 0;
};

TEST_F(RegistrarMlock, OverlappingRegionsKeepSharedPagesLocked) {
    mapping m(4);
    umn_region *left = get(m.get(), 2 * page());
    ASSERT_NE(left, nullptr);
    EXPECT_EQ(locked_bytes(), base + 2 * page());
    umn_region *both = get(m.get() + page(), 2 * page());  // the union: pages 0-2
    ASSERT_NE(both, nullptr);
    EXPECT_NE(umn_region_handle(both), umn_region_handle(left));
    EXPECT_EQ(locked_bytes(), base + 3 * page());
    umn_cache_put(cache, left);  // the retired region deregisters now
    EXPECT_EQ(locked_bytes(), base + 3 * page()) << "munlock of the old region unlocked the union";
    umn_cache_put(cache, both);
    umn_cache_destroy(cache);
    cache = nullptr;
    EXPECT_EQ(locked_bytes(), base) << "destroy left pages locked";
}

TEST_F(RegistrarMlock, UnmappedRegionIsRelockedAtTheSameAddress) {
    mapping m(2);
    void *addr = m.get();
    umn_region *r = get(addr, m.size());
    ASSERT_NE(r, nullptr);
    umn_cache_put(cache, r);
    m.unmap();
    EXPECT_EQ(locked_bytes(), base);
    void *p = mmap(addr, 2 * page(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != addr) GTEST_SKIP() << "the address was taken meanwhile";
    umn_region *again = get(addr, 2 * page());
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(locked_bytes(), base + 2 * page()) << "the new pages are not locked";
    umn_cache_put(cache, again);
    munmap(p, 2 * page());
}

TEST(RegistrarMlockCreate, RejectsNull) {
    EXPECT_EQ(umn_registrar_mlock(nullptr), -EINVAL);
}

}  // namespace
}  // namespace umn::test
