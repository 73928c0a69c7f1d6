// SPDX-License-Identifier: BSD-3-Clause
// The CUDA registrar's view for `umn info` and the tests.
#pragma once

#include "diagnostics/probe.hpp"

namespace umn::cuda {

// Whether libcudart loads and sees a device. Loads the library if it is not
// loaded yet.
probe_result probe();

// Test hook: loads what UMN_CUDART_LIBRARY now names (after
// reload_options_for_test); returns 0 or -ENOTSUP. Registrars made earlier
// keep working: a loaded library is never unloaded.
int reload_for_test();

}  // namespace umn::cuda
