/* SPDX-License-Identifier: MIT */
/*
 * Single-threaded ring semantics: SQ full/empty, batch publish, host take,
 * validation answers, CQ reservation (backpressure, no drop), quarantine,
 * NEED_WAKEUP kicks and CQ event-idx notifications.
 */
#include <sys/eventfd.h>
#include <unistd.h>
#include <xio/xio.h>

#include "xtest.h"

static struct xio_region *mk(uint32_t sq, uint32_t cq)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r;

	o.params.sq_entries = sq;
	o.params.cq_entries = cq;
	o.params.buf_size = 256;
	o.params.nr_bufs = 4;
	CHECK_EQ(xio_region_create(&o, &r), 0);
	return r;
}

static void submit_nops(struct xio_qp *qp, int n, uint64_t ud0)
{
	for (int i = 0; i < n; i++) {
		struct xio_sqe *s = xio_get_sqe(qp);
		CHECK(s);
		xio_prep_nop(s, ud0 + (uint64_t)i);
	}
	CHECK_EQ(xio_submit(qp), n);
}

static void test_basic(void)
{
	struct xio_region *r = mk(8, 16);
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_host_qp *hq = xio_region_host_qp(r, 0);
	struct xio_sqe in[16];
	struct xio_cqe *c;
	int i;

	CHECK(qp && hq);
	CHECK(!xio_region_qp(r, 1));
	CHECK(!xio_region_host_qp(r, 1));
	/* Nothing is visible to the host before submit. */
	for (i = 0; i < 8; i++)
		xio_prep_nop(xio_get_sqe(qp), (uint64_t)i);
	CHECK(xio_get_sqe(qp) == NULL); /* full */
	CHECK_EQ(xio_sq_ready(qp), 8);
	CHECK_EQ(xio_host_sq_take(hq, in, 16), 0);
	CHECK_EQ(xio_submit(qp), 8);
	CHECK_EQ(xio_submit(qp), 0);
	CHECK_EQ(xio_host_sq_pending(hq), 8);
	CHECK_EQ(xio_host_sq_take(hq, in, 3), 3);
	CHECK_EQ(xio_host_sq_take(hq, in + 3, 16), 5);
	for (i = 0; i < 8; i++)
		CHECK_EQ(in[i].user_data, i);
	CHECK_EQ(xio_host_inflight(hq), 8);
	CHECK_EQ(xio_peek_cqe(qp, &c), -EAGAIN);
	for (i = 0; i < 8; i++)
		CHECK_EQ(xio_host_cq_post(hq, in[i].user_data, i * 10, 0), 0);
	CHECK_EQ(xio_host_cq_post(hq, 99, 0, 0), -ENOSPC); /* no reservation */
	CHECK_EQ(xio_peek_cqe(qp, &c), -EAGAIN);	   /* not published */
	CHECK_EQ(xio_host_cq_publish(hq), 0);
	for (i = 0; i < 8; i++) {
		CHECK_EQ(xio_peek_cqe(qp, &c), 0);
		CHECK_EQ(c->user_data, i);
		CHECK_EQ(c->res, i * 10);
		xio_cqe_seen(qp, c);
	}
	CHECK_EQ(xio_peek_cqe(qp, &c), -EAGAIN);
	/* Wrap the free-running indices many times. */
	for (i = 0; i < 1000; i++) {
		struct xio_cqe *b[8];
		submit_nops(qp, 5, 0);
		CHECK_EQ(xio_host_sq_take(hq, in, 16), 5);
		for (int j = 0; j < 5; j++)
			xio_host_cq_post(hq, in[j].user_data, 0, 0);
		xio_host_cq_publish(hq);
		CHECK_EQ(xio_peek_batch_cqe(qp, b, 8), 5);
		xio_cq_advance(qp, 5);
	}
	xio_region_destroy(r);
}

