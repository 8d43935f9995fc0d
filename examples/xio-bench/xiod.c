/* SPDX-License-Identifier: MIT */
/*
 * xio-bench rtt / throughput: the guest side of a tenant of a running xiod.
 *
 * The guest (this process) runs on CPU A.  With --socket PATH it attaches
 * to that xiod (whose poller should be pinned to CPU B); without, it starts
 * a private xiod on a temporary socket with its poller pinned to CPU B
 * (--idle-us 2000, so that it sleeps between the phases and leaves CPU B to
 * the baselines).  xiod is looked up as --xiod PATH, then next to this
 * binary (../daemon/xiod in a build tree, ../sbin/xiod installed), then in
 * $PATH.
 *
 * rtt: one NOP at a time, guest -> xiod -> guest: get an SQE, submit, spin
 *   on the CQ (no syscall while the poller is awake); timed per round trip
 *   (p50/p99) and in aggregate (mean).  Beside it, in the same run and on
 *   the same CPUs: the cache-line ping-pong floor and the eventfd wake
 *   round trip (baseline.c).  Ratios: xiod p50 / floor p50, eventfd p50 /
 *   xiod p50.
 * throughput: NOPs kept 64 deep in batches of 32, ops/s; the same shape
 *   through io_uring SQPOLL with its thread on CPU B (the kernel's own
 *   sidecore poller); then 4 KiB WRITEs and READs, 32 deep, on a file
 *   target (buffered, a temporary file next to the socket).  Kicks the
 *   guest rang per 10^6 operations.
 * dio: 4 KiB READs one at a time (the guest sleeps in xio_wait_cqe()) from
 *   a 16 MiB file in /var/tmp, through a buffered target and an O_DIRECT
 *   one (the private xiod at its default --idle-us 50), and the same
 *   O_DIRECT READs from one thread on CPU B with its own io_uring: mean,
 *   p50, p99 and the share over 1 ms (docs/benchmarks.md, "O_DIRECT").
 *
 * usage: xio-bench [options] rtt|throughput|tenants|idle|dio [--socket PATH]
 *                  [--xiod PATH] [--iters N] [--idle-us N]
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <liburing.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#define TP_BATCH 32U
#define TP_DEPTH 64U
#define IO_DEPTH 32U
#define IO_SIZE 4096U

struct xenv {
	pid_t pid; /* private xiod, or 0 */
	char dir[64];
	char sock[108];
	struct xio_tenant *t;
	struct xio_qp *qp;
};

struct xopts {
	const char *socket;
	const char *xiod;
	uint64_t iters;
	unsigned int
		idle_tenants; /* rtt: idle tenants beside the measured one */
	bool no_park;	      /* private xiod with --park-us 0 */
	const char *idle_us;  /* private xiod's --idle-us (default 2000) */
};

static int parse_opts(int argc, char **argv, struct xopts *o, const char *sub)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"xiod", required_argument, NULL, 'x'},
		{"iters", required_argument, NULL, 'n'},
		{"idle-tenants", required_argument, NULL, 'T'},
		{"no-park", no_argument, NULL, 'P'},
		{"idle-us", required_argument, NULL, 'I'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->socket = optarg;
			break;
		case 'x':
			o->xiod = optarg;
			break;
		case 'T':
			o->idle_tenants =
				(unsigned int)strtoul(optarg, &end, 10);
			if (*end || o->idle_tenants > 4000)
				bench_die(
					"--idle-tenants: '%s' is not in 0..4000",
					optarg);
			break;
		case 'P':
			o->no_park = true;
			break;
		case 'I':
			if (strtoul(optarg, &end, 10) > 60000000 || *end ||
			    !*optarg)
				bench_die(
					"--idle-us: '%s' is not in 0..60000000",
					optarg);
			o->idle_us = optarg;
			break;
		case 'n':
			o->iters = strtoull(optarg, &end, 10);
			if (*end || !o->iters)
				bench_die(
					"--iters: '%s' is not a positive integer",
					optarg);
			break;
		default:
			fprintf(stderr,
				"usage: xio-bench [options] %s [--socket PATH] [--xiod PATH] [--iters N]\n"
				"       [--idle-tenants N] [--no-park] [--idle-us N]\n",
				sub);
			return 2;
		}
	}
	return 0;
}

static bool can_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void exec_xiod(const char *xiod, char *const argv[])
{
	char self[PATH_MAX], cand[PATH_MAX + 32];
	ssize_t n;

	if (xiod) {
		execv(xiod, argv);
		bench_die("exec %s: %s", xiod, strerror(errno));
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(cand, sizeof(cand), "%s/../daemon/xiod",
			 dirname(self));
		execv(cand, argv);
		snprintf(cand, sizeof(cand), "%s/../sbin/xiod", self);
		execv(cand, argv);
	}
	execvp("xiod", argv);
	bench_die(
		"xiod not found: give --xiod PATH or --socket PATH of a running one");
}

