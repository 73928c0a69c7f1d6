// SPDX-License-Identifier: GPL-2.0
/*
 * umn: tells a process, before munmap, madvise, a copy-on-write fault or a
 * page migration returns, that a range of its address space it registered
 * has changed. The ABI is uapi/umn_dev.h; the design is docs/kernel.md.
 *
 * Locking and context rules
 *   update (mutex)    serializes what callers of one file do: register,
 *                     unregister, set-limit, read, release. Held across
 *                     mmu_interval_notifier_insert/remove (both may sleep)
 *                     and copy_to_user. Never taken by the callback.
 *   lock (spinlock)   guards the invalid list, each registration's invalid
 *                     flag, the generation and the released flag. Taken by
 *                     umn_invalidate(), which runs in whatever task changes
 *                     the mm (munmap, a COW fault, migration, reclaim, the
 *                     oom reaper with a non-blockable range): nothing under
 *                     it sleeps or allocates. Order: update -> lock.
 *   by_cookie, count, limit: under update only.
 *
 * Lifetime: a registration is created by REGISTER and freed by UNREGISTER, by
 * the read() that reports it, or by release. Each of these first marks it
 * invalid under lock (so no callback links it again), then calls
 * mmu_interval_notifier_remove(), which returns only once no callback for it
 * runs anywhere. The callback never removes or frees anything. release sets
 * released under lock before freeing, so a callback still running for a
 * registration not yet removed touches no freed list node.
 *
 * Generation: the callback runs before the pages are unmapped or replaced and
 * in the task doing it, so when munmap (or the fault) returns the generation
 * has moved; there is no deferred work. It is stored with release semantics
 * before the registration is linked, both under lock; read() takes lock, so
 * whoever saw the generation move finds the cookie.
 *
 * Mapping: the generation page is handed out by the fault handler, never
 * inserted at mmap, so fork copies no entry for it; a child faulting on the
 * inherited mapping gets umn_foreign_page (generation ~0) instead.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/rbtree.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/wait.h>

#include "uapi/umn_dev.h"

/* From Kbuild (CMake's project VERSION through dkms.conf or the test build). */
#ifndef UMN_VERSION
#error "UMN_VERSION is not set: build with kernel/Makefile or Kbuild"
#endif
#define UMN_READ_BATCH 32

static unsigned long max_limit = 1UL << 22;
module_param(max_limit, ulong, 0444);
MODULE_PARM_DESC(max_limit, "Largest registration limit one open file may set");

static unsigned long default_limit = 1UL << 20;
module_param(default_limit, ulong, 0444);
MODULE_PARM_DESC(default_limit, "Registration limit of a newly opened file");

struct umn_file {
	struct mm_struct *mm;		/* the opener's, pinned by mmgrab */
	struct page *page;		/* holds struct umn_dev_page */
	struct umn_dev_page *shared;	/* page_address(page) */
	struct mutex update;
	struct rb_root by_cookie;
	u64 count;			/* live plus undrained registrations */
	u64 limit;
	spinlock_t lock;		/* invalid, released, generation */
	struct list_head invalid;
	bool released;
	wait_queue_head_t wait;
};

struct umn_reg {
	struct mmu_interval_notifier notifier;
	struct umn_file *file;
	struct rb_node by_cookie;
	struct list_head invalid_link;	/* on file->invalid, under lock */
	u64 cookie;
	bool invalid;			/* under lock: never linked again */
};

/* Own caches: a leak shows when rmmod destroys them. */
static struct kmem_cache *umn_file_cache;
static struct kmem_cache *umn_reg_cache;
/* What a process other than the opener sees through an inherited mapping. */
static struct page *umn_foreign_page;
static atomic64_t umn_last_file_id = ATOMIC64_INIT(0);

/* Protection changes (mprotect, fork write-protecting the parent) and
 * soft-dirty tracking keep the pages: not invalidations.
 */
static bool umn_event_changes_pages(enum mmu_notifier_event event)
{
	switch (event) {
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		return false;
	default:
		return true;
	}
}

