/* SPDX-License-Identifier: MIT */
/*
 * A hostile tenant and a well-behaved one on the same poller.  The hostile
 * one submits invalid SQEs (answered -EINVAL, flagged, counted), never
 * drains its CQ (backpressure: nothing dropped, everything arrives once it
 * drains), over-submits past its in-flight cap, and finally breaks its
 * ring indices (quarantined: XIO_SQ_BROKEN).  Through all of it the other
 * tenant's NOPs keep completing, and xiod's fd count returns to baseline.
 */
#include "dtest.h"

#include <sys/socket.h>

static void good_work(struct xio_qp *qp, int n)
{
	static uint64_t ud;

	for (int i = 0; i < n; i++)
		nop_roundtrip(qp, ++ud);
}

static void submit_raw(struct xio_qp *qp, const struct xio_sqe *tmpl, int n)
{
	for (int i = 0; i < n; i++) {
		struct xio_sqe *s = xio_get_sqe(qp);

		CHECK(s);
		*s = *tmpl;
		s->user_data = tmpl->user_data + (uint64_t)i;
	}
	CHECK_EQ(xio_submit(qp), n);
}

/*
 * 4. Over-submission: 40 RECVs that cannot complete; at most the cap (16)
 * are taken into io_uring, the rest wait in the SQ; the other tenant works.
 */
static void inflight_cap(const char *sock, struct xio_qp *gq)
{
	struct xio_tenant_info ti;
	struct xio_tenant *t = attach(sock, "capped", 64, 8);
	struct xio_qp *qp = xio_tenant_qp(t, 0);
	struct xio_admin *a;
	uint64_t deadline;
	int sv[2], i;
	char bytes[40];

	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(xio_admin_open(sock, &a), 0);
	CHECK_EQ(xio_admin_target_add_fd(a, "capped", sv[0], 0, NULL), 0);
	xio_admin_close(a);
	close(sv[0]);
	for (i = 0; i < 40; i++)
		xio_prep_rw(xio_get_sqe(qp), XIO_OP_RECV, 0, (uint32_t)i % 8, 0,
			    1, 0, (uint64_t)i);
	CHECK_EQ(xio_submit(qp), 40);
	deadline = dt_now_ms() + 10000;
	do {
		good_work(gq, 10);
		info(t, &ti);
		CHECK(dt_now_ms() < deadline);
	} while (ti.inflight < 16);
	good_work(gq, 200);
	info(t, &ti);
	CHECK_EQ(ti.inflight, 16);
	CHECK_EQ(ti.taken, 16);
	memset(bytes, 'x', sizeof(bytes));
	CHECK_EQ(write(sv[1], bytes, sizeof(bytes)), 40);
	for (i = 0; i < 40; i++)
		CHECK_EQ(wait_one(qp).res, 1);
	info(t, &ti);
	CHECK_EQ(ti.inflight, 0);
	CHECK_EQ(ti.taken, 40);
	CHECK_EQ(xio_client_detach(t), 0);
	close(sv[1]);
}

/*
 * 5. The guest fills its own notify eventfd (so xiod's signalling writes
 * cannot complete) and asks for a notification on every completion: xiod
 * keeps at most one write parked per queue pair, keeps serving, and the
 * detach still completes (the parked write is cancelled).
 */
static void notify_jam(const char *sock, struct xio_qp *gq)
{
	struct xio_tenant_info ti;
	struct xio_tenant *t = attach(sock, "jammer", 16, 2);
	struct xio_qp *qp = xio_tenant_qp(t, 0);
	uint64_t full = 0xfffffffffffffffeULL;
	int i;

	CHECK_EQ(write(qp->notify_fd, &full, sizeof(full)), 8);
	for (i = 0; i < 200; i++) {
		struct xio_cqe *c;

		/* Notify me when the tail passes my head. */
		XIO_WRITE_ONCE(*qp->cq_kevent_idx, qp->cq_head);
		XIO_WRITE_ONCE(*qp->cq_kflags, XIO_CQ_NOTIFY);
		xio_smp_mb();
		xio_prep_nop(xio_get_sqe(qp), (uint64_t)i);
		CHECK_EQ(xio_submit(qp), 1);
		while (xio_peek_cqe(qp, &c))
			xio_cpu_relax();
		xio_cqe_seen(qp, c);
		if (i % 20 == 0)
			good_work(gq, 5);
	}
	info(t, &ti);
	CHECK_EQ(ti.completed, 200);
	CHECK(ti.notifies >= 1);
	CHECK(ti.notifies < 200); /* coalesced into the parked write */
	CHECK_EQ(xio_client_detach(t), 0);
}

