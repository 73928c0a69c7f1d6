// SPDX-License-Identifier: BSD-3-Clause
// What a coverage case body sees (coverage.hpp runs the cases): it watches
// ranges, makes the calls under test, then closes a step, which compares the
// frames (/proc/self/pagemap) and what the notifier reported. Shared by the
// case files: coverage.cpp (calls through libc), cases_kernel_paths.cpp
// (paths that bypass libc's mapping functions or change pages without one).
#pragma once

#include "coverage.hpp"
#include "pagemap.hpp"

#include <umn/umn.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <sys/mman.h>
#include <vector>

namespace umn::testkit {

extern const size_t pg;

class case_context {
  public:
    explicit case_context(umn_notifier *n) : n_(n) {}

    // Registers [addr, addr + len) under a fresh cookie and records its frames.
    void watch(const void *addr, size_t len);

    // Closes a step: `expected` says whether the contract requires every
    // watched registration to fire.
    void step(const std::string &label, bool expected);
    // Closes a step whose call may or may not change the pages (the frames
    // decide): an event without a change is allowed, not a false event.
    void step_may_change(const std::string &label);
    // Closes a step that could not run here, with the reason.
    void skip(const std::string &label, const std::string &why);
    void fail(const std::string &why) { problem_ += (problem_.empty() ? "" : "; ") + why; }
    // fail() with the call's name and strerror(errno).
    void fail_errno(const std::string &call);

    // Whether a registered page's frame changed since watch(): lets a case
    // wait for an asynchronous change (KSM) before closing its step.
    bool frames_changed_now() const { return frames_truth() == truth::changed; }
    bool ground_truth() const { return pagemap_.available(); }
    // The notifier under test, for a case that drives a race itself.
    umn_notifier *notifier() const { return n_; }

    std::vector<step_result> steps;

  private:
    struct watched {
        uint64_t cookie;
        const void *addr;
        size_t len;
        frames before;
        uint64_t generation;
    };

    std::set<uint64_t> drain_all();
    truth frames_truth() const;
    void close(step_result s);

    umn_notifier *n_;
    pagemap pagemap_;
    std::vector<watched> watched_;
    uint64_t next_cookie_ = 1;
    std::string problem_;
    bool refused_ = false;
};

// A private anonymous mapping of `pages`, populated; nullptr on failure.
char *map_pages(size_t pages, int flags = MAP_PRIVATE | MAP_ANONYMOUS);
void touch(char *p, size_t len);
// Whether any page of [addr, addr + len) is still mapped.
bool still_mapped(uintptr_t addr, size_t len);
// A shared memfd mapping of `pages`, touched; the descriptor in *fd.
char *map_memfd(size_t pages, int *fd);
// Attaches a fresh 3-page SysV segment at `at` with `flags`, touched.
char *shm_attach(const void *at, int flags);

constexpr unsigned bit(umn_monitor m) {
    return 1u << m;
}
constexpr unsigned user_space = bit(UMN_MONITOR_UFFD) | bit(UMN_MONITOR_HOOKS);

struct case_entry {
    coverage_case info;
    void (*body)(case_context &);
};

// The cases of cases_kernel_paths.cpp and cases_races.cpp.
const std::vector<case_entry> &kernel_path_cases();
const std::vector<case_entry> &race_cases();

}  // namespace umn::testkit
