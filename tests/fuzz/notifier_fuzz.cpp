// SPDX-License-Identifier: BSD-3-Clause
// Fuzzes the notifier and cache APIs against a model. The input is a program
// of operations over a 32-page arena at a fixed address far from the mmap
// area: register, unregister, drain, set_limit, cache get and put, registrar
// failures, mmap(MAP_FIXED), munmap, mremap, madvise(DONTNEED), mprotect and
// bad arguments. After every operation the DESIGN.md promises are checked:
//   - every result is 0, a count, or the negative errno the model predicts;
//   - an operation that changed registered pages moved the generation before
//     it returned (no stale window) and made those cookies drainable;
//   - each cookie is drained at most once and, by the end, exactly once;
//     no cookie is reported that the model did not invalidate;
//   - registrations the operation did not touch are undisturbed;
//   - a cache get returns a region covering the request whose pages are all
//     the ones its registrar saw (no stale region); dereg runs once per reg,
//     never while the program holds a reference, and the cache stays usable
//     after registrar failures.
// The monitor is the one UMN_MONITOR selects (AUTO otherwise). A failed check
// aborts with a message naming the operation.
#include <umn/umn.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr size_t arena_pages = 32;
// Far below mmap_base, in memory the sanitizers leave to the application:
// TSan keeps 0x008000000000-0x550000000000 for itself, ASan wants addresses
// above 0x10007fff8000.
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
constexpr uintptr_t arena_base = uintptr_t{0x004000000000};
#else
constexpr uintptr_t arena_base = uintptr_t{0x200000000000};
#endif
constexpr uint64_t cookie_space = 24;

const size_t pg = static_cast<size_t>(sysconf(_SC_PAGESIZE));

[[noreturn]] void fail(const char *op, const char *what, long detail) {
    std::fprintf(stderr, "notifier_fuzz: after %s: %s (%ld)\n", op, what, detail);
    std::abort();
}

// UMN_FUZZ_TRACE=1 prints every operation, to read a crashing input.
const bool tracing = std::getenv("UMN_FUZZ_TRACE") != nullptr;

void trace(const char *op, size_t first, size_t count, long extra = 0) {
    if (tracing) std::fprintf(stderr, "%s pages [%zu, +%zu) %ld\n", op, first, count, extra);
}

void expect(bool ok, const char *op, const char *what, long detail = 0) {
    if (!ok) fail(op, what, detail);
}

char *page_addr(size_t page) {
    return reinterpret_cast<char *>(arena_base + page * pg);
}

// Reads the fuzz input one byte at a time; zeros once it runs out.
struct input {
    const uint8_t *data;
    size_t size;
    size_t pos = 0;
    bool done() const { return pos >= size; }
    uint8_t byte() { return pos < size ? data[pos++] : 0; }
};

struct span {
    size_t first;
    size_t count;  // pages
};

size_t page_of(const void *addr) {
    return (reinterpret_cast<uintptr_t>(addr) - arena_base) / pg;
}

// The cache's registrar: records which version of each page a registration
// saw, fails like a real one over unmapped pages, and fails once on demand.
struct stamp_registrar {
    struct record {
        size_t first, count;
        std::vector<uint64_t> versions;
    };
    const uint64_t *versions;  // the model's, per arena page
    std::map<uint64_t, record> live;
    std::map<uint64_t, unsigned> held;  // references the program holds, by handle
    uint64_t next_handle = 1;
    size_t regs = 0, deregs = 0;
    int fail_next = 0;

    static int reg(void *ctx, void *addr, size_t len, uint64_t *handle);
    static void dereg(void *ctx, void *addr, size_t len, uint64_t handle);
};

int stamp_registrar::reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    auto *r = static_cast<stamp_registrar *>(ctx);
    size_t first = page_of(addr), count = len / pg;
    expect(reinterpret_cast<uintptr_t>(addr) >= arena_base && first + count <= arena_pages &&
               len % pg == 0,
           "cache get", "registrar asked for memory outside the arena or unaligned");
    if (int rc = std::exchange(r->fail_next, 0)) return rc;
    unsigned char v;
    for (size_t p = first; p < first + count; ++p)
        if (mincore(page_addr(p), pg, &v) != 0) return -EFAULT;
    *handle = r->next_handle++;
    r->live[*handle] = {first, count, {r->versions + first, r->versions + first + count}};
    ++r->regs;
    return 0;
}

