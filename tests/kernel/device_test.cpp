// SPDX-License-Identifier: BSD-3-Clause
// The /dev/umn ABI driven directly (no library): argument checks, one-shot
// reads, the generation page, foreign processes, close while another thread
// unmaps, and a fuzz loop. Runs inside the qemu VM (tests/kernel/vm_test.sh)
// where the module is loaded; leaks show at rmmod, oopses end the VM.
#include "umn_dev.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

const uint64_t pg = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));

uint64_t rounds(uint64_t base) {
    const char *s = getenv("UMN_TEST_SCALE");
    double scale = s ? atof(s) : 1.0;
    uint64_t n = static_cast<uint64_t>(static_cast<double>(base) * scale);
    return n ? n : 1;
}

int open_dev(int flags = O_NONBLOCK) {
    return open(UMN_DEV_PATH, O_RDWR | O_CLOEXEC | flags);
}

// ioctl as 0 or -errno.
int call(int fd, unsigned long cmd, const void *arg) {
    return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int reg(int fd, uint64_t start, uint64_t len, uint64_t cookie) {
    umn_dev_register r{start, len, cookie};
    return call(fd, UMN_IOC_REGISTER, &r);
}

int reg(int fd, const void *p, uint64_t len, uint64_t cookie) {
    return reg(fd, reinterpret_cast<uintptr_t>(p), len, cookie);
}

int unreg(int fd, uint64_t cookie) {
    __u64 c = cookie;
    return call(fd, UMN_IOC_UNREGISTER, &c);
}

int set_limit(int fd, uint64_t limit) {
    __u64 l = limit;
    return call(fd, UMN_IOC_SET_LIMIT, &l);
}

// read() of up to `max` cookies as a vector; errors as {-errno}.
long read_cookies(int fd, std::vector<uint64_t> *out, size_t max = 64) {
    out->assign(max, 0);
    ssize_t got = read(fd, out->data(), max * sizeof(uint64_t));
    if (got < 0) {
        out->clear();
        return -errno;
    }
    out->resize(static_cast<size_t>(got) / sizeof(uint64_t));
    return static_cast<long>(out->size());
}

char *map(uint64_t pages) {
    void *p = mmap(nullptr, pages * pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char *>(p);
}

const volatile uint64_t *map_generation(int fd) {
    void *p = mmap(nullptr, pg, PROT_READ, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? nullptr : static_cast<const volatile uint64_t *>(p);
}

class Device : public ::testing::Test {
  protected:
    void SetUp() override {
        fd = open_dev();
        ASSERT_GE(fd, 0) << "open " UMN_DEV_PATH ": " << strerror(errno);
    }
    void TearDown() override { close(fd); }
    int fd = -1;
};

TEST_F(Device, ReportsItsAbiVersion) {
    EXPECT_EQ(ioctl(fd, UMN_IOC_ABI_VERSION), UMN_ABI_VERSION);
}

TEST_F(Device, RegisterRejectsUnalignedZeroWrappingAndKernelRanges) {
    char *p = map(2);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reg(fd, p + 1, pg, 1), -EINVAL);
    EXPECT_EQ(reg(fd, p, pg - 1, 1), -EINVAL);
    EXPECT_EQ(reg(fd, p, 0, 1), -EINVAL);
    EXPECT_EQ(reg(fd, UINT64_MAX - pg + 1, 2 * pg, 1), -EINVAL);  // wraps
    EXPECT_EQ(reg(fd, UINT64_MAX - pg + 1, pg, 1), -EINVAL);      // kernel half
    EXPECT_EQ(reg(fd, uint64_t{1} << 63, pg, 1), -EINVAL);
    EXPECT_EQ(reg(fd, uint64_t{0}, UINT64_MAX - pg + 1, 1), -EINVAL);
    EXPECT_EQ(call(fd, UMN_IOC_REGISTER, nullptr), -EFAULT);
    EXPECT_EQ(reg(fd, p, 2 * pg, 1), 0);  // nothing above left state behind
    EXPECT_EQ(unreg(fd, 1), 0);
    munmap(p, 2 * pg);
}

TEST_F(Device, UnknownCookieIsEnoentAndDuplicateIsEexist) {
    char *p = map(1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(unreg(fd, 7), -ENOENT);
    EXPECT_EQ(call(fd, UMN_IOC_UNREGISTER, nullptr), -EFAULT);
    ASSERT_EQ(reg(fd, p, pg, 7), 0);
    EXPECT_EQ(reg(fd, p, pg, 7), -EEXIST);
    munmap(p, pg);  // invalidated, not drained: still taken
    char *q = map(1);
    EXPECT_EQ(reg(fd, q, pg, 7), -EEXIST);
    EXPECT_EQ(unreg(fd, 7), 0);  // an undrained cookie may be unregistered
    EXPECT_EQ(unreg(fd, 7), -ENOENT);
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(fd, &got), -EAGAIN);  // and it left the list
    EXPECT_EQ(reg(fd, q, pg, 7), 0);
    munmap(q, pg);
}

TEST_F(Device, LimitGivesEnospcAndBadLimitsEinval) {
    char *p = map(3);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(set_limit(fd, 0), -EINVAL);
    EXPECT_EQ(set_limit(fd, UINT64_MAX), -EINVAL);
    EXPECT_EQ(call(fd, UMN_IOC_SET_LIMIT, nullptr), -EFAULT);
    ASSERT_EQ(set_limit(fd, 2), 0);
    EXPECT_EQ(reg(fd, p, pg, 1), 0);
    EXPECT_EQ(reg(fd, p + pg, pg, 2), 0);
    EXPECT_EQ(reg(fd, p + 2 * pg, pg, 3), -ENOSPC);
    munmap(p, pg);  // an undrained registration still counts
    EXPECT_EQ(reg(fd, p + 2 * pg, pg, 3), -ENOSPC);
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(fd, &got), 1);
    EXPECT_EQ(reg(fd, p + 2 * pg, pg, 3), 0);
    munmap(p + pg, 2 * pg);
}

TEST_F(Device, UnknownIoctlIsEnotty) {
    EXPECT_EQ(call(fd, _IO(UMN_IOC_MAGIC, 99), nullptr), -ENOTTY);
    EXPECT_EQ(call(fd, _IOW(UMN_IOC_MAGIC, 1, uint32_t), nullptr), -ENOTTY);
}

TEST_F(Device, ReadIsOneShotAndValidatesItsBuffer) {
    char *p = map(2);
    ASSERT_NE(p, nullptr);
    uint64_t cookie;
    EXPECT_EQ(read(fd, &cookie, 7), -1);
    EXPECT_EQ(errno, EINVAL);
    ASSERT_EQ(reg(fd, p, pg, 11), 0);
    ASSERT_EQ(reg(fd, p + pg, pg, 12), 0);
    munmap(p, 2 * pg);
    void *no_access = mmap(nullptr, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_EQ(read(fd, no_access, 8), -1);  // a bad buffer loses nothing
    EXPECT_EQ(errno, EFAULT);
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(fd, &got, 1), 1);
    EXPECT_EQ(got, std::vector<uint64_t>{11});
    EXPECT_EQ(read_cookies(fd, &got), 1);
    EXPECT_EQ(got, std::vector<uint64_t>{12});
    EXPECT_EQ(read_cookies(fd, &got), -EAGAIN);
    EXPECT_EQ(unreg(fd, 11), -ENOENT);
    munmap(no_access, pg);
}

TEST_F(Device, BlockingReadWakesWhenAnotherThreadUnmaps) {
    int blocking = open_dev(0);
    ASSERT_GE(blocking, 0);
    char *p = map(1);
    ASSERT_EQ(reg(blocking, p, pg, 5), 0);
    std::vector<uint64_t> got;
    std::thread reader([&] { read_cookies(blocking, &got); });
    usleep(20000);
    munmap(p, pg);
    reader.join();
    EXPECT_EQ(got, std::vector<uint64_t>{5});
    close(blocking);
}

TEST_F(Device, PollsReadableWhileCookiesWait) {
    char *p = map(1);
    ASSERT_EQ(reg(fd, p, pg, 5), 0);
    pollfd pfd{fd, POLLIN, 0};
    EXPECT_EQ(poll(&pfd, 1, 0), 0);
    munmap(p, pg);
    EXPECT_EQ(poll(&pfd, 1, 0), 1);
    EXPECT_TRUE(pfd.revents & POLLIN);
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(fd, &got), 1);
    EXPECT_EQ(poll(&pfd, 1, 0), 0);
}

