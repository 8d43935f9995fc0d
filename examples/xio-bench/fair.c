/* SPDX-License-Identifier: MIT */
/*
 * xio-bench fair: accounting and quotas of xiod (issue 5,
 * docs/accounting.md), with a private xiod whose one poller is pinned to
 * CPU B.
 *
 * shares (Closer's fairness experiment): three tenants offer 10 %, 30 % and
 *   60 % of a fixed total rate of 4 KiB READs (page cache, open loop, at
 *   most 16 in flight each); the poller time xiod attributes to each
 *   (xio_tenant_stats.cpu_ns) as a share of the three, and the largest
 *   distance in percentage points from the offered shares (target <= 2);
 *   the poller's accounted time (attributed + idle + overhead) against its
 *   thread CPU time (target 98..102 %).
 *   Also the poller's busy fraction (thread CPU time not idle, over the
 *   wall time): the shares follow the offered load only while the poller
 *   keeps up; a saturated or starved poller serves the backlogged tenants
 *   by weight (equal here) instead.
 * noisy neighbour: two tenants run a moderate load (open loop, --pair-rate
 *   READs/s each, at most 16 in flight), alone, then beside a third that
 *   floods NOPs 64 deep without quota, then with --ops-rate on the flood:
 *   the pair's throughput as a percentage of alone (target >= 90 with the
 *   quota) and the flood's rate against its limit.  The same with a pair
 *   that each keep 4 READs in flight (closed loop: as fast as they can).
 *
 * Each run does all phases in turn (interleaved), so a noisy minute of a
 * shared machine hits one run rather than one experiment; the table gives
 * median (min .. max) over --runs.
 *
 * The guest threads all run on CPU A (they spin: beside the poller on CPU
 * B they would take its time and the split would measure the scheduler).
 * So an unthrottled flood also takes CPU A from the pair (on a 2-CPU
 * machine the "no quota" figure mixes poller and guest-CPU contention);
 * held by its quota, the flood sleeps in xio_wait_cqe() on a full ring.
 *
 * usage: xio-bench [options] fair [--xiod PATH] [--rate OPS_PER_S]
 *                  [--flood-limit OPS_PER_S] [--pair-rate OPS_PER_S]
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#define BLK 4096U

struct fenv {
	pid_t pid;
	char dir[64];
	char sock[108];
	char file[128];
	int cpu_a; /* where the guest threads run */
	struct xio_admin *a;
};

