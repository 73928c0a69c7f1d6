// SPDX-License-Identifier: BSD-3-Clause
// The no-stale-window stress machinery, shared by the stress, registrar
// fault and fork tests: getter threads look slots up (stamped_slots.hpp has
// the ground truth and the happens-before handoff) while mutator threads
// replace the slots' mappings, until both the lookup and the replacement
// targets are met. Every lookup is checked.
#pragma once

#include "stamp_registrar.hpp"
#include "stamped_slots.hpp"

#include <cstdint>

namespace umn::reliability {

struct stress_counts {
    uint64_t lookups = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t remisses = 0;     // misses of a slot registered before: a replacement was seen
    uint64_t unavailable = 0;  // registration refused: slot mid-replacement
    uint64_t stale = 0;        // a hit over memory replaced before the lookup
    uint64_t impossible = 0;   // a fresh registration older than the lookup (test bug)
    uint64_t foreign = 0;  // captured another slot's page, there for a moment (stamped_slots.hpp)
    uint64_t errors = 0;
    void add(const stress_counts &o) {
        lookups += o.lookups;
        hits += o.hits;
        misses += o.misses;
        remisses += o.remisses;
        unavailable += o.unavailable;
        stale += o.stale;
        impossible += o.impossible;
        foreign += o.foreign;
        errors += o.errors;
    }
};

struct stress_config {
    unsigned getters = 2;
    unsigned mutators = 2;
    size_t slots = 16;
    unsigned kinds = 0;         // stamped_slots::kind mask
    uint64_t lookups = 0;       // at least this many lookups in all
    uint64_t replacements = 0;  // and at least this many replacements
    // And, for at most max_seconds, until the getters have missed a slot
    // they had registered before (they raced a replacement): how often that
    // happens depends on the scheduler, so the run goes on until it has.
    uint64_t remisses = 1;
    unsigned max_seconds = 30;
};

// The targets: both runners stop when every getter has made its share of
// `lookups`, `replacements` are done and `remisses` are seen, or when
// max_seconds have passed (the caller's checks then fail).
// Getters with a notifier and a cache of their own each (the notifier API
// used the way a hand-written cache uses it). Both runners stop early if a
// replacement fails (slots.failed_replacements()).
stress_counts run_notifier_getters(const stress_config &cfg, stamped_slots &slots);

// One umn_cache shared by every getter, over a stamp registrar that fails
// one registration in `fail_one_in` (0: never) with -ENOMEM/-EAGAIN/-EFAULT.
struct cache_run {
    stress_counts counts;
    registrar_counts registrar;
    size_t live_after_destroy = 0;
    uint64_t generation = 0;  // the cache's notifier at the end
};

cache_run run_cache_getters(const stress_config &cfg, stamped_slots &slots, unsigned fail_one_in);

// The value of environment variable `variable`, else `base` scaled by
// UMN_TEST_SCALE (sanitizer builds: a tenth).
uint64_t soak(const char *variable, uint64_t base);

}  // namespace umn::reliability
