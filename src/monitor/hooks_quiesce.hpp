// SPDX-License-Identifier: BSD-3-Clause
// After the hooks are written: waiting out the mapping calls other threads
// began before them. Such a call runs libc's unpatched code, so no hook sees
// it; if it completes after a registration is made, the registration would
// outlive its pages with no invalidation (seen in the no-stale stress test:
// notifiers opened while other threads unmap). See hooks_quiesce.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace umn {

struct code_range {
    uintptr_t start = 0;
    uintptr_t end = 0;
    bool contains(uintptr_t pc) const { return pc >= start && pc < end; }
};

struct quiesce_result {
    unsigned waited = 0;       // threads found inside an unhooked call, waited for
    unsigned unconfirmed = 0;  // threads never seen outside one (always running)
    long micros = 0;           // time spent
};

// Returns once no other thread of the process is blocked in a mapping system
// call made from outside `hooked` (the code that makes the hooks' own system
// calls) or stopped inside `unpatched` (the patched functions' old code).
// A thread the kernel only ever reports as running cannot be inspected; it
// is given a short grace period and counted in `unconfirmed`.
quiesce_result wait_for_unhooked_calls(const std::vector<code_range> &hooked,
                                       const std::vector<code_range> &unpatched);

}  // namespace umn
