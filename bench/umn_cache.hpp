// SPDX-License-Identifier: BSD-3-Clause
// umn's registration cache behind the same interface as ucx_cache, with the
// same counting registrar, limits and page alignment.
#pragma once

#include "registrar.hpp"

#include <umn/umn.h>

#include <cerrno>
#include <string>

namespace umn::bench {

class umn_cache_side {
  public:
    using region = umn_region *;
    static constexpr const char *side = "umn";

    umn_cache_side() = default;
    umn_cache_side(const umn_cache_side &) = delete;
    umn_cache_side &operator=(const umn_cache_side &) = delete;
    ~umn_cache_side();

    // 0 or a negative errno (-ENOTSUP: the monitor is not usable here).
    int open(const cache_config &config, std::string *why);

    int get(void *addr, size_t len, region *out) { return umn_cache_get(cache_, addr, len, out); }
    void put(region r) { umn_cache_put(cache_, r); }
    // Destroys the cache now (what the scale rows time).
    void close() {
        if (cache_) umn_cache_destroy(cache_);
        cache_ = nullptr;
    }

  private:
    umn_cache *cache_ = nullptr;
    umn_registrar registrar_ = {};
};

}  // namespace umn::bench
