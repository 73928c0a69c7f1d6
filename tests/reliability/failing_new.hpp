// SPDX-License-Identifier: BSD-3-Clause
// Allocation failure injection: this test binary replaces the global
// operator new/delete (every form). When armed in a thread, the n-th
// allocation that thread makes fails (std::bad_alloc, or nullptr for the
// nothrow forms); other threads (the monitor thread) are unaffected. It
// also counts live allocations so a test can check that a failed call
// leaked nothing, in every build (LSan checks again in the ASan build).
#pragma once

#include <cstdint>

namespace umn::reliability {

// The allocation after `n` more allocations in this thread fails.
void fail_allocation_after(long n);
// Disarms; returns whether the armed failure happened.
bool disarm_allocation_failure();
// Allocations made through operator new and not yet deleted.
long live_allocations();

}  // namespace umn::reliability
