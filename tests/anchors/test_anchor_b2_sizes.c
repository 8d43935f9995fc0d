/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor B2: size and count fields of control messages that
 * overflow, truncate to valid values, exceed the maxima or disagree with
 * each other -- ATTACH geometry (nr_qpairs, sq/cq entries, buf_size,
 * nr_bufs whose product is 2^32 or 2^64 and truncates to 0, cq < sq) and
 * VM_TENANT (the same, plus a file size of 2^63, 2^32 + 1 MiB, ...) --
 * must each be refused, and refused before anything is allocated for them.
 * "Before any allocation" is observed from outside: after every request,
 * xiod's VmPeak (its largest address space ever, from /proc/PID/status)
 * has not grown by 1 MiB (64 MiB under a sanitizer) -- for the overflowing
 * requests, a region of the requested size mapped even for a moment would
 * raise it by gigabytes -- and its fd count and /proc/PID/maps line count
 * are at their baseline (maps: + 8 under a sanitizer): no memfd was
 * created, no file left behind.  A valid ATTACH on the same connection
 * still works afterwards, so the refusals are not a hang-up.
 */
#include "daemon/dtest.h"

static long vm_peak_kib(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPeak: %ld kB", &v) == 1)
			break;
	fclose(f);
	CHECK(v > 0);
	return v;
}

struct geo {
	uint32_t nr_qpairs, sq, cq, buf_size, nr_bufs;
	uint64_t size; /* VM_TENANT only */
};

static const struct geo bad[] = {
	{0, 0, 0, 0x10000, 0x10000, 0},		/* pool 2^32: truncates to 0 */
	{0, 0, 0, 0x80000000U, 2, 0},		/* pool 2^32 */
	{0, 0, 0, 0xFFFFFFC0U, 0xFFFFFFFFU, 0}, /* pool ~2^64 */
	{0, 0, 0, 4096, 0x100000U, 0},		/* pool 4 GiB */
	{0, 0x80000000U, 0, 0, 0, 0},		/* SQ 2^31 */
	{0, 0x10000U, 0x10000U, 0, 0, 0},	/* rings beyond the maximum */
	{0, 0xFFFFFFFFU, 0, 0, 0, 0},		/* not a power of two */
	{0, 256, 8, 0, 0, 0},			/* CQ smaller than SQ */
	{0x10000U, 0, 0, 0, 0, 0},		/* 2^16 queue pairs */
	{0xFFFFFFFFU, 0, 0, 0, 0, 0},		/* 2^32 - 1 queue pairs */
	{0x10001U, 8, 16, 4096, 2, 0},		/* 2^16 + 1 (1 if truncated) */
	{0, 0, 0, 0x100000040U & 0xFFFFFFFFU, 2, 0}, /* 64: truncated alias */
};

static void expect_refused(int fd, const void *m, size_t len)
{
	int st;

	CHECK_EQ(raw_send(fd, m, len, NULL, 0), 0);
	st = raw_reply(fd, NULL);
	CHECK(st < 0 && st > -1000);
}

/*
 * A sanitizer's allocator maps memory of its own as it goes: there, allow
 * a few maps lines and 64 MiB of address space (still far below the 4 GiB
 * and more that the overflowing requests describe).
 */
#ifdef XIO_TEST_SANITIZED
#define MAPS_SLACK 8
#define PEAK_SLACK_KIB (64 << 10)
#else
#define MAPS_SLACK 0
#define PEAK_SLACK_KIB 1024
#endif

static void check_nothing(pid_t pid, int fds, int maps, long peak)
{
	wait_fd_count(pid, fds);
	CHECK(maps_count(pid) <= maps + MAPS_SLACK);
	CHECK(vm_peak_kib(pid) - peak < PEAK_SLACK_KIB);
}

