// SPDX-License-Identifier: BSD-3-Clause
// The hooks monitor's "which pages does this call change", call by call
// (src/monitor/hooks_ranges.hpp). Nothing is patched here: the decoding is
// called directly with the arguments a hook would see.
#include "monitor/hooks_ranges.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

namespace umn::test {
namespace {

using hook_ranges::affected;
using hook_ranges::range;

const uintptr_t pg = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));

class HookRanges : public ::testing::Test {
  protected:
    // The ranges of one call, as {start, end} pairs.
    std::vector<std::pair<uintptr_t, uintptr_t>> of(long nr, std::initializer_list<long> args) {
        long a[6] = {};
        int i = 0;
        for (long v : args) a[i++] = v;
        range out[hook_ranges::max_ranges] = {};
        int n = affected(nr, a, out);
        std::vector<std::pair<uintptr_t, uintptr_t>> v;
        for (int k = 0; k < n; ++k) v.emplace_back(out[k].start, out[k].end);
        return v;
    }
    using ranges = std::vector<std::pair<uintptr_t, uintptr_t>>;
    static constexpr long base = 0x7f0000000000;
};

TEST_F(HookRanges, MunmapCoversEveryPageTheBytesTouch) {
    EXPECT_EQ(of(SYS_munmap, {base + 10, static_cast<long>(pg)}), (ranges{{base, base + 2 * pg}}));
    EXPECT_EQ(of(SYS_munmap, {base, static_cast<long>(3 * pg)}), (ranges{{base, base + 3 * pg}}));
}

TEST_F(HookRanges, MunmapWithWrappingLengthEndsAtTheTopPage) {
    EXPECT_EQ(of(SYS_munmap, {base, -1}), (ranges{{base, ~(pg - 1)}}));
}

TEST_F(HookRanges, MmapChangesPagesOnlyWithMapFixed) {
    EXPECT_TRUE(of(SYS_mmap, {base, static_cast<long>(pg), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS})
                    .empty());
    EXPECT_EQ(of(SYS_mmap, {base, static_cast<long>(2 * pg), PROT_READ,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED}),
              (ranges{{base, base + 2 * pg}}));
}

TEST_F(HookRanges, MremapMoveChangesTheOldRange) {
    EXPECT_EQ(of(SYS_mremap,
                 {base, static_cast<long>(2 * pg), static_cast<long>(4 * pg), MREMAP_MAYMOVE}),
              (ranges{{base, base + 2 * pg}}));
}

TEST_F(HookRanges, MremapFixedChangesTheTargetAndTheOldRange) {
    const long target = base + 0x100000;
    EXPECT_EQ(of(SYS_mremap, {base, static_cast<long>(pg), static_cast<long>(2 * pg),
                              MREMAP_MAYMOVE | MREMAP_FIXED, target}),
              (ranges{{target, target + 2 * pg}, {base, base + pg}}));
}

TEST_F(HookRanges, MremapShrinkInPlaceChangesTheTail) {
    EXPECT_EQ(of(SYS_mremap, {base, static_cast<long>(3 * pg), static_cast<long>(pg + 1), 0}),
              (ranges{{base + 2 * pg, base + 3 * pg}}));
}

TEST_F(HookRanges, MremapGrowInPlaceChangesNothing) {
    EXPECT_TRUE(
        of(SYS_mremap, {base, static_cast<long>(pg), static_cast<long>(3 * pg), 0}).empty());
}

TEST_F(HookRanges, MadviseThatDiscardsChangesTheRange) {
    for (int advice : {MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_HWPOISON, 21 /* PAGEOUT */,
                       24 /* DONTNEED_LOCKED */, 25 /* COLLAPSE */, 101 /* SOFT_OFFLINE */,
                       23 /* POPULATE_WRITE */, 102 /* GUARD_INSTALL */, 103 /* GUARD_REMOVE */})
        EXPECT_EQ(of(SYS_madvise, {base, static_cast<long>(pg), advice}),
                  (ranges{{base, base + pg}}))
            << "advice " << advice;
}

