// SPDX-License-Identifier: BSD-3-Clause
// The plain callback registrar: the caller's reg/dereg, checked.
#include <umn/umn.h>

#include <cerrno>

extern "C" int umn_registrar_callbacks(struct umn_registrar *out, void *ctx,
                                       int (*reg)(void *, void *, size_t, uint64_t *),
                                       void (*dereg)(void *, void *, size_t, uint64_t)) {
    if (!out) return -EINVAL;
    *out = umn_registrar{};
    if (!reg || !dereg) return -EINVAL;
    *out = umn_registrar{ctx, reg, dereg};
    return 0;
}
