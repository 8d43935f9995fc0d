/* SPDX-License-Identifier: MIT */
/*
 * A hostile guest: while the host face consumes, another thread rewrites
 * everything a guest may write -- the SQ tail, all 64 bytes of SQEs (also
 * after publishing them), the CQ head, the CQ flags and event index -- with
 * random values, using relaxed atomic stores (so that ThreadSanitizer sees
 * the same protocol the host relies on: it copies SQEs with relaxed atomic
 * loads, once).
 *
 * Pass criteria, per round (fresh region each):
 *  - no crash, no sanitizer report;
 *  - every SQE xio_host_sq_take() returns passes xio_sqe_validate() again on
 *    the copy, and xio_host_buf() for it points inside the pool;
 *  - the ring ends either still working (checked with one honest entry after
 *    the attacker stopped) or quarantined: -EPROTO, XIO_SQ_BROKEN set, and
 *    every later call -EPROTO;
 *  - in the rounds that attack SQE contents only (honest indices) the ring
 *    never breaks, invalid entries are counted (> 0) and every published
 *    entry is accounted for: taken + invalid == published.
 *
 * A deterministic part sets one bad value per SQE field and checks that the
 * host answers exactly that entry (res -EINVAL, XIO_CQE_F_INVALID, same
 * user_data), in submission order among the valid ones.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_ring.h"

#define SQ_ENTRIES 64
#define CQ_ENTRIES 128
#define NR_BUFS 16
#define BUF_SIZE 512

enum mode {
	MODE_CONTENTS,	/* honest indices, hostile SQE contents */
	MODE_PLAUSIBLE, /* indices near the truth, hostile contents */
	MODE_WILD_SQ,	/* random SQ tail, honest CQ head */
	MODE_WILD_CQ,	/* honest SQ tail, random CQ head */
	MODE_WILD,	/* random indices and contents */
	MODE_COUNT,
};
static const char *const mode_name[] = {"contents", "plausible", "wild-sq",
					"wild-cq", "wild"};

/* How each mode moves the SQ tail and the CQ head. */
enum idx_attack {
	IDX_HONEST,
	IDX_NEAR,
	IDX_WILD
};
static const enum idx_attack mode_sq[] = {IDX_HONEST, IDX_NEAR, IDX_WILD,
					  IDX_HONEST, IDX_WILD};
static const enum idx_attack mode_cq[] = {IDX_HONEST, IDX_NEAR, IDX_HONEST,
					  IDX_WILD, IDX_WILD};

struct ring {
	struct xio_region *r;
	const struct xio_layout *l;
	struct xio_sqe *sqes;
	struct xio_sq_ctrl *sq;
	struct xio_cqe *cqes;
	struct xio_cq_ctrl *cq;
	char *pool;
};

static void ring_open(struct ring *g)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	char *qp;

	o.params.sq_entries = SQ_ENTRIES;
	o.params.cq_entries = CQ_ENTRIES;
	o.params.nr_bufs = NR_BUFS;
	o.params.buf_size = BUF_SIZE;
	CHECK_EQ(xio_region_create(&o, &g->r), 0);
	g->l = xio_region_layout(g->r);
	/* The guest's view of the ring, straight from the ABI. */
	qp = (char *)xio_region_base(g->r) + g->l->qp_off;
	g->sq = (struct xio_sq_ctrl *)(qp + g->l->sq_ctrl_off);
	g->sqes = (struct xio_sqe *)(qp + g->l->sqes_off);
	g->cq = (struct xio_cq_ctrl *)(qp + g->l->cq_ctrl_off);
	g->cqes = (struct xio_cqe *)(qp + g->l->cqes_off);
	g->pool = (char *)xio_region_base(g->r) + g->l->pool_off;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the attacker ------------------------------------------------------ */

struct attacker {
	struct ring *g;
	enum mode mode;
	uint64_t seed;
	int stop;	    /* atomic */
	uint64_t published; /* MODE_CONTENTS: entries honestly published */
	uint64_t actions;   /* atomic */
};

