// SPDX-License-Identifier: BSD-3-Clause
// Not thread-safe: one churn per thread (each with its own notifier, so the
// invalid list holds only this thread's cookies).
#include "churn.hpp"

#include <cerrno>
#include <sys/mman.h>
#include <unistd.h>

namespace umn::reliability {

namespace {

size_t page() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

char *map_pages(size_t len, int extra_flags = 0) {
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | extra_flags, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char *>(p);
}

}  // namespace

void churn_counts::add(const churn_counts &o) {
    rounds += o.rounds;
    invalidations += o.invalidations;
    late += o.late;
    duplicate += o.duplicate;
    errors += o.errors;
}

churn::churn(unsigned seed) : rng_(seed) {
    open_error_ = umn_notifier_open(&n_, UMN_MONITOR_AUTO);
}

churn::~churn() {
    umn_notifier_close(n_);
}

void churn::round() {
    ++counts_.rounds;
    const size_t len = (1 + rng_() % 4) * page();
    char *base = map_pages(len);
    if (!base) {
        ++counts_.errors;
        return;
    }
    const uint64_t cookie = next_cookie_++;
    size_t offset = rng_() % (len / 2);
    size_t sub = 1 + rng_() % (len - offset);
    // Read before registering: a stale event for this address (another
    // thread unmapped it before we mapped it) may invalidate the new
    // registration at once, which is legal and moves the generation.
    const uint64_t before = umn_generation(n_);
    if (umn_register(n_, base + offset, sub, cookie) != 0) {
        ++counts_.errors;
        munmap(base, len);
        return;
    }
    auto a = static_cast<action>(rng_() % static_cast<unsigned>(action::count));
    if (a == action::mremap_move)
        move_registered(base, len, offset, sub);
    else
        act(a, base, len);
    if (a == action::unregister) {
        if (umn_unregister(n_, cookie) != 0) ++counts_.errors;
        check_drained(cookie, before, false);
        munmap(base, len);
    } else {
        ++counts_.invalidations;
        check_drained(cookie, before, true);
    }
}

// Performs the invalidating call; afterwards [base, base + len) is unmapped
// except for the unregister action, which leaves it mapped.
void churn::act(action a, char *base, size_t len) {
    switch (a) {
        case action::munmap:
            munmap(base, len);
            break;
        case action::map_fixed:
            if (mmap(base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                     0) == MAP_FAILED)
                ++counts_.errors;
            munmap(base, len);
            break;
        case action::dontneed:
            if (madvise(base, len, MADV_DONTNEED)) ++counts_.errors;
            munmap(base, len);
            break;
        case action::mremap_move:
        case action::unregister:
        case action::count:
            break;
    }
}

// Moves the registered pages away with mremap (one call may move one VMA
// only, and userfaultfd split the mapping at the registered pages), then
// unmaps the rest. The moved-out pages are a hole another thread may map
// into at once: never unmap them again.
void churn::move_registered(char *base, size_t len, size_t offset, size_t sub) {
    const size_t first = offset / page() * page();
    const size_t end = (offset + sub + page() - 1) / page() * page();
    void *target = mmap(nullptr, end - first, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (target == MAP_FAILED || mremap(base + first, end - first, end - first,
                                       MREMAP_MAYMOVE | MREMAP_FIXED, target) == MAP_FAILED) {
        ++counts_.errors;
        munmap(base, len);
    } else {
        if (first) munmap(base, first);
        if (end < len) munmap(base + end, len - end);
    }
    if (target != MAP_FAILED) munmap(target, end - first);
}

// Called right after the call that invalidated (or the unregister) returned.
void churn::check_drained(uint64_t cookie, uint64_t before, bool expect) {
    uint64_t got[4];
    long k = umn_get_invalid(n_, got, 4);
    if (k < 0) {
        ++counts_.errors;
        return;
    }
    if (expect) {
        if (umn_generation(n_) == before || k != 1 || got[0] != cookie) ++counts_.late;
        if (k > 1) ++counts_.duplicate;
    } else if (k != 0) {
        ++counts_.duplicate;
    }
    if (umn_get_invalid(n_, got, 4) != 0) ++counts_.duplicate;
}

}  // namespace umn::reliability
