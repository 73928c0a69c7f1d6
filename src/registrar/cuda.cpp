// SPDX-License-Identifier: BSD-3-Clause
// The CUDA registrar: reg = cudaHostRegister (page-locks host memory for
// DMA by the GPU), dereg = cudaHostUnregister, handle = the host address.
// libcudart is opened with dlopen at the first umn_registrar_cuda() call
// (UMN_CUDART_LIBRARY, else libcudart.so and the versioned sonames), so
// libumn has no build or link dependency on CUDA and this file no CUDA
// header: the few runtime entry points are declared here by their C ABI.
//
// Concurrency: a library table is filled under load_lock and published
// through `current` with release; readers acquire it. Tables are immutable
// and never freed (the library is never unloaded); each registrar copies the
// function pointers it needs. The CUDA runtime is thread-safe.
#include "config/options.hpp"
#include "diagnostics/reason.hpp"
#include "registrar/cuda.hpp"
#include "registrar/registrar.hpp"

#include <atomic>
#include <cerrno>
#include <dlfcn.h>
#include <mutex>
#include <new>
#include <string>

namespace umn::cuda {

namespace {

// cudaError_t values used here (stable across CUDA releases).
constexpr int cuda_success = 0;
constexpr int cuda_error_invalid_value = 1;
constexpr int cuda_error_memory_allocation = 2;
constexpr int cuda_error_not_supported = 801;
constexpr int cuda_error_host_memory_already_registered = 712;

using host_register_fn = int (*)(void *ptr, size_t size, unsigned flags);
using host_unregister_fn = int (*)(void *ptr);
using error_string_fn = const char *(*)(int error);
using device_count_fn = int (*)(int *count);

struct functions {
    host_register_fn host_register;
    host_unregister_fn host_unregister;
    error_string_fn error_string;
    device_count_fn device_count;
};

struct library {
    int error = 0;     // 0 or -ENOTSUP
    std::string name;  // the soname that loaded, or what was tried
    std::string why;   // when error: the reason
    functions f{};
    int devices = 0;
    const library *previous = nullptr;  // earlier tables stay reachable
};

std::mutex load_lock;
std::atomic<const library *> current{nullptr};

// Sonames tried when UMN_CUDART_LIBRARY is "auto": the development symlink,
// then the runtimes of the CUDA major versions in use.
const char *const sonames[] = {"libcudart.so",      "libcudart.so.13",   "libcudart.so.12",
                               "libcudart.so.11.0", "libcudart.so.10.2", "libcudart.so.10.1"};

void *open_first(const std::string &configured, library *lib) {
    if (configured != "auto") {
        lib->name = configured;
        void *h = dlopen(configured.c_str(), RTLD_NOW | RTLD_LOCAL);
        const char *e = h ? nullptr : dlerror();
        if (!h) lib->why = e ? e : "dlopen failed";
        return h;
    }
    std::string first_error;
    for (const char *name : sonames) {
        if (void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
            lib->name = name;
            return h;
        }
        if (first_error.empty()) {
            const char *e = dlerror();
            first_error = e ? e : "dlopen failed";
        }
    }
    lib->name = "libcudart.so";
    lib->why = first_error + " (also tried libcudart.so.13, .12, .11.0, .10.2, .10.1)";
    return nullptr;
}

template <typename F>
bool resolve(void *handle, const char *symbol, F *out) {
    *out = reinterpret_cast<F>(dlsym(handle, symbol));
    return *out != nullptr;
}

library *open_library(const std::string &configured) {
    auto *lib = new (std::nothrow) library;
    if (!lib) return nullptr;
    void *h = open_first(configured, lib);
    functions &f = lib->f;
    if (!h) {
        lib->why = lib->name + " not found: " + lib->why;
    } else if (!resolve(h, "cudaHostRegister", &f.host_register) ||
               !resolve(h, "cudaHostUnregister", &f.host_unregister) ||
               !resolve(h, "cudaGetErrorString", &f.error_string) ||
               !resolve(h, "cudaGetDeviceCount", &f.device_count)) {
        lib->why = lib->name +
                   " lacks cudaHostRegister, cudaHostUnregister, cudaGetErrorString "
                   "or cudaGetDeviceCount";
    } else if (int rc = f.device_count(&lib->devices); rc != cuda_success) {
        lib->why = "no usable CUDA device: cudaGetDeviceCount: " + std::string(f.error_string(rc));
    } else if (lib->devices == 0) {
        lib->why = "no CUDA device";
    } else {
        return lib;
    }
    lib->error = -ENOTSUP;
    return lib;
}

const library *install(const std::string &configured) {
    library *lib = open_library(configured);
    if (!lib) return nullptr;
    lib->previous = current.load(std::memory_order_relaxed);
    current.store(lib, std::memory_order_release);  // pairs with the acquire in loaded()
    return lib;
}

const library *loaded() {
    if (const library *lib = current.load(std::memory_order_acquire)) return lib;
    std::lock_guard<std::mutex> guard(load_lock);
    if (const library *lib = current.load(std::memory_order_relaxed)) return lib;
    return install(options().cudart_library);
}

// Released by umn_registrar_release (registrar.cpp).
class cuda_context final : public registrar_context {
  public:
    cuda_context(unsigned flags, const functions &f) : flags(flags), f(f) {}
    // The driver pins the pages itself; RLIMIT_MEMLOCK does not count them.
    bool pins() const override { return false; }
    const unsigned flags;
    const functions f;
};

// A CUDA error as a negative errno. Memory already registered (by a region
// the cache is about to replace) is -EAGAIN: the cache then evicts the
// unreferenced regions and retries.
int to_errno(int error) {
    switch (error) {
        case cuda_error_invalid_value:
            return -EINVAL;
        case cuda_error_memory_allocation:
            return -ENOMEM;
        case cuda_error_host_memory_already_registered:
            return -EAGAIN;
        case cuda_error_not_supported:
            return -ENOTSUP;
        default:
            return -EIO;
    }
}

int reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    const auto *c = static_cast<const cuda_context *>(ctx);
    int error = c->f.host_register(addr, len, c->flags);
    if (error != cuda_success) {
        char size[32];
        return fail(to_errno(error), "cudaHostRegister of %s at %p failed: %s",
                    format_bytes(len, size, sizeof size), addr, c->f.error_string(error));
    }
    *handle = reinterpret_cast<uintptr_t>(addr);
    return 0;
}

void dereg(void *ctx, void *addr, size_t, uint64_t) {
    // Fails only for memory not registered: the cache deregisters each once.
    static_cast<const cuda_context *>(ctx)->f.host_unregister(addr);
}

}  // namespace

probe_result probe() {
    const library *lib = loaded();
    if (!lib) return {-ENOMEM, "out of memory"};
    if (lib->error) return {lib->error, lib->why};
    return {0, lib->name + " loaded, " + std::to_string(lib->devices) + " CUDA device" +
                   (lib->devices == 1 ? "" : "s")};
}

int reload_for_test() {
    std::lock_guard<std::mutex> guard(load_lock);
    const library *lib = install(options().cudart_library);
    return lib ? lib->error : -ENOMEM;
}

}  // namespace umn::cuda

extern "C" int umn_registrar_cuda(struct umn_registrar *out, unsigned flags) {
    using namespace umn::cuda;
    if (!out) return umn::fail(-EINVAL, "umn_registrar_cuda: out is NULL");
    *out = umn_registrar{};
    const library *lib = loaded();
    if (!lib) return -ENOMEM;
    if (lib->error) return umn::fail(lib->error, "%s", lib->why.c_str());
    auto *c = new (std::nothrow) cuda_context(flags, lib->f);
    if (!c) return -ENOMEM;
    umn::adopt(c);
    *out = umn_registrar{c, reg, dereg};
    return 0;
}