/*
 * Random SQE words: half the time a valid-looking entry with perhaps one
 * field spoiled (so valid entries get through and each check is hit), else
 * 64 random bytes.
 */
static void gen_sqe(uint64_t *rng, uint64_t w[8])
{
	struct xio_sqe s;
	uint32_t k = xt_range(rng, 0, 15);

	if (k >= 8) {
		for (int i = 0; i < 8; i++)
			w[i] = xt_rand(rng);
		return;
	}
	memset(&s, 0, sizeof(s));
	s.opcode = (uint8_t)xt_range(rng, 0, XIO_OP_LAST - 1);
	s.user_data = xt_rand(rng);
	if (s.opcode != XIO_OP_NOP && s.opcode != XIO_OP_FSYNC) {
		s.buf_index = xt_range(rng, 0, NR_BUFS - 1);
		s.buf_off = xt_range(rng, 0, BUF_SIZE - 1);
		s.len = xt_range(rng, 1, BUF_SIZE - s.buf_off);
		if (s.opcode == XIO_OP_READ || s.opcode == XIO_OP_WRITE)
			s.off = xt_rand(rng) >> 2;
	}
	s.target = (uint32_t)xt_rand(rng) & 7;
	switch (k) {
	case 0:
		s.buf_index = (uint32_t)xt_rand(rng) % (NR_BUFS + 2);
		break;
	case 1:
		s.buf_off = (uint32_t)xt_rand(rng);
		break;
	case 2:
		s.len = (uint32_t)xt_rand(rng);
		break;
	case 3:
		s.off = xt_rand(rng);
		break;
	case 4:
		s.resv[xt_range(rng, 0, 2)] = xt_rand(rng) & 1;
		s.flags = (uint8_t)(xt_rand(rng) & 1);
		break;
	default:
		break; /* valid */
	}
	memcpy(w, &s, sizeof(s));
}

static void write_sqe(struct ring *g, uint32_t slot, const uint64_t w[8])
{
	uint64_t *d = (uint64_t *)&g->sqes[slot % SQ_ENTRIES];

	for (int i = 0; i < 8; i++)
		XIO_WRITE_ONCE(d[i], w[i]);
}

