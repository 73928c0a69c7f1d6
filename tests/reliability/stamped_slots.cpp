// SPDX-License-Identifier: BSD-3-Clause
// Memory order: replace() writes the stamp into the new mapping, then stores
// the version with release; getters load the version with acquire before
// their lookup. The invalidating call (munmap & co.) returns before the
// release store, so by the no-stale-window promise the generation moved
// before any getter can observe the new version.
#include "stamped_slots.hpp"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

namespace umn::reliability {

namespace {

size_t page() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

constexpr int anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
constexpr int rw = PROT_READ | PROT_WRITE;

void write_stamp(char *addr, uint64_t stamp) {
    __atomic_store_n(reinterpret_cast<uint64_t *>(addr), stamp, __ATOMIC_RELAXED);
}

}  // namespace

stamped_slots::stamped_slots(size_t count) : count_(count), slots_(new slot_state[count]) {
    void *p = mmap(nullptr, count * page(), rw, anon, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char *>(p);
    for (size_t i = 0; i < count; ++i) {
        slots_[i].version.store(i + 1, std::memory_order_relaxed);
        write_stamp(addr(i), i + 1);
    }
}

stamped_slots::~stamped_slots() {
    if (base_) munmap(base_, count_ * page());
}

char *stamped_slots::addr(size_t slot) const {
    return base_ + slot * page();
}

uint64_t stamped_slots::version(size_t slot) const {
    return slots_[slot].version.load(std::memory_order_acquire);
}

void stamped_slots::publish(size_t slot, uint64_t stamp) {
    slots_[slot].version.store(stamp, std::memory_order_release);
    replacements_.fetch_add(1, std::memory_order_relaxed);
}

bool stamped_slots::replace(size_t slot, std::mt19937 &rng, unsigned kinds) {
    if (!remap(slot, rng, kinds)) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    return true;
}

bool stamped_slots::remap(size_t slot, std::mt19937 &rng, unsigned kinds) {
    char *a = addr(slot);
    const uint64_t next = slots_[slot].version.load(std::memory_order_relaxed) + count_;
    unsigned pick;
    do pick = 1u << (rng() % 4);
    while (!(kinds & pick));
    switch (pick) {
        case replace_munmap: {
            munmap(a, page());
            void *p = mmap(a, page(), rw, anon | MAP_FIXED_NOREPLACE, -1, 0);
            if (p != a) {
                if (p != MAP_FAILED) munmap(p, page());
                return false;
            }
            break;
        }
        case replace_map_fixed:
            if (mmap(a, page(), rw, anon | MAP_FIXED, -1, 0) != a) return false;
            break;
        case replace_dontneed:
            if (madvise(a, page(), MADV_DONTNEED)) return false;
            break;
        default: {  // replace_mremap
            void *p = mmap(nullptr, page(), rw, anon, -1, 0);
            if (p == MAP_FAILED) return false;
            write_stamp(static_cast<char *>(p), next);
            if (mremap(p, page(), page(), MREMAP_MAYMOVE | MREMAP_FIXED, a) != a) {
                munmap(p, page());
                return false;
            }
            break;
        }
    }
    write_stamp(a, next);
    publish(slot, next);
    return true;
}

uint64_t stamped_slots::read_stamp(const void *addr) {
    uint64_t stamp = 0;
    iovec local{&stamp, sizeof stamp};
    iovec remote{const_cast<void *>(addr), sizeof stamp};
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != sizeof stamp) return 0;
    return stamp;
}

}  // namespace umn::reliability
