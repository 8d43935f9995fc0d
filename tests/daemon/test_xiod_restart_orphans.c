// SPDX-License-Identifier: MIT
/*
 * Orphaned in-flight logs (issue 8, docs/daemon.md "Orphaned logs"): a
 * tenant that does not come back after a restart (its process died while
 * xiod was down, or its DETACH raced the kill) must not leave its log in
 * the state directory forever.
 *
 * Three tenants with a request held in flight (a RECV on a socket nobody
 * writes to); xiod is SIGKILLed and restarted with --orphan-grace 1.  "back"
 * reattaches at once; "gone" never does (its process is gone); "late"
 * tries after the grace.  Checked: right after the restart every log is
 * there; then the logs of "gone" and "late" are removed, with a final
 * record each (state detached, id and quota kept) -- "back"'s stays; "late"
 * gets -ENOENT (its tenant was dropped); "back"'s RECV, issued before the
 * kill, completes -EINTR.  Then an xiod with --orphan-grace 0 keeps a log
 * nobody claims.
 *
 * Accounting across the restart (docs/accounting.md): "back" and "gone"
 * complete NOPs before the kill, the test waits until their logs hold a
 * snapshot of them; after the restart "back" goes on counting from there
 * and "gone"'s final record carries its counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtest.h"
#include "ilog.h"

/* Index of each counter in a log's accounting snapshot. */
enum {
#define X(f) ACCT_##f,
	ILOG_ACCT_FIELDS(X)
#undef X
};

static struct xiod d;
static char dir[64];
static const char *args[16];

static void spawn(const char *grace)
{
	dt_xiod_argv(&d, args, 16, "--state-dir", dir, "--orphan-grace", grace,
		     NULL);
	dt_xiod_spawn(&d, args);
}

static bool log_exists(const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s.ilog", dir, name);
	return access(p, F_OK) == 0;
}

/* A tenant with a RECV held in flight on a socket target nobody writes to;
 * the peer end is kept open (*peer). */
static struct xio_tenant *tn_attach(const char *name, int *peer)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t;
	struct xio_admin *adm;
	struct xio_sqe *sqe;
	struct xio_qp *qp;
	int sv[2];

	o.name = name;
	o.params.nr_qpairs = 1;
	o.params.sq_entries = 8;
	o.params.cq_entries = 8;
	o.params.buf_size = 4096;
	o.params.nr_bufs = 2;
	CHECK_EQ(xio_client_attach(d.sock, &o, &t), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	CHECK_EQ(xio_admin_target_add_fd(adm, name, sv[0], 0, "sock"), 0);
	xio_admin_close(adm);
	close(sv[0]);
	*peer = sv[1];
	qp = xio_tenant_qp(t, 0);
	sqe = xio_get_sqe(qp);
	CHECK(sqe);
	xio_prep_rw(sqe, XIO_OP_RECV, 0, 0, 0, 64, 0, 7);
	CHECK_EQ(xio_submit(qp), 1);
	return t;
}

/* @n NOP round trips on @t's queue pair (its RECV stays in flight). */
static void nops(struct xio_tenant *t, int n)
{
	struct xio_qp *qp = xio_tenant_qp(t, 0);
	struct xio_cqe *c;

	for (int i = 0; i < n; i++) {
		struct xio_sqe *s = xio_get_sqe(qp);

		CHECK(s);
		xio_prep_nop(s, 1000 + (uint64_t)i);
		CHECK_EQ(xio_submit(qp), 1);
		CHECK_EQ(xio_wait_cqe(qp, &c, 10000), 0);
		CHECK_EQ(c->user_data, 1000 + (uint64_t)i);
		xio_cqe_seen(qp, c);
	}
}

/* Until @name's log holds a snapshot with @completed completions (the
 * control thread stores one every ILOG_ACCT_PERIOD_MS). */
static void wait_snapshot(const char *name, uint64_t completed)
{
	uint64_t t0 = dt_now_ms();
	struct ilog_acct a = {0};
	struct ilog_hdr h;
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s.ilog", dir, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	for (;;) {
		CHECK_EQ(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
		if (ilog_acct_load(&h, &a) &&
		    a.vals[ACCT_completed] == completed)
			break;
		CHECK(dt_now_ms() - t0 < 10000);
		usleep(10000);
	}
	close(fd);
}

