/* SPDX-License-Identifier: MIT */
/*
 * Tenants for VMs: an administrator attaches a tenant with
 * XIO_CLIENT_PERSIST | XIO_CLIENT_NO_DOORBELL, takes its sealed memfd and
 * closes its own side; the tenant lives on.  A separate "guest" process
 * (standing in for QEMU + the VM: it maps the memfd, as an ivshmem BAR
 * would be mapped, and has no doorbell) is served with pauses that let the
 * poller fall asleep: with no doorbell it must come back by itself.  The
 * seals hold for the guest (no ftruncate).  xio_admin_tenant_detach() ends
 * the tenant; a guest user may not ask for PERSIST.
 */
#include "dtest.h"

static int guest_main(int region_fd, int rounds)
{
	struct xio_region *r;
	struct xio_qp *qp;
	int i;

	/* Only the memfd: no control socket, no eventfds. */
	CHECK_EQ(xio_region_attach_fd(region_fd, XIO_ATTACH_REQUIRE_SEALS, &r),
		 0);
	CHECK(ftruncate(region_fd, 4096) < 0); /* sealed */
	qp = xio_region_qp(r, 0);
	for (i = 0; i < rounds; i++) {
		struct xio_cqe *c;
		uint64_t deadline;

		usleep(3000); /* > --idle-us: the poller sleeps meanwhile */
		xio_prep_nop(xio_get_sqe(qp), (uint64_t)i);
		CHECK(xio_submit(qp) >= 0);
		deadline = dt_now_ms() + 10000;
		while (xio_peek_cqe(qp, &c)) {
			CHECK(dt_now_ms() < deadline);
			xio_cpu_relax();
		}
		CHECK_EQ(c->user_data, i);
		xio_cqe_seen(qp, c);
	}
	/* It saw NEED_WAKEUP (the poller slept) but had no doorbell to ring:
	 * the poller came back on its own (timed sleeps). */
	xio_region_destroy(r);
	return 0;
}

int main(void)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant_info ti[2];
	struct xio_tenant *t;
	struct xio_admin *a;
	struct xiod d;
	int base, fd, st, n = SCALE(100);
	pid_t pid;

	xiod_start(&d, "--idle-us", "500", NULL);
	base = fd_count(d.pid);
	o.name = "vm-guest";
	o.params.sq_entries = 16;
	o.params.nr_bufs = 4;
	o.flags = XIO_CLIENT_PERSIST | XIO_CLIENT_NO_DOORBELL;
	CHECK_EQ(xio_client_attach(d.sock, &o, &t), 0);
	fd = dup(xio_tenant_region_fd(t));
	CHECK(fd >= 0);
	xio_client_close(t); /* our side only: the tenant persists */

	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK_EQ(xio_admin_tenants(a, ti, 2, NULL), 1);
	CHECK(!strcmp(ti[0].name, "vm-guest"));
	CHECK_EQ(ti[0].attach_flags,
		 XIO_CLIENT_PERSIST | XIO_CLIENT_NO_DOORBELL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(guest_main(fd, n));
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	CHECK_EQ(xio_admin_tenants(a, ti, 2, NULL), 1);
	CHECK_EQ(ti[0].completed, n);
	CHECK_EQ(ti[0].parks, 0);
	CHECK(ti[0].poller_sleeps > 0);
	CHECK_EQ(xio_admin_tenant_detach(a, "vm-guest"), 0);
	CHECK_EQ(xio_admin_tenants(a, ti, 2, NULL), 0);
	xio_admin_close(a);
	wait_fd_count(d.pid, base);

	/* Guests may not make a tenant outlive them. */
	if (geteuid() == 0) {
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			struct xio_tenant *g = NULL;

			CHECK_EQ(setgid(65534), 0);
			CHECK_EQ(setuid(65534), 0);
			o.name = "sneaky";
			o.flags = XIO_CLIENT_PERSIST;
			CHECK_EQ(xio_client_attach(d.sock, &o, &g), -EPERM);
			o.flags = XIO_CLIENT_NO_DOORBELL; /* that one is fine */
			CHECK_EQ(xio_client_attach(d.sock, &o, &g), 0);
			CHECK_EQ(xio_client_detach(g), 0);
			_exit(0);
		}
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
