/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor A3 (chain/loop abuse).  xio has no descriptor chains,
 * no `next` field and no indirect tables: every request is one fixed 64-byte
 * SQE, so there is no walk a guest could make loop.  What remains of the
 * anchor is its cost criterion -- a malformed request costs no more than the
 * largest valid one -- and that the work of one host pass is bounded by the
 * ring, whatever the guest wrote.  Work is counted, not timed: the unit is
 * one SQE slot consumed (one 64-byte copy, one validation, one CQ slot).
 *
 * For rings filled with valid NOPs, valid WRITEs of the largest length,
 * invalid entries of several kinds, and random 64-byte garbage, each
 * xio_host_sq_take(max) call must consume exactly min(max, pending, free CQ
 * slots) entries: never more (an invalid entry does not make the host look
 * further for a valid one, nor bypass CQ backpressure), never fewer, and
 * the consumed entries are answered one CQE each.
 */
#include <stdint.h>
#include <xio/abi.h>
#include <xio/barrier.h>
#include <xio/xio.h>

#include "xtest.h"

#define SQ 64
#define CQ 128
#define NR_BUFS 8
#define BUF_SIZE 4096

enum fill {
	F_NOP,
	F_WRITE_MAX,
	F_BAD_OPCODE,
	F_BAD_SLOT,
	F_BAD_RESV,
	F_RANDOM,
	F_LAST
};

static uint64_t rnd = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rnd(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return rnd;
}

static void fill_one(struct xio_sqe *s, enum fill f, uint64_t ud)
{
	switch (f) {
	case F_NOP:
		xio_prep_nop(s, ud);
		break;
	case F_WRITE_MAX:
		xio_prep_rw(s, XIO_OP_WRITE, 0, (uint32_t)(ud % NR_BUFS), 0,
			    BUF_SIZE, 0, ud);
		break;
	case F_BAD_OPCODE:
		xio_prep_nop(s, ud);
		s->opcode = 0xff;
		break;
	case F_BAD_SLOT:
		xio_prep_rw(s, XIO_OP_WRITE, 0, 0x10000U, 0, BUF_SIZE, 0, ud);
		break;
	case F_BAD_RESV:
		xio_prep_nop(s, ud);
		s->resv[2] = 1;
		break;
	default: {
		uint64_t *w = (uint64_t *)s;

		for (int i = 0; i < 8; i++)
			w[i] = next_rnd();
		s->user_data = ud;
		break;
	}
	}
}

/* One region per fill kind; many rounds of random max and CQ room. */
static void run(enum fill f)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r;
	struct xio_qp *qp;
	struct xio_host_qp *hq;
	struct xio_sqe in[SQ];
	uint64_t ud = 1, consumed_total = 0;
	uint32_t cq_unreaped = 0;

	o.params.sq_entries = SQ;
	o.params.cq_entries = CQ;
	o.params.buf_size = BUF_SIZE;
	o.params.nr_bufs = NR_BUFS;
	CHECK_EQ(xio_region_create(&o, &r), 0);
	qp = xio_region_qp(r, 0);
	hq = xio_region_host_qp(r, 0);
	CHECK(qp && hq);
	for (int round = 0; round < 2000; round++) {
		struct xio_host_qp_stats a, b;
		struct xio_sqe *s;
		uint32_t pending, max, room, want, consumed;
		int n;

		while ((s = xio_get_sqe(qp)))
			fill_one(s, f, ud++);
		xio_submit(qp);
		pending = xio_host_sq_pending(hq);
		CHECK(pending <= SQ);
		max = (uint32_t)(next_rnd() % (SQ + 8)) + 1;
		room = CQ - cq_unreaped;
		want = max < pending ? max : pending;
		want = want < room ? want : room;
		xio_host_qp_get_stats(hq, &a);
		n = xio_host_sq_take(hq, in, max);
		xio_host_qp_get_stats(hq, &b);
		CHECK(n >= 0);
		consumed = pending - xio_host_sq_pending(hq);
		CHECK_EQ(consumed, want);
		CHECK_EQ((b.taken - a.taken) + (b.invalid - a.invalid),
			 consumed);
		CHECK_EQ(b.taken - a.taken, (uint64_t)n);
		if (f == F_NOP || f == F_WRITE_MAX)
			CHECK_EQ(n, consumed);
		else if (f != F_RANDOM)
			CHECK_EQ(n, 0);
		for (int i = 0; i < n; i++)
			CHECK_EQ(xio_host_cq_post(hq, in[i].user_data, 0, 0),
				 0);
		xio_host_cq_publish(hq);
		cq_unreaped += consumed;
		consumed_total += consumed;
		/* The guest reaps at random, sometimes not at all. */
		if (next_rnd() % 3) {
			struct xio_cqe *c;
			uint32_t k = (uint32_t)(next_rnd() % (cq_unreaped + 1));

			for (uint32_t i = 0; i < k; i++) {
				CHECK_EQ(xio_peek_cqe(qp, &c), 0);
				xio_cqe_seen(qp, c);
			}
			cq_unreaped -= k;
		}
		CHECK_EQ(b.broken, 0);
	}
	CHECK(consumed_total > 1000);
	xio_region_destroy(r);
}

int main(void)
{
	for (int f = 0; f < F_LAST; f++)
		run((enum fill)f);
	printf("ok: every take consumed exactly min(max, pending, CQ room)\n");
	return 0;
}
