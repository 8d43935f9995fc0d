/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor C2, the legacy SIGBUS guard path at scale: a
 * file-backed VM tenant (XIO_MSG_VM_TENANT: the one kind of region a peer
 * can truncate, since QEMU's user owns the file) is served, then its file
 * is truncated to 0 under xiod, over and over: 1000 times (100 under a
 * sanitizer; the anchor's 1e4 would take minutes here).  Each truncation
 * must become an error of that tenant alone -- it is quarantined and
 * removed, its file unlinked -- while xiod keeps running, its fd count
 * returns exactly to the baseline, and a second, ordinary tenant completes
 * NOPs between every two truncations.  (The sealed memfd half of C2 --
 * ftruncate fails with EPERM, a punched hole reads zeros -- is
 * test_region_seal.)
 */
#include "daemon/dtest.h"

#ifdef XIO_TEST_SANITIZED
#define ROUNDS 100
#else
#define ROUNDS 1000
#endif

static int listed(struct xio_admin *a, const char *name)
{
	struct xio_tenant_info ti[8];
	int n = xio_admin_tenants(a, ti, 8, NULL);

	CHECK(n >= 0);
	for (int i = 0; i < n; i++)
		if (!strcmp(ti[i].name, name))
			return 1;
	return 0;
}

int main(void)
{
	struct xio_vm_tenant_opts o;
	struct xio_tenant *other;
	struct xio_admin *a;
	struct xiod d;
	char path[64];
	int base;

	xiod_start(&d, NULL);
	other = attach(d.sock, "other", 8, 2);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK(!listed(a, "vm"));
	base = fd_count(d.pid);
	snprintf(path, sizeof(path), "%s/vm.region", d.dir);
	memset(&o, 0, sizeof(o));
	o.name = "vm";
	o.path = path;
	o.size = 1 << 20;
	o.nr_qpairs = 1;
	o.sq_entries = 8;
	o.cq_entries = 8;
	o.buf_size = 4096;
	o.nr_bufs = 4;
	o.numa_node = -1;
	o.uid = geteuid();
	o.gid = getegid();
	o.mode = 0600;
	for (int round = 0; round < ROUNDS; round++) {
		struct xio_region *r = NULL;
		uint64_t deadline;
		int fd;

		CHECK(xio_admin_vm_tenant(a, &o) > 0);
		fd = open(path, O_RDWR | O_CLOEXEC);
		CHECK(fd >= 0);
		CHECK_EQ(xio_region_attach_fd(fd, 0, &r), 0);
		nop_roundtrip(xio_region_qp(r, 0), (uint64_t)round);
		xio_region_destroy(r); /* we would fault too */
		CHECK_EQ(ftruncate(fd, 0), 0);
		close(fd);
		deadline = dt_now_ms() + 10000;
		while (listed(a, "vm")) {
			CHECK(dt_now_ms() < deadline);
			usleep(200);
		}
		CHECK_EQ(kill(d.pid, 0), 0);
		CHECK(access(path, F_OK) < 0); /* unlinked by xiod */
		nop_roundtrip(xio_tenant_qp(other, 0), (uint64_t)round);
		wait_fd_count(d.pid, base);
	}
	printf("%d truncations under xiod: each one quarantined its tenant, "
	       "xiod alive, fds at baseline\n",
	       ROUNDS);
	xio_admin_close(a);
	CHECK_EQ(xio_client_detach(other), 0);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
