/* SPDX-License-Identifier: MIT */
/*
 * Adaptive polling.  (1) With --idle-us 0 the poller sleeps whenever it is
 * idle: many sleep/kick cycles, each waiting for NEED_WAKEUP before
 * submitting, must never lose a wake-up (a lost one hangs xio_wait_cqe
 * into its timeout), and xiod counts exactly the kicks the guest rang.
 * (2) With a poller that never gets idle long enough to sleep, a stream
 * of requests rings no doorbell at all.  (3) Socket targets: a RECV stays
 * in flight until the peer writes; the completion wakes the sleeping
 * poller and, when the guest sleeps on its notify eventfd, signals it.
 */
#include "dtest.h"

#include <sys/socket.h>

static void wait_needs_kick(struct xio_qp *qp)
{
	uint64_t deadline = dt_now_ms() + 10000;

	while (!xio_qp_needs_kick(qp)) {
		CHECK(dt_now_ms() < deadline);
		xio_cpu_relax();
	}
}

static void sleep_cycles(void)
{
	struct xio_tenant_info ti;
	struct xio_tenant *t;
	struct xio_qp *qp;
	struct xiod d;
	uint32_t i, n = SCALE(100000);
	uint64_t kicks, deadline;

	xiod_start(&d, "--idle-us", "0", NULL);
	t = attach(d.sock, "sleeper", 16, 4);
	qp = xio_tenant_qp(t, 0);
	for (i = 0; i < n; i++) {
		wait_needs_kick(qp);
		nop_roundtrip(qp, i);
	}
	deadline = dt_now_ms() + 10000;
	/*
	 * Each submit found NEED_WAKEUP set, so it kicked -- unless the
	 * poller woke for another reason in between (a signal, a stray CQE)
	 * and cleared the flag: then it was awake anyway.  A lost wake-up
	 * would have hung a wait above.
	 */
	kicks = xio_qp_kicks(qp);
	CHECK(kicks > 0 && kicks <= n);
	/* xiod counts every doorbell rung (the last one may be in flight). */
	do {
		info(t, &ti);
		if (dt_now_ms() > deadline) {
			fprintf(stderr,
				"FAIL: xiod counted %llu kicks, the guest rang %llu\n",
				(unsigned long long)ti.kicks,
				(unsigned long long)kicks);
			exit(1);
		}
	} while (ti.kicks != kicks);
	CHECK(ti.wakeups >= 1 && ti.wakeups <= kicks);
	/* Not >= kicks: a guest may see NEED_WAKEUP in the short window
	 * where the poller armed it but then found work and stayed awake. */
	CHECK(ti.poller_sleeps > 0);
	CHECK_EQ(ti.completed, n);
	printf("sleep/kick: %u cycles, %llu kicks, %llu wakeups by kick, %llu sleeps\n",
	       n, (unsigned long long)kicks, (unsigned long long)ti.wakeups,
	       (unsigned long long)ti.poller_sleeps);
	fflush(stdout);
	CHECK_EQ(xio_client_detach(t), 0);
	xiod_stop(&d);
}

static void busy_no_kicks(void)
{
	struct xio_tenant_info ti;
	struct xio_tenant *t;
	struct xio_qp *qp;
	struct xiod d;
	uint32_t i, n = SCALE(5000);

	/* 60 s of idle before sleeping: never, within this phase. */
	xiod_start(&d, "--idle-us", "60000000", "--park-us", "0", NULL);
	t = attach(d.sock, "busy", 16, 4);
	qp = xio_tenant_qp(t, 0);
	for (i = 0; i < n; i++)
		nop_roundtrip(qp, i);
	info(t, &ti);
	CHECK_EQ(xio_qp_kicks(qp), 0);
	CHECK_EQ(ti.kicks, 0);
	CHECK_EQ(ti.completed, n);
	CHECK_EQ(xio_client_detach(t), 0);
	xiod_stop(&d);
}

static void socket_target(void)
{
	struct xio_tenant_info ti;
	struct xio_tenant *t;
	struct xio_admin *a;
	struct xio_region *r;
	struct xio_qp *qp;
	struct xio_sqe *s;
	struct xio_cqe c;
	struct xiod d;
	int sv[2], idx, tries;
	char buf[16];

	xiod_start(&d, "--idle-us", "0", NULL);
	t = attach(d.sock, "sock", 16, 4);
	qp = xio_tenant_qp(t, 0);
	r = xio_tenant_region(t);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	idx = xio_admin_target_add_fd(a, "sock", sv[0], 0, "socketpair");
	CHECK_EQ(idx, 0);
	close(sv[0]); /* xiod holds its own copy */

	/* SEND: guest buffer -> peer. */
	memcpy(xio_buf_ptr(r, 0), "hello", 5);
	s = xio_get_sqe(qp);
	xio_prep_rw(s, XIO_OP_SEND, 0, 0, 0, 5, 0, 1);
	CHECK_EQ(xio_submit(qp) >= 0, 1);
	c = wait_one(qp);
	CHECK_EQ(c.res, 5);
	CHECK_EQ(read(sv[1], buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "hello", 5));
	/* READ on a socket target is refused. */
	s = xio_get_sqe(qp);
	xio_prep_read(s, 0, 0, 0, 5, 0, 2);
	CHECK(xio_submit(qp) >= 0);
	c = wait_one(qp);
	CHECK_EQ(c.res, -EOPNOTSUPP);

	/* RECV pends until the peer writes; the guest sleeps meanwhile. */
	for (tries = 0; tries < 20; tries++) {
		struct xio_cqe *cp;
		pid_t pid;
		int st;

		s = xio_get_sqe(qp);
		xio_prep_rw(s, XIO_OP_RECV, 0, 1, 0, 16, 0, 100 + tries);
		CHECK(xio_submit(qp) >= 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			usleep(100000);
			_exit(write(sv[1], "world", 5) == 5 ? 0 : 1);
		}
		CHECK_EQ(xio_wait_cqe(qp, &cp, 10000), 0);
		CHECK_EQ(cp->res, 5);
		CHECK_EQ(cp->user_data, 100 + tries);
		xio_cqe_seen(qp, cp);
		CHECK(!memcmp(xio_buf_ptr(r, 1), "world", 5));
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		info(t, &ti);
		if (ti.notifies)
			break;
	}
	CHECK(ti.notifies >= 1);
	CHECK_EQ(ti.inflight, 0);

	/* Non-sockets/unconnected sockets as socket targets are refused. */
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv + 0) == 0, 1);
	close(sv[1]);
	{
		int u = socket(AF_UNIX, SOCK_STREAM, 0);

		CHECK_EQ(xio_admin_target_add_fd(a, "sock", u, 0, NULL),
			 -ENOTCONN);
		close(u);
	}
	close(sv[0]);
	xio_admin_close(a);
	CHECK_EQ(xio_client_detach(t), 0);
	xiod_stop(&d);
}

int main(void)
{
	sleep_cycles();
	busy_no_kicks();
	socket_target();
	printf("ok\n");
	return 0;
}
