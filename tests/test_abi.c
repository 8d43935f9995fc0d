/* SPDX-License-Identifier: MIT */
/*
 * ABI: the shared structures have the sizes and offsets docs/abi.md states,
 * and a created region's header describes exactly what xio_layout_compute()
 * derives.  (Most of this is also compile-time: abi.h static-asserts it.)
 */
#include <stddef.h>
#include <xio/xio.h>

#include "xtest.h"

int main(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	const struct xio_region_hdr *h;
	const struct xio_layout *l;
	struct xio_region *r;

	CHECK_EQ(sizeof(struct xio_sqe), 64);
	CHECK_EQ(sizeof(struct xio_cqe), 16);
	CHECK_EQ(sizeof(struct xio_region_hdr), 4096);
	CHECK_EQ(offsetof(struct xio_sq_ctrl, tail) % 128, 0);
	CHECK_EQ(offsetof(struct xio_cq_ctrl, head) % 128, 0);
	CHECK_EQ(offsetof(struct xio_sq_ctrl, flags), 256);

	o.params.nr_qpairs = 3;
	o.params.sq_entries = 64;
	o.params.buf_size = 2048;
	o.params.nr_bufs = 10;
	o.name = "abi-test";
	CHECK_EQ(xio_region_create(&o, &r), 0);
	h = xio_region_base(r);
	l = xio_region_layout(r);
	CHECK_EQ(h->magic, XIO_REGION_MAGIC);
	CHECK_EQ(h->abi_version, XIO_ABI_VERSION);
	CHECK_EQ(h->nr_qpairs, 3);
	CHECK_EQ(h->sq_entries, 64);
	CHECK_EQ(h->cq_entries, 128); /* default: twice the SQ */
	CHECK_EQ(h->nr_bufs, 10);
	CHECK_EQ(h->qp_off, l->qp_off);
	CHECK_EQ(h->qp_stride % 4096, 0);
	CHECK_EQ(h->cq_ctrl_off % 128, 0);
	CHECK_EQ(h->pool_off % 4096, 0);
	CHECK_EQ(h->pool_size, 10 * 2048);
	CHECK_EQ(h->region_size, xio_region_size(r));
	CHECK(h->pool_off + h->pool_size <= h->region_size);
	CHECK(strcmp(xio_region_name(r), "abi-test") == 0);
	/* Distinct queue pairs do not overlap and the pool follows them. */
	CHECK(l->qp_off + 3 * l->qp_stride <= l->pool_off);
	CHECK(l->cqes_off + l->cq_entries * XIO_CQE_SIZE <= l->qp_stride);
	xio_region_destroy(r);
	xio_region_destroy(NULL);
	printf("PASS test_abi\n");
	return 0;
}