static void *attacker_main(void *arg)
{
	struct attacker *a = arg;
	struct ring *g = a->g;
	enum idx_attack sqm = mode_sq[a->mode], cqm = mode_cq[a->mode];
	uint64_t rng = a->seed, w[8];
	uint32_t tail = 0;
	/*
	 * The wild modes end with a lie far outside the ring that they then
	 * stick to, at a random move early in the round: the host must meet
	 * it (the SQ tail at its next take; the CQ head once the unreaped CQ
	 * looks full), so these rounds are quarantined every time rather
	 * than by a lucky interleaving.
	 */
	uint64_t lie_at = xt_range(&rng, 1, 400);
	bool sq_lied = false, cq_lied = false;

	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) {
		uint32_t head, k, n, i;

		__atomic_store_n(&a->actions, a->actions + 1, __ATOMIC_RELAXED);
		head = xio_load_acquire(&g->sq->head.idx);
		switch (sqm) {
		case IDX_HONEST:
			/* Fill free slots, then publish them: a real guest. */
			n = SQ_ENTRIES - (tail - head);
			if (n) {
				n = xt_range(&rng, 1, n);
				for (i = 0; i < n; i++) {
					gen_sqe(&rng, w);
					write_sqe(g, tail + i, w);
				}
				tail += n;
				a->published += n;
				xio_store_release(&g->sq->tail.idx, tail);
			}
			break;
		case IDX_NEAR:
			/*
			 * Jump forward anywhere inside the window, publishing
			 * slots never written or being rewritten: legal
			 * indices, garbage entries.
			 */
			n = SQ_ENTRIES - (tail - head);
			if (n <= SQ_ENTRIES)
				tail += xt_range(&rng, 0, n);
			xio_store_release(&g->sq->tail.idx, tail);
			break;
		case IDX_WILD:
			/* Anywhere near the head (also behind it)... */
			if (sq_lied)
				break;
			tail = head + xt_range(&rng, 0, SQ_ENTRIES + 1);
			/* ... then a quarter to three quarters of 2^32 away. */
			if (a->actions >= lie_at) {
				tail = head +
				       xt_range(&rng, 1U << 30, 3U << 30);
				sq_lied = true;
			}
			xio_store_release(&g->sq->tail.idx, tail);
			break;
		}
		/* Rewrite any entries, published ones (maybe being copied) too. */
		for (k = xt_range(&rng, 0, 4); k; k--) {
			uint32_t slot = xt_range(&rng, 0, SQ_ENTRIES - 1);
			uint64_t *d = (uint64_t *)&g->sqes[slot];

			if (xt_range(&rng, 0, 1)) {
				gen_sqe(&rng, w);
				write_sqe(g, slot, w);
			} else {
				XIO_WRITE_ONCE(d[xt_range(&rng, 0, 7)],
					       xt_rand(&rng));
			}
		}
		/* CQ: reap honestly, or lie about it. */
		head = xio_load_acquire(&g->cq->tail.idx);
		switch (cqm) {
		case IDX_HONEST:
			xio_store_release(&g->cq->head.idx, head);
			break;
		case IDX_NEAR:
			if (xt_range(&rng, 0, 3) == 0)
				head -= xt_range(&rng, 0, 8); /* a step back */
			xio_store_release(&g->cq->head.idx, head);
			break;
		case IDX_WILD:
			/* Reap lazily, so that the CQ runs full, then lie. */
			if (cq_lied)
				break;
			if (a->actions >= lie_at) {
				head += xt_range(&rng, 1U << 30, 3U << 30);
				cq_lied = true;
			} else if (xt_range(&rng, 0, 7)) {
				break;
			}
			xio_store_release(&g->cq->head.idx, head);
			break;
		}
		if (xt_range(&rng, 0, 7) == 0) {
			XIO_WRITE_ONCE(g->cq->flags, (uint32_t)xt_rand(&rng));
			XIO_WRITE_ONCE(g->cq->event_idx,
				       (uint32_t)xt_rand(&rng));
		}
	}
	return NULL;
}

/* ---- the host ---------------------------------------------------------- */

/* The library's last diagnostic (why a ring was quarantined). */
static char last_msg[256];

static int record_msg(enum xio_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	last_msg[strcspn(last_msg, "\n")] = '\0';
	return 0;
}

/* A valid SQE's buffer must lie inside the pool, and inside its slot. */
static void check_taken(struct ring *g, const struct xio_sqe *s)
{
	char *p, *end = g->pool + g->l->pool_size;

	CHECK_EQ(xio_sqe_validate(g->l, s), 0);
	if (s->opcode == XIO_OP_NOP || s->opcode == XIO_OP_FSYNC)
		return;
	p = xio_host_buf(g->r, s->buf_index, s->buf_off, s->len);
	CHECK(p);
	CHECK(p >= g->pool && p + s->len <= end);
	CHECK(p + s->len <= g->pool + (uint64_t)(s->buf_index + 1) * BUF_SIZE);
	/* Touch both ends, as an I/O would. */
	p[0] ^= 1;
	p[s->len - 1] ^= 1;
}