pid_t bench_xiod_spawn(const char *xiod, char *const argv[], const char *sock)
{
	uint64_t deadline;
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		exec_xiod(xiod, argv);
	}
	deadline = bench_mono_ns() + 10000000000ULL;
	while (!can_connect(sock)) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid)
			bench_die("xiod exited during start-up");
		if (bench_mono_ns() > deadline)
			bench_die("xiod did not start within 10 s");
		usleep(10000);
	}
	return pid;
}

static void xenv_start(struct bench_ctx *ctx, const struct xopts *o,
		       struct xenv *e, const char *name, uint32_t sq,
		       uint32_t nr_bufs)
{
	struct xio_client_opts co = {.sz = sizeof(co)};
	int err;

	memset(e, 0, sizeof(*e));
	if (o->socket) {
		snprintf(e->sock, sizeof(e->sock), "%s", o->socket);
	} else {
		char cpu[16];
		char *argv[] = {"xiod",	     "--foreground", "--socket",
				e->sock,     "--cpus",	     cpu,
				"--idle-us", "2000",	     "--log-level",
				"warning",   NULL,	     NULL,
				NULL};

		if (o->idle_us)
			argv[7] = (char *)o->idle_us;
		if (o->no_park) {
			argv[10] = "--park-us";
			argv[11] = "0";
		}

		snprintf(e->dir, sizeof(e->dir), "/tmp/xio-bench-XXXXXX");
		if (!mkdtemp(e->dir))
			bench_die("mkdtemp: %s", strerror(errno));
		snprintf(e->sock, sizeof(e->sock), "%s/xiod.sock", e->dir);
		snprintf(cpu, sizeof(cpu), "%d", ctx->cpu_b);
		e->pid = bench_xiod_spawn(o->xiod, argv, e->sock);
	}
	co.name = name;
	co.params.sq_entries = sq;
	co.params.nr_bufs = nr_bufs;
	err = xio_client_attach(e->sock, &co, &e->t);
	if (err)
		bench_die("attaching to xiod at %s: %s", e->sock,
			  xio_strerror(err));
	e->qp = xio_tenant_qp(e->t, 0);
}

static void xenv_stop(struct xenv *e)
{
	int st;

	xio_client_detach(e->t);
	if (!e->pid)
		return;
	kill(e->pid, SIGTERM);
	waitpid(e->pid, &st, 0);
	rmdir(e->dir);
}

/* Let the private xiod's poller fall asleep before a baseline uses CPU B. */
static void settle(const struct xenv *e)
{
	if (e->pid)
		usleep(20000);
}

/* ---- rtt ---------------------------------------------------------------- */

static inline void nop_rt(struct xio_qp *qp, uint64_t ud)
{
	struct xio_sqe *s = xio_get_sqe(qp);
	struct xio_cqe *c;

	xio_prep_nop(s, ud);
	xio_submit(qp);
	while (xio_peek_cqe(qp, &c))
		xio_cpu_relax();
	if (c->res)
		bench_die("NOP failed: %s", xio_strerror(c->res));
	xio_cqe_seen(qp, c);
}

static void xiod_rtt_run(struct xenv *e, uint64_t iters, struct bench_lat *l)
{
	uint64_t *t = malloc(iters * sizeof(*t)), i, t0;

	if (!t)
		bench_die("out of memory");
	for (i = 0; i < 10000; i++) /* warm-up: wakes the poller */
		nop_rt(e->qp, i);
	for (i = 0; i < iters; i++) {
		t0 = bench_tsc_start();
		nop_rt(e->qp, i);
		t[i] = bench_tsc_stop() - t0;
	}
	bench_lat_compute(t, iters, l);
	t0 = bench_tsc_start();
	for (i = 0; i < iters; i++)
		nop_rt(e->qp, i);
	l->untimed_mean = bench_ns(bench_tsc_stop() - t0) / (double)iters;
	free(t);
}

enum {
	R_XIOD_P50,
	R_XIOD_P99,
	R_XIOD_MEAN,
	R_CL_P50,
	R_EFD_P50,
	R_RATIO_FLOOR,
	R_RATIO_EFD,
	R_NR
};

static const struct {
	const char *metric, *unit, *label;
} rtt_metrics[R_NR] = {
	{"rtt.xiod_nop.p50", "ns", "NOP round trip via xiod, p50"},
	{"rtt.xiod_nop.p99", "ns", "NOP round trip via xiod, p99"},
	{"rtt.xiod_nop.mean", "ns", "NOP round trip via xiod, untimed mean"},
	{"rtt.cacheline.p50", "ns", "cache-line ping-pong floor, p50"},
	{"rtt.eventfd.p50", "ns", "eventfd wake round trip, p50"},
	{"rtt.ratio_floor", "x", "xiod p50 / floor p50 (target <= 2)"},
	{"rtt.ratio_eventfd", "x", "eventfd p50 / xiod p50 (target >= 50)"},
};

