/* SPDX-License-Identifier: MIT */
/*
 * Same-run baselines: the cache-line ping-pong floor and the eventfd wake
 * round trip, both timed exactly like the xio round trips (one
 * bench_tsc_start/stop pair around each round trip, initiator on cpu_a,
 * responder on cpu_b).
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xio/barrier.h>

/* ---- cache-line ping-pong -------------------------------------------- */

/* 128 bytes: one line plus the guard line against adjacent-line prefetch. */
struct bench_line {
	uint64_t v;
	uint8_t pad[120];
} __attribute__((aligned(128)));

struct cl_arg {
	struct bench_line *ping; /* written by the initiator only */
	struct bench_line *pong; /* written by the responder only */
	uint64_t total;
};

static void *cl_responder(void *p)
{
	struct cl_arg *a = p;
	uint64_t i;

	for (i = 1; i <= a->total; i++) {
		while (xio_load_acquire(&a->ping->v) != i)
			xio_cpu_relax();
		xio_store_release(&a->pong->v, i);
	}
	return NULL;
}

static inline void cl_round_trip(struct cl_arg *a, uint64_t i)
{
	xio_store_release(&a->ping->v, i);
	while (xio_load_acquire(&a->pong->v) != i)
		xio_cpu_relax();
}

void bench_cacheline_rtt(struct bench_ctx *ctx, uint64_t iters,
			 struct bench_lat *lat)
{
	struct bench_line *lines = aligned_alloc(128, 2 * sizeof(*lines));
	uint64_t *samp = malloc(iters * sizeof(*samp));
	uint64_t warm = iters / 10 + 100, i = 1, k, t0;
	struct cl_arg a;
	pthread_t th;

	if (!lines || !samp)
		bench_die("out of memory");
	memset(lines, 0, 2 * sizeof(*lines));
	a.ping = &lines[0];
	a.pong = &lines[1];
	a.total = warm + 2 * iters;
	bench_thread_start(ctx, &th, ctx->cpu_b, cl_responder, &a);
	for (k = 0; k < warm; k++)
		cl_round_trip(&a, i++);
	for (k = 0; k < iters; k++) {
		t0 = bench_tsc_start();
		cl_round_trip(&a, i++);
		samp[k] = bench_tsc_stop() - t0;
	}
	t0 = bench_tsc_start();
	for (k = 0; k < iters; k++)
		cl_round_trip(&a, i++);
	t0 = bench_tsc_stop() - t0;
	bench_thread_join(th);
	bench_lat_compute(samp, iters, lat);
	lat->untimed_mean = bench_ns(t0) / (double)iters;
	free(samp);
	free(lines);
}

/* ---- eventfd wake round trip ----------------------------------------- */

struct efd_arg {
	int to_b; /* initiator writes, responder reads */
	int to_a; /* responder writes, initiator reads */
	uint64_t total;
};

static void efd_write(int fd)
{
	uint64_t one = 1;

	while (write(fd, &one, sizeof(one)) != sizeof(one))
		if (errno != EINTR)
			bench_die("eventfd write: %s", strerror(errno));
}

static void efd_read(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) != sizeof(v))
		if (errno != EINTR)
			bench_die("eventfd read: %s", strerror(errno));
}

static void *efd_responder(void *p)
{
	struct efd_arg *a = p;
	uint64_t i;

	for (i = 0; i < a->total; i++) {
		efd_read(a->to_b);
		efd_write(a->to_a);
	}
	return NULL;
}

void bench_eventfd_rtt(struct bench_ctx *ctx, uint64_t iters,
		       struct bench_lat *lat)
{
	uint64_t *samp = malloc(iters * sizeof(*samp));
	uint64_t warm = iters / 10 + 10, k;
	struct efd_arg a;
	pthread_t th;

	if (!samp)
		bench_die("out of memory");
	a.to_b = eventfd(0, EFD_CLOEXEC);
	a.to_a = eventfd(0, EFD_CLOEXEC);
	if (a.to_b < 0 || a.to_a < 0)
		bench_die("eventfd: %s", strerror(errno));
	a.total = warm + iters;
	bench_thread_start(ctx, &th, ctx->cpu_b, efd_responder, &a);
	for (k = 0; k < warm; k++) {
		efd_write(a.to_b);
		efd_read(a.to_a);
	}
	for (k = 0; k < iters; k++) {
		uint64_t t0 = bench_tsc_start();

		efd_write(a.to_b);
		efd_read(a.to_a);
		samp[k] = bench_tsc_stop() - t0;
	}
	bench_thread_join(th);
	close(a.to_b);
	close(a.to_a);
	bench_lat_compute(samp, iters, lat);
	free(samp);
}
