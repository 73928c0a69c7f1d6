// SPDX-License-Identifier: BSD-3-Clause
// UCX 1.13's registration cache (ucs_rcache) behind the interface the
// workloads use: open, get, put. Host memory only, page alignment, a
// registrar that only counts. UCX installs its memory hooks (bistro patching
// of libc by default, UCX_MEM_MMAP_HOOK_MODE) when the first rcache opens.
#pragma once

#include "registrar.hpp"

// rcache.h has no extern "C" of its own.
extern "C" {
#include <ucs/memory/rcache.h>
}

#include <string>

namespace umn::bench {

class ucx_cache {
  public:
    using region = ucs_rcache_region_t *;
    static constexpr const char *side = "ucx";

    ucx_cache() = default;
    ucx_cache(const ucx_cache &) = delete;
    ucx_cache &operator=(const ucx_cache &) = delete;
    ~ucx_cache();

    // 0 or a negative errno; *why says what failed.
    int open(const cache_config &config, std::string *why);

    int get(void *addr, size_t len, region *out) {
        return ucs_rcache_get(cache_, addr, len, PROT_READ | PROT_WRITE, nullptr, out) == UCS_OK
                   ? 0
                   : -EIO;
    }
    void put(region r) { ucs_rcache_region_put(cache_, r); }
    // Destroys the cache now (what the scale rows time).
    void close() {
        if (cache_) ucs_rcache_destroy(cache_);
        cache_ = nullptr;
    }

  private:
    ucs_rcache_t *cache_ = nullptr;
};

}  // namespace umn::bench
