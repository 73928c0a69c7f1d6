// SPDX-License-Identifier: BSD-3-Clause
#include "coverage.hpp"

#include "case_context.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <set>
#include <sstream>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace umn::testkit {

namespace {

void case_seed_sequence(case_context &ctx) {
    char *t = map_pages(3);
    ctx.watch(t, 3 * pg);
    mmap(t + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    ctx.step("mmap(MAP_FIXED) one page over the middle", true);
    ctx.watch(t, 3 * pg);
    munmap(t + pg, pg);
    ctx.step("munmap the middle page (never touched)", true);
    ctx.watch(t, pg);
    ctx.watch(t + 2 * pg, pg);
    mmap(t + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    ctx.step("mmap(MAP_FIXED) into the hole (neighbours registered)", false);
    munmap(t, 3 * pg);
}

void case_munmap_whole(case_context &ctx) {
    char *p = map_pages(3);
    ctx.watch(p, 3 * pg);
    munmap(p, 3 * pg);
    ctx.step("munmap the whole range", true);
}

void case_munmap_one_page(case_context &ctx) {
    char *p = map_pages(3);
    ctx.watch(p, 3 * pg);
    munmap(p + 2 * pg, pg);
    ctx.step("munmap the last page", true);
    munmap(p, 2 * pg);
}

void case_munmap_unrelated(case_context &ctx) {
    char *p = map_pages(3), *q = map_pages(1);
    ctx.watch(p, 3 * pg);
    munmap(q, pg);
    ctx.step("munmap another mapping", false);
    munmap(p, 3 * pg);
}

void case_mremap_move(case_context &ctx) {
    char *p = map_pages(3), *target = map_pages(3);
    ctx.watch(p, 3 * pg);
    void *q = mremap(p, 3 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    if (q == MAP_FAILED) ctx.fail("mremap: " + std::string(strerror(errno)));
    ctx.step("mremap(MREMAP_FIXED) to another address", true);
    munmap(target, 3 * pg);
}

void case_mremap_shrink(case_context &ctx) {
    char *p = map_pages(3);
    ctx.watch(p, 3 * pg);
    if (mremap(p, 3 * pg, pg, 0) == MAP_FAILED) ctx.fail("mremap: " + std::string(strerror(errno)));
    ctx.step("mremap shrinking 3 pages to 1", true);
    munmap(p, pg);
}

void madvise_case(case_context &ctx, int advice, const char *label) {
    char *p = map_pages(3);
    ctx.watch(p, 3 * pg);
    if (madvise(p, 3 * pg, advice)) ctx.fail("madvise: " + std::string(strerror(errno)));
    ctx.step(label, true);
    munmap(p, 3 * pg);
}

void case_madv_dontneed(case_context &ctx) {
    madvise_case(ctx, MADV_DONTNEED, "MADV_DONTNEED");
}
void case_madv_free(case_context &ctx) {
    madvise_case(ctx, MADV_FREE, "MADV_FREE");
}

void case_madv_remove_memfd(case_context &ctx) {
    int fd;
    char *p = map_memfd(3, &fd);
    if (!p) return ctx.fail("memfd mapping failed");
    ctx.watch(p, 3 * pg);
    if (madvise(p, 3 * pg, MADV_REMOVE)) ctx.fail("madvise: " + std::string(strerror(errno)));
    ctx.step("MADV_REMOVE on a shared memfd mapping", true);
    munmap(p, 3 * pg);
    close(fd);
}

void case_sbrk_shrink(case_context &ctx) {
    // Page-align the break so the pages given back are wholly ours.
    char *top = static_cast<char *>(sbrk(0));
    size_t pad = (pg - reinterpret_cast<uintptr_t>(top) % pg) % pg;
    char *p = static_cast<char *>(sbrk(static_cast<intptr_t>(pad + 4 * pg)));
    if (p == reinterpret_cast<char *>(-1)) return ctx.fail("sbrk failed");
    p += pad;
    touch(p, 4 * pg);
    ctx.watch(p + 2 * pg, 2 * pg);
    if (sbrk(0) != p + 4 * pg) return ctx.fail("the allocator moved the break");
    sbrk(-static_cast<intptr_t>(2 * pg));
    ctx.step("sbrk(-2 pages) over registered pages", true);
}

void case_shmat_shmdt(case_context &ctx) {
    char *p = shm_attach(nullptr, 0);
    if (!p) return ctx.fail("shmat failed");
    ctx.watch(p, 3 * pg);
    shmdt(p);
    ctx.step("shmdt of a SysV segment", true);
}

void case_shmat_remap(case_context &ctx) {
    char *p = shm_attach(nullptr, 0);
    if (!p) return ctx.fail("shmat failed");
    ctx.watch(p, 3 * pg);
    if (!shm_attach(p, SHM_REMAP)) ctx.fail("shmat(SHM_REMAP) failed");
    ctx.step("shmat(SHM_REMAP) of another segment over it", true);
    shmdt(p);
}

void case_free_large_malloc(case_context &ctx) {
    const size_t len = 1 << 20;  // above glibc's mmap threshold
    char *p = static_cast<char *>(malloc(len));
    memset(p, 1, len);
    ctx.watch(p, len);
    auto addr = reinterpret_cast<uintptr_t>(p);
    free(p);
    bool unmapped = !still_mapped(addr, len);
    ctx.step(unmapped ? "free() of a 1 MiB malloc block (allocator unmapped it)"
                      : "free() of a 1 MiB malloc block (allocator kept it mapped)",
             unmapped);
}

void case_raw_syscall_munmap(case_context &ctx) {
    char *p = map_pages(3);
    ctx.watch(p, 3 * pg);
    syscall(SYS_munmap, p, 3 * pg);
    ctx.step("syscall(SYS_munmap)", true);
}

void case_mprotect(case_context &ctx) {
    char *p = map_pages(3);
    ctx.watch(p, 3 * pg);
    mprotect(p, 3 * pg, PROT_READ);
    ctx.step("mprotect(PROT_READ)", false);
    munmap(p, 3 * pg);
}

void case_fork_cow_write(case_context &ctx) {
    char *p = map_pages(1);
    touch(p, pg);
    ctx.watch(p, pg);
    int hold[2];
    if (pipe(hold)) return ctx.fail("pipe failed");
    pid_t child = fork();
    if (child == 0) {
        close(hold[1]);
        char c;
        ssize_t r = read(hold[0], &c, 1);  // keep the page shared until the parent wrote
        _exit(r < 0);
    }
    p[0] = 2;  // copy-on-write break in the parent
    ctx.step("write in the parent after fork (copy-on-write)", true);
    close(hold[1]);
    close(hold[0]);
    waitpid(child, nullptr, 0);
    munmap(p, pg);
}

void case_two_registrations_one_page(case_context &ctx) {
    char *p = map_pages(1);
    ctx.watch(p, 100);
    ctx.watch(p + 200, 100);
    munmap(p, pg);
    ctx.step("munmap of a page two registrations share", true);
}

void case_registration_across_two_mappings(case_context &ctx) {
    char *p = map_pages(2);
    void *second =
        mmap(p + pg, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (second == MAP_FAILED) return ctx.fail("second mapping failed");
    touch(p, 2 * pg);
    ctx.watch(p, 2 * pg);
    munmap(p + pg, pg);
    ctx.step("munmap of the second of two adjacent mappings", true);
    munmap(p, pg);
}

void case_memfd_punch_hole(case_context &ctx) {
    int fd;
    char *p = map_memfd(3, &fd);
    if (!p) return ctx.fail("memfd mapping failed");
    ctx.watch(p, 3 * pg);
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(pg),
                  static_cast<off_t>(pg)))
        ctx.fail("fallocate: " + std::string(strerror(errno)));
    ctx.step("fallocate(PUNCH_HOLE) under a shared memfd mapping", true);
    munmap(p, 3 * pg);
    close(fd);
}

void case_memfd_ftruncate(case_context &ctx) {
    int fd;
    char *p = map_memfd(3, &fd);
    if (!p) return ctx.fail("memfd mapping failed");
    ctx.watch(p, 3 * pg);
    if (ftruncate(fd, static_cast<off_t>(pg)))
        ctx.fail("ftruncate: " + std::string(strerror(errno)));
    ctx.step("ftruncate shrinking a mapped memfd", true);
    munmap(p, 3 * pg);
    close(fd);
}

void case_realloc_grow(case_context &ctx) {
    const size_t len = 256 << 10, grown = 4 << 20;
    unsigned char *p = static_cast<unsigned char *>(malloc(len));
    for (size_t i = 0; i < len; ++i) p[i] = static_cast<unsigned char>(i * 7);
    ctx.watch(p, len);
    auto addr = reinterpret_cast<uintptr_t>(p);
    auto *q = static_cast<unsigned char *>(realloc(p, grown));
    if (!q) return ctx.fail("realloc failed");
    for (size_t i = 0; i < len; ++i)
        if (q[i] != static_cast<unsigned char>(i * 7)) return ctx.fail("realloc lost the contents");
    bool in_place = reinterpret_cast<uintptr_t>(q) == addr;
    bool moved = !in_place && !still_mapped(addr, len);
    ctx.step(in_place ? "realloc grew the block in place"
             : moved  ? "realloc moved the block and unmapped the old one"
                      : "realloc moved the block, allocator kept the old one mapped",
             moved);
    free(q);
}

// Sanitizer runtimes bring their own allocator, which maps and unmaps with raw
// system calls (libc is never entered): the hooks monitor cannot see it. ASan
// keeps freed blocks mapped (quarantine); ThreadSanitizer unmaps them.
#if defined(__SANITIZE_THREAD__)
constexpr unsigned raw_allocator = bit(UMN_MONITOR_HOOKS);
#else
constexpr unsigned raw_allocator = 0;
#endif
const char *const raw_allocator_why =
    "ThreadSanitizer's allocator unmaps with raw system calls, bypassing libc";
const char *const sysv_uffd =
    "userfaultfd cannot register SysV shm mappings: umn_register returns -ENOTSUP";

const std::vector<case_entry> &libc_cases() {
    static const std::vector<case_entry> all = {
        {{"seed_sequence", "the 2009 seed: MAP_FIXED over, munmap, MAP_FIXED into the hole", 0, ""},
         case_seed_sequence},
        {{"munmap_whole", "munmap of the whole registered range", 0, ""}, case_munmap_whole},
        {{"munmap_one_page", "munmap of one registered page", 0, ""}, case_munmap_one_page},
        {{"munmap_unrelated", "munmap of an unrelated mapping (no event)", 0, ""},
         case_munmap_unrelated},
        {{"mremap_move", "mremap moving the range", 0, ""}, case_mremap_move},
        {{"mremap_shrink", "mremap shrinking the range", 0, ""}, case_mremap_shrink},
        {{"madv_dontneed", "madvise(MADV_DONTNEED)", 0, ""}, case_madv_dontneed},
        {{"madv_free", "madvise(MADV_FREE)", 0, ""}, case_madv_free},
        {{"madv_remove_memfd", "madvise(MADV_REMOVE) on a shared memfd mapping", 0, ""},
         case_madv_remove_memfd},
        {{"sbrk_shrink", "sbrk shrinking the heap over registered pages", 0, ""}, case_sbrk_shrink},
        {{"shmat_shmdt", "shmdt of an attached SysV segment", bit(UMN_MONITOR_UFFD), sysv_uffd},
         case_shmat_shmdt},
        {{"shmat_remap", "shmat(SHM_REMAP) over a registered segment", bit(UMN_MONITOR_UFFD),
          sysv_uffd},
         case_shmat_remap},
        {{"free_large_malloc", "free() of an mmap-backed malloc block", raw_allocator,
          raw_allocator_why},
         case_free_large_malloc},
        {{"raw_syscall_munmap", "syscall(SYS_munmap) through libc's syscall()", 0, ""},
         case_raw_syscall_munmap},
        {{"mprotect", "mprotect keeping the pages (no event)", 0, ""}, case_mprotect},
        {{"fork_cow_write", "fork, then a write in the parent (copy-on-write)", user_space,
          "copy-on-write is a page fault, not a call; only the kernel monitor sees it"},
         case_fork_cow_write},
        {{"two_registrations_one_page", "two registrations sharing one page both fire", 0, ""},
         case_two_registrations_one_page},
        {{"registration_across_two_mappings", "one registration spanning two adjacent mappings", 0,
          ""},
         case_registration_across_two_mappings},
        {{"memfd_punch_hole", "fallocate(PUNCH_HOLE) of a shared memfd mapping", user_space,
          "the file changes, not the mapping: no userfaultfd event, no libc call to hook"},
         case_memfd_punch_hole},
        {{"memfd_ftruncate", "ftruncate shrinking a shared memfd mapping", user_space,
          "the file changes, not the mapping: no userfaultfd event, no libc call to hook"},
         case_memfd_ftruncate},
        {{"realloc_grow", "realloc growing a registered block (must keep working)", raw_allocator,
          raw_allocator_why},
         case_realloc_grow},
    };
    return all;
}

const std::vector<case_entry> &entries() {
    static const std::vector<case_entry> all = [] {
        std::vector<case_entry> v = libc_cases();
        v.insert(v.end(), kernel_path_cases().begin(), kernel_path_cases().end());
        v.insert(v.end(), race_cases().begin(), race_cases().end());
        return v;
    }();
    return all;
}

std::string clean(std::string s) {
    std::replace(s.begin(), s.end(), '\t', ' ');
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

void write_all(int fd, const std::string &s) {
    for (size_t done = 0; done < s.size();) {
        ssize_t w = write(fd, s.data() + done, s.size() - done);
        if (w <= 0) return;
        done += static_cast<size_t>(w);
    }
}

[[noreturn]] void run_child(const case_entry &e, umn_monitor monitor, int out) {
    umn_notifier *n = nullptr;
    std::string text;
    int rc = umn_notifier_open(&n, monitor);
    if (rc) {
        text = "open\t0\t0\t0\t0\tumn_notifier_open: " + std::string(strerror(-rc)) + "\n";
    } else {
        case_context ctx(n);
        e.body(ctx);
        for (const step_result &s : ctx.steps)
            text += clean(s.label) + "\t" + std::to_string(static_cast<int>(s.frames)) + "\t" +
                    std::to_string(s.expected) + "\t" + std::to_string(s.seen) + "\t" +
                    std::to_string(s.may_change) + "\t" + clean(s.problem) + "\t" +
                    clean(s.skipped) + "\t" + std::to_string(s.refused) + "\n";
    }
    write_all(out, text);
    _exit(0);
}

std::vector<step_result> parse(const std::string &text) {
    std::vector<step_result> out;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::vector<std::string> f;
        std::istringstream fields(line);
        for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
        f.resize(8);
        step_result s;
        s.label = f[0];
        s.frames = static_cast<truth>(std::atoi(f[1].c_str()));
        s.expected = f[2] == "1";
        s.seen = f[3] == "1";
        s.may_change = f[4] == "1";
        s.problem = f[5];
        s.skipped = f[6];
        s.refused = f[7] == "1";
        out.push_back(s);
    }
    return out;
}

// Reads the child's report until EOF or the deadline.
std::string read_report(int fd, int timeout_ms, bool *timed_out) {
    std::string text;
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r == 0) {
            *timed_out = true;
            return text;
        }
        if (r < 0) continue;
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0) return text;
        text.append(buf, static_cast<size_t>(got));
    }
}

