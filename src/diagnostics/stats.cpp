// SPDX-License-Identifier: BSD-3-Clause
// UMN_STATS: printing statistics at close and at exit. The counters live with
// the objects (cache.cpp, the notifier backends); this file only reports.
#include "diagnostics/stats.hpp"

#include "config/options.hpp"
#include "diagnostics/reason.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace umn {

namespace {

std::mutex tracked_lock;
std::vector<umn_cache *> *open_caches = nullptr;  // allocated at the first tracked object
std::vector<umn_notifier *> *open_notifiers = nullptr;
cache_stats_reader read_cache_stats = nullptr;  // the caches' reader, once one is tracked

bool enabled() {
    try {
        return options().stats;
    } catch (const std::bad_alloc &) {
        return false;
    }
}

void report_open_objects() {
    std::lock_guard g(tracked_lock);
    for (umn_cache *c : *open_caches) {
        struct umn_cache_stats s = UMN_CACHE_STATS_INIT;
        if (read_cache_stats && read_cache_stats(c, &s, false) == 0) print_stats(s, c);
    }
    for (umn_notifier *n : *open_notifiers) {
        struct umn_notifier_stats s = UMN_NOTIFIER_STATS_INIT;
        if (umn_notifier_stats(n, &s) == 0) print_stats(s, n, umn_notifier_monitor(n));
    }
}

template <class T>
void track(std::vector<T *> *&list, T *object, cache_stats_reader read = nullptr) {
    if (!enabled()) return;
    std::lock_guard g(tracked_lock);
    if (read) read_cache_stats = read;
    try {
        if (!open_caches) {
            open_caches = new std::vector<umn_cache *>;
            open_notifiers = new std::vector<umn_notifier *>;
            std::atexit(report_open_objects);
        }
        list->push_back(object);
    } catch (const std::bad_alloc &) {
        // Not reported at exit; its line still prints at close.
    }
}

template <class T>
void forget(std::vector<T *> *list, T *object) {
    std::lock_guard g(tracked_lock);
    if (list) list->erase(std::remove(list->begin(), list->end(), object), list->end());
}

}  // namespace

void stats_track(umn_cache *c, cache_stats_reader read) {
    track(open_caches, c, read);
}

void stats_track(umn_notifier *n) {
    track(open_notifiers, n);
}

void stats_close(umn_cache *c) {
    if (!enabled()) return;
    forget(open_caches, c);
    struct umn_cache_stats s = UMN_CACHE_STATS_INIT;
    if (umn_cache_stats(c, &s) == 0) print_stats(s, c);
}

void stats_close(umn_notifier *n) {
    if (!enabled()) return;
    forget(open_notifiers, n);
    struct umn_notifier_stats s = UMN_NOTIFIER_STATS_INIT;
    if (umn_notifier_stats(n, &s) == 0) print_stats(s, n, umn_notifier_monitor(n));
}

int copy_stats(const void *stats, size_t size, void *out, const char *call) {
    size_t wanted;
    std::memcpy(&wanted, out, sizeof wanted);
    if (wanted < sizeof(size_t) + sizeof(uint64_t))
        return fail(-EINVAL, "%s: struct_size %zu holds no counter (set it to the struct's sizeof)",
                    call, wanted);
    auto *bytes = static_cast<unsigned char *>(out);
    size_t known = std::min(wanted, size);
    std::memcpy(bytes + sizeof(size_t), static_cast<const unsigned char *>(stats) + sizeof(size_t),
                known - sizeof(size_t));
    std::memset(bytes + known, 0, wanted - known);
    return 0;
}

void print_stats(const struct umn_cache_stats &s, const void *object) {
    char bytes[32];
    fprintf(stderr,
            "umn stats: cache %p: hits %" PRIu64 ", misses %" PRIu64 ", evictions %" PRIu64
            ", invalidations %" PRIu64 ", registrar failures %" PRIu64 ", drains %" PRIu64
            ", live %" PRIu64 " regions (%s), retired %" PRIu64 "\n",
            object, s.hits, s.misses, s.evictions, s.invalidations, s.registrar_failures, s.drains,
            s.live_regions, format_bytes(s.live_bytes, bytes, sizeof bytes), s.retired_regions);
}

void print_stats(const struct umn_notifier_stats &s, const void *object, umn_monitor monitor) {
    fprintf(stderr,
            "umn stats: notifier %p (%s): events %" PRIu64 ", invalidated %" PRIu64
            ", drained %" PRIu64 ", deferred %" PRIu64 ", registrations %" PRIu64 "\n",
            object, monitor_name(monitor), s.events, s.invalidated, s.drained, s.deferred,
            s.registrations);
}

}  // namespace umn
