/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor A6 (over-submission) through a private xiod.  The
 * guest never waits for a completion before submitting again: it refills
 * every free SQ slot the moment one frees, so the SQ is always full, and
 * reaps whatever has completed.  Two phases:
 *  1. NOPs (answered by the poller inline): 1e7 submissions (1e6 under a
 *     sanitizer) must leave xiod's RSS within 1 MiB of its value after a
 *     warm-up, every request answered exactly once, in order;
 *  2. 1-byte RECVs on a socket target (io_uring operations that stay in
 *     flight until the test sends bytes) with --inflight-cap 16 and a
 *     256-entry SQ kept full: in every round xiod takes exactly the cap
 *     and no more (the rest waits in the SQ), and every RECV completes
 *     once bytes arrive.
 * A last step (anchor A2) publishes a tail more than a ring ahead of the
 * head (heads the host has not released) while the tenant sits at its
 * in-flight cap, 16 RECVs that cannot complete and the rest of its SQ
 * waiting: xiod takes nothing from that ring, yet checks its tail and
 * quarantines the queue pair (XIO_SQ_BROKEN) at once, with the 16 still in
 * flight, and keeps serving a second tenant.
 */
#include "daemon/dtest.h"

#include <xio/barrier.h>

#define SQ 256
#define CAP 16

/* Keep the SQ full of NOPs for @n requests; check order and result. */
static void flood(struct xio_tenant *t, uint64_t n)
{
	struct xio_qp *qp = xio_tenant_qp(t, 0);
	uint64_t sent = 0, done = 0, deadline = dt_now_ms() + 60000;

	while (done < n) {
		struct xio_sqe *s;
		struct xio_cqe *c;

		while (sent < n && (s = xio_get_sqe(qp)))
			xio_prep_nop(s, sent++);
		xio_submit(qp);
		while (xio_peek_cqe(qp, &c) == 0) {
			CHECK_EQ(c->user_data, done);
			CHECK_EQ(c->res, 0);
			xio_cqe_seen(qp, c);
			done++;
		}
		CHECK(dt_now_ms() < deadline);
	}
}

/*
 * Keep the SQ full of 1-byte RECVs on target 1 (a socket) for @rounds
 * rounds: each round waits until xiod has as many in flight as it will take
 * (the cap), records the largest in-flight count it saw, then sends
 * BATCH bytes to the peer and reaps the BATCH completions.
 */
#define BATCH 32
static uint32_t recv_flood(struct xio_tenant *t, int peer, int rounds)
{
	struct xio_qp *qp = xio_tenant_qp(t, 0);
	struct xio_tenant_info ti;
	char bytes[BATCH];
	uint32_t max = 0;
	uint64_t ud = 0;

	memset(bytes, 'x', sizeof(bytes));
	for (int r = 0; r < rounds; r++) {
		uint64_t deadline = dt_now_ms() + 10000;
		struct xio_sqe *s;

		while ((s = xio_get_sqe(qp))) {
			xio_prep_rw(s, XIO_OP_RECV, 0, (uint32_t)(ud % 8), 0, 1,
				    0, ud);
			ud++;
		}
		xio_submit(qp);
		do {
			info(t, &ti);
			if (ti.inflight > max)
				max = (uint32_t)ti.inflight;
			CHECK(dt_now_ms() < deadline);
		} while (ti.inflight < CAP);
		CHECK_EQ(write(peer, bytes, BATCH), BATCH);
		for (int i = 0; i < BATCH; i++)
			CHECK_EQ(wait_one(qp).res, 1);
		info(t, &ti);
		if (ti.inflight > max)
			max = (uint32_t)ti.inflight;
	}
	/* Complete what is still submitted, BATCH bytes at a time. */
	for (uint64_t left = ud - (uint64_t)rounds * BATCH; left;) {
		int k = left < BATCH ? (int)left : BATCH;

		CHECK_EQ(write(peer, bytes, (size_t)k), k);
		for (int i = 0; i < k; i++)
			CHECK_EQ(wait_one(qp).res, 1);
		left -= (uint64_t)k;
	}
	info(t, &ti);
	CHECK_EQ(ti.inflight, 0);
	return max;
}

static void break_ring(struct xio_qp *qp)
{
	uint64_t deadline = dt_now_ms() + 10000;

	/*
	 * More than a ring's worth of heads the host never released.  Counted
	 * from the tail, not the published head: the host may have taken
	 * entries (it counts them in flight at once) and not yet stored its
	 * new head, and a tail a ring past the old head would then still be
	 * in range (that made this test fail under load).
	 */
	XIO_WRITE_ONCE(*qp->sq_ktail, XIO_READ_ONCE(*qp->sq_ktail) + SQ + 1);
	xio_qp_kick(qp);
	while (!(XIO_READ_ONCE(*qp->sq_kflags) & XIO_SQ_BROKEN))
		CHECK(dt_now_ms() < deadline);
}

int main(void)
{
	uint64_t n = 10000000;
	struct xio_tenant *t, *good;
	struct xio_admin *a;
	struct xiod d;
	int sv[2], rounds = 200;
	uint32_t max_inflight = 0;
	long rss0, rss1;

#ifdef XIO_TEST_SANITIZED
	n /= 10;
	rounds /= 10;
#endif
	xiod_start(&d, "--inflight-cap", "16", NULL);
	t = attach(d.sock, "over", SQ, 8);
	good = attach(d.sock, "good", 8, 2);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(xio_admin_target_add_fd(a, "over", sv[0], 0, NULL), 0);
	close(sv[0]);
	xio_admin_close(a);

	flood(t, 100000); /* warm-up */
	rss0 = rss_kib(d.pid);
	flood(t, n);
	nop_roundtrip(xio_tenant_qp(good, 0), 1);
	rss1 = rss_kib(d.pid);
	printf("%llu NOPs over-submitted: xiod RSS %ld -> %ld KiB\n",
	       (unsigned long long)n, rss0, rss1);
	CHECK(rss0 > 0 && rss1 > 0);
	CHECK(rss1 - rss0 < 1024);

	max_inflight = recv_flood(t, sv[1], rounds);
	printf("%d x %d RECVs with %d submitted: largest in-flight %u (cap %d)\n",
	       rounds, BATCH, SQ, max_inflight, CAP);
	CHECK_EQ(max_inflight, CAP);

	/* At the cap with nothing to complete: fill the SQ, wait for 16. */
	{
		struct xio_qp *qp = xio_tenant_qp(t, 0);
		uint64_t deadline = dt_now_ms() + 10000;
		struct xio_tenant_info ti;
		struct xio_sqe *s;

		while ((s = xio_get_sqe(qp)))
			xio_prep_rw(s, XIO_OP_RECV, 0, 0, 0, 1, 0, 0);
		xio_submit(qp);
		do {
			info(t, &ti);
			CHECK(dt_now_ms() < deadline);
		} while (ti.inflight < CAP);
		break_ring(qp);
		info(t, &ti);
		printf("tail broken at the in-flight cap: quarantined with %llu in flight\n",
		       (unsigned long long)ti.inflight);
		CHECK_EQ(ti.inflight, CAP); /* noticed while still capped */
	}
	for (int i = 0; i < 100; i++)
		nop_roundtrip(xio_tenant_qp(good, 0), (uint64_t)i);
	xio_client_detach(t);
	close(sv[1]);
	CHECK_EQ(xio_client_detach(good), 0);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