int main(void)
{
	struct xio_tenant *back, *gone, *late, *keep;
	struct xio_tenant_stats st = {.sz = sizeof(st)};
	struct xio_quota q = {.sz = sizeof(q),
			      .flags = XIO_QUOTA_WEIGHT,
			      .weight = 77};
	struct xio_admin *adm;
	struct xio_cqe *cqe;
	char keep_log[128];
	int peer[4], i;
	uint32_t gone_id;
	uint64_t t0;

	dt_state_dir(dir, sizeof(dir), "orph");
	dt_keeper_kill_at_exit(dir); /* its socket targets are kept */
	xiod_start(&d, "--state-dir", dir, NULL);
	back = tn_attach("back", &peer[0]);
	gone = tn_attach("gone", &peer[1]);
	late = tn_attach("late", &peer[2]);
	gone_id = xio_tenant_id(gone);
	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	CHECK_EQ(xio_admin_quota_set(adm, "gone", &q), 0);
	xio_admin_close(adm);
	CHECK(xio_wait_cqe(xio_tenant_qp(back, 0), &cqe, 200) == -ETIMEDOUT);
	nops(back, 30);
	nops(gone, 50);
	wait_snapshot("back", 30);
	wait_snapshot("gone", 50);

	dt_xiod_kill(&d);
	xio_set_print(NULL);
	spawn("1");
	dt_reattach(back);
	CHECK(log_exists("back") && log_exists("gone") && log_exists("late"));
	/* Its RECV was in the kernel: not run again (docs/daemon.md). */
	CHECK_EQ(xio_wait_cqe(xio_tenant_qp(back, 0), &cqe, 10000), 0);
	CHECK_EQ(cqe->user_data, 7);
	CHECK_EQ(cqe->res, -EINTR);
	xio_cqe_seen(xio_tenant_qp(back, 0), cqe);
	/* It counts on from its snapshot: 30 NOPs, then the RECV. */
	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	CHECK_EQ(xio_admin_stats(adm, "back", 0, &st, 1, NULL), 1);
	CHECK_EQ(st.completed, 31);
	CHECK_EQ(st.errors, 1);
	xio_admin_close(adm);
	/* The grace: 1 s, on the control loop's own timer. */
	t0 = dt_now_ms();
	while (log_exists("gone") || log_exists("late")) {
		CHECK(dt_now_ms() - t0 < 10000);
		usleep(10000);
	}
	CHECK(log_exists("back"));
	CHECK_EQ(xio_tenant_reattach(late), -ENOENT);
	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	CHECK_EQ(xio_admin_stats(adm, "gone", 0, &st, 1, NULL), 1);
	CHECK_EQ(st.state, XIO_TSTATE_DETACHED);
	CHECK_EQ(st.id, gone_id);
	CHECK_EQ(st.weight, 77);
	CHECK_EQ(st.completed, 50); /* as of its last snapshot */
	CHECK_EQ(st.taken, 51);	    /* and its RECV, lost */
	CHECK(st.elapsed_ns > 0);
	CHECK_EQ(xio_admin_stats(adm, "late", 0, &st, 1, NULL), 1);
	CHECK_EQ(st.state, XIO_TSTATE_DETACHED);
	CHECK_EQ(xio_admin_stats(adm, "back", 0, &st, 1, NULL), 1);
	CHECK_EQ(st.state, XIO_TSTATE_RUNNING);
	xio_admin_close(adm);

	/* --orphan-grace 0: a log nobody claims is kept. */
	keep = tn_attach("keep", &peer[3]);
	dt_xiod_kill(&d);
	spawn("0");
	dt_reattach(back);
	usleep(1500000);
	CHECK(log_exists("back") && log_exists("keep"));
	snprintf(keep_log, sizeof(keep_log), "%s/keep.ilog", dir);
	CHECK_EQ(unlink(keep_log), 0);
	CHECK_EQ(xio_client_detach(back), 0);
	CHECK(!log_exists("back"));
	xio_client_close(gone);
	xio_client_close(late);
	xio_client_close(keep);
	xiod_stop(&d);
	for (i = 0; i < 4; i++)
		close(peer[i]);
	CHECK(rmdir(dir) == 0);
	printf("orphaned logs removed after the grace, with final records (counters from the log's snapshot); a reattached tenant's log kept, its counters carried on; --orphan-grace 0 keeps them\n");
	return 0;
}
