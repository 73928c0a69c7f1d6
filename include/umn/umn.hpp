// SPDX-License-Identifier: BSD-3-Clause
// RAII wrappers over umn.h. No exceptions: errors come back as
// std::error_code (from the negative errno the C API returned), and
// umn::last_error() says why. Builds with -std=c++17 and later.
//
// Ownership makes the release order right by construction:
//   umn::cache owns its umn::registrar, which it releases after destroying
//   the C cache (cache -> registrar); a registrar keeps alive what it
//   registers into (the io_uring ring, an ibverbs pd holder) until after it
//   is released (registrar -> ring). A umn::region_ref that outlives its
//   cache is caught by an assertion in builds without NDEBUG.
#ifndef UMN_UMN_HPP
#define UMN_UMN_HPP

#include <umn/umn.h>

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <system_error>
#include <utility>

namespace umn {

inline std::error_code make_error(long rc) {
    return rc < 0 ? std::error_code(static_cast<int>(-rc), std::generic_category())
                  : std::error_code();
}

// Why this thread's last failing umn call failed ("" if none did).
inline const char *last_error() {
    return umn_last_error();
}

// umn_cache_params with struct_size set and every limit at its default.
struct cache_params : umn_cache_params {
    cache_params() : umn_cache_params{} { struct_size = sizeof(umn_cache_params); }
};

class notifier {
  public:
    notifier() = default;
    notifier(const notifier &) = delete;
    notifier &operator=(const notifier &) = delete;
    notifier(notifier &&o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
    notifier &operator=(notifier &&o) noexcept {
        if (this != &o) {
            umn_notifier_close(n_);
            n_ = std::exchange(o.n_, nullptr);
        }
        return *this;
    }
    ~notifier() { umn_notifier_close(n_); }

    // Opens a notifier; on failure the result is empty and `ec` says why.
    static notifier open(std::error_code &ec, umn_monitor monitor = UMN_MONITOR_AUTO) {
        notifier out;
        ec = make_error(umn_notifier_open(&out.n_, monitor));
        return out;
    }

    explicit operator bool() const { return n_ != nullptr; }
    umn_notifier *get() const { return n_; }
    umn_monitor monitor() const { return umn_notifier_monitor(n_); }
    uint64_t generation() const { return umn_generation(n_); }
    int fd() const { return umn_notifier_fd(n_); }

    std::error_code watch(const void *addr, size_t len, uint64_t cookie) {
        return make_error(umn_register(n_, addr, len, cookie));
    }
    std::error_code unwatch(uint64_t cookie) { return make_error(umn_unregister(n_, cookie)); }
    std::error_code set_limit(size_t max_registrations) {
        return make_error(umn_notifier_set_limit(n_, max_registrations));
    }

    // Drains up to `max` invalidated cookies; returns how many, or 0 with `ec` set.
    size_t drain(uint64_t *cookies, size_t max, std::error_code &ec) {
        long n = umn_get_invalid(n_, cookies, max);
        ec = make_error(n);
        return n < 0 ? 0 : static_cast<size_t>(n);
    }

    struct umn_notifier_stats stats(std::error_code &ec) const {
        struct umn_notifier_stats s = UMN_NOTIFIER_STATS_INIT;
        ec = make_error(umn_notifier_stats(n_, &s));
        return s;
    }

  private:
    umn_notifier *n_ = nullptr;
};

// A registrar that is released when the object goes (umn_registrar_release).
// `keep_alive` holds what the registrar registers into, released after it:
// for io_uring the ring (a shared_ptr whose deleter calls
// io_uring_queue_exit), for ibverbs whatever owns the pd.
class registrar {
  public:
    registrar() = default;
    registrar(const registrar &) = delete;
    registrar &operator=(const registrar &) = delete;
    registrar(registrar &&o) noexcept
        : r_(std::exchange(o.r_, umn_registrar{})), keep_alive_(std::move(o.keep_alive_)) {}
    registrar &operator=(registrar &&o) noexcept {
        if (this != &o) {
            reset();
            r_ = std::exchange(o.r_, umn_registrar{});
            keep_alive_ = std::move(o.keep_alive_);
        }
        return *this;
    }
    ~registrar() { reset(); }

    static registrar mlock(std::error_code &ec) {
        registrar out;
        ec = make_error(umn_registrar_mlock(&out.r_));
        return out;
    }
    static registrar cuda(std::error_code &ec, unsigned flags = 0) {
        registrar out;
        ec = make_error(umn_registrar_cuda(&out.r_, flags));
        return out;
    }
    // The registrar shares ownership of the ring: it is released before the
    // ring can go.
    static registrar io_uring(std::error_code &ec, std::shared_ptr<struct io_uring> ring,
                              unsigned slots) {
        registrar out;
        ec = make_error(umn_registrar_io_uring(&out.r_, ring.get(), slots));
        if (!ec) out.keep_alive_ = std::move(ring);
        return out;
    }
    static registrar callbacks(std::error_code &ec, void *ctx,
                               int (*reg)(void *ctx, void *addr, size_t len, uint64_t *handle),
                               void (*dereg)(void *ctx, void *addr, size_t len, uint64_t handle)) {
        registrar out;
        ec = make_error(umn_registrar_callbacks(&out.r_, ctx, reg, dereg));
        return out;
    }
    // Takes over a registrar made by a C constructor (umn_registrar_ibverbs),
    // with what must outlive it.
    static registrar adopt(const umn_registrar &r, std::shared_ptr<void> keep_alive = nullptr) {
        registrar out;
        out.r_ = r;
        out.keep_alive_ = std::move(keep_alive);
        return out;
    }