/*
 * @n idle tenants beside the measured one (reliability anchor E5: scanning
 * idle tenants must not slow the active one; xiod parks them).
 */
static struct xio_tenant **idle_attach(struct xenv *e, unsigned int n)
{
	struct xio_tenant **t = calloc(n ? n : 1, sizeof(*t));
	struct rlimit rl;
	unsigned int i;

	if (!t)
		bench_die("out of memory");
	/* 3 fds per tenant here too. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n; i++) {
		struct xio_client_opts co = {.sz = sizeof(co)};
		char name[32];
		int err;

		snprintf(name, sizeof(name), "xio-bench-idle%u", i);
		co.name = name;
		co.params.sq_entries = 2;
		co.params.nr_bufs = 1;
		co.params.buf_size = 64;
		err = xio_client_attach(e->sock, &co, &t[i]);
		if (err)
			bench_die("idle tenant %u: %s", i, xio_strerror(err));
	}
	if (n)
		usleep(50000); /* longer than the park time */
	return t;
}

static void idle_detach(struct xio_tenant **t, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		xio_client_detach(t[i]);
	free(t);
}

int bench_rtt(struct bench_ctx *ctx, int argc, char **argv)
{
	static double v[R_NR][BENCH_MAX_RUNS];
	struct bench_lat x, cl, efd;
	struct xio_tenant **idle;
	struct xopts o;
	struct xenv e;
	uint64_t iters;
	int r, m;

	if (parse_opts(argc, argv, &o, "rtt"))
		return 2;
	iters = o.iters ? o.iters : ctx->quick ? 5000 : 200000;
	xenv_start(ctx, &o, &e, "xio-bench-rtt", 64, 1);
	idle = idle_attach(&e, o.idle_tenants);
	for (r = 0; r < ctx->runs; r++) {
		bench_info(ctx, "run %d/%d\n", r + 1, ctx->runs);
		xiod_rtt_run(&e, iters, &x);
		settle(&e);
		bench_cacheline_rtt(ctx, iters, &cl);
		bench_eventfd_rtt(ctx, iters / 15 > 100 ? iters / 15 : 100,
				  &efd);
		v[R_XIOD_P50][r] = x.p50;
		v[R_XIOD_P99][r] = x.p99;
		v[R_XIOD_MEAN][r] = x.untimed_mean;
		v[R_CL_P50][r] = cl.p50;
		v[R_EFD_P50][r] = efd.p50;
		v[R_RATIO_FLOOR][r] = x.p50 / cl.p50;
		v[R_RATIO_EFD][r] = efd.p50 / x.p50;
		bench_info(
			ctx,
			"  xiod NOP RTT p50 %.1f p99 %.1f mean %.1f ns; floor p50 %.1f ns; eventfd p50 %.1f ns\n",
			x.p50, x.p99, x.untimed_mean, cl.p50, efd.p50);
	}
	idle_detach(idle, o.idle_tenants);
	xenv_stop(&e);
	for (m = 0; m < R_NR; m++)
		bench_report(ctx, rtt_metrics[m].metric, rtt_metrics[m].unit,
			     v[m], ctx->runs);
	bench_table_header(
		ctx, "xio-bench rtt: guest on CPU A, xiod poller on CPU B");
	for (m = 0; m < R_NR; m++)
		bench_table_row(ctx, rtt_metrics[m].label,
				rtt_metrics[m].metric);
	return 0;
}

/* ---- throughput --------------------------------------------------------- */

/* Keep up to @depth requests in flight, submitted @batch at a time. */
static double xiod_pipe(struct xenv *e, uint64_t ops, uint8_t op,
			uint32_t target, uint32_t depth, uint32_t batch,
			uint64_t file_blocks)
{
	uint64_t sent = 0, done = 0, t0;
	uint32_t inflight = 0;

	t0 = bench_tsc_start();
	while (done < ops) {
		struct xio_cqe *c[64];
		uint32_t n, i;

		while (sent < ops && depth - inflight >= batch) {
			for (i = 0; i < batch && sent < ops; i++, sent++) {
				struct xio_sqe *s = xio_get_sqe(e->qp);
				uint32_t slot = (uint32_t)(sent % depth);

				if (!s)
					bench_die("internal: SQ full");
				if (op == XIO_OP_NOP)
					xio_prep_nop(s, sent);
				else
					xio_prep_rw(
						s, op, target, slot, 0, IO_SIZE,
						(sent % file_blocks) * IO_SIZE,
						sent);
				inflight++;
			}
			xio_submit(e->qp);
		}
		n = xio_peek_batch_cqe(e->qp, c, 64);
		for (i = 0; i < n; i++)
			if (c[i]->res < 0 ||
			    (op != XIO_OP_NOP && c[i]->res != (int32_t)IO_SIZE))
				bench_die("op %u failed: %d", op, c[i]->res);
		if (n) {
			xio_cq_advance(e->qp, n);
			inflight -= n;
			done += n;
		} else {
			xio_cpu_relax();
		}
	}
	return (double)ops / bench_ns(bench_tsc_stop() - t0) * 1e3; /* Mops/s */
}