TEST_F(Device, GenerationPageIsReadOnlyAndMovesBeforeMunmapReturns) {
    EXPECT_EQ(mmap(nullptr, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
    EXPECT_EQ(errno, EPERM);
    EXPECT_EQ(mmap(nullptr, 2 * pg, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(mmap(nullptr, pg, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(pg)), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    const volatile uint64_t *gen = map_generation(fd);
    ASSERT_NE(gen, nullptr);
    void *page = const_cast<uint64_t *>(gen);
    EXPECT_EQ(mprotect(page, pg, PROT_READ | PROT_WRITE), -1);
    EXPECT_EQ(errno, EACCES);
    char *p = map(1);
    ASSERT_EQ(reg(fd, p, pg, 1), 0);
    uint64_t before = *gen;
    munmap(p, pg);
    EXPECT_EQ(*gen, before + 1);
    pid_t child = fork();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn it into an exit
        *const_cast<volatile uint64_t *>(gen) = 0;  // must fault
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    munmap(page, pg);
}

// Everything a child can do with its parent's descriptor; 0 if each gave ECHILD.
int child_uses_inherited_fd(int fd, const char *p) {
    int bad = 0;
    bad |= (reg(fd, p, pg, 99) != -ECHILD) << 0;
    bad |= (unreg(fd, 1) != -ECHILD) << 1;
    bad |= (set_limit(fd, 5) != -ECHILD) << 2;
    std::vector<uint64_t> got;
    bad |= (read_cookies(fd, &got) != -ECHILD) << 3;
    bad |= (mmap(nullptr, pg, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED || errno != ECHILD) << 4;
    pollfd pfd{fd, POLLIN, 0};
    bad |= (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLERR)) << 5;
    return bad;
}

TEST_F(Device, ForkedChildGetsEchildAndTheParentKeepsWorking) {
    char *p = map(1);
    ASSERT_EQ(reg(fd, p, pg, 1), 0);
    pid_t child = fork();
    if (child == 0) _exit(child_uses_inherited_fd(fd, p));
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "bit mask of calls that did not give ECHILD";
    munmap(p, pg);
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(fd, &got), 1);
}

// After exec the process has a new mm: a descriptor kept across exec (no
// O_CLOEXEC) belongs to the old one. The re-executed test binary checks it
// here, before gtest starts, and exits with the mask of calls that did not
// give ECHILD.
const int exec_check = [] {
    const char *fd_text = getenv("UMN_DEVICE_TEST_EXEC_FD");
    if (!fd_text) return 0;
    int fd = atoi(fd_text);
    int bad = (unreg(fd, 1) != -ECHILD) | (set_limit(fd, 5) != -ECHILD) << 1;
    uint64_t c;
    bad |= (read(fd, &c, sizeof c) != -1 || errno != ECHILD) << 2;
    _exit(bad);
}();

TEST_F(Device, DescriptorKeptAcrossExecGivesEchild) {
    int kept = open(UMN_DEV_PATH, O_RDWR | O_NONBLOCK);  // no O_CLOEXEC
    ASSERT_GE(kept, 0);
    char *p = map(1);
    ASSERT_EQ(reg(kept, p, pg, 1), 0);
    pid_t child = fork();
    if (child == 0) {
        setenv("UMN_DEVICE_TEST_EXEC_FD", std::to_string(kept).c_str(), 1);
        execl("/proc/self/exe", "umn_device_test", static_cast<char *>(nullptr));
        _exit(100);
    }
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "bit mask of calls that did not give ECHILD (100: exec failed)";
    munmap(p, pg);  // the parent's registration still works
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(kept, &got), 1);
    close(kept);
}

// One byte with room for one descriptor (SCM_RIGHTS), for sendmsg/recvmsg.
struct fd_message {
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    fd_message() {
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
    }
    fd_message(const fd_message &) = delete;
    fd_message &operator=(const fd_message &) = delete;
};

bool send_fd(int sock, int fd) {
    fd_message m;
    cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(sock, &m.msg, 0) == 1;
}

// The descriptor received on `sock`, -1 if none came.
int receive_fd(int sock) {
    fd_message m;
    if (recvmsg(sock, &m.msg, 0) != 1) return -1;
    const cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

// A child opens the device, registers, passes the descriptor to us and exits
// without closing: its mm goes (RELEASE), we get ECHILD, and our close frees
// what it left.
TEST_F(Device, DescriptorPassedToAnotherProcessGivesEchildAndClosesCleanly) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t child = fork();
    if (child == 0) {
        int dev = open_dev();
        char *p = map(4);
        for (uint64_t i = 0; i < 4; ++i)
            if (reg(dev, p + i * pg, pg, i)) _exit(1);
        munmap(p, pg);  // one undrained cookie left on the list
        _exit(send_fd(sv[1], dev) ? 0 : 2);
    }
    const int dev = receive_fd(sv[0]);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_GE(dev, 0);
    EXPECT_EQ(unreg(dev, 1), -ECHILD);
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(dev, &got), -ECHILD);
    EXPECT_EQ(close(dev), 0);
    close(sv[0]);
    close(sv[1]);
}

// close() races with invalidation callbacks of the same registrations: the
// unmapping thread keeps replacing registered pages while the file goes.
TEST_F(Device, CloseWhileAnotherThreadMunmapsIsSafe) {
    const uint64_t pages = 64;
    char *p = map(pages);
    ASSERT_NE(p, nullptr);
    std::atomic<bool> stop{false};
    std::thread unmapper([&] {
        for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); i = (i + 1) % pages)
            mmap(p + i * pg, pg, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0);
    });
    for (uint64_t round = 0; round < rounds(200); ++round) {
        int dev = open_dev();
        if (dev < 0) {
            ADD_FAILURE() << "open: " << strerror(errno);
            break;
        }
        for (uint64_t i = 0; i < pages; ++i) reg(dev, p + i * pg, pg, i);
        if (round % 2) {
            std::vector<uint64_t> got;
            read_cookies(dev, &got, 8);
        }
        close(dev);
    }
    stop = true;
    unmapper.join();
    munmap(p, pages * pg);
}