static bool umn_invalidate(struct mmu_interval_notifier *notifier,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	struct umn_reg *reg = container_of(notifier, struct umn_reg, notifier);
	struct umn_file *file = reg->file;
	bool linked = false;

	/* mmu_notifier.h asks this of every mmu_interval_read_begin() user. */
	mmu_interval_set_seq(notifier, cur_seq);
	if (!umn_event_changes_pages(range->event))
		return true;
	spin_lock(&file->lock);
	/* The mm is going away (exit, exec): nobody can look any more. */
	if (range->event == MMU_NOTIFY_RELEASE)
		file->released = true;
	if (!file->released && !reg->invalid) {
		reg->invalid = true;
		/* Pairs with the user's acquire load of the generation. */
		smp_store_release(&file->shared->generation,
				  file->shared->generation + 1);
		list_add_tail(&reg->invalid_link, &file->invalid);
		linked = true;
	}
	spin_unlock(&file->lock);
	if (linked)
		wake_up_interruptible_poll(&file->wait, EPOLLIN | EPOLLRDNORM);
	return true;
}

static const struct mmu_interval_notifier_ops umn_notifier_ops = {
	.invalidate = umn_invalidate,
};

static struct umn_reg *umn_find(struct umn_file *file, u64 cookie)
{
	struct rb_node *node = file->by_cookie.rb_node;

	lockdep_assert_held(&file->update);
	while (node) {
		struct umn_reg *reg = rb_entry(node, struct umn_reg, by_cookie);

		if (cookie < reg->cookie)
			node = node->rb_left;
		else if (cookie > reg->cookie)
			node = node->rb_right;
		else
			return reg;
	}
	return NULL;
}

static void umn_link_cookie(struct umn_file *file, struct umn_reg *reg)
{
	struct rb_node **link = &file->by_cookie.rb_node, *parent = NULL;

	lockdep_assert_held(&file->update);
	while (*link) {
		struct umn_reg *other = rb_entry(*link, struct umn_reg, by_cookie);

		parent = *link;
		if (reg->cookie < other->cookie)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&reg->by_cookie, parent, link);
	rb_insert_color(&reg->by_cookie, &file->by_cookie);
}

/* Takes reg off every list and frees it. Caller holds update. */
static void umn_forget(struct umn_file *file, struct umn_reg *reg)
{
	lockdep_assert_held(&file->update);
	spin_lock(&file->lock);
	if (!list_empty(&reg->invalid_link))
		list_del_init(&reg->invalid_link);
	reg->invalid = true;
	spin_unlock(&file->lock);
	rb_erase(&reg->by_cookie, &file->by_cookie);
	file->count--;
	mmu_interval_notifier_remove(&reg->notifier);
	kmem_cache_free(umn_reg_cache, reg);
}

/* Whether every page of [start, end) belongs to a VMA. mmap_lock held. */
static bool umn_range_mapped(struct mm_struct *mm, unsigned long start,
			     unsigned long end)
{
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	while (start < end) {
		vma = find_vma(mm, start);
		if (!vma || vma->vm_start > start)
			return false;
		start = vma->vm_end;
	}
	return true;
}

/*
 * Inserts reg over [start, start + len) if all of it is mapped: a hole would
 * be watched by nobody once something is mapped there. Checked and inserted
 * under one mmap_lock hold, so no munmap slips in between.
 */
static int umn_insert(struct umn_file *file, struct umn_reg *reg,
		      unsigned long start, unsigned long len)
{
	int ret = -EFAULT;

	lockdep_assert_held(&file->update);
	mmap_write_lock(file->mm);
	if (umn_range_mapped(file->mm, start, start + len))
		ret = mmu_interval_notifier_insert_locked(&reg->notifier,
							  file->mm, start, len,
							  &umn_notifier_ops);
	mmap_write_unlock(file->mm);
	return ret;
}

static int umn_check_range(const struct umn_dev_register *arg)
{
	if (!arg->len || !PAGE_ALIGNED(arg->start) || !PAGE_ALIGNED(arg->len))
		return -EINVAL;
	if (arg->len > TASK_SIZE || arg->start > TASK_SIZE - arg->len)
		return -EINVAL;
	return 0;
}

static long umn_register(struct umn_file *file, void __user *argp)
{
	struct umn_dev_register arg;
	struct umn_reg *reg;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	ret = umn_check_range(&arg);
	if (ret)
		return ret;
	reg = kmem_cache_zalloc(umn_reg_cache, GFP_KERNEL_ACCOUNT);
	if (!reg)
		return -ENOMEM;
	reg->file = file;
	reg->cookie = arg.cookie;
	INIT_LIST_HEAD(&reg->invalid_link);

	mutex_lock(&file->update);
	if (umn_find(file, arg.cookie))
		ret = -EEXIST;
	else if (file->count >= file->limit)
		ret = -ENOSPC;
	else
		ret = umn_insert(file, reg, arg.start, arg.len);
	if (!ret) {
		umn_link_cookie(file, reg);
		file->count++;
		/*
		 * An invalidation already running when we were inserted does
		 * not call us; wait for it so that the pages are final when
		 * REGISTER returns and every later change fires.
		 */
		mmu_interval_read_begin(&reg->notifier);
	}
	mutex_unlock(&file->update);
	if (ret)
		kmem_cache_free(umn_reg_cache, reg);
	return ret;
}