static double sqpoll_pipe(struct bench_ctx *ctx, uint64_t ops)
{
	struct io_uring_params p;
	struct io_uring ring;
	uint64_t sent = 0, done = 0, t0;
	uint32_t inflight = 0;
	int err;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
	p.sq_thread_cpu = (unsigned int)ctx->cpu_b;
	p.sq_thread_idle = 2000;
	err = io_uring_queue_init_params(256, &ring, &p);
	if (err)
		bench_die("io_uring SQPOLL setup: %s", strerror(-err));
	t0 = bench_tsc_start();
	while (done < ops) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0, i;

		while (sent < ops && TP_DEPTH - inflight >= TP_BATCH) {
			for (i = 0; i < TP_BATCH && sent < ops; i++, sent++) {
				struct io_uring_sqe *s =
					io_uring_get_sqe(&ring);

				io_uring_prep_nop(s);
				s->user_data = sent;
				inflight++;
			}
			io_uring_submit(&ring); /* no syscall while it polls */
		}
		io_uring_for_each_cqe(&ring, head, cqe) n++;
		if (n) {
			io_uring_cq_advance(&ring, n);
			inflight -= n;
			done += n;
		} else {
			xio_cpu_relax();
		}
	}
	t0 = bench_tsc_stop() - t0;
	io_uring_queue_exit(&ring);
	return (double)ops / bench_ns(t0) * 1e3;
}

enum {
	T_XIOD_NOP,
	T_SQPOLL_NOP,
	T_RATIO,
	T_WRITE,
	T_READ,
	T_KICKS,
	T_NR
};

static const struct {
	const char *metric, *unit, *label;
} tp_metrics[T_NR] = {
	{"throughput.xiod_nop", "Mops/s",
	 "NOP via xiod, 64 deep, batches of 32"},
	{"throughput.sqpoll_nop", "Mops/s",
	 "NOP via io_uring SQPOLL, same shape"},
	{"throughput.ratio_sqpoll", "x", "xiod / SQPOLL (target >= 1)"},
	{"throughput.xiod_write4k", "kops/s", "4 KiB WRITE via xiod, 32 deep"},
	{"throughput.xiod_read4k", "kops/s", "4 KiB READ via xiod, 32 deep"},
	{"throughput.kicks_per_mop", "kicks/Mop", "doorbells per 10^6 NOPs"},
};

int bench_throughput(struct bench_ctx *ctx, int argc, char **argv)
{
	static double v[T_NR][BENCH_MAX_RUNS];
	char path[128];
	struct xio_admin *a;
	uint64_t nops, nio, blocks, k0;
	struct xopts o;
	struct xenv e;
	int r, m, fd, target = -1;

	if (parse_opts(argc, argv, &o, "throughput"))
		return 2;
	nops = o.iters ? o.iters : ctx->quick ? 200000 : 10000000;
	nio = ctx->quick ? 20000 : 500000;
	blocks = ctx->quick ? 1024 : 16384; /* 4 or 64 MiB */
	xenv_start(ctx, &o, &e, "xio-bench-tput", 256, TP_DEPTH);

	/* A file target, if we may administer this xiod. */
	snprintf(path, sizeof(path), "%s/bench.img", e.pid ? e.dir : "/tmp");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)(blocks * IO_SIZE)) < 0)
		bench_die("%s: %s", path, strerror(errno));
	close(fd);
	if (xio_admin_open(e.sock, &a) == 0) {
		target = xio_admin_target_add(a, "xio-bench-tput", path, 0);
		xio_admin_close(a);
	}
	if (target < 0)
		bench_info(ctx,
			   "no file target (%s): READ/WRITE not measured\n",
			   xio_strerror(target));

	for (r = 0; r < ctx->runs; r++) {
		bench_info(ctx, "run %d/%d\n", r + 1, ctx->runs);
		xiod_pipe(&e, nops / 10, XIO_OP_NOP, 0, TP_DEPTH, TP_BATCH, 1);
		k0 = xio_qp_kicks(e.qp);
		v[T_XIOD_NOP][r] = xiod_pipe(&e, nops, XIO_OP_NOP, 0, TP_DEPTH,
					     TP_BATCH, 1);
		v[T_KICKS][r] =
			(double)(xio_qp_kicks(e.qp) - k0) * 1e6 / (double)nops;
		settle(&e);
		v[T_SQPOLL_NOP][r] = sqpoll_pipe(ctx, nops);
		v[T_RATIO][r] = v[T_XIOD_NOP][r] / v[T_SQPOLL_NOP][r];
		if (target >= 0) {
			v[T_WRITE][r] = 1e3 * xiod_pipe(&e, nio, XIO_OP_WRITE,
							(uint32_t)target,
							IO_DEPTH, 8, blocks);
			v[T_READ][r] = 1e3 * xiod_pipe(&e, nio, XIO_OP_READ,
						       (uint32_t)target,
						       IO_DEPTH, 8, blocks);
		}
		bench_info(
			ctx,
			"  xiod NOP %.2f Mops/s, SQPOLL NOP %.2f Mops/s, WRITE %.0f READ %.0f kops/s, %.1f kicks/Mop\n",
			v[T_XIOD_NOP][r], v[T_SQPOLL_NOP][r], v[T_WRITE][r],
			v[T_READ][r], v[T_KICKS][r]);
	}
	unlink(path);
	xenv_stop(&e);
	for (m = 0; m < T_NR; m++) {
		if ((m == T_WRITE || m == T_READ) && target < 0)
			continue;
		bench_report(ctx, tp_metrics[m].metric, tp_metrics[m].unit,
			     v[m], ctx->runs);
	}
	bench_table_header(
		ctx,
		"xio-bench throughput: guest on CPU A, xiod poller / SQPOLL thread on CPU B");
	for (m = 0; m < T_NR; m++)
		if (!((m == T_WRITE || m == T_READ) && target < 0))
			bench_table_row(ctx, tp_metrics[m].label,
					tp_metrics[m].metric);
	return 0;
}

