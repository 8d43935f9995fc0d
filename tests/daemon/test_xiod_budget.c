/* SPDX-License-Identifier: MIT */
/*
 * Per-visit budget (reliability anchor E2): a tenant that floods its SQ is
 * served at most --budget-entries SQEs per queue pair per visit and at most
 * --budget-bytes plus one request per visit, as recorded by xiod; another
 * tenant on the same poller keeps completing requests meanwhile.  Also the
 * per-user tenant cap for guests (--max-guest-tenants).
 */
#include "dtest.h"

#define BUDGET_ENTRIES 8
#define BUDGET_BYTES 16384
#define SLOT 4096

int main(void)
{
	struct xio_tenant_info ti;
	struct xio_tenant *flood, *good;
	struct xio_qp *fq, *gq;
	struct xio_admin *a;
	char path[64];
	struct xiod d;
	int fd, round, i;

	xiod_start(&d, "--budget-entries", "8", "--budget-bytes", "16384",
		   "--max-guest-tenants", "1", NULL);
	flood = attach(d.sock, "flood", 256, 64);
	good = attach(d.sock, "good", 8, 4);
	fq = xio_tenant_qp(flood, 0);
	gq = xio_tenant_qp(good, 0);
	snprintf(path, sizeof(path), "%s/disk", d.dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 64 * SLOT), 0);
	close(fd);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK_EQ(xio_admin_target_add(a, "flood", path, 0), 0);
	xio_admin_close(a);

	for (round = 0; round < SCALE(50); round++) {
		/* 256 NOPs at once, then 64 slot-sized READs at once. */
		for (i = 0; i < 256; i++)
			xio_prep_nop(xio_get_sqe(fq), (uint64_t)i);
		CHECK_EQ(xio_submit(fq) >= 0, 1);
		nop_roundtrip(gq, (uint64_t)round);
		for (i = 0; i < 256; i++)
			CHECK_EQ(wait_one(fq).res, 0);
		for (i = 0; i < 64; i++)
			xio_prep_read(xio_get_sqe(fq), 0, (uint32_t)i, 0, SLOT,
				      (uint64_t)i * SLOT, (uint64_t)i);
		CHECK_EQ(xio_submit(fq) >= 0, 1);
		nop_roundtrip(gq, (uint64_t)round);
		for (i = 0; i < 64; i++)
			CHECK_EQ(wait_one(fq).res, SLOT);
	}
	info(flood, &ti);
	printf("largest visit: %llu SQEs, %llu bytes (budget %d, %d)\n",
	       (unsigned long long)ti.max_visit_entries,
	       (unsigned long long)ti.max_visit_bytes, BUDGET_ENTRIES,
	       BUDGET_BYTES);
	CHECK(ti.max_visit_entries >= 1);
	CHECK(ti.max_visit_entries <= BUDGET_ENTRIES);
	CHECK(ti.max_visit_bytes <= BUDGET_BYTES + SLOT);
	CHECK_EQ(ti.completed, (uint64_t)SCALE(50) * 320);

	/* A guest user gets at most --max-guest-tenants (1) tenants. */
	if (geteuid() == 0) {
		pid_t pid = fork();
		int st;

		CHECK(pid >= 0);
		if (pid == 0) {
			struct xio_client_opts o = {.sz = sizeof(o)};
			struct xio_tenant *t1, *t2 = NULL;

			CHECK_EQ(setgid(65534), 0);
			CHECK_EQ(setuid(65534), 0);
			t1 = attach(d.sock, "guest-1", 8, 2);
			o.name = "guest-2";
			CHECK_EQ(xio_client_attach(d.sock, &o, &t2), -EUSERS);
			CHECK_EQ(xio_client_detach(t1), 0);
			t2 = attach(d.sock, "guest-2", 8, 2);
			CHECK_EQ(xio_client_detach(t2), 0);
			_exit(0);
		}
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}

	CHECK_EQ(xio_client_detach(flood), 0);
	CHECK_EQ(xio_client_detach(good), 0);
	unlink(path);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
