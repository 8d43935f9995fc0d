/* SPDX-License-Identifier: MIT */
/*
 * Tenant lifecycle: 100 attach/use/detach cycles (with targets) leave
 * xiod's fd count at its baseline; tenant processes killed with I/O in
 * flight (RECVs that can only end by cancellation, file WRITEs) are torn
 * down completely while another tenant keeps working.
 */
#include "dtest.h"

#include <sys/socket.h>

static void cycle(const char *sock, struct xio_admin *a, const char *path,
		  int i)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t;
	struct xio_sqe *s;
	char name[32];
	int idx;

	snprintf(name, sizeof(name), "cycle-%d", i);
	o.name = name;
	o.params.nr_qpairs = 1 + (uint32_t)(i % 3);
	o.params.sq_entries = 8;
	o.params.nr_bufs = 4;
	CHECK_EQ(xio_client_attach(sock, &o, &t), 0);
	idx = xio_admin_target_add(a, name, path, 0);
	CHECK_EQ(idx, 0);
	nop_roundtrip(xio_tenant_qp(t, 0), 1);
	s = xio_get_sqe(xio_tenant_qp(t, 0));
	xio_prep_read(s, 0, 0, 0, 512, 0, 2);
	CHECK_EQ(xio_submit(xio_tenant_qp(t, 0)), 1);
	CHECK_EQ(wait_one(xio_tenant_qp(t, 0)).res, 512);
	if (i % 2)
		CHECK_EQ(xio_client_detach(t), 0);
	else
	/* Detach with a request still queued: answered or dropped
		 * with the tenant, never leaked. */
	{
		s = xio_get_sqe(xio_tenant_qp(t, 0));
		xio_prep_nop(s, 3);
		xio_submit(xio_tenant_qp(t, 0));
		CHECK_EQ(xio_client_detach(t), 0);
	}
}

/* Child: attach, put I/O in flight, report, wait to be killed. */
static void victim(const char *sock, const char *name, int ready_fd)
{
	struct xio_tenant_info ti;
	struct xio_tenant *t;
	struct xio_qp *qp;
	char c = 'r';
	int i;

	t = attach(sock, name, 64, 64);
	qp = xio_tenant_qp(t, 0);
	CHECK_EQ(write(ready_fd, &c, 1), 1); /* attached */
	CHECK_EQ(read(ready_fd, &c, 1), 1);  /* targets added */
	for (i = 0; i < 8; i++)
		xio_prep_rw(xio_get_sqe(qp), XIO_OP_RECV, 0, (uint32_t)i, 0, 64,
			    0, (uint64_t)i);
	for (i = 8; i < 40; i++)
		xio_prep_write(xio_get_sqe(qp), 1, (uint32_t)i, 0, 4096,
			       (uint64_t)i * 4096, (uint64_t)i);
	CHECK_EQ(xio_submit(qp), 40);
	do {
		info(t, &ti);
	} while (ti.taken < 40);
	CHECK(ti.inflight >= 8);
	CHECK_EQ(write(ready_fd, &c, 1), 1); /* in flight */
	for (;;)
		pause();
}

int main(void)
{
	struct xio_tenant_info ti[4];
	struct xio_tenant *good;
	struct xio_admin *a;
	char path[64];
	struct xiod d;
	int base, i, fd, maps;
	long rss;

	xiod_start(&d, "--idle-us", "100", NULL);
	base = fd_count(d.pid);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	snprintf(path, sizeof(path), "%s/disk.img", d.dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 1 << 20), 0);
	close(fd);
	/* +1: the admin connection. */
	wait_fd_count(d.pid, base + 1);

	for (i = 0; i < 10; i++)
		cycle(d.sock, a, path, i);
	wait_fd_count(d.pid, base + 1);
	/* Warmed up (allocator arenas exist): mappings must not grow. */
	maps = maps_count(d.pid);
	rss = rss_kib(d.pid);
	for (; i < 100; i++)
		cycle(d.sock, a, path, i);
	wait_fd_count(d.pid, base + 1);
	/* 90 leaked regions would be 90 lines; allow allocator noise. */
	CHECK(maps_count(d.pid) <= maps + DT_MAPS_SLACK);
	/* Each cycle's region is >= 20 KiB populated: 90 leaks > 1.8 MiB. */
	printf("xiod RSS %ld KiB after 10 cycles, %ld KiB after 100\n", rss,
	       rss_kib(d.pid));
#ifndef XIO_TEST_SANITIZED
	/* Sanitizer runtimes keep freed memory (quarantine, shadow). */
	CHECK(rss_kib(d.pid) <= rss + 1024);
#endif
	CHECK_EQ(xio_admin_tenants(a, ti, 4, NULL), 0);

	good = attach(d.sock, "bystander", 16, 4);
	nop_roundtrip(xio_tenant_qp(good, 0), 1);
	base = fd_count(d.pid);
	for (i = 0; i < SCALE(20); i++) {
		char name[32], c;
		int sp[2], sv[2], st;
		pid_t pid;

		snprintf(name, sizeof(name), "victim-%d", i);
		CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
		CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(sp[0]);
			victim(d.sock, name, sp[1]);
			_exit(1);
		}
		close(sp[1]);
		CHECK_EQ(read(sp[0], &c, 1), 1);
		CHECK_EQ(xio_admin_target_add_fd(a, name, sv[0], 0, "recv"), 0);
		CHECK_EQ(xio_admin_target_add(a, name, path, 0), 1);
		close(sv[0]);
		CHECK_EQ(write(sp[0], &c, 1), 1);
		CHECK_EQ(read(sp[0], &c, 1), 1);
		nop_roundtrip(xio_tenant_qp(good, 0), 100 + (uint64_t)i);
		CHECK_EQ(kill(pid, SIGKILL), 0);
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		close(sp[0]);
		/* The bystander is served while the victim is torn down. */
		for (int j = 0; j < 50; j++)
			nop_roundtrip(xio_tenant_qp(good, 0), (uint64_t)j);
		{
			uint64_t t0 = dt_now_ms();

			wait_fd_count(d.pid, base);
			if (i == 0)
				printf("teardown with I/O in flight: %llu ms\n",
				       (unsigned long long)(dt_now_ms() - t0));
		}
		close(sv[1]);
	}
	CHECK(maps_count(d.pid) <= maps + DT_MAPS_SLACK);
	CHECK_EQ(xio_admin_tenants(a, ti, 4, NULL), 1);
	CHECK(!strcmp(ti[0].name, "bystander"));
	CHECK_EQ(ti[0].inflight, 0);
	CHECK_EQ(xio_client_detach(good), 0);
	xio_admin_close(a);
	unlink(path);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
