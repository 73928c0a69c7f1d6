// SPDX-License-Identifier: BSD-3-Clause
// Coverage cases in which a second thread races the call under test.
#include "case_context.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <sys/mman.h>
#include <thread>

namespace umn::testkit {

namespace {

using std::chrono::steady_clock;

// Populates `len` bytes at p and stamps `mark` into the last page.
void fill(char *p, size_t len, char mark) {
    touch(p, len);
    p[len - pg] = mark;
}

struct discard_race {
    size_t tries = 0;     // registrations that landed before the zap reached their page
    size_t stale = 0;     // ... whose page was then discarded with no invalidation
    std::string problem;  // setup failed
};

// One thread discards 64 MiB with MADV_DONTNEED (the zap takes milliseconds,
// the last page goes last; the first page is registered) while this thread
// registers the last page once
// the call is under way: as soon as the generation moves (userfaultfd
// announces the REMOVE event before the zap) or 300 us into the call. A
// registration that still sees the page's stamp when umn_register returns
// came before the zap; if the zap then takes the page and the cookie never
// comes, the registration is stale.
discard_race race_discards(umn_notifier *n) {
    discard_race r;
    const size_t len = 64u << 20;
    char *p = map_pages(len / pg);
    if (!p) {
        r.problem = "mmap of 64 MiB failed";
        return r;
    }
    char *last = p + len - pg;
    for (uint64_t cookie = 1; cookie <= 20 && r.stale < 3; ++cookie) {
        const char mark = static_cast<char>(cookie | 1);
        fill(p, len, mark);
        // A registration of the first page (a region cached earlier) keeps
        // the range watched, so the discard is an event.
        if (umn_register(n, p, pg, cookie + 1000)) {
            r.problem = "umn_register of the first page failed";
            break;
        }
        const uint64_t before = umn_generation(n);
        std::atomic<int> phase{0};  // 1 inside madvise, 2 returned
        std::thread discarder([&] {
            phase.store(1, std::memory_order_release);
            madvise(p, len, MADV_DONTNEED);
            phase.store(2, std::memory_order_release);
        });
        while (phase.load(std::memory_order_acquire) == 0) {
        }
        const auto started = steady_clock::now();
        while (umn_generation(n) == before && phase.load(std::memory_order_acquire) == 1 &&
               steady_clock::now() - started < std::chrono::microseconds(300)) {
        }
        const bool registered = umn_register(n, last, pg, cookie) == 0;
        const bool before_zap = *static_cast<volatile char *>(last) == mark;
        discarder.join();
        if (!registered) continue;
        const bool discarded = *static_cast<volatile char *>(last) != mark;
        uint64_t got[4];
        bool fired = false;
        for (long k = umn_get_invalid(n, got, 4); k > 0; k = umn_get_invalid(n, got, 4))
            for (long i = 0; i < k; ++i) fired |= got[i] == cookie;
        if (!fired) umn_unregister(n, cookie);
        umn_unregister(n, cookie + 1000);  // -ENOENT once drained
        if (!before_zap) continue;         // registered after its page was discarded: no race
        ++r.tries;
        if (discarded && !fired) ++r.stale;
    }
    munmap(p, len);
    return r;
}

void case_madv_dontneed_racing_register(case_context &ctx) {
    discard_race r = race_discards(ctx.notifier());
    if (!r.problem.empty()) return ctx.fail(r.problem);
    const std::string label =
        "MADV_DONTNEED in one thread, umn_register of its last page in "
        "another during the call: stale in " +
        std::to_string(r.stale) + " of " + std::to_string(r.tries);
    if (r.tries == 0) return ctx.skip(label, "no registration landed before the zap");
    // The step carries the race's outcome: a registration the discard must
    // have invalidated; it fired unless one stayed stale.
    char *page = map_pages(1);
    if (!page) return ctx.fail("mmap failed");
    ctx.watch(page, pg);
    if (r.stale == 0) madvise(page, pg, MADV_DONTNEED);
    ctx.step(label, true);
    munmap(page, pg);
}

}  // namespace

const std::vector<case_entry> &race_cases() {
    static const std::vector<case_entry> all = {
        {{"madv_dontneed_racing_register",
          "MADV_DONTNEED in one thread while another registers the pages (two threads)",
          bit(UMN_MONITOR_UFFD),
          "a race: the kernel sends REMOVE and releases the discarding thread when the event is "
          "read, before it zaps the pages; a registration made in between watches pages that "
          "are then discarded, and no second event comes"},
         case_madv_dontneed_racing_register},
    };
    return all;
}

}  // namespace umn::testkit
