/* SPDX-License-Identifier: MIT */
/*
 * Regions: creation (sealed memfd, optional hugetlb and NUMA binding) and
 * attach (from an fd or an existing mapping) with full header validation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xio/ivshmem.h>

#include "fault.h"
#include "internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define XIO_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define XIO_HUGE_PAGE_SIZE (2ULL << 20)

/* Bytes of the options struct this library knows (up to .name). */
#define XIO_OPTS_V1_SZ                                                         \
	(offsetof(struct xio_region_opts, name) + sizeof(const char *))

static int opts_check(const struct xio_region_opts *o)
{
	const char *p;
	size_t i;

	if (!o || o->sz < XIO_OPTS_V1_SZ) {
		pr_warn("xio: region opts: .sz %zu too small (set it to sizeof(struct xio_region_opts))\n",
			o ? o->sz : 0);
		return -EINVAL;
	}
	/* A newer caller's extra fields are fine only if we can ignore them. */
	p = (const char *)o;
	for (i = sizeof(*o); i < o->sz; i++) {
		if (p[i]) {
			pr_warn("xio: region opts: unknown non-zero option at byte %zu\n",
				i);
			return -EINVAL;
		}
	}
	if (o->flags & ~XIO_REGION_FLAGS_MASK) {
		pr_warn("xio: region opts: unknown flags 0x%x\n",
			o->flags & ~XIO_REGION_FLAGS_MASK);
		return -EINVAL;
	}
	return 0;
}

static int numa_node_check(int node)
{
	if (numa_available() < 0) {
		/* No NUMA support: only "node 0" describes this machine. */
		if (node == 0)
			return 0;
		pr_warn("xio: NUMA node %d: this host has no NUMA support (only node 0 is valid)\n",
			node);
		return -EINVAL;
	}
	if (node < 0 || node > numa_max_node() ||
	    !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned int)node)) {
		pr_warn("xio: NUMA node %d: not a node of this host (nodes 0-%d)\n",
			node, numa_max_node());
		return -EINVAL;
	}
	return 0;
}

/*
 * Options checked, geometry derived, NUMA node checked: what both
 * constructors need before they allocate anything.
 */
static int opts_to_layout(const struct xio_region_opts *o, struct xio_layout *l)
{
	int err = opts_check(o);

	if (err)
		return err;
	err = xio_layout_compute(&o->params, l);
	if (err)
		return err;
	if (o->flags & XIO_REGION_NUMA_BIND)
		return numa_node_check(o->numa_node);
	return 0;
}

/* Bind [addr, addr+len) to @node before any page is touched. */
static int numa_bind_range(void *addr, size_t len, int node)
{
	unsigned long mask[16] = {0};
	unsigned long bits = sizeof(mask) * 8;

	if (numa_available() < 0)
		return 0; /* node 0 checked above: nothing to bind */
	if ((unsigned long)node >= bits)
		return -EINVAL;
	mask[node / (8 * sizeof(long))] |= 1UL << (node % (8 * sizeof(long)));
	if (mbind(addr, len, MPOL_BIND, mask, bits, MPOL_MF_STRICT) < 0) {
		int err = -errno;
		pr_warn("xio: mbind to NUMA node %d: %s\n", node,
			xio_strerror(err));
		return err;
	}
	return 0;
}

