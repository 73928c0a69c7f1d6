// SPDX-License-Identifier: BSD-3-Clause
// Threads: mutators own disjoint slots; getters either own a notifier_cache
// each or share one umn_cache (which is thread-safe); counts are summed
// under a mutex at the end.
#include "stress.hpp"

#include "cache/cache.hpp"
#include "support.hpp"

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace umn::reliability {

namespace {

// A getter's own cache: one registration per slot, trusted while the
// generation has not moved; invalidated cookies are dropped after a drain.
class notifier_cache {
  public:
    notifier_cache(stamped_slots &s, std::atomic<uint64_t> &remisses)
        : slots_(s), entries_(s.count()), remisses_(remisses) {
        open_error_ = umn_notifier_open(&n_, UMN_MONITOR_AUTO);
    }
    ~notifier_cache() { umn_notifier_close(n_); }
    int open_error() const { return open_error_; }

    void lookup(size_t slot, stress_counts &c) {
        ++c.lookups;
        const uint64_t v = slots_.version(slot);  // acquire: before the lookup
        if (umn_generation(n_) != seen_) drop_invalid(c);
        entry &e = entries_[slot];
        if (e.cookie) {
            ++c.hits;
            c.stale += e.stamp < v;
            return;
        }
        ++c.misses;
        if (e.held_before) {
            ++c.remisses;
            remisses_.fetch_add(1, std::memory_order_relaxed);
        }
        const uint64_t cookie = next_cookie_++ * slots_.count() + slot;
        if (umn_register(n_, slots_.addr(slot), sizeof(uint64_t), cookie) != 0) {
            ++c.unavailable;
            return;
        }
        // Watched from here on: read what the "device" now holds.
        const uint64_t stamp = stamped_slots::read_stamp(slots_.addr(slot));
        const bool foreign = stamp && !slots_.belongs(slot, stamp);
        if (stamp == 0 || foreign) {
            c.errors += umn_unregister(n_, cookie) != 0;
            ++c.unavailable;
            c.foreign += foreign;
            return;
        }
        c.impossible += stamp < v;
        e = {cookie, stamp, true};
    }

  private:
    struct entry {
        uint64_t cookie = 0;
        uint64_t stamp = 0;
        bool held_before = false;
    };

    void drop_invalid(stress_counts &c) {
        seen_ = umn_generation(n_);
        uint64_t cookies[64];
        long k;
        while ((k = umn_get_invalid(n_, cookies, 64)) > 0) {
            for (long i = 0; i < k; ++i) {
                entry &e = entries_[cookies[i] % slots_.count()];
                if (e.cookie == cookies[i]) e.cookie = 0;
            }
        }
        c.errors += k < 0;
    }

    stamped_slots &slots_;
    std::vector<entry> entries_;
    std::atomic<uint64_t> &remisses_;  // all getters' together
    umn_notifier *n_ = nullptr;
    int open_error_ = 0;
    uint64_t seen_ = 0;
    uint64_t next_cookie_ = 1;
};

}  // namespace

uint64_t soak(const char *variable, uint64_t base) {
    if (const char *s = std::getenv(variable)) return std::strtoull(s, nullptr, 10);
    return umn::test::rounds(base);
}

namespace {

void mutate(stamped_slots &slots, const stress_config &cfg, unsigned m,
            const std::atomic<unsigned> &getters_left) {
    std::mt19937 rng(1000 + m);
    // Mutator m owns the slots congruent to m.
    while (getters_left.load(std::memory_order_relaxed) > 0) {
        size_t slot = m + cfg.mutators * (rng() % (cfg.slots / cfg.mutators));
        if (!slots.replace(slot, rng, cfg.kinds)) return;
    }
}

// When the getters stop (stress.hpp): `remisses()` counts all getters'.
class stop_rule {
  public:
    stop_rule(const stress_config &cfg, const stamped_slots &slots,
              std::function<uint64_t()> remisses)
        : cfg_(cfg),
          slots_(slots),
          remisses_(std::move(remisses)),
          deadline_(std::chrono::steady_clock::now() + std::chrono::seconds(cfg.max_seconds)) {}

    bool done(const stress_counts &mine) const {
        // A mutator that lost its slot stops; so do the getters then.
        if (slots_.failed_replacements()) return true;
        if (mine.lookups % 256) return false;  // the clock and remisses() are not free
        if (std::chrono::steady_clock::now() > deadline_) return true;
        return mine.lookups >= cfg_.lookups / cfg_.getters &&
               slots_.replacements() >= cfg_.replacements && remisses_() >= cfg_.remisses;
    }

  private:
    const stress_config &cfg_;
    const stamped_slots &slots_;
    std::function<uint64_t()> remisses_;
    std::chrono::steady_clock::time_point deadline_;
};

// A getter: `lookup(slot, counts)` until the rule says stop.
template <class Lookup>
stress_counts get(const stamped_slots &slots, const stop_rule &stop, unsigned g, Lookup &&lookup) {
    std::mt19937 rng(g + 1);
    stress_counts mine;
    while (!stop.done(mine)) lookup(rng() % slots.count(), mine);
    return mine;
}

// Runs getters and mutators until both targets are met; returns the counts
// and `getter(g)` runs getter g and returns its counts.
template <class Getter>
stress_counts run_stress(const stress_config &cfg, stamped_slots &slots, Getter &&getter) {
    std::atomic<unsigned> getters_left{cfg.getters};
    std::mutex lock;
    stress_counts total;
    std::vector<std::thread> pool;
    for (unsigned m = 0; m < cfg.mutators; ++m)
        pool.emplace_back(mutate, std::ref(slots), std::cref(cfg), m, std::cref(getters_left));
    for (unsigned g = 0; g < cfg.getters; ++g) {
        pool.emplace_back([&, g] {
            stress_counts mine = getter(g);
            --getters_left;
            std::lock_guard guard(lock);
            total.add(mine);
        });
    }
    for (auto &t : pool) t.join();
    return total;
}

}  // namespace

stress_counts run_notifier_getters(const stress_config &cfg, stamped_slots &slots) {
    std::atomic<uint64_t> remisses{0};
    const stop_rule stop(cfg, slots, [&] { return remisses.load(std::memory_order_relaxed); });
    return run_stress(cfg, slots, [&](unsigned g) {
        notifier_cache cache(slots, remisses);
        if (cache.open_error()) {
            stress_counts failed;
            failed.errors = 1;
            return failed;
        }
        return get(slots, stop, g, [&](size_t slot, stress_counts &c) { cache.lookup(slot, c); });
    });
}

namespace {

uint64_t beyond(uint64_t count, uint64_t base) {
    return count > base ? count - base : 0;
}

int expected_get_error(int rc) {
    return rc == -EAGAIN || rc == -ENOMEM || rc == -EFAULT || rc == -ENOTSUP || rc == -ENOENT;
}

// What a stale hit looked like (the first few per process), for diagnosis:
// the region's state as the cache holds it, and the generations.
void report_stale(umn_cache *cache, const umn_region *r, size_t slot, uint64_t v, uint64_t stamp,
                  const stamped_slots &slots) {
    static std::atomic<int> reported{0};
    if (reported.fetch_add(1) >= 3) return;
    std::printf(
        "stale hit: slot %zu version %llu, region %p [%#lx, %#lx) captured %llu, page now "
        "%llu; region place %d refs %#llx watched %d; cache saw generation %llu, "
        "notifier at %llu\n",
        slot, static_cast<unsigned long long>(v), static_cast<const void *>(r),
        static_cast<unsigned long>(r->index.start.load()),
        static_cast<unsigned long>(r->index.end.load()), static_cast<unsigned long long>(stamp),
        static_cast<unsigned long long>(stamped_slots::read_stamp(slots.addr(slot))),
        static_cast<int>(r->place), static_cast<unsigned long long>(r->refs.load()), r->watched,
        static_cast<unsigned long long>(cache->seen_generation.load()),
        static_cast<unsigned long long>(umn_generation(cache->notifier)));
    // A late event moves the generation soon after; a lost one never does.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::printf("stale hit: 2 ms later the notifier is at %llu, the region is %s\n",
                static_cast<unsigned long long>(umn_generation(cache->notifier)),
                r->place == umn_region::where::index ? "still indexed" : "retired");
}

void cache_lookup(umn_cache *cache, stamp_registrar &reg, stamped_slots &slots, size_t slot,
                  stress_counts &c) {
    ++c.lookups;
    const uint64_t v = slots.version(slot);  // acquire: before the lookup
    umn_region *r = nullptr;
    int rc = umn_cache_get(cache, slots.addr(slot), sizeof(uint64_t), &r);
    if (rc) {
        ++(expected_get_error(rc) ? c.unavailable : c.errors);
        return;
    }
    const uint64_t stamp = reg.captured(umn_region_handle(r), slots.addr(slot));
    c.impossible += stamp == 0;
    if (stamp && !slots.belongs(slot, stamp)) {
        ++c.foreign;
    } else if (stamp < v) {
        ++c.stale;
        report_stale(cache, r, slot, v, stamp, slots);
    }
    umn_cache_put(cache, r);
}

}  // namespace

