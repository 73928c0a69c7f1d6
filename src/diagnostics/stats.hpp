// SPDX-License-Identifier: BSD-3-Clause
// UMN_STATS=1: every cache and notifier prints its statistics to stderr when
// it is closed, and those still open print theirs when the process exits.
//
// Locking: tracked_lock guards the lists of open objects; the exit handler
// takes it, then each cache's lock with try_lock only (a thread that holds a
// cache lock at exit must not hang the exit).
#pragma once

#include <umn/umn.h>

#include <cstddef>

namespace umn {

// How the exit report reads a cache's counters: umn_cache_stats(), but with
// wait == false -EBUSY instead of waiting for the cache's lock. The cache
// passes it in, so that this file does not depend on the cache.
using cache_stats_reader = int (*)(const umn_cache *c, struct umn_cache_stats *out, bool wait);

// With UMN_STATS on: remembers the object for the exit report. No-op otherwise.
void stats_track(umn_cache *c, cache_stats_reader read);
void stats_track(umn_notifier *n);
// Prints the object's line (UMN_STATS on) and forgets it.
void stats_close(umn_cache *c);
void stats_close(umn_notifier *n);

// Copies the library's `size` bytes of stats into the caller's *out as far as
// out->struct_size allows, zeroing the rest; -EINVAL (with the reason for
// `call`) when struct_size holds not even one counter.
int copy_stats(const void *stats, size_t size, void *out, const char *call);

// The line printed for each object ("umn stats: cache 0x...: hits 12 ...").
void print_stats(const struct umn_cache_stats &s, const void *object);
void print_stats(const struct umn_notifier_stats &s, const void *object, umn_monitor monitor);

}  // namespace umn