/* ---- idle and tenants --------------------------------------------------- */

/* CPU time of @pid (all threads) in seconds, or -1. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * idle: xiod's CPU use over a quiet period with idle tenants attached
 * (target < 1%), and the latency of the first NOP after the poller fell
 * asleep (a kick and a wake-up) beside the NOP round trip while it polls.
 */
int bench_idle(struct bench_ctx *ctx, int argc, char **argv)
{
	static double v[4][BENCH_MAX_RUNS];
	struct xio_tenant *idle[16] = {NULL};
	struct bench_lat busy;
	double secs = ctx->quick ? 1 : 10, first[20], c0, c1;
	int nfirst = ctx->quick ? 5 : 20, r, i, m;
	struct xopts o;
	struct xenv e;
	static const char *const metrics[4][3] = {
		{"idle.xiod_cpu", "pct",
		 "xiod CPU, 8 idle tenants (target < 1)"},
		{"idle.first_op.p50", "us",
		 "first NOP after the poller slept, p50"},
		{"idle.first_op.max", "us",
		 "first NOP after the poller slept, max"},
		{"idle.busy_rtt.p50", "us",
		 "NOP round trip while polling, p50"},
	};

	if (parse_opts(argc, argv, &o, "idle"))
		return 2;
	xenv_start(ctx, &o, &e, "xio-bench-idle", 64, 1);
	for (i = 0; i < 7; i++) {
		struct xio_client_opts co = {.sz = sizeof(co)};
		char name[32];
		int err;

		snprintf(name, sizeof(name), "xio-bench-idle-%d", i);
		co.name = name;
		co.params.sq_entries = 8;
		co.params.nr_bufs = 1;
		err = xio_client_attach(e.sock, &co, &idle[i]);
		if (err)
			bench_die("attach: %s", xio_strerror(err));
	}
	for (r = 0; r < ctx->runs; r++) {
		bench_info(ctx, "run %d/%d\n", r + 1, ctx->runs);
		xiod_rtt_run(&e, ctx->quick ? 2000 : 50000, &busy);
		usleep(100000); /* the poller falls asleep */
		c0 = e.pid ? proc_cpu_s(e.pid) : -1;
		usleep((useconds_t)(secs * 1e6));
		c1 = e.pid ? proc_cpu_s(e.pid) : -1;
		for (i = 0; i < nfirst; i++) {
			uint64_t t0;

			usleep(50000);
			t0 = bench_tsc_start();
			nop_rt(e.qp, (uint64_t)i);
			first[i] = bench_ns(bench_tsc_stop() - t0) / 1e3;
		}
		qsort(first, (size_t)nfirst, sizeof(first[0]), cmp_dbl);
		v[0][r] = c0 >= 0 && c1 >= 0 ? (c1 - c0) / secs * 100 : -1;
		v[1][r] = first[nfirst / 2];
		v[2][r] = first[nfirst - 1];
		v[3][r] = busy.p50 / 1e3;
		bench_info(
			ctx,
			"  xiod CPU %.2f%%, first op p50 %.1f us max %.1f us, busy RTT p50 %.2f us\n",
			v[0][r], v[1][r], v[2][r], v[3][r]);
	}
	for (i = 0; i < 7; i++)
		xio_client_detach(idle[i]);
	xenv_stop(&e);
	for (m = 0; m < 4; m++) {
		if (m == 0 && !e.pid)
			continue; /* not our xiod: its pid is unknown */
		bench_report(ctx, metrics[m][0], metrics[m][1], v[m],
			     ctx->runs);
	}
	bench_table_header(
		ctx,
		"xio-bench idle: xiod with idle tenants, then one NOP after each sleep");
	for (m = 0; m < 4; m++)
		if (m || e.pid)
			bench_table_row(ctx, metrics[m][2], metrics[m][0]);
	return 0;
}

