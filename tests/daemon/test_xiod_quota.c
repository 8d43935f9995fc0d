/* SPDX-License-Identifier: MIT */
/*
 * Quotas (issue 5, docs/accounting.md): a flooding tenant is held near its
 * ops/s and bytes/s limits (generous margins: no timing assertion beyond
 * "about the limit") while a neighbour without quota keeps going; the
 * in-flight cap holds; absurd or negative values are refused with clear
 * errors by the library, xiod and xioctl.
 */
#include "dtest.h"

#include <sys/socket.h>

static void quota(struct xio_admin *a, const char *name, uint32_t flags,
		  uint64_t v, int want)
{
	struct xio_quota q = {.sz = sizeof(q), .flags = flags};

	q.weight = q.ops_rate = q.bytes_rate = q.inflight_cap = v;
	CHECK_EQ(xio_admin_quota_set(a, name, &q), want);
}

static void stats_of(struct xio_admin *a, const char *name,
		     struct xio_tenant_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	CHECK_EQ(xio_admin_stats(a, name, 0, st, 1, NULL), 1);
}

static int xioctl(const struct xiod *d, char *out, size_t n, const char *args)
{
	return dt_xioctl(d, out, n, args, true);
}

/* Keep @qp's SQ full of @op (NOP or WRITE of 4 KiB); reap what completed. */
static uint64_t pump(struct xio_qp *qp, uint8_t op, uint32_t *pending)
{
	struct xio_cqe *c;
	struct xio_sqe *s;
	uint64_t done = 0;

	while (xio_peek_cqe(qp, &c) == 0) {
		CHECK(c->res >= 0);
		xio_cqe_seen(qp, c);
		(*pending)--;
		done++;
	}
	while (*pending < 32 && (s = xio_get_sqe(qp))) {
		if (op == XIO_OP_NOP)
			xio_prep_nop(s, 1);
		else
			xio_prep_write(s, 0, 0, 0, 4096, 0, 1);
		(*pending)++;
	}
	xio_submit(qp);
	return done;
}

/* Flood for @ms; returns the flood's completions; the neighbour's too. */
static uint64_t flood(struct xio_qp *f, uint8_t op, struct xio_qp *n,
		      uint64_t *ndone, uint64_t ms, double *secs)
{
	uint32_t fp = 0, np = 0;
	uint64_t done = 0, t0 = dt_now_ms(), nd = 0;
	struct xio_cqe *c;

	while (dt_now_ms() - t0 < ms) {
		done += pump(f, op, &fp);
		if (n)
			nd += pump(n, XIO_OP_NOP, &np);
	}
	*secs = (double)(dt_now_ms() - t0) / 1000.0;
	/* Drain what is still queued (not counted). */
	while (fp || np) {
		if (xio_wait_cqe(f, &c, 0) == 0) {
			xio_cqe_seen(f, c);
			fp--;
		}
		if (n && xio_wait_cqe(n, &c, 0) == 0) {
			xio_cqe_seen(n, c);
			np--;
		}
	}
	if (ndone)
		*ndone = nd;
	return done;
}

