// SPDX-License-Identifier: BSD-3-Clause
// What a notifier talks to. The C API front (src/api/notifier.cpp) calls one
// backend per notifier; two implement it: the user-space core (core.hpp), fed
// by the userfaultfd or the hooks monitor through its sink (sink.hpp), and the
// kernel monitor (src/monitor/kernel.cpp), whose module keeps the
// registrations itself.
#pragma once

#include <umn/umn.h>

#include <cstddef>
#include <cstdint>

namespace umn {

// Ranges are page aligned: [start, end). Errors are negative errno values.
class backend {
  public:
    virtual ~backend() = default;
    virtual int add(uintptr_t start, uintptr_t end, uint64_t cookie) = 0;
    virtual int remove(uint64_t cookie) = 0;
    // For a notifier that only its cache registers with: cookies are unique
    // by construction (no -EEXIST check), and the registration is removed by
    // the token add_owned() stored, so a backend may skip its cookie lookup.
    // The caller serializes add_owned, remove_owned, drain and destruction
    // (no two at once). The cookie path is the default.
    virtual int add_owned(uintptr_t start, uintptr_t end, uint64_t cookie, void **token) {
        *token = nullptr;
        return add(start, end, cookie);
    }
    virtual int remove_owned(uint64_t cookie, void *token) {
        (void)token;
        return remove(cookie);
    }
    virtual long drain(uint64_t *cookies, size_t max) = 0;
    virtual int poll_fd() = 0;
    virtual int set_limit(size_t max_registrations) = 0;
    // Where umn_generation() loads from; stable for the backend's lifetime.
    virtual const uint64_t *generation() const = 0;
    // Fills the counters of umn_notifier_stats (not struct_size).
    virtual void stats(struct umn_notifier_stats *out) = 0;
};

}  // namespace umn