void stamp_registrar::dereg(void *ctx, void *addr, size_t len, uint64_t handle) {
    auto *r = static_cast<stamp_registrar *>(ctx);
    auto it = r->live.find(handle);
    expect(it != r->live.end(), "dereg", "unknown or repeated handle", static_cast<long>(handle));
    expect(page_of(addr) == it->second.first && len == it->second.count * pg, "dereg",
           "range differs from the registration");
    expect(r->held[handle] == 0, "dereg", "region still referenced", static_cast<long>(handle));
    r->live.erase(it);
    ++r->deregs;
}

class model {
  public:
    model(umn_notifier *n, umn_cache *c, stamp_registrar &r) : n_(n), cache_(c), registrar_(r) {
        std::fill_n(mapped_, arena_pages, true);
        registrar_.versions = versions_;
    }

    void run(input &in);
    void finish();

  private:
    struct reg {
        size_t first, last;  // pages, inclusive
    };

    span pick_span(input &in) const;
    bool all_mapped(span s) const;
    bool none_mapped(span s) const;
    static bool one_mapping(span s);
    void check_mappings() const;
    size_t live_and_pending() const { return live_.size() + pending_.size(); }

    // The pages of `s` changed: moves every live registration overlapping
    // mapped pages of `s` to pending and returns how many moved; bumps the
    // pages' versions.
    size_t invalidate(span s);
    void set_mapped(span s, bool mapped);
    void check_after_change(const char *op, size_t moved, uint64_t gen_before);

    void op_register(input &in);
    void op_unregister(input &in);
    void op_drain(input &in);
    void op_set_limit(input &in);
    void op_map_fixed(input &in);
    void op_munmap(input &in);
    void op_mremap(input &in);
    void op_madvise(input &in);
    void op_mprotect(input &in);
    void op_bad_arguments(input &in);
    void op_cache_get(input &in);
    void op_cache_put(input &in);
    void op_registrar_failure(input &in);
    void put_all();

    umn_notifier *n_;
    bool mapped_[arena_pages];
    std::map<uint64_t, reg> live_;
    std::set<uint64_t> pending_;  // invalidated, not yet drained
    size_t limit_ = size_t{1} << 20;
    uint64_t versions_[arena_pages] = {};
    umn_cache *cache_;
    stamp_registrar &registrar_;
    std::vector<umn_region *> held_;
};

span model::pick_span(input &in) const {
    size_t first = in.byte() % arena_pages;
    size_t count = 1 + in.byte() % std::min<size_t>(8, arena_pages - first);
    return {first, count};
}

bool model::all_mapped(span s) const {
    return std::all_of(mapped_ + s.first, mapped_ + s.first + s.count, [](bool m) { return m; });
}

bool model::none_mapped(span s) const {
    return std::none_of(mapped_ + s.first, mapped_ + s.first + s.count, [](bool m) { return m; });
}

size_t model::invalidate(span s) {
    for (size_t p = s.first; p < s.first + s.count; ++p) ++versions_[p];
    size_t moved = 0;
    for (auto it = live_.begin(); it != live_.end();) {
        bool hit = false;
        for (size_t p = std::max(it->second.first, s.first);
             p <= std::min(it->second.last, s.first + s.count - 1); ++p)
            hit = hit || mapped_[p];
        if (!hit) {
            ++it;
            continue;
        }
        pending_.insert(it->first);
        it = live_.erase(it);
        ++moved;
    }
    return moved;
}

void model::set_mapped(span s, bool mapped) {
    std::fill(mapped_ + s.first, mapped_ + s.first + s.count, mapped);
}

// The no-stale-window promise, checked right after the call returned.
void model::check_after_change(const char *op, size_t moved, uint64_t gen_before) {
    if (moved) expect(umn_generation(n_) > gen_before, op, "generation did not move", moved);
}