step_result error_step(const std::string &why) {
    step_result s;
    s.label = "run";
    s.problem = why;
    return s;
}

}  // namespace

const std::vector<coverage_case> &coverage_cases() {
    static const std::vector<coverage_case> all = [] {
        std::vector<coverage_case> v;
        for (const case_entry &e : entries()) v.push_back(e.info);
        return v;
    }();
    return all;
}

const coverage_case *find_case(const std::string &name) {
    for (const coverage_case &c : coverage_cases())
        if (name == c.name) return &c;
    return nullptr;
}

std::vector<step_result> run_case(const coverage_case &c, umn_monitor monitor, int timeout_ms) {
    const case_entry *entry = nullptr;
    for (const case_entry &e : entries())
        if (!strcmp(e.info.name, c.name)) entry = &e;
    if (!entry) return {error_step("unknown case")};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) return {error_step("pipe failed")};
    pid_t child = fork();
    if (child < 0) return {error_step("fork failed")};
    if (child == 0) {
        close(fds[0]);
        run_child(*entry, monitor, fds[1]);
    }
    close(fds[1]);
    bool timed_out = false;
    std::string text = read_report(fds[0], timeout_ms, &timed_out);
    close(fds[0]);
    if (timed_out) kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    std::vector<step_result> steps = parse(text);
    if (timed_out) steps.push_back(error_step("hung: killed after the timeout"));
    if (WIFSIGNALED(status) && !timed_out)
        steps.push_back(error_step("child died of signal " + std::to_string(WTERMSIG(status))));
    if (steps.empty()) steps.push_back(error_step("no report from the child"));
    return steps;
}

