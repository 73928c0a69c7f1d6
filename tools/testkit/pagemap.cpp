// SPDX-License-Identifier: BSD-3-Clause
#include "pagemap.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace umn::testkit {

namespace {

constexpr uint64_t present_bit = uint64_t{1} << 63;
constexpr uint64_t pfn_mask = (uint64_t{1} << 55) - 1;

size_t page() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

pagemap::pagemap() {
    fd_ = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;
    // Probe a page we own and have touched: without CAP_SYS_ADMIN the kernel
    // reports it present with frame number 0.
    static volatile char probe = 1;
    probe = 2;
    frames f = read(const_cast<char *>(&probe), 1);
    available_ = !f.empty() && f[0] != 0;
}

pagemap::~pagemap() {
    if (fd_ >= 0) close(fd_);
}

frames pagemap::read(const void *addr, size_t len) const {
    frames out;
    if (fd_ < 0 || len == 0) return out;
    uintptr_t first = reinterpret_cast<uintptr_t>(addr) / page();
    uintptr_t last = (reinterpret_cast<uintptr_t>(addr) + len - 1) / page();
    out.resize(last - first + 1);
    ssize_t want = static_cast<ssize_t>(out.size() * sizeof(uint64_t));
    off_t offset = static_cast<off_t>(first * sizeof(uint64_t));
    if (pread(fd_, out.data(), static_cast<size_t>(want), offset) != want) {
        out.assign(out.size(), 0);
        return out;
    }
    for (uint64_t &e : out) e = (e & present_bit) ? (e & pfn_mask) : 0;
    return out;
}

bool frames_changed(const frames &before, const frames &after) {
    if (before.size() != after.size()) return true;
    for (size_t i = 0; i < before.size(); ++i)
        if (before[i] != 0 && before[i] != after[i]) return true;
    return false;
}

}  // namespace umn::testkit
