/* SPDX-License-Identifier: MIT */
/*
 * xio-bench: shared machinery for the subcommands.
 *
 *  - timing: the TSC (lfence; rdtsc ... rdtscp; lfence), calibrated once
 *    against CLOCK_MONOTONIC_RAW; elsewhere than x86 the clock itself;
 *  - pinning: every measuring thread runs on one of the two CPUs given with
 *    --cpus A,B (the guest/producer side on A, the host/consumer side on B);
 *  - statistics: per-run percentiles of individually timed samples, then
 *    min/median/max over the runs;
 *  - output: one machine-readable line per metric,
 *        RESULT|xio-bench|<metric>|<unit>|<min>|<median>|<max>|<runs>
 *    (the format of ../shared/peers, so the lines can be put side by side),
 *    a human table per subcommand, and with --json a JSON document;
 *  - the same-run baselines: the cache-line ping-pong floor and the eventfd
 *    wake round trip, measured on the same two CPUs by the same harness.
 *
 * Adding a subcommand: write <name>.c with
 *	int bench_<name>(struct bench_ctx *ctx, int argc, char **argv);
 * (returns the exit status), then add one X(<name>, "summary") line to
 * BENCH_SUBCOMMANDS below and the file name to examples/CMakeLists.txt.
 */
#ifndef XIO_BENCH_H
#define XIO_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#else
#define BENCH_HAVE_TSC 0
#endif

#define BENCH_MAX_RUNS 101
#define BENCH_MAX_RESULTS 64

/* One metric: its value in each run, summarised by bench_report(). */
struct bench_result {
	char metric[64];
	char unit[16];
	double min, median, max;
	int runs;
};

/* Options common to every subcommand, and the results collected so far. */
struct bench_ctx {
	const char *subcommand;
	int cpu_a; /* guest / producer / initiator */
	int cpu_b; /* host / consumer / responder */
	int runs;  /* --runs N */
	bool quick; /* --quick: short runs (smoke test), numbers not meaningful */
	bool json; /* --json: JSON document at the end */
	bool pinned;
	struct bench_result res[BENCH_MAX_RESULTS];
	int nres;
};

/* X(name, summary): one line per subcommand, in the order of --help. */
#define BENCH_SUBCOMMANDS(X)                                                   \
	X(ring, "SQ throughput and SQ/CQ round trip, both faces in-process")   \
	X(rtt, "NOP round trip through xiod beside the floor and eventfd")     \
	X(throughput, "NOP and 4 KiB I/O ops/s through xiod beside SQPOLL")    \
	X(tenants, "1..N tenant processes on one xiod poller: Jain, CPU")      \
	X(idle, "xiod CPU with idle tenants, first op after a sleep")          \
	X(fair, "xiod accounting shares 10/30/60, noisy neighbour + quota")    \
	X(steer, "frames/s into tenants' RX rings: xio steering vs a bridge")  \
	X(dio, "4 KiB READs one at a time via xiod: buffered vs O_DIRECT")

#define X(name, summary)                                                       \
	int bench_##name(struct bench_ctx *ctx, int argc, char **argv);
BENCH_SUBCOMMANDS(X)
#undef X

/* ---- time ----------------------------------------------------------- */

static inline uint64_t bench_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Timestamp before the timed code: earlier instructions have retired. */
static inline uint64_t bench_tsc_start(void)
{
#if BENCH_HAVE_TSC
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
#else
	return bench_mono_ns();
#endif
}

/* Timestamp after the timed code: it has retired before the read. */
static inline uint64_t bench_tsc_stop(void)
{
#if BENCH_HAVE_TSC
	unsigned int aux;
	uint64_t t = __rdtscp(&aux);

	_mm_lfence();
	return t;
#else
	return bench_mono_ns();
#endif
}

/* Ticks per ns, measured against CLOCK_MONOTONIC_RAW over ~50 ms. */
extern double bench_tsc_per_ns;
void bench_calibrate(void);

static inline double bench_ns(uint64_t ticks)
{
	return (double)ticks / bench_tsc_per_ns;
}