int main(void)
{
	struct xio_tenant_info ti;
	struct xio_tenant *bad, *good;
	struct xio_qp *bq, *gq;
	struct xio_sqe tmpl;
	struct xio_cqe c;
	struct xiod d;
	int base, i, nbad = 0;

	xiod_start(&d, "--idle-us", "100", "--inflight-cap", "16", NULL);
	base = fd_count(d.pid);
	good = attach(d.sock, "good", 64, 8);
	bad = attach(d.sock, "hostile", 16, 8); /* CQ of 32 */
	gq = xio_tenant_qp(good, 0);
	bq = xio_tenant_qp(bad, 0);
	good_work(gq, 100);

	/* 1. Invalid SQEs: each answered -EINVAL with XIO_CQE_F_INVALID. */
	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.opcode = XIO_OP_LAST; /* unknown opcode */
	tmpl.user_data = 1000;
	submit_raw(bq, &tmpl, 4);
	xio_prep_read(&tmpl, 0, 8, 0, 64, 0, 2000); /* slot out of range */
	submit_raw(bq, &tmpl, 4);
	xio_prep_read(&tmpl, 0, 0, 4000, 200, 0, 3000); /* beyond the slot */
	submit_raw(bq, &tmpl, 4);
	xio_prep_nop(&tmpl, 4000);
	tmpl.resv[1] = 1; /* reserved field */
	submit_raw(bq, &tmpl, 4);
	for (i = 0; i < 16; i++) {
		c = wait_one(bq);
		CHECK_EQ(c.res, -EINVAL);
		CHECK_EQ(c.flags, XIO_CQE_F_INVALID);
		nbad++;
	}
	good_work(gq, 100);
	info(bad, &ti);
	CHECK_EQ(ti.invalid, 16);
	CHECK_EQ(ti.broken, 0);

	/* 2. Never drains its CQ: 32 answered, the rest wait, none lost. */
	xio_prep_nop(&tmpl, 10000);
	submit_raw(bq, &tmpl, 16);
	good_work(gq, 50);
	submit_raw(bq, &tmpl, 16);
	good_work(gq, 50);
	{
		uint64_t deadline = dt_now_ms() + 10000;

		/* Wait until the CQ is full (32 posted). */
		while (xio_cq_ready(bq) < 32)
			CHECK(dt_now_ms() < deadline);
	}
	submit_raw(bq, &tmpl, 16); /* held back: no CQ room */
	good_work(gq, 200);
	CHECK_EQ(xio_cq_ready(bq), 32);
	for (i = 0; i < 48; i++)
		CHECK_EQ(wait_one(bq).res, 0);
	CHECK_EQ(xio_cq_ready(bq), 0);
	good_work(gq, 100);

	/* 3. Breaks its indices: tail far beyond head -> quarantined. */
	XIO_WRITE_ONCE(*bq->sq_ktail, *bq->sq_ktail + 100000);
	xio_qp_kick(bq);
	{
		uint64_t deadline = dt_now_ms() + 10000;

		while (!(XIO_READ_ONCE(*bq->sq_kflags) & XIO_SQ_BROKEN)) {
			CHECK(dt_now_ms() < deadline);
			good_work(gq, 1);
		}
	}
	CHECK_EQ(xio_wait_cqe(bq, (struct xio_cqe **)&tmpl.resv[0], 0), -EPIPE);
	good_work(gq, 500);
	info(bad, &ti);
	CHECK_EQ(ti.broken, 1);
	CHECK_EQ(ti.invalid, 16);
	info(good, &ti);
	CHECK_EQ(ti.invalid, 0);
	CHECK_EQ(ti.broken, 0);

	CHECK_EQ(xio_client_detach(bad), 0);
	good_work(gq, 100);
	inflight_cap(d.sock, gq);
	notify_jam(d.sock, gq);
	CHECK_EQ(xio_client_detach(good), 0);
	wait_fd_count(d.pid, base);
	xiod_stop(&d);
	printf("ok (%d invalid answered)\n", nbad);
	return 0;
}
