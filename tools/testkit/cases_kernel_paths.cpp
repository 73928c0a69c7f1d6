// SPDX-License-Identifier: BSD-3-Clause
// Coverage cases for the ways the kernel changes registered pages that do not
// go through libc's mmap/munmap/mremap/madvise/brk/shm functions: inline
// system call instructions, io_uring, process_madvise, newer madvise advice,
// remap_file_pages, and changes made by the kernel on its own (KSM, THP
// collapse, migration). A case the running kernel cannot do closes its step
// with skip() and the reason, never with a pass.
#include "case_context.hpp"

#include "os/raw_syscall.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <liburing.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

namespace umn::testkit {

namespace {

long arg(const void *p) {
    return reinterpret_cast<long>(p);
}

// Closes a step whose call failed with `error` (0: it worked). EINVAL means
// this kernel does not know the call or advice: skipped, with `needs`.
void close_step(case_context &ctx, const char *label, const char *call, int error,
                const char *needs) {
    if (error == EINVAL) return ctx.skip(label, needs);
    if (error) ctx.fail(std::string(call) + ": " + strerror(error));
    ctx.step(label, true);
}

void case_inline_syscall_munmap_remap(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    // The instruction itself, as Go's runtime or a static binary makes it.
    long rc = sys::raw_syscall6(SYS_munmap, arg(p), static_cast<long>(3 * pg), 0, 0, 0, 0);
    if (sys::raw_failed(rc)) ctx.fail("munmap: " + std::string(strerror(static_cast<int>(-rc))));
    long q = sys::raw_syscall6(SYS_mmap, arg(p), static_cast<long>(3 * pg),
                               PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                               -1, 0);
    if (q != arg(p)) return ctx.fail("mmap at the old address failed");
    touch(p, 3 * pg);
    ctx.step("syscall instruction: munmap, mmap at the same address", true);
    munmap(p, 3 * pg);
}

void case_io_uring_madvise(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    io_uring ring;
    if (int rc = io_uring_queue_init(4, &ring, 0))
        return ctx.skip("IORING_OP_MADVISE", "io_uring unavailable: " + std::string(strerror(-rc)));
    ctx.watch(p, 3 * pg);
    io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_madvise(sqe, p, static_cast<off_t>(3 * pg), MADV_DONTNEED);
    io_uring_cqe *cqe = nullptr;
    int rc = io_uring_submit_and_wait(&ring, 1);
    if (rc >= 0) rc = io_uring_wait_cqe(&ring, &cqe);
    int res = rc < 0 ? rc : cqe->res;
    if (cqe) io_uring_cqe_seen(&ring, cqe);
    io_uring_queue_exit(&ring);
    close_step(ctx, "io_uring IORING_OP_MADVISE(MADV_DONTNEED)", "IORING_OP_MADVISE",
               res == -EOPNOTSUPP ? EINVAL : -res, "IORING_OP_MADVISE needs Linux 5.6");
    munmap(p, 3 * pg);
}

void case_process_madvise_self(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (pidfd < 0) return ctx.skip("process_madvise", "pidfd_open: " + std::string(strerror(errno)));
    ctx.watch(p, 3 * pg);
    iovec iov{p, 3 * pg};
    int error = process_madvise(pidfd, &iov, 1, MADV_DONTNEED, 0) < 0 ? errno : 0;
    close_step(ctx, "process_madvise(pidfd of self, MADV_DONTNEED)", "process_madvise", error,
               "needs Linux 6.13 (process_madvise of the calling process with any advice)");
    close(pidfd);
    munmap(p, 3 * pg);
}

void case_madv_guard_install_remove(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    int error = madvise(p, 3 * pg, MADV_GUARD_INSTALL) ? errno : 0;
    if (!error) {
        if (madvise(p, 3 * pg, MADV_GUARD_REMOVE)) ctx.fail_errno("madvise(MADV_GUARD_REMOVE)");
        touch(p, 3 * pg);
    }
    close_step(ctx, "MADV_GUARD_INSTALL, MADV_GUARD_REMOVE, then a write",
               "madvise(MADV_GUARD_INSTALL)", error, "needs Linux 6.13 (MADV_GUARD_INSTALL)");
    munmap(p, 3 * pg);
}

// 2 MiB of small pages, aligned for a huge page; *raw and *raw_len to unmap.
char *small_pages_in_huge_frame(char **raw, size_t *raw_len) {
    const size_t huge = 2 << 20;
    *raw_len = 2 * huge;
    void *m = mmap(nullptr, *raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    *raw = static_cast<char *>(m);
    auto aligned = (reinterpret_cast<uintptr_t>(m) + huge - 1) & ~(huge - 1);
    char *p = reinterpret_cast<char *>(aligned);
    madvise(p, huge, MADV_NOHUGEPAGE);  // faults take small pages
    touch(p, huge);
    madvise(p, huge, MADV_HUGEPAGE);  // and collapsing is allowed again
    return p;
}

void case_madv_collapse(case_context &ctx) {
    char *raw;
    size_t raw_len;
    char *p = small_pages_in_huge_frame(&raw, &raw_len);
    if (!p) return ctx.fail_errno("mmap");
    const size_t huge = 2 << 20;
    ctx.watch(p, huge);
    const char *label = "MADV_COLLAPSE of 512 small pages into a huge page";
    if (madvise(p, huge, MADV_COLLAPSE)) {
        if (errno == EINVAL)
            ctx.skip(label, "needs Linux 6.1 with transparent huge pages (MADV_COLLAPSE)");
        else
            ctx.skip(label, "no huge page to collapse into: " + std::string(strerror(errno)));
    } else {
        ctx.step(label, true);
    }
    munmap(raw, raw_len);
}

void case_remap_file_pages(case_context &ctx) {
    int fd;
    char *p = map_memfd(3, &fd);
    if (!p) return ctx.fail_errno("memfd mapping");
    ctx.watch(p, 3 * pg);
    // The first page now shows the file's third page.
    if (remap_file_pages(p, pg, 0, 2, 0)) ctx.fail_errno("remap_file_pages");
    ctx.step("remap_file_pages of a shared memfd mapping's first page", true);
    munmap(p, 3 * pg);
    close(fd);
}

void case_shmat_remap_anonymous(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    if (!shm_attach(p, SHM_REMAP)) ctx.fail_errno("shmat(SHM_REMAP)");
    ctx.step("shmat(SHM_REMAP) of a segment over anonymous memory", true);
    shmdt(p);
}

const char *const bypasses_libc = "the call never enters libc: nothing to hook";
const char *const no_uffd_event = "the kernel sends userfaultfd no event for it";

}  // namespace

const std::vector<case_entry> &kernel_path_cases() {
    static const std::vector<case_entry> all = {
        {{"inline_syscall_munmap_remap",
          "munmap then mmap at the same address by the syscall instruction (Go, static binaries)",
          bit(UMN_MONITOR_HOOKS), bypasses_libc},
         case_inline_syscall_munmap_remap},
        {{"io_uring_madvise", "io_uring IORING_OP_MADVISE(MADV_DONTNEED)", bit(UMN_MONITOR_HOOKS),
          "io_uring makes the madvise in the kernel: no libc call to hook"},
         case_io_uring_madvise},
        {{"process_madvise_self", "process_madvise(pidfd of self, MADV_DONTNEED)", 0, ""},
         case_process_madvise_self},
        {{"madv_guard_install_remove", "madvise(MADV_GUARD_INSTALL) then MADV_GUARD_REMOVE",
          bit(UMN_MONITOR_UFFD), no_uffd_event},
         case_madv_guard_install_remove},
        {{"madv_collapse", "madvise(MADV_COLLAPSE) of a THP-eligible range",
          bit(UMN_MONITOR_UFFD), no_uffd_event},
         case_madv_collapse},
        {{"remap_file_pages", "remap_file_pages over a shared file mapping",
          bit(UMN_MONITOR_UFFD), no_uffd_event},
         case_remap_file_pages},
        {{"shmat_remap_anonymous", "shmat(SHM_REMAP) over registered anonymous memory",
          bit(UMN_MONITOR_UFFD), no_uffd_event},
         case_shmat_remap_anonymous},
    };
    return all;
}

}  // namespace umn::testkit