TEST_F(HookRanges, MadviseThatKeepsThePagesChangesNothing) {
    for (int advice :
         {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTFORK, MADV_DOFORK,
          MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, 20 /* COLD */,
          22 /* POPULATE_READ */, 18 /* WIPEONFORK */, 12 /* MERGEABLE */})
        EXPECT_TRUE(of(SYS_madvise, {base, static_cast<long>(pg), advice}).empty())
            << "advice " << advice;
}

TEST_F(HookRanges, BrkBelowTheBreakChangesThePagesAboveIt) {
    auto current = static_cast<uintptr_t>(syscall(SYS_brk, 0));
    auto wanted = current - 3 * pg + 1;
    const uintptr_t top = (current + pg - 1) & ~(pg - 1);
    const uintptr_t first = (wanted + pg - 1) & ~(pg - 1);
    EXPECT_EQ(of(SYS_brk, {static_cast<long>(wanted)}), (ranges{{first, top}}));
}

TEST_F(HookRanges, BrkQueryOrGrowthChangesNothing) {
    auto current = static_cast<long>(syscall(SYS_brk, 0));
    EXPECT_TRUE(of(SYS_brk, {0}).empty());
    EXPECT_TRUE(of(SYS_brk, {current}).empty());
    EXPECT_TRUE(of(SYS_brk, {current + static_cast<long>(pg)}).empty());
}

TEST_F(HookRanges, SbrkShrinkChangesThePagesGivenBack) {
    auto current = static_cast<uintptr_t>(syscall(SYS_brk, 0));
    const uintptr_t top = (current + pg - 1) & ~(pg - 1);
    const uintptr_t first = (current - 2 * pg + pg - 1) & ~(pg - 1);
    EXPECT_EQ(of(hook_ranges::sbrk_call, {-2 * static_cast<long>(pg)}), (ranges{{first, top}}));
    EXPECT_TRUE(of(hook_ranges::sbrk_call, {0}).empty());
    EXPECT_TRUE(of(hook_ranges::sbrk_call, {static_cast<long>(pg)}).empty());
}

// A SysV segment of `pages`, removed at the last detach.
class Segment {
  public:
    explicit Segment(size_t pages) { id = shmget(IPC_PRIVATE, pages * pg, IPC_CREAT | 0600); }
    ~Segment() {
        if (id >= 0) shmctl(id, IPC_RMID, nullptr);
    }
    int id;
};

TEST_F(HookRanges, ShmatWithRemapChangesTheSegmentsSizeAtTheAddress) {
    Segment s(3);
    ASSERT_GE(s.id, 0);
    EXPECT_EQ(of(SYS_shmat, {s.id, base, SHM_REMAP}), (ranges{{base, base + 3 * pg}}));
    EXPECT_EQ(of(SYS_shmat, {s.id, base + 5, SHM_REMAP | SHM_RND}),
              (ranges{{base, base + 3 * pg}}));
}

TEST_F(HookRanges, ShmatWithoutRemapOrAddressOrSegmentChangesNothing) {
    Segment s(1);
    ASSERT_GE(s.id, 0);
    EXPECT_TRUE(of(SYS_shmat, {s.id, base, 0}).empty());
    EXPECT_TRUE(of(SYS_shmat, {s.id, 0, SHM_REMAP}).empty());
    EXPECT_TRUE(of(SYS_shmat, {-1, base, SHM_REMAP}).empty());
}

TEST_F(HookRanges, ShmdtChangesTheAttachedSegment) {
    Segment s(3);
    ASSERT_GE(s.id, 0);
    void *at = shmat(s.id, nullptr, 0);
    ASSERT_NE(at, reinterpret_cast<void *>(-1));
    auto start = reinterpret_cast<uintptr_t>(at);
    EXPECT_EQ(of(SYS_shmdt, {static_cast<long>(start)}), (ranges{{start, start + 3 * pg}}));
    shmdt(at);
}

TEST_F(HookRanges, ShmdtWhereNothingStartsChangesNothing) {
    EXPECT_TRUE(of(SYS_shmdt, {base + 0x123000}).empty());
}

