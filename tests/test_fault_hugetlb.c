/* SPDX-License-Identifier: MIT */
/*
 * Fault injection in region creation with XIO_REGION_HUGETLB (needs
 * -DXIO_FAULT_INJECT=ON; SKIP otherwise).  A memfd/ftruncate/mmap fault
 * injected into the hugetlb attempt is absorbed by the fallback to 4 KiB
 * pages: the region is made and the fault counted as retried at its site.
 * The same fault with XIO_REGION_HUGETLB_STRICT, or in the fallback itself,
 * fails the creation with the injected errno.  Each case runs in a child
 * with its own XIO_FAULTS (read once per process), and a random run checks
 *
 *   injected == failed creations + retried (absorbed), exactly, per site
 *
 * and that the process is back to its fd count after every region went.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_proc.h"

#ifndef XIO_FAULT_INJECT
int main(void)
{
	SKIP("built without -DXIO_FAULT_INJECT=ON");
}
#else
#include "fault.h"

static const enum xio_fault_site setup_sites[] = {
	XIO_FAULT_MEMFD, XIO_FAULT_FTRUNCATE, XIO_FAULT_MMAP};

static int quiet(enum xio_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

static int create(uint32_t flags, struct xio_region **r)
{
	struct xio_region_opts o = {.sz = sizeof(o)};

	o.params.sq_entries = 64;
	o.params.nr_bufs = 16;
	o.params.buf_size = 4096;
	o.flags = flags;
	o.name = "fault-hugetlb";
	return xio_region_create(&o, r);
}

static void stats(enum xio_fault_site s, uint64_t *inj, uint64_t *ret)
{
	xio__fault_stats(s, inj, ret);
}

/* One injection at @site in a creation with @flags: @absorbed or failed. */
static void one(const char *spec, enum xio_fault_site site, uint32_t flags,
		bool absorbed)
{
	struct xio_region *r = NULL;
	uint64_t inj, ret;
	int err;

	setenv("XIO_FAULTS", spec, 1);
	err = create(flags, &r);
	stats(site, &inj, &ret);
	CHECK_EQ(inj, 1);
	if (absorbed) {
		CHECK_EQ(err, 0);
		CHECK(!xio_region_is_hugetlb(r));
		CHECK_EQ(ret, 1);
		xio_region_destroy(r);
	} else {
		CHECK(err == -ENOMEM || err == -EMFILE || err == -ENOSPC);
		CHECK_EQ(ret, 0);
	}
}

/* Many creations, half of them asking for huge pages, at random faults. */
static void random_run(void)
{
	uint64_t inj = 0, ret = 0, i1, r1;
	unsigned int i, n = 400, failed = 0, made = 0;
	int fds = proc_fd_count(getpid()), err;
	size_t k;

	setenv("XIO_FAULTS", "memfd=0.15,ftruncate=0.15,mmap=0.15,seed=8", 1);
	for (i = 0; i < n; i++) {
		struct xio_region *r = NULL;

		err = create(i & 1 ? XIO_REGION_HUGETLB : 0, &r);
		if (err) {
			CHECK(err == -ENOMEM || err == -EMFILE ||
			      err == -ENOSPC);
			failed++;
			continue;
		}
		made++;
		xio_region_destroy(r);
	}
	for (k = 0; k < sizeof(setup_sites) / sizeof(setup_sites[0]); k++) {
		stats(setup_sites[k], &i1, &r1);
		inj += i1;
		ret += r1;
	}
	printf("random: %u regions made, %u refused; injected %llu == refused %u + absorbed %llu\n",
	       made, failed, (unsigned long long)inj, failed,
	       (unsigned long long)ret);
	CHECK(ret > 0 && failed > 0);
	CHECK_EQ(inj, failed + ret);
	CHECK_EQ(proc_fd_count(getpid()), fds);
}

/* Run @fn(...) in a child: XIO_FAULTS is read once per process. */
#define IN_CHILD(call)                                                         \
	do {                                                                   \
		pid_t pid_ = fork();                                           \
		int st_;                                                       \
		CHECK(pid_ >= 0);                                              \
		if (!pid_) {                                                   \
			call;                                                  \
			exit(0);                                               \
		}                                                              \
		CHECK_EQ(waitpid(pid_, &st_, 0), pid_);                        \
		CHECK(WIFEXITED(st_) && WEXITSTATUS(st_) == 0);                \
	} while (0)

/* Free huge pages now (HugePages_Free in /proc/meminfo), -1 unknown. */
static long huge_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

int main(void)
{
	/* test_region_hugetlb reserves huge pages under this lock. */
	int lk = open("/tmp/xio-hugetlb-test.lock",
		      O_RDWR | O_CREAT | O_CLOEXEC, 0666);

	CHECK(lk >= 0 && flock(lk, LOCK_EX) == 0);
	xio_set_print(quiet);
	/* The hugetlb attempt's memfd, ftruncate or mmap: absorbed. */
	IN_CHILD(one("memfd=#1", XIO_FAULT_MEMFD, XIO_REGION_HUGETLB, true));
	IN_CHILD(one("ftruncate=#1", XIO_FAULT_FTRUNCATE, XIO_REGION_HUGETLB,
		     true));
	IN_CHILD(one("mmap=#1", XIO_FAULT_MMAP, XIO_REGION_HUGETLB, true));
	/* Strict: no fallback, the creation fails with it. */
	IN_CHILD(one("memfd=#1", XIO_FAULT_MEMFD, XIO_REGION_HUGETLB_STRICT,
		     false));
	/* The fallback's own memfd (the 2nd call): not absorbed.  Only when
	 * the hugetlb attempt fails by itself (no free huge pages). */
	if (huge_free() == 0)
		IN_CHILD(one("memfd=#2", XIO_FAULT_MEMFD, XIO_REGION_HUGETLB,
			     false));
	else
		printf("free huge pages: the fallback's own fault not tried\n");
	/* Without hugetlb there is nothing to fall back to. */
	IN_CHILD(one("mmap=#1", XIO_FAULT_MMAP, 0, false));
	IN_CHILD(random_run());
	close(lk);
	printf("ok: faults absorbed by the 4 KiB fallback counted as retried\n");
	return 0;
}
#endif
