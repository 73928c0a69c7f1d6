// SPDX-License-Identifier: BSD-3-Clause
// The object behind the opaque umn_notifier handle.
#pragma once

#include <umn/umn.h>

#include "api/fork.hpp"
#include "core/backend.hpp"
#include "core/ilist.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

struct umn_notifier {
    umn__notifier_head head;  // first: umn_generation() reads it through the handle
    umn_monitor monitor;
    uint64_t fork_epoch;  // the process generation that opened it (fork.cpp)
    umn::backend *backend;
    std::atomic<size_t> limit;  // the registration limit in force, for error reasons
    umn::ilist_link<umn_notifier> registry_link;  // fork.cpp's list of open notifiers
};

namespace umn {

// Opens the backend for one concrete monitor.
int open_backend(umn_monitor monitor, std::unique_ptr<backend> *out);
// Resolves AUTO (and UMN_MONITOR) to the monitor open would use, with why.
umn_monitor choose_monitor(umn_monitor requested, std::string *why);

}  // namespace umn
