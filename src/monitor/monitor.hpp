// SPDX-License-Identifier: BSD-3-Clause
// The monitor interface: the one header a newcomer reads to see how a notifier
// is fed. A notifier talks to exactly one `backend`:
//
//   - the kernel monitor is a backend of its own: /dev/umn keeps the
//     registrations, the generation page and the invalid list;
//   - the userfaultfd and hooks monitors are `event_source`s feeding the
//     user-space `core` (src/core/core.hpp), which is the backend for them.
//
// Event sources are process-wide (a range can belong to one userfaultfd only,
// and libc is patched once), so several cores attach to one source.
#pragma once

#include <umn/umn.h>

#include "diagnostics/probe.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace umn {

class core;

// What umn_register & co. call. Ranges are page aligned: [start, end).
class backend {
  public:
    virtual ~backend() = default;
    virtual int add(uintptr_t start, uintptr_t end, uint64_t cookie) = 0;
    virtual int remove(uint64_t cookie) = 0;
    virtual long drain(uint64_t *cookies, size_t max) = 0;
    virtual int poll_fd() = 0;
    virtual int set_limit(size_t max_registrations) = 0;
    // Where umn_generation() loads from; stable for the backend's lifetime.
    virtual const uint64_t *generation() const = 0;
    // Fills the counters of umn_notifier_stats (not struct_size).
    virtual void stats(struct umn_notifier_stats *out) = 0;
};

// A process-wide producer of invalidation events for cores.
//
// Contract with core (see the rules at the top of src/core/core.hpp):
//   - the source calls core::invalidate() for every range whose pages may
//     have changed, before the call that changed them returns to its caller;
//   - a source that learns of the event only after the caller is released
//     (userfaultfd) calls core::announce_event() before releasing it and
//     core::publish_event() once the cookies are on the invalid list.
class event_source {
  public:
    virtual ~event_source() = default;
    virtual int attach(core &c) = 0;
    virtual void detach(core &c) = 0;
    // Start/stop seeing events for pages of [start, end). Called by
    // application threads with no umn lock held. Calls nest (reference
    // counted by the source).
    virtual int watch(uintptr_t start, uintptr_t end) = 0;
    virtual void unwatch(uintptr_t start, uintptr_t end) = 0;

    // A core's readiness eventfd `fd`, just made by an application thread,
    // as the thread that runs this source's events names it: fd itself for a
    // source that runs in application threads, a copy in its own descriptor
    // table for one that keeps a private table. Negative errno on failure.
    virtual int share_fd(int fd) { return fd; }
    // Lets go of share_fd()'s result (never closes the application's number).
    virtual void drop_shared_fd(int source_fd) { (void)source_fd; }
    // Whether the application's descriptor `fd` still refers to the file
    // behind `source_fd`: an application may close any number and reuse it.
    virtual bool same_file(int fd, int source_fd) { return fd == source_fd; }
};

probe_result probe_kernel();
probe_result probe_uffd();
probe_result probe_hooks();

// Process-wide sources; nullptr and *error set when unusable.
event_source *uffd_source(int *error);
event_source *hooks_source(int *error);

// The kernel backend: opens /dev/umn.
std::unique_ptr<backend> open_kernel_backend(int *error);

// Reset process-wide monitor state in a child (the parent's userfaultfd and
// monitor thread, the hooks' attached cores, do not exist there). Called by
// fork.cpp with no other thread inside umn; must not take locks.
void uffd_forget_after_fork();
void hooks_forget_after_fork();

}  // namespace umn
