// SPDX-License-Identifier: BSD-3-Clause
// What the registrar constructors share. A registrar that needs state
// allocates a context derived from registrar_context and hands it to adopt();
// umn_registrar_release() deletes a context only if it finds it among the
// adopted ones, so releasing a registrar filled by hand (or twice) is harmless.
#pragma once

#include <umn/umn.h>

namespace umn {

class registrar_context {
  public:
    virtual ~registrar_context() = default;
    registrar_context *next_adopted = nullptr;  // registrar.cpp's list
};

// Takes ownership of ctx (until umn_registrar_release). Never fails: the list
// is intrusive.
void adopt(registrar_context *ctx);

}  // namespace umn