// Whether /proc/self/maps shows `s` inside a single mapping. mremap of a
// source spanning several mappings is kernel-dependent: before 6.17 it fails
// after unmapping the destination; since 6.17 it moves them one by one and,
// when a later one may not move (userfaultfd registered), fails with part of
// the source already moved. The model keeps to single-mapping moves.
bool model::one_mapping(span s) {
    auto first = reinterpret_cast<uintptr_t>(page_addr(s.first));
    uintptr_t last = first + s.count * pg;
    FILE *maps = std::fopen("/proc/self/maps", "r");
    if (!maps) fail("mremap", "cannot read /proc/self/maps", errno);
    bool inside = false;
    uintptr_t start, end;
    char line[512];
    while (!inside && std::fgets(line, sizeof line, maps))
        inside = std::sscanf(line, "%lx-%lx", &start, &end) == 2 && start <= first && last <= end;
    std::fclose(maps);
    return inside;
}

void model::op_register(input &in) {
    span s = pick_span(in);
    uint64_t cookie = in.byte() % cookie_space;
    size_t head = in.byte() % 64;  // the range need not be page aligned
    trace("register", s.first, s.count, static_cast<long>(cookie));
    if (!all_mapped(s) && !none_mapped(s)) return;  // a range over a hole: not modelled
    const char *addr = page_addr(s.first) + head;
    size_t len = s.count * pg - head;
    int rc = umn_register(n_, addr, len, cookie);
    int want = 0;
    if (live_.count(cookie) || pending_.count(cookie))
        want = -EEXIST;
    else if (live_and_pending() >= limit_)
        want = -ENOSPC;
    // Over unmapped pages the userfaultfd monitor says -EFAULT; a monitor
    // that watches addresses rather than mappings may accept the range.
    bool ok = rc == want || (want == 0 && none_mapped(s) && rc == -EFAULT);

    expect(ok, "register", "unexpected result", rc);
    if (rc == 0) live_[cookie] = {s.first, s.first + s.count - 1};
}

void model::op_unregister(input &in) {
    uint64_t cookie = in.byte() % cookie_space;
    trace("unregister", 0, 0, static_cast<long>(cookie));
    int rc = umn_unregister(n_, cookie);
    bool known = live_.erase(cookie) + pending_.erase(cookie) > 0;
    expect(rc == (known ? 0 : -ENOENT), "unregister", "unexpected result", rc);
}

void model::op_drain(input &in) {
    uint64_t cookies[8];
    size_t max = in.byte() % 9;
    long k = umn_get_invalid(n_, cookies, max);
    trace("drain", 0, 0, k);
    expect(k == static_cast<long>(std::min(max, pending_.size())), "drain", "wrong count", k);
    for (long i = 0; i < k; ++i)
        expect(pending_.erase(cookies[i]) == 1, "drain", "cookie not invalidated or repeated",
               static_cast<long>(cookies[i]));
}

void model::op_set_limit(input &in) {
    size_t limit = in.byte() % 16;
    trace("set_limit", 0, 0, static_cast<long>(limit));
    int rc = umn_notifier_set_limit(n_, limit);
    expect(rc == (limit ? 0 : -EINVAL), "set_limit", "unexpected result", rc);
    if (rc == 0) limit_ = limit;
}

void model::op_map_fixed(input &in) {
    span s = pick_span(in);
    trace("mmap(MAP_FIXED)", s.first, s.count);
    uint64_t gen = umn_generation(n_);
    void *p = mmap(page_addr(s.first), s.count * pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, -1, 0);
    expect(p != MAP_FAILED, "mmap(MAP_FIXED)", "mmap failed", errno);
    size_t moved = invalidate(s);
    set_mapped(s, true);
    check_after_change("mmap(MAP_FIXED)", moved, gen);
}

void model::op_munmap(input &in) {
    span s = pick_span(in);
    trace("munmap", s.first, s.count);
    uint64_t gen = umn_generation(n_);
    expect(munmap(page_addr(s.first), s.count * pg) == 0, "munmap", "munmap failed", errno);
    size_t moved = invalidate(s);
    set_mapped(s, false);
    check_after_change("munmap", moved, gen);
}

