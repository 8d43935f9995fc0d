/* SPDX-License-Identifier: MIT */
/*
 * xiod --demo: xio working end to end, with no configuration and no
 * root-only path.  xiod runs in the foreground on a temporary socket; a
 * driver process (forked before any thread exists) starts two tenant
 * processes, attaches a file target to each as the host administrator,
 * lets them run a short mixed workload (checksummed 4 KiB WRITEs, FSYNC,
 * READs verified against what was written, NOP bursts), prints each
 * tenant's results and the daemon's view of them, detaches them and stops
 * xiod.  Exit status 0 when every block read back matched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>

#include "xiod.h"

#define DEMO_TENANTS 2
#define DEMO_BLOCKS 2048 /* 8 MiB per target */
#define DEMO_BLK 4096U
#define DEMO_BATCH 32U
#define DEMO_ROUNDS 150

struct demo_result {
	uint64_t writes, reads, nops, fsyncs, mismatches, errors;
	double secs;
	uint32_t tenant_id;
};

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Block @b of tenant @t at version @v: deterministic bytes, and their sum. */
static uint64_t block_fill(uint8_t *p, int t, uint32_t b, uint32_t v)
{
	uint64_t s =
		((uint64_t)t << 48 | (uint64_t)b << 20 | v) * 2654435761ULL + 1;
	uint64_t sum = 0;

	for (uint32_t i = 0; i < DEMO_BLK; i += 8) {
		uint64_t w = xs(&s);

		memcpy(p + i, &w, 8);
		sum = sum * 1099511628211ULL + w;
	}
	return sum;
}

static uint64_t block_sum(const uint8_t *p)
{
	uint64_t sum = 0, w;

	for (uint32_t i = 0; i < DEMO_BLK; i += 8) {
		memcpy(&w, p + i, 8);
		sum = sum * 1099511628211ULL + w;
	}
	return sum;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int wait_n(struct xio_qp *qp, uint32_t n, struct demo_result *r,
		  int expect)
{
	while (n--) {
		struct xio_cqe *c;
		int err = xio_wait_cqe(qp, &c, 10000);

		if (err)
			return err;
		if (c->res != expect)
			r->errors++;
		xio_cqe_seen(qp, c);
	}
	return 0;
}

/* One tenant process: attach, wait for its target, run, report, detach. */
static int demo_worker(const char *sock, int idx, int fd)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	static uint32_t version[DEMO_BLOCKS];
	struct demo_result r = {0};
	struct xio_tenant *t;
	struct xio_region *reg;
	struct xio_qp *qp;
	char name[32], c;
	uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(idx + 1);
	double t0;
	int err, round;
	uint32_t i;

	snprintf(name, sizeof(name), "demo-%d", idx);
	o.name = name;
	o.params.sq_entries = 64;
	o.params.nr_bufs = 2 * DEMO_BATCH;
	err = xio_client_attach(sock, &o, &t);
	if (err) {
		fprintf(stderr, "xiod demo: tenant %s: attach: %s\n", name,
			xio_strerror(err));
		return 1;
	}
	r.tenant_id = xio_tenant_id(t);
	qp = xio_tenant_qp(t, 0);
	reg = xio_tenant_region(t);
	if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) /* target added */
		return 1;
	t0 = now_s();
	for (round = 0; round < DEMO_ROUNDS; round++) {
		uint32_t base = (uint32_t)(xs(&s) % (DEMO_BLOCKS - DEMO_BATCH));

		/* WRITE a run of blocks, new versions, all in flight at once. */
		for (i = 0; i < DEMO_BATCH; i++) {
			uint32_t b = base + i;

			version[b]++;
			block_fill(xio_buf_ptr(reg, i), idx, b, version[b]);
			xio_prep_write(xio_get_sqe(qp), 0, i, 0, DEMO_BLK,
				       (uint64_t)b * DEMO_BLK, b);
		}
		if (xio_submit(qp) < 0 ||
		    wait_n(qp, DEMO_BATCH, &r, (int)DEMO_BLK))
			goto broken;
		r.writes += DEMO_BATCH;
		xio_prep_fsync(xio_get_sqe(qp), 0, 0);
		if (xio_submit(qp) < 0 || wait_n(qp, 1, &r, 0))
			goto broken;
		r.fsyncs++;
		/* READ another run back, compare with what we wrote. */
		base = (uint32_t)(xs(&s) % (DEMO_BLOCKS - DEMO_BATCH));
		for (i = 0; i < DEMO_BATCH; i++)
			xio_prep_read(xio_get_sqe(qp), 0, DEMO_BATCH + i, 0,
				      DEMO_BLK, (uint64_t)(base + i) * DEMO_BLK,
				      base + i);
		if (xio_submit(qp) < 0 ||
		    wait_n(qp, DEMO_BATCH, &r, (int)DEMO_BLK))
			goto broken;
		r.reads += DEMO_BATCH;
		for (i = 0; i < DEMO_BATCH; i++) {
			static uint8_t want[DEMO_BLK];
			uint32_t b = base + i;
			uint64_t sum = version[b] ? block_fill(want, idx, b,
							       version[b]) :
						    0;
			const uint8_t *got = xio_buf_ptr(reg, DEMO_BATCH + i);

			if (version[b] ? block_sum(got) != sum :
					 memcmp(got, (uint8_t[DEMO_BLK]){0},
						DEMO_BLK))
				r.mismatches++;
		}
		/* A burst of NOPs. */
		for (i = 0; i < DEMO_BATCH; i++)
			xio_prep_nop(xio_get_sqe(qp), i);
		if (xio_submit(qp) < 0 || wait_n(qp, DEMO_BATCH, &r, 0))
			goto broken;
		r.nops += DEMO_BATCH;
	}
	r.secs = now_s() - t0;
	if (write(fd, &r, sizeof(r)) != sizeof(r) || read(fd, &c, 1) != 1)
		return 1;
	return xio_client_detach(t) ? 1 : 0;