struct tenant_report {
	uint64_t ops, kicks;
};

/* One tenant process: NOPs 64 deep until @secs have passed. */
static void tenant_proc(const char *sock, int idx, int fd, double secs)
{
	struct xio_client_opts co = {.sz = sizeof(co)};
	struct tenant_report rep = {0};
	struct xenv e = {0};
	uint64_t end;
	char name[32], c;
	int err;

	snprintf(name, sizeof(name), "xio-bench-t%d", idx);
	co.name = name;
	co.params.sq_entries = 256;
	co.params.nr_bufs = 1;
	err = xio_client_attach(sock, &co, &e.t);
	if (err)
		bench_die("attach %s: %s", name, xio_strerror(err));
	e.qp = xio_tenant_qp(e.t, 0);
	if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
		_exit(1);
	end = bench_mono_ns() + (uint64_t)(secs * 1e9);
	while (bench_mono_ns() < end) {
		xiod_pipe(&e, 20000, XIO_OP_NOP, 0, TP_DEPTH, TP_BATCH, 1);
		rep.ops += 20000;
	}
	rep.kicks = xio_qp_kicks(e.qp);
	if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	xio_client_detach(e.t);
	_exit(0);
}

/*
 * tenants: 1..N tenant processes on one poller, each keeping NOPs 64 deep:
 * total ops/s, Jain's fairness index over the per-tenant rates, the xiod
 * process's CPU use, doorbells per 10^6 ops.
 */
int bench_tenants(struct bench_ctx *ctx, int argc, char **argv)
{
	static double v[16][4][BENCH_MAX_RUNS];
	int max_n = ctx->quick ? 2 : 4, n, i, r, st;
	double secs = ctx->quick ? 0.3 : 2;
	char metric[64], label[96];
	struct xopts o;
	struct xenv e;

	if (parse_opts(argc, argv, &o, "tenants"))
		return 2;
	if (o.iters)
		max_n = o.iters > 16 ? 16 : (int)o.iters;
	xenv_start(ctx, &o, &e, "xio-bench-tenants-probe", 8, 1);
	for (r = 0; r < ctx->runs; r++) {
		for (n = 1; n <= max_n; n++) {
			struct tenant_report rep[16];
			int sv[16][2];
			pid_t pid[16];
			double sum = 0, sq = 0, kicks = 0, ops = 0, c0, c1;
			char c = 'g';

			for (i = 0; i < n; i++) {
				if (socketpair(AF_UNIX,
					       SOCK_STREAM | SOCK_CLOEXEC, 0,
					       sv[i]))
					bench_die("socketpair: %s",
						  strerror(errno));
				pid[i] = fork();
				if (pid[i] < 0)
					bench_die("fork: %s", strerror(errno));
				if (pid[i] == 0) {
					close(sv[i][0]);
					tenant_proc(e.sock, i, sv[i][1], secs);
				}
				close(sv[i][1]);
				if (read(sv[i][0], &c, 1) != 1)
					bench_die("tenant %d did not attach",
						  i);
			}
			c0 = e.pid ? proc_cpu_s(e.pid) : -1;
			for (i = 0; i < n; i++)
				if (write(sv[i][0], &c, 1) != 1)
					bench_die("tenant %d gone", i);
			for (i = 0; i < n; i++) {
				double x;

				if (read(sv[i][0], &rep[i], sizeof(rep[i])) !=
				    sizeof(rep[i]))
					bench_die("tenant %d failed", i);
				x = (double)rep[i].ops / secs / 1e6;
				sum += x;
				sq += x * x;
				kicks += (double)rep[i].kicks;
				ops += (double)rep[i].ops;
			}
			c1 = e.pid ? proc_cpu_s(e.pid) : -1;
			for (i = 0; i < n; i++) {
				waitpid(pid[i], &st, 0);
				close(sv[i][0]);
			}
			v[n - 1][0][r] = sum;
			v[n - 1][1][r] = sum * sum / (n * sq);
			v[n - 1][2][r] = c0 >= 0 ? (c1 - c0) / secs * 100 : -1;
			v[n - 1][3][r] = kicks * 1e6 / ops;
			bench_info(
				ctx,
				"  %d tenant(s): %.2f Mops/s total, Jain %.3f, xiod CPU %.0f%%, %.1f kicks/Mop\n",
				n, sum, v[n - 1][1][r], v[n - 1][2][r],
				v[n - 1][3][r]);
		}
	}
	xenv_stop(&e);
	for (n = 1; n <= max_n; n++) {
		static const char *const what[4] = {"total", "jain", "xiod_cpu",
						    "kicks_per_mop"};
		static const char *const unit[4] = {"Mops/s", "x", "pct",
						    "kicks/Mop"};

		for (i = 0; i < 4; i++) {
			if (i == 2 && !e.pid)
				continue;
			snprintf(metric, sizeof(metric), "tenants.n%d.%s", n,
				 what[i]);
			bench_report(ctx, metric, unit[i], v[n - 1][i],
				     ctx->runs);
		}
	}
	bench_table_header(
		ctx,
		"xio-bench tenants: N tenant processes (CPU A) on one poller (CPU B), NOPs 64 deep");
	for (n = 1; n <= max_n; n++) {
		snprintf(metric, sizeof(metric), "tenants.n%d.total", n);
		snprintf(label, sizeof(label), "%d tenant(s): total", n);
		bench_table_row(ctx, label, metric);
		snprintf(metric, sizeof(metric), "tenants.n%d.jain", n);
		snprintf(label, sizeof(label), "%d tenant(s): Jain index", n);
		bench_table_row(ctx, label, metric);
		if (e.pid) {
			snprintf(metric, sizeof(metric), "tenants.n%d.xiod_cpu",
				 n);
			snprintf(label, sizeof(label), "%d tenant(s): xiod CPU",
				 n);
			bench_table_row(ctx, label, metric);
		}
		snprintf(metric, sizeof(metric), "tenants.n%d.kicks_per_mop",
			 n);
		snprintf(label, sizeof(label),
			 "%d tenant(s): kicks per 10^6 ops", n);
		bench_table_row(ctx, label, metric);
	}
	return 0;
}

