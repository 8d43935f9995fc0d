/* SPDX-License-Identifier: MIT */
/*
 * Poller threads ("sidecores").  Each owns one io_uring and a set of tenants
 * and loops:
 *
 *   inbox (add/remove tenants) -> reap io_uring CQEs (post tenant CQEs)
 *   -> one round-robin round over its tenants, each visit bounded by a
 *   budget of entries per queue pair and bytes per tenant -> publish the CQ
 *   tails that moved (notify guests that asked) -> submit to io_uring
 *   -> hand back tenants whose teardown drained.
 *
 * After cfg.idle_us without work it arms NEED_WAKEUP on every ring, and if
 * no tail moved meanwhile it sleeps in io_uring_submit_and_wait(): a
 * multishot POLL on every kick eventfd, one on its own inbox eventfd and the
 * tenants' I/O all produce CQEs, so the first kick, command or completion
 * wakes it.  No syscall is made on the busy path except io_uring_submit()
 * when there is real I/O to start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <numa.h>

#include "fault.h"
#include "xiod.h"

struct poller *pollers;

/* io_uring user_data: a pointer (8-byte aligned) tagged in its low bits. */
#define TAG_OP 0UL     /* struct op * */
#define TAG_KICK 1UL   /* struct xqp *: multishot poll on its kick eventfd */
#define TAG_WAKE 2UL   /* struct poller *: multishot poll on the inbox fd */
#define TAG_NOTIFY 3UL /* struct xqp *: eventfd write to its guest */
#define TAG_CANCEL 4UL /* no pointer: async cancel */
#define TAG_XSK 5UL    /* struct xsk *: poll on an AF_XDP socket (pktio.c) */
#define TAG_MASK 7UL

#define TAKE_BATCH 16U
#define SQ_RESERVE 8U /* io_uring SQEs kept for notifies and cancels */
#define RING_ENTRIES 1024U
#define RING_CQ_ENTRIES 8192U
#define RING_TINY 16U /* SQ and CQ size under fault cq_overflow */
#define TIMED_SLEEP_NS 1000000L
#define THROTTLED_SLEEP_NS 10000000ULL /* longest sleep on a bucket */

static const uint64_t one_kick = 1; /* source buffer of notify writes */

static double acct_ns_per_cycle = 1.0;

uint64_t acct_ns(uint64_t cycles)
{
	return (uint64_t)((double)cycles * acct_ns_per_cycle);
}

/* acct_now() against CLOCK_MONOTONIC over 20 ms, once at start. */
static void acct_calibrate(void)
{
	struct timespec a, b, d = {0, 20000000};
	uint64_t c0, c1, ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	c0 = acct_now();
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	c1 = acct_now();
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ULL +
	     (uint64_t)(b.tv_nsec - a.tv_nsec);
	if (c1 > c0 && ns)
		acct_ns_per_cycle = (double)ns / (double)(c1 - c0);
}

/*
 * Poller time spent on @t's behalf (the poller thread only).  Charged into
 * the current window first: win_close() scales the window's split to the
 * thread CPU time it really got, so time the thread was preempted is not
 * charged to whoever was being served (docs/accounting.md).
 */
static inline void win_note(struct poller *p, struct tenant *t, uint64_t *acc,
			    uint64_t cyc)
{
	if (cyc > p->w_max) {
		p->w_max = cyc;
		p->w_max_t = t;
		p->w_max_acc = acc;
	}
}

static inline void charge(struct poller *p, struct tenant *t, uint64_t cyc)
{
	p->acct_iter += cyc;
	if (!t->w_touched) {
		if (p->nr_w == sizeof(p->w_list) / sizeof(p->w_list[0])) {
			ctr_add(&t->st.cycles, cyc); /* not reached */
			return;
		}
		t->w_touched = true;
		p->w_list[p->nr_w++] = t;
	}
	t->w_cycles += cyc;
	win_note(p, t, NULL, cyc);
}

/*
 * A fixed cost of serving the tenants (the entry into io_uring of a submit,
 * whatever it carries): attributed, and shared out at win_close() among the
 * tenants charged in the window, in proportion to their charges, so that
 * what an operation costs a tenant does not depend on how many others
 * happened to be batched with it.
 */
static inline void charge_shared(struct poller *p, uint64_t cyc)
{
	p->acct_iter += cyc;
	p->w_shared += cyc;
}

/* Idle or overhead time (@acc: &p->w_idle or &p->w_over) of the window. */
static inline void win_add(struct poller *p, uint64_t *acc, uint64_t cyc)
{
	*acc += cyc;
	win_note(p, NULL, acc, cyc);
}

#define WINDOW_NS 200000 /* one thread CPU clock read per 200 us of work */

/*
 * Virtual time (weighted fair share, round_robin()): a tenant's attributed
 * cycles divided by its weight (1..10000), kept in 64 bits: at weight 1 a
 * unit is a cycle, so it wraps after centuries of a busy poller.
 */
#define VT_SHIFT 20
#define VT_ONE (1ULL << VT_SHIFT)
#define VT_QUANTUM_NS 50000 /* lead over the slowest a tenant may take */
#define VT_LAG_NS 1000000   /* credit a held-back tenant may keep */

static inline uint64_t vt_mul_of(uint64_t weight)
{
	return VT_ONE / (weight ? weight : 1);
}

/* Its virtual time, with what the open window charged it so far. */
static inline uint64_t tenant_vtime(const struct tenant *t)
{
	return t->vtime + ((t->w_cycles * t->vt_mul) >> VT_SHIFT);
}

/*
 * No credit banked while idle: a tenant starts level with the slowest, or
 * at most @lag behind it (one held back by its in-flight cap, a full CQ or
 * its quota, whose entries wait: it keeps a bounded claim).
 */
static inline void vt_level(struct poller *p, struct tenant *t, uint64_t lag)
{
	uint64_t vt = tenant_vtime(t);
	uint64_t floor = p->vclock > lag ? p->vclock - lag : 0;

	if (vt < floor)
		t->vtime += floor - vt;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * End the accounting window: its TSC split (tenants, idle, overhead) is
 * fitted to the thread CPU time that passed in it.  A window that got less
 * CPU than its wall time was preempted: the time the thread lost is taken
 * off the window's longest interval first (a preemption lasts a scheduler
 * tick or more, far longer than any visit, so it lies inside the longest
 * one), and only what remains is scaled over the whole split; so the
 * tenants served in the rest of the window are not charged for it.  CPU
 * time beyond the split (the sleep path, which is outside the split) is
 * overhead.
 */
static void win_close(struct poller *p)
{
	uint64_t cpu = thread_cpu_ns(), dcpu = cpu - p->w_cpu0;
	uint64_t wall = p->w_attr + p->w_idle + p->w_over;
	double wall_ns = (double)acct_ns(wall), scale = 1, extra = 0;
	uint32_t i;

	if (wall_ns > (double)dcpu && p->w_max) {
		double lost = (wall_ns - (double)dcpu) / acct_ns_per_cycle;
		uint64_t cut =
			lost < (double)p->w_max ? (uint64_t)lost : p->w_max;

		if (p->w_max_t) {
			p->w_max_t->w_cycles -= cut;
			p->w_attr -= cut;
		} else {
			*p->w_max_acc -= cut;
		}
		wall -= cut;
		wall_ns = (double)acct_ns(wall);
	}
	p->w_max = 0;
	if (p->w_shared) {
		double sum = 0;

		for (i = 0; i < p->nr_w; i++)
			sum += (double)p->w_list[i]->w_cycles;
		for (i = 0; i < p->nr_w && sum > 0; i++)
			p->w_list[i]->w_cycles +=
				(uint64_t)((double)p->w_shared *
					   (double)p->w_list[i]->w_cycles /
					   sum);
		if (!(sum > 0)) { /* its tenants were handed back */
			p->w_attr -= p->w_shared;
			p->w_over += p->w_shared;
		}
		p->w_shared = 0;
	}
	if (wall_ns > 0 && (double)dcpu < wall_ns)
		scale = (double)dcpu / wall_ns;
	else if ((double)dcpu > wall_ns)
		extra = ((double)dcpu - wall_ns) / acct_ns_per_cycle;
	if (extra > 0 && p->waker && p->waker->w_touched) {
		/* The sleep that an empty kick ended (poller_main()): going
		 * to sleep and waking up are its kicker's. */
		p->waker->w_cycles += (uint64_t)extra;
		p->w_attr += (uint64_t)extra;
		extra = 0;
	}
	for (i = 0; i < p->nr_w; i++) {
		struct tenant *t = p->w_list[i];
		uint64_t c = (uint64_t)((double)t->w_cycles * scale);

		ctr_add(&t->st.cycles, c);
		t->vtime += (c * t->vt_mul) >> VT_SHIFT;
		t->w_cycles = 0;
		t->w_touched = false;
	}
	p->nr_w = 0;
	ctr_add(&p->cyc_attributed, (uint64_t)((double)p->w_attr * scale));
	ctr_add(&p->cyc_idle, (uint64_t)((double)p->w_idle * scale));
	ctr_add(&p->cyc_overhead,
		(uint64_t)((double)p->w_over * scale + extra));
	p->w_attr = p->w_idle = p->w_over = 0;
	p->w_cpu0 = cpu;
	p->w_tsc0 = acct_now();
}