static long umn_unregister(struct umn_file *file, u64 cookie)
{
	struct umn_reg *reg;
	long ret = 0;

	mutex_lock(&file->update);
	reg = umn_find(file, cookie);
	if (reg)
		umn_forget(file, reg);
	else
		ret = -ENOENT;
	mutex_unlock(&file->update);
	return ret;
}

static long umn_set_limit(struct umn_file *file, u64 limit)
{
	if (!limit || limit > max_limit)
		return -EINVAL;
	mutex_lock(&file->update);
	file->limit = limit;
	mutex_unlock(&file->update);
	return 0;
}

static long umn_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct umn_file *file = filp->private_data;
	void __user *argp = (void __user *)arg;
	u64 value;

	if (current->mm != file->mm)
		return -ECHILD;
	switch (cmd) {
	case UMN_IOC_REGISTER:
		return umn_register(file, argp);
	case UMN_IOC_UNREGISTER:
		if (get_user(value, (u64 __user *)argp))
			return -EFAULT;
		return umn_unregister(file, value);
	case UMN_IOC_SET_LIMIT:
		if (get_user(value, (u64 __user *)argp))
			return -EFAULT;
		return umn_set_limit(file, value);
	case UMN_IOC_ABI_VERSION:
		return UMN_ABI_VERSION;
	case UMN_IOC_FILE_ID:
		return put_user(file->shared->file_id, (u64 __user *)argp);
	default:
		return -ENOTTY;
	}
}

static bool umn_has_invalid(struct umn_file *file)
{
	bool ret;

	spin_lock(&file->lock);
	ret = !list_empty(&file->invalid);
	spin_unlock(&file->lock);
	return ret;
}

/*
 * Caller holds update. Copies up to max cookies from the head of the invalid
 * list to buf, then frees their registrations. Callbacks only append at the
 * tail and every other remover holds update, so the head entries stay put
 * while the cookies are copied without lock. Returns how many, or -EFAULT
 * with none taken.
 */
static long umn_drain_batch(struct umn_file *file, u64 __user *buf, size_t max)
{
	struct umn_reg *regs[UMN_READ_BATCH];
	u64 cookies[UMN_READ_BATCH];
	struct umn_reg *reg;
	size_t n = 0, i;

	lockdep_assert_held(&file->update);
	spin_lock(&file->lock);
	list_for_each_entry(reg, &file->invalid, invalid_link) {
		if (n == max || n == UMN_READ_BATCH)
			break;
		regs[n] = reg;
		cookies[n++] = reg->cookie;
	}
	spin_unlock(&file->lock);
	if (n && copy_to_user(buf, cookies, n * sizeof(u64)))
		return -EFAULT;
	for (i = 0; i < n; i++)
		umn_forget(file, regs[i]);
	return n;
}

static ssize_t umn_read(struct file *filp, char __user *buf, size_t count,
			loff_t *ppos)
{
	struct umn_file *file = filp->private_data;
	size_t max = count / sizeof(u64), done = 0;
	long got = 0;
	int ret;

	if (current->mm != file->mm)
		return -ECHILD;
	if (!max)
		return -EINVAL;
	for (;;) {
		if (!(filp->f_flags & O_NONBLOCK)) {
			ret = wait_event_interruptible(file->wait,
						       umn_has_invalid(file));
			if (ret)
				return ret;
		}
		mutex_lock(&file->update);
		while (done < max) {
			got = umn_drain_batch(file, (u64 __user *)buf + done,
					      max - done);
			if (got <= 0)
				break;
			done += got;
		}
		mutex_unlock(&file->update);
		if (done)
			return done * sizeof(u64);
		if (got < 0)
			return got;
		if (filp->f_flags & O_NONBLOCK)
			return -EAGAIN;
	}
}

