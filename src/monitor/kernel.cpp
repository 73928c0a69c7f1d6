// SPDX-License-Identifier: BSD-3-Clause
// The kernel monitor: a thin backend over /dev/umn (kernel/umn.c). The module
// keeps the registrations, the one-shot invalid list and the generation; it
// moves the generation inside the invalidation itself, so this file adds no
// lock and no thread. umn_generation() loads from the page the module shares
// read-only (struct umn_dev_page), one acquire load that pairs with the
// module's release store under its list lock (which read() also takes, so a
// drain after a moved generation finds the cookie).
//
// The descriptor is the application's to close: a daemon's closefrom(3), then
// a pipe that takes the freed number, must not make umn read, poll or ioctl
// someone else's file. Every call first checks that the number still names
// the open file it opened (own_fd()): the same character device and inode by
// fstat (harmless on any descriptor), then the module's per-open file_id
// (another open of /dev/umn at that number has another one). Otherwise it
// fails with -EBADF and a reason; the generation page stays mapped (the
// mapping holds the file), so umn_generation() stays safe.
#include "monitor/monitor.hpp"
#include "config/options.hpp"
#include "diagnostics/reason.hpp"
#include "os/sys.hpp"

#include "umn_dev.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace umn {

namespace {

int last_error() {
    return -errno;
}

class kernel_backend final : public backend {
  public:
    ~kernel_backend() override {
        // A number no longer ours is not ours to close. Checked before the
        // unmap: own_fd() reads the page (without it, open() failed early).
        const bool ours = fd_ >= 0 && (page_ == MAP_FAILED || own_fd() == 0);
        if (page_ != MAP_FAILED) munmap(page_, sys::page_size());
        if (ours) close(fd_);
    }

    int open() {
        fd_ = ::open(UMN_DEV_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd_ < 0) return last_error();
        struct stat st;
        if (fstat(fd_, &st)) return last_error();
        dev_ = st.st_dev;
        ino_ = st.st_ino;
        rdev_ = st.st_rdev;
        int abi = ioctl(fd_, UMN_IOC_ABI_VERSION);
        if (abi < 0) return last_error();
        if (abi != UMN_ABI_VERSION) return -EPROTO;
        page_ = mmap(nullptr, sys::page_size(), PROT_READ, MAP_SHARED, fd_, 0);
        if (page_ == MAP_FAILED) return last_error();
        if (int rc = own_fd()) return rc;
        return set_limit(options().max_registrations);
    }

    int add(uintptr_t start, uintptr_t end, uint64_t cookie) override {
        if (int rc = own_fd()) return rc;
        umn_dev_register r{start, end - start, cookie};
        if (ioctl(fd_, UMN_IOC_REGISTER, &r)) return last_error();
        registrations_.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }

    int remove(uint64_t cookie) override {
        if (int rc = own_fd()) return rc;
        if (ioctl(fd_, UMN_IOC_UNREGISTER, &cookie)) return last_error();
        registrations_.fetch_sub(1, std::memory_order_relaxed);
        return 0;
    }

    long drain(uint64_t *cookies, size_t max) override {
        if (int rc = own_fd()) return rc;
        if (max > SSIZE_MAX / sizeof(uint64_t)) max = SSIZE_MAX / sizeof(uint64_t);
        ssize_t got = read(fd_, cookies, max * sizeof(uint64_t));
        if (got >= 0) {
            size_t n = static_cast<size_t>(got) / sizeof(uint64_t);
            drained_.fetch_add(n, std::memory_order_relaxed);
            registrations_.fetch_sub(n, std::memory_order_relaxed);
            return static_cast<long>(n);
        }
        return errno == EAGAIN ? 0 : last_error();
    }

    int poll_fd() override {
        if (int rc = own_fd()) return rc;
        return fd_;
    }

    int set_limit(size_t max_registrations) override {
        if (int rc = own_fd()) return rc;
        uint64_t limit = max_registrations;
        return ioctl(fd_, UMN_IOC_SET_LIMIT, &limit) ? last_error() : 0;
    }

    const uint64_t *generation() const override {
        // __u64 is unsigned long long, uint64_t unsigned long: same object.
        static_assert(sizeof(__u64) == sizeof(uint64_t) && offsetof(umn_dev_page, generation) == 0);
        return static_cast<const uint64_t *>(page_);
    }

    // The module counts nothing for us: events are generation moves, the
    // rest is what passed through this file.
    void stats(struct umn_notifier_stats *out) override {
        out->events = __atomic_load_n(generation(), __ATOMIC_RELAXED);
        out->drained = drained_.load(std::memory_order_relaxed);
        out->registrations = registrations_.load(std::memory_order_relaxed);
    }

  private:
    std::atomic<uint64_t> drained_{0};
    std::atomic<uint64_t> registrations_{0};

    const umn_dev_page *page() const { return static_cast<const umn_dev_page *>(page_); }

    // 0 if fd_ still names the file open() opened, else -EBADF with a reason.
    // fstat first: it is safe on whatever the number names now; only a
    // descriptor of this very character device is then asked for its file_id.
    int own_fd() const {
        struct stat st;
        if (fstat(fd_, &st))
            return fail(-EBADF, "the /dev/umn descriptor %d was closed by the application", fd_);
        if (!S_ISCHR(st.st_mode) || st.st_rdev != rdev_ || st.st_dev != dev_ || st.st_ino != ino_)
            return fail(-EBADF,
                        "descriptor %d is no longer /dev/umn: the application closed it and "
                        "reused the number",
                        fd_);
        __u64 id = 0;
        if (ioctl(fd_, UMN_IOC_FILE_ID, &id) || id != page()->file_id)
            return fail(-EBADF,
                        "descriptor %d is another open of /dev/umn: the application closed "
                        "this notifier's and reused the number",
                        fd_);
        return 0;
    }

    int fd_ = -1;
    void *page_ = MAP_FAILED;
    dev_t dev_ = 0;  // fstat of fd_ at open: which file the number named
    ino_t ino_ = 0;
    dev_t rdev_ = 0;
};

// The loaded module's version from sysfs, "" if unreadable.
std::string module_version() {
    std::string version;
    if (FILE *f = fopen("/sys/module/umn/version", "re")) {
        char buf[64];
        if (fgets(buf, sizeof buf, f)) version = buf;
        fclose(f);
    }
    while (!version.empty() && (version.back() == '\n' || version.back() == ' '))
        version.pop_back();
    return version;
}

}  // namespace

probe_result probe_kernel() {
    kernel_backend b;
    if (int rc = b.open()) {
        if (rc == -ENOENT)
            return {rc,
                    "module umn not loaded (" UMN_DEV_PATH ": " + std::string(strerror(-rc)) + ")"};
        if (rc == -EPROTO) return {rc, "module umn " + module_version() + " speaks another ABI"};
        return {rc, UMN_DEV_PATH ": " + std::string(strerror(-rc))};
    }
    return {0, "module umn " + module_version() + " loaded, ABI " +
                   std::to_string(UMN_ABI_VERSION) + ", " UMN_DEV_PATH};
}

std::unique_ptr<backend> open_kernel_backend(int *error) {
    std::unique_ptr<kernel_backend> b(new (std::nothrow) kernel_backend);
    *error = b ? b->open() : -ENOMEM;
    if (*error) return nullptr;
    return b;
}

}  // namespace umn