/* With the attacker stopped, one honest entry must still go through. */
static void check_still_works(struct ring *g, struct xio_host_qp *hq)
{
	uint32_t head = xio_load_acquire(&g->sq->head.idx);
	uint32_t ctail = xio_load_acquire(&g->cq->tail.idx);
	struct xio_sqe s, out[4];
	uint64_t w[8];
	int n;

	xio_prep_nop(&s, 0x5afe);
	memcpy(w, &s, sizeof(s));
	write_sqe(g, head, w);
	XIO_WRITE_ONCE(g->cq->flags, 0);
	xio_store_release(&g->cq->head.idx, ctail);
	xio_store_release(&g->sq->tail.idx, head + 1);
	n = xio_host_sq_take(hq, out, 4);
	CHECK_EQ(n, 1);
	CHECK_EQ(out[0].user_data, 0x5afe);
	CHECK_EQ(xio_host_cq_post(hq, 0x5afe, 7, 0), 0);
	CHECK_EQ(xio_host_cq_publish(hq), 0);
	CHECK_EQ(xio_load_acquire(&g->cq->tail.idx), ctail + 1);
	CHECK_EQ(g->cqes[ctail % CQ_ENTRIES].user_data, 0x5afe);
	CHECK_EQ(g->cqes[ctail % CQ_ENTRIES].res, 7);
	CHECK_EQ(xio_host_inflight(hq), 0);
}

struct tally {
	unsigned int broken, working;
	uint64_t taken, invalid;
};

/*
 * One round on a fresh region: at least @iters host iterations while the
 * attacker made at least @min_actions moves (so a scheduler that starves
 * one thread cannot make the round vacuous).  After @ms a round ends as soon
 * as the attacker made a tenth of its moves, and at 10 * @ms in any case.
 * The wild rounds run until the host meets the attacker's final lie.
 */
static void run_round(enum mode mode, uint64_t seed, uint64_t iters,
		      uint64_t min_actions, uint64_t ms, struct tally *t)
{
	struct xio_host_qp_stats st;
	struct attacker a;
	struct ring g;
	struct xio_host_qp *hq;
	struct xio_sqe out[SQ_ENTRIES];
	uint64_t it, t0 = now_ms(), rng = seed ^ 0x1234567, empty = 0;
	bool wild = mode_sq[mode] == IDX_WILD || mode_cq[mode] == IDX_WILD;
	pthread_t th;
	int n = 0, i;

	ring_open(&g);
	hq = xio_region_host_qp(g.r, 0);
	CHECK(hq);
	memset(&a, 0, sizeof(a));
	a.g = &g;
	a.mode = mode;
	a.seed = seed;
	CHECK_EQ(pthread_create(&th, NULL, attacker_main, &a), 0);

	for (it = 0;; it++) {
		if (it % 256 == 0) {
			uint64_t moves =
				__atomic_load_n(&a.actions, __ATOMIC_RELAXED);
			uint64_t dt = now_ms() - t0;

			/* The wild rounds go on until their lie is met. */
			if (dt >= 10 * ms ||
			    (!wild &&
			     ((it >= iters && moves >= min_actions) ||
			      (dt >= ms && moves >= min_actions / 10))))
				break;
		}
		n = xio_host_sq_take(hq, out, xt_range(&rng, 1, SQ_ENTRIES));
		if (n == -EPROTO)
			break;
		CHECK(n >= 0);
		/* Two cores, shared: let the attacker run now and then. */
		if (n == 0 && ++empty % 64 == 0)
			sched_yield();
		for (i = 0; i < n; i++) {
			check_taken(&g, &out[i]);
			CHECK_EQ(xio_host_cq_post(hq, out[i].user_data, 0, 0),
				 0);
		}
		xio_host_cq_publish(hq);
	}
	if (n == -EPROTO) {
		CHECK(mode != MODE_CONTENTS);
		/* Quarantine is for good, whatever the attacker does next. */
		for (it = 0; it < 20000; it++) {
			CHECK_EQ(xio_host_sq_take(hq, out, SQ_ENTRIES),
				 -EPROTO);
			CHECK(XIO_READ_ONCE(g.sq->flags) & XIO_SQ_BROKEN);
			CHECK_EQ(xio_host_cq_post(hq, 1, 0, 0), -ENOSPC);
		}
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELAXED);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK(a.actions > 0);

	xio_host_qp_get_stats(hq, &st);
	if (st.broken) {
		CHECK_EQ(xio_host_sq_take(hq, out, SQ_ENTRIES), -EPROTO);
		CHECK(XIO_READ_ONCE(g.sq->flags) & XIO_SQ_BROKEN);
		t->broken++;
	} else {
		if (mode == MODE_CONTENTS) {
			/* Drain what was published; reap for the attacker. */
			while (xio_host_sq_pending(hq)) {
				xio_store_release(
					&g.cq->head.idx,
					xio_load_acquire(&g.cq->tail.idx));
				n = xio_host_sq_take(hq, out, SQ_ENTRIES);
				CHECK(n >= 0);
				for (i = 0; i < n; i++) {
					check_taken(&g, &out[i]);
					xio_host_cq_post(hq, out[i].user_data,
							 0, 0);
				}
				xio_host_cq_publish(hq);
			}
			xio_host_qp_get_stats(hq, &st);
			CHECK_EQ(st.taken + st.invalid, a.published);
			/* A quarter of the attacker's entries are valid. */
			if (a.published >= 1000) {
				CHECK(st.invalid > 0);
				CHECK(st.taken > 0);
			}
		}
		check_still_works(&g, hq);
		xio_host_qp_get_stats(hq, &st);
		t->working++;
	}
	CHECK_EQ(XIO_READ_ONCE(g.sq->dropped), (uint32_t)st.invalid);
	CHECK_EQ(st.posted, st.taken + st.invalid);
	t->taken += st.taken;
	t->invalid += st.invalid;
	printf("round %-9s seed %016" PRIx64 ": %s, taken %" PRIu64
	       " invalid %" PRIu64 " attacker actions %" PRIu64 "%s%s\n",
	       mode_name[mode], seed, st.broken ? "quarantined" : "working",
	       st.taken, st.invalid, a.actions, st.broken ? ": " : "",
	       st.broken ? last_msg : "");
	xio_region_destroy(g.r);
}