/* A tenant handed back mid-window takes its charge unscaled. */
static void win_forget(struct poller *p, struct tenant *t)
{
	uint32_t i;

	if (!t->w_touched)
		return;
	if (p->w_max_t == t)
		p->w_max = 0; /* its interval leaves the window */
	ctr_add(&t->st.cycles, t->w_cycles);
	for (i = 0; i < p->nr_w; i++) {
		if (p->w_list[i] == t) {
			p->w_list[i] = p->w_list[--p->nr_w];
			break;
		}
	}
	t->w_cycles = 0;
	t->w_touched = false;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- in-flight slots ---------------------------------------------------- */

struct op *op_alloc(struct tenant *t)
{
	struct op *op;

	if (!t->nr_free)
		return NULL;
	op = &t->ops[t->free_head];
	t->free_head = op->next_free;
	t->nr_free--;
	op->in_use = 1;
	return op;
}

void op_free(struct tenant *t, struct op *op)
{
	op->in_use = 0;
	op->next_free = t->free_head;
	t->free_head = (uint32_t)(op - t->ops);
	t->nr_free++;
}

/* ---- io_uring helpers --------------------------------------------------- */

/* An SQE, submitting what is queued if the SQ is full; NULL if that fails. */
static struct io_uring_sqe *get_sqe(struct poller *p)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&p->ring);

	if (!s) {
		io_uring_submit(&p->ring);
		s = io_uring_get_sqe(&p->ring);
	}
	return s;
}

static void arm_kick(struct poller *p, struct xqp *q)
{
	struct io_uring_sqe *s = get_sqe(p);

	if (!s)
		return; /* retried by the sleep path (timed sleeps meanwhile) */
	io_uring_prep_poll_multishot(s, q->kick_fd, POLLIN);
	io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)q | TAG_KICK);
	q->kick_armed = true;
	q->t->uring_refs++;
}

static void arm_wake(struct poller *p)
{
	struct io_uring_sqe *s = get_sqe(p);

	if (!s)
		return;
	io_uring_prep_poll_multishot(s, p->wake_fd, POLLIN);
	io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)p | TAG_WAKE);
	p->wake_armed = true;
}

/*
 * Signal the guest's notify eventfd.  At most one write per queue pair is
 * in io_uring at a time: the guest holds the eventfd too and can fill its
 * counter, which makes a write wait (io_uring parks it, O_NONBLOCK or not);
 * one parked write per queue pair is bounded and is cancelled at teardown,
 * and while it is parked the guest's fd is readable anyway, so a
 * notification is never lost by coalescing into it.  Never write(2): the
 * guest can clear O_NONBLOCK on the shared file and block the poller.
 */
static void notify_guest(struct poller *p, struct xqp *q)
{
	struct io_uring_sqe *s;

	q->notify_owed = false;
	if (q->notify_inflight) {
		/*
		 * Its write may have landed already and been consumed by a
		 * guest now asleep again: one more once its CQE is reaped.
		 */
		q->notify_again = true;
		return;
	}
	s = get_sqe(p);
	if (!s) {
		q->notify_owed = true; /* retried: publish_dirty, sleep */
		return;
	}
	ctr_add(&q->t->st.notifies, 1);
	/* The eventfd counter ignores the offset; -1 = "current". */
	io_uring_prep_write(s, q->notify_fd, &one_kick, sizeof(one_kick),
			    (uint64_t)-1);
	io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)q | TAG_NOTIFY);
	q->notify_inflight = true;
	q->t->uring_refs++;
}

/* ---- in-flight log (ilog.h: L1, L2, L3) -------------------------------- */

/*
 * L1: a taken SQE's record, complete before its state says TAKEN (release),
 * and the state before the SQ head that lets the guest reuse the slot
 * (xio_host_sq_publish(), a store-release after this).  visit() takes no
 * more than q->nr_rfree: every record stands for a CQ slot reserved or
 * posted and not yet published, and there are cq_entries of them.
 */
static inline uint32_t log_take(struct tenant *t, struct xqp *q,
				const struct xio_sqe *s, uint32_t sq_idx)
{
	uint32_t i = q->rfree[--q->nr_rfree];
	struct ilog_rec *r = &q->recs[i];

	r->seq = t->seq++;
	r->sq_idx = sq_idx;
	memcpy(&r->sqe, s, sizeof(*s));
	__atomic_store_n(&r->state, ILOG_TAKEN, __ATOMIC_RELEASE);
	return i;
}

/*
 * Post a CQE for record @rec.  L2: the result and the CQ index it lands at
 * are recorded (state POSTING, release) before the CQE is written, and so
 * before the CQ tail that shows it (store-release in publish).
 */
static void log_post(struct poller *p, struct xqp *q, uint32_t rec,
		     uint64_t user_data, int res, uint32_t flags);

/*
 * Publish @q's CQ tail, then free the records of the CQEs it showed.  L3:
 * every FREE store stays after the tail store, so a record is never gone
 * while its CQE is invisible.  The FREE states are read only by the next
 * xiod, after this process died at some instruction boundary: program
 * order as emitted is what counts (a retired store is not lost by a kill),
 * so a compiler fence is the barrier -- the order a signal handler on this
 * thread would see.  (xio_host_cq_publish() also has a full fence, H6,
 * right after the tail store.)
 */
static int qp_publish(struct xqp *q)
{
	int ret = xio_host_cq_publish(q->hq);
	uint32_t i;

	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < q->nr_pend; i++) {
		uint32_t r = q->pend[i];

		__atomic_store_n(&q->recs[r].state, ILOG_FREE,
				 __ATOMIC_RELAXED);
		q->rfree[q->nr_rfree++] = r;
	}
	q->nr_pend = 0;
	return ret;
}

static void mark_dirty(struct poller *p, struct xqp *q)
{
	if (q->dirty)
		return;
	if (p->nr_dirty == p->dirty_cap) {
		/* Slow path, only grows: bounded by the qpairs served. */
		uint32_t cap = p->dirty_cap ? 2 * p->dirty_cap : 64;
		struct xqp **d = realloc(p->dirty, cap * sizeof(*d));

		if (!d) {
			/* Publish right away instead of batching. */
			if (qp_publish(q) == 1)
				notify_guest(p, q);
			return;
		}
		p->dirty = d;
		p->dirty_cap = cap;
	}
	q->dirty = true;
	p->dirty[p->nr_dirty++] = q;
}

static void log_post(struct poller *p, struct xqp *q, uint32_t rec,
		     uint64_t user_data, int res, uint32_t flags)
{
	struct ilog_rec *r = &q->recs[rec];
	uint32_t cq_idx;

	xio_host_qp_indices(q->hq, NULL, &cq_idx);
	r->res = res;
	r->cqe_flags = flags;
	r->cq_idx = cq_idx;
	__atomic_store_n(&r->state, ILOG_POSTING, __ATOMIC_RELEASE);
	/* Cannot fail: the SQE was taken with a reserved CQ slot. */
	xio_host_cq_post(q->hq, user_data, res, flags);
	q->pend[q->nr_pend++] = rec;
	mark_dirty(p, q);
}

void post(struct poller *p, struct xqp *q, uint32_t rec, uint64_t user_data,
	  int res)
{
	log_post(p, q, rec, user_data, res, 0);
	ctr_add(&q->t->st.completed, 1);
	if (res < 0)
		ctr_add(&q->t->st.errors, 1);
}

static void publish_dirty(struct poller *p)
{
	uint32_t i;

	uint64_t t0 = p->nr_dirty ? acct_now() : 0, t1;

	for (i = 0; i < p->nr_dirty; i++) {
		struct xqp *q = p->dirty[i];

		q->dirty = false;
		if (qp_publish(q) == 1 || q->notify_owed)
			notify_guest(p, q);
		t1 = acct_now();
		charge(p, q->t, t1 - t0);
		t0 = t1;
	}
	p->nr_dirty = 0;
}

/* ---- completions -------------------------------------------------------- */

/*
 * A kick poll fired: read (and so reset) the eventfd counter, which says
 * how many doorbells were rung since the last read -- several may share
 * one poll completion.  RWF_NOWAIT: the guest holds the fd too and may have
 * emptied it, and the poller must never block.  A syscall, but only on the
 * slow path: guests kick only a poller that asked for it (asleep).
 */
static uint64_t kick_drain(struct xqp *q)
{
	struct iovec iov;
	uint64_t v = 0;

	iov.iov_base = &v;
	iov.iov_len = sizeof(v);
	if (preadv2(q->kick_fd, &iov, 1, -1, RWF_NOWAIT) != sizeof(v))
		return 0;
	/* A guest writing huge values only inflates its own count. */
	return v < (1ULL << 32) ? v : (1ULL << 32);
}

