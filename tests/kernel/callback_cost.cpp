// SPDX-License-Identifier: BSD-3-Clause
// What the /dev/umn callback adds to the calls that invalidate: the median
// time of mmap(MAP_FIXED) over one page and of madvise(MADV_DONTNEED), with
// the page unregistered, registered, and registered among N others, plus the
// REGISTER ioctl and the read() that drains one cookie. Prints a table; run
// in the VM by tests/kernel/in_vm.sh (TCG: compare rows, not absolute times).
#include "umn_dev.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

const uint64_t pg = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));

uint64_t now_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}

uint64_t median(std::vector<uint64_t> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

struct device {
    int fd = open(UMN_DEV_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    ~device() { close(fd); }
    bool add(const void *p, uint64_t len, uint64_t cookie) const {
        umn_dev_register r{reinterpret_cast<uintptr_t>(p), len, cookie};
        return ioctl(fd, UMN_IOC_REGISTER, &r) == 0;
    }
    bool drain_one() const {
        uint64_t c;
        return read(fd, &c, sizeof c) == sizeof c;
    }
};

enum class action { replace, dontneed };

// One row: median ns of the action on a touched page, registered or not.
// Returns 0 on a setup failure (printed).
uint64_t measure(action a, const device *dev, int rounds) {
    char *p = static_cast<char *>(
        mmap(nullptr, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    std::vector<uint64_t> t;
    for (int i = 0; i < rounds; ++i) {
        p[0] = 1;
        if (dev && !dev->add(p, pg, 1u << 31)) {
            fprintf(stderr, "REGISTER: %s\n", strerror(errno));
            return 0;
        }
        uint64_t t0 = now_ns();
        if (a == action::replace)
            mmap(p, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        else
            madvise(p, pg, MADV_DONTNEED);
        t.push_back(now_ns() - t0);
        if (dev && !dev->drain_one()) {
            fprintf(stderr, "the invalidation was not reported\n");
            return 0;
        }
    }
    munmap(p, pg);
    return median(t);
}

// Registers `others` single pages of a separate mapping in dev.
char *register_others(const device &dev, uint64_t others) {
    if (!others) return nullptr;
    char *area = static_cast<char *>(mmap(nullptr, others * pg, PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    for (uint64_t i = 0; i < others; ++i) dev.add(area + i * pg, pg, i);
    return area;
}

uint64_t measure_register(const device &dev, int rounds) {
    char *p = static_cast<char *>(
        mmap(nullptr, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    std::vector<uint64_t> t;
    __u64 cookie = 1u << 30;
    for (int i = 0; i < rounds; ++i) {
        uint64_t t0 = now_ns();
        dev.add(p, pg, cookie);
        t.push_back(now_ns() - t0);
        ioctl(dev.fd, UMN_IOC_UNREGISTER, &cookie);
    }
    munmap(p, pg);
    return median(t);
}

void print_row(const char *label, uint64_t replace, uint64_t dontneed) {
    printf("%-46s %10llu %10llu\n", label, static_cast<unsigned long long>(replace),
           static_cast<unsigned long long>(dontneed));
}

}  // namespace

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    printf("%-46s %10s %10s\n", "median ns per call (TCG: compare rows)", "MAP_FIXED", "DONTNEED");
    measure(action::replace, nullptr, rounds);  // warm-up
    print_row("no notifier in the process", measure(action::replace, nullptr, rounds),
              measure(action::dontneed, nullptr, rounds));
    for (uint64_t others : {0ull, 1000ull, 100000ull}) {
        device dev;
        if (dev.fd < 0) {
            perror(UMN_DEV_PATH);
            return 1;
        }
        char *area = register_others(dev, others);
        char label[64];
        snprintf(label, sizeof label, "%llu other registrations, page not registered",
                 static_cast<unsigned long long>(others));
        print_row(label, measure(action::replace, nullptr, rounds),
                  measure(action::dontneed, nullptr, rounds));
        snprintf(label, sizeof label, "%llu other registrations, page registered",
                 static_cast<unsigned long long>(others));
        uint64_t replace = measure(action::replace, &dev, rounds);
        uint64_t dontneed = measure(action::dontneed, &dev, rounds);
        if (!replace || !dontneed) return 1;
        print_row(label, replace, dontneed);
        printf("%-46s %10llu\n", "  REGISTER ioctl",
               static_cast<unsigned long long>(measure_register(dev, rounds)));
        if (area) munmap(area, others * pg);
    }
    return 0;
}