/* ---- deterministic: one bad value per field ---------------------------- */

struct case_ {
	const char *what;
	bool valid;
	struct xio_sqe s;
};

static void det_cases(struct case_ *c, int *nr)
{
	int n = 0;

#define ADD(w, v, ...)                                                         \
	do {                                                                   \
		c[n].what = w;                                                 \
		c[n].valid = v;                                                \
		xio_prep_read(&c[n].s, 0, 1, 0, 16, 0, 0);                     \
		__VA_ARGS__;                                                   \
		n++;                                                           \
	} while (0)
	ADD("valid read", true, );
	ADD("opcode XIO_OP_LAST", false, c[n].s.opcode = XIO_OP_LAST);
	ADD("opcode 0xff", false, c[n].s.opcode = 0xff);
	ADD("flags bit 0", false, c[n].s.flags = 1);
	ADD("flags bit 7", false, c[n].s.flags = 0x80);
	ADD("ioprio", false, c[n].s.ioprio = 1);
	ADD("op_flags", false, c[n].s.op_flags = 0x80000000U);
	ADD("resv[0]", false, c[n].s.resv[0] = 1);
	ADD("resv[1]", false, c[n].s.resv[1] = 1ULL << 63);
	ADD("resv[2]", false, c[n].s.resv[2] = 0x100);
	ADD("valid last slot, last byte", true, c[n].s.buf_index = NR_BUFS - 1;
	    c[n].s.buf_off = BUF_SIZE - 1; c[n].s.len = 1);
	ADD("buf_index == nr_bufs", false, c[n].s.buf_index = NR_BUFS);
	ADD("buf_index 0xffffffff", false, c[n].s.buf_index = 0xffffffffU);
	ADD("buf_off+len wraps", false, c[n].s.buf_off = 0xfffffff0U;
	    c[n].s.len = 0x20);
	ADD("buf_off == buf_size", false, c[n].s.buf_off = BUF_SIZE;
	    c[n].s.len = 1);
	ADD("one byte past the slot", false, c[n].s.buf_off = BUF_SIZE - 1;
	    c[n].s.len = 2);
	ADD("valid whole slot", true, c[n].s.buf_off = 0;
	    c[n].s.len = BUF_SIZE);
	ADD("len 0", false, c[n].s.len = 0);
	ADD("len UINT32_MAX", false, c[n].s.len = UINT32_MAX);
	ADD("valid off+len == INT64_MAX", true, c[n].s.off = INT64_MAX - 1;
	    c[n].s.len = 1);
	ADD("read off INT64_MAX len 1", false, c[n].s.off = INT64_MAX;
	    c[n].s.len = 1);
	ADD("read off UINT64_MAX", false, c[n].s.off = UINT64_MAX);
	ADD("write off UINT64_MAX", false, c[n].s.opcode = XIO_OP_WRITE;
	    c[n].s.off = UINT64_MAX);
	ADD("valid nop", true, xio_prep_nop(&c[n].s, 0));
	ADD("nop len 1", false, xio_prep_nop(&c[n].s, 0); c[n].s.len = 1);
	ADD("nop buf_index 1", false, xio_prep_nop(&c[n].s, 0);
	    c[n].s.buf_index = 1);
	ADD("nop buf_off 1", false, xio_prep_nop(&c[n].s, 0);
	    c[n].s.buf_off = 1);
	ADD("nop off 1", false, xio_prep_nop(&c[n].s, 0); c[n].s.off = 1);
	ADD("valid fsync", true, xio_prep_fsync(&c[n].s, 3, 0));
	ADD("fsync len 8", false, xio_prep_fsync(&c[n].s, 3, 0);
	    c[n].s.len = 8);
	ADD("valid send", true, c[n].s.opcode = XIO_OP_SEND);
	ADD("send off 1", false, c[n].s.opcode = XIO_OP_SEND; c[n].s.off = 1);
	ADD("valid recv", true, c[n].s.opcode = XIO_OP_RECV);
	ADD("recv len 0", false, c[n].s.opcode = XIO_OP_RECV; c[n].s.len = 0);
	ADD("valid write", true, c[n].s.opcode = XIO_OP_WRITE);
#undef ADD
	*nr = n;
}

