// SPDX-License-Identifier: BSD-3-Clause
// umn's memory monitor in the shape libfabric imports (struct fid_mem_monitor,
// rdma/fi_ext.h). import.cpp hands it to libfabric; tests drive its ops table
// directly, standing in for libfabric's cache.
#pragma once
#include <umn/ofi.h>

struct fid_mem_monitor;

namespace umn::ofi {

class import_monitor;

struct monitor_params {
    umn_monitor monitor = UMN_MONITOR_AUTO;
    size_t max_subscriptions = 16384;
};

// Opens a notifier and starts the thread that delivers invalidations.
int monitor_create(const monitor_params &p, import_monitor **out);
// Stops the thread and closes the notifier. Only when no libfabric cache can
// call the monitor any more (tests; an imported monitor lives for the process).
void monitor_destroy(import_monitor *m);
// The object to import: fid.fclass and export_ops are set; libfabric (or a
// test) fills fid.ops, fid.context and import_ops.
fid_mem_monitor *monitor_fid(import_monitor *m);
void monitor_stats(const import_monitor *m, umn_ofi_stats *out);

}  // namespace umn::ofi
