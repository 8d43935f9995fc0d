/* SPDX-License-Identifier: MIT */
/*
 * xio-bench ring: the xio rings themselves, both faces in one process, with
 * no daemon: the guest face (xio_get_sqe/xio_submit/xio_peek_cqe) on CPU A,
 * the host face (xio_host_sq_take/xio_host_cq_post/xio_host_cq_publish) on
 * CPU B.  Every run measures, in this order and on the same two CPUs:
 *
 *  1. SQ throughput, 64-byte SQEs, bursts 1, 8 and 32 (Mops/s).
 *     Producer (guest, CPU A): per burst, xio_get_sqe() x burst, each entry
 *     filled completely by xio_prep_nop() with user_data = sequence number,
 *     then one xio_submit() (tail store-release + the NEED_WAKEUP fence and
 *     flags check).  When the SQ is full it submits what it holds and spins.
 *     Consumer (host, CPU B): xio_host_sq_take(burst): loads the tail, copies
 *     each SQE once out of shared memory, validates it and reserves its CQ
 *     slot; then checks user_data against the expected sequence number,
 *     posts one CQE per entry and publishes them with one xio_host_cq_publish()
 *     per take.  The CQ is twice the SQ; the guest releases completions in
 *     batches of half the CQ (one CQ-tail load and one CQ-head store per
 *     batch) without reading them, so what is timed is the whole SQ path plus
 *     the host's share of the CQ path.  Counted: entries that crossed the SQ,
 *     from the producer's first get_sqe to the consumer's last take.  The
 *     shape (4096 slots, 64-byte entries, producer retries partial bursts,
 *     consumer takes up to a burst, both spin without pause, sequence checked)
 *     is that of ../shared/peers/ring_bench.h, so the figure compares with
 *     "dpdk_ring 64 <burst>" (rte_ring SP/SC, 4096 slots) run on the same CPUs.
 *  2. cache-line ping-pong floor (baseline.c), per-round-trip p50/p99.
 *  3. xio round trip: the guest submits one NOP and spins on its CQ; the host
 *     spins on xio_host_sq_take(1), posts the CQE and publishes it; timed per
 *     round trip from before xio_get_sqe() to after xio_cqe_seen().
 *  4. eventfd wake round trip (baseline.c), p50/p99.
 * Ratios are computed per run (same run, same CPUs), then summarised.
 *
 * usage: xio-bench [options] ring [--items N] [--iters N]
 *   --items N  SQ entries per throughput run (default 20M for burst 1,
 *              100M otherwise, as in the peers; --quick: 200k)
 *   --iters N  timed round trips per run (default 300k; eventfd N/15;
 *              --quick: 5k)
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xio/xio.h>

#define RING_SQ_ENTRIES 4096U /* the peers' rte_ring has 4096 slots */
#define RING_CQ_ENTRIES (2 * RING_SQ_ENTRIES)
#define RING_MAX_BURST 32U

static const unsigned int ring_bursts[] = {1, 8, 32};
#define NR_BURSTS (sizeof(ring_bursts) / sizeof(ring_bursts[0]))

struct ring_env {
	struct xio_region *r;
	struct xio_qp *qp;
	struct xio_host_qp *hq;
};

static void ring_env_init(struct ring_env *e)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	int err;

	o.params.sq_entries = RING_SQ_ENTRIES;
	o.params.cq_entries = RING_CQ_ENTRIES;
	o.params.buf_size = 64;
	o.params.nr_bufs = 1;
	o.name = "xio-bench";
	err = xio_region_create(&o, &e->r);
	if (err)
		bench_die("xio_region_create: %s", xio_strerror(err));
	e->qp = xio_region_qp(e->r, 0);
	e->hq = xio_region_host_qp(e->r, 0);
	if (!e->qp || !e->hq)
		bench_die("internal: no queue pair 0");
}

static void ring_env_fini(struct ring_env *e)
{
	struct xio_host_qp_stats st;

	xio_host_qp_get_stats(e->hq, &st);
	if (st.invalid || st.broken)
		bench_die("the host refused %llu SQEs (broken %u)",
			  (unsigned long long)st.invalid, st.broken);
	xio_region_destroy(e->r);
}