// Random ioctls, reads and mappings; every answer must be one the ABI
// documents, and the kernel must survive (an oops ends the VM).
TEST_F(Device, RandomCallsGetDocumentedAnswers) {
    std::mt19937_64 rng(getenv("UMN_FUZZ_SEED") ? strtoull(getenv("UMN_FUZZ_SEED"), nullptr, 0)
                                                : 20091110);
    const uint64_t pages = 32;
    char *area = map(pages);
    ASSERT_NE(area, nullptr);
    int dev = open_dev();
    ASSERT_GE(dev, 0);
    const unsigned long cmds[] = {UMN_IOC_REGISTER,      UMN_IOC_UNREGISTER,
                                  UMN_IOC_SET_LIMIT,     UMN_IOC_ABI_VERSION,
                                  _IO(UMN_IOC_MAGIC, 0), _IOWR(UMN_IOC_MAGIC, 1, umn_dev_register)};
    auto any = [&] {  // a value near the interesting edges
        uint64_t base = rng() % 4 == 0 ? rng() : reinterpret_cast<uintptr_t>(area);
        return base + (rng() % 8) * pg + (rng() % 3 == 0 ? rng() % pg : 0);
    };
    for (uint64_t i = 0; i < rounds(20000); ++i) {
        // Random direction, size and number, but our type: a random type
        // could hit a generic ioctl such as FIONBIO.
        unsigned long random_cmd = (rng() & 0xffff00ffu) | (UMN_IOC_MAGIC << 8);
        unsigned long cmd = rng() % 8 == 0 ? random_cmd : cmds[rng() % std::size(cmds)];
        umn_dev_register arg{any(), (rng() % 6) * pg + (rng() % 4 == 0 ? rng() : 0), rng() % 16};
        void *argp = rng() % 16 == 0 ? reinterpret_cast<void *>(rng()) : &arg;
        long rc = ioctl(dev, cmd, argp);
        int e = rc < 0 ? errno : 0;
        EXPECT_TRUE(rc >= 0 || e == EINVAL || e == EEXIST || e == ENOENT || e == ENOSPC ||
                    e == EFAULT || e == ENOTTY)
            << "ioctl " << std::hex << cmd << ": " << strerror(e);
        switch (rng() % 4) {
            case 0: {
                uint64_t buf[8];
                void *to = rng() % 8 == 0 ? reinterpret_cast<void *>(rng()) : buf;
                ssize_t got = read(dev, to, rng() % (sizeof buf + 1));
                EXPECT_TRUE(got >= 0 || errno == EAGAIN || errno == EINVAL || errno == EFAULT);
                break;
            }
            case 1: {
                char *at = area + (rng() % pages) * pg;
                mmap(at, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                     0);
                break;
            }
            case 2:
                madvise(area + (rng() % pages) * pg, pg, MADV_DONTNEED);
                break;
            default:
                if (rng() % 64 == 0) {  // start over with a fresh file
                    close(dev);
                    dev = open_dev();
                    ASSERT_GE(dev, 0);
                }
        }
    }
    close(dev);
    munmap(area, pages * pg);
}