/* ---- threads -------------------------------------------------------- */

/* Pin the calling thread to @cpu: 0 or a positive errno. */
int bench_pin(int cpu);

/*
 * Start @fn(@arg) on a thread pinned to @cpu (the pin is done by the new
 * thread before it calls @fn; failure to pin is fatal unless --quick).
 */
void bench_thread_start(struct bench_ctx *ctx, pthread_t *th, int cpu,
			void *(*fn)(void *), void *arg);
void bench_thread_join(pthread_t th);

/* ---- statistics ----------------------------------------------------- */

/*
 * Per-run latency statistics.  The percentiles come from individually
 * timed samples, so they include the timer's own cost and granularity (on
 * some virtual machines the TSC advances in steps of ~10 ns); untimed_mean
 * is the mean of a second batch of round trips timed only in aggregate.
 */
struct bench_lat {
	double p50, p99, p999, max, mean; /* ns */
	double untimed_mean;		  /* ns, 0 if not measured */
};

/* Sort @ticks[0..n) in place and fill @s (ns), untimed_mean excepted. */
void bench_lat_compute(uint64_t *ticks, size_t n, struct bench_lat *s);

/*
 * Summarise @v[0..n) (one value per run; sorted in place) as min/median/max,
 * print the RESULT line and keep it for the table and the JSON document.
 * Returns the stored result.
 */
const struct bench_result *bench_report(struct bench_ctx *ctx,
					const char *metric, const char *unit,
					double *v, int n);

/* The stored result called @metric, or NULL. */
const struct bench_result *bench_find(const struct bench_ctx *ctx,
				      const char *metric);

/* Human table: a header, then one row per stored result (median, range). */
void bench_table_header(const struct bench_ctx *ctx, const char *title);
void bench_table_row(const struct bench_ctx *ctx, const char *label,
		     const char *metric);

/* A metric of a subcommand: its name, unit and label in the table. */
struct bench_metric {
	const char *metric, *unit, *label;
};

/*
 * bench_report() each of the @n metrics @m, metric i having its values in
 * @v[i][0..ctx->runs), then the table titled @title with a row each.
 */
void bench_report_table(struct bench_ctx *ctx, const char *title,
			const struct bench_metric *m, int n,
			double (*v)[BENCH_MAX_RUNS]);

/* The JSON document of every stored result (--json). */
void bench_json(const struct bench_ctx *ctx, FILE *f);

/* ---- diagnostics ---------------------------------------------------- */

__attribute__((noreturn, format(printf, 1, 2))) void bench_die(const char *fmt,
							       ...);
/* Progress and per-run details: stderr, so stdout stays parseable. */
__attribute__((format(printf, 2, 3))) void
bench_info(const struct bench_ctx *ctx, const char *fmt, ...);

/* ---- same-run baselines (baseline.c) --------------------------------- */

/*
 * Cache-line ping-pong: the initiator on cpu_a stores i to a "doorbell"
 * line, the responder on cpu_b spins (with a pause) until it sees it and
 * stores i to a separate "completion" line; each round trip is timed.  This
 * is the physical floor of any polled doorbell round trip and has the shape
 * of an SQ tail + CQ tail pair (each line written by one side only).
 * Fills @lat for one run of @iters timed round trips (then @iters untimed).
 */
void bench_cacheline_rtt(struct bench_ctx *ctx, uint64_t iters,
			 struct bench_lat *lat);

/*
 * eventfd wake round trip: two eventfds, each side blocks in read() on its
 * own and writes the other's; each round trip is timed.  What a wake-based
 * (exit-based) notification costs on this machine.
 */
void bench_eventfd_rtt(struct bench_ctx *ctx, uint64_t iters,
		       struct bench_lat *lat);

/* ---- a private xiod (xiod.c) ----------------------------------------- */

/*
 * Fork and exec xiod with @argv (@xiod, else next to this binary, else
 * $PATH; it gets SIGTERM if we die) and wait until @sock accepts (10 s).
 */
pid_t bench_xiod_spawn(const char *xiod, char *const argv[], const char *sock);

#endif /* XIO_BENCH_H */
