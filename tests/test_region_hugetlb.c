/* SPDX-License-Identifier: MIT */
/*
 * Huge pages.  XIO_REGION_HUGETLB without enough free huge pages falls back
 * to 4 KiB pages with an XIO_INFO message and a working region;
 * XIO_REGION_HUGETLB_STRICT fails with -ENOMEM (what mmap() of a hugetlb
 * memfd returns when the pool cannot back it) and a warning.  As root, a
 * couple of huge pages are reserved through /proc/sys/vm/nr_hugepages (the
 * old value is put back at exit) to check a real hugetlb region: huge
 * pages in the mapping, sealed, attachable.
 *
 * The test takes an exclusive lock on /tmp/xio-hugetlb-test.lock so that
 * concurrent runs (plain and sanitizer build directories) do not see each
 * other's reservations.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_print.h"

#define HUGE_SZ (2UL << 20)
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

static long old_nr_hugepages = -1;

/* A value from /proc/meminfo ("HugePages_Free:" ...), or -1. */
static long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key))) {
			v = strtol(line + strlen(key), NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%ld\n", v) > 0;
	ok = (fclose(f) == 0) && ok;
	return ok ? 0 : -1;
}

static void restore_hugepages(void)
{
	if (old_nr_hugepages >= 0) {
		if (write_long(NR_HUGEPAGES, old_nr_hugepages))
			fprintf(stderr,
				"WARNING: could not restore %s to %ld\n",
				NR_HUGEPAGES, old_nr_hugepages);
		old_nr_hugepages = -1;
	}
}

/* Huge pages a new hugetlb mapping could get right now. */
static long hugepages_available(void)
{
	long free_ = meminfo("HugePages_Free:"),
	     rsvd = meminfo("HugePages_Rsvd:");
	long surp = meminfo("HugePages_Surp:");
	long over = read_long("/proc/sys/vm/nr_overcommit_hugepages");
	long avail;

	if (free_ < 0 || rsvd < 0)
		return -1;
	avail = free_ - rsvd;
	if (over > 0 && surp >= 0 && over > surp)
		avail += over - surp;
	return avail < 0 ? 0 : avail;
}

/* A region whose pool needs @pool_huge huge pages (0: a small one). */
static int mk(uint32_t flags, uint32_t pool_huge, struct xio_region **r)
{
	struct xio_region_opts o = {.sz = sizeof(o)};

	o.params.sq_entries = 32;
	if (pool_huge) {
		o.params.buf_size = HUGE_SZ;
		o.params.nr_bufs = pool_huge;
	} else {
		o.params.buf_size = 4096;
		o.params.nr_bufs = 32;
	}
	o.flags = flags;
	o.name = "huge";
	*r = NULL;
	return xio_region_create(&o, r);
}

/* The kernel page size backing @addr, from /proc/self/smaps (kB), or -1. */
static long kernel_page_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t a = (uintptr_t)addr, lo, hi;
	char line[512];
	int in = 0;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "KernelPageSize: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* The region works: a NOP round trip and the pool is writable. */
static void exercise(struct xio_region *r)
{
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_host_qp *hq = xio_region_host_qp(r, 0);
	const struct xio_layout *l = xio_region_layout(r);
	struct xio_sqe in;
	struct xio_cqe *c;
	uint32_t slot;

	CHECK(qp && hq);
	CHECK_EQ(xio_buf_alloc(r, &slot), 0);
	memset(xio_buf_ptr(r, slot), 0x5a, l->buf_size);
	xio_prep_nop(xio_get_sqe(qp), 42);
	CHECK_EQ(xio_submit(qp), 1);
	CHECK_EQ(xio_host_sq_take(hq, &in, 1), 1);
	CHECK_EQ(xio_host_cq_post(hq, in.user_data, 0, 0), 0);
	xio_host_cq_publish(hq);
	CHECK_EQ(xio_peek_cqe(qp, &c), 0);
	CHECK_EQ(c->user_data, 42);
	xio_cqe_seen(qp, c);
	CHECK_EQ(xio_buf_free(r, slot), 0);
}

/* Parts 1 and 2: no huge pages to be had.  Returns 0 if it could not run. */
static int test_fallback(void)
{
	long avail = hugepages_available();
	uint32_t need = 0;
	struct xio_region *r;
	int rc;

	if (avail < 0) {
		printf("note: no hugetlb counters in /proc/meminfo: fallback part skipped\n");
		return 0;
	}
	if (avail > 0) {
		/* Ask for more than the host could give. */
		if (avail > 64) {
			printf("note: %ld huge pages available: fallback part skipped\n",
			       avail);
			return 0;
		}
		need = (uint32_t)avail + 1;
	}

	xt_log_clear();
	rc = mk(XIO_REGION_HUGETLB, need, &r);
	CHECK_EQ(rc, 0);
	CHECK(!xio_region_is_hugetlb(r));
	CHECK_EQ(xt_nr_warn, 0);
	CHECK(xt_nr_info >= 1);
	if (!xt_log_has("falling back")) {
		fprintf(stderr, "FAIL: fallback message missing: '%s'\n",
			xt_log);
		exit(1);
	}
	printf("fallback message: %s", xt_log);
	CHECK_EQ(xio_region_size(r) % XIO_PAGE_SIZE, 0);
	CHECK_EQ(kernel_page_kb(xio_region_base(r)), 4);
	CHECK_EQ(fcntl(xio_region_fd(r), F_GET_SEALS) & SEALS, SEALS);
	exercise(r);
	xio_region_destroy(r);

	xt_log_clear();
	rc = mk(XIO_REGION_HUGETLB_STRICT, need, &r);
	CHECK_EQ(rc, -ENOMEM);
	CHECK(!r);
	CHECK(xt_nr_warn >= 1);
	CHECK(xt_log_has("nr_hugepages"));
	/* STRICT wins over HUGETLB when both are given. */
	rc = mk(XIO_REGION_HUGETLB | XIO_REGION_HUGETLB_STRICT, need, &r);
	CHECK_EQ(rc, -ENOMEM);
	CHECK(!r);
	/* No fd or mapping leaks across the failures: a plain one works. */
	CHECK_EQ(mk(0, 0, &r), 0);
	xio_region_destroy(r);
	return 1;
}

/* Part 3: a real hugetlb region.  Returns 0 if it could not run. */
static int test_real(void)
{
	struct xio_region *r, *a;
	long cur, avail;
	size_t size;
	int fd;

	avail = hugepages_available();
	if (avail < 2) {
		cur = read_long(NR_HUGEPAGES);
		if (geteuid() != 0 || cur < 0 || access(NR_HUGEPAGES, W_OK)) {
			printf("SKIP (part): cannot reserve huge pages (not root or %s read-only)\n",
			       NR_HUGEPAGES);
			return 0;
		}
		old_nr_hugepages = cur;
		atexit(restore_hugepages);
		if (write_long(NR_HUGEPAGES, cur + 2)) {
			printf("SKIP (part): writing %s failed\n",
			       NR_HUGEPAGES);
			restore_hugepages();
			return 0;
		}
		avail = hugepages_available();
		if (avail < 2) {
			printf("SKIP (part): the kernel found no memory for 2 huge pages\n");
			restore_hugepages();
			return 0;
		}
	}

	xt_log_clear();
	CHECK_EQ(mk(XIO_REGION_HUGETLB_STRICT, 0, &r), 0);
	CHECK(xio_region_is_hugetlb(r));
	CHECK_EQ(xt_nr_warn + xt_nr_info, 0);
	size = xio_region_size(r);
	CHECK(size >= HUGE_SZ);
	CHECK_EQ(size % HUGE_SZ, 0);
	CHECK_EQ(kernel_page_kb(xio_region_base(r)), HUGE_SZ / 1024);
	fd = xio_region_fd(r);
	CHECK_EQ(fcntl(fd, F_GET_SEALS) & SEALS, SEALS);
	errno = 0;
	CHECK_EQ(ftruncate(fd, (off_t)size * 2), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a), 0);
	CHECK(!memcmp(xio_region_layout(a), xio_region_layout(r),
		      sizeof(struct xio_layout)));
	exercise(r);
	/* The pool written through r is seen through a. */
	CHECK_EQ(*(unsigned char *)xio_buf_ptr(a, 0), 0x5a);
	xio_region_destroy(a);
	xio_region_destroy(r);

	/* Non-strict with pages available: huge, silently; NUMA bind too. */
	xt_log_clear();
	CHECK_EQ(mk(XIO_REGION_HUGETLB | XIO_REGION_NUMA_BIND, 0, &r), 0);
	CHECK(xio_region_is_hugetlb(r));
	CHECK_EQ(xt_nr_warn + xt_nr_info, 0);
	exercise(r);
	xio_region_destroy(r);
	printf("real hugetlb region checked\n");
	restore_hugepages();
	return 1;
}

int main(void)
{
	int lock, ran = 0;

	/* Read-only is enough for flock(), and works for any user. */
	lock = open("/tmp/xio-hugetlb-test.lock",
		    O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
	if (lock < 0 || flock(lock, LOCK_EX))
		printf("note: no lock on /tmp/xio-hugetlb-test.lock (%s)\n",
		       strerror(errno));
	xt_capture_start();

	ran += test_fallback();
	ran += test_real();
	if (!ran)
		SKIP("no part of the hugetlb test could run on this host");
	printf("ok\n");
	return 0;
}