static void test_invalid_answered(void)
{
	struct xio_region *r = mk(8, 16);
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_host_qp *hq = xio_region_host_qp(r, 0);
	struct xio_host_qp_stats st;
	struct xio_sqe in[8], *s;
	struct xio_cqe *c;

	xio_prep_nop(xio_get_sqe(qp), 1);
	s = xio_get_sqe(qp);
	xio_prep_nop(s, 2);
	s->opcode = XIO_OP_LAST;			   /* unknown opcode */
	xio_prep_read(xio_get_sqe(qp), 0, 4, 0, 16, 0, 3); /* slot 4 of 4 */
	xio_prep_read(xio_get_sqe(qp), 0, 3, 200, 57, 0, 4); /* beyond slot */
	xio_prep_read(xio_get_sqe(qp), 0, 3, 200, 56, 0, 5); /* fits exactly */
	CHECK_EQ(xio_submit(qp), 5);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), 2);
	CHECK_EQ(in[0].user_data, 1);
	CHECK_EQ(in[1].user_data, 5);
	xio_host_qp_get_stats(hq, &st);
	CHECK_EQ(st.invalid, 3);
	CHECK_EQ(st.taken, 2);
	/* Invalid answers are published with the next batch. */
	CHECK_EQ(xio_host_cq_publish(hq), 0);
	for (uint64_t ud = 2; ud <= 4; ud++) {
		CHECK_EQ(xio_peek_cqe(qp, &c), 0);
		CHECK_EQ(c->user_data, ud);
		CHECK_EQ(c->res, -EINVAL);
		CHECK_EQ(c->flags, XIO_CQE_F_INVALID);
		xio_cqe_seen(qp, c);
	}
	CHECK_EQ(((struct xio_sq_ctrl *)((char *)xio_region_base(r) +
					 xio_region_layout(r)->qp_off))
			 ->dropped,
		 3);
	xio_region_destroy(r);
}

static void test_backpressure(void)
{
	struct xio_region *r = mk(4, 4);
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_host_qp *hq = xio_region_host_qp(r, 0);
	struct xio_host_qp_stats st;
	struct xio_sqe in[8];
	struct xio_cqe *c;
	int i;

	submit_nops(qp, 4, 0);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), 4); /* reserves the whole CQ */
	submit_nops(qp, 4, 4);
	CHECK_EQ(xio_host_sq_take(hq, in + 4, 8), 0); /* CQ fully promised */
	for (i = 0; i < 4; i++)
		xio_host_cq_post(hq, in[i].user_data, 0, 0);
	xio_host_cq_publish(hq);
	CHECK_EQ(xio_host_sq_take(hq, in + 4, 8), 0); /* guest has not reaped */
	xio_host_qp_get_stats(hq, &st);
	CHECK(st.cq_full >= 2);
	for (i = 0; i < 2; i++) {
		CHECK_EQ(xio_peek_cqe(qp, &c), 0);
		CHECK_EQ(c->user_data, i);
		xio_cqe_seen(qp, c);
	}
	CHECK_EQ(xio_host_sq_take(hq, in + 4, 8), 2);
	CHECK_EQ(in[4].user_data, 4);
	CHECK_EQ(in[5].user_data, 5);
	xio_region_destroy(r);
}

static void test_broken(void)
{
	struct xio_region *r = mk(8, 8);
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_host_qp *hq = xio_region_host_qp(r, 0);
	struct xio_sqe in[8];
	struct xio_cqe *c;

	xio_set_print(NULL);
	submit_nops(qp, 2, 0);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), 2);
	/* A hostile guest moves its tail backwards. */
	XIO_WRITE_ONCE(*qp->sq_ktail, 1);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), -EPROTO);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), -EPROTO); /* stays broken */
	CHECK_EQ(xio_submit(qp), -EPIPE);
	CHECK_EQ(xio_wait_cqe(qp, &c, 10), -EPIPE);
	xio_region_destroy(r);

	/* tail - head > size */
	r = mk(8, 8);
	qp = xio_region_qp(r, 0);
	hq = xio_region_host_qp(r, 0);
	XIO_WRITE_ONCE(*qp->sq_ktail, 9);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), -EPROTO);
	xio_region_destroy(r);

	/* CQ head beyond the host's tail */
	r = mk(8, 8);
	qp = xio_region_qp(r, 0);
	hq = xio_region_host_qp(r, 0);
	submit_nops(qp, 8, 0);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), 8);
	for (int i = 0; i < 8; i++)
		xio_host_cq_post(hq, 0, 0, 0);
	xio_host_cq_publish(hq);
	XIO_WRITE_ONCE(*qp->cq_khead, 1000);
	submit_nops(qp, 1, 0);
	CHECK_EQ(xio_host_sq_take(hq, in, 8), -EPROTO);
	xio_region_destroy(r);
	xio_set_print(xio_set_print(NULL)); /* leave it silenced */
}

