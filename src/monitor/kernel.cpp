// SPDX-License-Identifier: BSD-3-Clause
// The kernel monitor backend: not written yet (issue 6). Reports itself unusable.
#include "monitor/monitor.hpp"

#include <cerrno>

namespace umn {

probe_result probe_kernel() {
    return {-ENOENT, "/dev/umn backend not built yet"};
}

std::unique_ptr<backend> open_kernel_backend(int *error) {
    *error = -ENOENT;
    return nullptr;
}

}  // namespace umn
