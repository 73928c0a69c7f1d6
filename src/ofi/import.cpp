// SPDX-License-Identifier: BSD-3-Clause
// umn_ofi_import: hands umn's monitor (ofi/monitor.cpp) to libfabric with
// fi_import's two steps (fi_open "mr_cache", then bind), libfabric's fi_open
// found with dlopen so that libumn does not link libfabric. One monitor per
// process, never freed: libfabric keeps calling it until the process ends.
#include "ofi/monitor.hpp"

#include <rdma/fabric.h>
#include <rdma/fi_ext.h>

#include <cerrno>
#include <dlfcn.h>
#include <mutex>

#ifndef UMN_OFI_PLUGIN_DIR
#error "UMN_OFI_PLUGIN_DIR must name the plugin's install directory"
#endif

namespace {

using fi_open_fn = int (*)(uint32_t, const char *, void *, size_t, uint64_t, fid **, void *);

std::mutex import_lock;
umn::ofi::import_monitor *imported;  // guarded by import_lock; then never changes

fi_open_fn find_fi_open() {
    void *lib = dlopen("libfabric.so.1", RTLD_NOW | RTLD_LOCAL);  // the copy already loaded, if any
    return lib ? reinterpret_cast<fi_open_fn>(dlsym(lib, "fi_open")) : nullptr;
}

// fi_import(), written out: rdma/fi_ext.h's inline version calls fi_open by
// name, which would make libumn link libfabric.
int import_fid(fi_open_fn fi_open_ptr, fid_mem_monitor *mon) {
    fid *cache = nullptr;
    int rc = fi_open_ptr(FI_VERSION(1, 13), "mr_cache", nullptr, 0, 0, &cache, nullptr);
    if (rc) return rc;
    rc = cache->ops->bind(cache, &mon->fid, 0);
    cache->ops->close(cache);
    return rc;
}

}  // namespace

extern "C" int umn_ofi_import(const struct umn_ofi_params *p) {
    umn::ofi::monitor_params params;
    if (p) {
        if (p->struct_size < offsetof(umn_ofi_params, max_subscriptions) + sizeof(size_t))
            return -EINVAL;
        params.monitor = p->monitor;
        if (p->max_subscriptions) params.max_subscriptions = p->max_subscriptions;
    }
    std::lock_guard guard(import_lock);
    if (imported) return -EALREADY;
    fi_open_fn fi_open_ptr = find_fi_open();
    if (!fi_open_ptr) return -ENOTSUP;
    umn::ofi::import_monitor *m = nullptr;
    int rc = umn::ofi::monitor_create(params, &m);
    if (rc) return rc;
    rc = import_fid(fi_open_ptr, umn::ofi::monitor_fid(m));
    if (rc) {
        umn::ofi::monitor_destroy(m);  // libfabric refused it: nothing holds it
        return rc < 0 ? rc : -rc;      // libfabric's errors are -errno (-FI_EBUSY == -EBUSY)
    }
    imported = m;
    return 0;
}

extern "C" int umn_ofi_get_stats(struct umn_ofi_stats *out) {
    if (!out) return -EINVAL;
    *out = umn_ofi_stats{};
    std::lock_guard guard(import_lock);
    if (!imported) return -ENOENT;
    umn::ofi::monitor_stats(imported, out);
    return 0;
}

extern "C" uint32_t umn_ofi_built_for(void) {
    return FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION);
}

extern "C" const char *umn_ofi_plugin_dir(void) {
    return UMN_OFI_PLUGIN_DIR;
}