static void fenv_start(struct bench_ctx *ctx, const char *xiod, struct fenv *e)
{
	char cpu[16], buf[BLK];
	char *argv[] = {
		"xiod", "--foreground", "--socket", e->sock,	   "--cpus",
		cpu,	"--idle-us",	"2000",	    "--log-level", "warning",
		NULL};
	int fd, i;

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/xio-bench-XXXXXX");
	if (!mkdtemp(e->dir))
		bench_die("mkdtemp: %s", strerror(errno));
	snprintf(e->sock, sizeof(e->sock), "%s/xiod.sock", e->dir);
	snprintf(e->file, sizeof(e->file), "%s/data", e->dir);
	snprintf(cpu, sizeof(cpu), "%d", ctx->cpu_b);
	e->cpu_a = ctx->pinned ? ctx->cpu_a : -1;
	fd = open(e->file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		bench_die("%s: %s", e->file, strerror(errno));
	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < 256; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			bench_die("writing %s", e->file);
	close(fd);
	e->pid = bench_xiod_spawn(xiod, argv, e->sock);
	if (xio_admin_open(e->sock, &e->a))
		bench_die("xiod at %s: no admin connection", e->sock);
}

static void fenv_stop(struct fenv *e)
{
	int st;

	xio_admin_close(e->a);
	kill(e->pid, SIGTERM);
	waitpid(e->pid, &st, 0);
	unlink(e->file);
	rmdir(e->dir);
}

/* One tenant driven by one thread. */
struct ftenant {
	struct fenv *e;
	char name[32];
	struct xio_tenant *t;
	double rate;	/* open loop: ops/s; 0: closed loop */
	uint32_t depth; /* most in flight */
	bool nop;
	double secs;
	volatile int *go;
	int cpu; /* pinned there, or -1 */
	uint64_t done;
	double cpu_pct; /* its thread's CPU time over its run's wall time */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void ft_attach(struct fenv *e, struct ftenant *f, const char *name)
{
	struct xio_client_opts co = {.sz = sizeof(co)};
	int err;

	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->e = e;
	f->cpu = e->cpu_a;
	co.name = f->name;
	co.params.sq_entries = 64;
	co.params.nr_bufs = 64;
	err = xio_client_attach(e->sock, &co, &f->t);
	if (err)
		bench_die("attach %s: %s", name, xio_strerror(err));
	err = xio_admin_target_add(e->a, f->name, e->file, XIO_TARGET_RDONLY);
	if (err < 0)
		bench_die("target add: %s", xio_strerror(err));
}

static void *ft_run(void *arg)
{
	struct ftenant *f = arg;
	struct xio_qp *qp = xio_tenant_qp(f->t, 0);
	uint64_t t0, now, end, sent = 0, inflight = 0, i = 0, c0;
	struct xio_cqe *c;
	struct xio_sqe *s;

	if (f->cpu >= 0)
		bench_pin(f->cpu);
	while (!__atomic_load_n(f->go, __ATOMIC_ACQUIRE))
		xio_cpu_relax();
	t0 = bench_mono_ns();
	c0 = thread_cpu_ns();
	end = t0 + (uint64_t)(f->secs * 1e9);
	while ((now = bench_mono_ns()) < end) {
		uint64_t due =
			f->rate > 0 ?
				(uint64_t)((double)(now - t0) * f->rate / 1e9) :
				UINT64_MAX;
		bool any = false;

		while (sent < due && inflight < f->depth &&
		       (s = xio_get_sqe(qp))) {
			if (f->nop)
				xio_prep_nop(s, i);
			else
				xio_prep_read(s, 0, (uint32_t)(i % 64), 0, BLK,
					      (i * 7919 % 256) * BLK, i);
			i++;
			sent++;
			inflight++;
			any = true;
		}
		if (any)
			xio_submit(qp);
		while (xio_peek_cqe(qp, &c) == 0) {
			if (c->res < 0)
				bench_die("%s: op failed: %s", f->name,
					  xio_strerror(c->res));
			xio_cqe_seen(qp, c);
			inflight--;
			f->done++;
			any = true;
		}
		/*
		 * The flood with a full ring waits like a guest would (spin,
		 * then sleep on its notify eventfd): held by its quota, it
		 * leaves CPU A to the pair instead of spinning beside it.
		 */
		if (!any && f->nop && xio_wait_cqe(qp, &c, 10) == 0) {
			xio_cqe_seen(qp, c);
			inflight--;
			f->done++;
		}
		/* Open loop with nothing in flight: sleep to the next due
		 * request (at most 1 ms) instead of spinning on CPU A. */
		if (!any && f->rate > 0 && !inflight) {
			uint64_t next = t0 + (uint64_t)((double)(sent + 1) *
							1e9 / f->rate);
			struct timespec ts = {0, 1000000};

			if (next > now && next - now < 1000000)
				ts.tv_nsec = (long)(next - now);
			if (next > now)
				nanosleep(&ts, NULL);
		}
	}
	f->cpu_pct = 100 * (double)(thread_cpu_ns() - c0) /
		     (double)(bench_mono_ns() - t0);
	while (inflight) {
		if (xio_wait_cqe(qp, &c, 1000) == 0) {
			xio_cqe_seen(qp, c);
			inflight--;
		}
	}
	return NULL;
}

/* Run @n tenants for their secs; each ->done is set. */
static void run_set(struct ftenant **f, int n)
{
	pthread_t th[8];
	volatile int go = 0;
	int i;

	for (i = 0; i < n; i++) {
		f[i]->go = &go;
		f[i]->done = 0;
		if (pthread_create(&th[i], NULL, ft_run, f[i]))
			bench_die("pthread_create");
	}
	usleep(10000);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void stats_of(struct fenv *e, const char *name,
		     struct xio_tenant_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	if (xio_admin_stats(e->a, name, 0, st, 1, NULL) != 1)
		bench_die("stats %s", name);
}

static void poller0(struct fenv *e, struct xio_poller_stats *p)
{
	memset(p, 0, sizeof(*p));
	p->sz = sizeof(*p);
	if (xio_admin_poller_stats(e->a, p, 1, NULL) != 1)
		bench_die("poller stats");
}

enum {
	F_SHARE10,
	F_SHARE30,
	F_SHARE60,
	F_MAXDEV,
	F_DONEDEV,
	F_ACCOUNTED,
	F_BUSY,
	F_NM_SOLO,
	F_NM_NOQUOTA,
	F_NM_QUOTA,
	F_NM_FLOOD,
	F_NM_FCPU,
	F_NN_SOLO,
	F_NN_NOQUOTA,
	F_NN_QUOTA,
	F_NN_FLOOD,
	F_NN_FCPU,
	F_LOAD,
	F_NR
};

static const struct bench_metric fair_metrics[F_NR] = {
	{"fair.charged_10", "pct", "tenant offering 10%: charged share"},
	{"fair.charged_30", "pct", "tenant offering 30%: charged share"},
	{"fair.charged_60", "pct", "tenant offering 60%: charged share"},
	{"fair.max_dev", "points", "largest |charged - offered| (target <= 2)"},
	{"fair.done_dev", "points",
	 "largest |charged - share of ops completed|"},
	{"fair.accounted", "pct", "accounted / poller thread CPU (98..102)"},
	{"fair.poller_busy", "pct", "shares: poller busy / wall time"},
	{"fair.nm.solo", "Kops/s", "moderate pair (open loop) alone"},
	{"fair.nm.noquota", "pct",
	 "moderate pair beside a NOP flood, no quota"},
	{"fair.nm.quota", "pct", "moderate pair beside it, --ops-rate (>= 90)"},
	{"fair.nm.flood", "pct", "flood's rate / its ops-rate limit"},
	{"fair.nm.flood_cpu", "pct", "held flood's guest thread: CPU / wall"},
	{"fair.nn.solo", "Kops/s", "pair of 4-deep readers alone"},
	{"fair.nn.noquota", "pct", "pair beside a NOP flood, no quota"},
	{"fair.nn.quota", "pct",
	 "pair beside the flood with --ops-rate (>= 90)"},
	{"fair.nn.flood", "pct", "flood's rate / its ops-rate limit (4-deep)"},
	{"fair.nn.flood_cpu", "pct", "held flood's guest thread: CPU / wall"},
	{"fair.loadavg", "load", "1-minute load average as each run began"},
};

/*
 * Noisy neighbour, one run: @pair alone, beside the flood without quota,
 * beside it held to @limit; results into v[first..first+4][r] (the last:
 * how much of CPU A the held flood's guest thread took).
 */
static void noisy(struct bench_ctx *ctx, struct fenv *e, struct ftenant *nn,
		  double limit, double secs, double (*v)[BENCH_MAX_RUNS],
		  int first, int r, const char *what)
{
	struct xio_quota q = {.sz = sizeof(q), .flags = XIO_QUOTA_OPS_RATE};
	struct ftenant *set[3] = {&nn[0], &nn[1], &nn[2]};
	struct xio_poller_stats p0, p1;
	double solo, with, flood, busy;
	uint64_t w0;

	run_set(set, 2);
	solo = (double)(nn[0].done + nn[1].done) / secs;
	q.ops_rate = 0;
	if (xio_admin_quota_set(e->a, nn[2].name, &q))
		bench_die("quota");
	run_set(set, 3);
	with = (double)(nn[0].done + nn[1].done) / secs;
	flood = (double)nn[2].done / secs;
	v[first][r] = solo / 1e3;
	v[first + 1][r] = 100 * with / solo;
	bench_info(
		ctx,
		"  %s: pair alone %.0f ops/s, beside an unlimited flood (%.0f ops/s) %.0f ops/s",
		what, solo, flood, with);
	q.ops_rate = (uint64_t)limit;
	if (xio_admin_quota_set(e->a, nn[2].name, &q))
		bench_die("quota");
	poller0(e, &p0);
	w0 = bench_mono_ns();
	run_set(set, 3);
	busy = (double)(bench_mono_ns() - w0);
	poller0(e, &p1);
	busy = 100 *
	       ((double)(p1.thread_cpu_ns - p0.thread_cpu_ns) -
		(double)(p1.idle_ns - p0.idle_ns)) /
	       busy;
	with = (double)(nn[0].done + nn[1].done) / secs;
	v[first + 2][r] = 100 * with / solo;
	v[first + 3][r] = 100 * (double)nn[2].done / secs / limit;
	v[first + 4][r] = nn[2].cpu_pct;
	bench_info(
		ctx,
		", beside the flood held to %.0f/s (%.0f ops/s) %.0f ops/s; guest CPU: pair %.0f+%.0f %%, flood %.0f %%; poller busy %.0f %%\n",
		limit, (double)nn[2].done / secs, with, nn[0].cpu_pct,
		nn[1].cpu_pct, nn[2].cpu_pct, busy);
}

/* The 1-minute load average (a quiet machine reads well below its CPUs). */
static double loadavg(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double l = -1;

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* Offered shares against charged ones, one run; results into v[..][r]. */
static void shares(struct bench_ctx *ctx, struct fenv *e, struct ftenant *sh,
		   const double *offer, double (*v)[BENCH_MAX_RUNS], int r)
{
	struct ftenant *set[3] = {&sh[0], &sh[1], &sh[2]};
	struct xio_poller_stats p0, p1;
	struct xio_tenant_stats st;
	double cpu[3], sum = 0, dev = 0, ddev = 0, acc, thr, done = 0;
	uint64_t w0, w1;
	int i;

	if (xio_admin_stats_reset(e->a, NULL))
		bench_die("stats reset");
	poller0(e, &p0);
	w0 = bench_mono_ns();
	run_set(set, 3);
	w1 = bench_mono_ns();
	poller0(e, &p1);
	for (i = 0; i < 3; i++) {
		stats_of(e, sh[i].name, &st);
		cpu[i] = (double)st.cpu_ns;
		sum += cpu[i];
		done += (double)sh[i].done;
	}
	/*
	 * Against the offered shares (Closer's figure), and against the
	 * shares of the operations the guests really completed: the two
	 * differ when a loaded CPU A kept a guest from offering its load, and
	 * then only the second tells about the accounting.
	 */
	for (i = 0; i < 3; i++) {
		double share = sum > 0 ? 100 * cpu[i] / sum : 0;
		double d = fabs(share - 100 * offer[i]);
		double dd =
			fabs(share -
			     (done > 0 ? 100 * (double)sh[i].done / done : 0));

		v[F_SHARE10 + i][r] = share;
		if (d > dev)
			dev = d;
		if (dd > ddev)
			ddev = dd;
	}
	v[F_MAXDEV][r] = dev;
	v[F_DONEDEV][r] = ddev;
	acc = (double)(p1.attributed_ns - p0.attributed_ns) +
	      (double)(p1.idle_ns - p0.idle_ns) +
	      (double)(p1.overhead_ns - p0.overhead_ns);
	thr = (double)(p1.thread_cpu_ns - p0.thread_cpu_ns);
	v[F_ACCOUNTED][r] = thr > 0 ? 100 * acc / thr : 0;
	v[F_BUSY][r] = 100 * (thr - (double)(p1.idle_ns - p0.idle_ns)) /
		       (double)(w1 - w0);
	bench_info(
		ctx,
		"  shares: done %llu/%llu/%llu, charged %.1f/%.1f/%.1f %%, max dev %.2f points, accounted %.1f %%, poller busy %.1f %%\n",
		(unsigned long long)sh[0].done, (unsigned long long)sh[1].done,
		(unsigned long long)sh[2].done, v[F_SHARE10][r],
		v[F_SHARE30][r], v[F_SHARE60][r], dev, v[F_ACCOUNTED][r],
		v[F_BUSY][r]);
}

int bench_fair(struct bench_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"xiod", required_argument, NULL, 'x'},
		{"rate", required_argument, NULL, 'r'},
		{"flood-limit", required_argument, NULL, 'l'},
		{"pair-rate", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	static double v[F_NR][BENCH_MAX_RUNS];
	static const double offer[3] = {0.1, 0.3, 0.6};
	const char *xiod = NULL;
	double rate = ctx->quick ? 20000 : 100000, limit = 20000;
	double pair_rate = ctx->quick ? 5000 : 20000;
	double secs = ctx->quick ? 0.3 : 2;
	struct ftenant sh[3], nn[3], nm[3];
	struct fenv e;
	char *end;
	int opt, r, i;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'x':
			xiod = optarg;
			break;
		case 'r':
			rate = strtod(optarg, &end);
			if (*end || !(rate >= 100 && rate <= 1e8))
				bench_die("--rate: '%s' is not in 100..1e8",
					  optarg);
			break;
		case 'l':
			limit = strtod(optarg, &end);
			if (*end || !(limit >= 100 && limit <= 1e9))
				bench_die(
					"--flood-limit: '%s' is not in 100..1e9",
					optarg);
			break;
		case 'p':
			pair_rate = strtod(optarg, &end);
			if (*end || !(pair_rate >= 100 && pair_rate <= 1e8))
				bench_die(
					"--pair-rate: '%s' is not in 100..1e8",
					optarg);
			break;
		default:
			fprintf(stderr,
				"usage: xio-bench [options] fair [--xiod PATH] [--rate OPS_PER_S] [--flood-limit OPS_PER_S] [--pair-rate OPS_PER_S]\n");
			return 2;
		}
	}
	fenv_start(ctx, xiod, &e);
	for (i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "share-%d", (int)(offer[i] * 100));
		ft_attach(&e, &sh[i], name);
		sh[i].rate = rate * offer[i];
		sh[i].depth = 16;
		sh[i].secs = secs;
	}
	ft_attach(&e, &nn[0], "calm-a");
	ft_attach(&e, &nn[1], "calm-b");
	ft_attach(&e, &nn[2], "flood");
	ft_attach(&e, &nm[0], "moderate-a");
	ft_attach(&e, &nm[1], "moderate-b");
	for (i = 0; i < 3; i++) {
		nn[i].rate = 0;
		nn[i].depth = i == 2 ? 64 : 4;
		nn[i].nop = i == 2;
		nn[i].secs = secs;
	}
	nm[2] = nn[2]; /* the same flood */
	for (i = 0; i < 2; i++) {
		nm[i].rate = pair_rate;
		nm[i].depth = 16;
		nm[i].nop = false;
		nm[i].secs = secs;
	}
	/* Interleaved: every run goes through every experiment. */
	for (r = 0; r < ctx->runs; r++) {
		v[F_LOAD][r] = loadavg();
		bench_info(ctx, "  run %d, load average %.2f\n", r + 1,
			   v[F_LOAD][r]);
		shares(ctx, &e, sh, offer, v, r);
		noisy(ctx, &e, nm, limit, secs, v, F_NM_SOLO, r,
		      "noisy neighbour, moderate pair");
		noisy(ctx, &e, nn, limit, secs, v, F_NN_SOLO, r,
		      "noisy neighbour, 4-deep pair");
	}
	for (i = 0; i < 3; i++) {
		xio_client_detach(sh[i].t);
		xio_client_detach(nn[i].t);
	}
	for (i = 0; i < 2; i++)
		xio_client_detach(nm[i].t);
	fenv_stop(&e);
	bench_report_table(
		ctx,
		"xio-bench fair: 4 KiB READs / NOPs, one xiod poller on CPU B, guests on CPU A",
		fair_metrics, F_NR, v);
	return 0;
}
