// SPDX-License-Identifier: BSD-3-Clause
// The ibverbs registrar: reg = ibv_reg_mr, dereg = ibv_dereg_mr, handle = the
// struct ibv_mr *. libibverbs.so.1 (or UMN_IBVERBS_LIBRARY) is opened with
// dlopen at the first call, so libumn has no link dependency on rdma-core
// and this file needs no verbs header: it passes the pd and the mr through
// as opaque pointers.
//
// Symbols: rdma-core's verbs.h makes ibv_reg_mr a macro that calls the
// exported ibv_reg_mr_iova2 (IBVERBS_1.8) whenever the access flags are not
// a constant free of optional bits, and ibv_reg_mr (IBVERBS_1.1) otherwise.
// The flags here are never constant, so we call ibv_reg_mr_iova2 with
// iova = addr like the macro does, and fall back to ibv_reg_mr on libraries
// older than 1.8 (then optional flags such as relaxed ordering are dropped,
// which is what iova2 does on kernels that lack them). dlsym returns the
// default versions (@@IBVERBS_1.1), not the 1.0 compatibility symbols.
//
// Concurrency: a library table is filled under load_lock and published
// through `current` with release; readers acquire it. Tables are immutable
// and never freed (the library is never unloaded), and each registrar copies
// the function pointers it needs, so reg/dereg touch no shared state.
#include <umn/verbs.h>

#include "config/options.hpp"
#include "core/checked_mutex.hpp"
#include "diagnostics/reason.hpp"
#include "os/sys.hpp"
#include "registrar/ibverbs.hpp"
#include "registrar/registrar.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <new>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#if __has_include(<infiniband/verbs.h>)
#include <infiniband/verbs.h>
#endif

namespace umn::verbs {

namespace {

// The ABI values used here (stable since libibverbs 1.1; checked against
// the header when it is installed).
constexpr int access_local_write = 1;
constexpr int access_on_demand = 1 << 6;
#ifdef IBV_ACCESS_OPTIONAL_RANGE
static_assert(access_local_write == IBV_ACCESS_LOCAL_WRITE);
static_assert(access_on_demand == IBV_ACCESS_ON_DEMAND);
#endif

using reg_mr_fn = void *(*)(void *pd, void *addr, size_t len, int access);
using reg_mr_iova2_fn = void *(*)(void *pd, void *addr, size_t len, uint64_t iova, unsigned access);
using dereg_mr_fn = int (*)(void *mr);

struct functions {
    reg_mr_fn reg_mr;
    reg_mr_iova2_fn reg_mr_iova2;
    dereg_mr_fn dereg_mr;
};

struct library {
    int error = 0;  // 0 or -ENOTSUP
    std::string name;
    std::string why;  // dlopen/dlsym message when error
    void *handle = nullptr;
    functions f{};
    const library *previous = nullptr;  // earlier tables stay reachable
};

checked_mutex load_lock;
std::atomic<const library *> current{nullptr};

const char *default_name() {
    return options().ibverbs_library.c_str();
}

library *open_library(const char *name) {
    auto *lib = new (std::nothrow) library;
    if (!lib) return nullptr;
    lib->name = name;
    lib->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib->handle) {
        functions &f = lib->f;
        f.reg_mr = reinterpret_cast<reg_mr_fn>(dlsym(lib->handle, "ibv_reg_mr"));
        f.reg_mr_iova2 = reinterpret_cast<reg_mr_iova2_fn>(dlsym(lib->handle, "ibv_reg_mr_iova2"));
        f.dereg_mr = reinterpret_cast<dereg_mr_fn>(dlsym(lib->handle, "ibv_dereg_mr"));
        if ((f.reg_mr || f.reg_mr_iova2) && f.dereg_mr) return lib;
        lib->why = "no ibv_reg_mr/ibv_dereg_mr in " + lib->name;
    } else {
        const char *e = dlerror();
        lib->why = e ? e : "dlopen failed";
    }
    lib->error = -ENOTSUP;
    return lib;
}

// Loads `name` and makes it current. Called with load_lock held.
const library *install(const char *name) {
    UMN_ASSERT_HELD(load_lock);
    library *lib = open_library(name);
    if (!lib) return nullptr;
    lib->previous = current.load(std::memory_order_relaxed);
    // Pairs with the acquire in loaded(): the table is complete when seen.
    current.store(lib, std::memory_order_release);
    return lib;
}

// The current table, loading the default library at first use; nullptr only
// when out of memory.
const library *loaded() {
    if (const library *lib = current.load(std::memory_order_acquire)) return lib;
    std::lock_guard guard(load_lock);
    if (const library *lib = current.load(std::memory_order_relaxed)) return lib;
    return install(default_name());
}

// Released by umn_registrar_release (registrar.cpp).
class ibverbs_context final : public registrar_context {
  public:
    ibverbs_context(void *pd, int access, const functions &f) : pd(pd), access(access), f(f) {}
    // On-demand paging registers without pinning.
    bool pins() const override { return (access & access_on_demand) == 0; }
    void *const pd;
    const int access;
    const functions f;
};

void *register_range(const functions &f, void *pd, void *addr, size_t len, int access) {
    if (f.reg_mr_iova2)
        return f.reg_mr_iova2(pd, addr, len, reinterpret_cast<uintptr_t>(addr),
                              static_cast<unsigned>(access));
    return f.reg_mr(pd, addr, len, access);
}

int reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    const auto *c = static_cast<const ibverbs_context *>(ctx);
    int saved = errno;  // umn calls never change errno
    errno = 0;
    void *mr = register_range(c->f, c->pd, addr, len, c->access);
    int err = mr ? 0 : errno > 0 ? errno : ENOMEM;
    errno = saved;
    if (!mr) return pin_failure(err, "ibv_reg_mr", addr, len);
    *handle = reinterpret_cast<uintptr_t>(mr);
    return 0;
}

