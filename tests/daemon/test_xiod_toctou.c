/* SPDX-License-Identifier: MIT */
/*
 * Double fetch / TOCTOU (reliability anchor A5): while one thread of the
 * hostile tenant submits a mix of valid and invalid SQEs, another rewrites
 * every SQ slot with random words in a tight loop, so xiod reads entries
 * that change under it.  xiod copies each SQE once before validating it:
 * every entry is answered exactly once (valid or -EINVAL), nothing crashes
 * (the sanitizer builds run this too), the ring stays healthy, and a second
 * tenant keeps working throughout.
 */
#include "dtest.h"

#include <pthread.h>

struct ctx {
	struct xio_qp *qp;
	uint64_t n;
	int stop;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Word-by-word atomic stores: this test races on purpose, tidily. */
static void put_sqe(struct xio_sqe *slot, const struct xio_sqe *v)
{
	uint64_t w[8];

	memcpy(w, v, sizeof(w));
	for (int i = 0; i < 8; i++)
		XIO_WRITE_ONCE(((uint64_t *)slot)[i], w[i]);
}

static void *mutator(void *p)
{
	struct ctx *c = p;
	uint64_t s = 88172645463325252ULL;
	uint64_t *words = (uint64_t *)c->qp->sqes;
	uint32_t nwords = c->qp->sq_entries * 8;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		uint64_t r = rnd(&s);

		/* Often flip a single byte (a plausible-looking entry). */
		if (r & 1)
			XIO_WRITE_ONCE(words[(r >> 8) % nwords], rnd(&s));
		else
			XIO_WRITE_ONCE(words[(r >> 8) % nwords],
				       (r >> 32) & 0xff);
	}
	return NULL;
}

int main(void)
{
	struct xio_tenant_info ti;
	struct xio_tenant *bad, *good;
	struct ctx c;
	pthread_t th;
	uint64_t s = 12345, sent = 0, got = 0, invalid = 0;
	struct xiod d;

	xiod_start(&d, "--idle-us", "1000", NULL);
	bad = attach(d.sock, "scribbler", 64, 8);
	good = attach(d.sock, "bystander", 8, 4);
	memset(&c, 0, sizeof(c));
	c.qp = xio_tenant_qp(bad, 0);
	c.n = SCALE(200000);
	CHECK_EQ(pthread_create(&th, NULL, mutator, &c), 0);
	while (got < c.n) {
		struct xio_cqe *cq;
		uint32_t k = 0;

		while (sent < c.n && k++ < 16) {
			struct xio_sqe *slot = xio_get_sqe(c.qp), v;
			uint64_t r = rnd(&s);

			if (!slot)
				break;
			if (r % 3 == 0)
				xio_prep_nop(&v, sent);
			else if (r % 3 == 1) /* no target: -EBADF */
				xio_prep_read(&v, 0, (uint32_t)(r >> 8) % 8, 0,
					      64, 0, sent);
			else /* invalid: bad opcode */
				xio_prep_rw(&v, XIO_OP_LAST, 0, 0, 0, 0, 0,
					    sent);
			put_sqe(slot, &v);
			sent++;
		}
		CHECK(xio_submit(c.qp) >= 0);
		while (xio_peek_cqe(c.qp, &cq) == 0) {
			if (cq->flags & XIO_CQE_F_INVALID) {
				CHECK_EQ(cq->res, -EINVAL);
				invalid++;
			}
			xio_cqe_seen(c.qp, cq);
			got++;
		}
		if ((got & 1023) == 0)
			nop_roundtrip(xio_tenant_qp(good, 0), got);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	CHECK_EQ(got, sent);
	info(bad, &ti);
	CHECK_EQ(ti.broken, 0);
	CHECK_EQ(ti.completed, sent);
	CHECK_EQ(ti.invalid, invalid);
	CHECK_EQ(ti.inflight, 0);
	CHECK(invalid > 0);
	printf("%llu SQEs rewritten under xiod: %llu refused, all answered once\n",
	       (unsigned long long)sent, (unsigned long long)invalid);
	nop_roundtrip(xio_tenant_qp(good, 0), 1);
	CHECK_EQ(xio_client_detach(bad), 0);
	CHECK_EQ(xio_client_detach(good), 0);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
