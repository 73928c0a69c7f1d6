// SPDX-License-Identifier: BSD-3-Clause
// The cache's path into its own notifier. The cache alone registers with the
// notifier it opened, and its cookies (region addresses) are unique while
// registered, so the backend may skip its cookie lookup: a registration is
// removed by the token register_owned() stored. Ranges are page aligned and
// non-empty; the caller checked the notifier (fork epoch) itself, and makes
// no two of these calls, umn_get_invalid and umn_notifier_close at once.
#pragma once

#include <umn/umn.h>

#include <cstdint>

namespace umn {

int register_owned(umn_notifier *n, uintptr_t start, uintptr_t end, uint64_t cookie, void **token);
int unregister_owned(umn_notifier *n, uint64_t cookie, void *token);

}  // namespace umn