void dereg(void *ctx, void *, size_t, uint64_t handle) {
    // ibv_dereg_mr fails only for an mr that is still bound or invalid; the
    // cache deregisters each mr once, and the registrar has no error path.
    static_cast<const ibverbs_context *>(ctx)->f.dereg_mr(reinterpret_cast<void *>(handle));
}

// ---------------------------------------------------------------- probe

struct device_api {
    void **(*get_device_list)(int *count);
    void (*free_device_list)(void **list);
    const char *(*get_device_name)(void *device);
    void *(*open_device)(void *device);
    int (*close_device)(void *context);
    void *(*alloc_pd)(void *context);
    int (*dealloc_pd)(void *pd);
};

template <typename F>
bool resolve(void *handle, const char *symbol, F *out) {
    *out = reinterpret_cast<F>(dlsym(handle, symbol));
    return *out != nullptr;
}

bool resolve_device_api(void *handle, device_api *api) {
    return resolve(handle, "ibv_get_device_list", &api->get_device_list) &&
           resolve(handle, "ibv_free_device_list", &api->free_device_list) &&
           resolve(handle, "ibv_get_device_name", &api->get_device_name) &&
           resolve(handle, "ibv_open_device", &api->open_device) &&
           resolve(handle, "ibv_close_device", &api->close_device) &&
           resolve(handle, "ibv_alloc_pd", &api->alloc_pd) &&
           resolve(handle, "ibv_dealloc_pd", &api->dealloc_pd);
}

// Registers one page with IBV_ACCESS_ON_DEMAND: the only test of ODP that
// needs no verbs structure layout.
std::string odp_support(const library &lib, void *pd) {
    size_t len = sys::page_size();
    void *page = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return "ODP unknown (mmap failed)";
    errno = 0;
    void *mr = register_range(lib.f, pd, page, len, access_local_write | access_on_demand);
    int err = errno;
    if (mr) lib.f.dereg_mr(mr);
    munmap(page, len);
    return mr ? "ODP yes" : std::string("ODP no (") + strerrorname_np(err ? err : ENOMEM) + ")";
}

std::string describe_device(const library &lib, const device_api &api, void *device) {
    std::string line = api.get_device_name(device);
    void *context = api.open_device(device);
    if (!context) return line + " (cannot open)";
    void *pd = api.alloc_pd(context);
    line += pd ? " (" + odp_support(lib, pd) + ")" : " (cannot allocate a pd)";
    if (pd) api.dealloc_pd(pd);
    api.close_device(context);
    return line;
}

}  // namespace

probe_result probe() {
    const library *lib = loaded();
    if (!lib) return {-ENOMEM, "out of memory"};
    if (lib->error) return {lib->error, "cannot load " + lib->name + ": " + lib->why};
    device_api api{};
    if (!resolve_device_api(lib->handle, &api))
        return {0, lib->name + " loaded (no device listing functions)"};
    int count = 0;
    void **devices = api.get_device_list(&count);
    std::string detail = lib->name + " loaded; ";
    if (!devices || count == 0) detail += "no RDMA device";
    for (int i = 0; i < count; ++i)
        detail += (i ? ", " : "device ") + describe_device(*lib, api, devices[i]);
    if (devices) api.free_device_list(devices);
    return {0, detail};
}

int reload_for_test(const char *library) {
    std::lock_guard guard(load_lock);
    const verbs::library *lib = install(library ? library : default_name());
    return lib ? lib->error : -ENOMEM;
}

}  // namespace umn::verbs

using namespace umn::verbs;

extern "C" int umn_registrar_ibverbs(umn_registrar *out, ibv_pd *pd, int access) {
    using umn::fail;
    if (!out) return fail(-EINVAL, "umn_registrar_ibverbs: out is NULL");
    *out = umn_registrar{};
    if (!pd) return fail(-EINVAL, "umn_registrar_ibverbs: pd is NULL");
    const library *lib = loaded();
    if (!lib) return -ENOMEM;
    if (lib->error)
        return fail(lib->error, "%s not usable: %s", lib->name.c_str(), lib->why.c_str());
    auto *c = new (std::nothrow) ibverbs_context(pd, access, lib->f);
    if (!c) return -ENOMEM;
    umn::adopt(c);
    *out = umn_registrar{c, reg, dereg};
    return 0;
}