/* ---- 1. SQ throughput ------------------------------------------------ */

struct tput_arg {
	struct ring_env *e;
	unsigned int burst;
	uint64_t items;
	int go;
	uint64_t t_start, t_end; /* ticks */
	uint64_t bad;		 /* sequence mismatches seen by the host */
	uint64_t empty;		 /* takes that found nothing */
};

static void wait_go(const int *go)
{
	while (!__atomic_load_n(go, __ATOMIC_ACQUIRE))
		;
}

static void *__attribute__((noinline)) tput_host(void *p)
{
	struct tput_arg *a = p;
	struct xio_host_qp *hq = a->e->hq;
	struct xio_sqe buf[RING_MAX_BURST];
	const unsigned int burst = a->burst;
	const uint64_t items = a->items;
	uint64_t seq = 0, bad = 0, empty = 0;
	int n, j;

	wait_go(&a->go);
	while (seq < items) {
		n = xio_host_sq_take(hq, buf, burst);
		if (n <= 0) {
			if (n < 0)
				bench_die("xio_host_sq_take: %s",
					  xio_strerror(n));
			empty++;
			continue;
		}
		for (j = 0; j < n; j++) {
			bad += buf[j].user_data != seq + (uint64_t)j;
			xio_host_cq_post(hq, buf[j].user_data, 0, 0);
		}
		xio_host_cq_publish(hq);
		seq += (uint64_t)n;
	}
	a->t_end = bench_tsc_stop();
	a->bad = bad;
	a->empty = empty;
	return NULL;
}

/* Release every published completion (without reading them). */
static inline uint32_t tput_reap(struct xio_qp *qp)
{
	uint32_t n = xio_cq_ready(qp);

	if (n)
		xio_cq_advance(qp, n);
	return n;
}

static void __attribute__((noinline)) tput_guest(struct tput_arg *a)
{
	struct xio_qp *qp = a->e->qp;
	const unsigned int burst = a->burst;
	const uint64_t items = a->items;
	uint64_t seq = 0, reaped = 0;
	unsigned int b, j;
	int n;

	wait_go(&a->go);
	a->t_start = bench_tsc_start();
	while (seq < items) {
		b = burst;
		if (items - seq < b)
			b = (unsigned int)(items - seq);
		for (j = 0; j < b; j++) {
			struct xio_sqe *s;

			while (!(s = xio_get_sqe(qp))) {
				/* Full: hand over what we hold, keep the CQ
				 * from filling, wait for the host. */
				if (xio_sq_ready(qp) && xio_submit(qp) < 0)
					bench_die("xio_submit failed");
				if (seq + j - reaped >= RING_CQ_ENTRIES / 2)
					reaped += tput_reap(qp);
			}
			xio_prep_nop(s, seq + j);
		}
		n = xio_submit(qp);
		if (n < 0)
			bench_die("xio_submit: %s", xio_strerror(n));
		seq += b;
		if (seq - reaped >= RING_CQ_ENTRIES / 2)
			reaped += tput_reap(qp);
	}
}

static double ring_tput_run(struct bench_ctx *ctx, unsigned int burst,
			    uint64_t items)
{
	struct ring_env e;
	struct tput_arg a;
	pthread_t th;
	double ns;

	ring_env_init(&e);
	memset(&a, 0, sizeof(a));
	a.e = &e;
	a.burst = burst;
	a.items = items;
	bench_thread_start(ctx, &th, ctx->cpu_b, tput_host, &a);
	usleep(10000); /* let the host thread reach its CPU */
	__atomic_store_n(&a.go, 1, __ATOMIC_RELEASE);
	tput_guest(&a);
	bench_thread_join(th);
	ring_env_fini(&e);
	if (a.bad)
		bench_die("SQ burst %u: %llu sequence errors", burst,
			  (unsigned long long)a.bad);
	ns = bench_ns(a.t_end - a.t_start);
	bench_info(
		ctx,
		"  SQ 64 B burst %2u: %7.1f Mops/s (%.2f ns/entry, %.1f%% empty takes)\n",
		burst, (double)items / ns * 1e3, ns / (double)items,
		100.0 * (double)a.empty /
			(double)(a.empty + items / burst + 1));
	return (double)items / ns * 1e3;
}

