// SPDX-License-Identifier: BSD-3-Clause
// Coverage cases for the ways the kernel changes registered pages that do not
// go through libc's mmap/munmap/mremap/madvise/brk/shm functions: inline
// system call instructions, io_uring, process_madvise, newer madvise advice,
// remap_file_pages, and changes made by the kernel on its own (KSM, THP
// collapse, migration). A case the running kernel cannot do closes its step
// with skip() and the reason, never with a pass.
#include "case_context.hpp"

#include "os/mman_compat.hpp"
#include "os/raw_syscall.hpp"

#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifndef SYS_mseal
#define SYS_mseal 462
#endif
#ifndef UFFD_FEATURE_MOVE  // Linux 6.8 uapi, absent from Debian 12's headers
#define UFFD_FEATURE_MOVE (1 << 16)
struct uffdio_move {
    __u64 dst;
    __u64 src;
    __u64 len;
    __u64 mode;
    __s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
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
    long q = sys::raw_syscall6(SYS_mmap, arg(p), static_cast<long>(3 * pg), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
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
    if (pidfd < 0)
        return ctx.skip("process_madvise", "pidfd_open: " + std::string(strerror(errno)));
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

// ---- madvise advice beyond the discarding ones ----

// madvise(advice) over 3 registered pages, closed with `close`.
void advise_and_close(case_context &ctx, int advice, const char *label, bool expected) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    if (madvise(p, 3 * pg, advice)) ctx.fail_errno("madvise");
    ctx.step(label, expected);
    munmap(p, 3 * pg);
}

void case_madv_cold(case_context &ctx) {
    advise_and_close(ctx, MADV_COLD, "MADV_COLD (pages stay)", false);
}

void case_madv_populate(case_context &ctx) {
    advise_and_close(ctx, MADV_POPULATE_READ, "MADV_POPULATE_READ of populated pages", false);
    // After fork the pages are shared copy-on-write: populating for write
    // breaks the sharing, as a write would.
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    int hold[2];
    if (pipe(hold)) return ctx.fail_errno("pipe");
    pid_t child = fork();
    if (child == 0) {
        close(hold[1]);
        char c;
        _exit(read(hold[0], &c, 1) < 0);
    }
    ctx.watch(p, 3 * pg);
    if (madvise(p, 3 * pg, MADV_POPULATE_WRITE)) ctx.fail_errno("madvise(MADV_POPULATE_WRITE)");
    ctx.step("MADV_POPULATE_WRITE after fork (copy-on-write break)", true);
    close(hold[1]);
    close(hold[0]);
    waitpid(child, nullptr, 0);
    munmap(p, 3 * pg);
}

void case_madv_dontneed_locked(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    if (mlock(p, 3 * pg))
        return ctx.skip("MADV_DONTNEED_LOCKED", "mlock: " + std::string(strerror(errno)));
    ctx.watch(p, 3 * pg);
    int error = madvise(p, 3 * pg, MADV_DONTNEED_LOCKED) ? errno : 0;
    close_step(ctx, "MADV_DONTNEED_LOCKED of mlocked pages", "madvise", error,
               "needs Linux 5.18 (MADV_DONTNEED_LOCKED)");
    munmap(p, 3 * pg);
}

// MADV_WIPEONFORK: the child gets zeroes, the parent keeps its pages.
void case_madv_wipeonfork(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    if (madvise(p, 3 * pg, MADV_WIPEONFORK)) ctx.fail_errno("madvise(MADV_WIPEONFORK)");
    pid_t child = fork();
    if (child == 0) _exit(p[0] != 0);  // wiped in the child
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) ctx.fail("the child saw the parent's data");
    ctx.step("MADV_WIPEONFORK, fork: the parent's pages stay", false);
    ctx.watch(p, 3 * pg);
    if (madvise(p, 3 * pg, MADV_KEEPONFORK)) ctx.fail_errno("madvise(MADV_KEEPONFORK)");
    ctx.step("MADV_KEEPONFORK (pages stay)", false);
    munmap(p, 3 * pg);
}

// A file in $TMPDIR (or /tmp) of `pages`, written, unlinked; -1 on failure.
int scratch_file(size_t pages) {
    const char *dir = getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/umn-check-XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0) return -1;
    unlink(path.c_str());
    std::string bytes(pages * pg, 'u');
    if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) || fsync(fd)) {
        close(fd);
        return -1;
    }
    return fd;
}

