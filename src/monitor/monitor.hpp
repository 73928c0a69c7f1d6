// SPDX-License-Identifier: BSD-3-Clause
// The monitors: how a notifier learns that registered memory changed. A
// notifier talks to one backend (src/core/backend.hpp):
//
//   - the kernel monitor (kernel.cpp) is a backend of its own: /dev/umn keeps
//     the registrations, the generation page and the invalid list;
//   - the userfaultfd (uffd.cpp) and hooks (hooks.cpp) monitors are event
//     sources: they implement event_source and report every change through
//     the event_sink a core gives them (src/core/sink.hpp), which is all they
//     see of it. One user-space core per notifier is the backend then.
//
// The user-space core stays in src/core/ rather than here: it observes no
// memory itself, it is the one engine behind the sink that both user-space
// monitors feed, and it includes nothing from this folder (the monitors
// include only its sink.hpp), so the dependency runs one way: monitor -> core.
//
// Event sources are process-wide (a range can belong to one userfaultfd only,
// and libc is patched once), so several cores attach to one source; each is
// made once and reset in a fork child by one helper (process_source.hpp).
#pragma once

#include <umn/umn.h>

#include "core/backend.hpp"
#include "core/sink.hpp"
#include "diagnostics/probe.hpp"

#include <memory>

namespace umn {

// Whether each monitor can be used in this process, and why not.
probe_result probe_kernel();
probe_result probe_uffd();
probe_result probe_hooks();

// Process-wide sources; nullptr and *error set when unusable.
event_source *uffd_source(int *error);
event_source *hooks_source(int *error);

// The kernel backend: opens /dev/umn.
std::unique_ptr<backend> open_kernel_backend(int *error);

// The process-wide sources are made once and reset in a fork child through
// one path: process_source.hpp.

}  // namespace umn
