/* SPDX-License-Identifier: MIT */
/* Geometry validation: defaults, limits, and every rejected parameter. */
#include <xio/xio.h>

#include "xtest.h"

static int compute(uint32_t qp, uint32_t sq, uint32_t cq, uint32_t bs,
		   uint32_t nb)
{
	struct xio_params p = {qp, sq, cq, bs, nb};
	struct xio_layout l;

	return xio_layout_compute(&p, &l);
}

int main(void)
{
	struct xio_params p = {0};
	struct xio_layout l;

	xio_set_print(NULL); /* expected failures below print warnings */
	CHECK_EQ(xio_layout_compute(&p, &l), 0);
	CHECK_EQ(l.nr_qpairs, 1);
	CHECK_EQ(l.sq_entries, 256);
	CHECK_EQ(l.cq_entries, 512);
	CHECK_EQ(l.buf_size, 4096);
	CHECK_EQ(l.nr_bufs, 256);
	CHECK_EQ(l.min_region_size % 4096, 0);

	CHECK_EQ(compute(1, 2, 2, 64, 1), 0);
	CHECK_EQ(compute(XIO_MAX_QPAIRS, XIO_MAX_RING_ENTRIES,
			 XIO_MAX_RING_ENTRIES, XIO_MAX_BUF_SIZE, 1),
		 0);
	CHECK_EQ(compute(XIO_MAX_QPAIRS + 1, 0, 0, 0, 0), -EINVAL);
	CHECK_EQ(compute(1, 3, 0, 0, 0), -EINVAL); /* not a power of 2 */
	CHECK_EQ(compute(1, 1, 0, 0, 0), -EINVAL); /* below minimum */
	CHECK_EQ(compute(1, XIO_MAX_RING_ENTRIES * 2, 0, 0, 0), -EINVAL);
	CHECK_EQ(compute(1, 64, 32, 0, 0), -EINVAL);  /* CQ < SQ */
	CHECK_EQ(compute(1, 64, 0, 100, 0), -EINVAL); /* not 64-multiple */
	CHECK_EQ(compute(1, 64, 0, 32, 0), -EINVAL);  /* below minimum */
	CHECK_EQ(compute(1, 64, 0, XIO_MAX_BUF_SIZE + 64, 0), -EINVAL);
	CHECK_EQ(compute(1, 64, 0, 0, XIO_MAX_BUFS + 1), -EINVAL);
	/* 2^20 slots of 16 MiB = 16 TiB: beyond the region limit. */
	CHECK_EQ(compute(1, 64, 0, XIO_MAX_BUF_SIZE, XIO_MAX_BUFS), -EINVAL);
	CHECK_EQ(xio_layout_compute(NULL, &l), -EINVAL);

	/* Errors have descriptions. */
	CHECK(strlen(xio_strerror(-EPROTO)) > 0);
	CHECK(strcmp(xio_strerror(-EINVAL), xio_strerror(EINVAL)) == 0);
	CHECK(strlen(xio_strerror(-99999)) > 0);
	printf("PASS test_layout\n");
	return 0;
}