/* ---- dio: one 4 KiB READ at a time, buffered and O_DIRECT --------------- */

#define DIO_BLOCKS 4096U /* a 16 MiB file */

/* One READ at a time through xiod from @target; the guest sleeps in
 * xio_wait_cqe() as an application would.  Latencies into @t (ticks). */
static void dio_xiod(struct xenv *e, uint32_t target, uint64_t n, uint64_t *t)
{
	struct xio_cqe *c;
	uint64_t i, t0;
	int err;

	for (i = 0; i < n; i++) {
		struct xio_sqe *s = xio_get_sqe(e->qp);

		xio_prep_rw(s, XIO_OP_READ, target, 0, 0, IO_SIZE,
			    (i * 7919 % DIO_BLOCKS) * IO_SIZE, i);
		t0 = bench_tsc_start();
		xio_submit(e->qp);
		err = xio_wait_cqe(e->qp, &c, 10000);
		t[i] = bench_tsc_stop() - t0;
		if (err || c->res != (int32_t)IO_SIZE)
			bench_die("READ failed: %s",
				  xio_strerror(err ? err : c->res));
		xio_cqe_seen(e->qp, c);
	}
}

struct dio_uring {
	const char *path;
	uint64_t n, *t;
};

/* The same READs, O_DIRECT, from one thread with its own io_uring. */
static void *dio_uring_main(void *arg)
{
	struct dio_uring *u = arg;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	uint64_t i, t0;
	void *buf;
	int fd, err;

	fd = open(u->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign(&buf, IO_SIZE, IO_SIZE))
		bench_die("%s: O_DIRECT: %s", u->path, strerror(errno));
	err = io_uring_queue_init(8, &ring, 0);
	if (err)
		bench_die("io_uring setup: %s", strerror(-err));
	for (i = 0; i < u->n; i++) {
		io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, IO_SIZE,
				   (i * 7919 % DIO_BLOCKS) * IO_SIZE);
		t0 = bench_tsc_start();
		err = io_uring_submit_and_wait(&ring, 1);
		if (err >= 0)
			err = io_uring_peek_cqe(&ring, &cqe);
		u->t[i] = bench_tsc_stop() - t0;
		if (err < 0 || cqe->res != (int32_t)IO_SIZE)
			bench_die("io_uring READ failed: %s",
				  strerror(err < 0 ? -err : EIO));
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	free(buf);
	close(fd);
	return NULL;
}

enum {
	D_BUF,
	D_DIRECT,
	D_URING,
	D_PATHS
};
enum {
	D_MEAN,
	D_P50,
	D_P99,
	D_OVER,
	D_STATS
};

static const struct bench_metric dio_metrics[D_PATHS * D_STATS] = {
	{"dio.xiod_buffered.mean", "us", "xiod, buffered target: mean"},
	{"dio.xiod_buffered.p50", "us", "xiod, buffered target: p50"},
	{"dio.xiod_buffered.p99", "us", "xiod, buffered target: p99"},
	{"dio.xiod_buffered.over_1ms", "pct", "xiod, buffered: reads > 1 ms"},
	{"dio.xiod_direct.mean", "us", "xiod, O_DIRECT target: mean"},
	{"dio.xiod_direct.p50", "us", "xiod, O_DIRECT target: p50"},
	{"dio.xiod_direct.p99", "us", "xiod, O_DIRECT target: p99"},
	{"dio.xiod_direct.over_1ms", "pct", "xiod, O_DIRECT: reads > 1 ms"},
	{"dio.uring_direct.mean", "us", "io_uring O_DIRECT on CPU B: mean"},
	{"dio.uring_direct.p50", "us", "io_uring O_DIRECT on CPU B: p50"},
	{"dio.uring_direct.p99", "us", "io_uring O_DIRECT on CPU B: p99"},
	{"dio.uring_direct.over_1ms", "pct", "io_uring O_DIRECT: reads > 1 ms"},
};