broken:
	fprintf(stderr, "xiod demo: tenant %s: the ring broke or timed out\n",
		name);
	return 1;
}

static int demo_driver(const char *sock, const char *dir)
{
	struct xio_tenant_info ti[DEMO_TENANTS];
	struct demo_result res[DEMO_TENANTS];
	int sv[DEMO_TENANTS][2], st, i, n, rc = 0;
	pid_t pid[DEMO_TENANTS];
	char path[DEMO_TENANTS][128], name[32], c = 'g';
	struct xio_admin *a = NULL;
	uint64_t mism = 0;

	for (i = 0; i < 1000 && xio_admin_open(sock, &a); i++)
		usleep(10000);
	if (!a)
		return 1;
	printf("xiod demo: daemon on %s, %d tenant processes, one file target each\n",
	       sock, DEMO_TENANTS);
	for (i = 0; i < DEMO_TENANTS; i++) {
		int fd;

		snprintf(path[i], sizeof(path[i]), "%s/disk-%d.img", dir, i);
		fd = open(path[i], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0600);
		if (fd < 0 || ftruncate(fd, DEMO_BLOCKS * (off_t)DEMO_BLK) < 0)
			return 1;
		close(fd);
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]))
			return 1;
		pid[i] = fork();
		if (pid[i] < 0)
			return 1;
		if (pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(sv[i][0]);
			xio_admin_close(a);
			_exit(demo_worker(sock, i, sv[i][1]));
		}
		close(sv[i][1]);
	}
	/* The host administrator attaches each tenant's virtual disk. */
	for (i = 0; i < DEMO_TENANTS; i++) {
		if (read(sv[i][0], &c, 1) != 1)
			return 1;
		snprintf(name, sizeof(name), "demo-%d", i);
		n = xio_admin_target_add(a, name, path[i], 0);
		if (n < 0) {
			fprintf(stderr, "xiod demo: target add: %s\n",
				xio_strerror(n));
			return 1;
		}
		if (write(sv[i][0], &c, 1) != 1)
			return 1;
	}
	printf("\n%-8s %8s %8s %8s %7s %10s %10s %9s\n", "tenant", "writes",
	       "reads", "nops", "fsyncs", "ops/s", "mismatch", "errors");
	for (i = 0; i < DEMO_TENANTS; i++) {
		if (read(sv[i][0], &res[i], sizeof(res[i])) != sizeof(res[i])) {
			fprintf(stderr, "xiod demo: tenant %d failed\n", i);
			return 1;
		}
		printf("demo-%-3d %8llu %8llu %8llu %7llu %10.0f %10llu %9llu\n",
		       i, (unsigned long long)res[i].writes,
		       (unsigned long long)res[i].reads,
		       (unsigned long long)res[i].nops,
		       (unsigned long long)res[i].fsyncs,
		       (double)(res[i].writes + res[i].reads + res[i].nops +
				res[i].fsyncs) /
			       res[i].secs,
		       (unsigned long long)res[i].mismatches,
		       (unsigned long long)res[i].errors);
		mism += res[i].mismatches + res[i].errors;
	}
	n = xio_admin_tenants(a, ti, DEMO_TENANTS, NULL);
	printf("\nthe daemon's view (xioctl --socket %s tenants):\n", sock);
	printf("%-4s %-8s %8s %8s %8s %8s %8s %8s\n", "id", "name", "taken",
	       "invalid", "inflight", "kicks", "wakeups", "notifies");
	for (i = 0; i < n; i++)
		printf("%-4u %-8s %8llu %8llu %8llu %8llu %8llu %8llu\n",
		       ti[i].id, ti[i].name, (unsigned long long)ti[i].taken,
		       (unsigned long long)ti[i].invalid,
		       (unsigned long long)ti[i].inflight,
		       (unsigned long long)ti[i].kicks,
		       (unsigned long long)ti[i].wakeups,
		       (unsigned long long)ti[i].notifies);
	for (i = 0; i < DEMO_TENANTS; i++) {
		if (write(sv[i][0], &c, 1) != 1)
			rc = 1;
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			rc = 1;
		close(sv[i][0]);
		unlink(path[i]);
	}
	xio_admin_close(a);
	if (mism)
		rc = 1;
	printf("\n%s: %llu mismatched or failed blocks\n", rc ? "FAILED" : "ok",
	       (unsigned long long)mism);
	fflush(stdout);
	return rc;
}

pid_t demo_start(const char *sock, const char *dir)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid != 0)
		return pid; /* xiod itself, or -1 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Nothing of xiod's (listening socket, eventfds) in the demo. */
	close_range(3, ~0U, 0);
	{
		/* xiod blocked these for its signalfd; not ours. */
		sigset_t m;

		sigemptyset(&m);
		sigprocmask(SIG_SETMASK, &m, NULL);
	}
	{
		int rc = demo_driver(sock, dir);

		kill(getppid(), SIGTERM); /* stops xiod */
		_exit(rc);
	}
}
