// SPDX-License-Identifier: BSD-3-Clause
// The io_uring registrar, and the bug umn exists for: io_uring keeps the pages
// it pinned when a fixed buffer was registered, so after munmap + mmap
// (MAP_FIXED) of the buffer, WRITE_FIXED writes the OLD pages' contents. A
// naive cache (register once, reuse the index) shows it; the umn cache, asked
// before each write, re-registers and writes the new contents.
#include "cache_support.hpp"

#include <cstring>
#include <liburing.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace umn::test {
namespace {

constexpr size_t buffer_len = 64 * 1024;

class RegistrarIoUring : public ::testing::Test {
  protected:
    void SetUp() override {
        int rc = io_uring_queue_init(8, &ring, 0);
        if (rc < 0)
            GTEST_SKIP() << "io_uring unavailable here (io_uring_queue_init: " << strerror(-rc)
                         << "; seccomp or kernel.io_uring_disabled?)";
        ring_open = true;
        file = memfd_create("umn-io_uring-test", MFD_CLOEXEC);
        ASSERT_GE(file, 0);
        ASSERT_EQ(ftruncate(file, buffer_len), 0);
        void *p = mmap(nullptr, buffer_len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        ASSERT_NE(p, MAP_FAILED);
        buf = static_cast<char *>(p);
        std::memset(buf, 'o', buffer_len);  // the old contents
    }
    void TearDown() override {
        umn_cache_destroy(cache);
        umn_registrar_release(&registrar);
        if (buf) munmap(buf, buffer_len);
        if (file >= 0) close(file);
        if (ring_open) io_uring_queue_exit(&ring);
    }

    // munmap the buffer and map new memory at the same address, filled with 'n'.
    void replace_buffer() {
        ASSERT_EQ(munmap(buf, buffer_len), 0);
        void *p = mmap(buf, buffer_len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0);
        ASSERT_EQ(p, buf);
        std::memset(buf, 'n', buffer_len);
    }

    // IORING_OP_WRITE_FIXED of the buffer to the file; returns the first byte
    // the file received, or 0 on failure.
    char write_fixed(uint64_t index) {
        std::memset(read_back, 0, sizeof read_back);
        io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        if (!sqe) return 0;
        io_uring_prep_write_fixed(sqe, file, buf, buffer_len, 0, static_cast<int>(index));
        if (io_uring_submit(&ring) != 1) return 0;
        io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&ring, &cqe) != 0) return 0;
        int res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
        EXPECT_EQ(res, static_cast<int>(buffer_len)) << strerror(res < 0 ? -res : 0);
        if (pread(file, read_back, sizeof read_back, 0) != sizeof read_back) return 0;
        return read_back[0];
    }

    void open_cache(unsigned slots) {
        ASSERT_EQ(umn_registrar_io_uring(&registrar, &ring, slots), 0);
        umn_cache_params p = cache_params();
        ASSERT_EQ(umn_cache_create(&cache, &registrar, &p), 0);
    }

    io_uring ring{};
    bool ring_open = false;
    int file = -1;
    char *buf = nullptr;
    char read_back[16];
    umn_registrar registrar{};
    umn_cache *cache = nullptr;
};

TEST_F(RegistrarIoUring, NaiveCacheWritesTheOldPagesAfterMunmapAndMapFixed) {
    ASSERT_EQ(umn_registrar_io_uring(&registrar, &ring, 4), 0);
    uint64_t index;  // the naive cache: register once, keep the index
    ASSERT_EQ(registrar.reg(registrar.ctx, buf, buffer_len, &index), 0);
    EXPECT_EQ(write_fixed(index), 'o');
    replace_buffer();
    EXPECT_EQ(write_fixed(index), 'o')
        << "the kernel now writes the new pages: io_uring no longer keeps the old ones";
    registrar.dereg(registrar.ctx, buf, buffer_len, index);
}

TEST_F(RegistrarIoUring, UmnCacheWritesTheNewPagesAfterMunmapAndMapFixed) {
    open_cache(4);
    umn_region *r;
    ASSERT_EQ(umn_cache_get(cache, buf, buffer_len, &r), 0);
    EXPECT_EQ(write_fixed(umn_region_handle(r)), 'o');
    umn_cache_put(cache, r);
    replace_buffer();
    ASSERT_EQ(umn_cache_get(cache, buf, buffer_len, &r), 0);
    EXPECT_EQ(write_fixed(umn_region_handle(r)), 'n') << "a stale fixed buffer";
    umn_cache_put(cache, r);
    // A hit keeps working on the new pages.
    ASSERT_EQ(umn_cache_get(cache, buf, buffer_len, &r), 0);
    EXPECT_EQ(write_fixed(umn_region_handle(r)), 'n');
    umn_cache_put(cache, r);
}

TEST_F(RegistrarIoUring, FullTableGivesEnobufsOnlyWhenNothingCanBeEvicted) {
    open_cache(2);
    umn_region *a, *b, *d;
    ASSERT_EQ(umn_cache_get(cache, buf, 4096, &a), 0);
    ASSERT_EQ(umn_cache_get(cache, buf + 2 * 4096, 4096, &b), 0);
    // Not -ENOSPC, which is the notifier's registration limit.
    EXPECT_EQ(umn_cache_get(cache, buf + 4 * 4096, 4096, &d), -ENOBUFS);
    EXPECT_STREQ(umn_last_error(), "io_uring fixed-buffer table full: all 2 slots in use");
    umn_cache_put(cache, a);
    ASSERT_EQ(umn_cache_get(cache, buf + 4 * 4096, 4096, &d), 0) << "a was not evicted";
    EXPECT_NE(umn_region_handle(d), umn_region_handle(b));
    umn_cache_put(cache, b);
    umn_cache_put(cache, d);
}

TEST_F(RegistrarIoUring, RejectsBadArgumentsAndASecondTable) {
    EXPECT_EQ(umn_registrar_io_uring(nullptr, &ring, 4), -EINVAL);
    EXPECT_EQ(umn_registrar_io_uring(&registrar, nullptr, 4), -EINVAL);
    EXPECT_EQ(umn_registrar_io_uring(&registrar, &ring, 0), -EINVAL);
    EXPECT_EQ(umn_registrar_io_uring(&registrar, &ring, 1u << 20), -EINVAL);
    ASSERT_EQ(umn_registrar_io_uring(&registrar, &ring, 4), 0);
    umn_registrar second;
    EXPECT_EQ(umn_registrar_io_uring(&second, &ring, 4), -EBUSY);
    umn_registrar_release(&registrar);
    EXPECT_EQ(registrar.reg, nullptr);
    umn_registrar_release(&registrar);  // twice: harmless
    ASSERT_EQ(umn_registrar_io_uring(&registrar, &ring, 4), 0) << "release left the table";
}

TEST(RegistrarRelease, HandFilledRegistrarIsOnlyCleared) {
    int ctx = 0;
    umn_registrar r;
    ASSERT_EQ(umn_registrar_callbacks(
                  &r, &ctx, [](void *, void *, size_t, uint64_t *) { return 0; },
                  [](void *, void *, size_t, uint64_t) {}),
              0);
    EXPECT_EQ(r.ctx, &ctx);
    umn_registrar_release(&r);
    EXPECT_EQ(r.ctx, nullptr);
    umn_registrar_release(nullptr);
    EXPECT_EQ(umn_registrar_callbacks(&r, &ctx, nullptr, nullptr), -EINVAL);
    EXPECT_EQ(umn_registrar_callbacks(nullptr, &ctx, nullptr, nullptr), -EINVAL);
}

}  // namespace
}  // namespace umn::test
