#include <umn/umn.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

TEST(Smoke, MunmapInvalidates) {
    umn_notifier *n;
    ASSERT_EQ(umn_notifier_open(&n, UMN_MONITOR_UFFD), 0);
    long page = sysconf(_SC_PAGESIZE);
    void *p = mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    ASSERT_EQ(umn_register(n, p, 3 * page, 42), 0);
    uint64_t g = umn_generation(n);
    ASSERT_EQ(munmap(p, page), 0);
    EXPECT_GT(umn_generation(n), g);
    uint64_t c[4];
    EXPECT_EQ(umn_get_invalid(n, c, 4), 1);
    EXPECT_EQ(c[0], 42u);
    EXPECT_EQ(umn_get_invalid(n, c, 4), 0);
    munmap((char *)p + page, 2 * page);
    umn_notifier_close(n);
}