static void tenant_unpark(struct poller *p, struct tenant *t);
static void cancel_ud(struct poller *p, uint64_t ud);

/*
 * A tenant held by its quota has no reason to kick: its rings do not ask
 * for it (poller_sleep()), and nothing would be taken before its bucket
 * refills, when the poller comes back to it anyway.  One that kicks all the
 * same would wake a sleeping poller on every kick: its kick polls are
 * cancelled until the hold ends (quota_admit() calls kick_resume()), so a
 * quota bounds its doorbell as well as its operations.  The tenant is
 * visited every round meanwhile (a held tenant is never parked).
 */
static void kick_pause(struct poller *p, struct tenant *t)
{
	uint32_t i;

	for (i = 0; i < t->nr_qpairs; i++) {
		struct xqp *q = &t->qps[i];

		if (q->kick_armed && !q->kick_paused) {
			q->kick_paused = true;
			cancel_ud(p, (uint64_t)(uintptr_t)q | TAG_KICK);
		}
	}
}

static void kick_resume(struct poller *p, struct tenant *t)
{
	uint32_t i;

	for (i = 0; i < t->nr_qpairs; i++) {
		struct xqp *q = &t->qps[i];

		if (!q->kick_paused)
			continue;
		q->kick_paused = false;
		/* Still armed: its cancel is on the way, and re-arms it. */
		if (!q->kick_armed && !q->broken)
			arm_kick(p, q);
	}
}

static void count_bytes(struct tenant *t, uint8_t opcode, int res)
{
	uint64_t *c;

	if (res <= 0)
		return;
	switch (opcode) {
	case XIO_OP_READ:
		c = &t->st.bytes_read;
		break;
	case XIO_OP_WRITE:
		c = &t->st.bytes_written;
		break;
	case XIO_OP_SEND:
		c = &t->st.bytes_sent;
		break;
	case XIO_OP_RECV:
		c = &t->st.bytes_received;
		break;
	case XIO_OP_PKT_SEND:
		ctr_add(&t->st.pkt_sent, 1);
		c = &t->st.bytes_sent;
		break;
	default:
		return;
	}
	ctr_add(c, (uint64_t)res);
}

/*
 * A request of a tenant being handed over (a clean stop, tenant_del()):
 * one that completed is posted as always; one that our cancellation ended
 * did not happen, so its record goes back to TAKEN and the next xiod
 * issues it again.  io_uring answers -ECANCELED only for a request it
 * removed before it ran: a RECV or SEND still waiting for its socket (the
 * poll-driven retry is disarmed and the request failed without being
 * issued again: io_uring/poll.c), work io-wq had not started; a RECV that
 * raced the cancel and got data completes with its data, and one an
 * io-wq worker was running ends -EINTR (posted: it may have happened).
 * xio sends and receives without MSG_WAITALL, so no partial transfer is
 * retried, and hidden, under a -ECANCELED (io_uring/net.c).
 */
static void op_handed_over(struct poller *p, struct op *op, int res)
{
	if (res != -ECANCELED) {
		post(p, op->q, op->rec, op->user_data, res);
		return;
	}
	__atomic_store_n(&op->q->recs[op->rec].state, ILOG_TAKEN,
			 __ATOMIC_RELEASE);
}

/* Returns the tenant the CQE was handled for (charged), or NULL. */
static struct tenant *handle_cqe(struct poller *p, uint64_t ud, int res,
				 unsigned flags)
{
	void *ptr = (void *)(uintptr_t)(ud & ~TAG_MASK);
	struct op *op;
	struct xqp *q;
	struct tenant *t;

	switch (ud & TAG_MASK) {
	case TAG_OP:
		op = ptr;
		t = op->t;
		if (t->handed)
			return NULL; /* left to the next xiod: not ours now */
		if (!t->draining) {
			res = xio__fault_cqe_res(res); /* fault builds only */
			post(p, op->q, op->rec, op->user_data, res);
		} else if (t->handover) {
			op_handed_over(p, op, res);
		}
		count_bytes(t, op->opcode, res);
		op_free(t, op);
		t->uring_refs--;
		ctr_add(&t->st.inflight, -1);
		return t;
	case TAG_KICK:
		q = ptr;
		t = q->t;
		if (t->handed)
			return NULL;
		if (res > 0) {
			ctr_add(&t->st.kicks, kick_drain(q));
			/* One sleep, one waker: the kick CQEs a multishot
			 * poll piled up while the poller slept (one per
			 * doorbell write) ended it together, not each. */
			if (p->woke && !p->waker && !t->draining) {
				ctr_add(&t->st.wakeups, 1);
				p->waker = t;
			}
			if (t->parked && !t->draining)
				tenant_unpark(p, t);
			if (t->tb_held && !t->draining)
				kick_pause(p, t);
		}
		if (!(flags & IORING_CQE_F_MORE)) {
			q->kick_armed = false;
			t->uring_refs--;
			if (res < 0 && res != -ECANCELED)
				log_warn(
					"tenant %u qp %u: kick poll: %s (timed sleeps from now on)",
					t->id, q->idx, strerror(-res));
			else if (!t->draining && !q->kick_paused)
				arm_kick(p, q);
			/* A parked tenant without its doorbell would never
			 * be visited again: back among the scanned. */
			if (!q->kick_armed && t->parked && !t->draining)
				tenant_unpark(p, t);
		}
		return t;
	case TAG_WAKE:
		if (!(flags & IORING_CQE_F_MORE)) {
			p->wake_armed = false;
			if (res >= 0 || res == -ECANCELED)
				arm_wake(p);
		}
		break;
	case TAG_XSK:
		pktio_xsk_cqe(ptr, res);
		break;
	case TAG_NOTIFY:
		q = ptr;
		if (q->t->handed)
			return NULL;
		q->notify_inflight = false;
		q->t->uring_refs--;
		/* A handover posts what completes while it waits: notified. */
		if (q->notify_again && (!q->t->draining || q->t->handover)) {
			q->notify_again = false;
			notify_guest(p, q);
		}
		if (res < 0 && res != -ECANCELED)
			log_debug("tenant %u: notify write: %s", q->t->id,
				  strerror(-res));
		return q->t;
	default:
		break;
	}
	return NULL;
}

static bool reap(struct poller *p)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0, kicks = 0;
	uint64_t t0 = acct_now(), t1;
	struct tenant *t;

	/* Overflowed CQEs are only flushed by entering the kernel. */
	if (IO_URING_READ_ONCE(*p->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW) {
		if (xio__fault_enabled(XIO_FAULT_CQ_OVERFLOW)) {
			xio__fault_count(XIO_FAULT_CQ_OVERFLOW);
			xio__fault_retried(XIO_FAULT_CQ_OVERFLOW);
		}
		io_uring_get_events(&p->ring);
	}
	io_uring_for_each_cqe(&p->ring, head, cqe)
	{
		t = handle_cqe(p, cqe->user_data, cqe->res, cqe->flags);
		t1 = acct_now();
		if (t)
			charge(p, t, t1 - t0);
		t0 = t1;
		n++;
		kicks += (cqe->user_data & TAG_MASK) == TAG_KICK;
	}
	if (n)
		io_uring_cq_advance(&p->ring, n);
	p->woke = false;
	/* A doorbell alone is no work: it extends no idle window (the visit
	 * it leads to is work if it finds some). */
	return n != kicks;
}

/* ---- taking SQEs -------------------------------------------------------- */

static bool is_sock_op(uint8_t op)
{
	return op == XIO_OP_SEND || op == XIO_OP_RECV;
}

