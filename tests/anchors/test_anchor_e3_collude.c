/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor E3 (colluding pair, the CVE-2019-3900 pattern): a
 * tenant keeps its SQ full of RECVs with a 1-byte buffer on a socket target
 * while a sender thread writes into the peer end as fast as it can, so
 * there is always more to receive and every receive is as small as
 * possible.  Through a private xiod with --budget-entries 8 on one poller:
 *  - no unbounded loop: the receiving tenant's largest visit stays within
 *    the budget (max_visit_entries <= 8), and each byte completes exactly
 *    one RECV (res 1; total completions == bytes sent == RECVs submitted);
 *  - every other tenant is still polled: a second tenant on the same
 *    poller completes NOP round trips throughout (each within wait_one()'s
 *    10 s limit), at least one of them while the flood is running.
 */
#include "daemon/dtest.h"

#include <pthread.h>

#define BUDGET 8

static int g_peer;
static uint64_t g_total;
static volatile int g_recv_done;

static void *sender(void *arg)
{
	char bytes[256];
	uint64_t sent = 0;

	(void)arg;
	memset(bytes, 'z', sizeof(bytes));
	while (sent < g_total) {
		size_t k = g_total - sent < sizeof(bytes) ? g_total - sent :
							    sizeof(bytes);
		ssize_t w = write(g_peer, bytes, k);

		CHECK(w > 0);
		sent += (uint64_t)w;
	}
	return NULL;
}

static void *receiver(void *arg)
{
	struct xio_qp *qp = xio_tenant_qp(arg, 0);
	uint64_t sub = 0, done = 0, deadline = dt_now_ms() + 60000;

	while (done < g_total) {
		struct xio_sqe *s;
		struct xio_cqe *c;

		while (sub < g_total && (s = xio_get_sqe(qp))) {
			xio_prep_rw(s, XIO_OP_RECV, 0, (uint32_t)(sub % 4), 0,
				    1, 0, sub);
			sub++;
		}
		xio_submit(qp);
		while (xio_peek_cqe(qp, &c) == 0) {
			CHECK_EQ(c->res, 1);
			xio_cqe_seen(qp, c);
			done++;
		}
		CHECK(dt_now_ms() < deadline);
	}
	__atomic_store_n(&g_recv_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	struct xio_tenant *rx, *good;
	struct xio_tenant_info ti;
	struct xio_admin *a;
	pthread_t ts, tr;
	uint64_t rounds = 0, during = 0;
	struct xiod d;
	int sv[2];

	g_total = SCALE(200000);
	xiod_start(&d, "--budget-entries", "8", "--pollers", "1", NULL);
	rx = attach(d.sock, "rx", 256, 4);
	good = attach(d.sock, "good", 8, 2);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK_EQ(xio_admin_target_add_fd(a, "rx", sv[0], 0, NULL), 0);
	xio_admin_close(a);
	close(sv[0]);
	g_peer = sv[1];
	CHECK_EQ(pthread_create(&tr, NULL, receiver, rx), 0);
	CHECK_EQ(pthread_create(&ts, NULL, sender, NULL), 0);
	do {
		nop_roundtrip(xio_tenant_qp(good, 0), rounds++);
		if (!__atomic_load_n(&g_recv_done, __ATOMIC_ACQUIRE))
			during++;
	} while (!__atomic_load_n(&g_recv_done, __ATOMIC_ACQUIRE));
	CHECK_EQ(pthread_join(tr, NULL), 0);
	CHECK_EQ(pthread_join(ts, NULL), 0);
	info(rx, &ti);
	printf("%llu 1-byte RECVs under a flood: largest visit %llu SQEs "
	       "(budget %d); neighbour round trips during it: %llu\n",
	       (unsigned long long)g_total,
	       (unsigned long long)ti.max_visit_entries, BUDGET,
	       (unsigned long long)during);
	CHECK(ti.max_visit_entries >= 1);
	CHECK(ti.max_visit_entries <= BUDGET);
	CHECK_EQ(ti.completed, g_total);
	CHECK_EQ(ti.inflight, 0);
	CHECK(during >= 1);
	info(good, &ti);
	CHECK_EQ(ti.broken, 0);
	CHECK_EQ(xio_client_detach(rx), 0);
	CHECK_EQ(xio_client_detach(good), 0);
	close(sv[1]);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
