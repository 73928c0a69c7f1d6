// SPDX-License-Identifier: BSD-3-Clause
#include "monitor/process_source.hpp"

namespace umn {

namespace {

std::atomic<process_wide *> all_sources{nullptr};

}  // namespace

process_wide::process_wide() {
    next_ = all_sources.load(std::memory_order_relaxed);
    while (!all_sources.compare_exchange_weak(next_, this, std::memory_order_release,
                                              std::memory_order_relaxed)) {
    }
}

void reset_process_sources_in_child() {
    for (process_wide *p = all_sources.load(std::memory_order_acquire); p; p = p->next_)
        p->reset_in_child();
}

}  // namespace umn
