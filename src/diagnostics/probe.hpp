// SPDX-License-Identifier: BSD-3-Clause
// Whether a monitor or a registrar can be used in this process, and why not:
// what `umn info` prints and what a failed open explains.
#pragma once

#include <string>

namespace umn {

struct probe_result {
    int error = 0;       // 0 usable, else a negative errno
    std::string detail;  // one line for `umn info`
};

}  // namespace umn
