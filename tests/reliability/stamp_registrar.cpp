// SPDX-License-Identifier: BSD-3-Clause
#include "stamp_registrar.hpp"

#include "stamped_slots.hpp"

#include <cerrno>
#include <utility>
#include <unistd.h>

namespace umn::reliability {

namespace {

size_t page() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

std::vector<uint64_t> read_stamps(const void *addr, size_t len) {
    std::vector<uint64_t> out;
    for (size_t off = 0; off < len; off += page())
        out.push_back(stamped_slots::read_stamp(static_cast<const char *>(addr) + off));
    return out;
}

}  // namespace

stamp_registrar::stamp_registrar(unsigned fail_one_in, unsigned seed)
    : capture_(read_stamps), fail_one_in_(fail_one_in), rng_(seed) {}

stamp_registrar::stamp_registrar(capture_fn capture, bool refuse_zero)
    : capture_(std::move(capture)), refuse_zero_(refuse_zero), rng_(1) {}

umn_registrar stamp_registrar::registrar() {
    return umn_registrar{this, reg, dereg};
}

int stamp_registrar::injected_error() {
    if (fail_one_in_ == 0 || rng_() % fail_one_in_ != 0) return 0;
    ++counts_.injected;
    static const int errors[] = {-ENOMEM, -EAGAIN, -EFAULT};
    return errors[rng_() % 3];
}

int stamp_registrar::reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    auto *self = static_cast<stamp_registrar *>(ctx);
    // Capture first, outside the lock: what the device would pin.
    record r{reinterpret_cast<uintptr_t>(addr), len, self->capture_(addr, len)};
    std::lock_guard g(self->lock_);
    if (int rc = self->injected_error()) return rc;
    for (uint64_t s : r.stamps) {
        if (s == 0 && self->refuse_zero_) {
            ++self->counts_.refused;
            return -EAGAIN;
        }
    }
    *handle = self->next_handle_++;
    self->live_.emplace(*handle, std::move(r));
    ++self->counts_.regs;
    return 0;
}

void stamp_registrar::dereg(void *ctx, void *addr, size_t len, uint64_t handle) {
    auto *self = static_cast<stamp_registrar *>(ctx);
    std::lock_guard g(self->lock_);
    auto it = self->live_.find(handle);
    if (it == self->live_.end() || it->second.start != reinterpret_cast<uintptr_t>(addr) ||
        it->second.len != len) {
        ++self->counts_.bad_deregs;
        return;
    }
    self->live_.erase(it);
    ++self->counts_.deregs;
}

uint64_t stamp_registrar::captured(uint64_t handle, const void *addr) const {
    std::lock_guard g(lock_);
    auto it = live_.find(handle);
    if (it == live_.end()) return 0;
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    if (a < it->second.start || a >= it->second.start + it->second.len) return 0;
    return it->second.stamps[(a - it->second.start) / page()];
}

registrar_counts stamp_registrar::counts() const {
    std::lock_guard g(lock_);
    return counts_;
}

size_t stamp_registrar::live() const {
    std::lock_guard g(lock_);
    return live_.size();
}

}  // namespace umn::reliability
