/* SPDX-License-Identifier: MIT */
/*
 * xio-soak: start a private xiod and hammer it for a while with several
 * tenants, each a thread of this process that attaches, has a file target
 * added by the administrator, runs rounds of checksummed 4 KiB WRITEs,
 * READs verified against what it wrote and NOP bursts, detaches, and
 * attaches again (churn).  Optionally with fault injection in xiod
 * (--faults, needs -DXIO_FAULT_INJECT=ON).  Reports periodically and at
 * the end: operations done, data mismatches, xiod's RSS and fd count and
 * their drift, crashes; with faults, every injection is accounted for:
 *
 *   completion faults (cqe)          == error or short CQEs seen by tenants
 *   setup faults (memfd mmap ftruncate eventfd ilog) == refused attaches
 *   submit faults, CQ overflows      == retries counted by xiod
 *
 * Exit 0 when all of that holds, 1 otherwise, 77 when faults were asked
 * for and xiod was built without them.  docs/security.md "Fault injection"
 * and "Soak".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#include "xtest_proc.h"

#define BLK 4096U
#define BATCH 32U
#define BLOCKS 1024U /* 4 MiB file per tenant */
#define UNKNOWN UINT32_MAX

/* What one tenant thread did; summed by the reporter (relaxed atomics). */
struct tstats {
	uint64_t writes, reads, nops, verified, mismatches;
	uint64_t cqe_faults;   /* error or short CQEs on READ/WRITE */
	uint64_t nop_errors;   /* NOPs never reach io_uring: always wrong */
	uint64_t attach_fails; /* refused attaches (setup faults) */
	uint64_t attach_other; /* attach errors a fault cannot explain */
	uint64_t attaches, hangs;
	uint64_t max_wait_ms; /* the longest wait for one CQE */
	uint64_t slow_waits;  /* waits over SLOW_MS */
	uint64_t reattaches;  /* after xiod was killed (--kill-every) */
	uint64_t lost;	      /* tenants no restarted xiod took back */
	uint64_t strays;      /* CQEs of no request in flight: duplicates */
};

struct worker {
	pthread_t th;
	int idx;
	char name[32], path[256];
	uint32_t version[BLOCKS]; /* 0: never written, UNKNOWN: unsure */
	uint64_t rng;
	uint32_t seq;	      /* round number: the high half of user_data */
	struct xio_tenant *t; /* attached now, or NULL */
	struct tstats st;
};

static struct {
	const char *xiod, *faults, *dir;
	unsigned int duration, tenants, rounds, report_every, pollers;
	unsigned int think_us;	 /* pause after each round: a moderate load */
	unsigned int hang_ms;	 /* a CQE wait longer than this: a hang */
	unsigned int kill_every; /* mean s between SIGKILLs of xiod; 0: none */
	bool logs; /* --state-dir without kills: in-flight logs (ilog faults) */
	long rss_slack_kib;
	bool quiet;
} opt = {
	.duration = 60,
	.tenants = 4,
	.rounds = 20,
	.report_every = 10,
	.pollers = 1,
	.hang_ms = 5000,
	.rss_slack_kib = -1,
};

static char sock[300], dir[200], report_path[300], state_dir[300];
static pid_t xiod_pid;
static int stop; /* atomic: set by main, read by the workers */
static struct worker *workers;

#define ADD(f, v) __atomic_fetch_add(&(f), (v), __ATOMIC_RELAXED)
#define GET(f) __atomic_load_n(&(f), __ATOMIC_RELAXED)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Block @b of tenant @t at version @v: deterministic bytes. */
static void block_fill(uint8_t *p, int t, uint32_t b, uint32_t v)
{
	uint64_t s =
		((uint64_t)t << 48 | (uint64_t)b << 20 | v) * 2654435761ULL + 1;

	for (uint32_t i = 0; i < BLK; i += 8) {
		uint64_t w = xs(&s);

		memcpy(p + i, &w, 8);
	}
}

/* ---- xiod's vital signs ------------------------------------------------- */