TEST_F(HookRanges, RemapFilePagesChangesItsRange) {
    EXPECT_EQ(of(SYS_remap_file_pages, {base, static_cast<long>(2 * pg), 0, 5, 0}),
              (ranges{{base, base + 2 * pg}}));
}

// A pidfd of this process, or of a child that waits to be killed.
class Pidfd {
  public:
    explicit Pidfd(pid_t pid) : fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))) {}
    ~Pidfd() {
        if (fd >= 0) close(fd);
    }
    int fd;
};

TEST_F(HookRanges, ProcessMadviseOfSelfChangesEachIovec) {
    Pidfd self(getpid());
    ASSERT_GE(self.fd, 0);
    iovec iov[2] = {{reinterpret_cast<void *>(base + 1), pg},
                    {reinterpret_cast<void *>(base + 8 * pg), 2 * pg}};
    EXPECT_EQ(of(SYS_process_madvise, {self.fd, reinterpret_cast<long>(iov), 2, MADV_DONTNEED, 0}),
              (ranges{{base, base + 2 * pg}, {base + 8 * pg, base + 10 * pg}}));
}

TEST_F(HookRanges, ProcessMadviseWithManyIovecsCoversTheRestWithTheLastRange) {
    Pidfd self(getpid());
    ASSERT_GE(self.fd, 0);
    std::vector<iovec> iov;
    for (uintptr_t i = 0; i < 40; ++i)  // every other page
        iov.push_back({reinterpret_cast<void *>(base + 2 * i * pg), pg});
    ranges got = of(SYS_process_madvise, {self.fd, reinterpret_cast<long>(iov.data()),
                                          static_cast<long>(iov.size()), MADV_DONTNEED, 0});
    ASSERT_EQ(got.size(), static_cast<size_t>(hook_ranges::max_ranges));
    for (size_t i = 0; i + 1 < got.size(); ++i)
        EXPECT_EQ(got[i], std::make_pair(base + 2 * i * pg, base + (2 * i + 1) * pg));
    const uintptr_t last = hook_ranges::max_ranges - 1;
    EXPECT_EQ(got.back(), std::make_pair(base + 2 * last * pg, base + 79 * pg));
}

TEST_F(HookRanges, ProcessMadviseThatKeepsPagesOrHasABadArrayChangesNothing) {
    Pidfd self(getpid());
    ASSERT_GE(self.fd, 0);
    iovec iov{reinterpret_cast<void *>(base), pg};
    EXPECT_TRUE(
        of(SYS_process_madvise, {self.fd, reinterpret_cast<long>(&iov), 1, MADV_WILLNEED, 0})
            .empty());
    EXPECT_TRUE(of(SYS_process_madvise, {self.fd, 16, 1, MADV_DONTNEED, 0}).empty());
}

TEST_F(HookRanges, ProcessMadviseOfAnotherProcessChangesNothingHere) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    Pidfd other(child);
    ASSERT_GE(other.fd, 0);
    iovec iov{reinterpret_cast<void *>(base), pg};
    EXPECT_TRUE(
        of(SYS_process_madvise, {other.fd, reinterpret_cast<long>(&iov), 1, MADV_DONTNEED, 0})
            .empty());
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
}

TEST_F(HookRanges, OtherCallsChangeNothing) {
    EXPECT_TRUE(of(SYS_mprotect, {base, static_cast<long>(pg), PROT_READ}).empty());
    EXPECT_TRUE(of(SYS_getpid, {}).empty());
}

TEST(HookMapsLine, ParsesStartEndAndInode) {
    const std::string line =
        "7f12a000-7f12c000 rw-s 00000000 00:01 4521                       /SYSV00000000 (deleted)";
    uintptr_t start, end;
    unsigned long inode;
    ASSERT_TRUE(
        hook_ranges::parse_maps_line(line.data(), line.data() + line.size(), &start, &end, &inode));
    EXPECT_EQ(start, 0x7f12a000u);
    EXPECT_EQ(end, 0x7f12c000u);
    EXPECT_EQ(inode, 4521u);
}

