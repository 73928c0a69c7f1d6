// SPDX-License-Identifier: BSD-3-Clause
// A real MPI job with umn's cache in the same processes: two ranks ping-pong
// buffers that they reuse, free, reallocate and realloc() between messages
// (sizes from 8 bytes to 4 MiB, crossing the allocator's and the MPI
// library's eager/rendezvous thresholds). Every send buffer goes through
// umn_cache_get, judged by ground truth: the registrar captures the physical
// frames of each region (/proc/self/pagemap, root), and a get whose region
// captured other frames than those behind the live send buffer now is
// stale. Every received message is checked byte for byte.
//
// Usage: mpirun -np 2 umn_mpi_pingpong [iterations]. Exit status 0 only if
// both ranks saw no stale region, no content error and no failed call.
#include "stamp_registrar.hpp"

#include "pagemap.hpp"

#include <mpi.h>
#include <umn/umn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <unistd.h>

namespace {

using umn::reliability::stamp_registrar;

struct tally {
    long long gets = 0;
    long long checked = 0;
    long long stale = 0;
    long long content_errors = 0;
    long long errors = 0;
    long long reallocations = 0;
};

size_t page() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// The same size sequence on both ranks (seeded by the iteration).
size_t message_size(int iteration) {
    std::mt19937 rng(static_cast<unsigned>(iteration) * 2654435761u);
    switch (rng() % 4) {
        case 0:
            return 8 + rng() % 4096;
        case 1:
            return 4096 + rng() % (64 << 10);
        case 2:
            return (128 << 10) + rng() % (1 << 20);
        default:
            return (1 << 20) + rng() % (3 << 20);
    }
}

unsigned char pattern(int iteration, int rank, size_t i) {
    return static_cast<unsigned char>(iteration * 31 + rank * 7 + i * 13 + (i >> 12));
}

// A buffer that is reused, freed and reallocated between messages.
struct buffer {
    unsigned char *p = nullptr;
    size_t cap = 0;

    // Makes room for len bytes, in one of three ways.
    bool prepare(size_t len, std::mt19937 &rng, tally &t) {
        unsigned how = rng() % 4;
        if (p && len <= cap && how < 2) return true;  // reuse
        if (p && how == 2) {
            auto *q = static_cast<unsigned char *>(std::realloc(p, len));
            if (!q) return false;
            p = q;
        } else {
            std::free(p);
            p = static_cast<unsigned char *>(std::malloc(len));
            if (!p) return false;
        }
        cap = len;
        ++t.reallocations;
        return true;
    }
    ~buffer() { std::free(p); }
};

// umn_cache_get on the send buffer, checked against the captured frames.
void get_and_check(umn_cache *c, stamp_registrar &reg, const umn::testkit::pagemap &pm,
                   const unsigned char *p, size_t len, tally &t) {
    ++t.gets;
    umn_region *r = nullptr;
    if (umn_cache_get(c, p, len, &r) != 0) {
        ++t.errors;
        return;
    }
    if (pm.available()) {
        ++t.checked;
        umn::testkit::frames now = pm.read(p, len);
        uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~(page() - 1);
        for (size_t i = 0; i < now.size(); ++i) {
            uint64_t then =
                reg.captured(umn_region_handle(r), reinterpret_cast<void *>(first + i * page()));
            if (then != 0 && then != now[i]) {
                ++t.stale;
                break;
            }
        }
    }
    umn_cache_put(c, r);
}

void fill(unsigned char *p, size_t len, int iteration, int rank) {
    for (size_t i = 0; i < len; ++i) p[i] = pattern(iteration, rank, i);
}

bool matches(const unsigned char *p, size_t len, int iteration, int rank) {
    for (size_t i = 0; i < len; ++i)
        if (p[i] != pattern(iteration, rank, i)) return false;
    return true;
}

struct endpoint {
    int rank;
    umn_cache *cache;
    stamp_registrar &reg;
    const umn::testkit::pagemap &pm;
    std::mt19937 rng;
    buffer send, recv;
    tally t;

    void send_to(int peer, int iteration, size_t len) {
        if (!send.prepare(len, rng, t)) {
            ++t.errors;
            return;
        }
        fill(send.p, len, iteration, rank);
        get_and_check(cache, reg, pm, send.p, len, t);
        if (MPI_Send(send.p, static_cast<int>(len), MPI_BYTE, peer, iteration, MPI_COMM_WORLD))
            ++t.errors;
    }

    void receive_from(int peer, int iteration, size_t len) {
        if (!recv.prepare(len, rng, t)) {
            ++t.errors;
            return;
        }
        if (MPI_Recv(recv.p, static_cast<int>(len), MPI_BYTE, peer, iteration, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE))
            ++t.errors;
        else if (!matches(recv.p, len, iteration, peer))
            ++t.content_errors;
    }
};

}  // namespace

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) std::fprintf(stderr, "umn_mpi_pingpong: run with exactly 2 ranks\n");
        MPI_Finalize();
        return 2;
    }
    const int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
    umn::testkit::pagemap pm;
    stamp_registrar reg([&](const void *a, size_t n) { return pm.read(a, n); }, false);
    umn_registrar r = reg.registrar();
    umn_cache *cache = nullptr;
    int rc = umn_cache_create(&cache, &r, nullptr);
    if (rc) {
        std::fprintf(stderr, "rank %d: umn_cache_create: %d\n", rank, rc);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    endpoint e{rank, cache, reg, pm, std::mt19937(static_cast<unsigned>(rank) + 1), {}, {}, {}};
    const int peer = 1 - rank;
    for (int i = 0; i < iterations; ++i) {
        size_t len = message_size(i);
        if (rank == 0) {
            e.send_to(peer, i, len);
            e.receive_from(peer, i, len);
        } else {
            e.receive_from(peer, i, len);
            e.send_to(peer, i, len);
        }
    }
    umn_cache_destroy(cache);
    const umn::reliability::registrar_counts rcounts = reg.counts();
    if (rcounts.regs != rcounts.deregs || rcounts.bad_deregs || reg.live()) ++e.t.errors;

    long long mine[6] = {e.t.gets,           e.t.checked, e.t.stale,
                         e.t.content_errors, e.t.errors,  e.t.reallocations};
    long long sum[6] = {};
    MPI_Reduce(mine, sum, 6, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    int failed = 0;
    if (rank == 0) {
        std::printf(
            "mpi pingpong (%s monitor): %d iterations, %lld buffer reallocations, %lld gets "
            "(%lld checked against pagemap), %lld stale, %lld content errors, %lld errors\n",
            std::getenv("UMN_MONITOR") ? std::getenv("UMN_MONITOR") : "auto", iterations, sum[5],
            sum[0], sum[1], sum[2], sum[3], sum[4]);
        failed = sum[2] || sum[3] || sum[4] || sum[0] != 2LL * iterations;
        if (!pm.available()) std::printf("pagemap frames unavailable (not root): content only\n");
    }
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return failed ? 1 : 0;
}
