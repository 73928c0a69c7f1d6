// SPDX-License-Identifier: BSD-3-Clause
// Helpers the workloads share: one fixture kept alive across Google
// Benchmark's repeated calls of one benchmark (it probes iteration counts by
// calling the function several times; a 100k-region warm-up runs once), an
// unpopulated anonymous mapping, a clock and a median.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace umn::bench {

struct fixture {
    virtual ~fixture() = default;
};

// The fixture stored under `key`, or nullptr if the slot holds another one.
fixture *current_fixture(const std::string &key);
// Replaces the slot's fixture (destroying the previous one first).
void set_fixture(const std::string &key, std::unique_ptr<fixture> f);
void clear_fixture();

// Anonymous private read-write pages, never touched by the benchmark (the
// registrar does not pin), unmapped at destruction unless unmap() ran.
class mapping {
  public:
    explicit mapping(size_t pages);
    mapping(const mapping &) = delete;
    mapping &operator=(const mapping &) = delete;
    ~mapping() { unmap(); }
    bool ok() const { return base_ != nullptr; }
    char *at(size_t page) const;
    void unmap();

  private:
    char *base_ = nullptr;
    size_t len_ = 0;
};

double now_ns();         // CLOCK_MONOTONIC
double thread_cpu_ns();  // this thread's CPU time: what preemption does not inflate
long resident_bytes();   // this process's resident set, from /proc/self/statm
double median(std::vector<double> v);

}  // namespace umn::bench