/* ---- 3. round trip ----------------------------------------------------- */

struct rtt_arg {
	struct ring_env *e;
	uint64_t total;
};

static void *rtt_host(void *p)
{
	struct rtt_arg *a = p;
	struct xio_host_qp *hq = a->e->hq;
	struct xio_sqe sqe;
	uint64_t i = 0;
	int n;

	while (i < a->total) {
		n = xio_host_sq_take(hq, &sqe, 1);
		if (n == 0) {
			xio_cpu_relax();
			continue;
		}
		if (n < 0)
			bench_die("xio_host_sq_take: %s", xio_strerror(n));
		xio_host_cq_post(hq, sqe.user_data, 0, 0);
		xio_host_cq_publish(hq);
		i++;
	}
	return NULL;
}

static inline void rtt_one(struct xio_qp *qp, uint64_t i)
{
	struct xio_sqe *s = xio_get_sqe(qp);
	struct xio_cqe *c;

	if (!s)
		bench_die("internal: SQ full in the round trip");
	xio_prep_nop(s, i);
	if (xio_submit(qp) != 1)
		bench_die("xio_submit failed");
	while (xio_peek_cqe(qp, &c))
		xio_cpu_relax();
	if (c->user_data != i || c->res != 0)
		bench_die("round trip %llu: got CQE %llu res %d",
			  (unsigned long long)i,
			  (unsigned long long)c->user_data, c->res);
	xio_cqe_seen(qp, c);
}

static void ring_rtt_run(struct bench_ctx *ctx, uint64_t iters,
			 struct bench_lat *lat)
{
	uint64_t *samp = malloc(iters * sizeof(*samp));
	uint64_t warm = iters / 10 + 100, i = 1, k, t0;
	struct ring_env e;
	struct rtt_arg a;
	pthread_t th;

	if (!samp)
		bench_die("out of memory");
	ring_env_init(&e);
	a.e = &e;
	a.total = warm + 2 * iters;
	bench_thread_start(ctx, &th, ctx->cpu_b, rtt_host, &a);
	for (k = 0; k < warm; k++)
		rtt_one(e.qp, i++);
	for (k = 0; k < iters; k++) {
		t0 = bench_tsc_start();
		rtt_one(e.qp, i++);
		samp[k] = bench_tsc_stop() - t0;
	}
	t0 = bench_tsc_start();
	for (k = 0; k < iters; k++)
		rtt_one(e.qp, i++);
	t0 = bench_tsc_stop() - t0;
	bench_thread_join(th);
	ring_env_fini(&e);
	bench_lat_compute(samp, iters, lat);
	lat->untimed_mean = bench_ns(t0) / (double)iters;
	free(samp);
}

/* ---- the subcommand ---------------------------------------------------- */

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v == 0 || v > (1ULL << 40))
		bench_die("ring %s: '%s' is not a positive count", what, s);
	return (uint64_t)v;
}

enum {
	M_CL_P50,
	M_CL_P99,
	M_CL_MEAN,
	M_RTT_P50,
	M_RTT_P99,
	M_RTT_MEAN,
	M_EFD_P50,
	M_EFD_P99,
	M_RATIO_FLOOR,
	M_RATIO_EFD,
	M_NR
};

static const struct {
	const char *metric, *unit, *label;
} lat_metrics[M_NR] = {
	[M_CL_P50] = {"ring.cacheline_rtt.p50", "ns",
		      "cache-line ping-pong RTT p50 (floor)"},
	[M_CL_P99] = {"ring.cacheline_rtt.p99", "ns",
		      "cache-line ping-pong RTT p99"},
	[M_CL_MEAN] = {"ring.cacheline_rtt.mean_untimed", "ns",
		       "cache-line ping-pong RTT, untimed mean"},
	[M_RTT_P50] = {"ring.rtt.p50", "ns", "xio submit->complete RTT p50"},
	[M_RTT_P99] = {"ring.rtt.p99", "ns", "xio submit->complete RTT p99"},
	[M_RTT_MEAN] = {"ring.rtt.mean_untimed", "ns",
			"xio submit->complete RTT, untimed mean"},
	[M_EFD_P50] = {"ring.eventfd_rtt.p50", "ns", "eventfd wake RTT p50"},
	[M_EFD_P99] = {"ring.eventfd_rtt.p99", "ns", "eventfd wake RTT p99"},
	[M_RATIO_FLOOR] = {"ring.ratio.rtt_over_cacheline", "x",
			   "xio RTT / cache-line floor (target <= 1.2)"},
	[M_RATIO_EFD] = {"ring.ratio.eventfd_over_rtt", "x",
			 "eventfd RTT / xio RTT"},
};