static int memfd_make(const char *name, size_t size, bool huge, int *fdp)
{
	unsigned int mflags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int fd;

	if (huge)
		mflags |= MFD_HUGETLB;
	fd = XIO_FAULT_SYSCALL(XIO_FAULT_MEMFD, memfd_create(name, mflags));
	if (fd < 0)
		return -errno;
	if (XIO_FAULT_SYSCALL(XIO_FAULT_FTRUNCATE, ftruncate(fd, (off_t)size)) <
	    0) {
		int err = -errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

/*
 * Map the new memfd, bind and populate it.  Populating up front means a
 * hugetlb region without enough free pages fails here (-ENOMEM), not later
 * with a SIGBUS in the poller, and every page is placed on the node now.
 */
static int map_and_populate(int fd, size_t size,
			    const struct xio_region_opts *o, void **basep)
{
	void *base;
	int err;

	base = XIO_FAULT_MMAP_CALL(
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	if (base == MAP_FAILED)
		return -errno;
	if (o->flags & XIO_REGION_NUMA_BIND) {
		err = numa_bind_range(base, size, o->numa_node);
		if (err)
			goto fail;
	}
	if (madvise(base, size, MADV_POPULATE_WRITE) < 0) {
		err = -errno;
		if (err != -EINVAL)
			goto fail;
		/* Kernel older than 5.14: touch every page instead. */
		for (size_t off = 0; off < size; off += XIO_PAGE_SIZE)
			((volatile char *)base)[off] = 0;
	}
	*basep = base;
	return 0;
fail:
	munmap(base, size);
	return err;
}

static void header_write(struct xio_region_hdr *h, const struct xio_layout *l,
			 uint64_t size, const char *name)
{
	memset(h, 0, sizeof(*h));
	h->abi_version = XIO_ABI_VERSION;
	h->hdr_size = XIO_REGION_HDR_SIZE;
	h->region_size = size;
	h->features = 0;
	h->nr_qpairs = l->nr_qpairs;
	h->sq_entries = l->sq_entries;
	h->cq_entries = l->cq_entries;
	h->sqe_size = XIO_SQE_SIZE;
	h->cqe_size = XIO_CQE_SIZE;
	h->buf_size = l->buf_size;
	h->nr_bufs = l->nr_bufs;
	h->qp_off = l->qp_off;
	h->qp_stride = l->qp_stride;
	h->sq_ctrl_off = l->sq_ctrl_off;
	h->sqes_off = l->sqes_off;
	h->cq_ctrl_off = l->cq_ctrl_off;
	h->cqes_off = l->cqes_off;
	h->pool_off = l->pool_off;
	h->pool_size = l->pool_size;
	if (name)
		strncpy((char *)h->name, name, sizeof(h->name) - 1);
	/*
	 * The magic goes last, with release ordering: a peer that sees it
	 * (acquire) sees a complete header.
	 */
	xio_store_release(&h->magic, XIO_REGION_MAGIC);
}

static struct xio_region *region_alloc(void)
{
	struct xio_region *r = calloc(1, sizeof(*r));

	if (r)
		r->fd = -1;
	return r;
}

static int region_finish(struct xio_region *r, struct xio_region **out)
{
	int err = xio__qps_init(r);

	if (err) {
		xio_region_destroy(r);
		return err;
	}
	*out = r;
	return 0;
}

/* The power of two >= max(@size, 1 MiB) that ivshmem needs for its BAR. */
static uint64_t ivshmem_file_size(uint64_t size)
{
	uint64_t s = XIO_IVSHMEM_MIN_SIZE;

	while (s < size)
		s <<= 1;
	return s;
}

int xio_region_create(const struct xio_region_opts *o, struct xio_region **out)
{
	struct xio_layout l;
	struct xio_region *r;
	char mname[64]; /* memfd_create() refuses names over 249 bytes */
	uint64_t size;
	bool huge;
	int err;

	if (!out)
		return -EINVAL;
	err = opts_to_layout(o, &l);
	if (err)
		return err;
	r = region_alloc();
	if (!r)
		return -ENOMEM;
	snprintf(mname, sizeof(mname), "%s", o->name ? o->name : "xio");

	huge = o->flags & (XIO_REGION_HUGETLB | XIO_REGION_HUGETLB_STRICT);
	size = l.min_region_size;
	if (o->flags & XIO_REGION_POW2)
		size = ivshmem_file_size(size);
	if (size > XIO_MAX_REGION_SIZE)
		goto fail_inval;
	if (huge) {
		uint64_t hsize = (size + XIO_HUGE_PAGE_SIZE - 1) &
				 ~(XIO_HUGE_PAGE_SIZE - 1);
		uint64_t fmark = xio__fault_mark(); /* fault builds only */

		err = memfd_make(mname, hsize, true, &r->fd);
		if (!err) {
			err = map_and_populate(r->fd, hsize, o, &r->base);
			if (err) {
				close(r->fd);
				r->fd = -1;
			}
		}
		if (!err) {
			size = hsize;
			r->hugetlb = true;
		} else if (o->flags & XIO_REGION_HUGETLB_STRICT) {
			pr_warn("xio: hugetlb region of %llu bytes: %s (reserve pages in /proc/sys/vm/nr_hugepages)\n",
				(unsigned long long)hsize, xio_strerror(err));
			goto fail;
		} else {
			/* An injected failure the fallback absorbs: retried. */
			xio__fault_absorbed(fmark);
			pr_info("xio: no free huge pages for %llu bytes (%s): falling back to 4 KiB pages\n",
				(unsigned long long)hsize, xio_strerror(err));
		}
	}
	if (!r->hugetlb) {
		err = memfd_make(mname, size, false, &r->fd);
		if (err)
			goto fail;
		err = map_and_populate(r->fd, size, o, &r->base);
		if (err)
			goto fail;
	}
	r->map_len = size;
	r->owns_map = true;
	r->layout = l;
	header_write(r->base, &l, size, o->name);
	memcpy(r->name, ((struct xio_region_hdr *)r->base)->name,
	       sizeof(r->name) - 1);
	/* Sealed before anyone else can see the fd: size is fixed for good. */
	if (fcntl(r->fd, F_ADD_SEALS, XIO_SEALS) < 0) {
		err = -errno;
		pr_warn("xio: sealing the region memfd: %s\n",
			xio_strerror(err));
		goto fail;
	}
	return region_finish(r, out);
fail_inval:
	err = -EINVAL;
fail:
	xio_region_destroy(r);
	return err;
}

int xio_region_create_file(const char *path, unsigned int mode,
			   const struct xio_region_opts *o,
			   struct xio_region **out)
{
	struct xio_layout l;
	struct xio_region *r;
	uint64_t size;
	int err;

	if (!out || !path || !*path || (mode & ~07777U))
		return -EINVAL;
	err = opts_to_layout(o, &l);
	if (err)
		return err;
	if (o->flags & (XIO_REGION_HUGETLB | XIO_REGION_HUGETLB_STRICT)) {
		pr_warn("xio: %s: hugetlb flags are not supported for a region file\n",
			path);
		return -EINVAL;
	}
	size = ivshmem_file_size(l.min_region_size);
	if (size > XIO_MAX_REGION_SIZE)
		return -EINVAL;
	r = region_alloc();
	if (!r)
		return -ENOMEM;
	r->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     0600);
	if (r->fd < 0) {
		err = -errno;
		pr_warn("xio: creating region file %s: %s\n", path,
			xio_strerror(err));
		free(r);
		return err;
	}
	/* Exact bits, whatever the umask. */
	if (fchmod(r->fd, mode ? mode : 0600) < 0 ||
	    ftruncate(r->fd, (off_t)size) < 0) {
		err = -errno;
		goto fail;
	}
	/* Allocate now: a full tmpfs fails here, not with a SIGBUS later. */
	err = posix_fallocate(r->fd, 0, (off_t)size);
	if (err && err != EOPNOTSUPP && err != EINVAL) {
		err = -err;
		pr_warn("xio: region file %s: allocating %llu bytes: %s\n",
			path, (unsigned long long)size, xio_strerror(err));
		goto fail;
	}
	err = map_and_populate(r->fd, (size_t)size, o, &r->base);
	if (err)
		goto fail;
	r->map_len = (size_t)size;
	r->owns_map = true;
	r->layout = l;
	header_write(r->base, &l, size, o->name);
	memcpy(r->name, ((struct xio_region_hdr *)r->base)->name,
	       sizeof(r->name) - 1);
	/* No seals on a named file: see xio_region_file_check(). */
	err = xio__qps_init(r);
	if (err)
		goto fail;
	*out = r;
	return 0;
fail:
	unlink(path);
	xio_region_destroy(r);
	return err;
}

int xio_region_file_check(const struct xio_region *r)
{
	struct stat st;

	if (!r || r->fd < 0)
		return -EINVAL;
	if (fstat(r->fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size < r->map_len)
		return -ESTALE;
	return 0;
}

#define HDR_EXPECT(field, want)                                                \
	do {                                                                   \
		if ((uint64_t)h.field != (uint64_t)(want)) {                   \
			pr_warn("xio: region header: " #field                  \
				" is %llu, expected %llu\n",                   \
				(unsigned long long)h.field,                   \
				(unsigned long long)(want));                   \
			return -EINVAL;                                        \
		}                                                              \
	} while (0)

#define HDR_NONZERO(field)                                                     \
	do {                                                                   \
		if (!h.field) {                                                \
			pr_warn("xio: region header: " #field " is 0\n");      \
			return -EINVAL;                                        \
		}                                                              \
	} while (0)

/*
 * Validate a header copied out of shared memory against @len, the bytes we
 * may access.  Fills @l with the layout recomputed from the header's
 * parameters: only that private copy is used afterwards.
 */
static int header_validate(const void *base, size_t len, struct xio_layout *l,
			   char name[64])
{
	struct xio_region_hdr h;
	struct xio_params p;
	int err;

	if (len < sizeof(h)) {
		pr_warn("xio: region of %zu bytes is smaller than its header (%u)\n",
			len, XIO_REGION_HDR_SIZE);
		return -EINVAL;
	}
	/* One copy; the peer may change the shared header as we read it. */
	h.magic =
		xio_load_acquire(&((const struct xio_region_hdr *)base)->magic);
	memcpy((char *)&h + sizeof(h.magic),
	       (const char *)base + sizeof(h.magic),
	       sizeof(h) - sizeof(h.magic));
	if (h.magic != XIO_REGION_MAGIC) {
		pr_warn("xio: region header: bad magic 0x%016llx (expected 0x%016llx): not an xio region\n",
			(unsigned long long)h.magic,
			(unsigned long long)XIO_REGION_MAGIC);
		return -EPROTO;
	}
	if (h.abi_version != XIO_ABI_VERSION) {
		pr_warn("xio: region header: abi_version %u, this library speaks %u\n",
			h.abi_version, XIO_ABI_VERSION);
		return -EPROTO;
	}
	HDR_EXPECT(hdr_size, XIO_REGION_HDR_SIZE);
	HDR_EXPECT(sqe_size, XIO_SQE_SIZE);
	HDR_EXPECT(cqe_size, XIO_CQE_SIZE);
	if (h.features & ~XIO_FEAT_MASK) {
		pr_warn("xio: region header: unknown features 0x%x\n",
			h.features & ~XIO_FEAT_MASK);
		return -EPROTO;
	}
	/* Zero would mean "default" to the layout function: refuse it here. */
	HDR_NONZERO(nr_qpairs);
	HDR_NONZERO(sq_entries);
	HDR_NONZERO(cq_entries);
	HDR_NONZERO(buf_size);
	HDR_NONZERO(nr_bufs);
	p.nr_qpairs = h.nr_qpairs;
	p.sq_entries = h.sq_entries;
	p.cq_entries = h.cq_entries;
	p.buf_size = h.buf_size;
	p.nr_bufs = h.nr_bufs;
	err = xio_layout_compute(&p, l);
	if (err) {
		pr_warn("xio: region header: geometry rejected\n");
		return err;
	}
	HDR_EXPECT(qp_off, l->qp_off);
	HDR_EXPECT(qp_stride, l->qp_stride);
	HDR_EXPECT(sq_ctrl_off, l->sq_ctrl_off);
	HDR_EXPECT(sqes_off, l->sqes_off);
	HDR_EXPECT(cq_ctrl_off, l->cq_ctrl_off);
	HDR_EXPECT(cqes_off, l->cqes_off);
	HDR_EXPECT(pool_off, l->pool_off);
	HDR_EXPECT(pool_size, l->pool_size);
	if (h.region_size < l->min_region_size ||
	    h.region_size % XIO_PAGE_SIZE) {
		pr_warn("xio: region header: region_size %llu (needs >= %llu, page aligned)\n",
			(unsigned long long)h.region_size,
			(unsigned long long)l->min_region_size);
		return -EINVAL;
	}
	if (h.region_size > len) {
		pr_warn("xio: region header: region_size %llu exceeds the %zu bytes available\n",
			(unsigned long long)h.region_size, len);
		return -EINVAL;
	}
	memcpy(name, h.name, 63);
	name[63] = '\0';
	return 0;
}

static int seals_check(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0) {
		pr_warn("xio: region fd: cannot read seals (%s): not a sealable memfd\n",
			xio_strerror(-errno));
		return -EPERM;
	}
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW)) {
		pr_warn("xio: region fd: seals 0x%x lack F_SEAL_SHRINK|F_SEAL_GROW\n",
			seals);
		return -EPERM;
	}
	return 0;
}

int xio_region_attach_fd(int fd, unsigned int flags, struct xio_region **out)
{
	struct xio_region *r;
	struct stat st;
	void *base;
	int err;

	if (!out || fd < 0 || (flags & ~XIO_ATTACH_FLAGS_MASK))
		return -EINVAL;
	if (flags & XIO_ATTACH_REQUIRE_SEALS) {
		err = seals_check(fd);
		if (err)
			return err;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		pr_warn("xio: region fd: not a regular file or memfd\n");
		return -EINVAL;
	}
	if (st.st_size < (off_t)XIO_REGION_HDR_SIZE ||
	    (uint64_t)st.st_size > XIO_MAX_REGION_SIZE) {
		pr_warn("xio: region fd: file size %lld out of range\n",
			(long long)st.st_size);
		return -EINVAL;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	r = region_alloc();
	if (!r) {
		munmap(base, (size_t)st.st_size);
		return -ENOMEM;
	}
	r->base = base;
	r->map_len = (size_t)st.st_size;
	r->owns_map = true;
	err = header_validate(base, r->map_len, &r->layout, r->name);
	if (err) {
		xio_region_destroy(r);
		return err;
	}
	return region_finish(r, out);
}

int xio_region_attach_mem(void *base, size_t len, unsigned int flags,
			  struct xio_region **out)
{
	struct xio_region *r;
	int err;

	if (!out || !base || (flags & ~XIO_ATTACH_FLAGS_MASK))
		return -EINVAL;
	if (flags & XIO_ATTACH_REQUIRE_SEALS)
		return -EINVAL; /* a bare mapping carries no seals */
	if ((uintptr_t)base % XIO_PAGE_SIZE) {
		pr_warn("xio: region mapping at %p is not page aligned\n",
			base);
		return -EINVAL;
	}
	r = region_alloc();
	if (!r)
		return -ENOMEM;
	r->base = base;
	r->map_len = len;
	err = header_validate(base, len, &r->layout, r->name);
	if (err) {
		xio_region_destroy(r);
		return err;
	}
	return region_finish(r, out);
}

void xio_region_destroy(struct xio_region *r)
{
	if (!r)
		return;
	xio__qps_fini(r);
	free(r->free_stack);
	free(r->in_use);
	xio__ivshmem_free(r->ivshmem_info);
	if (r->owns_map && r->base)
		munmap(r->base, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int xio_region_fd(const struct xio_region *r)
{
	return r ? r->fd : -1;
}

void *xio_region_base(const struct xio_region *r)
{
	return r ? r->base : NULL;
}

size_t xio_region_size(const struct xio_region *r)
{
	return r ? r->map_len : 0;
}

const struct xio_layout *xio_region_layout(const struct xio_region *r)
{
	return r ? &r->layout : NULL;
}

const char *xio_region_name(const struct xio_region *r)
{
	return r ? r->name : NULL;
}

bool xio_region_is_hugetlb(const struct xio_region *r)
{
	return r && r->hugetlb;
}