// Moves a fully mapped span onto another span (MREMAP_FIXED): both the
// source pages and whatever the destination held are invalidated.
void model::op_mremap(input &in) {
    span from = pick_span(in);
    size_t to_first = in.byte() % (arena_pages - from.count + 1);
    span to{to_first, from.count};
    bool overlap = to.first < from.first + from.count && from.first < to.first + to.count;
    if (overlap || !all_mapped(from) || !one_mapping(from))
        return;  // refused by mremap, or kernel-dependent (see one_mapping)
    trace("mremap", from.first, from.count, static_cast<long>(to.first));
    uint64_t gen = umn_generation(n_);
    void *p = mremap(page_addr(from.first), from.count * pg, to.count * pg,
                     MREMAP_MAYMOVE | MREMAP_FIXED, page_addr(to.first));
    expect(p != MAP_FAILED, "mremap", "mremap of one mapping failed", errno);
    size_t moved = invalidate(from) + invalidate(to);
    set_mapped(from, false);
    set_mapped(to, true);
    check_after_change("mremap", moved, gen);
}

void model::op_madvise(input &in) {
    span s = pick_span(in);
    if (!all_mapped(s)) return;
    trace("madvise(MADV_DONTNEED)", s.first, s.count);
    uint64_t gen = umn_generation(n_);
    expect(madvise(page_addr(s.first), s.count * pg, MADV_DONTNEED) == 0, "madvise", "failed",
           errno);
    size_t moved = invalidate(s);
    check_after_change("madvise(MADV_DONTNEED)", moved, gen);
}

// mprotect keeps the pages: no registration may be invalidated.
void model::op_mprotect(input &in) {
    span s = pick_span(in);
    if (!all_mapped(s)) return;
    int prot = in.byte() & 1 ? PROT_READ : PROT_READ | PROT_WRITE;
    trace("mprotect", s.first, s.count, prot);
    expect(mprotect(page_addr(s.first), s.count * pg, prot) == 0, "mprotect", "failed", errno);
}

void model::op_bad_arguments(input &in) {
    uint64_t cookie = cookie_space + in.byte();  // never live
    expect(umn_register(n_, nullptr, pg, cookie) == -EINVAL, "bad", "NULL address accepted");
    expect(umn_register(n_, page_addr(0), 0, cookie) == -EINVAL, "bad", "zero length accepted");
    expect(umn_register(n_, reinterpret_cast<void *>(UINTPTR_MAX - pg), 2 * pg, cookie) == -EINVAL,
           "bad", "wrapping range accepted");
    expect(umn_unregister(n_, cookie) == -ENOENT, "bad", "unknown cookie not -ENOENT");
    expect(umn_get_invalid(n_, nullptr, 1) == -EINVAL, "bad", "NULL cookie array accepted");
}

// A region must cover the request and hold the pages as they are now.
void model::op_cache_get(input &in) {
    span s = pick_span(in);
    size_t head = in.byte() % 64, tail = in.byte() % 64;
    trace("cache_get", s.first, s.count, registrar_.fail_next);
    const char *addr = page_addr(s.first) + head;
    size_t len = s.count * pg - head - tail;
    int injected = registrar_.fail_next;
    umn_region *r = nullptr;
    int rc = umn_cache_get(cache_, addr, len, &r);
    registrar_.fail_next = 0;
    if (rc < 0) {
        bool expected = rc == injected || (rc == -EFAULT && !all_mapped(s));
        expect(expected && !r, "cache get", "unexpected error", rc);
        return;
    }
    expect(all_mapped(s), "cache get", "region over unmapped pages");
    auto *start = static_cast<const char *>(umn_region_addr(r));
    expect(start <= addr && addr + len <= start + umn_region_len(r), "cache get",
           "region does not cover the request");
    const auto &rec = registrar_.live.at(umn_region_handle(r));
    for (size_t i = 0; i < rec.count; ++i)
        expect(rec.versions[i] == versions_[rec.first + i], "cache get", "stale region",
               static_cast<long>(rec.first + i));
    ++registrar_.held[umn_region_handle(r)];
    held_.push_back(r);
}

