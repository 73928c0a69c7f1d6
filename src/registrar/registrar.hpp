// SPDX-License-Identifier: BSD-3-Clause
// What the registrar constructors share. A registrar that needs state
// allocates a context derived from registrar_context and hands it to adopt();
// umn_registrar_release() deletes a context only if it finds it among the
// adopted ones, so releasing a registrar filled by hand (or twice) is harmless.
#pragma once

#include <umn/umn.h>

#include "core/ilist.hpp"

namespace umn {

class registrar_context {
  public:
    virtual ~registrar_context() = default;
    // Whether reg pins pages, so that RLIMIT_MEMLOCK bounds what it can hold.
    virtual bool pins() const = 0;
    ilist_link<registrar_context> adopted_link;  // registrar.cpp's list
};

// Takes ownership of ctx (until umn_registrar_release). Never fails: the list
// is intrusive.
void adopt(registrar_context *ctx);

// Whether r is one of umn's registrars that pin pages (mlock, io_uring,
// ibverbs without on-demand paging, cuda). A registrar filled by hand: false.
bool registrar_pins(const umn_registrar &r);

// mlock.cpp's reg, which has no context to ask.
int mlock_reg(void *ctx, void *addr, size_t len, uint64_t *handle);

// Records "<what> of <len> bytes at <addr> failed: <strerror>" as the reason
// for -err, and returns -err. errno-style err > 0.
int pin_failure(int err, const char *what, const void *addr, size_t len);

}  // namespace umn