cache_run run_cache_getters(const stress_config &cfg, stamped_slots &slots, unsigned fail_one_in) {
    cache_run out;
    stamp_registrar reg(fail_one_in);
    umn_registrar r = reg.registrar();
    umn_cache *cache = nullptr;
    int rc = umn_cache_create(&cache, &r, nullptr);
    EXPECT_EQ(rc, 0);
    if (rc) return out;
    // The shared cache registers each slot once, then once more per miss
    // after an invalidation (or an eviction after a registrar failure).
    auto registered_again = [&] { return beyond(reg.counts().regs, slots.count()); };
    const stop_rule stop(cfg, slots, registered_again);
    out.counts = run_stress(cfg, slots, [&](unsigned g) {
        return get(slots, stop, g, [&](size_t slot, stress_counts &c) {
            cache_lookup(cache, reg, slots, slot, c);
        });
    });
    out.generation = umn_generation(cache->notifier);
    umn_cache_destroy(cache);
    out.registrar = reg.counts();
    out.counts.misses = out.registrar.regs;
    out.counts.remisses = beyond(out.registrar.regs, slots.count());
    out.counts.hits = out.counts.lookups - out.counts.unavailable - out.registrar.regs;
    out.live_after_destroy = reg.live();
    return out;
}

}  // namespace umn::reliability
