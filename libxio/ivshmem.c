/* SPDX-License-Identifier: MIT */
/*
 * Guest side of the VM path: find an ivshmem PCI device in sysfs, map its
 * BAR2 (the shared memory) from user space and attach to the xio region in
 * it.  No guest kernel module: sysfs exposes every memory BAR of a PCI
 * device as the file resourceN (mapped uncached) and, for a prefetchable
 * BAR such as ivshmem's BAR2, also resourceN_wc (write-combining; opt-in,
 * see xio_ivshmem_attach() in xio/ivshmem.h).
 *
 * The host side (xio_region_create_file()) lives in region.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xio/ivshmem.h>

#include "internal.h"

/*
 * What xio_ivshmem_attach() keeps with the region (r->ivshmem_info): the
 * public info first, then the doorbell (BAR0) when one was opened.
 */
struct ivshmem_priv {
	struct xio_ivshmem_info info;
	volatile uint32_t *bar0; /* registers, or NULL */
	size_t bar0_len;
	int32_t ivposition;
	uint32_t nr_kicks;
	struct ivshmem_kick {
		volatile uint32_t *doorbell;
		uint32_t value; /* (peer << 16) | vector */
	} * kicks;
};

void xio__ivshmem_free(void *info)
{
	struct ivshmem_priv *p = info;

	if (!p)
		return;
	if (p->bar0)
		munmap((void *)p->bar0, p->bar0_len);
	free(p->kicks);
	free(p);
}

static const char *sysfs_root(void)
{
	const char *s = secure_getenv("XIO_SYSFS_ROOT");

	return s && *s ? s : "/sys";
}

/* A device name as sysfs spells it: no path separators, no dot-names. */
static bool pci_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < sizeof(((struct xio_ivshmem_info *)0)->pci_addr) &&
	       !strchr(name, '/') && name[0] != '.';
}