static __poll_t umn_poll(struct file *filp, poll_table *wait)
{
	struct umn_file *file = filp->private_data;

	if (current->mm != file->mm)
		return EPOLLERR;
	poll_wait(filp, &file->wait, wait);
	return umn_has_invalid(file) ? EPOLLIN | EPOLLRDNORM : 0;
}

/*
 * Pages come in at fault time rather than at mmap, so that fork copies no
 * page table entry of this mapping: a child (also one made by a raw clone,
 * which runs no user-space fork handler) faults and gets the foreign page,
 * whose generation differs from every value the opener's took.
 */
static vm_fault_t umn_fault(struct vm_fault *vmf)
{
	struct umn_file *file = vmf->vma->vm_file->private_data;
	struct page *page = vmf->vma->vm_mm == file->mm ? file->page :
							  umn_foreign_page;

	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct umn_vm_ops = {
	.fault = umn_fault,
};

static int umn_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct umn_file *file = filp->private_data;

	if (current->mm != file->mm)
		return -ECHILD;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	/* vm_flags is read-only since 6.3: the helpers take the VMA lock. */
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYWRITE);
#else
	vma->vm_flags &= ~VM_MAYWRITE;
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
#endif
	vma->vm_ops = &umn_vm_ops;
	return 0;
}

static int umn_open(struct inode *inode, struct file *filp)
{
	struct umn_file *file;

	if (!current->mm)
		return -EINVAL;
	file = kmem_cache_zalloc(umn_file_cache, GFP_KERNEL_ACCOUNT);
	if (!file)
		return -ENOMEM;
	file->page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!file->page) {
		kmem_cache_free(umn_file_cache, file);
		return -ENOMEM;
	}
	file->shared = page_address(file->page);
	file->shared->file_id = atomic64_inc_return(&umn_last_file_id);
	file->mm = current->mm;
	mmgrab(file->mm);
	mutex_init(&file->update);
	file->by_cookie = RB_ROOT;
	file->limit = min(default_limit, max_limit);
	spin_lock_init(&file->lock);
	INIT_LIST_HEAD(&file->invalid);
	init_waitqueue_head(&file->wait);
	filp->private_data = file;
	return nonseekable_open(inode, filp);
}

static int umn_release(struct inode *inode, struct file *filp)
{
	struct umn_file *file = filp->private_data;
	struct umn_reg *reg, *next;

	spin_lock(&file->lock);
	file->released = true;
	spin_unlock(&file->lock);
	rbtree_postorder_for_each_entry_safe(reg, next, &file->by_cookie,
					     by_cookie) {
		mmu_interval_notifier_remove(&reg->notifier);
		kmem_cache_free(umn_reg_cache, reg);
	}
	put_page(file->page);
	mmdrop(file->mm);
	kmem_cache_free(umn_file_cache, file);
	return 0;
}

static const struct file_operations umn_fops = {
	.owner = THIS_MODULE,
	.open = umn_open,
	.release = umn_release,
	.read = umn_read,
	.poll = umn_poll,
	.mmap = umn_mmap,
	.unlocked_ioctl = umn_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	/* 6.12 dropped no_llseek: without .llseek, lseek fails with ESPIPE. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	.llseek = no_llseek,
#endif
};

static struct miscdevice umn_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "umn",
	.fops = &umn_fops,
	.mode = 0666,
};

static int __init umn_init(void)
{
	int ret;

	umn_file_cache = KMEM_CACHE(umn_file, SLAB_ACCOUNT);
	umn_reg_cache = KMEM_CACHE(umn_reg, SLAB_ACCOUNT);
	umn_foreign_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (umn_foreign_page)
		((struct umn_dev_page *)page_address(umn_foreign_page))->generation =
			~0ULL;
	ret = umn_file_cache && umn_reg_cache && umn_foreign_page ?
		      misc_register(&umn_device) :
		      -ENOMEM;
	if (ret) {
		if (umn_foreign_page)
			__free_page(umn_foreign_page);
		kmem_cache_destroy(umn_reg_cache);
		kmem_cache_destroy(umn_file_cache);
	}
	return ret;
}

static void __exit umn_exit(void)
{
	misc_deregister(&umn_device);
	__free_page(umn_foreign_page);
	kmem_cache_destroy(umn_reg_cache);
	kmem_cache_destroy(umn_file_cache);
}

module_init(umn_init);
module_exit(umn_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION(UMN_VERSION);
MODULE_DESCRIPTION("Tells user space when registered memory changes");