static bool xiod_alive(void)
{
	int st;

	return waitpid(xiod_pid, &st, WNOHANG) == 0;
}

static unsigned int restarts, crashes;

/* Start xiod; @first: also wait until it settles at its fd baseline. */
static int xiod_start(bool first)
{
	char pollers[16];
	struct xio_admin *a = NULL;
	uint64_t deadline;
	int n;

	snprintf(pollers, sizeof(pollers), "%u", opt.pollers);
	xiod_pid = fork();
	if (xiod_pid < 0)
		return -errno;
	if (xiod_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (opt.faults) {
			setenv("XIO_FAULTS", opt.faults, 1);
			setenv("XIO_FAULTS_REPORT", report_path, 1);
		}
		/* --kill-every: a --state-dir, so tenants survive a SIGKILL */
		execl(opt.xiod, opt.xiod, "--foreground", "--socket", sock,
		      "--pollers", pollers, "--log-level",
		      opt.quiet ? "error" : "warning",
		      opt.kill_every || opt.logs ? "--state-dir" : (char *)NULL,
		      state_dir, (char *)NULL);
		perror("xio-soak: exec xiod");
		_exit(127);
	}
	deadline = now_ms() + 10000;
	while (access(sock, F_OK) || xio_admin_open(sock, &a)) {
		if (!xiod_alive() || now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
	/* Answered once every thread and fd is set up: then the baseline is
	 * what xiod holds without this connection. */
	n = xio_admin_tenants(a, NULL, 0, NULL) >= 0 ? proc_fd_count(xiod_pid) :
						       -1;
	xio_admin_close(a);
	while (first && n >= 0 && proc_fd_count(xiod_pid) != n - 1 &&
	       now_ms() < deadline)
		usleep(5000);
	return n >= 0 ? 0 : -EPROTO;
}

/* --quiet: libxio's warnings (each refused attach) are counted, not shown. */
static int quiet_print(enum xio_print_level level, const char *fmt, va_list ap)
{
	return level == XIO_WARN && !opt.quiet ? vfprintf(stderr, fmt, ap) : 0;
}

/* ---- one tenant --------------------------------------------------------- */

static bool setup_fault(int err)
{
	/* What a failed memfd_create/mmap/ftruncate/eventfd turns into. */
	return opt.faults && (err == -ENOMEM || err == -EMFILE ||
			      err == -ENOSPC || err == -ENFILE);
}

/*
 * One CQE.  A wait of more than --hang-ms counts as a hang even if the CQE
 * came in the end: a lost wake-up shows as a guest asleep until its
 * timeout, which then finds its CQEs.  Waits over 5 s are counted apart
 * (a niced run on a loaded machine can be starved that long).
 */
#define SLOW_MS 5000

/* What a connection to a killed (or not yet restarted) xiod returns. */
static bool xiod_gone(int err)
{
	return opt.kill_every &&
	       (err == -ENOENT || err == -ECONNREFUSED || err == -ECONNRESET ||
		err == -EPIPE || err == -ETIMEDOUT || err == -EPROTO ||
		err == -ESHUTDOWN || err == -ENOTCONN);
}

/* xiod was killed: back to the restarted one, within --hang-ms. */
static bool reattach(struct worker *w)
{
	uint64_t deadline = now_ms() + opt.hang_ms;
	int err;

	while ((err = xio_tenant_reattach(w->t)) && xiod_gone(err) &&
	       now_ms() < deadline)
		usleep(1000);
	if (!err) {
		ADD(w->st.reattaches, 1);
		return true;
	}
	fprintf(stderr, "xio-soak: %s: reattach: %s\n", w->name,
		xio_strerror(err));
	ADD(w->st.lost, 1);
	return false;
}

static bool wait_cqe(struct worker *w, struct xio_qp *qp, struct xio_cqe **c)
{
	uint64_t t0 = now_ms(), dt;
	int err;

	/* With restarts: short waits, and a look at the connection between. */
	while ((err = xio_wait_cqe(
			qp, c, opt.kill_every ? 20 : 2 * (int)opt.hang_ms)) ==
		       -ETIMEDOUT &&
	       opt.kill_every && now_ms() - t0 < 2 * opt.hang_ms) {
		if (xio_tenant_hung_up(w->t) == 1 && !reattach(w))
			break;
	}
	dt = now_ms() - t0;
	if (dt > GET(w->st.max_wait_ms))
		__atomic_store_n(&w->st.max_wait_ms, dt, __ATOMIC_RELAXED);
	if (dt > SLOW_MS)
		ADD(w->st.slow_waits, 1);
	if (err || dt > opt.hang_ms) {
		ADD(w->st.hangs, 1);
		return false;
	}
	return true;
}

/* Wait for @n CQEs; @check judges each.  false: the ring hung or broke. */
static bool wait_n(struct worker *w, struct xio_qp *qp, uint32_t n,
		   void (*check)(struct worker *, const struct xio_cqe *))
{
	while (n--) {
		struct xio_cqe *c;

		if (!wait_cqe(w, qp, &c))
			return false;
		check(w, c);
		xio_cqe_seen(qp, c);
	}
	return true;
}

/* A CQE of an earlier round: a request completed twice. */
static bool stray(struct worker *w, const struct xio_cqe *c)
{
	if ((uint32_t)(c->user_data >> 32) == w->seq)
		return false;
	ADD(w->st.strays, 1);
	return true;
}

static void check_write(struct worker *w, const struct xio_cqe *c)
{
	uint32_t b = (uint32_t)c->user_data % BLOCKS;

	if (stray(w, c) || c->res == (int32_t)BLK)
		return;
	ADD(w->st.cqe_faults, 1);
	w->version[b] = UNKNOWN; /* the file may hold either version */
}

static void check_read(struct worker *w, const struct xio_cqe *c)
{
	if (c->res != (int32_t)BLK)
		ADD(w->st.cqe_faults, 1);
}

static void check_nop(struct worker *w, const struct xio_cqe *c)
{
	if (!stray(w, c) && c->res != 0)
		ADD(w->st.nop_errors, 1);
}

/* One round: a WRITE batch, a READ batch verified, a NOP burst. */
static bool round_run(struct worker *w, struct xio_region *reg,
		      struct xio_qp *qp)
{
	static __thread uint8_t want[BLK];
	static __thread int ok[BATCH];
	uint32_t base = (uint32_t)(xs(&w->rng) % (BLOCKS - BATCH)), i;
	uint64_t tag = (uint64_t)++w->seq << 32;

	for (i = 0; i < BATCH; i++) {
		uint32_t b = base + i;

		w->version[b] =
			w->version[b] >= UNKNOWN - 1 ? 1 : w->version[b] + 1;
		block_fill(xio_buf_ptr(reg, i), w->idx, b, w->version[b]);
		xio_prep_write(xio_get_sqe(qp), 0, i, 0, BLK, (uint64_t)b * BLK,
			       tag | b);
	}
	if (xio_submit(qp) < 0 || !wait_n(w, qp, BATCH, check_write)) {
		/* Some of these may never have been written. */
		for (i = 0; i < BATCH; i++)
			w->version[base + i] = UNKNOWN;
		return false;
	}
	ADD(w->st.writes, BATCH);

	base = (uint32_t)(xs(&w->rng) % (BLOCKS - BATCH));
	memset(ok, 0, sizeof(ok));
	for (i = 0; i < BATCH; i++)
		xio_prep_read(xio_get_sqe(qp), 0, BATCH + i, 0, BLK,
			      (uint64_t)(base + i) * BLK, tag | i);
	if (xio_submit(qp) < 0)
		return false;
	for (i = 0; i < BATCH; i++) {
		struct xio_cqe *c;

		if (!wait_cqe(w, qp, &c))
			return false;
		if (!stray(w, c)) {
			check_read(w, c);
			ok[(uint32_t)c->user_data % BATCH] =
				c->res == (int32_t)BLK;
		}
		xio_cqe_seen(qp, c);
	}
	ADD(w->st.reads, BATCH);
	for (i = 0; i < BATCH; i++) {
		uint32_t b = base + i, v = w->version[b];
		const uint8_t *got = xio_buf_ptr(reg, BATCH + i);

		if (!ok[i] || v == UNKNOWN)
			continue;
		if (v)
			block_fill(want, w->idx, b, v);
		else
			memset(want, 0, BLK);
		if (memcmp(got, want, BLK)) {
			ADD(w->st.mismatches, 1);
			fprintf(stderr,
				"xio-soak: %s: block %u version %u: MISMATCH\n",
				w->name, b, v);
		} else {
			ADD(w->st.verified, 1);
		}
	}

	for (i = 0; i < BATCH; i++)
		xio_prep_nop(xio_get_sqe(qp), tag | i);
	if (xio_submit(qp) < 0 || !wait_n(w, qp, BATCH, check_nop))
		return false;
	ADD(w->st.nops, BATCH);
	return true;
}

/* The administrator adds the tenant's file; reattaching if xiod died. */
static int target_add(struct worker *w, struct xio_admin **a)
{
	int err, tries;

	for (tries = 0; tries < 100; tries++) {
		if (!*a && (err = xio_admin_open(sock, a))) {
			*a = NULL;
		} else {
			err = xio_admin_target_add(*a, w->name, w->path, 0);
			if (err >= 0 || !xiod_gone(err))
				return err;
			xio_admin_close(*a);
			*a = NULL;
		}
		if (!xiod_gone(err))
			return err;
		if (xio_tenant_hung_up(w->t) == 1 && !reattach(w))
			return err;
		usleep(10000);
	}
	return err;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_admin *a = NULL;
	unsigned int r, cycle = 0;
	int err;

	o.name = w->name;
	o.params.sq_entries = 64;
	o.params.buf_size = BLK;
	o.params.nr_bufs = 2 * BATCH;
	while (!GET(stop)) {
		struct xio_region *reg;
		struct xio_qp *qp;

		/* A new name each time: a tenant lost in a restart keeps its. */
		snprintf(w->name, sizeof(w->name), "soak-%d-%u", w->idx,
			 cycle++);
		err = xio_client_attach(sock, &o, &w->t);
		if (err) {
			w->t = NULL;
			if (setup_fault(err)) {
				ADD(w->st.attach_fails, 1);
			} else if (xiod_gone(err)) {
				usleep(1000); /* being restarted */
			} else {
				ADD(w->st.attach_other, 1);
				if (!opt.quiet)
					fprintf(stderr,
						"xio-soak: %s: attach: %s\n",
						w->name, xio_strerror(err));
				usleep(100000);
			}
			continue;
		}
		ADD(w->st.attaches, 1);
		err = target_add(w, &a);
		if (err < 0) {
			fprintf(stderr, "xio-soak: %s: target add: %s\n",
				w->name, xio_strerror(err));
			ADD(w->st.attach_other, 1);
			xio_client_detach(w->t);
			w->t = NULL;
			usleep(100000);
			continue;
		}
		reg = xio_tenant_region(w->t);
		qp = xio_tenant_qp(w->t, 0);
		for (r = 0; r < opt.rounds && !GET(stop); r++) {
			if (!round_run(w, reg, qp))
				break;
			if (opt.think_us)
				usleep(opt.think_us);
		}
		if (opt.kill_every && xio_tenant_hung_up(w->t) == 1)
			reattach(w); /* detach from the xiod that has it */
		xio_client_detach(w->t);
		w->t = NULL;
	}
	xio_admin_close(a);
	return NULL;
}

/* ---- reporting ---------------------------------------------------------- */

static void sum(struct tstats *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < opt.tenants; i++) {
		const struct tstats *t = &workers[i].st;

		s->writes += GET(t->writes);
		s->reads += GET(t->reads);
		s->nops += GET(t->nops);
		s->verified += GET(t->verified);
		s->mismatches += GET(t->mismatches);
		s->cqe_faults += GET(t->cqe_faults);
		s->nop_errors += GET(t->nop_errors);
		s->attach_fails += GET(t->attach_fails);
		s->attach_other += GET(t->attach_other);
		s->attaches += GET(t->attaches);
		s->hangs += GET(t->hangs);
		s->slow_waits += GET(t->slow_waits);
		s->reattaches += GET(t->reattaches);
		s->lost += GET(t->lost);
		s->strays += GET(t->strays);
		if (GET(t->max_wait_ms) > s->max_wait_ms)
			s->max_wait_ms = GET(t->max_wait_ms);
	}
}

/* Milliseconds to the next SIGKILL: 0.5 to 1.5 times --kill-every. */
static uint64_t kill_delay(uint64_t *rng)
{
	uint64_t mean = (uint64_t)opt.kill_every * 1000;

	return mean / 2 + xs(rng) % (mean + 1);
}

static void report(const char *what, uint64_t t0)
{
	struct tstats s;

	sum(&s);
	printf("[%6.0f s] %s: ops %llu (W %llu R %llu NOP %llu) verified %llu mismatches %llu | attaches %llu refused %llu other %llu | error CQEs %llu nop errors %llu hangs %llu (longest CQE wait %llu ms, %llu over 5 s) | restarts %u reattaches %llu lost %llu strays %llu crashes %u | xiod rss %ld KiB fds %d%s\n",
	       (double)(now_ms() - t0) / 1000.0, what,
	       (unsigned long long)(s.writes + s.reads + s.nops),
	       (unsigned long long)s.writes, (unsigned long long)s.reads,
	       (unsigned long long)s.nops, (unsigned long long)s.verified,
	       (unsigned long long)s.mismatches, (unsigned long long)s.attaches,
	       (unsigned long long)s.attach_fails,
	       (unsigned long long)s.attach_other,
	       (unsigned long long)s.cqe_faults,
	       (unsigned long long)s.nop_errors, (unsigned long long)s.hangs,
	       (unsigned long long)s.max_wait_ms,
	       (unsigned long long)s.slow_waits, restarts,
	       (unsigned long long)s.reattaches, (unsigned long long)s.lost,
	       (unsigned long long)s.strays, crashes,
	       proc_status_kib(xiod_pid, "VmRSS"), proc_fd_count(xiod_pid),
	       xiod_alive() ? "" : " XIOD DEAD");
	fflush(stdout);
}

enum {
	F_SUBMIT,
	F_CQE,
	F_MEMFD,
	F_MMAP,
	F_FTRUNCATE,
	F_EVENTFD,
	F_ILOG,
	F_OVERFLOW,
	F_NR
};
static const char *const site_names[F_NR] = {
	[F_SUBMIT] = "submit",	     [F_CQE] = "cqe",
	[F_MEMFD] = "memfd",	     [F_MMAP] = "mmap",
	[F_FTRUNCATE] = "ftruncate", [F_EVENTFD] = "eventfd",
	[F_ILOG] = "ilog",	     [F_OVERFLOW] = "cq_overflow",
};

/* Compare xiod's fault report with what the tenants saw; failures. */
static int account(const struct tstats *s)
{
	unsigned long long inj[F_NR] = {0}, ret[F_NR] = {0}, calls, a, b;
	unsigned long long setup = 0, absorbed = 0;
	char name[32];
	int i, bad = 0;
	FILE *f = fopen(report_path, "r");

	if (!f) {
		printf("SKIP: xiod wrote no fault report: built without -DXIO_FAULT_INJECT=ON\n");
		return -1;
	}
	while (fscanf(f, "%31s %llu %llu %llu", name, &a, &b, &calls) == 4)
		for (i = 0; i < F_NR; i++)
			if (!strcmp(name, site_names[i])) {
				inj[i] = a;
				ret[i] = b;
				printf("fault %-11s injected %8llu retried %8llu (of %llu calls)\n",
				       name, a, b, calls);
			}
	fclose(f);
	/* A setup fault a fallback absorbed (hugetlb -> 4 KiB) is retried. */
	for (i = F_MEMFD; i <= F_ILOG; i++) {
		setup += inj[i];
		absorbed += ret[i];
	}
	printf("accounting: cqe injected %llu == error CQEs %llu; setup injected %llu == refused attaches %llu + absorbed %llu; submit injected %llu == retried %llu; cq_overflow %llu == retried %llu\n",
	       inj[F_CQE], (unsigned long long)s->cqe_faults, setup,
	       (unsigned long long)s->attach_fails, absorbed, inj[F_SUBMIT],
	       ret[F_SUBMIT], inj[F_OVERFLOW], ret[F_OVERFLOW]);
	if (inj[F_CQE] != s->cqe_faults || ret[F_CQE]) {
		printf("FAIL: completion faults not all observed\n");
		bad++;
	}
	if (setup != s->attach_fails + absorbed) {
		printf("FAIL: setup faults != refused attaches\n");
		bad++;
	}
	if (inj[F_SUBMIT] != ret[F_SUBMIT] ||
	    inj[F_OVERFLOW] != ret[F_OVERFLOW]) {
		printf("FAIL: submit/overflow faults not all retried\n");
		bad++;
	}
	return bad;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xio-soak --xiod PATH [--duration S] [--tenants N] [--rounds N]\n"
		"                [--faults SPEC] [--report-every S] [--pollers N]\n"
		"                [--rss-slack-kib K] [--think-us US] [--hang-ms MS]\n"
		"                [--kill-every S] [--logs] [--dir DIR] [--quiet]\n"
		"  SPEC: XIO_FAULTS syntax, e.g. 'cqe=0.01,submit=0.02;seed=7'\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"xiod", required_argument, NULL, 'x'},
		{"duration", required_argument, NULL, 'd'},
		{"tenants", required_argument, NULL, 't'},
		{"rounds", required_argument, NULL, 'r'},
		{"faults", required_argument, NULL, 'F'},
		{"report-every", required_argument, NULL, 'e'},
		{"pollers", required_argument, NULL, 'p'},
		{"rss-slack-kib", required_argument, NULL, 'R'},
		{"dir", required_argument, NULL, 'D'},
		{"think-us", required_argument, NULL, 'T'},
		{"hang-ms", required_argument, NULL, 'H'},
		{"kill-every", required_argument, NULL, 'K'},
		{"logs", no_argument, NULL, 'L'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'x':
			opt.xiod = optarg;
			break;
		case 'd':
			opt.duration = (unsigned int)atoi(optarg);
			break;
		case 't':
			opt.tenants = (unsigned int)atoi(optarg);
			break;
		case 'r':
			opt.rounds = (unsigned int)atoi(optarg);
			break;
		case 'F':
			opt.faults = *optarg ? optarg : NULL;
			break;
		case 'e':
			opt.report_every = (unsigned int)atoi(optarg);
			break;
		case 'p':
			opt.pollers = (unsigned int)atoi(optarg);
			break;
		case 'R':
			opt.rss_slack_kib = atol(optarg);
			break;
		case 'D':
			opt.dir = optarg;
			break;
		case 'T':
			opt.think_us = (unsigned int)atoi(optarg);
			break;
		case 'H':
			opt.hang_ms = (unsigned int)atoi(optarg);
			break;
		case 'K':
			opt.kill_every = (unsigned int)atoi(optarg);
			break;
		case 'L':
			opt.logs = true;
			break;
		case 'q':
			opt.quiet = true;
			break;
		default:
			usage();
		}
	}
	if (!opt.xiod || !opt.tenants || opt.tenants > 64 || !opt.rounds ||
	    !opt.report_every || !opt.pollers || !opt.hang_ms ||
	    opt.hang_ms > 600000)
		usage();
}

