/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause */
/*
 * The /dev/umn ABI, shared by the kernel module (kernel/umn.c) and the
 * user-space library (src/monitor/kernel.cpp). Each open file watches the
 * address space of the process that opened it.
 *
 *   UMN_IOC_REGISTER    watch [start, start + len) under a cookie; start and
 *                       len page aligned, len > 0, no wrap, below the user
 *                       address limit (-EINVAL); a page of the range not
 *                       mapped (-EFAULT); cookie already live or undrained
 *                       (-EEXIST); more than the limit (-ENOSPC).
 *   UMN_IOC_UNREGISTER  forget a cookie, also an invalidated undrained one;
 *                       -ENOENT if unknown.
 *   UMN_IOC_SET_LIMIT   cap live plus undrained registrations; 1 to the
 *                       module parameter max_limit (-EINVAL otherwise).
 *   UMN_IOC_ABI_VERSION returns UMN_ABI_VERSION.
 *   UMN_IOC_FILE_ID     stores this open file's file_id (see the page): a
 *                       descriptor that is still the /dev/umn character
 *                       device may be another open of it.
 *   read()              moves up to count / 8 invalidated cookies (__u64) out;
 *                       each registration is reported once, then forgotten.
 *                       count < 8: -EINVAL; none waiting: blocks, or -EAGAIN
 *                       with O_NONBLOCK.
 *   poll()              readable while invalidated cookies wait.
 *   mmap()              one page at offset 0, read-only: struct umn_dev_page.
 * Every call from a process other than the opener (fd inherited across fork
 * or passed over a socket) fails with -ECHILD; the opener's mapping, inherited
 * by a child (also one made by a raw clone), shows the child another page:
 * generation ~0 (a value the opener's never reaches), file_id 0.
 */
#ifndef _UAPI_UMN_DEV_H
#define _UAPI_UMN_DEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define UMN_DEV_PATH "/dev/umn"
#define UMN_ABI_VERSION 2

struct umn_dev_register {
	__u64 start;
	__u64 len;
	__u64 cookie;
};

/*
 * The page user space maps. The generation only grows; it moves, under the
 * lock that guards the invalid list, before a cookie is linked, and before
 * the call that invalidated returns. User space reads it with an acquire
 * load.
 */
struct umn_dev_page {
	__u64 generation;
	__u64 file_id;	/* nonzero, unique among the module's open files */
};

#define UMN_IOC_MAGIC 0xB9
#define UMN_IOC_REGISTER _IOW(UMN_IOC_MAGIC, 1, struct umn_dev_register)
#define UMN_IOC_UNREGISTER _IOW(UMN_IOC_MAGIC, 2, __u64)
#define UMN_IOC_SET_LIMIT _IOW(UMN_IOC_MAGIC, 3, __u64)
#define UMN_IOC_ABI_VERSION _IO(UMN_IOC_MAGIC, 4)
#define UMN_IOC_FILE_ID _IOR(UMN_IOC_MAGIC, 5, __u64)

#endif /* _UAPI_UMN_DEV_H */
