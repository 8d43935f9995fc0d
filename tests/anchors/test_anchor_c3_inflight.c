/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor C3: the guest process dies with 1,000 I/Os in flight.
 * A child process attaches a tenant (1024-entry SQ, xiod --inflight-cap
 * 1024), submits 1,000 RECVs on a socket target -- operations that only a
 * cancellation can end -- waits until xiod reports all 1,000 in io_uring,
 * and is killed with SIGKILL.  Pass (per round, 5 rounds):
 *  - xiod tears the tenant down: its fd count returns exactly to baseline
 *    (the region memfd, eventfds and socket target closed: every operation
 *    was cancelled or reaped before the memory went), the tenant is no
 *    longer listed, and its final accounting record says DETACHED with
 *    0 in flight and 1,000 taken (reconciled: nothing outstanding);
 *  - a bystander tenant on the same poller completes NOPs throughout;
 *  - /proc/PID/maps lines stay within 8 of their count after the first
 *    round (no mapping leaked).
 * The teardown time is printed (the anchor's 1 s target), not asserted.
 */
#include "daemon/dtest.h"

#define NR 1000

static void victim(const char *sock, int ready_fd)
{
	struct xio_tenant_info ti;
	struct xio_tenant *t;
	struct xio_qp *qp;
	char c = 'r';

	t = attach(sock, "c3", 1024, 8);
	qp = xio_tenant_qp(t, 0);
	CHECK_EQ(write(ready_fd, &c, 1), 1); /* attached */
	CHECK_EQ(read(ready_fd, &c, 1), 1);  /* target added */
	for (int i = 0; i < NR; i++)
		xio_prep_rw(xio_get_sqe(qp), XIO_OP_RECV, 0, (uint32_t)i % 8, 0,
			    64, 0, (uint64_t)i);
	CHECK_EQ(xio_submit(qp), NR);
	do {
		info(t, &ti);
	} while (ti.inflight < NR);
	CHECK_EQ(write(ready_fd, &c, 1), 1); /* all in flight */
	for (;;)
		pause();
}

int main(void)
{
	struct xio_tenant *good;
	struct xio_tenant_stats st;
	struct xio_tenant_info ti[4];
	struct xio_admin *a;
	struct xiod d;
	int base, maps;

	xiod_start(&d, "--inflight-cap", "1024", NULL);
	good = attach(d.sock, "bystander", 8, 2);
	nop_roundtrip(xio_tenant_qp(good, 0), 1);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK_EQ(xio_admin_tenants(a, ti, 4, NULL), 1); /* accepted */
	base = fd_count(d.pid);
	maps = maps_count(d.pid);
	for (int round = 0; round < 5; round++) {
		int sp[2], sv[2], wst;
		uint64_t t0;
		pid_t pid;
		char c;

		CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
		CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(sp[0]);
			close(sv[0]);
			close(sv[1]);
			victim(d.sock, sp[1]);
			_exit(1);
		}
		close(sp[1]);
		CHECK_EQ(read(sp[0], &c, 1), 1);
		CHECK_EQ(xio_admin_target_add_fd(a, "c3", sv[0], 0, NULL), 0);
		close(sv[0]);
		CHECK_EQ(write(sp[0], &c, 1), 1);
		CHECK_EQ(read(sp[0], &c, 1), 1);
		nop_roundtrip(xio_tenant_qp(good, 0), 100 + (uint64_t)round);
		CHECK_EQ(kill(pid, SIGKILL), 0);
		t0 = dt_now_ms();
		CHECK_EQ(waitpid(pid, &wst, 0), pid);
		close(sp[0]);
		for (int j = 0; j < 50; j++)
			nop_roundtrip(xio_tenant_qp(good, 0), (uint64_t)j);
		wait_fd_count(d.pid, base);
		printf("round %d: %d RECVs in flight, torn down in %llu ms\n",
		       round, NR, (unsigned long long)(dt_now_ms() - t0));
		CHECK_EQ(xio_admin_tenants(a, ti, 4, NULL), 1);
		CHECK(!strcmp(ti[0].name, "bystander"));
		memset(&st, 0, sizeof(st));
		st.sz = sizeof(st);
		CHECK_EQ(xio_admin_stats(a, "c3", XIO_STATS_F_CONSUME, &st, 1,
					 NULL),
			 1);
		CHECK_EQ(st.state, XIO_TSTATE_DETACHED);
		CHECK_EQ(st.inflight, 0);
		CHECK_EQ(st.taken, NR);
		CHECK_EQ(st.inflight_max, NR);
		close(sv[1]);
		if (round == 0) /* warm-up: a sanitizer's allocator grows */
			maps = maps_count(d.pid);
	}
	CHECK(maps_count(d.pid) <= maps + 8);
	CHECK_EQ(xio_admin_tenants(a, ti, 4, NULL), 1);
	CHECK_EQ(ti[0].inflight, 0);
	xio_admin_close(a);
	CHECK_EQ(xio_client_detach(good), 0);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
