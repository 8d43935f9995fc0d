/* SPDX-License-Identifier: MIT */
/* libxio private definitions: never installed, never part of the ABI. */
#ifndef XIO_INTERNAL_H
#define XIO_INTERNAL_H

#include <xio/xio.h>

#define XIO_COLD __attribute__((cold, noinline))
#define XIO_PRINTF(a, b) __attribute__((format(printf, a, b)))

void xio__log(enum xio_print_level level, const char *fmt, ...)
	XIO_PRINTF(2, 3);
#define pr_warn(...) xio__log(XIO_WARN, __VA_ARGS__)
#define pr_info(...) xio__log(XIO_INFO, __VA_ARGS__)
#define pr_debug(...) xio__log(XIO_DEBUG, __VA_ARGS__)

/*
 * Host view of a queue pair.  Everything the host decides with lives here, in
 * its own memory: indices it owns, the geometry it validated, its counters.
 * Shared memory is only ever read into locals through XIO_READ_ONCE / acquire
 * loads, once per use.
 */
struct xio_host_qp {
	/* shared fields (pointers computed from the private layout) */
	const struct xio_sqe *sqes;
	uint32_t *sq_khead;  /* ours */
	uint32_t *sq_ktail;  /* guest-owned: untrusted */
	uint32_t *sq_kflags; /* ours */
	uint32_t *sq_kdropped;
	struct xio_cqe *cqes;
	uint32_t *cq_ktail;	 /* ours */
	uint32_t *cq_khead;	 /* guest-owned: untrusted */
	uint32_t *cq_kflags;	 /* guest-owned: untrusted */
	uint32_t *cq_kevent_idx; /* guest-owned: untrusted */

	/* private state */
	const struct xio_layout *layout;
	uint32_t sq_mask, sq_entries;
	uint32_t cq_mask, cq_entries;
	uint32_t sq_head;	/* next entry to take */
	uint32_t sq_flags;	/* last value stored to *sq_kflags */
	uint32_t cq_tail;	/* next CQE slot to write */
	uint32_t cq_published;	/* last tail stored to *cq_ktail */
	uint32_t cq_head_cache; /* last validated guest CQ head */
	uint32_t cq_reserved;	/* slots promised to taken SQEs */
	struct xio_host_qp_stats st;
};

struct xio_region {
	void *base;
	size_t map_len; /* bytes mapped (== file size or given length) */
	int fd;		/* owned memfd, or -1 */
	bool owns_map;	/* munmap on destroy */
	bool hugetlb;
	struct xio_layout layout; /* private copy, validated */
	char name[64];

	struct xio_qp *qps;	  /* guest views, nr_qpairs */
	struct xio_host_qp *hqps; /* host views, nr_qpairs */

	/* guest pool allocator: created on first use */
	uint32_t *free_stack;
	uint32_t nr_free;
	uint8_t *in_use; /* one byte per slot */

	/* ivshmem attach (libxio/ivshmem.c): where it came from; freed */
	void *ivshmem_info;
};

/* ivshmem.c: release what xio_ivshmem_attach() keeps (NULL is fine). */
void xio__ivshmem_free(void *info);

/* Pointer to @off bytes into the region (caller has validated the offset). */
static inline void *xio__at(const struct xio_region *r, uint64_t off)
{
	return (char *)r->base + off;
}

int xio__qps_init(struct xio_region *r);
void xio__qps_fini(struct xio_region *r);
void xio__host_qp_init(struct xio_region *r, uint32_t idx,
		       struct xio_host_qp *hq);

#endif /* XIO_INTERNAL_H */
