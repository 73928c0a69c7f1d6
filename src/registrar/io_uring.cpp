// SPDX-License-Identifier: BSD-3-Clause
// The io_uring registrar: each region is one slot of the ring's fixed-buffer
// table (handle = the buffer index for READ_FIXED/WRITE_FIXED).
//
// The constructor installs a sparse table (IORING_REGISTER_BUFFERS2 with
// IORING_RSRC_REGISTER_SPARSE, Linux 5.19+); reg and dereg update one slot
// each (IORING_REGISTER_BUFFERS_UPDATE). io_uring keeps the pages it pinned
// at registration even after munmap/MAP_FIXED/MADV_DONTNEED/mremap of the
// buffer, which is why the cache must re-register after those.
//
// It talks to the kernel with the io_uring_register system call directly, so
// libumn does not link liburing; liburing.h is used only for the layout of
// struct io_uring (its ring_fd), which liburing keeps stable within its ABI.
//
// Locking: a context's lock guards its free-slot stack and brackets each slot
// update, so a slot is never handed out twice.
#include "diagnostics/reason.hpp"
#include "registrar/registrar.hpp"

#include <cerrno>
#include <cstring>
#include <cstdint>
#include <liburing.h>
#include <mutex>
#include <new>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace umn {

namespace {

constexpr unsigned max_slots = 1u << 14;  // the kernel's IORING_MAX_REG_BUFFERS

int ring_register(int fd, unsigned opcode, void *arg, unsigned nr) {
    long rc = syscall(__NR_io_uring_register, fd, opcode, arg, nr);
    return rc < 0 ? -errno : static_cast<int>(rc);
}

// Points slot at [base, base + len); a null base empties it.
int update_slot(int fd, unsigned slot, void *base, size_t len) {
    iovec iov{base, len};
    io_uring_rsrc_update2 update{};
    update.offset = slot;
    update.data = reinterpret_cast<uintptr_t>(&iov);
    update.nr = 1;
    int rc = ring_register(fd, IORING_REGISTER_BUFFERS_UPDATE, &update, sizeof update);
    return rc < 0 ? rc : 0;
}

class io_uring_context final : public registrar_context {
  public:
    explicit io_uring_context(int fd) : fd_(fd) {}
    ~io_uring_context() override { ring_register(fd_, IORING_UNREGISTER_BUFFERS, nullptr, 0); }

    // Fills free_ with every slot, lowest on top.
    int init(unsigned slots) {
        try {
            free_.reserve(slots);
        } catch (const std::bad_alloc &) {
            return -ENOMEM;
        }
        for (unsigned s = slots; s > 0; --s) free_.push_back(s - 1);
        return 0;
    }

    bool pins() const override { return true; }

    int reg(void *addr, size_t len, uint64_t *handle) {
        std::lock_guard g(lock_);
        if (free_.empty())
            return fail(-ENOBUFS, "io_uring fixed-buffer table full: all %zu slots in use",
                        free_.capacity());
        unsigned slot = free_.back();
        if (int rc = update_slot(fd_, slot, addr, len))
            return pin_failure(-rc, "io_uring buffer registration (IORING_REGISTER_BUFFERS_UPDATE)",
                               addr, len);
        free_.pop_back();
        *handle = slot;
        return 0;
    }

    void dereg(uint64_t handle) {
        std::lock_guard g(lock_);
        auto slot = static_cast<unsigned>(handle);
        // Cannot fail for a slot we filled on a live ring; if it did, keeping
        // the slot out of circulation is the safe choice.
        if (update_slot(fd_, slot, nullptr, 0) == 0) free_.push_back(slot);
    }

  private:
    int fd_;
    std::mutex lock_;
    std::vector<unsigned> free_;  // capacity reserved up front: push_back never allocates
};

int io_uring_reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    return static_cast<io_uring_context *>(ctx)->reg(addr, len, handle);
}

void io_uring_dereg(void *ctx, void *, size_t, uint64_t handle) {
    static_cast<io_uring_context *>(ctx)->dereg(handle);
}

}  // namespace

}  // namespace umn

extern "C" int umn_registrar_io_uring(struct umn_registrar *out, struct io_uring *ring,
                                      unsigned slots) {
    using umn::fail;
    if (!out) return fail(-EINVAL, "umn_registrar_io_uring: out is NULL");
    *out = umn_registrar{};
    if (!ring) return fail(-EINVAL, "umn_registrar_io_uring: ring is NULL");
    if (slots == 0 || slots > umn::max_slots)
        return fail(-EINVAL, "umn_registrar_io_uring: slots is %u, not 1..%u", slots,
                    umn::max_slots);
    if (ring->ring_fd < 0) return fail(-EBADF, "umn_registrar_io_uring: the ring is not set up");
    io_uring_rsrc_register table{};
    table.nr = slots;
    table.flags = IORING_RSRC_REGISTER_SPARSE;
    int rc = umn::ring_register(ring->ring_fd, IORING_REGISTER_BUFFERS2, &table, sizeof table);
    if (rc == -EBUSY)
        return fail(rc, "umn_registrar_io_uring: the ring already has a buffer table");
    if (rc < 0)
        return fail(rc, "umn_registrar_io_uring: IORING_REGISTER_BUFFERS2 (sparse, %u slots): %s",
                    slots, strerrordesc_np(-rc));
    auto *ctx = new (std::nothrow) umn::io_uring_context(ring->ring_fd);
    if (!ctx || ctx->init(slots) != 0) {
        if (!ctx) umn::ring_register(ring->ring_fd, IORING_UNREGISTER_BUFFERS, nullptr, 0);
        delete ctx;  // unregisters the table
        return -ENOMEM;
    }
    umn::adopt(ctx);
    *out = umn_registrar{ctx, umn::io_uring_reg, umn::io_uring_dereg};
    return 0;
}
