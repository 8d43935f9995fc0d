/* SPDX-License-Identifier: MIT */
/*
 * xio-bench: benchmarks of xio beside same-run baselines.
 *
 *   xio-bench [--cpus A,B] [--runs N] [--quick] [--json] <subcommand> [args]
 *
 * Each subcommand lives in its own file (<name>.c, entry point bench_<name>)
 * and is listed once in BENCH_SUBCOMMANDS (bench.h).
 */
#include "bench.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct subcommand {
	const char *name;
	int (*fn)(struct bench_ctx *ctx, int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
#define X(name, summary) {#name, bench_##name, summary},
	BENCH_SUBCOMMANDS(X)
#undef X
};

#define NR_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: xio-bench [options] <subcommand> [args]\n"
		"options:\n"
		"  --cpus A,B  the two CPUs to measure on (default 0,1): the guest/producer\n"
		"              side runs on A, the host/consumer side on B\n"
		"  --runs N    independent runs per metric (default 5, max %d)\n"
		"  --quick     short runs: a smoke test, the figures are not meaningful\n"
		"  --json      print a JSON document of the results at the end\n"
		"  -h, --help  this text\n"
		"Every metric is printed as\n"
		"  RESULT|xio-bench|<metric>|<unit>|<min>|<median>|<max>|<runs>\n"
		"subcommands:\n",
		BENCH_MAX_RUNS);
	for (i = 0; i < NR_SUBCOMMANDS; i++)
		fprintf(f, "  %-10s  %s\n", subcommands[i].name,
			subcommands[i].summary);
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (end == s || *end || v < lo || v > hi)
		bench_die("%s: '%s' is not an integer in %d..%d", what, s, lo,
			  hi);
	return (int)v;
}

static void parse_cpus(struct bench_ctx *ctx, const char *s)
{
	char buf[64], *comma;

	snprintf(buf, sizeof(buf), "%s", s);
	comma = strchr(buf, ',');
	if (!comma)
		bench_die("--cpus: expected two CPU numbers, e.g. --cpus 0,1");
	*comma = '\0';
	ctx->cpu_a = parse_int(buf, 0, CPU_SETSIZE - 1, "--cpus");
	ctx->cpu_b = parse_int(comma + 1, 0, CPU_SETSIZE - 1, "--cpus");
	if (ctx->cpu_a == ctx->cpu_b)
		bench_die("--cpus: the two CPUs must differ");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cpus", required_argument, NULL, 'c'},
		{"runs", required_argument, NULL, 'r'},
		{"quick", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct bench_ctx ctx;
	const struct subcommand *sc = NULL;
	bool runs_set = false;
	size_t i;
	int opt, err, rc, cpu;

	ctx.cpu_a = 0;
	ctx.cpu_b = 1;
	ctx.runs = 5;
	/* '+': stop at the subcommand, its own arguments follow it. */
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			parse_cpus(&ctx, optarg);
			break;
		case 'r':
			ctx.runs =
				parse_int(optarg, 1, BENCH_MAX_RUNS, "--runs");
			runs_set = true;
			break;
		case 'q':
			ctx.quick = true;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NR_SUBCOMMANDS; i++)
		if (!strcmp(argv[optind], subcommands[i].name))
			sc = &subcommands[i];
	if (!sc) {
		fprintf(stderr, "xio-bench: unknown subcommand '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (ctx.quick && !runs_set)
		ctx.runs = 1;
	ctx.subcommand = sc->name;

	/*
	 * The main thread is the guest/producer/initiator side: CPU A.  Try
	 * CPU B from here too, so that a bad --cpus fails before any work.
	 */
	cpu = ctx.cpu_a;
	err = bench_pin(cpu);
	if (!err) {
		cpu = ctx.cpu_b;
		err = bench_pin(cpu);
		if (!err) {
			cpu = ctx.cpu_a;
			err = bench_pin(cpu);
		}
	}
	if (err && !ctx.quick)
		bench_die(
			"cannot pin to CPU %d: %s (pick others with --cpus A,B)",
			cpu, strerror(err));
	ctx.pinned = !err;
	if (!ctx.pinned)
		bench_info(&ctx,
			   "xio-bench: warning: not pinned to CPUs %d,%d\n",
			   ctx.cpu_a, ctx.cpu_b);
	bench_calibrate();
	bench_info(&ctx,
		   "xio-bench %s: CPUs %d,%d, %d run(s)%s, timer %.3f GHz\n",
		   sc->name, ctx.cpu_a, ctx.cpu_b, ctx.runs,
		   ctx.quick ? " (quick)" : "", bench_tsc_per_ns);

	rc = sc->fn(&ctx, argc - optind, argv + optind);
	if (ctx.json)
		bench_json(&ctx, stdout);
	return rc;
}
