// SPDX-License-Identifier: BSD-3-Clause
// Both public headers must compile as strict C++17 (and later) on their own.
#include <umn/umn.h>
#include <umn/umn.hpp>

uint64_t header_check_cpp(const umn_notifier *n) {
    return umn_generation(n);
}