static void test_wakeup_and_notify(void)
{
	struct xio_region *r = mk(8, 8);
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_host_qp *hq = xio_region_host_qp(r, 0);
	int kfd = eventfd(0, EFD_NONBLOCK), nfd = eventfd(0, EFD_NONBLOCK);
	struct xio_sqe in[8];
	struct xio_cqe *c;
	uint64_t v;

	CHECK(kfd >= 0 && nfd >= 0);
	xio_qp_set_kick_fd(qp, kfd);
	xio_qp_set_notify_fd(qp, nfd);
	/* Host awake: no kick. */
	submit_nops(qp, 1, 0);
	CHECK_EQ(xio_qp_kicks(qp), 0);
	CHECK_EQ(read(kfd, &v, 8), -1);
	/* Pending work: the host must not sleep. */
	CHECK(xio_host_sq_arm_wakeup(hq));
	CHECK_EQ(xio_host_sq_take(hq, in, 8), 1);
	/* Now empty: safe to sleep; the next submit kicks exactly once. */
	CHECK(!xio_host_sq_arm_wakeup(hq));
	CHECK(xio_qp_needs_kick(qp));
	submit_nops(qp, 2, 1);
	CHECK_EQ(xio_qp_kicks(qp), 1);
	CHECK_EQ(read(kfd, &v, 8), 8);
	CHECK_EQ(v, 1);
	xio_host_sq_clear_wakeup(hq);
	submit_nops(qp, 1, 3);
	CHECK_EQ(xio_qp_kicks(qp), 1);

	/* Notification: off unless the guest waits. */
	CHECK_EQ(xio_host_sq_take(hq, in + 1, 8), 3);
	xio_host_cq_post(hq, 0, 0, 0);
	CHECK_EQ(xio_host_cq_publish(hq), 0);
	CHECK_EQ(xio_wait_cqe(qp, &c, 0), 0);
	xio_cqe_seen(qp, c);
	/* Guest waits with event_idx = head: the next publish notifies. */
	CHECK_EQ(xio_wait_cqe(qp, &c, 1), -ETIMEDOUT);
	XIO_WRITE_ONCE(*qp->cq_kflags, XIO_CQ_NOTIFY);
	XIO_WRITE_ONCE(*qp->cq_kevent_idx, qp->cq_head);
	xio_host_cq_post(hq, 0, 0, 0);
	CHECK_EQ(xio_host_cq_publish(hq), 1);
	/* Event index 2 ahead: one more publish does not pass it. */
	XIO_WRITE_ONCE(*qp->cq_kevent_idx, qp->cq_head + 2);
	xio_host_cq_post(hq, 0, 0, 0);
	CHECK_EQ(xio_host_cq_publish(hq), 0);
	xio_host_cq_post(hq, 0, 0, 0);
	CHECK_EQ(xio_host_cq_publish(hq), 1);
	close(kfd);
	close(nfd);
	xio_region_destroy(r);
}

int main(void)
{
	test_basic();
	test_invalid_answered();
	test_backpressure();
	test_broken();
	test_wakeup_and_notify();
	printf("PASS test_ring\n");
	return 0;
}
