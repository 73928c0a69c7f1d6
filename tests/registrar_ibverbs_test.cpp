// SPDX-License-Identifier: BSD-3-Clause
// The ibverbs registrar on a machine without an RDMA device: argument
// checks, -ENOTSUP when libibverbs cannot be loaded (or lacks the symbols),
// and what reg/dereg pass to the library, seen through a fake libibverbs.
// The real device is exercised in the VM (tests/rdma/).
#include <umn/verbs.h>

#include "rdma/fake_ibverbs.h"
#include "registrar/ibverbs.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <dlfcn.h>
#include <string>

namespace {

ibv_pd *fake_pd(char *byte) {
    return reinterpret_cast<ibv_pd *>(byte);
}

// Loads `library` for the test's duration, then the default library again.
class registrar_ibverbs : public ::testing::Test {
  protected:
    void TearDown() override { umn::verbs::reload_for_test(nullptr); }
};

TEST_F(registrar_ibverbs, NullArgumentsAreInvalid) {
    umn_registrar r{};
    char pd = 'P';
    EXPECT_EQ(umn_registrar_ibverbs(nullptr, fake_pd(&pd), 1), -EINVAL);
    EXPECT_EQ(umn_registrar_ibverbs(&r, nullptr, 1), -EINVAL);
    EXPECT_EQ(r.reg, nullptr);
}

TEST_F(registrar_ibverbs, MissingLibraryIsNotSupported) {
    const char *absent = "libumn-test-absent-ibverbs.so.1";
    ASSERT_EQ(umn::verbs::reload_for_test(absent), -ENOTSUP);
    umn_registrar r{};
    char pd = 'P';
    EXPECT_EQ(umn_registrar_ibverbs(&r, fake_pd(&pd), 1), -ENOTSUP);
    EXPECT_EQ(r.reg, nullptr);
    umn::probe_result p = umn::verbs::probe();
    EXPECT_EQ(p.error, -ENOTSUP);
    EXPECT_NE(p.detail.find(absent), std::string::npos) << p.detail;
}

TEST_F(registrar_ibverbs, LibraryWithoutVerbsSymbolsIsNotSupported) {
    ASSERT_EQ(umn::verbs::reload_for_test("libc.so.6"), -ENOTSUP);
    umn::probe_result p = umn::verbs::probe();
    EXPECT_NE(p.detail.find("no ibv_reg_mr"), std::string::npos) << p.detail;
    umn_registrar r{};
    char pd = 'P';
    EXPECT_EQ(umn_registrar_ibverbs(&r, fake_pd(&pd), 1), -ENOTSUP);
}

TEST_F(registrar_ibverbs, RegPassesRangeAccessAndIovaAndDeregFreesTheMr) {
    ASSERT_EQ(umn::verbs::reload_for_test(UMN_FAKE_IBVERBS), 0);
    void *fake = dlopen(UMN_FAKE_IBVERBS, RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(fake, nullptr);
    auto *live = static_cast<int *>(dlsym(fake, "fake_ibverbs_live_mrs"));
    ASSERT_NE(live, nullptr);

    umn_registrar r{};
    char pd = 'P';
    ASSERT_EQ(umn_registrar_ibverbs(&r, fake_pd(&pd), 7), 0);
    alignas(4096) static char buffer[8192];
    uint64_t handle = 0;
    errno = 1234;
    ASSERT_EQ(r.reg(r.ctx, buffer, sizeof buffer, &handle), 0);
    EXPECT_EQ(errno, 1234);
    EXPECT_EQ(*live, 1);
    const auto *mr = reinterpret_cast<const fake_mr *>(handle);
    EXPECT_EQ(mr->pd, &pd);
    EXPECT_EQ(mr->addr, buffer);
    EXPECT_EQ(mr->len, sizeof buffer);
    EXPECT_EQ(mr->iova, reinterpret_cast<uintptr_t>(buffer));
    EXPECT_EQ(mr->access, 7u);
    r.dereg(r.ctx, buffer, sizeof buffer, handle);
    EXPECT_EQ(*live, 0);

    umn_registrar_release(&r);
    EXPECT_EQ(r.reg, nullptr);
    EXPECT_EQ(r.ctx, nullptr);
    dlclose(fake);
}

TEST_F(registrar_ibverbs, FailedRegistrationReturnsTheLibraryErrno) {
    ASSERT_EQ(umn::verbs::reload_for_test(UMN_FAKE_IBVERBS), 0);
    umn_registrar r{};
    char failing_pd = 'F';
    ASSERT_EQ(umn_registrar_ibverbs(&r, fake_pd(&failing_pd), 1), 0);
    static char buffer[64];
    uint64_t handle = 42;
    errno = 0;
    EXPECT_EQ(r.reg(r.ctx, buffer, sizeof buffer, &handle), -EFAULT);
    EXPECT_EQ(handle, 42u);
    EXPECT_EQ(errno, 0);
    umn_registrar_release(&r);
}

TEST_F(registrar_ibverbs, ProbeReportsTheLoadedLibrary) {
    ASSERT_EQ(umn::verbs::reload_for_test(UMN_FAKE_IBVERBS), 0);
    umn::probe_result p = umn::verbs::probe();
    EXPECT_EQ(p.error, 0);
    EXPECT_NE(p.detail.find("loaded"), std::string::npos) << p.detail;
}

}  // namespace
