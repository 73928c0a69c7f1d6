// SPDX-License-Identifier: BSD-3-Clause
// What a cache hit saves on a real verbs device: ibv_reg_mr + ibv_dereg_mr
// of a buffer against umn_cache_get + umn_cache_put of the same buffer once
// it is cached (ibverbs registrar), 4 KiB to 64 MiB. Under software
// emulation (soft-RoCE in qemu) the absolute numbers mean little; the ratio
// is the point. Each figure is the fastest of five timed batches.
//
//   verbs_bench [--device=rxe0] [--monitor=auto|kernel|uffd|hooks] [--max=64M]
#include <umn/umn.h>
#include <umn/verbs.h>

#include <infiniband/verbs.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/mman.h>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Repeats `op` until `budget` seconds or `max_iterations` pass; ns per call.
template <typename F>
double time_per_call(F op, double budget, long max_iterations) {
    long n = 0;
    auto start = clock_type::now();
    double elapsed = 0;
    do {
        if (!op()) return -1;
        ++n;
        if (n % 16 == 0 || n < 16) elapsed = seconds_since(start);
    } while (elapsed < budget && n < max_iterations);
    return seconds_since(start) * 1e9 / static_cast<double>(n);
}

// The fastest of five timed batches: on a busy host under qemu TCG whole
// batches stall for reasons outside the code measured.
template <typename F>
double best_per_call(F op, double budget, long max_iterations) {
    double best = -1;
    for (int batch = 0; batch < 5; ++batch) {
        double t = time_per_call(op, budget, max_iterations);
        if (t < 0) return -1;
        if (best < 0 || t < best) best = t;
    }
    return best;
}

double reg_dereg_ns(ibv_pd *pd, char *buf, size_t len) {
    return best_per_call(
        [&] {
            ibv_mr *mr = ibv_reg_mr(pd, buf, len, IBV_ACCESS_LOCAL_WRITE);
            return mr && ibv_dereg_mr(mr) == 0;
        },
        0.1, 10000);
}

double hit_ns(umn_cache *cache, char *buf, size_t len) {
    umn_region *r;
    if (umn_cache_get(cache, buf, len, &r) != 0) return -1;  // the miss
    umn_cache_put(cache, r);
    return best_per_call(
        [&] {
            if (umn_cache_get(cache, buf, len, &r) != 0) return false;
            umn_cache_put(cache, r);
            return true;
        },
        0.05, 1000000);
}

std::string human(size_t bytes) {
    return bytes >= (1u << 20) ? std::to_string(bytes >> 20) + " MiB"
                               : std::to_string(bytes >> 10) + " KiB";
}

struct options {
    const char *device = nullptr;
    umn_monitor monitor = UMN_MONITOR_AUTO;
    size_t max = size_t{64} << 20;
};

bool parse(int argc, char **argv, options *o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--device=", 0) == 0) {
            o->device = argv[i] + 9;
        } else if (a.rfind("--max=", 0) == 0) {
            char *end;
            o->max = std::strtoull(argv[i] + 6, &end, 0) << (*end == 'M'   ? 20
                                                             : *end == 'K' ? 10
                                                                           : 0);
        } else if (a == "--monitor=kernel" || a == "--monitor=uffd" || a == "--monitor=hooks" ||
                   a == "--monitor=auto") {
            const std::string m = a.substr(10);
            o->monitor = m == "kernel"  ? UMN_MONITOR_KERNEL
                         : m == "uffd"  ? UMN_MONITOR_UFFD
                         : m == "hooks" ? UMN_MONITOR_HOOKS
                                        : UMN_MONITOR_AUTO;
        } else {
            return false;
        }
    }
    return true;
}

ibv_context *open_device(const char *name) {
    ibv_device **list = ibv_get_device_list(nullptr);
    ibv_context *context = nullptr;
    for (ibv_device **d = list; d && *d && !context; ++d)
        if (!name || std::strcmp(ibv_get_device_name(*d), name) == 0) context = ibv_open_device(*d);
    if (list) ibv_free_device_list(list);
    return context;
}

int run(ibv_pd *pd, const options &o) {
    umn_registrar registrar;
    umn_cache *cache;
    int rc = umn_registrar_ibverbs(&registrar, pd, IBV_ACCESS_LOCAL_WRITE);
    if (rc < 0) return std::fprintf(stderr, "umn_registrar_ibverbs: %s\n", strerror(-rc)), 1;
    umn_cache_params p{};
    p.struct_size = sizeof p;
    p.monitor = o.monitor;
    if ((rc = umn_cache_create(&cache, &registrar, &p)) < 0)
        return std::fprintf(stderr, "umn_cache_create: %s\n", strerror(-rc)), 1;
    std::printf("%-8s %22s %18s %10s\n", "size", "ibv_reg_mr+dereg (ns)", "umn hit (ns)", "ratio");
    int status = 0;
    for (size_t len = 4096; len <= o.max && status == 0; len *= 4) {
        void *m = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (m == MAP_FAILED) return std::fprintf(stderr, "mmap %zu failed\n", len), 1;
        char *buf = static_cast<char *>(m);
        double reg = reg_dereg_ns(pd, buf, len), hit = hit_ns(cache, buf, len);
        if (reg < 0 || hit < 0) {
            std::fprintf(stderr, "registration of %zu bytes failed\n", len);
            status = 1;
        } else {
            std::printf("%-8s %22.0f %18.1f %9.0fx\n", human(len).c_str(), reg, hit, reg / hit);
        }
        munmap(m, len);
    }
    umn_cache_destroy(cache);
    umn_registrar_release(&registrar);
    return status;
}

}  // namespace

int main(int argc, char **argv) {
    options o;
    if (!parse(argc, argv, &o)) {
        std::fprintf(stderr,
                     "usage: verbs_bench [--device=NAME] [--monitor=auto|kernel|uffd|hooks] "
                     "[--max=64M]\n");
        return 2;
    }
    ibv_context *context = open_device(o.device);
    if (!context) return std::fprintf(stderr, "verbs_bench: no RDMA device\n"), 1;
    ibv_pd *pd = ibv_alloc_pd(context);
    int status = pd ? run(pd, o) : (std::fprintf(stderr, "ibv_alloc_pd failed\n"), 1);
    if (pd) ibv_dealloc_pd(pd);
    ibv_close_device(context);
    return status;
}
