/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor A1 (out-of-range indices), the truncation case: every
 * index a guest writes is 32 bits wide in the ABI, and none of them is ever
 * narrowed before it is checked.  Values that would become a valid index if
 * they were truncated to 16 (or 8) bits -- buf_index 0x10000 + k, 0x100 + k,
 * buf_off 0x10000, len 0x10000 + 1, buf_off + len wrapping 2^32 to a small
 * value -- must each be refused: one CQE with res -EINVAL and
 * XIO_CQE_F_INVALID carrying the entry's user_data, the invalid counter up
 * by one, nothing returned to the caller.  The same entry with the
 * untruncated index k is accepted (the check is not vacuous).  The SQ index
 * pair gets the same treatment: a tail moved by 0x10000 + 2 (2 after
 * truncation to 16 bits) quarantines the ring with -EPROTO and no entry is
 * taken.  (The target index is checked by xiod, also on 32 bits: see
 * tests/daemon/test_xiod_io.c and daemon/poller.c.)
 */
#include <stdint.h>
#include <xio/abi.h>
#include <xio/barrier.h>
#include <xio/xio.h>

#include "xtest.h"

#define NR_BUFS 16
#define BUF_SIZE 4096

static struct xio_region *g_r;

static struct xio_region *mk(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r;

	o.params.sq_entries = 64;
	o.params.cq_entries = 128;
	o.params.buf_size = BUF_SIZE;
	o.params.nr_bufs = NR_BUFS;
	CHECK_EQ(xio_region_create(&o, &r), 0);
	return r;
}

/* Submit one WRITE; return 1 if the host took it as valid, 0 if refused. */
static int one(struct xio_qp *qp, struct xio_host_qp *hq, uint32_t slot,
	       uint32_t buf_off, uint32_t len, uint64_t ud)
{
	struct xio_host_qp_stats a, b;
	struct xio_sqe *s = xio_get_sqe(qp), in[4];
	struct xio_cqe *c;
	int n;

	CHECK(s);
	xio_prep_rw(s, XIO_OP_WRITE, 0, slot, buf_off, len, 0, ud);
	CHECK_EQ(xio_submit(qp), 1);
	xio_host_qp_get_stats(hq, &a);
	n = xio_host_sq_take(hq, in, 4);
	xio_host_qp_get_stats(hq, &b);
	CHECK(n == 0 || n == 1);
	CHECK_EQ(b.taken - a.taken, n);
	CHECK_EQ(b.invalid - a.invalid, 1 - n);
	if (n == 1) {
		CHECK_EQ(in[0].user_data, ud);
		CHECK_EQ(in[0].buf_index, slot);
		CHECK(xio_host_buf(g_r, in[0].buf_index, in[0].buf_off,
				   in[0].len));
		CHECK_EQ(xio_host_cq_post(hq, ud, 0, 0), 0);
	}
	xio_host_cq_publish(hq);
	CHECK_EQ(xio_peek_cqe(qp, &c), 0);
	CHECK_EQ(c->user_data, ud);
	if (n == 0) {
		CHECK_EQ(c->res, -EINVAL);
		CHECK_EQ(c->flags, XIO_CQE_F_INVALID);
	} else {
		CHECK_EQ(c->res, 0);
		CHECK_EQ(c->flags, 0);
	}
	xio_cqe_seen(qp, c);
	CHECK_EQ(xio_peek_cqe(qp, &c), -EAGAIN);
	CHECK_EQ(xio_host_inflight(hq), 0);
	return n;
}

int main(void)
{
	struct xio_region *r = g_r = mk();
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_host_qp *hq = xio_region_host_qp(r, 0);
	uint64_t ud = 1;
	uint32_t k;
	int refused = 0;

	CHECK(qp && hq);
	for (k = 0; k < NR_BUFS; k++) {
		/* The untruncated index is fine ... */
		CHECK_EQ(one(qp, hq, k, 0, 1, ud++), 1);
		/* ... its truncating aliases are not. */
		CHECK_EQ(one(qp, hq, 0x10000U + k, 0, 1, ud++), 0);
		CHECK_EQ(one(qp, hq, 0x100U + k, 0, 1, ud++), 0);
		CHECK_EQ(one(qp, hq, 0xFFFF0000U + k, 0, 1, ud++), 0);
		CHECK_EQ(one(qp, hq, 0x80000000U + k, 0, 1, ud++), 0);
		refused += 4;
	}
	CHECK_EQ(one(qp, hq, 0xFFFF, 0, 1, ud++), 0);
	CHECK_EQ(one(qp, hq, 0xFFFFFFFFU, 0, 1, ud++), 0);
	CHECK_EQ(one(qp, hq, NR_BUFS, 0, 1, ud++), 0);
	/* Offsets and lengths: 32-bit, checked without wrap-around. */
	CHECK_EQ(one(qp, hq, 1, BUF_SIZE - 1, 1, ud++), 1);
	CHECK_EQ(one(qp, hq, 1, 0, BUF_SIZE, ud++), 1);
	CHECK_EQ(one(qp, hq, 1, 0x10000U, 1, ud++), 0);
	CHECK_EQ(one(qp, hq, 1, 0x10000U + BUF_SIZE - 1, 1, ud++), 0);
	CHECK_EQ(one(qp, hq, 1, 0, 0x10000U + 1, ud++), 0);
	CHECK_EQ(one(qp, hq, 1, 0, BUF_SIZE + 1, ud++), 0);
	CHECK_EQ(one(qp, hq, 1, 0xFFFFFFFFU, 2, ud++), 0); /* wraps to 1 */
	CHECK_EQ(one(qp, hq, 1, 2, 0xFFFFFFFFU, ud++), 0); /* wraps to 1 */
	CHECK_EQ(one(qp, hq, 1, 0, 0, ud++), 0);	   /* len 0 */
	refused += 3 + 7;

	/* The SQ tail: a distance of 0x10000 + 2 is not 2. */
	{
		struct xio_host_qp_stats st;
		struct xio_sqe in[4];
		const struct xio_layout *l = xio_region_layout(r);
		char *q = (char *)xio_region_base(r) + l->qp_off;
		struct xio_sq_ctrl *sq =
			(struct xio_sq_ctrl *)(q + l->sq_ctrl_off);
		for (int i = 0; i < 2; i++)
			xio_prep_nop(xio_get_sqe(qp), 9000 + (uint64_t)i);
		CHECK_EQ(xio_submit(qp), 2);
		/* Push the published tail 0x10000 further, as a guest may. */
		xio_store_release(&sq->tail.idx,
				  xio_load_acquire(&sq->tail.idx) + 0x10000U);
		CHECK_EQ(xio_host_sq_take(hq, in, 4), -EPROTO);
		CHECK_EQ(xio_host_sq_take(hq, in, 4), -EPROTO);
		xio_host_qp_get_stats(hq, &st);
		CHECK_EQ(st.broken, 1);
		CHECK_EQ(st.invalid, (uint64_t)refused);
	}
	xio_region_destroy(r);
	printf("ok: %d truncating values refused\n", refused);
	return 0;
}
