// SPDX-License-Identifier: BSD-3-Clause
#include "fixture.hpp"
#include "registrar.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <sys/mman.h>

namespace umn::bench {

namespace {

// Benchmarks run one at a time, and thread 0 alone touches the slot before
// the start barrier, so the slot needs no lock.
struct slot {
    std::string key;
    std::unique_ptr<fixture> held;
};

slot &the_slot() {
    static slot s;
    return s;
}

}  // namespace

fixture *current_fixture(const std::string &key) {
    slot &s = the_slot();
    return s.held && s.key == key ? s.held.get() : nullptr;
}

void set_fixture(const std::string &key, std::unique_ptr<fixture> f) {
    clear_fixture();
    the_slot().key = key;
    the_slot().held = std::move(f);
}

void clear_fixture() {
    the_slot().held.reset();
    the_slot().key.clear();
}

mapping::mapping(size_t pages) : len_(pages * page_size()) {
    void *p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<char *>(p);
}

char *mapping::at(size_t page) const {
    return base_ + page * page_size();
}

void mapping::unmap() {
    if (base_) munmap(base_, len_);
    base_ = nullptr;
}

namespace {

double clock_ns(clockid_t clock) {
    timespec t;
    clock_gettime(clock, &t);
    return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

}  // namespace

double now_ns() {
    return clock_ns(CLOCK_MONOTONIC);
}

double thread_cpu_ns() {
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

long resident_bytes() {
    long size = 0, resident = 0;
    if (FILE *f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * static_cast<long>(page_size());
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    auto mid = v.begin() + static_cast<long>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
}

}  // namespace umn::bench