int main(void)
{
	struct xio_msg_vm_tenant vm;
	struct xio_msg_attach at;
	int fd, base, maps, n = 0;
	char path[64];
	struct xiod d;
	long peak;

	xiod_start(&d, NULL);
	snprintf(path, sizeof(path), "%s/vm.region", d.dir);
	fd = dt_connect(d.sock);
	CHECK(fd >= 0);
	/* Answered: xiod has accepted this connection. */
	CHECK(xio__admin_tenants_fd(fd, 0, NULL, 0, NULL) >= 0);
	base = fd_count(d.pid);
	maps = maps_count(d.pid);
	peak = vm_peak_kib(d.pid);
	for (int round = 0; round < SCALE(20); round++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			const struct geo *g = &bad[i];

			/* The 64-byte buf_size alias is valid for ATTACH. */
			if (g->buf_size != 64) {
				memset(&at, 0, sizeof(at));
				xio__msg_hdr_init(&at.hdr, XIO_MSG_ATTACH, 1);
				snprintf(at.name, sizeof(at.name), "b2");
				at.numa_node = XIO_ATTACH_NUMA_AUTO;
				at.nr_qpairs = g->nr_qpairs;
				at.sq_entries = g->sq;
				at.cq_entries = g->cq;
				at.buf_size = g->buf_size;
				at.nr_bufs = g->nr_bufs;
				expect_refused(fd, &at, sizeof(at));
				n++;
			}
			memset(&vm, 0, sizeof(vm));
			xio__msg_hdr_init(&vm.hdr, XIO_MSG_VM_TENANT, 2);
			snprintf(vm.name, sizeof(vm.name), "b2vm");
			snprintf(vm.path, sizeof(vm.path), "%s", path);
			vm.numa_node = XIO_ATTACH_NUMA_AUTO;
			vm.size = 1 << 20;
			vm.nr_qpairs = g->nr_qpairs;
			vm.sq_entries = g->sq;
			vm.cq_entries = g->cq;
			vm.buf_size = g->buf_size;
			vm.nr_bufs = g->nr_bufs;
			if (g->buf_size == 64) /* valid geometry, bad size */
				vm.size = (1ULL << 32) + (1 << 20);
			expect_refused(fd, &vm, sizeof(vm));
			n++;
			check_nothing(d.pid, base, maps, peak);
			CHECK(access(path, F_OK) != 0);
		}
		/* File sizes: 2^63, 2^64 - 1, 2^32 + 1 MiB, 1 MiB - 1, 0. */
		{
			static const uint64_t sizes[] = {
				1ULL << 63, ~0ULL, (1ULL << 32) + (1 << 20),
				(1 << 20) - 1, 3ULL << 20};

			for (size_t i = 0; i < 5; i++) {
				memset(&vm, 0, sizeof(vm));
				xio__msg_hdr_init(&vm.hdr, XIO_MSG_VM_TENANT,
						  3);
				snprintf(vm.name, sizeof(vm.name), "b2vm");
				snprintf(vm.path, sizeof(vm.path), "%s", path);
				vm.numa_node = XIO_ATTACH_NUMA_AUTO;
				vm.size = sizes[i];
				expect_refused(fd, &vm, sizeof(vm));
				n++;
				check_nothing(d.pid, base, maps, peak);
				CHECK(access(path, F_OK) != 0);
			}
		}
	}
	/* Still a working connection: a valid ATTACH is accepted. */
	memset(&at, 0, sizeof(at));
	xio__msg_hdr_init(&at.hdr, XIO_MSG_ATTACH, 4);
	snprintf(at.name, sizeof(at.name), "b2ok");
	at.numa_node = XIO_ATTACH_NUMA_AUTO;
	at.sq_entries = 8;
	at.nr_bufs = 2;
	CHECK_EQ(raw_send(fd, &at, sizeof(at), NULL, 0), 0);
	CHECK_EQ(raw_reply(fd, NULL), 0);
	printf("%d oversized/overflowing requests refused; VmPeak %ld -> %ld "
	       "KiB\n",
	       n, peak, vm_peak_kib(d.pid));
	close(fd);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