int main(void)
{
	struct xio_tenant_stats st;
	struct xio_tenant *tf, *tn;
	struct xio_admin *a;
	struct xio_quota q;
	struct xiod d;
	char out[4096], path[64];
	uint64_t done, ndone;
	double secs;
	int fd, sv[2], i;

	xiod_start(&d, NULL);
	tf = attach(d.sock, "flood", 64, 8);
	tn = attach(d.sock, "calm", 64, 8);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	stats_of(a, "flood", &st);
	CHECK_EQ(st.weight, XIO_QUOTA_WEIGHT_DEFAULT);
	CHECK_EQ(st.ops_rate, 0);
	CHECK_EQ(st.inflight_cap, st.inflight_slots);
	CHECK(st.inflight_slots >= 8);

	/* Refusals: nothing changes. */
	quota(a, "flood", XIO_QUOTA_WEIGHT, 0, -ERANGE);
	quota(a, "flood", XIO_QUOTA_WEIGHT, XIO_QUOTA_WEIGHT_MAX + 1, -ERANGE);
	quota(a, "flood", XIO_QUOTA_WEIGHT, (uint64_t)-1, -ERANGE);
	quota(a, "flood", XIO_QUOTA_OPS_RATE, XIO_QUOTA_OPS_RATE_MAX + 1,
	      -ERANGE);
	quota(a, "flood", XIO_QUOTA_BYTES_RATE, (uint64_t)-5, -ERANGE);
	quota(a, "flood", XIO_QUOTA_INFLIGHT, 0, -ERANGE);
	quota(a, "flood", XIO_QUOTA_INFLIGHT, st.inflight_slots + 1, -ERANGE);
	quota(a, "flood", XIO_QUOTA_INFLIGHT | XIO_QUOTA_WEIGHT, 0, -ERANGE);
	quota(a, "flood", 0, 5, -EINVAL);
	quota(a, "flood", 0x100, 5, -EINVAL);
	quota(a, "nobody", XIO_QUOTA_WEIGHT, 5, -ENOENT);
	memset(&q, 0, sizeof(q));
	q.sz = 8;
	q.flags = XIO_QUOTA_WEIGHT;
	CHECK_EQ(xio_admin_quota_set(a, "flood", &q), -EINVAL);
	stats_of(a, "flood", &st);
	CHECK_EQ(st.weight, XIO_QUOTA_WEIGHT_DEFAULT);
	CHECK_EQ(st.inflight_cap, st.inflight_slots);

	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota flood --weight -5"), 2);
	CHECK(strstr(out, "--weight"));
	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota flood --weight 0"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota flood --ops-rate abc"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota flood --ops-rate 1e99"),
		 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out),
			"quota flood --bytes-rate 99999999999999999999"),
		 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota flood --inflight 99999"),
		 1);
	CHECK(strstr(out, "in-flight slots"));
	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota nobody --weight 5"), 1);
	CHECK(strstr(out, "no such tenant"));
	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "quota flood"), 0);
	CHECK(strstr(out, "weight 100"));

	/* ops/s: the flood is held near 2000/s, the neighbour unaffected. */
	CHECK_EQ(xioctl(&d, out, sizeof(out),
			"quota flood --ops-rate 2000 --weight 50"),
		 0);
	CHECK(strstr(out, "ops-rate 2000/s"));
	CHECK(strstr(out, "weight 50"));
	done = flood(xio_tenant_qp(tf, 0), XIO_OP_NOP, xio_tenant_qp(tn, 0),
		     &ndone, 1000, &secs);
	printf("ops-rate 2000/s: flood %.0f ops/s, neighbour %.0f ops/s\n",
	       (double)done / secs, (double)ndone / secs);
	CHECK((double)done <= 2000 * secs * 1.25 + 100 + 64);
	CHECK((double)done >= 2000 * secs * 0.5);
	CHECK(ndone > done); /* no quota: not held */
	stats_of(a, "flood", &st);
	CHECK(st.throttled > 0);
	quota(a, "flood", XIO_QUOTA_OPS_RATE, 0, 0);

	/* bytes/s: 4 KiB writes held near 1 MiB/s. */
	dt_scratch_path(&d, path, sizeof(path), "disk");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 4096), 0);
	CHECK_EQ(xio_admin_target_add(a, "flood", path, 0), 0);
	quota(a, "flood", XIO_QUOTA_BYTES_RATE, 1 << 20, 0);
	done = flood(xio_tenant_qp(tf, 0), XIO_OP_WRITE, NULL, NULL, 1000,
		     &secs);
	printf("bytes-rate 1 MiB/s: flood %.0f KiB/s\n",
	       (double)done * 4 / secs);
	CHECK((double)done * 4096 <=
	      (1 << 20) * secs * 1.25 + (1 << 20) / 20 + 64 * 4096);
	CHECK((double)done * 4096 >= (1 << 20) * secs * 0.5);
	quota(a, "flood", XIO_QUOTA_BYTES_RATE, 0, 0);

	/* In-flight cap: 8 RECVs with nothing to read, 2 reach io_uring. */
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(xio_admin_target_add_fd(a, "flood", sv[0], 0, "sock"), 1);
	quota(a, "flood", XIO_QUOTA_INFLIGHT, 2, 0);
	for (i = 0; i < 8; i++)
		xio_prep_rw(xio_get_sqe(xio_tenant_qp(tf, 0)), XIO_OP_RECV, 1,
			    (uint32_t)i, 0, 16, 0, (uint64_t)i);
	CHECK_EQ(xio_submit(xio_tenant_qp(tf, 0)), 8);
	usleep(200000);
	stats_of(a, "flood", &st);
	CHECK_EQ(st.inflight, 2);
	CHECK_EQ(st.inflight_cap, 2);
	CHECK(st.inflight_max >= 2);
	CHECK_EQ(shutdown(sv[1], SHUT_WR), 0); /* every RECV returns 0 */
	for (i = 0; i < 8; i++)
		CHECK_EQ(wait_one(xio_tenant_qp(tf, 0)).res, 0);
	stats_of(a, "flood", &st);
	CHECK_EQ(st.inflight, 0);

	CHECK_EQ(xio_client_detach(tf), 0);
	CHECK_EQ(xio_client_detach(tn), 0);
	xio_admin_close(a);
	close(fd);
	close(sv[0]);
	close(sv[1]);
	unlink(path);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
