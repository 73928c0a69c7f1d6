// SPDX-License-Identifier: BSD-3-Clause
#include "case_context.hpp"

#include <cerrno>
#include <cstring>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

namespace umn::testkit {

const size_t pg = static_cast<size_t>(sysconf(_SC_PAGESIZE));

void case_context::watch(const void *addr, size_t len) {
    uint64_t cookie = next_cookie_++;
    int rc = umn_register(n_, addr, len, cookie);
    if (rc == -ENOTSUP) refused_ = true;  // judged against the case's documented limits
    if (rc) {
        fail("umn_register: " + std::string(strerror(-rc)));
        return;
    }
    watched_.push_back({cookie, addr, len, pagemap_.read(addr, len), umn_generation(n_)});
}

void case_context::fail_errno(const std::string &call) {
    fail(call + ": " + strerror(errno));
}

std::set<uint64_t> case_context::drain_all() {
    std::set<uint64_t> seen;
    uint64_t buf[64];
    long got;
    while ((got = umn_get_invalid(n_, buf, 64)) > 0) seen.insert(buf, buf + got);
    if (got < 0) fail("umn_get_invalid: " + std::string(strerror(static_cast<int>(-got))));
    return seen;
}

truth case_context::frames_truth() const {
    if (!pagemap_.available()) return truth::unavailable;
    for (const watched &w : watched_)
        if (frames_changed(w.before, pagemap_.read(w.addr, w.len))) return truth::changed;
    return truth::unchanged;
}

void case_context::step(const std::string &label, bool expected) {
    step_result s;
    s.label = label;
    s.expected = expected;
    close(std::move(s));
}

void case_context::step_may_change(const std::string &label) {
    step_result s;
    s.label = label;
    s.may_change = true;
    close(std::move(s));
}

void case_context::skip(const std::string &label, const std::string &why) {
    step_result s;
    s.label = label;
    s.skipped = why;
    close(std::move(s));
}

void case_context::close(step_result s) {
    s.frames = frames_truth();
    uint64_t generation = umn_generation(n_);  // before draining: it must already have moved
    std::set<uint64_t> seen = drain_all();
    s.seen = !seen.empty();
    std::set<uint64_t> all;
    for (const watched &w : watched_) all.insert(w.cookie);
    for (const watched &w : watched_) {
        if (seen.count(w.cookie) && generation == w.generation)
            fail("cookie drained but the generation had not moved");
    }
    if (s.seen && seen != all)
        fail("reported " + std::to_string(seen.size()) + " of " + std::to_string(all.size()) +
             " registrations");
    for (const watched &w : watched_) {
        int rc = umn_unregister(n_, w.cookie);
        if (seen.count(w.cookie) ? rc != -ENOENT : rc != 0)
            fail("umn_unregister after the step: " + std::to_string(rc));
    }
    watched_.clear();
    s.problem = std::move(problem_);
    s.refused = refused_;
    problem_.clear();
    refused_ = false;
    steps.push_back(std::move(s));
}

char *map_pages(size_t pages, int flags) {
    void *p = mmap(nullptr, pages * pg, PROT_READ | PROT_WRITE, flags | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char *>(p);
}

bool still_mapped(uintptr_t addr, size_t len) {
    uintptr_t start = addr & ~(pg - 1), end = addr + len;
    unsigned char v;
    for (uintptr_t a = start; a < end; a += pg)
        if (mincore(reinterpret_cast<void *>(a), pg, &v) == 0) return true;
    return false;
}

void touch(char *p, size_t len) {
    for (size_t i = 0; i < len; i += pg) p[i] = 1;
}

char *map_memfd(size_t pages, int *fd) {
    *fd = memfd_create("umn-check", MFD_CLOEXEC);
    if (*fd < 0 || ftruncate(*fd, static_cast<off_t>(pages * pg))) return nullptr;
    void *p = mmap(nullptr, pages * pg, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (p == MAP_FAILED) return nullptr;
    touch(static_cast<char *>(p), pages * pg);
    return static_cast<char *>(p);
}

char *shm_attach(const void *at, int flags) {
    int id = shmget(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
    if (id < 0) return nullptr;
    void *p = shmat(id, at, flags);
    shmctl(id, IPC_RMID, nullptr);  // freed at the last detach
    if (p == reinterpret_cast<void *>(-1)) return nullptr;
    touch(static_cast<char *>(p), 3 * pg);
    return static_cast<char *>(p);
}

}  // namespace umn::testkit
