/* SPDX-License-Identifier: MIT */
/*
 * The two "no lost wake-up" handshakes under real concurrency.
 *
 * 1. SQ NEED_WAKEUP: a host thread that finds the SQ empty for a few spins
 *    arms NEED_WAKEUP; unless xio_host_sq_arm_wakeup() reports pending work
 *    it sleeps in poll()+read() on the kick eventfd.  The guest submits
 *    bursts with random pauses, so the host falls asleep often; the library
 *    kicks (xio_qp_set_kick_fd) when the flag is set.  A sleep that outlasts
 *    a generous timeout while entries are pending is a lost wake-up: FAIL.
 *
 * 2. CQ notification: the guest waits in xio_wait_cqe() with a notify
 *    eventfd; the host writes it exactly when xio_host_cq_publish() returns
 *    1, and pauses at random so that the guest really sleeps.  A wait that
 *    times out (long timeout) is a lost notification: FAIL.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_ring.h"

#define SQ_ENTRIES 64
#define CQ_ENTRIES 128
/* Way beyond any pause in this test: only a lost signal sleeps so long. */
#define SLEEP_TIMEOUT_MS 5000
#define WAIT_TIMEOUT_MS 10000
#define HOST_SPINS 64

static struct xio_region *mk(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r;

	o.params.sq_entries = SQ_ENTRIES;
	o.params.cq_entries = CQ_ENTRIES;
	o.params.nr_bufs = 4;
	o.params.buf_size = 256;
	CHECK_EQ(xio_region_create(&o, &r), 0);
	return r;
}

static void pause_us(uint32_t us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};

	nanosleep(&ts, NULL);
}

static void eventfd_drain(int fd, uint64_t *sum)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == sizeof(v) && sum)
		*sum += v;
}

/* ---- 1: NEED_WAKEUP ---------------------------------------------------- */

struct sq_host {
	struct xio_host_qp *hq;
	int kick_fd;
	uint64_t n;
	/* results, read after join */
	uint64_t sleeps, woken_by_kick, arm_saw_work, kick_count;
};

static void *sq_host_main(void *arg)
{
	struct sq_host *h = arg;
	struct xio_sqe in[SQ_ENTRIES];
	uint64_t next = 0, rng = 0x5151ULL;
	unsigned int idle = 0, spins = HOST_SPINS;
	int n, i;

	while (next < h->n) {
		n = xio_host_sq_take(h->hq, in, SQ_ENTRIES);
		CHECK(n >= 0);
		if (n > 0) {
			for (i = 0; i < n; i++, next++) {
				if (in[i].user_data != next) {
					fprintf(stderr,
						"FAIL host: SQE %" PRIu64
						" has user_data %" PRIu64 "\n",
						next, in[i].user_data);
					exit(1);
				}
				CHECK_EQ(xio_host_cq_post(h->hq, next, 1, 0),
					 0);
			}
			xio_host_cq_publish(h->hq);
			idle = 0;
			continue;
		}
		if (++idle < spins) {
			xio_cpu_relax();
			continue;
		}
		/* Sometimes arm at once, sometimes after a while. */
		idle = 0;
		spins = xt_range(&rng, 1, 4 * HOST_SPINS);
		/*
		 * Kicks left over from an earlier round (a guest that saw the
		 * flag just before we cleared it) would wake us at once and
		 * could hide a lost wake-up: drain them before arming.  Any
		 * kick that matters comes after the flag store below.
		 */
		eventfd_drain(h->kick_fd, &h->kick_count);
		if (xio_host_sq_arm_wakeup(h->hq)) {
			h->arm_saw_work++;
			xio_host_sq_clear_wakeup(h->hq);
			continue;
		}
		h->sleeps++;
		{
			struct pollfd p = {.fd = h->kick_fd, .events = POLLIN};
			int rc = poll(&p, 1, SLEEP_TIMEOUT_MS);

			if (rc == 0) {
				fprintf(stderr,
					"FAIL: lost wake-up: host asleep %d ms with %u entries pending (next %" PRIu64
					")\n",
					SLEEP_TIMEOUT_MS,
					xio_host_sq_pending(h->hq), next);
				exit(1);
			}
			CHECK_EQ(rc, 1);
		}
		h->woken_by_kick++;
		eventfd_drain(h->kick_fd, &h->kick_count);
		xio_host_sq_clear_wakeup(h->hq);
		xt_watchdog_pet();
	}
	return NULL;
}

