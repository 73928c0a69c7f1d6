// SPDX-License-Identifier: BSD-3-Clause
// The hooks monitor: not written yet (issue 5). Reports itself unusable.
#include "monitor/monitor.hpp"

#include <cerrno>

namespace umn {

probe_result probe_hooks() {
    return {-ENOTSUP, "hooks monitor not built yet"};
}

event_source *hooks_source(int *error) {
    *error = -ENOTSUP;
    return nullptr;
}

}  // namespace umn
