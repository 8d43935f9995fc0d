/* SPDX-License-Identifier: MIT */
/*
 * libxio for virtual machines: a region shared with a QEMU guest through an
 * ivshmem PCI device (docs/vm.md).
 *
 *  - host side: xio_region_create_file() makes the region as a named file
 *    (typically /dev/shm/NAME) that QEMU maps as the device's memory backend:
 *
 *        -object memory-backend-file,id=m,mem-path=/dev/shm/NAME,size=S,share=on
 *        -device ivshmem-plain,memdev=m
 *
 *  - guest side: xio_ivshmem_attach() finds the ivshmem device (PCI
 *    1af4:1110) in sysfs, maps its BAR2 from user space (no guest kernel
 *    module) and attaches to the region in it.
 */
#ifndef XIO_IVSHMEM_H
#define XIO_IVSHMEM_H

#include <stdint.h>

#include <xio/xio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XIO_IVSHMEM_VENDOR 0x1af4U
#define XIO_IVSHMEM_DEVICE 0x1110U
/* ivshmem maps its memory as a PCI BAR: a power of two, at least 1 MiB. */
#define XIO_IVSHMEM_MIN_SIZE (1ULL << 20)

/* ---- host side ------------------------------------------------------- */

/*
 * Create a region as the new file @path (O_CREAT | O_EXCL: an existing file
 * is never reused) with permission bits @mode (0 means 0600; the umask does
 * not apply), sized to the smallest power of two >= max(1 MiB, the layout's
 * size), populated and with the header written (header.region_size is the
 * whole file).  The region owns the open fd (xio_region_fd(), e.g. for
 * fchown() to the user QEMU runs as) and the mapping; xio_region_destroy()
 * does NOT remove the file: unlink(@path) when the guest is gone.
 *
 * Options as xio_region_create(), except that XIO_REGION_HUGETLB and
 * XIO_REGION_HUGETLB_STRICT are refused (-EINVAL).
 *
 * Unlike a memfd, such a file CANNOT be sealed: anyone allowed to open it
 * (QEMU, its user, root) can ftruncate() it, and an access to the host's
 * mapping beyond the new end raises SIGBUS.  Keep the file owned by the
 * daemon with a tight mode where possible, treat any size change as hostile
 * (xio_region_file_check()), and re-attach only through
 * xio_region_attach_fd(), which maps no more than fstat() reports.
 *
 * Returns 0, -EINVAL (bad options or geometry, hugetlb flags, NULL or empty
 * path), -EEXIST (@path exists), -ENOSPC (tmpfs full), or another -errno of
 * open/ftruncate/fallocate/mmap.  On failure the file is removed again.
 */
int xio_region_create_file(const char *path, unsigned int mode,
			   const struct xio_region_opts *opts,
			   struct xio_region **out);

/*
 * For a region that owns an fd (xio_region_create_file(),
 * xio_region_create()): 0 while the file still covers the whole mapping,
 * -ESTALE once it was truncated (accessing the mapping may now SIGBUS: stop
 * serving the region), -EINVAL without an fd, or an fstat() -errno.
 */
int xio_region_file_check(const struct xio_region *r);

/* ---- guest side ------------------------------------------------------ */

/* xio_ivshmem_attach() flags */
#define XIO_IVSHMEM_WC (1U << 0) /* map resource2_wc (see below) */
#define XIO_IVSHMEM_FLAGS_MASK XIO_IVSHMEM_WC

/*
 * Attach to the xio region in an ivshmem device's BAR2, from inside the
 * guest.  @pci_addr names the device ("0000:00:04.0"); NULL picks the first
 * ivshmem device (in sysfs name order) whose BAR2 starts with an xio region
 * header.  The BAR is mapped through sysfs resource2, which the guest
 * kernel maps uncached: strongly ordered, so the ring protocol holds, but
 * slow wherever the hypervisor honours the guest's memory type (KVM on AMD).
 * XIO_IVSHMEM_WC maps resource2_wc (write-combining) instead, falling back
 * to resource2 when absent: faster there, but WC stores may be reordered
 * with each other, and xio_submit() does not yet fence the SQE stores
 * before its tail store (docs/vm.md): use it only to measure, or where the
 * host ignores guest PAT (Intel EPT).  Needs the right to open those files
 * (root) and sysfs mounted.  The returned region owns the mapping:
 * xio_region_destroy() unmaps it.
 *
 * The sysfs root is /sys, or $XIO_SYSFS_ROOT when set (for tests; ignored
 * in set-uid programs).
 *
 * Returns 0, -ENODEV (@pci_addr is not an ivshmem device, or has no BAR2),
 * -ENOENT (@pci_addr does not exist, or no ivshmem device holds an xio
 * region), -EINVAL (bad flags or address), the errors of
 * xio_region_attach_mem() (-EPROTO: not an xio region, ...), or the -errno
 * of open/mmap (-EACCES, -EPERM: not root, or kernel lockdown; while
 * scanning, the first such error when no device could be attached).
 */
int xio_ivshmem_attach(const char *pci_addr, unsigned int flags,
		       struct xio_region **out);

/* Where an ivshmem-attached region came from. */
struct xio_ivshmem_info {
	char pci_addr[32]; /* sysfs device name, e.g. "0000:00:04.0" */
	char resource[16]; /* "resource2_wc" or "resource2" */
	uint64_t bar_size; /* bytes mapped (the whole BAR) */
};

/* Fill @info for a region from xio_ivshmem_attach(): 0, or -EINVAL. */
int xio_ivshmem_info(const struct xio_region *r, struct xio_ivshmem_info *info);

/* ---- ivshmem-doorbell ---------------------------------------------------- */

/*
 * With QEMU's ivshmem-doorbell device connected to xiod's per-tenant
 * ivshmem-server socket (docs/vm.md), xiod is peer XIO_IVSHMEM_HOST_PEER and
 * the guest gets another id (its IVPosition register).  Queue pair i kicks
 * by writing (XIO_IVSHMEM_HOST_PEER << 16) | i to the device's Doorbell
 * register: QEMU (KVM: an ioeventfd) signals the eventfd xiod polls for
 * that queue pair, so a sleeping or parked xiod is woken exactly as a local
 * tenant's eventfd kick wakes it.
 */
#define XIO_IVSHMEM_HOST_PEER 0

/*
 * Wire every queue pair of @r (from xio_ivshmem_attach()) to the Doorbell
 * register of the same device: maps its BAR0 (sysfs resource0, uncached
 * MMIO), reads IVPosition once and installs a kick function
 * (xio_qp_set_kick_fn()) that the submit path calls only when xiod set
 * NEED_WAKEUP; xio_qp_kicks() then counts the doorbell writes.  Completions
 * are still found by polling the CQ (interrupts reach guest user space only
 * through a driver).  @flags: 0.  Calling it again returns the same id.
 *
 * Returns the guest's peer id (> 0), -ENODEV (no BAR0, or IVPosition says
 * ivshmem-plain / not connected to a server), -ERANGE (the device has fewer
 * interrupt vectors than @r has queue pairs: QEMU's vectors= must be at
 * least that), -EINVAL, or an open/mmap -errno (-EACCES: not root).
 * Unmapped by xio_region_destroy().
 */
int xio_ivshmem_doorbell(struct xio_region *r, unsigned int flags);

#ifdef __cplusplus
}
#endif
#endif /* XIO_IVSHMEM_H */