// A range with an unmapped page gives -EFAULT and registers nothing (it
// returned 0, and a page mapped into the hole later went unwatched).
TEST_F(Device, RegisterOverAHoleGivesEfault) {
    char *p = map(3);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(munmap(p + pg, pg), 0);
    EXPECT_EQ(reg(fd, p, 3 * pg, 1), -EFAULT);
    EXPECT_EQ(reg(fd, p + pg, pg, 2), -EFAULT);
    EXPECT_EQ(unreg(fd, 1), -ENOENT);
    EXPECT_EQ(reg(fd, p, pg, 3), 0);
    EXPECT_EQ(reg(fd, p + 2 * pg, pg, 4), 0);
    void *back = mmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                      -1, 0);
    ASSERT_EQ(back, p + pg);
    munmap(p + pg, pg);
    std::vector<uint64_t> got;
    EXPECT_EQ(read_cookies(fd, &got), -EAGAIN) << "the hole was watched";
    munmap(p, 3 * pg);
    EXPECT_EQ(read_cookies(fd, &got), 2);
}

// Each open file has its own file_id, on its page and from UMN_IOC_FILE_ID:
// what lets the library tell its descriptor from another open of /dev/umn
// that took the same number.
TEST_F(Device, FileIdIsOnThePageAndDiffersPerOpen) {
    int other = open_dev();
    ASSERT_GE(other, 0);
    __u64 mine = 0, theirs = 0;
    ASSERT_EQ(call(fd, UMN_IOC_FILE_ID, &mine), 0);
    ASSERT_EQ(call(other, UMN_IOC_FILE_ID, &theirs), 0);
    EXPECT_NE(mine, 0u);
    EXPECT_NE(mine, theirs);
    void *page = mmap(nullptr, pg, PROT_READ, MAP_SHARED, fd, 0);
    ASSERT_NE(page, MAP_FAILED);
    EXPECT_EQ(static_cast<const umn_dev_page *>(page)->file_id, mine);
    munmap(page, pg);
    close(other);
}

// A child made by a raw fork (no user-space fork handler runs) reads the
// inherited generation page: it must not see the parent's generation there,
// which a cache would compare with the one it saw (a stale hit).
TEST_F(Device, ChildOfARawForkSeesAGenerationTheParentNeverHad) {
    const volatile uint64_t *gen = map_generation(fd);
    ASSERT_NE(gen, nullptr);
    char *p = map(1);
    ASSERT_EQ(reg(fd, p, pg, 1), 0);
    munmap(p, pg);
    const uint64_t parent = *gen;  // 1, and mapped in the parent
    long child = syscall(SYS_fork);
    if (child == 0) _exit(*gen == UINT64_MAX ? 0 : *gen == parent ? 1 : 2);
    int status = 0;
    waitpid(static_cast<pid_t>(child), &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the parent's generation, 2: another value";
    EXPECT_EQ(*gen, parent) << "the parent's page changed";
    munmap(const_cast<uint64_t *>(gen), pg);
}

}  // namespace
