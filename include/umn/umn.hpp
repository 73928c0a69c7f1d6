// SPDX-License-Identifier: BSD-3-Clause
// RAII wrappers over umn.h. No exceptions: errors come back as
// std::error_code (from the negative errno the C API returned).
// Builds with -std=c++17 and later.
#ifndef UMN_UMN_HPP
#define UMN_UMN_HPP

#include <umn/umn.h>

#include <cstddef>
#include <cstdint>
#include <system_error>
#include <utility>

namespace umn {

inline std::error_code make_error(long rc) {
    return rc < 0 ? std::error_code(static_cast<int>(-rc), std::generic_category())
                  : std::error_code();
}

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

  private:
    umn_notifier *n_ = nullptr;
};

class cache;

// A reference on a cached region; the destructor puts it. Must not outlive
// its cache.
class region_ref {
  public:
    region_ref() = default;
    region_ref(const region_ref &) = delete;
    region_ref &operator=(const region_ref &) = delete;
    region_ref(region_ref &&o) noexcept
        : c_(std::exchange(o.c_, nullptr)), r_(std::exchange(o.r_, nullptr)) {}
    region_ref &operator=(region_ref &&o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, nullptr);
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    ~region_ref() { reset(); }

    // Puts the reference now.
    void reset() {
        if (r_) umn_cache_put(c_, r_);
        c_ = nullptr;
        r_ = nullptr;
    }

    explicit operator bool() const { return r_ != nullptr; }
    umn_region *get() const { return r_; }
    uint64_t handle() const { return umn_region_handle(r_); }
    void *addr() const { return umn_region_addr(r_); }
    size_t len() const { return umn_region_len(r_); }

  private:
    friend class cache;
    region_ref(umn_cache *c, umn_region *r) : c_(c), r_(r) {}
    umn_cache *c_ = nullptr;
    umn_region *r_ = nullptr;
};

// A registration cache (umn_cache_*), destroyed with the object.
class cache {
  public:
    cache() = default;
    cache(const cache &) = delete;
    cache &operator=(const cache &) = delete;
    cache(cache &&o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    cache &operator=(cache &&o) noexcept {
        if (this != &o) {
            umn_cache_destroy(c_);
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    ~cache() { umn_cache_destroy(c_); }

    // Creates a cache; on failure the result is empty and `ec` says why.
    static cache create(std::error_code &ec, const umn_registrar &registrar,
                        const umn_cache_params *params = nullptr) {
        cache out;
        ec = make_error(umn_cache_create(&out.c_, &registrar, params));
        return out;
    }

    explicit operator bool() const { return c_ != nullptr; }
    umn_cache *get() const { return c_; }

    // A region covering [addr, addr + len); empty with `ec` set on failure.
    region_ref get(const void *addr, size_t len, std::error_code &ec) {
        umn_region *r = nullptr;
        ec = make_error(umn_cache_get(c_, addr, len, &r));
        return r ? region_ref(c_, r) : region_ref();
    }

  private:
    umn_cache *c_ = nullptr;
};

}  // namespace umn

#endif  // UMN_UMN_HPP
