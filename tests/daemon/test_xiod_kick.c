/* SPDX-License-Identifier: MIT */
/*
 * A guest that kicks without submitting cannot buy poller time with its
 * doorbell (issue 5, docs/accounting.md "Kicks"):
 *
 * - charged: a tenant rings its doorbell every ~100 us and submits nothing,
 *   alone on a poller whose idle window (--idle-us) is 2 ms.  A kick is no
 *   work: the poller must not spin its idle window after each (it would
 *   never sleep), and the wake-ups its kicks cost are charged to it, not
 *   left as idle time: most of the poller's time split must be the
 *   kicker's (generous bound; the rest is the sleep path, overhead);
 * - held: a tenant held to a low ops/s rate keeps its SQ full of NOPs and
 *   kicks as fast as it can: its ops stay within its limit, and the sleeps
 *   its kicks end stay far below the kicks it rang (its kick poll is paused
 *   while it is held).
 *
 * Counts and ratios of the accounting only; no timing assertion.
 */
#include "dtest.h"

#define SQ 64

static void poller0(struct xio_admin *a, struct xio_poller_stats *p)
{
	memset(p, 0, sizeof(*p));
	p->sz = sizeof(*p);
	CHECK_EQ(xio_admin_poller_stats(a, p, 1, NULL), 1);
}

static void stats_of(struct xio_admin *a, const char *name,
		     struct xio_tenant_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	CHECK_EQ(xio_admin_stats(a, name, 0, st, 1, NULL), 1);
}

/* Kicks every ~100 us for @ms, nothing submitted. */
static void kicker(struct xio_admin *a, struct xio_qp *qp, uint64_t ms)
{
	struct xio_poller_stats p0, p1;
	struct xio_tenant_stats s0, s1;
	struct timespec ts = {0, 100000};
	double cpu, attr, idle, over, mine;
	uint64_t t0, kicks = 0;

	usleep(50000); /* the poller asleep: its windows closed */
	stats_of(a, "kicker", &s0);
	poller0(a, &p0);
	t0 = dt_now_ms();
	while (dt_now_ms() - t0 < ms) {
		CHECK_EQ(xio_qp_kick(qp), 0);
		kicks++;
		nanosleep(&ts, NULL);
	}
	usleep(50000);
	poller0(a, &p1);
	stats_of(a, "kicker", &s1);
	cpu = (double)(p1.thread_cpu_ns - p0.thread_cpu_ns);
	attr = (double)(p1.attributed_ns - p0.attributed_ns);
	idle = (double)(p1.idle_ns - p0.idle_ns);
	over = (double)(p1.overhead_ns - p0.overhead_ns);
	mine = (double)(s1.cpu_ns - s0.cpu_ns);
	printf("kicker: %llu kicks rang, %llu counted, %llu wake-ups; poller thread CPU %.1f ms: attributed %.1f (kicker %.1f), idle %.1f, overhead %.1f ms; %llu sleeps\n",
	       (unsigned long long)kicks,
	       (unsigned long long)(s1.kicks - s0.kicks),
	       (unsigned long long)(s1.wakeups - s0.wakeups), cpu / 1e6,
	       attr / 1e6, mine / 1e6, idle / 1e6, over / 1e6,
	       (unsigned long long)(p1.sleeps - p0.sleeps));
	CHECK(s1.kicks > s0.kicks);
	/* The poller slept between kicks rather than spinning after each. */
	CHECK(p1.sleeps - p0.sleeps >= (s1.wakeups - s0.wakeups) / 2);
	/* Its wake-ups are the kicker's, not idle time. */
	CHECK(mine > 0);
	if (cpu > 20e6) {
		CHECK(idle < 0.5 * cpu);
		CHECK(mine > 0.2 * cpu);
	}
}

/* Held to @rate ops/s: keep the SQ full of NOPs and kick without end. */
static void held(struct xio_admin *a, struct xio_qp *qp, uint64_t rate,
		 uint64_t ms)
{
	struct xio_tenant_stats s0, s1;
	struct xio_quota q = {.sz = sizeof(q), .flags = XIO_QUOTA_OPS_RATE};
	uint64_t t0, kicks = 0, done = 0, pending = 0;
	struct xio_cqe *c;
	struct xio_sqe *s;
	double secs;

	q.ops_rate = rate;
	CHECK_EQ(xio_admin_quota_set(a, "held", &q), 0);
	stats_of(a, "held", &s0);
	t0 = dt_now_ms();
	while (dt_now_ms() - t0 < ms) {
		while ((s = xio_get_sqe(qp))) {
			xio_prep_nop(s, 1);
			pending++;
		}
		xio_submit(qp);
		CHECK_EQ(xio_qp_kick(qp), 0);
		kicks++;
		while (xio_peek_cqe(qp, &c) == 0) {
			xio_cqe_seen(qp, c);
			pending--;
			done++;
		}
	}
	secs = (double)(dt_now_ms() - t0) / 1000.0;
	stats_of(a, "held", &s1);
	printf("held to %llu ops/s: %.0f ops/s, %llu kicks rang, %llu wake-ups, %llu throttled visits\n",
	       (unsigned long long)rate, (double)done / secs,
	       (unsigned long long)kicks,
	       (unsigned long long)(s1.wakeups - s0.wakeups),
	       (unsigned long long)(s1.throttled - s0.throttled));
	CHECK((double)done <= (double)rate * secs * 1.25 + SQ + 10);
	CHECK(s1.throttled > s0.throttled);
	/* Paused while held: at most about one wake-up per refill. */
	CHECK((double)(s1.wakeups - s0.wakeups) <=
	      10 * (double)rate * secs + 100);
	q.ops_rate = 0;
	CHECK_EQ(xio_admin_quota_set(a, "held", &q), 0);
	while (pending) {
		CHECK_EQ(xio_wait_cqe(qp, &c, 10000), 0);
		xio_cqe_seen(qp, c);
		pending--;
	}
}

int main(void)
{
	struct xio_tenant *k, *h;
	struct xio_admin *a;
	struct xiod d;

	xiod_start(&d, "--idle-us", "2000", NULL);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	k = attach(d.sock, "kicker", 8, 2);
	kicker(a, xio_tenant_qp(k, 0), SCALE(5) * 100);
	CHECK_EQ(xio_client_detach(k), 0);

	h = attach(d.sock, "held", SQ, 8);
	held(a, xio_tenant_qp(h, 0), 200, SCALE(10) * 100);
	/* Lifted: served at once again. */
	nop_roundtrip(xio_tenant_qp(h, 0), 7);
	CHECK_EQ(xio_client_detach(h), 0);

	xio_admin_close(a);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
