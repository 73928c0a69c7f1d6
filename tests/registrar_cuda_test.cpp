// SPDX-License-Identifier: BSD-3-Clause
// The cuda registrar: -ENOTSUP with the reason where libcudart, the driver
// or a device is missing; the registration rules against a stand-in runtime
// (tests/cuda/fake_cudart.c); the real runtime where a GPU is present.
#include "cache_support.hpp"
#include "env_support.hpp"
#include "registrar/cuda.hpp"

#include <umn/umn.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <sys/mman.h>

namespace umn::test {
namespace {

bool starts_with(const std::string &text, const std::string &prefix) {
    return text.rfind(prefix, 0) == 0;
}

// Loads what UMN_CUDART_LIBRARY says (value, or unset for nullptr) for one
// test; the default again afterwards.
class cudart_choice {
  public:
    explicit cudart_choice(const char *library) : env_("UMN_CUDART_LIBRARY", library) {
        cuda::reload_for_test();
    }
    ~cudart_choice() {
        unsetenv("UMN_CUDART_LIBRARY");
        reload_options_for_test();
        cuda::reload_for_test();
    }

  private:
    scoped_env env_;
};

TEST(RegistrarCuda, AbsentLibraryGivesEnotsupWithTheReason) {
    cudart_choice lib("libumn-test-absent-cudart.so");
    umn_registrar r;
    EXPECT_EQ(umn_registrar_cuda(&r, 0), -ENOTSUP);
    EXPECT_TRUE(starts_with(umn_last_error(), "libumn-test-absent-cudart.so not found: "))
        << umn_last_error();
    EXPECT_EQ(r.reg, nullptr);
}

// The default search, as on this machine when it has no CUDA runtime.
TEST(RegistrarCuda, WithoutLibcudartTheDefaultSearchSaysSo) {
    cudart_choice lib(nullptr);
    if (void *h = dlopen("libcudart.so", RTLD_NOW | RTLD_NOLOAD)) dlclose(h);
    umn_registrar r;
    int rc = umn_registrar_cuda(&r, 0);
    if (rc == 0) {
        umn_registrar_release(&r);
        GTEST_SKIP() << "a CUDA runtime and device are present (RegistrarCudaGpu runs them)";
    }
    EXPECT_EQ(rc, -ENOTSUP);
    std::string why = umn_last_error();
    EXPECT_TRUE(starts_with(why, "libcudart.so not found: ") ||
                starts_with(why, "no usable CUDA device: ") || why == "no CUDA device")
        << why;
}

class RegistrarCudaFake : public ::testing::Test {
  protected:
    RegistrarCudaFake() : lib_(UMN_FAKE_CUDART) {}
    void SetUp() override {
        fake_ = dlopen(UMN_FAKE_CUDART, RTLD_NOW | RTLD_NOLOAD);
        ASSERT_NE(fake_, nullptr);
        live_ = reinterpret_cast<int (*)()>(dlsym(fake_, "fake_cudart_live"));
        ASSERT_NE(live_, nullptr);
    }
    void TearDown() override {
        if (fake_) dlclose(fake_);
    }

    cudart_choice lib_;
    void *fake_ = nullptr;
    int (*live_)() = nullptr;
};

TEST_F(RegistrarCudaFake, CacheRegistersAndUnregistersHostMemory) {
    umn_registrar r;
    ASSERT_EQ(umn_registrar_cuda(&r, 0), 0) << umn_last_error();
    umn_cache *c = nullptr;
    ASSERT_EQ(umn_cache_create(&c, &r, nullptr), 0);
    mapping m(4);
    umn_region *a = nullptr;
    ASSERT_EQ(umn_cache_get(c, m.get() + 100, 10, &a), 0);
    EXPECT_EQ(umn_region_handle(a), reinterpret_cast<uintptr_t>(m.get()));
    EXPECT_EQ(live_(), 1);
    umn_cache_put(c, a);
    // A request overlapping the unreferenced region: the runtime refuses
    // overlap (-EAGAIN), the cache evicts and registers the new range.
    umn_region *b = nullptr;
    ASSERT_EQ(umn_cache_get(c, m.get(), 2 * page(), &b), 0) << umn_last_error();
    EXPECT_EQ(live_(), 1);
    umn_cache_put(c, b);
    umn_cache_destroy(c);
    EXPECT_EQ(live_(), 0);
    umn_registrar_release(&r);
}

TEST_F(RegistrarCudaFake, MemoryRegisteredByOthersGivesEagainWithTheRuntimesText) {
    umn_registrar r;
    ASSERT_EQ(umn_registrar_cuda(&r, 0), 0);
    mapping m(1);
    auto host_register =
        reinterpret_cast<int (*)(void *, size_t, unsigned)>(dlsym(fake_, "cudaHostRegister"));
    auto host_unregister = reinterpret_cast<int (*)(void *)>(dlsym(fake_, "cudaHostUnregister"));
    ASSERT_EQ(host_register(m.get(), page(), 0), 0);  // the application's own registration
    uint64_t handle = 0;
    EXPECT_EQ(r.reg(r.ctx, m.get(), page(), &handle), -EAGAIN);
    EXPECT_TRUE(starts_with(umn_last_error(), "cudaHostRegister of 4 KiB at ") || page() != 4096)
        << umn_last_error();
    EXPECT_NE(std::string(umn_last_error()).find("already mapped"), std::string::npos);
    host_unregister(m.get());
    umn_registrar_release(&r);
}

TEST(RegistrarCudaNoDevice, DriverWithoutADeviceGivesEnotsupWithTheRuntimesText) {
    scoped_env devices("FAKE_CUDART_DEVICES", "0");
    cudart_choice lib(UMN_FAKE_CUDART);
    umn_registrar r;
    EXPECT_EQ(umn_registrar_cuda(&r, 0), -ENOTSUP);
    EXPECT_STREQ(umn_last_error(),
                 "no usable CUDA device: cudaGetDeviceCount: no CUDA-capable device is detected");
}

// The real runtime and GPU, where present.
TEST(RegistrarCudaGpu, PinsAndUnpinsThroughTheCache) {
    cudart_choice lib(nullptr);
    umn_registrar r;
    if (umn_registrar_cuda(&r, 0) != 0) GTEST_SKIP() << "no CUDA here: " << umn_last_error();
    umn_cache *c = nullptr;
    ASSERT_EQ(umn_cache_create(&c, &r, nullptr), 0) << umn_last_error();
    size_t len = size_t{1} << 20;
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    umn_region *region = nullptr;
    ASSERT_EQ(umn_cache_get(c, p, len, &region), 0) << umn_last_error();
    EXPECT_EQ(umn_region_handle(region), reinterpret_cast<uintptr_t>(p));
    umn_cache_put(c, region);
    ASSERT_EQ(umn_cache_get(c, p, len, &region), 0);  // a hit
    umn_cache_put(c, region);
    struct umn_cache_stats s = UMN_CACHE_STATS_INIT;
    ASSERT_EQ(umn_cache_stats(c, &s), 0);
    EXPECT_EQ(s.hits, 1u);
    EXPECT_EQ(s.registrar_failures, 0u);
    munmap(p, len);  // invalidates; the region is unregistered at the next get's drain
    umn_cache_destroy(c);
    umn_registrar_release(&r);
}

}  // namespace
}  // namespace umn::test
