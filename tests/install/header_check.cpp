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