/* Submit every case (user_data = its index) through the guest face. */
static void det_submit(struct xio_qp *qp, const struct case_ *c, int nr)
{
	for (int i = 0; i < nr; i++) {
		struct xio_sqe *s = xio_get_sqe(qp);

		CHECK(s);
		*s = c[i].s;
		s->user_data = 1000 + (uint64_t)i;
	}
	CHECK_EQ(xio_submit(qp), nr);
}

static void det_check_cqe(struct xio_qp *qp, const struct case_ *c, int i)
{
	struct xio_cqe *cqe;

	CHECK_EQ(xio_peek_cqe(qp, &cqe), 0);
	if (cqe->user_data != 1000 + (uint64_t)i ||
	    cqe->res != (c[i].valid ? 5 : -EINVAL) ||
	    cqe->flags != (c[i].valid ? 0 : XIO_CQE_F_INVALID)) {
		fprintf(stderr,
			"FAIL case %d (%s): CQE user_data %" PRIu64
			" res %d flags 0x%x\n",
			i, c[i].what, cqe->user_data, cqe->res, cqe->flags);
		exit(1);
	}
	xio_cqe_seen(qp, cqe);
}

static void test_deterministic(void)
{
	static struct case_ c[64];
	struct xio_host_qp_stats st;
	struct xio_sqe out[SQ_ENTRIES];
	struct xio_host_qp *hq;
	struct xio_qp *qp;
	struct xio_cqe *cqe;
	struct ring g;
	int nr, nvalid = 0, i, n, k;

	det_cases(c, &nr);
	CHECK(nr <= SQ_ENTRIES);
	for (i = 0; i < nr; i++) {
		int want = c[i].valid ? 0 : -EINVAL;

		if (xio_sqe_validate(&(struct xio_layout){.nr_bufs = NR_BUFS,
							  .buf_size = BUF_SIZE},
				     &c[i].s) != want) {
			fprintf(stderr, "FAIL validate: case %d (%s)\n", i,
				c[i].what);
			exit(1);
		}
		nvalid += c[i].valid;
	}

	/* One entry per take: CQ order is exactly submission order. */
	ring_open(&g);
	qp = xio_region_qp(g.r, 0);
	hq = xio_region_host_qp(g.r, 0);
	det_submit(qp, c, nr);
	for (i = 0; i < nr; i++) {
		n = xio_host_sq_take(hq, out, 1);
		CHECK_EQ(n, c[i].valid ? 1 : 0);
		if (n) {
			CHECK_EQ(out[0].user_data, 1000 + (uint64_t)i);
			CHECK_EQ(xio_host_cq_post(hq, out[0].user_data, 5, 0),
				 0);
		}
		xio_host_cq_publish(hq);
		det_check_cqe(qp, c, i);
		CHECK_EQ(xio_peek_cqe(qp, &cqe), -EAGAIN);
	}
	xio_host_qp_get_stats(hq, &st);
	CHECK_EQ(st.taken, nvalid);
	CHECK_EQ(st.invalid, nr - nvalid);
	CHECK_EQ(XIO_READ_ONCE(g.sq->dropped), nr - nvalid);
	CHECK_EQ(st.broken, 0);

	/*
	 * All at once: the valid entries come back in order, the invalid
	 * ones are answered at once, in order; the valid answers follow.
	 */
	det_submit(qp, c, nr);
	n = xio_host_sq_take(hq, out, SQ_ENTRIES);
	CHECK_EQ(n, nvalid);
	for (i = 0, k = 0; i < nr; i++) {
		if (!c[i].valid)
			continue;
		CHECK_EQ(out[k].user_data, 1000 + (uint64_t)i);
		CHECK(memcmp(&out[k].opcode, &c[i].s.opcode, 32) == 0);
		CHECK_EQ(xio_host_cq_post(hq, out[k].user_data, 5, 0), 0);
		k++;
	}
	xio_host_cq_publish(hq);
	for (i = 0; i < nr; i++)
		if (!c[i].valid)
			det_check_cqe(qp, c, i);
	for (i = 0; i < nr; i++)
		if (c[i].valid)
			det_check_cqe(qp, c, i);
	CHECK_EQ(xio_peek_cqe(qp, &cqe), -EAGAIN);
	xio_region_destroy(g.r);
	printf("deterministic: %d cases (%d valid) answered in order\n", nr,
	       nvalid);
}

