// SPDX-License-Identifier: BSD-3-Clause
// umn/ofi.h in a libumn built without libfabric's headers: the API exists and
// says so.
#include <umn/ofi.h>

#include <cerrno>

#ifndef UMN_OFI_PLUGIN_DIR
#error "UMN_OFI_PLUGIN_DIR must name the plugin's install directory"
#endif

extern "C" int umn_ofi_import(const struct umn_ofi_params *) {
    return -ENOTSUP;
}

extern "C" int umn_ofi_get_stats(struct umn_ofi_stats *out) {
    if (!out) return -EINVAL;
    *out = umn_ofi_stats{};
    return -ENOENT;
}

extern "C" uint32_t umn_ofi_built_for(void) {
    return 0;
}

extern "C" const char *umn_ofi_plugin_dir(void) {
    return UMN_OFI_PLUGIN_DIR;
}