/* Mean, p50, p99 (us) and the share over 1 ms (%) of @n samples. */
static void dio_stats(uint64_t *t, uint64_t n, double (*v)[BENCH_MAX_RUNS],
		      int r)
{
	struct bench_lat l;
	uint64_t i, over = 0;

	for (i = 0; i < n; i++)
		over += bench_ns(t[i]) > 1e6;
	bench_lat_compute(t, n, &l);
	v[D_MEAN][r] = l.mean / 1e3;
	v[D_P50][r] = l.p50 / 1e3;
	v[D_P99][r] = l.p99 / 1e3;
	v[D_OVER][r] = 100.0 * (double)over / (double)n;
}

/* A file of DIO_BLOCKS blocks of data (O_DIRECT reads of holes would not
 * reach the device), on the disk: written and synced. */
static void dio_file(const char *path)
{
	char blk[IO_SIZE];
	uint32_t i;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		bench_die("%s: %s", path, strerror(errno));
	for (i = 0; i < DIO_BLOCKS; i++) {
		memset(blk, (int)(i & 0xff) | 1, sizeof(blk));
		if (write(fd, blk, sizeof(blk)) != (ssize_t)sizeof(blk))
			bench_die("%s: %s", path, strerror(errno));
	}
	if (fsync(fd))
		bench_die("%s: fsync: %s", path, strerror(errno));
	close(fd);
}

int bench_dio(struct bench_ctx *ctx, int argc, char **argv)
{
	static double v[D_PATHS * D_STATS][BENCH_MAX_RUNS];
	int tg[2] = {-1, -1}, r, i;
	struct dio_uring u;
	struct xio_admin *a;
	char path[PATH_MAX];
	struct xopts o;
	struct xenv e;
	pthread_t th;
	uint64_t *t;

	if (parse_opts(argc, argv, &o, "dio"))
		return 2;
	if (!o.idle_us)
		o.idle_us = "50"; /* xiod's default: it sleeps during a read */
	u.n = o.iters ? o.iters : ctx->quick ? 200 : 2000;
	t = malloc(u.n * sizeof(*t));
	if (!t)
		bench_die("out of memory");
	xenv_start(ctx, &o, &e, "xio-bench-dio", 4, 1);
	/* /var/tmp: on the disk, where /tmp may be tmpfs. */
	snprintf(path, sizeof(path), "/var/tmp/xio-bench-dio-%d.img",
		 (int)getpid());
	dio_file(path);
	if (xio_admin_open(e.sock, &a) == 0) {
		tg[0] = xio_admin_target_add(a, "xio-bench-dio", path, 0);
		tg[1] = xio_admin_target_add(a, "xio-bench-dio", path,
					     XIO_TARGET_DIRECT);
		xio_admin_close(a);
	}
	if (tg[0] < 0 || tg[1] < 0) {
		unlink(path);
		xenv_stop(&e);
		printf("SKIP: no buffered and O_DIRECT targets on %s (%s): needs xiod's administrator and O_DIRECT\n",
		       path, xio_strerror(tg[0] < 0 ? tg[0] : tg[1]));
		return 77;
	}
	u.path = path;
	u.t = t;
	for (r = 0; r < ctx->runs; r++) {
		bench_info(ctx, "run %d/%d\n", r + 1, ctx->runs);
		for (i = 0; i < 2; i++) {
			dio_xiod(&e, (uint32_t)tg[i], u.n, t);
			dio_stats(t, u.n, &v[i * D_STATS], r);
		}
		settle(&e);
		bench_thread_start(ctx, &th, ctx->cpu_b, dio_uring_main, &u);
		bench_thread_join(th);
		dio_stats(t, u.n, &v[D_URING * D_STATS], r);
		bench_info(
			ctx,
			"  mean / p50 us: buffered %.1f / %.1f, O_DIRECT %.1f / %.1f, io_uring O_DIRECT %.1f / %.1f\n",
			v[D_MEAN][r], v[D_P50][r], v[D_STATS + D_MEAN][r],
			v[D_STATS + D_P50][r], v[2 * D_STATS + D_MEAN][r],
			v[2 * D_STATS + D_P50][r]);
	}
	unlink(path);
	xenv_stop(&e);
	free(t);
	bench_report_table(
		ctx,
		"xio-bench dio: 4 KiB READs one at a time; guest on CPU A, poller / io_uring thread on CPU B",
		dio_metrics, D_PATHS * D_STATS, v);
	return 0;
}