static void dispatch(struct poller *p, struct tenant *t, struct xqp *q,
		     const struct xio_sqe *s, uint32_t rec, uint64_t *bytes)
{
	struct io_uring_sqe *us;
	const struct target *tg;
	uint32_t nt;
	struct op *op;
	void *buf = NULL;
	uint8_t hdr[14];
	int res, fd;

	if (s->opcode == XIO_OP_NOP) {
		post(p, q, rec, s->user_data, 0);
		return;
	}
	if (s->opcode == XIO_OP_PKT_RECV) {
		pktio_rx_post(p, t, q, s, rec); /* waits for a frame */
		return;
	}
	if (s->opcode == XIO_OP_PKT_SEND) {
		/* target: a steering port, not a target */
		fd = pktio_tx_fd(s->target, s->len);
		if (fd < 0) {
			res = fd;
			goto inline_done;
		}
		goto have_fd;
	}
	/* Pairs with the store-release in control.c target_install(). */
	nt = __atomic_load_n(&t->nr_targets, __ATOMIC_ACQUIRE);
	if (s->target >= nt) {
		res = -EBADF;
		goto inline_done;
	}
	tg = &t->targets[s->target];
	if (is_sock_op(s->opcode) != !!(tg->flags & XIO_TARGET_SOCKET)) {
		res = (tg->flags & XIO_TARGET_SOCKET) ? -EOPNOTSUPP : -ENOTSOCK;
		goto inline_done;
	}
	if (s->opcode == XIO_OP_WRITE && (tg->flags & XIO_TARGET_RDONLY)) {
		res = -EROFS;
		goto inline_done;
	}
	fd = tg->fd;
have_fd:
	if (s->opcode != XIO_OP_FSYNC) {
		/* Validated by xio_host_sq_take(); bounds-checked again here. */
		buf = xio_host_buf(t->region, s->buf_index, s->buf_off, s->len);
		if (!buf) {
			res = -EINVAL;
			goto inline_done;
		}
	}
	if (s->opcode == XIO_OP_PKT_SEND) {
		res = pktio_tx_check(t, buf, hdr); /* hdr: sent from there */
		if (res)
			goto inline_done;
	}
	op = op_alloc(t);
	us = io_uring_get_sqe(&p->ring);
	if (!op || !us) {
		/* Not reached: visit() takes no more than both allow. */
		if (op)
			op_free(t, op);
		res = -EAGAIN;
		goto inline_done;
	}
	/* No longer safe to run again after a restart (ilog.h): marked before
	 * io_uring can see it (io_uring_submit() comes after, a call). */
	if (ilog_op_unsure(s->opcode)) {
		__atomic_store_n(&q->recs[rec].state, ILOG_ISSUED,
				 __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	}
	op->t = t;
	op->q = q;
	op->rec = rec;
	op->user_data = s->user_data;
	op->opcode = s->opcode;
	switch (s->opcode) {
	case XIO_OP_READ:
		if (t->fixed_slot >= 0)
			io_uring_prep_read_fixed(us, fd, buf, s->len, s->off,
						 t->fixed_slot);
		else
			io_uring_prep_read(us, fd, buf, s->len, s->off);
		break;
	case XIO_OP_WRITE:
		if (t->fixed_slot >= 0)
			io_uring_prep_write_fixed(us, fd, buf, s->len, s->off,
						  t->fixed_slot);
		else
			io_uring_prep_write(us, fd, buf, s->len, s->off);
		break;
	case XIO_OP_FSYNC:
		io_uring_prep_fsync(us, fd, 0);
		break;
	case XIO_OP_SEND:
		io_uring_prep_send(us, fd, buf, s->len, MSG_NOSIGNAL);
		break;
	case XIO_OP_PKT_SEND:
		io_uring_prep_sendmsg(us, fd,
				      pktio_tx_prep(t, op, hdr, buf, s->len),
				      MSG_NOSIGNAL);
		break;
	default: /* XIO_OP_RECV: the validator admits nothing else */
		io_uring_prep_recv(us, fd, buf, s->len, 0);
		break;
	}
	io_uring_sqe_set_data64(us, (uint64_t)(uintptr_t)op | TAG_OP);
	if (!t->sub_n++)
		p->sub_list[p->nr_sub++] = t;
	t->uring_refs++;
	ctr_add(&t->st.inflight, 1);
	if (t->st.inflight > t->st.inflight_max)
		ctr_add(&t->st.inflight_max,
			t->st.inflight - t->st.inflight_max);
	*bytes += s->len;
	return;
inline_done:
	post(p, q, rec, s->user_data, res);
}

/* An entry refused by validation (counted by the library's stats). */
static void refuse(struct poller *p, struct xqp *q, uint32_t rec,
		   uint64_t user_data)
{
	log_post(p, q, rec, user_data, -EINVAL, XIO_CQE_F_INVALID);
}

/*
 * Requests recovered from the in-flight log after a restart (control.c
 * reattach), finished before the tenant's new SQEs in sequence order: the
 * ones that need an in-flight slot wait for one.  Returns whether some are
 * still left.
 */
static bool resubmit(struct poller *p, struct tenant *t, uint64_t *bytes)
{
	while (t->resub_pos < t->nr_resub) {
		const struct ilog_fix *f = &t->resub[t->resub_pos];
		struct xqp *q = &t->qps[f->qp];

		if (f->status == -EINVAL) {
			refuse(p, q, f->rec, f->sqe.user_data);
			ctr_add(&t->st.invalid, 1);
			ctr_add(&t->st.completed, 1);
		} else if (f->status) {
			/* Issued before the kill: may have happened. */
			post(p, q, f->rec, f->sqe.user_data, f->status);
		} else {
			if (f->sqe.opcode != XIO_OP_NOP &&
			    (!t->nr_free ||
			     io_uring_sq_space_left(&p->ring) <= SQ_RESERVE))
				return true;
			dispatch(p, t, q, &f->sqe, f->rec, bytes);
		}
		t->resub_pos++;
	}
	free(t->resub);
	t->resub = NULL;
	t->nr_resub = t->resub_pos = 0;
	return false;
}

/*
 * Quotas (docs/accounting.md): refill the tenant's token buckets and size
 * this visit: cfg.budget_entries per queue pair and cfg.budget_bytes, at
 * most the tokens it holds.  No syscall: acct_now() is the TSC.  Returns
 * false (and counts a throttled visit) when a bucket is empty, with
 * t->tb_until set to when it holds enough again (poller_sleep() sleeps
 * until then).  The weight does not size visits: it is a share of poller
 * time (round_robin()).
 */
#define BURST_DIV 20  /* a bucket holds 1/20 s of its rate */
#define BATCH_DIV 200 /* a dry bucket waits for 5 ms of its rate */

static double bucket(double tok, uint64_t rate, uint64_t *seen, double dt_s,
		     double min_burst)
{
	double burst = (double)rate / BURST_DIV;

	if (burst < min_burst)
		burst = min_burst;
	if (rate != *seen) {
		*seen = rate;
		return burst; /* a new rate starts with a full bucket */
	}
	tok += (double)rate * dt_s;
	return tok > burst ? burst : tok;
}

/*
 * Seconds until @tok holds a batch at @rate/s: 1/BATCH_DIV s of its rate,
 * at least @min (0 if it has or no rate).
 */
static double refill_s(double tok, double min, uint64_t rate)
{
	double want = (double)rate / BATCH_DIV;

	if (want < min)
		want = min;
	return rate && tok < want ? (want - tok) / (double)rate : 0;
}

static bool quota_admit(struct poller *p, struct tenant *t, uint32_t *entries,
			uint32_t *bytes, uint64_t *ops_left)
{
	uint64_t orate = __atomic_load_n(&t->q_ops_rate, __ATOMIC_RELAXED);
	uint64_t brate = __atomic_load_n(&t->q_bytes_rate, __ATOMIC_RELAXED);

	*ops_left = UINT64_MAX;
	*entries = cfg.budget_entries;
	*bytes =
		cfg.budget_bytes < t->buf_size ? t->buf_size : cfg.budget_bytes;
	t->tb_until = 0;
	if (orate || brate || t->tb_ops_rate || t->tb_bytes_rate) {
		uint64_t now = acct_now();
		double dt = (double)acct_ns(now - t->tb_last) / 1e9, wait;

		t->tb_last = now;
		t->tb_ops = bucket(t->tb_ops, orate, &t->tb_ops_rate, dt, 1);
		t->tb_bytes = bucket(t->tb_bytes, brate, &t->tb_bytes_rate, dt,
				     t->buf_size);
		/*
		 * A dry bucket holds the tenant until it has refilled a
		 * batch (5 ms of its rate), not a single token: served a token
		 * at a time, a held tenant would get a completion every 1/rate
		 * s, too often for its guest ever to sleep in xio_wait_cqe(),
		 * and it would spin on a CPU its neighbours need; served a
		 * batch every 5 ms, the ~100 us that xio_wait_cqe() spins
		 * before sleeping is 2 % of a CPU.  The rate is the same.
		 */
		if ((orate && t->tb_ops < 1) || (brate && t->tb_bytes <= 0))
			t->tb_held = true;
		wait = t->tb_held ? refill_s(t->tb_ops, 1, orate) : 0;
		if (wait < refill_s(t->tb_bytes, 1, brate) && t->tb_held)
			wait = refill_s(t->tb_bytes, 1, brate);
		if (wait > 0) {
			ctr_add(&t->st.throttled, 1);
			t->tb_until =
				now + 1 +
				(uint64_t)(wait * 1e9 / acct_ns_per_cycle);
			return false;
		}
		t->tb_held = false;
		kick_resume(p, t);
		if (orate)
			*ops_left = (uint64_t)t->tb_ops;
		if (brate && t->tb_bytes < *bytes)
			*bytes = (uint32_t)t->tb_bytes;
	}
	return true;
}

/*
 * A queue pair quarantined: its guest broke the index protocol (a tail or
 * CQ head outside the ring).  Other queue pairs and tenants go on.
 */
static void qp_quarantine(struct tenant *t, struct xqp *q)
{
	q->broken = true;
	__atomic_store_n(&t->st.broken, 1, __ATOMIC_RELAXED);
	log_warn("tenant %u '%s' qp %u quarantined: ring indices out of range",
		 t->id, t->name, q->idx);
}

/*
 * A ring not taken from (the tenant at its in-flight cap, throttled, or out
 * of budget) still has its published tail checked: one load and a compare
 * (a take of 0 entries), so a broken tail is quarantined at once rather than
 * once the ring is served again (reliability anchor A2).
 */
static bool qp_check_tail(struct tenant *t, struct xqp *q)
{
	if (q->broken)
		return false;
	if (xio_host_sq_take(q->hq, NULL, 0) < 0) {
		qp_quarantine(t, q);
		return false;
	}
	return xio_host_sq_pending(q->hq) != 0; /* entries left waiting */
}

/*
 * One visit: at most cfg.budget_entries SQEs per queue pair and, across the
 * tenant, at most cfg.budget_bytes plus one request, so no tenant holds the
 * poller.  Returns V_WORK if anything was taken (or refused), V_HELD if
 * entries wait that could not be taken (quota, in-flight cap, full CQ),
 * V_IDLE otherwise.
 */
enum visit_res {
	V_IDLE,
	V_WORK,
	V_HELD
};

static enum visit_res visit(struct poller *p, struct tenant *t)
{
	struct xio_sqe sqes[TAKE_BATCH];
	int32_t status[TAKE_BATCH];
	struct xio_host_qp_stats st;
	uint64_t bytes = 0, ops_left, taken_all = 0, w;
	uint32_t budget_entries, budget_bytes, cap, used;
	bool work = false, held = false, looked;
	uint32_t i;

	w = __atomic_load_n(&t->q_weight, __ATOMIC_RELAXED);
	if (w != t->vt_weight) {
		t->vt_weight = w;
		t->vt_mul = vt_mul_of(w);
	}
	if (t->nr_resub && resubmit(p, t, &bytes))
		return V_WORK; /* new SQEs wait behind the recovered ones */
	if (!quota_admit(p, t, &budget_entries, &budget_bytes, &ops_left)) {
		for (i = 0; i < t->nr_qpairs; i++)
			held |= qp_check_tail(t, &t->qps[i]);
		return held ? V_HELD : V_IDLE;
	}
	cap = __atomic_load_n(&t->q_inflight, __ATOMIC_RELAXED);
	for (i = 0; i < t->nr_qpairs; i++) {
		struct xqp *q = &t->qps[i];
		uint32_t taken = 0, before_invalid, before_full;

		if (q->broken)
			continue;
		looked = false;
		xio_host_qp_get_stats(q->hq, &st);
		before_invalid = (uint32_t)st.invalid;
		before_full = (uint32_t)st.cq_full;
		while (taken < budget_entries && bytes < budget_bytes &&
		       taken_all < ops_left) {
			uint32_t max = budget_entries - taken, space, j, fit;
			uint32_t first;
			int n;

			if (max > TAKE_BATCH)
				max = TAKE_BATCH;
			if (max > ops_left - taken_all)
				max = (uint32_t)(ops_left - taken_all);
			/*
			 * Only as many as cannot overshoot the byte budget
			 * even if each is as large as a pool slot: so a
			 * visit ends within one request of the budget.
			 */
			fit = (budget_bytes - (uint32_t)bytes) / t->buf_size;
			if (max > fit)
				max = fit ? fit : 1;
			if (max > t->nr_free)
				max = t->nr_free; /* in-flight slots */
			if (max > q->nr_rfree)
				max = q->nr_rfree; /* not reached: see log_take */
			used = t->nr_ops - t->nr_free;
			if (max > (cap > used ? cap - used : 0))
				max = cap > used ? cap - used : 0; /* quota */
			space = io_uring_sq_space_left(&p->ring);
			if (space < max + SQ_RESERVE) {
				io_uring_submit(&p->ring);
				space = io_uring_sq_space_left(&p->ring);
				if (space < SQ_RESERVE)
					break;
				if (max > space - SQ_RESERVE)
					max = space - SQ_RESERVE;
			}
			if (!max)
				break;
			looked = true;
			n = xio_host_sq_take_held(q->hq, sqes, status, max,
						  &first);
			if (n < 0) {
				qp_quarantine(t, q);
				break;
			}
			for (j = 0; j < (uint32_t)n; j++) {
				uint32_t rec =
					log_take(t, q, &sqes[j], first + j);

				if (status[j])
					refuse(p, q, rec, sqes[j].user_data);
				else
					dispatch(p, t, q, &sqes[j], rec,
						 &bytes);
			}
			/* L1: after the records above. */
			if (n)
				xio_host_sq_publish(q->hq);
			taken += (uint32_t)n;
			taken_all += (uint32_t)n;
			if ((uint32_t)n < max)
				break;
		}
		if (!looked)
			held |= qp_check_tail(t, q);
		xio_host_qp_get_stats(q->hq, &st);
		if ((uint32_t)st.invalid != before_invalid) {
			/* Refused SQEs were answered by refuse(). */
			uint32_t refused =
				(uint32_t)st.invalid - before_invalid;

			ctr_add(&t->st.invalid, refused);
			ctr_add(&t->st.completed, refused);
			taken -= refused; /* counted apart, as before */
			work = true;
		}
		q->cq_blocked = !taken && (uint32_t)st.cq_full != before_full;
		held |= q->cq_blocked;
		if (taken) {
			ctr_add(&t->st.taken, taken);
			if (taken > t->st.max_visit_entries)
				__atomic_store_n(&t->st.max_visit_entries,
						 taken, __ATOMIC_RELAXED);
			work = true;
		}
	}
	if (t->tb_ops_rate)
		t->tb_ops -= (double)taken_all;
	if (t->tb_bytes_rate)
		t->tb_bytes -= (double)bytes;
	if (bytes > t->st.max_visit_bytes)
		__atomic_store_n(&t->st.max_visit_bytes, bytes,
				 __ATOMIC_RELAXED);
	return work ? V_WORK : held ? V_HELD : V_IDLE;
}

/*
 * Parking: a tenant that brought no work for cfg.park_us while the poller
 * stays busy with others gets NEED_WAKEUP on its rings (the same
 * store-fence-recheck as before a sleep) and is skipped by the rounds until
 * its kick poll fires.  Scanning idle tenants then costs a busy poller
 * nothing (reliability anchor E5).  A ring with entries it cannot take
 * (full CQ, in-flight cap) shows as pending and keeps its tenant active;
 * a tenant whose kick poll is not armed is never parked.
 */
static void tenant_park(struct tenant *t)
{
	bool pending = false;
	uint32_t i;

	if (t->no_doorbell)
		return; /* it could never wake up */
	for (i = 0; i < t->nr_qpairs; i++)
		if (!t->qps[i].broken && !t->qps[i].kick_armed)
			return;
	for (i = 0; i < t->nr_qpairs; i++)
		if (!t->qps[i].broken && xio_host_sq_arm_wakeup(t->qps[i].hq))
			pending = true;
	if (!pending) {
		t->parked = true;
		ctr_add(&t->st.parks, 1);
		return;
	}
	for (i = 0; i < t->nr_qpairs; i++)
		if (!t->qps[i].broken)
			xio_host_sq_clear_wakeup(t->qps[i].hq);
}

static void tenant_unpark(struct poller *p, struct tenant *t)
{
	uint32_t i;

	/* Back among the scanned: out of parked[], into tenants[]. */
	p->parked[t->pidx] = p->parked[--p->nr_parked];
	p->parked[t->pidx]->pidx = t->pidx;
	p->tenants[p->nr_tenants++] = t;
	t->parked = false;
	t->backlog = false;
	vt_level(p, t, 0);
	t->last_work_us = now_us();
	for (i = 0; i < t->nr_qpairs; i++)
		if (!t->qps[i].broken)
			xio_host_sq_clear_wakeup(t->qps[i].hq);
}

/*
 * A visit that found work is the tenant's, less the fixed part that an
 * empty visit costs too (tail loads, quota check, clock reads): that part
 * is shared out by work like a submit's (charge_shared()), so a tenant
 * whose visits each carry one request is not billed more per request than
 * one whose visits carry many.  An empty visit is idle time; its cost, as
 * a running average (1/16) that ignores samples over twice the average (a
 * visit preempted in the middle), is the fixed part.
 */
static inline void visit_charged(struct poller *p, struct tenant *t, bool work,
				 uint64_t cyc)
{
	uint64_t fixed;

	if (!work) {
		p->acct_empty += cyc;
		if (!p->visit_cyc)
			p->visit_cyc = cyc;
		else if (cyc <= 2 * p->visit_cyc)
			p->visit_cyc =
				p->visit_cyc - p->visit_cyc / 16 + cyc / 16;
		return;
	}
	fixed = cyc < p->visit_cyc ? cyc : p->visit_cyc;
	charge_shared(p, fixed);
	charge(p, t, cyc - fixed);
}

/*
 * One round over the scanned tenants.  Weighted fair share (docs/
 * accounting.md): each tenant's virtual time is its attributed poller time
 * divided by its weight.  p->vclock is the least virtual time of the
 * tenants that got work done last round or sat it out; a backlogged tenant
 * (its last visit took something, or was held back with entries waiting)
 * more than a quantum ahead of it sits the round out, so under contention
 * poller time goes to tenants in proportion to their weights.  A tenant
 * whose visit finds nothing is levelled up to p->vclock (idle time banks no
 * credit); one held back by its quota, in-flight cap or full CQ keeps at
 * most VT_LAG_NS of credit.  The slowest is always visited and a tenant
 * without backlog every round (it may have new work), so nothing waits on
 * a clock that does not move.  Cost: a multiply and a compare per tenant
 * per round.
 */
static bool round_robin(struct poller *p)
{
	uint32_t n = p->nr_tenants, start, i, k;
	uint64_t now = cfg.park_us ? now_us() : 0, c0, c1, vmin = UINT64_MAX;
	uint64_t vlimit = p->vclock + p->vt_quantum;
	bool work = false, parked = false;

	if (!n)
		return false;
	start = p->rr++ % n;
	c0 = acct_now();
	for (i = 0; i < n; i++) {
		struct tenant *t = p->tenants[(start + i) % n];
		uint64_t vt = tenant_vtime(t);
		enum visit_res r;
		bool w;

		if (t->backlog && vt > vlimit) {
			if (vt < vmin)
				vmin = vt;
			continue; /* ahead of its share: not this round */
		}
		r = visit(p, t);
		w = r == V_WORK;
		c1 = acct_now();
		visit_charged(p, t, w, c1 - c0);
		c0 = c1;
		t->backlog = r != V_IDLE;
		if (w) {
			vt = tenant_vtime(t);
			if (vt < vmin)
				vmin = vt;
			work = true;
			t->last_work_us = now;
		} else {
			vt_level(p, t, r == V_HELD ? p->vt_lag : 0);
		}
		/* Held means entries wait: it could not park (and arming
		 * NEED_WAKEUP on it would only draw needless kicks). */
		if (r == V_IDLE && cfg.park_us &&
		    now - t->last_work_us >= cfg.park_us) {
			tenant_park(t);
			parked |= t->parked;
		}
	}
	if (vmin != UINT64_MAX)
		p->vclock = vmin;
	if (!parked)
		return work;
	/* Move the newly parked out of the scanned array. */
	for (i = 0, k = 0; i < n; i++) {
		struct tenant *t = p->tenants[i];

		if (t->parked) {
			t->pidx = p->nr_parked;
			p->parked[p->nr_parked++] = t;
		} else {
			p->tenants[k++] = t;
		}
	}
	p->nr_tenants = k;
	return work;
}

/*
 * Submit what the iteration queued.  Buffered I/O on cached data runs
 * inside io_uring_submit(): that time is charged to the tenants whose SQEs
 * were queued, in proportion to their count (what a visit submitted itself
 * when the SQ was full is already in its visit).  The list is emptied
 * every iteration, before drain_check() may hand a tenant back.
 */
static void submit_charged(struct poller *p)
{
	uint64_t c0 = acct_now(), cyc, total = 0, fixed;
	uint32_t i;

	if (io_uring_sq_ready(&p->ring))
		xio__fault_submit(&p->ring); /* fault builds: retried */
	cyc = acct_now() - c0;
	for (i = 0; i < p->nr_sub; i++)
		total += p->sub_list[i]->sub_n;
	if (total) {
		fixed = cyc < p->enter_cyc ? cyc : p->enter_cyc;
		charge_shared(p, fixed);
		cyc -= fixed;
	}
	for (i = 0; i < p->nr_sub; i++) {
		struct tenant *t = p->sub_list[i];

		charge(p, t, cyc * t->sub_n / total);
		t->sub_n = 0;
	}
	p->nr_sub = 0;
}

/* ---- tenant add / drain ------------------------------------------------- */

static void fixed_register(struct poller *p, struct tenant *t)
{
	const struct xio_layout *l = xio_region_layout(t->region);
	struct iovec iov;
	__u64 tag = 0;
	unsigned int slot;
	int ret;

	t->fixed_slot = -1;
	if (!p->fixed_ok || !l->pool_size || l->pool_size > (1ULL << 30))
		return;
	for (slot = 0; slot < XIOD_MAX_TENANTS_PER_POLLER; slot++)
		if (!p->slot_used[slot])
			break;
	if (slot == XIOD_MAX_TENANTS_PER_POLLER)
		return;
	iov.iov_base = (char *)xio_region_base(t->region) + l->pool_off;
	iov.iov_len = l->pool_size;
	ret = io_uring_register_buffers_update_tag(&p->ring, slot, &iov, &tag,
						   1);
	if (ret < 0) {
		log_info(
			"tenant %u: pool not registered as a fixed buffer (%s): plain READ/WRITE",
			t->id, strerror(-ret));
		return;
	}
	p->slot_used[slot] = 1;
	t->fixed_slot = (int)slot;
}

static void fixed_unregister(struct poller *p, struct tenant *t)
{
	struct iovec iov = {NULL, 0};
	__u64 tag = 0;

	if (t->fixed_slot < 0)
		return;
	io_uring_register_buffers_update_tag(&p->ring, (unsigned)t->fixed_slot,
					     &iov, &tag, 1);
	p->slot_used[t->fixed_slot] = 0;
	t->fixed_slot = -1;
}

static void tenant_add(struct poller *p, struct tenant *t)
{
	uint32_t i;

	if (p->nr_tenants + p->nr_parked == XIOD_MAX_TENANTS_PER_POLLER) {
		/* control.c never assigns more; drain it at once if it did. */
		t->draining = true;
		p->draining[p->nr_draining++] = t;
		return;
	}
	fixed_register(p, t);
	pktio_tenant_add(p, t);
	t->parked = false;
	t->backlog = false;
	t->vtime = p->vclock;
	t->vt_weight = __atomic_load_n(&t->q_weight, __ATOMIC_RELAXED);
	t->vt_mul = vt_mul_of(t->vt_weight);
	t->last_work_us = now_us();
	for (i = 0; i < t->nr_qpairs; i++) {
		arm_kick(p, &t->qps[i]);
		/* Re-adopted (control.c): wake a guest that waits. */
		if (t->qps[i].notify_owed)
			notify_guest(p, &t->qps[i]);
	}
	p->tenants[p->nr_tenants++] = t;
	log_debug("poller %u: serving tenant %u", p->idx, t->id);
}

static void cancel_ud(struct poller *p, uint64_t ud)
{
	struct io_uring_sqe *s = get_sqe(p);

	if (!s)
		return; /* the op completes on its own; the drain waits */
	io_uring_prep_cancel64(s, ud, 0);
	io_uring_sqe_set_data64(s, TAG_CANCEL);
}

/* pktio.c: a one-shot POLLIN on AF_XDP socket @fd of @x; false: no SQE. */
bool poller_arm_xsk(struct poller *p, int fd, struct xsk *x)
{
	struct io_uring_sqe *s = get_sqe(p);

	if (!s)
		return false;
	io_uring_prep_poll_add(s, fd, POLLIN);
	io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)x | TAG_XSK);
	return true;
}

