/* SPDX-License-Identifier: MIT */
/*
 * Guest face, out-of-line parts: queue-pair views, the doorbell and waiting.
 * The hot path (get_sqe/submit/peek/advance) is inline in xio.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static void guest_qp_init(struct xio_region *r, uint32_t idx, struct xio_qp *qp)
{
	const struct xio_layout *l = &r->layout;
	uint64_t qp_base = l->qp_off + (uint64_t)idx * l->qp_stride;
	struct xio_sq_ctrl *sq = xio__at(r, qp_base + l->sq_ctrl_off);
	struct xio_cq_ctrl *cq = xio__at(r, qp_base + l->cq_ctrl_off);

	qp->sqes = xio__at(r, qp_base + l->sqes_off);
	qp->sq_khead = &sq->head.idx;
	qp->sq_ktail = &sq->tail.idx;
	qp->sq_kflags = &sq->flags;
	qp->sq_mask = l->sq_entries - 1;
	qp->sq_entries = l->sq_entries;
	/* Resume where the ring is (a re-attach after a crash, say). */
	qp->sqe_tail = XIO_READ_ONCE(sq->tail.idx);
	qp->sq_published = qp->sqe_tail;
	qp->sq_head_cache = xio_load_acquire(&sq->head.idx);

	qp->cqes = xio__at(r, qp_base + l->cqes_off);
	qp->cq_ktail = &cq->tail.idx;
	qp->cq_khead = &cq->head.idx;
	qp->cq_kflags = &cq->flags;
	qp->cq_kevent_idx = &cq->event_idx;
	qp->cq_mask = l->cq_entries - 1;
	qp->cq_head = XIO_READ_ONCE(cq->head.idx);
	qp->cq_tail_cache = qp->cq_head;

	qp->kick_fd = -1;
	qp->notify_fd = -1;
	qp->region = r;
	qp->index = idx;
}

int xio__qps_init(struct xio_region *r)
{
	uint32_t n = r->layout.nr_qpairs, i;

	r->qps = calloc(n, sizeof(*r->qps));
	r->hqps = calloc(n, sizeof(*r->hqps));
	if (!r->qps || !r->hqps)
		return -ENOMEM;
	/* Host views are set up lazily, by xio_region_host_qp(). */
	for (i = 0; i < n; i++)
		guest_qp_init(r, i, &r->qps[i]);
	return 0;
}

void xio__qps_fini(struct xio_region *r)
{
	free(r->qps);
	free(r->hqps);
	r->qps = NULL;
	r->hqps = NULL;
}

struct xio_qp *xio_region_qp(struct xio_region *r, uint32_t idx)
{
	if (!r || !r->qps || idx >= r->layout.nr_qpairs)
		return NULL;
	return &r->qps[idx];
}

void xio_qp_set_kick_fd(struct xio_qp *qp, int fd)
{
	qp->kick_fd = fd;
}

void xio_qp_set_kick_fn(struct xio_qp *qp, xio_kick_fn fn, void *ctx)
{
	qp->kick_fn = fn;
	qp->kick_ctx = ctx;
}

void xio_qp_set_notify_fd(struct xio_qp *qp, int fd)
{
	qp->notify_fd = fd;
}

uint64_t xio_qp_kicks(const struct xio_qp *qp)
{
	return qp->kicks;
}

int xio_qp_kick(struct xio_qp *qp)
{
	uint64_t one = 1;

	qp->kicks++;
	if (qp->kick_fn)
		return qp->kick_fn(qp->kick_ctx);
	if (qp->kick_fd < 0)
		return 0;
	for (;;) {
		if (write(qp->kick_fd, &one, sizeof(one)) == sizeof(one))
			return 0;
		if (errno == EINTR)
			continue;
		/* A saturated eventfd counter still means "wake up". */
		if (errno == EAGAIN)
			return 0;
		return -errno;
	}
}

XIO_COLD int xio__submit_slow(struct xio_qp *qp, uint32_t flags, uint32_t n)
{
	int err;

	if (flags & XIO_SQ_BROKEN)
		return -EPIPE;
	/*
	 * Kick only for new entries: entries published by an earlier submit
	 * were either seen by the host before it slept (H3) or kicked for
	 * then.  An empty submit that kicked would cost a guest looping on
	 * xio_submit() one syscall per call while the poller is preempted
	 * with NEED_WAKEUP still set (seen: 10^5 kicks in seconds).
	 */
	if ((flags & XIO_SQ_NEED_WAKEUP) && n) {
		err = xio_qp_kick(qp);
		if (err)
			return err;
	}
	return (int)n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Ask the host for a notification once the CQ tail passes our head, then
 * re-check: the full fence pairs with the host's fence between its tail
 * store and its flags/event_idx load (H6 in host.c), so either the host sees
 * the request or we see its new tail.
 */
static bool arm_notify(struct xio_qp *qp)
{
	XIO_WRITE_ONCE(*qp->cq_kevent_idx, qp->cq_head);
	XIO_WRITE_ONCE(*qp->cq_kflags, XIO_CQ_NOTIFY);
	xio_smp_mb();
	return xio_cq_ready(qp) != 0;
}

static void disarm_notify(struct xio_qp *qp)
{
	XIO_WRITE_ONCE(*qp->cq_kflags, 0);
}

static int sleep_on_notify(struct xio_qp *qp, int timeout_ms)
{
	struct pollfd pfd = {.fd = qp->notify_fd, .events = POLLIN};
	uint64_t v;
	int rc;

	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	/* Drain the counter; a failed read only means someone else did. */
	if (read(qp->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* Milliseconds until @deadline for poll(), rounded up; -1 = no deadline. */
static int remaining_ms(int timeout_ms, uint64_t deadline)
{
	uint64_t now = now_ns();

	if (timeout_ms < 0)
		return -1;
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999ULL) / 1000000ULL);
}

#define XIO_WAIT_SPINS 4096

int xio_wait_cqe(struct xio_qp *qp, struct xio_cqe **cqe, int timeout_ms)
{
	uint64_t deadline = 0;
	int spins = 0, err;

	if (timeout_ms >= 0)
		deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	for (;;) {
		if (xio_peek_cqe(qp, cqe) == 0)
			return 0;
		if (XIO_READ_ONCE(*qp->sq_kflags) & XIO_SQ_BROKEN)
			return -EPIPE;
		if (spins < XIO_WAIT_SPINS) {
			spins++;
			xio_cpu_relax();
			continue;
		}
		if (timeout_ms >= 0 && now_ns() >= deadline)
			return -ETIMEDOUT;
		if (qp->notify_fd < 0) {
			sched_yield();
			continue;
		}
		if (arm_notify(qp)) {
			disarm_notify(qp);
			continue;
		}
		err = sleep_on_notify(qp, remaining_ms(timeout_ms, deadline));
		disarm_notify(qp);
		if (err && err != -ETIMEDOUT)
			return err;
	}
}
