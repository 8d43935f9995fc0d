/* SPDX-License-Identifier: MIT */
/*
 * Region geometry: the single function that turns parameters into offsets.
 * Creation writes its result into the header; attach recomputes it from the
 * header's parameters and requires every stored offset to match, so a peer
 * cannot describe a layout the library would not itself have produced.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int check_ring(const char *what, uint32_t n)
{
	if (!is_pow2(n) || n < XIO_MIN_RING_ENTRIES ||
	    n > XIO_MAX_RING_ENTRIES) {
		pr_warn("xio: %s %u: must be a power of two in [%u, %u]\n",
			what, n, XIO_MIN_RING_ENTRIES, XIO_MAX_RING_ENTRIES);
		return -EINVAL;
	}
	return 0;
}

int xio_layout_compute(const struct xio_params *p, struct xio_layout *out)
{
	struct xio_layout l;
	uint64_t qp_bytes;

	if (!p || !out)
		return -EINVAL;
	memset(&l, 0, sizeof(l));
	l.nr_qpairs = p->nr_qpairs ? p->nr_qpairs : 1;
	l.sq_entries = p->sq_entries ? p->sq_entries : 256;
	l.cq_entries = p->cq_entries ? p->cq_entries : 2 * l.sq_entries;
	l.buf_size = p->buf_size ? p->buf_size : 4096;
	l.nr_bufs = p->nr_bufs ? p->nr_bufs : l.sq_entries;

	if (l.nr_qpairs > XIO_MAX_QPAIRS) {
		pr_warn("xio: nr_qpairs %u: at most %u\n", l.nr_qpairs,
			XIO_MAX_QPAIRS);
		return -EINVAL;
	}
	if (check_ring("sq_entries", l.sq_entries) ||
	    check_ring("cq_entries", l.cq_entries))
		return -EINVAL;
	if (l.cq_entries < l.sq_entries) {
		/* Each SQE needs a CQ slot while it is in flight. */
		pr_warn("xio: cq_entries %u: must be >= sq_entries %u\n",
			l.cq_entries, l.sq_entries);
		return -EINVAL;
	}
	if (l.buf_size < XIO_MIN_BUF_SIZE || l.buf_size > XIO_MAX_BUF_SIZE ||
	    l.buf_size % 64) {
		pr_warn("xio: buf_size %u: must be a multiple of 64 in [%u, %u]\n",
			l.buf_size, XIO_MIN_BUF_SIZE, XIO_MAX_BUF_SIZE);
		return -EINVAL;
	}
	if (l.nr_bufs > XIO_MAX_BUFS) {
		pr_warn("xio: nr_bufs %u: at most %u\n", l.nr_bufs,
			XIO_MAX_BUFS);
		return -EINVAL;
	}

	/* All products below fit in 64 bits thanks to the limits above. */
	l.sq_ctrl_off = 0;
	l.sqes_off = sizeof(struct xio_sq_ctrl);
	l.cq_ctrl_off =
		align_up(l.sqes_off + (uint64_t)l.sq_entries * XIO_SQE_SIZE,
			 XIO_BLOCK_SIZE);
	l.cqes_off = l.cq_ctrl_off + sizeof(struct xio_cq_ctrl);
	qp_bytes = l.cqes_off + (uint64_t)l.cq_entries * XIO_CQE_SIZE;
	l.qp_stride = align_up(qp_bytes, XIO_PAGE_SIZE);
	l.qp_off = XIO_REGION_HDR_SIZE;
	l.pool_off = l.qp_off + (uint64_t)l.nr_qpairs * l.qp_stride;
	l.pool_size = (uint64_t)l.nr_bufs * l.buf_size;
	l.min_region_size = align_up(l.pool_off + l.pool_size, XIO_PAGE_SIZE);
	if (l.min_region_size > XIO_MAX_REGION_SIZE) {
		pr_warn("xio: region of %llu bytes: at most %llu\n",
			(unsigned long long)l.min_region_size,
			(unsigned long long)XIO_MAX_REGION_SIZE);
		return -EINVAL;
	}
	*out = l;
	return 0;
}