static void test_need_wakeup(uint64_t n)
{
	struct xio_region *r = mk();
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct sq_host h = {.hq = xio_region_host_qp(r, 0), .n = n};
	uint64_t rng = 0x77aa55ccULL, sub = 0, done = 0, submits = 0;
	struct xio_cqe *c[CQ_ENTRIES];
	pthread_t th;
	uint32_t got, i, b;
	int rc;

	h.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(h.kick_fd >= 0);
	xio_qp_set_kick_fd(qp, h.kick_fd);
	CHECK_EQ(pthread_create(&th, NULL, sq_host_main, &h), 0);

	while (done < n) {
		b = xt_range(&rng, 1, 16);
		for (i = 0; i < b && sub < n; i++, sub++) {
			struct xio_sqe *s = xio_get_sqe(qp);

			if (!s)
				break;
			xio_prep_nop(s, sub);
		}
		if (i) {
			rc = xio_submit(qp);
			CHECK_EQ(rc, i);
			submits++;
		}
		/*
		 * Closed loop: nothing more is submitted until this burst is
		 * complete, so a later submit cannot paper over a lost
		 * wake-up by kicking a host that should have stayed awake.
		 */
		while (done < sub) {
			got = xio_peek_batch_cqe(qp, c, CQ_ENTRIES);
			for (i = 0; i < got; i++, done++) {
				CHECK_EQ(c[i]->user_data, done);
				CHECK_EQ(c[i]->res, 1);
			}
			xio_cq_advance(qp, got);
			if (!got)
				sched_yield();
		}
		if ((done & 0xfff) < b)
			xt_watchdog_pet();
		/* Pause now and then, long enough for the host to doze off. */
		switch (xt_range(&rng, 0, 15)) {
		case 0:
			pause_us(xt_range(&rng, 20, 300));
			break;
		case 1:
		case 2:
			sched_yield();
			break;
		default:
			for (i = xt_range(&rng, 0, 256); i; i--)
				xio_cpu_relax();
			break;
		}
	}
	CHECK_EQ(pthread_join(th, NULL), 0);
	printf("need_wakeup: %" PRIu64 " entries, %" PRIu64 " submits, %" PRIu64
	       " kicks, host slept %" PRIu64 " times (kicked awake %" PRIu64
	       ", eventfd total %" PRIu64 "), arm saw work %" PRIu64 " times\n",
	       n, submits, xio_qp_kicks(qp), h.sleeps, h.woken_by_kick,
	       h.kick_count, h.arm_saw_work);
	CHECK(h.sleeps > 0);
	CHECK(xio_qp_kicks(qp) > 0);
	CHECK(xio_qp_kicks(qp) <= submits);
	/* Every wake-up was a kick, and every kick was counted at most once. */
	CHECK(h.woken_by_kick <= xio_qp_kicks(qp));
	CHECK(h.kick_count <= xio_qp_kicks(qp));
	close(h.kick_fd);
	xio_region_destroy(r);
}

/* ---- 2: CQ notification ------------------------------------------------ */