void poller_cancel_xsk(struct poller *p, struct xsk *x)
{
	cancel_ud(p, (uint64_t)(uintptr_t)x | TAG_XSK);
}

/*
 * Cancel @t's io_uring requests: all of them, or (a handover's first
 * phase) only what can end by nothing else -- RECVs waiting for data and
 * the kick polls; the rest is waited for (a notify write included: the
 * completions posted meanwhile are signalled).
 */
static void tenant_cancel(struct poller *p, struct tenant *t, bool all)
{
	uint32_t i;

	for (i = 0; i < t->nr_ops; i++)
		if (t->ops[i].in_use &&
		    (all || t->ops[i].opcode == XIO_OP_RECV))
			cancel_ud(p, (uint64_t)(uintptr_t)&t->ops[i] | TAG_OP);
	for (i = 0; i < t->nr_qpairs; i++) {
		if (t->qps[i].kick_armed)
			cancel_ud(p,
				  (uint64_t)(uintptr_t)&t->qps[i] | TAG_KICK);
		if (t->qps[i].notify_inflight && all)
			cancel_ud(p,
				  (uint64_t)(uintptr_t)&t->qps[i] | TAG_NOTIFY);
	}
}

/*
 * Stop serving @t, cancel what it has in io_uring; drain_check() ends it.
 * A handover (@handover: a clean stop with a state directory) keeps what
 * the next xiod re-adopts: the records of requests not taken further stay
 * TAKEN (PKT_RECV buffers waiting for a frame included: pktio_tenant_del()
 * leaves their records), RECVs are cancelled, everything else gets
 * --stop-wait to complete and be posted.
 */