    explicit operator bool() const { return r_.reg != nullptr; }
    const umn_registrar &get() const { return r_; }

    // Releases now: the registrar, then what it kept alive.
    void reset() {
        umn_registrar_release(&r_);
        keep_alive_.reset();
    }

  private:
    umn_registrar r_{};
    std::shared_ptr<void> keep_alive_;
};

class cache;

// A reference on a cached region; the destructor puts it. Must not outlive
// its cache: without NDEBUG the cache's destructor asserts that none does.
class region_ref {
  public:
    region_ref() = default;
    region_ref(const region_ref &) = delete;
    region_ref &operator=(const region_ref &) = delete;
    region_ref(region_ref &&o) noexcept
        : c_(std::exchange(o.c_, nullptr)),
          r_(std::exchange(o.r_, nullptr)),
          live_(std::exchange(o.live_, nullptr)) {}
    region_ref &operator=(region_ref &&o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, nullptr);
            r_ = std::exchange(o.r_, nullptr);
            live_ = std::exchange(o.live_, nullptr);
        }
        return *this;
    }
    ~region_ref() { reset(); }

    // Puts the reference now.
    void reset() {
        if (r_) umn_cache_put(c_, r_);
        if (live_) live_->fetch_sub(1, std::memory_order_relaxed);
        c_ = nullptr;
        r_ = nullptr;
        live_ = nullptr;
    }

    explicit operator bool() const { return r_ != nullptr; }
    umn_region *get() const { return r_; }
    uint64_t handle() const { return umn_region_handle(r_); }
    void *addr() const { return umn_region_addr(r_); }
    size_t len() const { return umn_region_len(r_); }

  private:
    friend class cache;
    region_ref(umn_cache *c, umn_region *r, std::atomic<long> *live) : c_(c), r_(r), live_(live) {
        if (live_) live_->fetch_add(1, std::memory_order_relaxed);
    }
    umn_cache *c_ = nullptr;
    umn_region *r_ = nullptr;
    std::atomic<long> *live_ = nullptr;  // the cache's count of refs (debug builds)
};

// A registration cache (umn_cache_*), destroyed with the object, then its
// registrar.
class cache {
  public:
    cache() = default;
    cache(const cache &) = delete;
    cache &operator=(const cache &) = delete;
    cache(cache &&o) noexcept
        : c_(std::exchange(o.c_, nullptr)),
          registrar_(std::move(o.registrar_)),
          live_(std::exchange(o.live_, nullptr)) {}
    cache &operator=(cache &&o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, nullptr);
            registrar_ = std::move(o.registrar_);
            live_ = std::exchange(o.live_, nullptr);
        }
        return *this;
    }
    ~cache() { reset(); }

    // Creates a cache that owns `r`; on failure the result is empty, `ec`
    // says why and `r` is released.
    static cache create(std::error_code &ec, registrar r, const cache_params &params = {}) {
        cache out;
        ec = make_error(umn_cache_create(&out.c_, &r.get(), &params));
        if (!ec) out.adopt(std::move(r));
        return out;
    }
    // Creates a cache on a registrar the caller owns and releases after
    // destroying the cache.
    static cache create(std::error_code &ec, const umn_registrar &registrar,
                        const umn_cache_params *params = nullptr) {
        cache out;
        ec = make_error(umn_cache_create(&out.c_, &registrar, params));
        if (!ec) out.count_refs();
        return out;
    }

    explicit operator bool() const { return c_ != nullptr; }
    umn_cache *get() const { return c_; }

    // A region covering [addr, addr + len); empty with `ec` set on failure.
    region_ref get(const void *addr, size_t len, std::error_code &ec) {
        umn_region *r = nullptr;
        ec = make_error(umn_cache_get(c_, addr, len, &r));
        return r ? region_ref(c_, r, live_) : region_ref();
    }

    struct umn_cache_stats stats(std::error_code &ec) const {
        struct umn_cache_stats s = UMN_CACHE_STATS_INIT;
        ec = make_error(umn_cache_stats(c_, &s));
        return s;
    }

    // Destroys the cache, then releases its registrar.
    void reset() {
#ifndef NDEBUG
        assert((!live_ || live_->load() == 0) && "a umn::region_ref outlives its umn::cache");
#endif
        umn_cache_destroy(c_);
        c_ = nullptr;
        registrar_.reset();
        delete live_;
        live_ = nullptr;
    }

  private:
    void adopt(registrar r) {
        registrar_ = std::move(r);
        count_refs();
    }
    void count_refs() {
#ifndef NDEBUG
        live_ = new (std::nothrow) std::atomic<long>(0);
#endif
    }

    umn_cache *c_ = nullptr;
    registrar registrar_;                // released after c_ is destroyed
    std::atomic<long> *live_ = nullptr;  // region_refs alive (builds without NDEBUG)
};

}  // namespace umn

#endif  // UMN_UMN_HPP