struct cq_host {
	struct xio_host_qp *hq;
	const uint32_t *cq_flags; /* the guest's XIO_CQ_NOTIFY request */
	int notify_fd;
	uint64_t n, signals, aimed;
	/* guest -> host: "I start waiting for CQE wait_seq at wait_ns" */
	uint64_t wait_ns;  /* atomic */
	uint64_t wait_seq; /* atomic, release/acquire */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * When to publish a burst whose first entry is @seq.  The dangerous moment
 * is the guest's step from its last failed peek to arming the notification
 * (guest.c arm_notify): a publish landing there is only seen thanks to the
 * fence-and-recheck.  Random pauses would rarely hit that window, so the
 * host measures how long after starting xio_wait_cqe() the guest arms (by
 * watching XIO_CQ_NOTIFY appear) and aims most publishes at that moment,
 * from a few microseconds early to a little late.
 */
static void cq_host_delay(struct cq_host *h, uint64_t *rng, uint64_t seq,
			  uint64_t *est)
{
	uint64_t t0 = now_ns(), start, t;

	switch (xt_range(rng, 0, 7)) {
	case 0:
		return; /* at once */
	case 1:
		pause_us(xt_range(rng, 1, 1000));
		return;
	default:
		break;
	}
	/* When did the guest start waiting for this burst (bounded)? */
	while (__atomic_load_n(&h->wait_seq, __ATOMIC_ACQUIRE) != seq) {
		if (now_ns() - t0 > 2000000)
			return;
		xio_cpu_relax();
	}
	start = __atomic_load_n(&h->wait_ns, __ATOMIC_RELAXED);
	if (!*est || xt_range(rng, 0, 3) == 0) {
		/* Calibrate: until the guest arms (bounded). */
		while (!(XIO_READ_ONCE(*h->cq_flags) & XIO_CQ_NOTIFY)) {
			if (now_ns() - t0 > 2000000)
				return;
			xio_cpu_relax();
		}
		t = now_ns() - start;
		*est = *est ? (*est * 7 + t) / 8 : t;
		return;
	}
	/* Aim at start + est, from 3 us early to 1 us late. */
	t = start + *est + xt_range(rng, 0, 4000);
	t = t > 3000 ? t - 3000 : 0;
	if (t > t0 + 2000000)
		return;
	h->aimed++;
	while (now_ns() < t)
		xio_cpu_relax();
}

static void *cq_host_main(void *arg)
{
	struct cq_host *h = arg;
	struct xio_sqe in[SQ_ENTRIES];
	uint64_t rng = 0x1badb002ULL, next = 0, one = 1, est = 0, first;
	unsigned int idle = 0;
	int n, i;

	while (next < h->n) {
		n = xio_host_sq_take(h->hq, in, SQ_ENTRIES);
		CHECK(n >= 0);
		if (!n) {
			/* Poll like a sidecore; yield now and then only. */
			if (++idle % 1024 == 0)
				sched_yield();
			else
				xio_cpu_relax();
			continue;
		}
		first = next;
		for (i = 0; i < n; i++, next++) {
			CHECK_EQ(in[i].user_data, next);
			CHECK_EQ(xio_host_cq_post(h->hq, next, 2, 0), 0);
		}
		cq_host_delay(h, &rng, first, &est);
		if (xio_host_cq_publish(h->hq) == 1) {
			CHECK_EQ(write(h->notify_fd, &one, sizeof(one)),
				 sizeof(one));
			h->signals++;
		}
	}
	return NULL;
}

static void test_cq_notify(uint64_t n)
{
	struct xio_region *r = mk();
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct cq_host h = {.hq = xio_region_host_qp(r, 0), .n = n};
	const struct xio_layout *l = xio_region_layout(r);
	struct xio_cq_ctrl *cq =
		(struct xio_cq_ctrl *)((char *)xio_region_base(r) + l->qp_off +
				       l->cq_ctrl_off);
	struct xio_host_qp_stats st;
	uint64_t rng = 0xc0ffeeULL, sub = 0, done = 0, t0;
	struct xio_cqe *c;
	pthread_t th;
	uint32_t i, b;
	int rc;

	h.cq_flags = &cq->flags;
	h.notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(h.notify_fd >= 0);
	xio_qp_set_notify_fd(qp, h.notify_fd);
	CHECK_EQ(pthread_create(&th, NULL, cq_host_main, &h), 0);

	while (done < n) {
		b = xt_range(&rng, 1, 16);
		for (i = 0; i < b && sub < n; i++, sub++) {
			struct xio_sqe *s = xio_get_sqe(qp);

			if (!s)
				break;
			xio_prep_nop(s, sub);
		}
		if (i)
			CHECK_EQ(xio_submit(qp), i);
		/* Reap everything submitted so far, sleeping when need be. */
		while (done < sub) {
			/*
			 * A signal left over from an earlier wait (the host
			 * saw a request that we withdrew when we found a CQE)
			 * would end the next sleep at once and could hide a
			 * lost notification: drop it.  Safe: the host writes
			 * the eventfd after publishing, so the CQE it stands
			 * for is visible to the peek that starts the wait.
			 */
			eventfd_drain(h.notify_fd, NULL);
			t0 = now_ns();
			__atomic_store_n(&h.wait_ns, t0, __ATOMIC_RELAXED);
			__atomic_store_n(&h.wait_seq, done, __ATOMIC_RELEASE);
			rc = xio_wait_cqe(qp, &c, WAIT_TIMEOUT_MS);
			/*
			 * A lost notification sleeps until the timeout; the
			 * wait may then still find the CQE on its last look,
			 * so a wait that long fails the test as well.
			 */
			if (rc == -ETIMEDOUT ||
			    now_ns() - t0 >= SLEEP_TIMEOUT_MS * 1000000ULL) {
				fprintf(stderr,
					"FAIL: lost CQ notification: CQE %" PRIu64
					" not signalled within %d ms (%s)\n",
					done, SLEEP_TIMEOUT_MS,
					xio_strerror(rc));
				exit(1);
			}
			CHECK_EQ(rc, 0);
			CHECK_EQ(c->user_data, done);
			CHECK_EQ(c->res, 2);
			xio_cqe_seen(qp, c);
			done++;
		}
		xt_watchdog_pet();
	}
	CHECK_EQ(pthread_join(th, NULL), 0);
	xio_host_qp_get_stats(h.hq, &st);
	printf("cq_notify: %" PRIu64 " entries, %" PRIu64 " publishes, %" PRIu64
	       " notifications, %" PRIu64 " publishes aimed at the arming\n",
	       n, st.published, h.signals, h.aimed);
	CHECK_EQ(st.notifies, h.signals);
	CHECK(h.signals > 0);
	close(h.notify_fd);
	xio_region_destroy(r);
}

int main(void)
{
	xt_watchdog_init(
		60, "FAIL: test_wakeup: watchdog (60 s without progress)\n");
	test_need_wakeup(xt_scaled(200000, 50000));
	test_cq_notify(xt_scaled(100000, 25000));
	printf("PASS test_wakeup\n");
	return 0;
}
