// SPDX-License-Identifier: BSD-3-Clause
// Which pages a mapping call changes (see hooks_ranges.hpp). Runs inside
// hooked libc calls: raw system calls and stack buffers only.
#include "monitor/hooks_ranges.hpp"

#include "os/mman_compat.hpp"
#include "os/raw_syscall.hpp"
#include "os/sys.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>

namespace umn::hook_ranges {

namespace {

uintptr_t page_mask() {
    return ~(static_cast<uintptr_t>(sys::page_size()) - 1);
}

uintptr_t page_ceil(uintptr_t a) {
    const uintptr_t mask = page_mask();
    uintptr_t up = (a + ~mask) & mask;
    return up < a ? mask : up;
}

range pages_of(long addr, long len) {
    auto start = static_cast<uintptr_t>(addr), size = static_cast<uintptr_t>(len);
    uintptr_t end = start + size < start ? page_mask() : page_ceil(start + size);
    return {start & page_mask(), end};
}

// The kernel's break, not libc's __curbrk: the call may come through
// syscall() from code that keeps its own.
uintptr_t current_break() {
    return static_cast<uintptr_t>(sys::raw_syscall3(SYS_brk, 0, 0, 0));
}

// The pages between a lower break `wanted` and the `current` one.
int shrink_to(uintptr_t wanted, uintptr_t current, range *out) {
    if (wanted >= current) return 0;
    out[0] = {page_ceil(wanted), page_ceil(current)};
    return out[0].start < out[0].end;
}

int sbrk_ranges(const long *a, range *out) {
    if (a[0] >= 0) return 0;
    const uintptr_t current = current_break();
    return shrink_to(current + static_cast<uintptr_t>(a[0]), current, out);
}

int brk_ranges(const long *a, range *out) {
    auto wanted = static_cast<uintptr_t>(a[0]);
    return wanted ? shrink_to(wanted, current_break(), out) : 0;
}

int mremap_ranges(const long *a, range *out) {
    const long flags = a[3];
    int n = 0;
    if (flags & MREMAP_FIXED) out[n++] = pages_of(a[4], a[2]);  // the target is unmapped first
    if (flags & (MREMAP_MAYMOVE | MREMAP_FIXED)) {
        out[n++] = pages_of(a[0], a[1]);
    } else if (a[2] < a[1]) {
        const auto kept = static_cast<long>(page_ceil(static_cast<uintptr_t>(a[2])));
        out[n++] = pages_of(a[0] + kept, a[1] - kept);
    }
    return n;
}

int shmat_ranges(const long *a, range *out) {
    if (!(a[2] & SHM_REMAP) || !a[1]) return 0;
    struct shmid_ds ds;
    if (sys::raw_failed(sys::raw_syscall3(SYS_shmctl, a[0], IPC_STAT, reinterpret_cast<long>(&ds))))
        return 0;  // the call itself will fail: nothing to invalidate
    auto at = static_cast<uintptr_t>(a[1]);
    if (a[2] & SHM_RND) at &= page_mask();  // SHMLBA is the page size on x86-64
    out[0] = pages_of(static_cast<long>(at), static_cast<long>(ds.shm_segsz));
    return 1;
}

// shmdt(addr) detaches the segment attached at addr.
int shmdt_ranges(const long *a, range *out) {
    long fd = sys::raw_syscall3(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/maps"),
                                O_RDONLY | O_CLOEXEC);
    if (sys::raw_failed(fd)) return 0;
    bool found = segment_at(static_cast<int>(fd), static_cast<uintptr_t>(a[0]), out);
    sys::raw_syscall3(SYS_close, fd, 0, 0);
    return found;
}

long raw_getpid() {
    return sys::raw_syscall3(SYS_getpid, 0, 0, 0);
}

// Whether the pidfd `fd` refers to this process.
bool pidfd_is_self(long fd) {
    char path[40] = "/proc/self/fdinfo/";
    char digits[20];
    int n = 0;
    for (auto v = static_cast<unsigned long>(fd); n == 0 || v; v /= 10) digits[n++] = '0' + v % 10;
    char *p = path + std::strlen(path);
    while (n) *p++ = digits[--n];
    *p = 0;
    long info =
        sys::raw_syscall3(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC);
    if (sys::raw_failed(info)) return fd >= 0;  // cannot tell: take it as ours
    bool self = fdinfo_names_pid(static_cast<int>(info), raw_getpid());
    sys::raw_syscall3(SYS_close, info, 0, 0);
    return self;
}

// Adds `r` to out[0..*n); past max_ranges, grows the last range to cover it.
void add_range(range r, range *out, int *n) {
    if (r.start >= r.end) return;
    if (*n < max_ranges) {
        out[(*n)++] = r;
        return;
    }
    range &last = out[max_ranges - 1];
    if (r.start < last.start) last.start = r.start;
    if (r.end > last.end) last.end = r.end;
}

// The pages of `count` iovecs at `iov` in this process. The array is copied
// with process_vm_readv: a bad pointer fails that call (the application's
// call then fails with EFAULT too) instead of faulting in the hook.
int iovec_ranges(long iov, long count, range *out) {
    int n = 0;
    iovec chunk[16];
    for (long done = 0; done < count;) {
        const long k = count - done < 16 ? count - done : 16;
        iovec local{chunk, static_cast<size_t>(k) * sizeof(iovec)};
        iovec remote{reinterpret_cast<void *>(iov + done * static_cast<long>(sizeof(iovec))),
                     local.iov_len};
        long got =
            sys::raw_syscall6(SYS_process_vm_readv, raw_getpid(), reinterpret_cast<long>(&local), 1,
                              reinterpret_cast<long>(&remote), 1, 0);
        if (got == -EFAULT || (got >= 0 && got != static_cast<long>(local.iov_len)))
            break;  // the array is bad: the call fails without changing anything
        if (sys::raw_failed(got)) {
            // Refused (a seccomp filter, no process_vm_readv): the ranges
            // are unknown, so everything counts as changed.
            add_range({0, page_mask()}, out, &n);
            break;
        }
        for (long i = 0; i < k; ++i)
            add_range(pages_of(reinterpret_cast<long>(chunk[i].iov_base),
                               static_cast<long>(chunk[i].iov_len)),
                      out, &n);
        done += k;
    }
    return n;
}

// process_madvise(pidfd, iovec, count, advice, flags): only advice that
// discards, given to this process, changes our pages.
int process_madvise_ranges(const long *a, range *out) {
    if (!discards_pages(a[3]) || !pidfd_is_self(a[0])) return 0;
    return iovec_ranges(a[1], a[2], out);
}

// Follows maps lines one at a time for segment_at.
struct segment_scan {
    uintptr_t addr;
    range *out;
    unsigned long inode = 0;
    bool found = false;
    bool done = false;

