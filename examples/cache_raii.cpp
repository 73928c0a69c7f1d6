// SPDX-License-Identifier: BSD-3-Clause
// The C++ wrapper (umn/umn.hpp): a cache on the mlock registrar whose
// regions are RAII references, errors as std::error_code. The registrar is
// declared before the cache, so the cache is destroyed first.
//
//   c++ -std=c++17 cache_raii.cpp $(pkg-config --cflags --libs umn)
//
// Exit status: 0 when a repeated get hits and a get after munmap registers
// the new memory, 1 otherwise.
#include <umn/umn.hpp>

#include <sys/mman.h>

#include <cstdio>

namespace {

constexpr size_t buffer_len = 256 * 1024;

void *map_buffer(void *at) {
    void *p = mmap(at, buffer_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);
    return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

int main() {
    umn_registrar registrar{};
    if (int rc = umn_registrar_mlock(&registrar); rc < 0) return 1;
    std::error_code ec;
    umn::cache cache = umn::cache::create(ec, registrar);
    if (!cache) {
        std::fprintf(stderr, "umn::cache::create: %s\n", ec.message().c_str());
        return 1;
    }
    void *buf = map_buffer(nullptr);
    uint64_t first_handle = 0;
    {
        umn::region_ref region = cache.get(buf, buffer_len, ec);  // a miss: mlock
        if (!region) {
            std::fprintf(stderr, "get: %s\n", ec.message().c_str());
            return 1;
        }
        first_handle = region.handle();
    }  // put here
    bool hit = cache.get(buf, buffer_len, ec).handle() == first_handle;
    // New memory at the same address: the old registration is gone.
    bool replaced = map_buffer(buf) == buf;
    umn::region_ref fresh = cache.get(buf, buffer_len, ec);
    bool reregistered = fresh && fresh.handle() != first_handle;
    std::printf("cache_raii: hit %s, after munmap %s\n", hit ? "yes" : "NO",
                reregistered ? "registered the new memory" : "STALE");
    fresh.reset();
    cache = umn::cache();  // destroys the cache before the registrar
    umn_registrar_release(&registrar);
    munmap(buf, buffer_len);
    return hit && replaced && reregistered ? 0 : 1;
}
