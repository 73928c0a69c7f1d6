// SPDX-License-Identifier: BSD-3-Clause
// umn's monitor imported into the real libfabric (no RDMA device needed):
// directly with umn_ofi_import, and by the plugin through FI_PROVIDER_PATH.
// ctest runs each suite in its own process (the import is process wide).
#include <umn/ofi.h>

#include <gtest/gtest.h>
#include <rdma/fabric.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_ext.h>

#include <cstdlib>

namespace {

// Brings libfabric up (fi_ini; loads FI_PROVIDER_PATH's plugins). Without an
// RDMA device fi_getinfo may find nothing: only the initialisation matters.
void init_libfabric() {
    fi_info *info = nullptr;
    fi_info *hints = fi_allocinfo();
    ASSERT_NE(hints, nullptr);
    hints->fabric_attr->prov_name = strdup("tcp");
    (void)fi_getinfo(FI_VERSION(1, 13), nullptr, nullptr, 0, hints, &info);
    fi_freeinfo(info);
    fi_freeinfo(hints);
}

// Another monitor trying to import after umn's (Open MPI 4.1 does this).
int import_other_monitor() {
    static fi_ops_mem_monitor ops = {
        sizeof(fi_ops_mem_monitor),
        [](fid_mem_monitor *) { return 0; },
        [](fid_mem_monitor *) {},
        [](fid_mem_monitor *, const void *, size_t) { return 0; },
        [](fid_mem_monitor *, const void *, size_t) {},
        [](fid_mem_monitor *, const void *, size_t) { return true; },
    };
    static fid_mem_monitor other{};
    other.fid.fclass = FI_CLASS_MEM_MONITOR;
    other.export_ops = &ops;
    return fi_import(FI_VERSION(1, 13), "mr_cache", nullptr, 0, 0, &other.fid, nullptr);
}

TEST(FabricImport, ImportsOnceAndLibfabricRefusesASecondMonitor) {
    init_libfabric();
    umn_ofi_stats s{};
    EXPECT_EQ(umn_ofi_get_stats(&s), -ENOENT);
    ASSERT_EQ(umn_ofi_import(nullptr), 0);
    EXPECT_EQ(umn_ofi_import(nullptr), -EALREADY);
    EXPECT_EQ(import_other_monitor(), -FI_EBUSY);
    ASSERT_EQ(umn_ofi_get_stats(&s), 0);
    EXPECT_NE(s.monitor, UMN_MONITOR_AUTO);
    EXPECT_EQ(s.live, 0u);
}

TEST(FabricImport, RejectsParamsItCannotRead) {
    umn_ofi_params p{};
    p.struct_size = 4;
    EXPECT_EQ(umn_ofi_import(&p), -EINVAL);
}

TEST(FabricImport, SaysWhatItWasBuiltFor) {
    EXPECT_EQ(umn_ofi_built_for(), (uint32_t)FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION));
    EXPECT_STRNE(umn_ofi_plugin_dir(), "");
}

// Run with FI_PROVIDER_PATH naming the build's plugin directory.
TEST(FabricPlugin, LibfabricLoadsThePluginWhichImportsUmn) {
    const char *path = std::getenv("FI_PROVIDER_PATH");
    ASSERT_NE(path, nullptr) << "ctest sets FI_PROVIDER_PATH to the plugin's directory";
    umn_ofi_stats s{};
    ASSERT_EQ(umn_ofi_get_stats(&s), -ENOENT);  // nothing before libfabric starts
    init_libfabric();
    ASSERT_EQ(umn_ofi_get_stats(&s), 0) << "libfabric did not load libumn-fi.so from " << path;
    EXPECT_EQ(umn_ofi_import(nullptr), -EALREADY);
    EXPECT_EQ(import_other_monitor(), -FI_EBUSY);
}

// Run with FI_PROVIDER_PATH and FI_MR_CACHE_MONITOR=disabled: the user turned
// libfabric's cache off, and an import would turn it back on.
TEST(FabricPluginCacheDisabled, ThePluginLeavesLibfabricsCacheOff) {
    ASSERT_NE(std::getenv("FI_PROVIDER_PATH"), nullptr);
    init_libfabric();
    umn_ofi_stats s{};
    EXPECT_EQ(umn_ofi_get_stats(&s), -ENOENT);
}

}  // namespace
