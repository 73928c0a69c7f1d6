// SPDX-License-Identifier: BSD-3-Clause
// The ibverbs registrar's view for `umn info` and the tests.
#pragma once

#include "diagnostics/probe.hpp"

namespace umn::verbs {

// Whether libibverbs loads, the RDMA devices it sees and whether each
// supports on-demand paging (tried with a one-page IBV_ACCESS_ON_DEMAND
// registration). Loads the library if it is not loaded yet.
probe_result probe();

// Test hook: from now on load `library` (nullptr: the default) instead of
// what was loaded; returns the load result (0 or -ENOTSUP). Registrars made
// earlier keep working: a loaded library is never unloaded.
int reload_for_test(const char *library);

}  // namespace umn::verbs