TEST(HookMapsLine, AnonymousMappingHasInodeZero) {
    const std::string line = "55d0c000-55d0e000 rw-p 00000000 00:00 0 ";
    uintptr_t start, end;
    unsigned long inode = 7;
    ASSERT_TRUE(
        hook_ranges::parse_maps_line(line.data(), line.data() + line.size(), &start, &end, &inode));
    EXPECT_EQ(inode, 0u);
}

TEST(HookMapsLine, RejectsMalformedLines) {
    uintptr_t start, end;
    unsigned long inode;
    for (std::string line : {"", "zz-1000 rw-p", "1000", "1000-"})
        EXPECT_FALSE(hook_ranges::parse_maps_line(line.data(), line.data() + line.size(), &start,
                                                  &end, &inode))
            << line;
}

// A memfd holding `text`, positioned at its start.
int text_fd(const std::string &text) {
    int fd = memfd_create("text", MFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    lseek(fd, 0, SEEK_SET);
    return fd;
}

bool names_pid(const std::string &fdinfo, long pid) {
    int fd = text_fd(fdinfo);
    bool named = hook_ranges::fdinfo_names_pid(fd, pid);
    close(fd);
    return named;
}

TEST(HookFdinfo, FindsThePidLine) {
    const std::string info =
        "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n"
        "Pid:\t4242\nNSpid:\t4242\n";
    EXPECT_TRUE(names_pid(info, 4242));
    EXPECT_FALSE(names_pid(info, 424));
    EXPECT_FALSE(names_pid(info, 42424));
}

TEST(HookFdinfo, NoPidLineOrAGoneProcessIsNotOurs) {
    EXPECT_FALSE(names_pid("pos:\t0\nflags:\t02\nNSpid:\t7\n", 7));
    EXPECT_FALSE(names_pid("pos:\t0\nPid:\t-1\n", 1));
}

TEST(HookFdinfo, UnreadableCountsAsOurs) {
    EXPECT_TRUE(hook_ranges::fdinfo_names_pid(-1, getpid()));
}

// segment_at over maps text held in a memfd.
bool segment_in(const std::string &maps, uintptr_t addr, range *out) {
    int fd = text_fd(maps);
    bool found = hook_ranges::segment_at(fd, addr, out);
    close(fd);
    return found;
}

TEST(HookSegmentAt, JoinsAdjacentMappingsOfOneInode) {
    const std::string maps =
        "1000-2000 r--p 00000000 08:01 11 /lib/x\n"
        "3000-4000 rw-s 00000000 00:01 77 /SYSV0\n"
        "4000-6000 r--s 00001000 00:01 77 /SYSV0\n"
        "6000-7000 rw-s 00000000 00:01 78 /SYSV1\n";
    range r{};
    ASSERT_TRUE(segment_in(maps, 0x3000, &r));
    EXPECT_EQ(r.start, 0x3000u);
    EXPECT_EQ(r.end, 0x6000u);
}

TEST(HookSegmentAt, StopsAtAGap) {
    const std::string maps =
        "3000-4000 rw-s 00000000 00:01 77 /SYSV0\n"
        "5000-6000 rw-s 00001000 00:01 77 /SYSV0\n";
    range r{};
    ASSERT_TRUE(segment_in(maps, 0x3000, &r));
    EXPECT_EQ(r.end, 0x4000u);
}

TEST(HookSegmentAt, NoMappingStartsThere) {
    range r{};
    EXPECT_FALSE(segment_in("3000-4000 rw-s 00000000 00:01 77 /SYSV0\n", 0x3800, &r));
    EXPECT_FALSE(segment_in("", 0x3000, &r));
}

TEST(HookSegmentAt, ReadsPastLinesLongerThanItsBuffer) {
    const std::string maps = "1000-2000 r--p 00000000 08:01 11 /" + std::string(5000, 'x') +
                             "\n"
                             "3000-4000 rw-s 00000000 00:01 77 /SYSV0\n";
    range r{};
    ASSERT_TRUE(segment_in(maps, 0x3000, &r));
    EXPECT_EQ(r.end, 0x4000u);
}

}  // namespace
}  // namespace umn::test
