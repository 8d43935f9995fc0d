// SPDX-License-Identifier: MIT
/*
 * Sends across a restart (issue 8, docs/daemon.md "Restart"): a SEND that
 * the killed xiod had handed to the kernel may have gone out, so the
 * restarted xiod does not run it again: it completes with -EINTR ("may or
 * may not have happened"), exactly once.
 *
 * A tenant's socket target (one end of a socketpair, with a small send
 * buffer this test never reads from) takes SENDs until one stays in
 * flight; two more join it.  xiod is SIGKILLed and restarted, the tenant
 * reattaches: the three held SENDs complete -EINTR, each once, and are not
 * sent again.  The socket target, passed as an fd, comes back from the fd
 * keeper (daemon/fdkeep.c): a SEND after the restart reaches the peer.
 *
 * Then the same with SIGTERM and --stop-wait 1 (a clean stop, a handover:
 * docs/daemon.md "Clean stop"): the held SENDs are cancelled when the
 * second is over, end -ECANCELED -- not sent -- and go back to the log as
 * not issued; the next xiod (the socket target handed over by the fd
 * keeper) issues them again, and once the peer reads, each completes once
 * with its bytes: the peer gets exactly what the SENDs report, no byte
 * twice.  xiod exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtest.h"

#define BS 4096U
#define HELD 3

static struct xiod d;
static char dir[64];
static const char *args[16];

static void send1(struct xio_qp *qp, uint32_t buf, uint64_t ud)
{
	struct xio_sqe *sqe = xio_get_sqe(qp);

	CHECK(sqe);
	xio_prep_rw(sqe, XIO_OP_SEND, 0, buf, 0, BS, 0, ud);
	CHECK_EQ(xio_submit(qp), 1);
}

static size_t drain(int fd);

/*
 * A tenant whose socket target's peer (@peer) does not read: SENDs until
 * one stays in flight, then HELD - 1 more.  The bytes that went out before
 * in *@sent; returns the first held user_data.
 */
static uint64_t fill_until_held(struct xio_tenant **tp, const char *name,
				int *peer, size_t *sent)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_admin *adm;
	struct xio_cqe *cqe;
	struct xio_qp *qp;
	uint64_t ud, first_held = 0;
	int sv[2], sb = 4096, i, err;

	o.name = name;
	o.params.nr_qpairs = 1;
	o.params.sq_entries = 16;
	o.params.cq_entries = 16;
	o.params.buf_size = BS;
	o.params.nr_bufs = 4;
	CHECK_EQ(xio_client_attach(d.sock, &o, tp), 0);
	qp = xio_tenant_qp(*tp, 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb)), 0);
	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	CHECK_EQ(xio_admin_target_add_fd(adm, name, sv[0], 0, "sock"), 0);
	xio_admin_close(adm);
	close(sv[0]);
	*peer = sv[1];
	*sent = 0;
	memset(xio_buf_ptr(xio_tenant_region(*tp), 0), 'x', BS);
	/* Until one stays in flight: the peer's buffer is full. */
	for (ud = 1; ud < 256 && !first_held; ud++) {
		send1(qp, 0, ud);
		err = xio_wait_cqe(qp, &cqe, 300);
		if (err == -ETIMEDOUT) {
			first_held = ud;
			break;
		}
		CHECK_EQ(err, 0);
		CHECK_EQ(cqe->user_data, ud);
		/* A stream send may go out in part. */
		CHECK(cqe->res > 0 && cqe->res <= (int)BS);
		*sent += (size_t)cqe->res;
		xio_cqe_seen(qp, cqe);
	}
	CHECK(first_held);
	for (i = 1; i < HELD; i++)
		send1(qp, 0, first_held + (uint64_t)i);
	CHECK(xio_wait_cqe(qp, &cqe, 300) == -ETIMEDOUT);
	return first_held;
}