void model::op_cache_put(input &in) {
    if (held_.empty()) return;
    size_t i = in.byte() % held_.size();
    trace("cache_put", 0, 0, static_cast<long>(i));
    umn_region *r = held_[i];
    held_.erase(held_.begin() + static_cast<long>(i));
    --registrar_.held[umn_region_handle(r)];
    umn_cache_put(cache_, r);
}

void model::op_registrar_failure(input &in) {
    static const int errors[] = {-ENOMEM, -EAGAIN, -EFAULT, -EIO};
    registrar_.fail_next = errors[in.byte() % 4];
    trace("registrar will fail", 0, 0, registrar_.fail_next);
}

void model::put_all() {
    for (umn_region *r : held_) {
        --registrar_.held[umn_region_handle(r)];
        umn_cache_put(cache_, r);
    }
    held_.clear();
}

// With tracing on: the model's idea of the arena matches the kernel's.
void model::check_mappings() const {
    unsigned char v;
    for (size_t p = 0; p < arena_pages; ++p)
        expect(mapped_[p] == (mincore(page_addr(p), pg, &v) == 0), "operation",
               "model and kernel disagree on page", static_cast<long>(p));
}

void model::run(input &in) {
    using handler = void (model::*)(input &);
    static const handler ops[] = {
        &model::op_register,  &model::op_register,      &model::op_unregister,
        &model::op_drain,     &model::op_map_fixed,     &model::op_munmap,
        &model::op_mremap,    &model::op_madvise,       &model::op_mprotect,
        &model::op_set_limit, &model::op_bad_arguments, &model::op_cache_get,
        &model::op_cache_get, &model::op_cache_put,     &model::op_registrar_failure,
    };
    while (!in.done()) {
        (this->*ops[in.byte() % (sizeof ops / sizeof ops[0])])(in);
        if (tracing) check_mappings();
    }
}

// Unmaps the arena, then every registration must come back exactly once and
// every cache registration must be deregistered exactly once.
void model::finish() {
    put_all();
    uint64_t gen = umn_generation(n_);
    expect(munmap(page_addr(0), arena_pages * pg) == 0, "final munmap", "failed", errno);
    size_t moved = invalidate({0, arena_pages});
    set_mapped({0, arena_pages}, false);
    check_after_change("final munmap", moved, gen);
    uint64_t cookies[64];
    long k;
    while ((k = umn_get_invalid(n_, cookies, 64)) > 0)
        for (long i = 0; i < k; ++i)
            expect(pending_.erase(cookies[i]) == 1, "final drain", "unexpected cookie",
                   static_cast<long>(cookies[i]));
    expect(k == 0, "final drain", "error", k);
    expect(pending_.empty(), "final drain", "cookies lost", static_cast<long>(pending_.size()));
    expect(live_.empty(), "final drain", "registrations left", static_cast<long>(live_.size()));
    umn_cache_destroy(cache_);
    expect(registrar_.regs == registrar_.deregs && registrar_.live.empty(), "cache destroy",
           "registrations leaked", static_cast<long>(registrar_.live.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    void *arena =
        mmap(reinterpret_cast<void *>(arena_base), arena_pages * pg, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_POPULATE, -1, 0);
    if (arena == MAP_FAILED) fail("setup", "arena address taken", errno);
    umn_notifier *n = nullptr;
    int rc = umn_notifier_open(&n, UMN_MONITOR_AUTO);
    if (rc < 0) fail("setup", "umn_notifier_open failed", rc);
    stamp_registrar registrar;
    umn_registrar callbacks{&registrar, stamp_registrar::reg, stamp_registrar::dereg};
    umn_cache_params params{};
    params.struct_size = sizeof params;
    params.max_regions = 6;  // small, so eviction runs
    umn_cache *cache = nullptr;
    rc = umn_cache_create(&cache, &callbacks, &params);
    if (rc < 0) fail("setup", "umn_cache_create failed", rc);
    {
        model m(n, cache, registrar);
        input in{data, size};
        m.run(in);
        m.finish();
    }
    umn_notifier_close(n);
    return 0;
}
