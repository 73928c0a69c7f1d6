// SPDX-License-Identifier: BSD-3-Clause
// Registrar contexts owned by umn, and umn_registrar_release().
//
// Locking: contexts_lock guards the list of adopted contexts; it is held for
// the list operation only (the context's destructor runs after unlinking).
#include "registrar/registrar.hpp"

#include "core/checked_mutex.hpp"
#include "diagnostics/reason.hpp"

#include <cstring>
#include <mutex>

namespace umn {

namespace {

checked_mutex contexts_lock;
ilist<registrar_context, &registrar_context::adopted_link> adopted;

// Whether ctx is adopted. Lock held.
bool is_adopted(const registrar_context *ctx) {
    UMN_ASSERT_HELD(contexts_lock);
    bool found = false;
    adopted.for_each([&](const registrar_context *p) { found = found || p == ctx; });
    return found;
}

// Unlinks ctx if umn adopted it; false otherwise.
bool unlink(registrar_context *ctx) {
    std::lock_guard g(contexts_lock);
    if (!is_adopted(ctx)) return false;  // searched first: a context filled by hand is never read
    adopted.remove(ctx);
    return true;
}

}  // namespace

void adopt(registrar_context *ctx) {
    std::lock_guard g(contexts_lock);
    adopted.push_front(ctx);
}

bool registrar_pins(const umn_registrar &r) {
    if (r.reg == mlock_reg) return true;
    std::lock_guard g(contexts_lock);
    // Compared as a pointer value first: a context filled by hand is never read.
    const auto *ctx = static_cast<const registrar_context *>(r.ctx);
    return ctx && is_adopted(ctx) && ctx->pins();
}

int pin_failure(int err, const char *what, const void *addr, size_t len) {
    char size[32];
    return fail(-err, "%s of %s at %p failed: %s", what, format_bytes(len, size, sizeof size), addr,
                strerrordesc_np(err) ? strerrordesc_np(err) : "unknown error");
}

}  // namespace umn

extern "C" void umn_registrar_release(struct umn_registrar *r) {
    if (!r) return;
    // Compared as a pointer value only: a context filled by hand is never read.
    auto *ctx = static_cast<umn::registrar_context *>(r->ctx);
    *r = umn_registrar{};
    if (ctx && umn::unlink(ctx)) delete ctx;
}