verdict judge(const coverage_case &c, umn_monitor monitor, const step_result &s) {
    if (!s.skipped.empty() && s.problem.empty()) return verdict::skipped;
    bool expected = s.expected || s.frames == truth::changed;
    bool documented = c.invisible_to & bit(monitor);
    if ((s.refused || (expected && !s.seen)) && documented) return verdict::invisible;
    if (!s.problem.empty()) return verdict::error;
    if (expected && !s.seen) return verdict::missed;
    if (!expected && s.seen && !s.may_change) return verdict::false_event;
    return verdict::ok;
}

std::string verdict_detail(const coverage_case &c, verdict v, const step_result &s) {
    switch (v) {
        case verdict::invisible:
            return c.why_invisible;
        case verdict::skipped:
            return s.skipped;
        default:
            return s.problem;
    }
}

const char *verdict_text(verdict v) {
    switch (v) {
        case verdict::ok:
            return "ok";
        case verdict::missed:
            return "MISSED";
        case verdict::false_event:
            return "FALSE";
        case verdict::invisible:
            return "not visible to this monitor (documented)";
        case verdict::skipped:
            return "skipped";
        default:
            return "ERROR";
    }
}

const char *truth_text(truth t) {
    switch (t) {
        case truth::changed:
            return "changed";
        case truth::unchanged:
            return "unchanged";
        default:
            return "unavailable";
    }
}

bool acceptable(verdict v) {
    return v == verdict::ok || v == verdict::invisible || v == verdict::skipped;
}

}  // namespace umn::testkit
