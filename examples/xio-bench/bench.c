/* SPDX-License-Identifier: MIT */
/* xio-bench: timing, pinning, statistics and output (see bench.h). */
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

double bench_tsc_per_ns = 1.0;

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fputs("xio-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void bench_info(const struct bench_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void bench_calibrate(void)
{
#if BENCH_HAVE_TSC
	uint64_t n0, n1, t0, t1;

	n0 = bench_mono_ns();
	t0 = bench_tsc_start();
	while (bench_mono_ns() - n0 < 50 * 1000000ULL)
		;
	t1 = bench_tsc_stop();
	n1 = bench_mono_ns();
	bench_tsc_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
#else
	bench_tsc_per_ns = 1.0;
#endif
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

struct thread_start {
	struct bench_ctx *ctx;
	int cpu;
	void *(*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start ts = *(struct thread_start *)p;
	int err;

	free(p);
	err = bench_pin(ts.cpu);
	if (err && !ts.ctx->quick)
		bench_die(
			"cannot pin a thread to CPU %d: %s (pick others with --cpus A,B)",
			ts.cpu, strerror(err));
	return ts.fn(ts.arg);
}

void bench_thread_start(struct bench_ctx *ctx, pthread_t *th, int cpu,
			void *(*fn)(void *), void *arg)
{
	struct thread_start *ts = malloc(sizeof(*ts));
	int err;

	if (!ts)
		bench_die("out of memory");
	ts->ctx = ctx;
	ts->cpu = cpu;
	ts->fn = fn;
	ts->arg = arg;
	err = pthread_create(th, NULL, thread_trampoline, ts);
	if (err)
		bench_die("pthread_create: %s", strerror(err));
}

void bench_thread_join(pthread_t th)
{
	int err = pthread_join(th, NULL);

	if (err)
		bench_die("pthread_join: %s", strerror(err));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_lat_compute(uint64_t *t, size_t n, struct bench_lat *s)
{
	double sum = 0;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (!n)
		return;
	for (i = 0; i < n; i++)
		sum += (double)t[i];
	qsort(t, n, sizeof(*t), cmp_u64);
	s->p50 = bench_ns(t[n / 2]);
	s->p99 = bench_ns(t[(n * 99) / 100]);
	s->p999 = bench_ns(t[(n * 999) / 1000]);
	s->max = bench_ns(t[n - 1]);
	s->mean = bench_ns(1) * (sum / (double)n);
}

/* Ratios get two decimals, everything else one (the peers' format). */
static int precision(const char *unit)
{
	return strcmp(unit, "x") ? 1 : 2;
}

const struct bench_result *bench_report(struct bench_ctx *ctx,
					const char *metric, const char *unit,
					double *v, int n)
{
	struct bench_result *r;
	int p = precision(unit);

	if (n < 1)
		bench_die("internal: no runs for %s", metric);
	if (ctx->nres >= BENCH_MAX_RESULTS)
		bench_die("internal: more than %d results", BENCH_MAX_RESULTS);
	r = &ctx->res[ctx->nres++];
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	snprintf(r->metric, sizeof(r->metric), "%s", metric);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->min = v[0];
	r->max = v[n - 1];
	r->median = (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
	r->runs = n;
	printf("RESULT|xio-bench|%s|%s|%.*f|%.*f|%.*f|%d\n", r->metric, r->unit,
	       p, r->min, p, r->median, p, r->max, r->runs);
	fflush(stdout);
	return r;
}

const struct bench_result *bench_find(const struct bench_ctx *ctx,
				      const char *metric)
{
	int i;

	for (i = 0; i < ctx->nres; i++)
		if (!strcmp(ctx->res[i].metric, metric))
			return &ctx->res[i];
	return NULL;
}

void bench_table_header(const struct bench_ctx *ctx, const char *title)
{
	if (ctx->json)
		return;
	printf("\n%s\n", title);
	printf("CPUs %d,%d%s; %d run%s%s; median (min .. max) over the runs\n",
	       ctx->cpu_a, ctx->cpu_b, ctx->pinned ? "" : " (NOT pinned)",
	       ctx->runs, ctx->runs == 1 ? "" : "s",
	       ctx->quick ? "; --quick: figures are NOT meaningful" : "");
	printf("  %-46s %12s  %-25s %s\n", "", "median", "(min .. max)",
	       "unit");
}

void bench_table_row(const struct bench_ctx *ctx, const char *label,
		     const char *metric)
{
	const struct bench_result *r = bench_find(ctx, metric);
	char range[64];
	int p;

	if (ctx->json || !r)
		return;
	p = precision(r->unit);
	snprintf(range, sizeof(range), "(%.*f .. %.*f)", p, r->min, p, r->max);
	printf("  %-46s %12.*f  %-25s %s\n", label, p, r->median, range,
	       r->unit);
}

void bench_report_table(struct bench_ctx *ctx, const char *title,
			const struct bench_metric *m, int n,
			double (*v)[BENCH_MAX_RUNS])
{
	int i;

	for (i = 0; i < n; i++)
		bench_report(ctx, m[i].metric, m[i].unit, v[i], ctx->runs);
	bench_table_header(ctx, title);
	for (i = 0; i < n; i++)
		bench_table_row(ctx, m[i].label, m[i].metric);
}

void bench_json(const struct bench_ctx *ctx, FILE *f)
{
	int i;

	fprintf(f,
		"{\"bench\": \"xio-bench\", \"subcommand\": \"%s\", "
		"\"cpus\": [%d, %d], \"pinned\": %s, \"runs\": %d, "
		"\"quick\": %s, \"tsc_ghz\": %.3f, \"results\": [",
		ctx->subcommand, ctx->cpu_a, ctx->cpu_b,
		ctx->pinned ? "true" : "false", ctx->runs,
		ctx->quick ? "true" : "false", bench_tsc_per_ns);
	for (i = 0; i < ctx->nres; i++) {
		const struct bench_result *r = &ctx->res[i];

		fprintf(f,
			"%s\n  {\"metric\": \"%s\", \"unit\": \"%s\", "
			"\"min\": %.3f, \"median\": %.3f, \"max\": %.3f, "
			"\"runs\": %d}",
			i ? "," : "", r->metric, r->unit, r->min, r->median,
			r->max, r->runs);
	}
	fprintf(f, "\n]}\n");
}