int main(int argc, char **argv)
{
	uint64_t t0, next, end, next_kill, rng = 0x2545f4914f6cdd1dULL;
	long rss0, rss1, rss_end;
	int fds0, fds_end = -1, st, failures = 0, acc;
	unsigned int i;
	struct tstats s;

	parse(argc, argv);
	xio_set_print(quiet_print);
#ifndef XIO_FAULT_INJECT
	if (opt.faults) {
		printf("SKIP: --faults needs a build with -DXIO_FAULT_INJECT=ON\n");
		return 77;
	}
#endif
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(dir, sizeof(dir), "%s/xio-soak-XXXXXX",
		 opt.dir ? opt.dir : "/tmp");
	if (!mkdtemp(dir)) {
		perror("xio-soak: mkdtemp");
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/xiod.sock", dir);
	snprintf(report_path, sizeof(report_path), "%s/faults.txt", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	if ((opt.kill_every || opt.logs) && mkdir(state_dir, 0700)) {
		perror("xio-soak: state dir");
		return 1;
	}
	if (xiod_start(true)) {
		fprintf(stderr, "xio-soak: xiod did not come up (%s)\n",
			opt.xiod);
		return 1;
	}
	fds0 = proc_fd_count(xiod_pid);
	rss0 = proc_status_kib(xiod_pid, "VmRSS");
	rss1 = -1;
	printf("xio-soak: xiod pid %d, %u tenants, %u s, faults '%s'; baseline rss %ld KiB, fds %d\n",
	       (int)xiod_pid, opt.tenants, opt.duration,
	       opt.faults ? opt.faults : "", rss0, fds0);
	workers = calloc(opt.tenants, sizeof(*workers));
	if (!workers)
		return 1;
	for (i = 0; i < opt.tenants; i++) {
		struct worker *w = &workers[i];
		int fd;

		w->idx = (int)i;
		w->rng = 0x9e3779b97f4a7c15ULL * (i + 1);
		snprintf(w->name, sizeof(w->name), "soak-%u", i);
		snprintf(w->path, sizeof(w->path), "%s/disk-%u.img", dir, i);
		fd = open(w->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0600);
		if (fd < 0 || ftruncate(fd, (off_t)BLOCKS * BLK) < 0) {
			perror("xio-soak: target file");
			return 1;
		}
		close(fd);
		if (pthread_create(&w->th, NULL, worker_main, w)) {
			perror("xio-soak: thread");
			return 1;
		}
	}
	t0 = now_ms();
	end = t0 + (uint64_t)opt.duration * 1000;
	next = t0 + (uint64_t)opt.report_every * 1000;
	next_kill = opt.kill_every ? t0 + kill_delay(&rng) : UINT64_MAX;
	while (now_ms() < end) {
		usleep(opt.kill_every ? 10000 : 100000);
		if (!xiod_alive()) {
			crashes++;
			printf("xio-soak: xiod died by itself\n");
			if (!opt.kill_every || xiod_start(false))
				break;
		}
		if (now_ms() >= next_kill) {
			/* SIGKILL at a random moment, restart at once. */
			kill(xiod_pid, SIGKILL);
			waitpid(xiod_pid, &st, 0);
			restarts++;
			if (xiod_start(false)) {
				printf("xio-soak: xiod did not restart\n");
				crashes++;
				break;
			}
			next_kill = now_ms() + kill_delay(&rng);
		}
		if (now_ms() >= next) {
			report("running", t0);
			if (rss1 < 0)
				rss1 = proc_status_kib(xiod_pid, "VmRSS");
			next += (uint64_t)opt.report_every * 1000;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < opt.tenants; i++)
		pthread_join(workers[i].th, NULL);
	sum(&s);
	if (!xiod_alive()) {
		printf("FAIL: xiod died during the run\n");
		return 1;
	}
	/* Everything detached: fds back to the baseline (bounded wait). */
	for (end = now_ms() + 10000; now_ms() < end; usleep(10000)) {
		fds_end = proc_fd_count(xiod_pid);
		if (fds_end == fds0)
			break;
	}
	rss_end = proc_status_kib(xiod_pid, "VmRSS");
	report("done", t0);
	{
		/* Still serving after all that: one more clean cycle. */
		struct xio_tenant *t = NULL;
		struct xio_client_opts o = {.sz = sizeof(o), .name = "after"};
		int err, tries = 0;

		while ((err = xio_client_attach(sock, &o, &t)) &&
		       setup_fault(err) && ++tries < 100)
			s.attach_fails++; /* injected: accounted like any */
		if (!err) {
			struct xio_qp *qp = xio_tenant_qp(t, 0);
			struct xio_cqe *c;

			xio_prep_nop(xio_get_sqe(qp), 7);
			if (xio_submit(qp) != 1 ||
			    xio_wait_cqe(qp, &c, 10000) || c->user_data != 7 ||
			    c->res) {
				printf("FAIL: xiod does not serve a NOP after the run\n");
				failures++;
			}
			xio_client_detach(t);
		} else {
			printf("FAIL: xiod refuses a tenant after the run: %s\n",
			       xio_strerror(err));
			failures++;
		}
	}
	printf("xiod rss: baseline %ld KiB, after %u s %ld KiB, end %ld KiB (drift %+ld KiB since the first report); fds: baseline %d, end %d\n",
	       rss0, opt.report_every, rss1, rss_end,
	       rss1 >= 0 ? rss_end - rss1 : 0, fds0, fds_end);
	if (fds_end != fds0) {
		char cmd[64];

		printf("FAIL: xiod fd count %d, baseline %d\n", fds_end, fds0);
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd", (int)xiod_pid);
		if (system(cmd))
			printf("(no fd listing)\n");
		failures++;
	}
	if (opt.rss_slack_kib >= 0 && rss_end - rss0 > opt.rss_slack_kib) {
		printf("FAIL: xiod rss grew by %ld KiB (> %ld)\n",
		       rss_end - rss0, opt.rss_slack_kib);
		failures++;
	}
	if (crashes || s.lost || s.strays) {
		printf("FAIL: %u crashes, %llu tenants lost in restarts, %llu CQEs completed twice\n",
		       crashes, (unsigned long long)s.lost,
		       (unsigned long long)s.strays);
		failures++;
	}
	if (s.mismatches || s.nop_errors || s.hangs || !s.writes) {
		printf("FAIL: %llu mismatches, %llu NOP errors, %llu hangs, %llu writes\n",
		       (unsigned long long)s.mismatches,
		       (unsigned long long)s.nop_errors,
		       (unsigned long long)s.hangs,
		       (unsigned long long)s.writes);
		failures++;
	}
	if (!opt.faults && (s.cqe_faults || s.attach_fails)) {
		printf("FAIL: %llu error CQEs, %llu refused attaches without faults\n",
		       (unsigned long long)s.cqe_faults,
		       (unsigned long long)s.attach_fails);
		failures++;
	}
	if (s.attach_other) {
		printf("FAIL: %llu attach/target errors not caused by a fault\n",
		       (unsigned long long)s.attach_other);
		failures++;
	}
	kill(xiod_pid, SIGTERM);
	if (waitpid(xiod_pid, &st, 0) != xiod_pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		printf("FAIL: xiod did not exit cleanly (status 0x%x)\n", st);
		failures++;
	}
	if (opt.faults && restarts)
		printf("faults: not accounted (a killed xiod writes no report)\n");
	acc = opt.faults && !restarts ? account(&s) : 0;
	for (i = 0; i < opt.tenants; i++)
		unlink(workers[i].path);
	unlink(report_path);
	if (opt.kill_every || opt.logs) {
		/* Logs of tenants whose detach met a SIGKILL stay behind. */
		DIR *d = opendir(state_dir);
		struct dirent *e;
		char path[600];
		int left = 0;

		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", state_dir,
				 e->d_name);
			left += !unlink(path);
		}
		if (d)
			closedir(d);
		printf("state dir: %d in-flight log(s) left behind (removed)\n",
		       left);
		if (!opt.kill_every && left) {
			printf("FAIL: logs of detached tenants left behind\n");
			failures++;
		}
	}
	rmdir(state_dir);
	rmdir(dir);
	if (acc < 0)
		return 77;
	failures += acc;
	printf("%s\n", failures ? "xio-soak: FAILED" : "xio-soak: ok");
	return failures ? 1 : 0;
}
