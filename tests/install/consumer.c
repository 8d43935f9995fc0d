/* SPDX-License-Identifier: MIT */
/*
 * A program outside the xio tree, built against an installed libxio (through
 * pkg-config or find_package): create a region, submit a NOP on the guest
 * face, take it on the host face, post and publish its completion, reap it.
 * Strict ISO C11: the public headers must not need GNU extensions switched
 * on by the consumer.
 */
#include <stdio.h>
#include <string.h>
#include <xio/xio.h>

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "consumer: " __VA_ARGS__);                     \
		return 1;                                                      \
	} while (0)

int main(void)
{
	struct xio_region_opts o;
	struct xio_region *r;
	struct xio_host_qp *hq;
	struct xio_qp *qp;
	struct xio_sqe *sqe, in;
	struct xio_cqe *cqe;
	uint32_t slot;
	int err;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.params.sq_entries = 8;
	o.params.nr_bufs = 4;
	o.name = "consumer";
	err = xio_region_create(&o, &r);
	if (err)
		FAIL("xio_region_create: %s\n", xio_strerror(err));
	if (strcmp(xio_region_name(r), "consumer"))
		FAIL("name %s\n", xio_region_name(r));
	qp = xio_region_qp(r, 0);
	hq = xio_region_host_qp(r, 0);
	if (!qp || !hq)
		FAIL("no queue pair 0\n");
	if (xio_buf_alloc(r, &slot) || !xio_buf_ptr(r, slot))
		FAIL("xio_buf_alloc\n");

	sqe = xio_get_sqe(qp);
	if (!sqe)
		FAIL("xio_get_sqe: SQ full\n");
	xio_prep_nop(sqe, 0xc0ffee);
	if (xio_submit(qp) != 1)
		FAIL("xio_submit\n");
	if (xio_host_sq_take(hq, &in, 1) != 1 || in.user_data != 0xc0ffee ||
	    in.opcode != XIO_OP_NOP)
		FAIL("xio_host_sq_take\n");
	if (xio_host_cq_post(hq, in.user_data, 7, 0))
		FAIL("xio_host_cq_post\n");
	xio_host_cq_publish(hq);
	if (xio_peek_cqe(qp, &cqe) || cqe->user_data != 0xc0ffee ||
	    cqe->res != 7)
		FAIL("xio_peek_cqe\n");
	xio_cqe_seen(qp, cqe);
	if (xio_peek_cqe(qp, &cqe) != -EAGAIN)
		FAIL("CQ not empty\n");
	if (xio_buf_free(r, slot))
		FAIL("xio_buf_free\n");
	xio_region_destroy(r);
	printf("consumer ok (libxio %d.%d, ABI %u)\n", XIO_VERSION_MAJOR,
	       XIO_VERSION_MINOR, XIO_ABI_VERSION);
	return 0;
}