// MADV_PAGEOUT reclaims what it can: clean file pages on a disk file system
// go at once; anonymous and tmpfs pages only with swap. The frames decide.
void case_madv_pageout_file(case_context &ctx) {
    int fd = scratch_file(3);
    if (fd < 0) return ctx.fail_errno("scratch file");
    void *m = mmap(nullptr, 3 * pg, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) return ctx.fail_errno("mmap");
    ctx.watch(m, 3 * pg);
    int error = madvise(m, 3 * pg, MADV_PAGEOUT) ? errno : 0;
    if (error == EINVAL)
        ctx.skip("MADV_PAGEOUT", "needs Linux 5.4 (MADV_PAGEOUT)");
    else if (error)
        ctx.fail_errno("madvise(MADV_PAGEOUT)");
    if (error != EINVAL) ctx.step_may_change("MADV_PAGEOUT of a file mapping's clean pages");
    munmap(m, 3 * pg);
    close(fd);
}

// MAP_DROPPABLE pages may be dropped under memory pressure; MADV_PAGEOUT
// drops them now.
void case_map_droppable(case_context &ctx) {
    void *m = mmap(nullptr, 3 * pg, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return ctx.skip("MAP_DROPPABLE",
                        "needs Linux 6.11 (MAP_DROPPABLE): " + std::string(strerror(errno)));
    touch(static_cast<char *>(m), 3 * pg);
    ctx.watch(m, 3 * pg);
    if (madvise(m, 3 * pg, MADV_PAGEOUT)) ctx.fail_errno("madvise(MADV_PAGEOUT)");
    ctx.step_may_change("MADV_PAGEOUT of MAP_DROPPABLE pages (dropped)");
    munmap(m, 3 * pg);
}

// ---- other calls ----

void case_mremap_dontunmap(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    // Through syscall() with the fifth argument 0: glibc 2.36's mremap passes
    // whatever the register holds, which Linux 6.18 refuses (EINVAL).
    auto *q = reinterpret_cast<void *>(
        syscall(SYS_mremap, p, 3 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0L));
    int error = q == MAP_FAILED ? errno : 0;
    close_step(ctx, "mremap(MREMAP_DONTUNMAP): old range stays mapped, empty", "mremap", error,
               "needs Linux 5.7 (MREMAP_DONTUNMAP)");
    if (q != MAP_FAILED) munmap(q, 3 * pg);
    munmap(p, 3 * pg);
}

void case_map_fixed_noreplace(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    void *q = mmap(p, 3 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (q != MAP_FAILED) ctx.fail("MAP_FIXED_NOREPLACE replaced a mapping");
    ctx.step("mmap(MAP_FIXED_NOREPLACE) over it fails, pages stay", false);
    munmap(p, 3 * pg);
}

// mseal: sealing changes nothing; a munmap of sealed pages fails (a monitor
// that invalidates before knowing may report it: allowed).
void case_mseal(case_context &ctx) {
    char *p = map_pages(3);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, 3 * pg);
    if (syscall(SYS_mseal, p, 3 * pg, 0)) {
        int error = errno;
        return ctx.skip("mseal", error == ENOSYS || error == EINVAL
                                     ? "needs Linux 6.10 (mseal)"
                                     : "mseal: " + std::string(strerror(error)));
    }
    ctx.step("mseal (pages stay)", false);
    ctx.watch(p, 3 * pg);
    if (munmap(p, 3 * pg) == 0 || errno != EPERM) ctx.fail("munmap of sealed pages did not fail");
    ctx.step_may_change("munmap of sealed pages fails with EPERM");
}

void case_memfd_secret(case_context &ctx) {
    int fd = static_cast<int>(syscall(SYS_memfd_secret, 0));
    if (fd < 0)
        return ctx.skip("memfd_secret",
                        "memfd_secret unavailable (Linux 5.14, secretmem "
                        "enabled): " +
                            std::string(strerror(errno)));
    if (ftruncate(fd, static_cast<off_t>(3 * pg))) return ctx.fail_errno("ftruncate");
    void *m = mmap(nullptr, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return ctx.fail_errno("mmap");
    touch(static_cast<char *>(m), 3 * pg);
    ctx.watch(m, 3 * pg);
    munmap(m, 3 * pg);
    ctx.step("munmap of a memfd_secret mapping", true);
    close(fd);
}

void case_hugetlb(case_context &ctx) {
    const size_t huge = 2 << 20;
    void *m = mmap(nullptr, huge, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED)
        return ctx.skip("MAP_HUGETLB", "no 2 MiB huge page reserved (sysctl vm.nr_hugepages): " +
                                           std::string(strerror(errno)));
    ctx.watch(m, huge);
    if (madvise(m, huge, MADV_DONTNEED)) ctx.fail_errno("madvise(MADV_DONTNEED)");
    ctx.step("MADV_DONTNEED of a MAP_HUGETLB page", true);
    touch(static_cast<char *>(m), huge);
    ctx.watch(m, huge);
    munmap(m, huge);
    ctx.step("munmap of a MAP_HUGETLB page", true);
}

// The application's own userfaultfd moves registered pages away
// (UFFDIO_MOVE): the source is left empty.
void case_uffdio_move(case_context &ctx) {
    const char *label = "UFFDIO_MOVE of the pages to another address";
    int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
    if (uffd < 0) return ctx.skip(label, "userfaultfd: " + std::string(strerror(errno)));
    uffdio_api api{UFFD_API, UFFD_FEATURE_MOVE, 0};
    if (ioctl(uffd, UFFDIO_API, &api)) {
        close(uffd);
        return ctx.skip(label, "needs Linux 6.8 (UFFD_FEATURE_MOVE)");
    }
    char *src = map_pages(3);
    void *dst = mmap(nullptr, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uffdio_register reg{
        {reinterpret_cast<uintptr_t>(dst), 3 * pg}, UFFDIO_REGISTER_MODE_MISSING, 0};
    if (!src || dst == MAP_FAILED || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
        close(uffd);
        return ctx.fail_errno("setting up the move");
    }
    ctx.watch(src, 3 * pg);
    uffdio_move move{reinterpret_cast<uintptr_t>(dst), reinterpret_cast<uintptr_t>(src), 3 * pg, 0,
                     0};
    if (ioctl(uffd, UFFDIO_MOVE, &move)) ctx.fail_errno("UFFDIO_MOVE");
    ctx.step(label, true);
    close(uffd);
    munmap(dst, 3 * pg);
    munmap(src, 3 * pg);
}

// ---- the kernel changes pages on its own ----

std::string read_word(const char *path) {
    std::ifstream in(path);
    std::string word;
    in >> word;
    return word;
}

// KSM merges identical pages marked MADV_MERGEABLE when ksmd runs
// (/sys/kernel/mm/ksm/run = 1, set by the administrator; the VM test does).
void case_ksm_merge(case_context &ctx) {
    const char *label = "KSM merges MADV_MERGEABLE pages (ksmd)";
    if (read_word("/sys/kernel/mm/ksm/run") != "1")
        return ctx.skip(label, "ksmd is not running (/sys/kernel/mm/ksm/run is not 1)");
    char *p = map_pages(8);
    if (!p) return ctx.fail_errno("mmap");
    memset(p, 0x5a, 8 * pg);  // identical pages
    if (madvise(p, 8 * pg, MADV_MERGEABLE))
        return ctx.skip(label, "MADV_MERGEABLE: " + std::string(strerror(errno)));
    ctx.watch(p, 8 * pg);
    if (!ctx.ground_truth())
        return ctx.skip(label, "needs /proc/self/pagemap frames (root) to see the merge");
    // ksmd scans in its own time: bounded wait for the merge.
    for (int i = 0; i < 300 && !ctx.frames_changed_now(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!ctx.frames_changed_now()) return ctx.skip(label, "ksmd did not merge within 3 s");
    ctx.step(label, true);
    munmap(p, 8 * pg);
}

// A NUMA node other than `from` this process may allocate on, or -1.
int other_node(int from) {
    unsigned long allowed[16] = {};
    int mode;
    const unsigned long max_node = sizeof allowed * 8;
    if (syscall(SYS_get_mempolicy, &mode, allowed, max_node, nullptr, MPOL_F_MEMS_ALLOWED))
        return -1;
    for (unsigned long node = 0; node < max_node; ++node)
        if (static_cast<int>(node) != from && (allowed[node / 64] >> (node % 64) & 1))
            return static_cast<int>(node);
    return -1;
}

// The node of each of `n` pages at p (move_pages query), -1 if unknown.
void nodes_of(char *p, int n, int *status) {
    void *pages[8];
    for (int i = 0; i < n; ++i) pages[i] = p + i * pg, status[i] = -1;
    syscall(SYS_move_pages, 0, n, pages, nullptr, status, 0);
}

// Migrates two registered pages to another node with `how`; the query after
// says whether they moved.
void migration_case(case_context &ctx, const char *label, long (*how)(char *p, int from, int to)) {
    char *p = map_pages(2);
    if (!p) return ctx.fail_errno("mmap");
    int before[2];
    nodes_of(p, 2, before);
    int target = other_node(before[0]);
    if (before[0] < 0 || target < 0) return ctx.skip(label, "one NUMA node: nowhere to migrate to");
    ctx.watch(p, 2 * pg);
    if (how(p, before[0], target) < 0) ctx.fail_errno(label);
    int after[2];
    nodes_of(p, 2, after);
    bool moved = after[0] == target && after[1] == target;
    if (!moved) ctx.fail("the pages stayed on node " + std::to_string(after[0]));
    ctx.step(label, true);
    munmap(p, 2 * pg);
}

void case_move_pages(case_context &ctx) {
    migration_case(ctx, "move_pages to another NUMA node", [](char *p, int, int to) {
        void *pages[2] = {p, p + pg};
        int nodes[2] = {to, to}, status[2];
        return syscall(SYS_move_pages, 0, 2, pages, nodes, status, MPOL_MF_MOVE);
    });
}

void case_migrate_pages(case_context &ctx) {
    migration_case(ctx, "migrate_pages of the process to another node",
                   [](char *, int from, int to) {
                       unsigned long old_nodes = 1ul << from, new_nodes = 1ul << to;
                       return syscall(SYS_migrate_pages, 0, 64, &old_nodes, &new_nodes);
                   });
}

void case_mbind_move(case_context &ctx) {
    migration_case(ctx, "mbind(MPOL_BIND, MPOL_MF_MOVE) to another node", [](char *p, int, int to) {
        unsigned long mask = 1ul << to;
        return syscall(SYS_mbind, p, 2 * pg, MPOL_BIND, &mask, 64, MPOL_MF_MOVE);
    });
}

// MADV_SOFT_OFFLINE migrates the page and takes the old frame out of service
// for good; MADV_HWPOISON poisons it. Only where that is allowed.
bool offlining_allowed() {
    const char *v = getenv("UMN_CHECK_OFFLINE");
    return v && !strcmp(v, "1");
}
const char *const offline_why =
    "takes a physical page out of service: runs only with UMN_CHECK_OFFLINE=1 (the VM test sets "
    "it)";

void case_madv_soft_offline(case_context &ctx) {
    if (!offlining_allowed()) return ctx.skip("MADV_SOFT_OFFLINE", offline_why);
    char *p = map_pages(1);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, pg);
    int error = madvise(p, pg, MADV_SOFT_OFFLINE) ? errno : 0;
    close_step(ctx, "MADV_SOFT_OFFLINE (page migrated, frame retired)", "madvise", error,
               "needs CONFIG_MEMORY_FAILURE");
    munmap(p, pg);
}

void case_madv_hwpoison(case_context &ctx) {
    if (!offlining_allowed()) return ctx.skip("MADV_HWPOISON", offline_why);
    char *p = map_pages(1);
    if (!p) return ctx.fail_errno("mmap");
    ctx.watch(p, pg);
    // Newer kernels (6.12) also send the caller SIGBUS (BUS_MCEERR_AR) for
    // the dirty page it poisoned; a handler keeps the case alive (a forced
    // signal overrides SIG_IGN, not a handler).
    struct sigaction quiet = {}, old = {};
    quiet.sa_handler = [](int) {};
    sigaction(SIGBUS, &quiet, &old);
    int error = madvise(p, pg, MADV_HWPOISON) ? errno : 0;
    sigaction(SIGBUS, &old, nullptr);
    close_step(ctx, "MADV_HWPOISON (page unmapped, frame poisoned)", "madvise", error,
               "needs CONFIG_MEMORY_FAILURE");
    munmap(p, pg);
}

const char *const bypasses_libc = "the call never enters libc: nothing to hook";
const char *const no_uffd_event = "the kernel sends userfaultfd no event for it";
const char *const uffd_file =
    "userfaultfd cannot register private mappings of regular files: umn_register returns -ENOTSUP";
const char *const cow_fault =
    "copy-on-write breaks in a page fault: the kernel sends userfaultfd no event for it";
const char *const kernel_work =
    "the kernel replaces the frames on its own, with no call to hook and no userfaultfd event";

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
        {{"madv_collapse", "madvise(MADV_COLLAPSE) of a THP-eligible range", bit(UMN_MONITOR_UFFD),
          no_uffd_event},
         case_madv_collapse},
        {{"remap_file_pages", "remap_file_pages over a shared file mapping", bit(UMN_MONITOR_UFFD),
          no_uffd_event},
         case_remap_file_pages},
        {{"shmat_remap_anonymous", "shmat(SHM_REMAP) over registered anonymous memory",
          bit(UMN_MONITOR_UFFD), no_uffd_event},
         case_shmat_remap_anonymous},
        {{"madv_cold", "madvise(MADV_COLD) (no event)", 0, ""}, case_madv_cold},
        {{"madv_populate", "MADV_POPULATE_READ (no event); MADV_POPULATE_WRITE after fork",
          bit(UMN_MONITOR_UFFD), cow_fault},
         case_madv_populate},
        {{"madv_dontneed_locked", "madvise(MADV_DONTNEED_LOCKED) of mlocked pages", 0, ""},
         case_madv_dontneed_locked},
        {{"madv_wipeonfork", "MADV_WIPEONFORK and fork, MADV_KEEPONFORK (no event)", 0, ""},
         case_madv_wipeonfork},
        {{"madv_pageout_file", "madvise(MADV_PAGEOUT) of clean file pages", bit(UMN_MONITOR_UFFD),
          uffd_file},
         case_madv_pageout_file},
        {{"map_droppable", "MADV_PAGEOUT of MAP_DROPPABLE pages", bit(UMN_MONITOR_UFFD),
          "userfaultfd cannot register MAP_DROPPABLE mappings: umn_register returns -ENOTSUP"},
         case_map_droppable},
        {{"mremap_dontunmap", "mremap(MREMAP_DONTUNMAP)", 0, ""}, case_mremap_dontunmap},
        {{"map_fixed_noreplace", "mmap(MAP_FIXED_NOREPLACE) over it (fails, no event)", 0, ""},
         case_map_fixed_noreplace},
        {{"mseal", "mseal, then a munmap that fails (no change)", 0, ""}, case_mseal},
        {{"memfd_secret", "munmap of a memfd_secret mapping", bit(UMN_MONITOR_UFFD),
          "userfaultfd cannot register memfd_secret mappings: umn_register returns -ENOTSUP"},
         case_memfd_secret},
        {{"hugetlb", "MADV_DONTNEED and munmap of a MAP_HUGETLB page", 0, ""}, case_hugetlb},
        {{"uffdio_move", "UFFDIO_MOVE of registered pages by the application's userfaultfd",
          user_space,
          "an ioctl on the application's own userfaultfd: no mapping call to hook, no event "
          "to the monitor's userfaultfd"},
         case_uffdio_move},
        {{"ksm_merge", "KSM merging MADV_MERGEABLE pages", user_space, kernel_work},
         case_ksm_merge},
        {{"move_pages", "move_pages to another NUMA node", user_space, kernel_work},
         case_move_pages},
        {{"migrate_pages", "migrate_pages of the process to another NUMA node", user_space,
          kernel_work},
         case_migrate_pages},
        {{"mbind_move", "mbind(MPOL_MF_MOVE) to another NUMA node", user_space, kernel_work},
         case_mbind_move},
        {{"madv_soft_offline", "madvise(MADV_SOFT_OFFLINE) (root)", bit(UMN_MONITOR_UFFD),
          no_uffd_event},
         case_madv_soft_offline},
        {{"madv_hwpoison", "madvise(MADV_HWPOISON) (root)", bit(UMN_MONITOR_UFFD), no_uffd_event},
         case_madv_hwpoison},
    };
    return all;
}

}  // namespace umn::testkit