static void tenant_del(struct poller *p, struct tenant *t, bool handover)
{
	uint32_t i;

	pktio_tenant_del(p, t); /* its posted RX buffers: not in io_uring */
	if (t->parked) {
		p->parked[t->pidx] = p->parked[--p->nr_parked];
		p->parked[t->pidx]->pidx = t->pidx;
		t->parked = false;
	}
	for (i = 0; i < p->nr_tenants; i++) {
		if (p->tenants[i] == t) {
			p->tenants[i] = p->tenants[--p->nr_tenants];
			break;
		}
	}
	t->draining = true;
	if (handover) /* t->handover: set by control.c before the command */
		t->ho_until = now_us() + (uint64_t)cfg.stop_wait * 1000000;
	tenant_cancel(p, t, !handover);
	for (i = 0; i < t->nr_qpairs; i++)
		if (!t->qps[i].broken)
			xio_host_sq_clear_wakeup(t->qps[i].hq);
	p->draining[p->nr_draining++] = t;
}

/*
 * A handover past --stop-wait: everything left is cancelled, and a second
 * later (a request a device holds cannot be) the tenant is handed back
 * with what is still in flight: its records stay TAKEN or ISSUED, for the
 * restart machinery that handles a kill -9 (and the restart barrier).
 */
static bool handover_expired(struct poller *p, struct tenant *t)
{
	if (!t->handover || now_us() < t->ho_until)
		return false;
	if (t->ho_cancelled)
		return true;
	log_warn(
		"tenant %u '%s': %u request(s) still in flight after --stop-wait %u s: cancelled",
		t->id, t->name, t->uring_refs, cfg.stop_wait);
	tenant_cancel(p, t, true);
	t->ho_cancelled = true;
	t->ho_until = now_us() + 1000000;
	return false;
}

