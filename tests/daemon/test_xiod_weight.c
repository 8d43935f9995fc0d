/* SPDX-License-Identifier: MIT */
/*
 * Weighted fair share (issue 5, docs/accounting.md): tenants flooding the
 * same poller with the same operations get poller time in proportion to
 * their weights, measured as the time xiod attributes to each (cpu_ns):
 * 1:3 and 1:1:2.  The margin is generous (10 points) and nothing is said
 * about absolute speed.
 *
 * Weights share the poller only while the tenants contend for it, so the
 * poller, not the guest, must be the bottleneck even on a loaded 2-CPU
 * machine: each SQE is a 1 MiB READ from the page cache (tens of
 * microseconds of copying inside io_uring_submit(), charged to the tenant)
 * and costs the guest a few nanoseconds, so one guest thread keeps every
 * 256-entry SQ from running dry while it waits for a CPU.  The share is the
 * median over short slices.
 */
#include "dtest.h"

#define SQ 256
#define BLK (1U << 20)
#define FILE_BLKS 8
#define SLICES 9
#define SLICE_MS 150

struct wt {
	const char *name;
	uint64_t weight;
	struct xio_tenant *t;
	uint32_t pending;
	uint64_t done;
};

static uint64_t cpu_ns_of(struct xio_admin *a, const char *name)
{
	struct xio_tenant_stats st;

	memset(&st, 0, sizeof(st));
	st.sz = sizeof(st);
	CHECK_EQ(xio_admin_stats(a, name, 0, &st, 1, NULL), 1);
	return st.cpu_ns;
}

/* SQ entries, 8 pool slots of BLK bytes. */
static struct xio_tenant *attach_big(const char *sock, const char *name)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t = NULL;

	o.name = name;
	o.params.sq_entries = SQ;
	o.params.nr_bufs = 8;
	o.params.buf_size = BLK;
	CHECK_EQ(xio_client_attach(sock, &o, &t), 0);
	return t;
}

/* Keep @w's SQ full of 1 MiB READs; reap what completed. */
static void pump(struct wt *w)
{
	struct xio_qp *qp = xio_tenant_qp(w->t, 0);
	struct xio_cqe *c;
	struct xio_sqe *s;

	while (xio_peek_cqe(qp, &c) == 0) {
		CHECK_EQ(c->res, BLK);
		xio_cqe_seen(qp, c);
		w->pending--;
		w->done++;
	}
	if (w->pending == SQ)
		return;
	while ((s = xio_get_sqe(qp))) {
		xio_prep_read(s, 0, w->pending % 8, 0, BLK,
			      (w->done + w->pending) % FILE_BLKS * BLK, 0);
		w->pending++;
	}
	xio_submit(qp);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Flood with @n tenants; check each one's median share against its weight. */
static void run(struct xiod *d, struct xio_admin *a, const char *file,
		struct wt *w, int n)
{
	double share[4][SLICES], wsum = 0;
	uint64_t c0[4], c1[4];
	int i, k, tries;

	for (i = 0; i < n; i++) {
		struct xio_quota q = {.sz = sizeof(q),
				      .flags = XIO_QUOTA_WEIGHT,
				      .weight = w[i].weight};

		w[i].t = attach_big(d->sock, w[i].name);
		CHECK_EQ(xio_admin_quota_set(a, w[i].name, &q), 0);
		CHECK_EQ(xio_admin_target_add(a, w[i].name, file,
					      XIO_TARGET_RDONLY),
			 0);
		w[i].pending = 0;
		w[i].done = 0;
		wsum += (double)w[i].weight;
	}
	/* A slice in which the poller got no CPU at all is not counted. */
	for (k = 0, tries = 0; k < SLICES; tries++) {
		uint64_t t0 = dt_now_ms();
		double sum = 0;

		CHECK(tries < 4 * SLICES);
		for (i = 0; i < n; i++)
			c0[i] = cpu_ns_of(a, w[i].name);
		while (dt_now_ms() - t0 < SLICE_MS)
			for (i = 0; i < n; i++)
				pump(&w[i]);
		for (i = 0; i < n; i++) {
			c1[i] = cpu_ns_of(a, w[i].name);
			sum += (double)(c1[i] - c0[i]);
		}
		if (sum <= 0)
			continue;
		for (i = 0; i < n; i++)
			share[i][k] = 100 * (double)(c1[i] - c0[i]) / sum;
		k++;
	}
	for (i = 0; i < n; i++) {
		double want = 100 * (double)w[i].weight / wsum, med;

		qsort(share[i], SLICES, sizeof(double), cmp_double);
		med = share[i][SLICES / 2];
		printf("%s (weight %llu): %llu READs, charged %.1f %% of the poller time (median of %d slices, %.1f..%.1f), weight share %.1f %%\n",
		       w[i].name, (unsigned long long)w[i].weight,
		       (unsigned long long)w[i].done, med, SLICES, share[i][0],
		       share[i][SLICES - 1], want);
		CHECK(med >= want - 10 && med <= want + 10);
	}
	for (i = 0; i < n; i++) {
		struct xio_qp *qp = xio_tenant_qp(w[i].t, 0);
		struct xio_cqe *c;

		while (w[i].pending) {
			CHECK_EQ(xio_wait_cqe(qp, &c, 10000), 0);
			xio_cqe_seen(qp, c);
			w[i].pending--;
		}
		CHECK_EQ(xio_client_detach(w[i].t), 0);
	}
}

int main(void)
{
	struct wt two[2] = {{.name = "w1", .weight = 100},
			    {.name = "w3", .weight = 300}};
	struct wt three[3] = {{.name = "a1", .weight = 50},
			      {.name = "b1", .weight = 50},
			      {.name = "c2", .weight = 100}};
	static char blk[BLK];
	struct xio_admin *a;
	struct xiod d;
	char file[64];
	int fd, i;

	xiod_start(&d, NULL);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	snprintf(file, sizeof(file), "%s/data", d.dir);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	memset(blk, 0x5a, sizeof(blk));
	for (i = 0; i < FILE_BLKS; i++)
		CHECK_EQ(write(fd, blk, BLK), (ssize_t)BLK);
	close(fd);
	run(&d, a, file, two, 2);
	run(&d, a, file, three, 3);
	unlink(file);
	xio_admin_close(a);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