int bench_ring(struct bench_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"items", required_argument, NULL, 'i'},
		{"iters", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	static double tput[NR_BURSTS][BENCH_MAX_RUNS];
	static double lat[M_NR][BENCH_MAX_RUNS];
	uint64_t items = 0, iters = 0, efd_iters;
	struct bench_lat cl, rtt, efd;
	char metric[64], label[64];
	unsigned int b;
	int opt, r, m;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			items = parse_u64(optarg, "--items");
			break;
		case 'n':
			iters = parse_u64(optarg, "--iters");
			break;
		default:
			fprintf(stderr,
				"usage: xio-bench [options] ring [--items N] [--iters N]\n");
			return 2;
		}
	}
	if (!iters)
		iters = ctx->quick ? 5000 : 300000;
	efd_iters = iters / 15 > 100 ? iters / 15 : 100;

	for (r = 0; r < ctx->runs; r++) {
		bench_info(ctx, "run %d/%d\n", r + 1, ctx->runs);
		for (b = 0; b < NR_BURSTS; b++) {
			uint64_t n = items;

			if (!n)
				n = ctx->quick		? 200000 :
				    ring_bursts[b] == 1 ? 20000000 :
							  100000000;
			tput[b][r] = ring_tput_run(ctx, ring_bursts[b], n);
		}
		bench_cacheline_rtt(ctx, iters, &cl);
		ring_rtt_run(ctx, iters, &rtt);
		bench_eventfd_rtt(ctx, efd_iters, &efd);
		lat[M_CL_P50][r] = cl.p50;
		lat[M_CL_P99][r] = cl.p99;
		lat[M_CL_MEAN][r] = cl.untimed_mean;
		lat[M_RTT_MEAN][r] = rtt.untimed_mean;
		lat[M_RTT_P50][r] = rtt.p50;
		lat[M_RTT_P99][r] = rtt.p99;
		lat[M_EFD_P50][r] = efd.p50;
		lat[M_EFD_P99][r] = efd.p99;
		lat[M_RATIO_FLOOR][r] = rtt.p50 / cl.p50;
		lat[M_RATIO_EFD][r] = efd.p50 / rtt.p50;
		bench_info(
			ctx,
			"  cache-line RTT p50 %.1f p99 %.1f mean %.1f ns; xio RTT p50 %.1f p99 %.1f mean %.1f ns; eventfd RTT p50 %.1f p99 %.1f ns\n",
			cl.p50, cl.p99, cl.untimed_mean, rtt.p50, rtt.p99,
			rtt.untimed_mean, efd.p50, efd.p99);
	}

	for (b = 0; b < NR_BURSTS; b++) {
		snprintf(metric, sizeof(metric),
			 "ring.sq_64B_burst%u.throughput", ring_bursts[b]);
		bench_report(ctx, metric, "Mops/s", tput[b], ctx->runs);
	}
	for (m = 0; m < M_NR; m++)
		bench_report(ctx, lat_metrics[m].metric, lat_metrics[m].unit,
			     lat[m], ctx->runs);

	bench_table_header(
		ctx,
		"xio-bench ring: xio SQ/CQ, guest face on CPU A, host face on CPU B "
		"(64-byte SQEs, SQ 4096, CQ 8192)");
	for (b = 0; b < NR_BURSTS; b++) {
		snprintf(metric, sizeof(metric),
			 "ring.sq_64B_burst%u.throughput", ring_bursts[b]);
		snprintf(label, sizeof(label), "SQ throughput, 64 B, burst %u",
			 ring_bursts[b]);
		bench_table_row(ctx, label, metric);
	}
	for (m = 0; m < M_NR; m++)
		bench_table_row(ctx, lat_metrics[m].label,
				lat_metrics[m].metric);
	return 0;
}