    void line(const char *begin, const char *end) {
        uintptr_t s, e;
        unsigned long ino;
        if (!parse_maps_line(begin, end, &s, &e, &ino)) return;
        if (!found && s == addr) {
            found = true;
            inode = ino;
            *out = {s, e};
        } else if (found) {
            if (s == out->end && ino == inode)
                out->end = e;
            else
                done = true;
        }
    }
};

}  // namespace

bool discards_pages(long advice) {
    switch (advice) {
        case MADV_DONTNEED:
        case MADV_FREE:
        case MADV_REMOVE:
        case MADV_DONTNEED_LOCKED:
        case MADV_PAGEOUT:
        case MADV_COLLAPSE:
        case MADV_HWPOISON:
        case MADV_SOFT_OFFLINE:
        case MADV_POPULATE_WRITE:  // breaks copy-on-write sharing, as a write would
        case MADV_GUARD_INSTALL:   // zaps the pages
        case MADV_GUARD_REMOVE:    // the next touch maps fresh pages
            return true;
        default:
            return false;
    }
}

bool parse_maps_line(const char *line, const char *stop, uintptr_t *start, uintptr_t *end,
                     unsigned long *inode) {
    auto hex = [&](const char *&p, uintptr_t *out) {
        uintptr_t v = 0;
        const char *begin = p;
        for (; p < stop; ++p) {
            int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
            if (d < 0) break;
            v = v * 16 + static_cast<uintptr_t>(d);
        }
        *out = v;
        return p > begin;
    };
    const char *p = line;
    if (!hex(p, start) || p >= stop || *p++ != '-' || !hex(p, end)) return false;
    for (int field = 0; field < 3; ++field) {  // perms, offset, device
        while (p < stop && *p == ' ') ++p;
        while (p < stop && *p != ' ') ++p;
    }
    while (p < stop && *p == ' ') ++p;
    unsigned long v = 0;
    for (; p < stop && *p >= '0' && *p <= '9'; ++p)
        v = v * 10 + static_cast<unsigned long>(*p - '0');
    *inode = v;
    return true;
}

bool fdinfo_names_pid(int fd, long pid) {
    char buf[512];
    size_t have = 0;
    for (long got; have < sizeof buf - 1; have += static_cast<size_t>(got)) {
        got = sys::raw_syscall3(SYS_read, fd, reinterpret_cast<long>(buf + have),
                                static_cast<long>(sizeof buf - 1 - have));
        if (sys::raw_failed(got)) return true;  // cannot tell: take it as ours
        if (got == 0) break;
    }
    buf[have] = 0;
    const char *line = buf;
    while (line && std::strncmp(line, "Pid:", 4) != 0) {
        line = std::strchr(line, '\n');
        if (line) ++line;
    }
    if (!line) return false;
    const char *p = line + 4;
    while (*p == ' ' || *p == '\t') ++p;
    if (*p < '0' || *p > '9') return false;  // "-1": the process is gone
    long v = 0;
    for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + (*p - '0');
    return v == pid;
}

bool segment_at(int fd, uintptr_t addr, range *out) {
    segment_scan scan{addr, out};
    char buf[2048];
    size_t have = 0;
    while (!scan.done) {
        long got = sys::raw_syscall3(SYS_read, fd, reinterpret_cast<long>(buf + have),
                                     static_cast<long>(sizeof buf - have));
        if (got <= 0) break;
        have += static_cast<size_t>(got);
        char *line = buf, *nl;
        while (!scan.done &&
               (nl = static_cast<char *>(std::memchr(line, '\n', have - (line - buf))))) {
            scan.line(line, nl);
            line = nl + 1;
        }
        have -= static_cast<size_t>(line - buf);
        std::memmove(buf, line, have);
        if (have == sizeof buf) have = 0;  // an absurdly long line: skip it
    }
    return scan.found;
}

int affected(long nr, const long *a, range *out) {
    switch (nr) {
        case SYS_munmap:
            out[0] = pages_of(a[0], a[1]);
            return 1;
        case SYS_mmap:
            if (!(a[3] & MAP_FIXED)) return 0;
            out[0] = pages_of(a[0], a[1]);
            return 1;
        case SYS_mremap:
            return mremap_ranges(a, out);
        case SYS_madvise:
            if (!discards_pages(a[2])) return 0;
            out[0] = pages_of(a[0], a[1]);
            return 1;
        case SYS_brk:
            return brk_ranges(a, out);
        case sbrk_call:
            return sbrk_ranges(a, out);
        case SYS_shmat:
            return shmat_ranges(a, out);
        case SYS_shmdt:
            return shmdt_ranges(a, out);
        case SYS_process_madvise:
            return process_madvise_ranges(a, out);
        case SYS_remap_file_pages:  // replaces the pages' mapping in place
            out[0] = pages_of(a[0], a[1]);
            return 1;
        default:
            return 0;
    }
}

}  // namespace umn::hook_ranges