static void drain_check(struct poller *p)
{
	uint32_t i = 0;

	while (i < p->nr_draining) {
		struct tenant *t = p->draining[i];

		if (t->uring_refs && !handover_expired(p, t)) {
			i++;
			continue;
		}
		/* Read by control once it has t back (the list's mutex). */
		t->ho_left = t->uring_refs;
		t->handed = t->uring_refs != 0;
		fixed_unregister(p, t);
		p->draining[i] = p->draining[--p->nr_draining];
		win_forget(p, t);
		if (p->waker == t)
			p->waker = NULL;
		control_tenant_drained(t);
	}
}

static void inbox_process(struct poller *p)
{
	struct pcmd *c, *next;
	uint64_t v;

	pthread_mutex_lock(&p->lock);
	c = p->inbox;
	p->inbox = NULL;
	p->inbox_tail = &p->inbox;
	__atomic_store_n(&p->inbox_pending, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->lock);
	/* Reset the doorbell; it is ours alone and non-blocking. */
	if (read(p->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("poller %u: wake fd: %s", p->idx, strerror(errno));
	for (; c; c = next) {
		next = c->next;
		switch (c->type) {
		case XIO_PCMD_ADD:
			tenant_add(p, c->t);
			break;
		case XIO_PCMD_DEL:
		case XIO_PCMD_HANDOVER:
			tenant_del(p, c->t, c->type == XIO_PCMD_HANDOVER);
			break;
		case XIO_PCMD_STOP:
			p->stop = true;
			break;
		case XIO_PCMD_XSK_ADD:
			pktio_xsk_add(p, c->arg);
			break;
		case XIO_PCMD_XSK_DEL:
			pktio_xsk_del(p, c->arg);
			break;
		}
		free(c);
	}
}

static void pcmd_send(struct poller *p, enum pcmd_type type, struct tenant *t,
		      void *arg)
{
	struct pcmd *c = calloc(1, sizeof(*c));
	uint64_t one = 1;

	if (!c) {
		/* Commands must not be lost: wait for memory. */
		while (!(c = calloc(1, sizeof(*c))))
			usleep(1000);
	}
	c->type = type;
	c->t = t;
	c->arg = arg;
	pthread_mutex_lock(&p->lock);
	*p->inbox_tail = c;
	p->inbox_tail = &c->next;
	__atomic_store_n(&p->inbox_pending, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&p->lock);
	if (write(p->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("poller %u: wake: %s", p->idx, strerror(errno));
}

void poller_send(struct poller *p, enum pcmd_type type, struct tenant *t)
{
	pcmd_send(p, type, t, NULL);
}

void poller_send_arg(struct poller *p, enum pcmd_type type, void *arg)
{
	pcmd_send(p, type, NULL, arg);
}

/* An empty inbox pass: resets the doorbell, ends a sleep. */
void poller_kick(struct poller *p)
{
	uint64_t one = 1;

	__atomic_store_n(&p->inbox_pending, 1, __ATOMIC_RELEASE);
	if (write(p->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("poller %u: wake: %s", p->idx, strerror(errno));
}

/* ---- sleeping ----------------------------------------------------------- */

/*
 * Whether the administrator changed @t's rates since its buckets last ran:
 * a throttled tenant is then served at once.  A change while the poller
 * sleeps is seen within THROTTLED_SLEEP_NS.
 */
static bool quota_changed(const struct tenant *t)
{
	return __atomic_load_n(&t->q_ops_rate, __ATOMIC_RELAXED) !=
		       t->tb_ops_rate ||
	       __atomic_load_n(&t->q_bytes_rate, __ATOMIC_RELAXED) !=
		       t->tb_bytes_rate;
}

/*
 * Whether @t's pending entries could be taken now: not while it sits at its
 * in-flight cap (its own completions wake the poller).
 */
static bool below_cap(const struct tenant *t)
{
	uint32_t cap = __atomic_load_n(&t->q_inflight, __ATOMIC_RELAXED);

	return t->nr_free && t->nr_ops - t->nr_free < cap;
}

/*
 * Arm NEED_WAKEUP everywhere, then sleep unless a tail moved.  A ring whose
 * entries cannot be taken until the guest drains its CQ (cq_blocked) or
 * that lost its kick poll only earns a timed sleep; one blocked on its
 * in-flight cap is woken by its own completions.  A tenant throttled by its
 * quota at its last visit is not armed (its guest need not kick: nothing
 * would be taken): the sleep ends when its bucket has refilled.
 */
static void poller_sleep(struct poller *p)
{
	/* An AF_XDP socket without its poll could not wake us: timed. */
	/* Draining tenants: a handover's --stop-wait ends on time. */
	bool pending = false, timed = !p->wake_armed ||
				      !pktio_sleep_prepare(p) || p->nr_draining;
	uint64_t now = acct_now(), until = UINT64_MAX;
	uint32_t i, j;
	int ret;

	for (i = 0; i < p->nr_tenants; i++) {
		struct tenant *t = p->tenants[i];

		if (t->no_doorbell)
			timed = true; /* polled: its submits cannot wake us */
		if (t->tb_until) {
			if (t->tb_until <= now || quota_changed(t))
				pending = true; /* refilled: serve it */
			else if (t->tb_until < until)
				until = t->tb_until;
		}
		for (j = 0; j < t->nr_qpairs; j++) {
			struct xqp *q = &t->qps[j];

			if (q->broken)
				continue;
			if (q->notify_owed)
				notify_guest(p, q);
			/* A paused kick poll: held, so tb_until bounds it. */
			if ((!q->kick_armed && !q->kick_paused) ||
			    q->notify_owed)
				timed = true;
			if (t->tb_until || !xio_host_sq_arm_wakeup(q->hq))
				continue;
			/*
			 * Entries wait.  A tail published before the flag drew
			 * no doorbell, and one the last round did not look at
			 * (the tenant sat it out, or its kick was reaped by a
			 * pass that skipped it) would be slept on: validate it
			 * now, so a broken one is quarantined (anchor A2).
			 */
			if (!qp_check_tail(t, q)) {
				pending |= q->broken;
				continue;
			}
			if (q->cq_blocked)
				timed = true;
			else if (below_cap(t))
				pending = true;
		}
	}
	if (__atomic_load_n(&p->inbox_pending, __ATOMIC_ACQUIRE) ||
	    pktio_sleep_pending(p))
		pending = true;
	if (!pending) {
		uint64_t ns = timed ? TIMED_SLEEP_NS : UINT64_MAX;

		if (until != UINT64_MAX && acct_ns(until - now) < ns) {
			ns = acct_ns(until - now) + 1;
			if (ns > THROTTLED_SLEEP_NS)
				ns = THROTTLED_SLEEP_NS;
		}
		ctr_add(&p->sleeps, 1);
		if (ns != UINT64_MAX) {
			struct __kernel_timespec ts = {
				(long long)(ns / 1000000000ULL),
				(long long)(ns % 1000000000ULL)};
			struct io_uring_cqe *cqe;

			ctr_add(&p->timed_sleeps, 1);
			io_uring_submit(&p->ring);
			ret = io_uring_wait_cqe_timeout(&p->ring, &cqe, &ts);
		} else {
			ret = io_uring_submit_and_wait(&p->ring, 1);
		}
		if (ret < 0 && ret != -ETIME && ret != -EINTR &&
		    ret != -EAGAIN && ret != -EBUSY)
			log_warn("poller %u: wait: %s", p->idx, strerror(-ret));
		p->woke = true;
	}
	pktio_sleep_done(p);
	for (i = 0; i < p->nr_tenants; i++) {
		struct tenant *t = p->tenants[i];

		for (j = 0; j < t->nr_qpairs; j++)
			if (!t->qps[j].broken)
				xio_host_sq_clear_wakeup(t->qps[j].hq);
	}
}

/* ---- the loop ----------------------------------------------------------- */

static void pin(struct poller *p)
{
	cpu_set_t set;
	char name[16];
	int err;

	snprintf(name, sizeof(name), "xio-poll%u", p->idx);
	pthread_setname_np(pthread_self(), name);
	if (p->cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(p->cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		log_warn("poller %u: pinning to CPU %d: %s", p->idx, p->cpu,
			 strerror(err));
}

/* The least time io_uring_submit() of @n NOPs takes, over 16 tries. */
static uint64_t submit_cost(struct poller *p, unsigned int n)
{
	uint64_t best = UINT64_MAX, c0, c;
	struct io_uring_sqe *s;
	unsigned int i, k;

	for (k = 0; k < 16; k++) {
		for (i = 0; i < n && (s = io_uring_get_sqe(&p->ring)); i++) {
			io_uring_prep_nop(s);
			io_uring_sqe_set_data64(s, TAG_CANCEL); /* ignored */
		}
		c0 = acct_now();
		io_uring_submit_and_wait(&p->ring, n);
		c = acct_now() - c0;
		io_uring_cq_advance(&p->ring, io_uring_cq_ready(&p->ring));
		if (c < best)
			best = c;
	}
	return best;
}

/*
 * The fixed part of an io_uring_submit(), whatever it carries: a submit of
 * one NOP less the extra cost of each of 8 more, measured on the poller's
 * own CPU before anything is queued.  submit_charged() shares it out by
 * work.
 */
static uint64_t enter_cost(struct poller *p)
{
	uint64_t one = submit_cost(p, 1), nine = submit_cost(p, 9);
	uint64_t per = nine > one ? (nine - one) / 8 : 0;

	return one > per ? one - per : 0;
}

static void *poller_main(void *arg)
{
	struct poller *p = arg;
	uint64_t last_work = now_us(), mark, end, win;

	pin(p);
	p->enter_cyc = enter_cost(p);
	log_info("poller %u: io_uring entry %llu ns", p->idx,
		 (unsigned long long)acct_ns(p->enter_cyc));
	arm_wake(p);
	win = (uint64_t)(WINDOW_NS / acct_ns_per_cycle);
	mark = acct_now();
	p->w_tsc0 = mark;
	p->w_cpu0 = thread_cpu_ns();
	while (!p->stop) {
		bool work = false;

		p->acct_iter = 0;
		p->acct_empty = 0;

		if (__atomic_load_n(&p->inbox_pending, __ATOMIC_ACQUIRE)) {
			inbox_process(p);
			work = true;
		}
		work |= reap(p);
		work |= round_robin(p);
		if (pktio_active(p))
			work |= pktio_poll(p);
		publish_dirty(p);
		if (io_uring_sq_ready(&p->ring) || p->nr_sub)
			submit_charged(p);
		if (p->nr_draining)
			drain_check(p);
		/*
		 * Split this iteration (and the spin before it): charged to
		 * tenants, empty visits idle, the rest overhead if it did
		 * work, else idle.
		 */
		end = acct_now();
		if (!work && p->waker) {
			/* A sleep ended by a kick that brought nothing: the
			 * kicker's, not idle time (and no idle window below). */
			charge(p, p->waker, end - mark - p->acct_iter);
			p->acct_empty = 0;
		}
		p->w_attr += p->acct_iter;
		if (end - mark >= p->acct_iter + p->acct_empty) {
			uint64_t rest =
				end - mark - p->acct_iter - p->acct_empty;

			win_add(p, &p->w_idle, p->acct_empty);
			win_add(p, work ? &p->w_over : &p->w_idle, rest);
		}
		mark = end;
		if (end - p->w_tsc0 >= win)
			win_close(p);
		if (work) {
			p->waker = NULL;
			last_work = now_us();
			continue;
		}
		if (!p->waker && now_us() - last_work < cfg.idle_us) {
			xio_cpu_relax();
			continue;
		}
		win_close(p);
		if (p->waker) {
			/* An empty wake-up costs its kicker an op of its
			 * quota: a doorbell is not cheaper than a request. */
			if (p->waker->tb_ops_rate)
				p->waker->tb_ops -= 1;
			p->waker = NULL;
		}
		poller_sleep(p);
		/* Asleep is not CPU time: kept apart from the split (the
		 * sleep path's CPU time lands in the next window's overhead). */
		end = acct_now();
		ctr_add(&p->cyc_sleep, end - mark);
		mark = end;
		p->w_tsc0 = end;
		last_work = now_us();
	}
	return NULL;
}

int pollers_start(void)
{
	struct io_uring_params up;
	unsigned int i;
	int ret;

	pollers = calloc(cfg.nr_pollers, sizeof(*pollers));
	if (!pollers)
		return -ENOMEM;
	acct_calibrate();
	for (i = 0; i < cfg.nr_pollers; i++) {
		struct poller *p = &pollers[i];

		p->idx = i;
		/* In virtual time at the default weight. */
		p->vt_quantum = (uint64_t)(VT_QUANTUM_NS / acct_ns_per_cycle) /
				XIO_QUOTA_WEIGHT_DEFAULT;
		p->vt_lag = (uint64_t)(VT_LAG_NS / acct_ns_per_cycle) /
			    XIO_QUOTA_WEIGHT_DEFAULT;
		p->cpu = cfg.nr_cpus ? cfg.cpus[i % cfg.nr_cpus] : -1;
		p->node = -1;
		if (p->cpu >= 0 && numa_available() >= 0)
			p->node = numa_node_of_cpu(p->cpu);
		pthread_mutex_init(&p->lock, NULL);
		p->inbox_tail = &p->inbox;
		p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->wake_fd < 0)
			return -errno;
		ret = pktio_init(p);
		if (ret)
			return ret;
		memset(&up, 0, sizeof(up));
		up.flags = IORING_SETUP_CQSIZE;
		up.cq_entries = RING_CQ_ENTRIES;
		/* Fault builds: a CQ far smaller than what is in flight. */
		if (xio__fault_enabled(XIO_FAULT_CQ_OVERFLOW))
			up.cq_entries = RING_TINY;
		ret = io_uring_queue_init_params(
			up.cq_entries == RING_TINY ? RING_TINY : RING_ENTRIES,
			&p->ring, &up);
		if (ret < 0) {
			log_err("poller %u: io_uring setup: %s", i,
				strerror(-ret));
			return ret;
		}
		if (!(up.features & IORING_FEAT_NODROP))
			log_warn("poller %u: kernel lacks IORING_FEAT_NODROP",
				 i);
		if (!cfg.no_fixed_bufs) {
			ret = io_uring_register_buffers_sparse(
				&p->ring, XIOD_MAX_TENANTS_PER_POLLER);
			p->fixed_ok = ret == 0;
			if (ret < 0)
				log_info(
					"poller %u: no sparse fixed-buffer table (%s): plain READ/WRITE",
					i, strerror(-ret));
		}
		/* The restart barrier (ilog.c): the lock lives as long as
		 * this ring and its requests. */
		if (rings_lock_fd >= 0) {
			ret = io_uring_register_files(&p->ring, &rings_lock_fd,
						      1);
			if (ret < 0) {
				log_err("poller %u: registering the restart barrier: %s",
					i, strerror(-ret));
				return ret;
			}
		}
		ret = pthread_create(&p->th, NULL, poller_main, p);
		if (ret) {
			log_err("poller %u: thread: %s", i, strerror(ret));
			return -ret;
		}
		p->started = true;
		log_info(
			"poller %u started (cpu %d, idle %u us, fixed buffers %s)",
			i, p->cpu, cfg.idle_us, p->fixed_ok ? "on" : "off");
	}
	return 0;
}

/* Called once every tenant has been drained and handed back. */
void pollers_stop(void)
{
	unsigned int i;

	if (!pollers)
		return;
	/* Every poller stopped before any is freed: one may still hand a
	 * frame to another (pktio.c) until it stops. */
	for (i = 0; i < cfg.nr_pollers; i++)
		if (pollers[i].started)
			poller_send(&pollers[i], XIO_PCMD_STOP, NULL);
	for (i = 0; i < cfg.nr_pollers; i++)
		if (pollers[i].started)
			pthread_join(pollers[i].th, NULL);
	for (i = 0; i < cfg.nr_pollers; i++) {
		struct poller *p = &pollers[i];

		if (!p->started)
			continue;
		io_uring_queue_exit(&p->ring);
		close(p->wake_fd);
		free(p->dirty);
		pktio_poller_fini(p);
		pthread_mutex_destroy(&p->lock);
	}
	pktio_fini();
	free(pollers);
	pollers = NULL;
}