/* Read a small hex attribute ("0x1af4\n") of device @dev. */
static int read_hex_attr(const char *root, const char *dev, const char *attr,
			 unsigned long *val)
{
	char path[512], buf[32], *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s", root, dev,
		 attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	buf[n] = '\0';
	errno = 0;
	*val = strtoul(buf, &end, 16);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

/* 0 if @dev is an ivshmem device, -ENODEV if another device, or -errno. */
static int is_ivshmem(const char *root, const char *dev)
{
	unsigned long vendor, device;
	int err;

	err = read_hex_attr(root, dev, "vendor", &vendor);
	if (!err)
		err = read_hex_attr(root, dev, "device", &device);
	if (err)
		return err;
	if (vendor != XIO_IVSHMEM_VENDOR || device != XIO_IVSHMEM_DEVICE)
		return -ENODEV;
	return 0;
}

/* Map BAR2 of @dev whole; fills @info. */
static int map_bar2(const char *root, const char *dev, unsigned int flags,
		    struct xio_ivshmem_info *info, void **basep)
{
	static const char *const names[] = {"resource2_wc", "resource2"};
	char path[512];
	struct stat st;
	void *base;
	int fd = -1, err = -ENODEV;
	size_t i;

	for (i = (flags & XIO_IVSHMEM_WC) ? 0 : 1; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s", root,
			 dev, names[i]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			break;
		err = -errno;
		if (err != -ENOENT)
			break;
	}
	if (fd < 0) {
		if (err == -ENOENT)
			err = -ENODEV;
		pr_warn("xio: ivshmem %s: cannot open BAR2 (%s): %s\n", dev,
			path, xio_strerror(err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	/* sysfs reports the BAR's size as the file size. */
	if (st.st_size < (off_t)XIO_REGION_HDR_SIZE ||
	    (uint64_t)st.st_size > XIO_MAX_REGION_SIZE) {
		pr_warn("xio: ivshmem %s: BAR2 of %lld bytes cannot hold a region\n",
			dev, (long long)st.st_size);
		err = -EINVAL;
		goto out;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		err = -errno;
		pr_warn("xio: ivshmem %s: mmap %s: %s\n", dev, path,
			xio_strerror(err));
		goto out;
	}
	snprintf(info->pci_addr, sizeof(info->pci_addr), "%s", dev);
	snprintf(info->resource, sizeof(info->resource), "%s", names[i]);
	info->bar_size = (uint64_t)st.st_size;
	*basep = base;
	err = 0;
out:
	close(fd);
	return err;
}

/* Attach to the region in @dev's BAR2; @quiet: not an xio region is -EPROTO
 * without a message (while scanning). */
static int attach_dev(const char *root, const char *dev, unsigned int flags,
		      bool quiet, struct xio_region **out)
{
	struct ivshmem_priv *priv;
	struct xio_ivshmem_info *info;
	struct xio_region *r;
	void *base;
	int err;

	priv = calloc(1, sizeof(*priv));
	if (!priv)
		return -ENOMEM;
	info = &priv->info;
	err = map_bar2(root, dev, flags, info, &base);
	if (err) {
		free(priv);
		return err;
	}
	if (quiet &&
	    xio_load_acquire((const uint64_t *)base) != XIO_REGION_MAGIC) {
		err = -EPROTO;
		goto fail;
	}
	err = xio_region_attach_mem(base, info->bar_size, 0, &r);
	if (err)
		goto fail;
	/* The region owns the mapping from here on. */
	r->owns_map = true;
	r->ivshmem_info = priv;
	*out = r;
	return 0;
fail:
	munmap(base, info->bar_size);
	free(priv);
	return err;
}

static int scan(const char *root, unsigned int flags, struct xio_region **out)
{
	struct dirent **ents = NULL;
	char dir[512];
	int n, i, err = -ENOENT, hard = 0, found = 0;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", root);
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		err = -errno;
		pr_warn("xio: ivshmem: cannot list %s: %s (is sysfs mounted?)\n",
			dir, xio_strerror(err));
		return err;
	}
	for (i = 0; i < n; i++) {
		const char *dev = ents[i]->d_name;

		if (err != -ENOENT || !pci_name_ok(dev) ||
		    is_ivshmem(root, dev))
			continue;
		found++;
		err = attach_dev(root, dev, flags, true, out);
		if (err && err != -EPROTO && err != -ENODEV && !hard)
			hard = err; /* reported if no other device is ours */
		if (err)
			err = -ENOENT; /* not ours: keep looking */
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (err == -ENOENT) {
		pr_warn("xio: ivshmem: none of %d ivshmem device(s) under %s holds an xio region\n",
			found, dir);
		if (hard)
			err = hard;
	}
	return err;
}

int xio_ivshmem_attach(const char *pci_addr, unsigned int flags,
		       struct xio_region **out)
{
	const char *root = sysfs_root();
	int err;

	if (!out || (flags & ~XIO_IVSHMEM_FLAGS_MASK))
		return -EINVAL;
	if (!pci_addr)
		return scan(root, flags, out);
	if (!pci_name_ok(pci_addr)) {
		pr_warn("xio: ivshmem: bad PCI address \"%s\"\n", pci_addr);
		return -EINVAL;
	}
	err = is_ivshmem(root, pci_addr);
	if (err == -ENODEV)
		pr_warn("xio: ivshmem: PCI device %s is not ivshmem (%04x:%04x)\n",
			pci_addr, XIO_IVSHMEM_VENDOR, XIO_IVSHMEM_DEVICE);
	else if (err)
		pr_warn("xio: ivshmem: PCI device %s: %s\n", pci_addr,
			xio_strerror(err));
	if (err)
		return err;
	return attach_dev(root, pci_addr, flags, false, out);
}

int xio_ivshmem_info(const struct xio_region *r, struct xio_ivshmem_info *info)
{
	if (!r || !info || !r->ivshmem_info)
		return -EINVAL;
	*info = ((const struct ivshmem_priv *)r->ivshmem_info)->info;
	return 0;
}

/* ---- ivshmem-doorbell: the guest's kick as a BAR0 register write ----------- */

/* BAR0 registers (QEMU docs/specs/ivshmem-spec.rst). */
#define IVSHMEM_REG_IVPOSITION 8
#define IVSHMEM_REG_DOORBELL 12
#define IVSHMEM_BAR0_SIZE 256

/*
 * The MSI-X table size of @dev from its config space (the device's vector
 * count), or 0 when it has no MSI-X capability (msi=off) or config space
 * cannot be read.
 */
static uint32_t msix_vectors(const char *root, const char *dev)
{
	uint8_t cfg[256];
	char path[512];
	unsigned int pos, hops;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/config", root, dev);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	/* Status bit 4: a capability list at 0x34. */
	if (n < 0x40 || !(cfg[6] & 0x10))
		return 0;
	pos = cfg[0x34] & 0xfc;
	for (hops = 0; pos >= 0x40 && pos + 3 < (unsigned int)n && hops < 48;
	     hops++) {
		if (cfg[pos] == 0x11) /* MSI-X: table size - 1 in bits 0..10 */
			return ((cfg[pos + 2] | (unsigned int)cfg[pos + 3]
							<< 8) &
				0x7ff) +
			       1;
		pos = cfg[pos + 1] & 0xfc;
	}
	return 0;
}

static int doorbell_kick(void *ctx)
{
	const struct ivshmem_kick *k = ctx;

	/* One MMIO store: a VM exit that QEMU (or KVM's ioeventfd) turns
	 * into a signal on xiod's eventfd for this vector. */
	*k->doorbell = k->value;
	return 0;
}

int xio_ivshmem_doorbell(struct xio_region *r, unsigned int flags)
{
	struct ivshmem_priv *p;
	const struct xio_layout *l;
	char path[512];
	struct stat st;
	uint32_t i, vectors;
	int32_t pos;
	void *bar0;
	int fd, err;

	if (!r || !r->ivshmem_info || flags)
		return -EINVAL;
	p = r->ivshmem_info;
	if (p->bar0)
		return p->ivposition; /* already wired */
	l = xio_region_layout(r);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/resource0",
		 sysfs_root(), p->info.pci_addr);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_warn("xio: ivshmem %s: cannot open BAR0 (%s): %s\n",
			p->info.pci_addr, path, xio_strerror(err));
		return err == -ENOENT ? -ENODEV : err;
	}
	err = fstat(fd, &st) < 0 ? -errno : 0;
	if (!err && st.st_size < IVSHMEM_BAR0_SIZE)
		err = -ENODEV;
	if (err) {
		close(fd);
		return err;
	}
	bar0 = mmap(NULL, IVSHMEM_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	err = bar0 == MAP_FAILED ? -errno : 0;
	close(fd);
	if (err) {
		pr_warn("xio: ivshmem %s: mmap BAR0: %s\n", p->info.pci_addr,
			xio_strerror(err));
		return err;
	}
	/* Our peer id: what the server sent QEMU; -1 (no server) or the
	 * host's own id (ivshmem-plain reads 0) means no doorbell. */
	pos = (int32_t)((volatile uint32_t *)bar0)[IVSHMEM_REG_IVPOSITION / 4];
	if (pos <= XIO_IVSHMEM_HOST_PEER || pos > 0xffff) {
		pr_warn("xio: ivshmem %s: IVPosition %d: not an ivshmem-doorbell device connected to xiod\n",
			p->info.pci_addr, (int)pos);
		munmap(bar0, IVSHMEM_BAR0_SIZE);
		return -ENODEV;
	}
	vectors = msix_vectors(sysfs_root(), p->info.pci_addr);
	if (vectors && vectors < l->nr_qpairs) {
		pr_warn("xio: ivshmem %s: %u interrupt vectors for %u queue pairs (start QEMU with vectors=%u)\n",
			p->info.pci_addr, vectors, l->nr_qpairs, l->nr_qpairs);
		munmap(bar0, IVSHMEM_BAR0_SIZE);
		return -ERANGE;
	}
	p->kicks = calloc(l->nr_qpairs, sizeof(*p->kicks));
	if (!p->kicks) {
		munmap(bar0, IVSHMEM_BAR0_SIZE);
		return -ENOMEM;
	}
	p->bar0 = bar0;
	p->bar0_len = IVSHMEM_BAR0_SIZE;
	p->ivposition = pos;
	p->nr_kicks = l->nr_qpairs;
	for (i = 0; i < l->nr_qpairs; i++) {
		p->kicks[i].doorbell = p->bar0 + IVSHMEM_REG_DOORBELL / 4;
		p->kicks[i].value = (uint32_t)XIO_IVSHMEM_HOST_PEER << 16 | i;
		xio_qp_set_kick_fn(xio_region_qp(r, i), doorbell_kick,
				   &p->kicks[i]);
	}
	return pos;
}