/* SIGTERM with SENDs held past --stop-wait: cancelled, sent once later. */
static void handover_part(void)
{
	struct xio_tenant *t;
	struct xio_cqe *cqe;
	struct xio_qp *qp;
	uint64_t first_held, t0;
	size_t sent_before, peer = 0, res_sum = 0;
	int sv1, i, st, seen[HELD] = {0};

	dt_xiod_kill(&d);
	xiod_restart(&d, "--state-dir", dir, "--stop-wait", "1", NULL);
	first_held = fill_until_held(&t, "snd2", &sv1, &sent_before);
	qp = xio_tenant_qp(t, 0);
	CHECK_EQ(kill(d.pid, SIGTERM), 0);
	CHECK_EQ(waitpid(d.pid, &st, 0), d.pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Nothing answered: the held SENDs were cancelled, not sent. */
	CHECK(xio_wait_cqe(qp, &cqe, 100) == -ETIMEDOUT);
	CHECK_EQ(drain(sv1), sent_before);
	dt_xiod_spawn(&d, args);
	dt_reattach(t);
	/* Issued again: the peer reads, each completes once, whole. */
	t0 = dt_now_ms();
	for (i = 0; i < HELD;) {
		peer += drain(sv1);
		if (xio_wait_cqe(qp, &cqe, 10)) {
			CHECK(dt_now_ms() - t0 < 10000);
			continue;
		}
		CHECK(cqe->user_data >= first_held &&
		      cqe->user_data < first_held + HELD);
		CHECK_EQ(seen[cqe->user_data - first_held]++, 0);
		CHECK(cqe->res > 0 && cqe->res <= (int)BS);
		res_sum += (size_t)cqe->res;
		xio_cqe_seen(qp, cqe);
		i++;
	}
	usleep(50000);
	peer += drain(sv1);
	CHECK_EQ(peer, res_sum);
	printf("SIGTERM with %d SENDs held past --stop-wait 1: exit 0, not sent before the restart, sent once after (%zu bytes)\n",
	       HELD, res_sum);
	CHECK_EQ(xio_client_detach(t), 0);
	close(sv1);
}

static size_t drain(int fd)
{
	char b[BS];
	size_t n = 0;
	ssize_t r;

	while ((r = recv(fd, b, sizeof(b), MSG_DONTWAIT)) > 0)
		n += (size_t)r;
	return n;
}

int main(void)
{
	struct xio_tenant *t;
	struct xio_cqe *cqe;
	struct xio_qp *qp;
	uint64_t first_held;
	int sv1, i, seen[HELD] = {0};
	size_t sent_before, peer;

	dt_state_dir(dir, sizeof(dir), "snd");
	dt_keeper_kill_at_exit(dir);
	xiod_start(&d, "--state-dir", dir, NULL);
	dt_xiod_argv(&d, args, 16, "--state-dir", dir, NULL);
	first_held = fill_until_held(&t, "snd", &sv1, &sent_before);
	qp = xio_tenant_qp(t, 0);

	dt_xiod_kill(&d);
	dt_xiod_spawn(&d, args);
	xio_set_print(NULL);
	dt_reattach(t);
	for (i = 0; i < HELD; i++) {
		CHECK_EQ(xio_wait_cqe(qp, &cqe, 10000), 0);
		CHECK(cqe->user_data >= first_held &&
		      cqe->user_data < first_held + HELD);
		CHECK_EQ(seen[cqe->user_data - first_held]++, 0);
		CHECK_EQ(cqe->res, -EINTR);
		xio_cqe_seen(qp, cqe);
	}
	CHECK(xio_wait_cqe(qp, &cqe, 300) == -ETIMEDOUT);
	/* What reached the peer: the completed SENDs, perhaps a part of the
	 * first held one (a stream send goes out piecewise), nothing again. */
	peer = drain(sv1);
	CHECK(peer >= sent_before && peer <= sent_before + HELD * BS);
	/* A SEND after the restart: the fd target is back (fd keeper). */
	send1(qp, 0, 1000);
	CHECK_EQ(xio_wait_cqe(qp, &cqe, 10000), 0);
	CHECK_EQ(cqe->res, (int)BS);
	xio_cqe_seen(qp, cqe);
	CHECK_EQ(drain(sv1), BS);
	printf("%llu SENDs completed (%zu bytes), %d held across the kill: -EINTR once each; the peer got %zu bytes\n",
	       (unsigned long long)(first_held - 1), sent_before, HELD, peer);
	CHECK_EQ(xio_client_detach(t), 0);
	close(sv1);
	handover_part();
	xiod_stop(&d);
	CHECK(rmdir(dir) == 0);
	return 0;
}
