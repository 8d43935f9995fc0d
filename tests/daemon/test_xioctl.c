/* SPDX-License-Identifier: MIT */
/* xioctl against a private xiod: tenants, target add/list, errors, usage. */
#include "dtest.h"

#include <poll.h>

/* Run xioctl with @args; its stdout into @out; returns the exit status. */
static int xioctl(const struct xiod *d, char *out, size_t n, const char *args)
{
	return dt_xioctl(d, out, n, args, false);
}

int main(void)
{
	struct xio_target_info ti[2];
	struct xio_admin *a;
	struct xio_tenant *t;
	char out[4096], args[256], path[64];
	struct xiod d;
	int fd, base;

	xiod_start(&d, NULL);
	t = attach(d.sock, "vm-one", 8, 4);
	snprintf(path, sizeof(path), "%s/disk", d.dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 8192), 0);
	close(fd);

	CHECK_EQ(xioctl(&d, out, sizeof(out), "tenants"), 0);
	CHECK(strstr(out, "vm-one"));
	CHECK(strstr(out, "running"));

	snprintf(args, sizeof(args), "target add vm-one %s --ro", path);
	CHECK_EQ(xioctl(&d, out, sizeof(out), args), 0);
	CHECK(!strcmp(out, "0\n"));
	snprintf(args, sizeof(args), "target add %u %s", xio_tenant_id(t),
		 path);
	CHECK_EQ(xioctl(&d, out, sizeof(out), args), 0);
	CHECK(!strcmp(out, "1\n"));
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target list vm-one"), 0);
	CHECK(strstr(out, path));
	CHECK(strstr(out, " ro "));
	CHECK(strstr(out, " rw "));
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK_EQ(xio_admin_target_list(a, "vm-one", ti, 2, NULL), 2);
	CHECK_EQ(ti[0].flags, XIO_TARGET_RDONLY);
	xio_admin_close(a);

	/* Refusals: exit 1.  Usage errors: exit 2. */
	snprintf(args, sizeof(args), "target add nobody %s", path);
	CHECK_EQ(xioctl(&d, out, sizeof(out), args), 1);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target add vm-one /no/such"), 1);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target list nobody"), 1);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target add vm-one"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target add a b c"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "frobnicate"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "tenants extra"), 2);

	CHECK_EQ(xio_client_detach(t), 0);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "tenants"), 0);
	CHECK(!strstr(out, "vm-one"));

	/* Forced detach with a RECV in flight: the guest sees a hang-up. */
	{
		struct pollfd pfd;
		int sv[2];

		base = fd_count(d.pid);
		t = attach(d.sock, "vm-two", 8, 4);
		CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
		CHECK_EQ(xio_admin_open(d.sock, &a), 0);
		CHECK_EQ(xio_admin_target_add_fd(a, "vm-two", sv[0], 0, NULL),
			 0);
		xio_admin_close(a);
		xio_prep_rw(xio_get_sqe(xio_tenant_qp(t, 0)), XIO_OP_RECV, 0, 0,
			    0, 16, 0, 1);
		CHECK_EQ(xio_submit(xio_tenant_qp(t, 0)), 1);
		CHECK_EQ(xioctl(&d, out, sizeof(out), "tenant detach vm-two"),
			 0);
		CHECK_EQ(xioctl(&d, out, sizeof(out), "tenant detach vm-two"),
			 1);
		pfd.fd = xio_tenant_sock(t);
		pfd.events = POLLIN;
		CHECK_EQ(poll(&pfd, 1, 10000), 1);
		CHECK(xio_client_detach(t) < 0); /* the daemon hung up */
		close(sv[0]);
		close(sv[1]);
		wait_fd_count(d.pid, base);
		CHECK_EQ(xioctl(&d, out, sizeof(out), "tenants"), 0);
		CHECK(!strstr(out, "vm-two"));
	}
	unlink(path);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
