/* SPDX-License-Identifier: MIT */
/*
 * NOP round trips through xiod: single, batched and with several queue
 * pairs; the tenant as listed by the admin API and by itself; geometry the
 * daemon must refuse; detach frees the name.
 */
#include "dtest.h"

#include <pthread.h>

static void batch(struct xio_qp *qp, int n, uint64_t base)
{
	uint64_t seen = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct xio_sqe *s = xio_get_sqe(qp);

		CHECK(s);
		xio_prep_nop(s, base + (uint64_t)i);
	}
	CHECK_EQ(xio_submit(qp), n);
	for (i = 0; i < n; i++) {
		struct xio_cqe c = wait_one(qp);

		CHECK(c.user_data >= base && c.user_data < base + (uint64_t)n);
		CHECK_EQ(c.res, 0);
		seen |= 1ULL << (c.user_data - base);
	}
	CHECK_EQ(seen, n == 64 ? ~0ULL : (1ULL << n) - 1);
}

struct qp_thread {
	struct xio_qp *qp;
	int n;
};

static void *qp_worker(void *arg)
{
	struct qp_thread *w = arg;

	for (int i = 0; i < w->n; i++)
		nop_roundtrip(w->qp, (uint64_t)i);
	return NULL;
}

/* One guest thread per queue pair, all at once. */
static void threads(struct xio_tenant *t, int nq)
{
	struct qp_thread w[8];
	pthread_t th[8];
	int i;

	for (i = 0; i < nq; i++) {
		w[i].qp = xio_tenant_qp(t, (uint32_t)i);
		w[i].n = SCALE(5000);
		CHECK_EQ(pthread_create(&th[i], NULL, qp_worker, &w[i]), 0);
	}
	for (i = 0; i < nq; i++)
		pthread_join(th[i], NULL);
}

int main(void)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant_info ti[4];
	struct xio_tenant *t, *t2, *bad = NULL;
	struct xio_admin *a;
	struct xio_qp *qp;
	struct xiod d;
	uint32_t total = 0, i;
	int n;

	xiod_start(&d, "--idle-us", "1000", NULL);
	t = attach(d.sock, "nop-a", 128, 16);
	qp = xio_tenant_qp(t, 0);
	CHECK(qp);
	CHECK(xio_tenant_id(t) > 0);
	for (i = 0; i < (uint32_t)SCALE(20000); i++)
		nop_roundtrip(qp, 1000 + i);
	for (i = 0; i < 50; i++)
		batch(qp, 64, (uint64_t)i << 32);

	/* Several queue pairs, each served. */
	o.name = "nop-multi";
	o.params.nr_qpairs = 4;
	o.params.sq_entries = 16;
	CHECK_EQ(xio_client_attach(d.sock, &o, &t2), 0);
	for (i = 0; i < 4; i++)
		for (int j = 0; j < 100; j++)
			nop_roundtrip(xio_tenant_qp(t2, i), (uint64_t)j);
	CHECK(xio_tenant_qp(t2, 4) == NULL);
	threads(t2, 4);

	/* Admin view. */
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	n = xio_admin_tenants(a, ti, 4, &total);
	CHECK_EQ(n, 2);
	CHECK_EQ(total, 2);
	CHECK(!strcmp(ti[0].name, "nop-a"));
	CHECK_EQ(ti[0].taken, SCALE(20000) + 50 * 64);
	CHECK_EQ(ti[0].completed, ti[0].taken);
	CHECK_EQ(ti[0].invalid, 0);
	CHECK_EQ(ti[0].inflight, 0);
	CHECK(!strcmp(ti[1].name, "nop-multi"));
	CHECK_EQ(ti[1].nr_qpairs, 4);
	CHECK_EQ(ti[1].taken, 400 + 4 * SCALE(5000));
	/* The tenant's own view. */
	info(t2, &ti[2]);
	CHECK_EQ(ti[2].id, xio_tenant_id(t2));

	/* Refused before anything is allocated. */
	o.name = "nop-a"; /* taken */
	o.params.nr_qpairs = 1;
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), -EEXIST);
	o.name = "12345"; /* would read as an id */
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), -EINVAL);
	o.name = "bad/name";
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), -EINVAL);
	o.name = "nop-geom";
	o.params.sq_entries = 100; /* not a power of two */
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), -EINVAL);
	o.params.sq_entries = 64;
	o.params.nr_qpairs = XIO_MAX_QPAIRS + 1;
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), -EINVAL);
	o.params.nr_qpairs = 1;
	o.params.buf_size = 1U << 24;
	o.params.nr_bufs = 1U << 14; /* 256 GiB: over the daemon limit */
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), -E2BIG);
	CHECK(bad == NULL);
	/* NUMA placement: node 0 exists everywhere, node 999 nowhere. */
	o.name = "nop-numa";
	o.params.buf_size = 0;
	o.params.nr_bufs = 0;
	o.flags = XIO_CLIENT_NUMA_BIND;
	o.numa_node = 999;
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), -EINVAL);
	o.numa_node = 0;
	CHECK_EQ(xio_client_attach(d.sock, &o, &bad), 0);
	nop_roundtrip(xio_tenant_qp(bad, 0), 9);
	CHECK_EQ(xio_client_detach(bad), 0);
	o.flags = 0;

	CHECK_EQ(xio_client_detach(t), 0);
	CHECK_EQ(xio_client_detach(t2), 0);
	CHECK_EQ(xio_admin_tenants(a, ti, 4, &total), 0);
	CHECK_EQ(total, 0);
	/* The name is free again. */
	t = attach(d.sock, "nop-a", 8, 8);
	nop_roundtrip(xio_tenant_qp(t, 0), 7);
	CHECK_EQ(xio_client_detach(t), 0);
	xio_admin_close(a);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
