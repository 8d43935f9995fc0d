/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor A1, the target index through xiod: a tenant with two
 * file targets reads from target k (k = 0, 1) fine, and every value that
 * would become k if truncated to 16 or 8 bits -- 0x10000 + k, 0x100 + k,
 * 0xFFFF0000 + k, 0x80000000 + k -- and the first index past the end are
 * answered -EBADF, for READ, WRITE and FSYNC, with nothing read or written
 * (the slot and the file keep their bytes).  The tenant stays healthy.
 */
#include "daemon/dtest.h"

#define LEN 64

static struct xio_cqe submit_wait(struct xio_qp *qp, uint8_t op,
				  uint32_t target, uint64_t ud)
{
	struct xio_sqe *s = xio_get_sqe(qp);
	struct xio_cqe c;

	CHECK(s);
	if (op == XIO_OP_FSYNC)
		xio_prep_fsync(s, target, ud);
	else
		xio_prep_rw(s, op, target, 0, 0, LEN, 0, ud);
	CHECK_EQ(xio_submit(qp), 1);
	c = wait_one(qp);
	CHECK_EQ(c.user_data, ud);
	return c;
}

int main(void)
{
	static const uint32_t alias[] = {0x10000U, 0x100U, 0xFFFF0000U,
					 0x80000000U};
	static const uint8_t ops[] = {XIO_OP_READ, XIO_OP_WRITE, XIO_OP_FSYNC};
	struct xio_tenant_info ti;
	struct xio_tenant *t;
	struct xio_admin *a;
	struct xio_qp *qp;
	char path[2][64], buf[LEN];
	uint64_t ud = 1;
	struct xiod d;
	uint8_t *slot;
	int n = 0;

	xiod_start(&d, NULL);
	t = attach(d.sock, "a1t", 8, 2);
	qp = xio_tenant_qp(t, 0);
	slot = xio_buf_ptr(xio_tenant_region(t), 0);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	for (int k = 0; k < 2; k++) {
		int fd;

		snprintf(path[k], sizeof(path[k]), "%s/t%d", d.dir, k);
		fd = open(path[k], O_RDWR | O_CREAT, 0600);
		CHECK(fd >= 0);
		memset(buf, 'A' + k, LEN);
		CHECK_EQ(write(fd, buf, LEN), LEN);
		close(fd);
		CHECK_EQ(xio_admin_target_add(a, "a1t", path[k], 0), k);
	}
	xio_admin_close(a);
	for (uint32_t k = 0; k < 2; k++) {
		memset(slot, 0, LEN);
		CHECK_EQ(submit_wait(qp, XIO_OP_READ, k, ud++).res, LEN);
		CHECK_EQ(slot[0], 'A' + k);
		memset(slot, 'x', LEN);
		for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
			for (size_t o = 0; o < sizeof(ops); o++) {
				struct xio_cqe c = submit_wait(
					qp, ops[o], alias[i] + k, ud++);

				CHECK_EQ(c.res, -EBADF);
				n++;
			}
		CHECK_EQ(submit_wait(qp, XIO_OP_READ, 2 + k, ud++).res, -EBADF);
		n++;
		for (int b = 0; b < LEN; b++)
			CHECK_EQ(slot[b], 'x');
	}
	for (int k = 0; k < 2; k++) {
		int fd = open(path[k], O_RDONLY);

		CHECK(fd >= 0);
		CHECK_EQ(read(fd, buf, LEN), LEN);
		for (int b = 0; b < LEN; b++)
			CHECK_EQ(buf[b], 'A' + k);
		close(fd);
	}
	info(t, &ti);
	CHECK_EQ(ti.broken, 0);
	CHECK_EQ(ti.invalid, 0); /* valid SQEs: refused by xiod, not libxio */
	nop_roundtrip(qp, 999);
	CHECK_EQ(xio_client_detach(t), 0);
	xiod_stop(&d);
	printf("ok: %d truncating target indices answered -EBADF\n", n);
	return 0;
}