int main(void)
{
	uint64_t iters = xt_scaled(2000000, 20000);
	uint64_t min_actions = xt_scaled(200000, 5000);
	uint64_t ms = XT_SANITIZE_DIV > 1 ? 3000 : 1000;
	struct tally t[MODE_COUNT];
	unsigned int round;

	xio_set_print(record_msg); /* quarantine warnings are expected */
	xt_watchdog_init(100, "FAIL: test_hostile_producer: watchdog\n");
	test_deterministic();

	memset(t, 0, sizeof(t));
	for (round = 0; round < 2 * MODE_COUNT; round++) {
		enum mode m = (enum mode)(round % MODE_COUNT);

		run_round(m, 0x5eed0000ULL + round * 7919, iters, min_actions,
			  ms, &t[m]);
		xt_watchdog_pet();
	}
	/* Contents-only rounds never break and always see invalid entries. */
	CHECK_EQ(t[MODE_CONTENTS].broken, 0);
	CHECK(t[MODE_CONTENTS].invalid > 0);
	/*
	 * An SQ tail behind the head or beyond the window, a CQ head outside
	 * the ring: each check alone (the other index being honest) must
	 * quarantine every round that attacks it.
	 */
	CHECK_EQ(t[MODE_WILD_SQ].working, 0);
	CHECK_EQ(t[MODE_WILD_CQ].working, 0);
	CHECK_EQ(t[MODE_WILD].working, 0);
	printf("PASS test_hostile_producer (plausible rounds: %u working, %u quarantined)\n",
	       t[MODE_PLAUSIBLE].working, t[MODE_PLAUSIBLE].broken);
	return 0;
}
