// SPDX-License-Identifier: BSD-3-Clause
// Both public headers must compile as strict C++17 (and later) on their own.
#include <umn/umn.h>
#include <umn/umn.hpp>
#include <umn/verbs.h>  // without rdma-core's headers
#include <umn/ofi.h>    // without libfabric's headers

uint64_t header_check_cpp(const umn_notifier *n) {
    return umn_generation(n);
}

ibv_mr *header_check_verbs_cpp(const umn_region *r) {
    return umn_region_mr(r);
}

// The RAII types and their overloads resolve (cache owning its registrar,
// params with struct_size set).
size_t header_check_raii_cpp(const void *buf) {
    std::error_code ec;
    umn::cache c = umn::cache::create(ec, umn::registrar::mlock(ec), umn::cache_params());
    umn::region_ref r = c.get(buf, 1, ec);
    return r.len() + c.stats(ec).hits;
}
