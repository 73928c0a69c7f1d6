/* SPDX-License-Identifier: BSD-3-Clause */
/* The public C header must compile as strict C11 (and later) on its own. */
#include <umn/umn.h>

uint64_t header_check_c(const umn_notifier *n) {
    return umn_generation(n);
}
