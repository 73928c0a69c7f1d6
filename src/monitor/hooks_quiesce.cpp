// SPDX-License-Identifier: BSD-3-Clause
// Waiting out the mapping calls that began before the hooks were written.
//
// A thread can be inside libc's munmap when its entry is patched: past the
// patched bytes, or already in the kernel (often blocked on the mm's lock,
// which the patching itself takes to change the text's protection). That
// call completes without the hook; a registration made meanwhile would not
// be invalidated. So install() waits, after the jumps are written and every
// core has serialized, until each other thread is seen somewhere harmless.
//
// The kernel tells where a sleeping thread is: /proc/self/task/T/syscall
// gives the system call it sleeps in (or -1) and its user instruction
// pointer. A thread is harmless once seen
//   - sleeping in a system call that does not change mappings, or in one
//     made from the hooks' own code (then the hook saw it), or
//   - sleeping outside a system call with its instruction pointer outside
//     the patched functions' old code.
// A runnable thread is reported as "running", with nothing more; an unhooked
// call on a running thread is a few instructions from its end, so such a
// thread gets a grace period (running_grace) and is then counted as
// unconfirmed. A thread sleeping in an unhooked call is waited for up to
// blocked_limit (the call is making progress in the kernel).
//
// Runs in the thread that installs the hooks, under the monitor's
// install lock; touches no shared state.
#include "monitor/hooks_quiesce.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace umn {

namespace {

using clock = std::chrono::steady_clock;
constexpr auto running_grace = std::chrono::milliseconds(50);
constexpr auto blocked_limit = std::chrono::seconds(2);

enum class where { harmless, running, unhooked_call, gone };

bool changes_mappings(long nr) {
    switch (nr) {
        case SYS_mmap:
        case SYS_munmap:
        case SYS_mremap:
        case SYS_madvise:
        case SYS_brk:
        case SYS_shmat:
        case SYS_shmdt:
            return true;
        default:
            return false;
    }
}

bool inside(const std::vector<code_range> &ranges, uintptr_t pc) {
    for (const code_range &r : ranges)
        if (r.contains(pc)) return true;
    return false;
}

// The last whitespace-separated field of `text`, as a number.
uintptr_t last_number(const char *text) {
    const char *last = std::strrchr(text, ' ');
    return static_cast<uintptr_t>(std::strtoull(last ? last + 1 : text, nullptr, 0));
}

where locate(long tid, const std::vector<code_range> &hooked,
             const std::vector<code_range> &unpatched) {
    char path[64], text[256];
    std::snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return where::gone;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return where::gone;
    text[n] = '\0';
    if (std::strncmp(text, "running", 7) == 0) return where::running;
    const long nr = std::strtol(text, nullptr, 10);
    const uintptr_t pc = last_number(text);
    if (nr < 0) return inside(unpatched, pc) ? where::unhooked_call : where::harmless;
    return changes_mappings(nr) && !inside(hooked, pc) ? where::unhooked_call : where::harmless;
}

struct watched {
    long tid;
    bool was_in_call;
};

std::vector<watched> other_threads() {
    std::vector<watched> out;
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return out;
    const long self = syscall(SYS_gettid);
    while (dirent *d = readdir(dir)) {
        long tid = std::strtol(d->d_name, nullptr, 10);
        if (tid > 0 && tid != self) out.push_back({tid, false});
    }
    closedir(dir);
    return out;
}

}  // namespace

quiesce_result wait_for_unhooked_calls(const std::vector<code_range> &hooked,
                                       const std::vector<code_range> &unpatched) {
    quiesce_result result;
    const auto start = clock::now();
    std::vector<watched> pending = other_threads();
    auto pause = std::chrono::microseconds(20);
    for (;;) {
        bool any_blocked = false;
        std::erase_if(pending, [&](watched &w) {
            const where now = locate(w.tid, hooked, unpatched);
            if (now == where::unhooked_call) {
                result.waited += !w.was_in_call;
                w.was_in_call = true;
                any_blocked = true;
            }
            return now == where::harmless || now == where::gone;
        });
        const auto spent = clock::now() - start;
        if (pending.empty() || spent > blocked_limit || (!any_blocked && spent > running_grace))
            break;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
    result.unconfirmed = static_cast<unsigned>(pending.size());
    result.micros =
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
    return result;
}

}  // namespace umn
