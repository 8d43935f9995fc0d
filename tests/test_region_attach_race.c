/* SPDX-License-Identifier: MIT */
/*
 * Attach against a peer that rewrites the header while we validate it.  A
 * child process maps the region and keeps storing random values (or the
 * valid ones) into random header fields; the parent attaches over and over,
 * through the fd and through a mapping.  Every attach must either fail with
 * -EINVAL/-EPROTO or produce a layout that is self-consistent and inside the
 * mapping, because the library validates one private copy of the header and
 * never reads the shared one again.  (A separate process, not a thread: the
 * peer is another process in real life, and a sanitizer would rightly call
 * a second thread's plain stores a data race.)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xio/xio.h>

#include "xtest.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ITERS 10000
#else
#define ITERS 20000
#endif

#define HOFF(f) offsetof(struct xio_region_hdr, f)

/* Header fields the child corrupts: offset and width. */
static const struct {
	size_t off, width;
} fields[] = {
	{HOFF(magic), 8},	{HOFF(abi_version), 4}, {HOFF(hdr_size), 4},
	{HOFF(region_size), 8}, {HOFF(features), 4},	{HOFF(nr_qpairs), 4},
	{HOFF(sq_entries), 4},	{HOFF(cq_entries), 4},	{HOFF(sqe_size), 4},
	{HOFF(cqe_size), 4},	{HOFF(buf_size), 4},	{HOFF(nr_bufs), 4},
	{HOFF(qp_off), 8},	{HOFF(qp_stride), 8},	{HOFF(sq_ctrl_off), 8},
	{HOFF(sqes_off), 8},	{HOFF(cq_ctrl_off), 8}, {HOFF(cqes_off), 8},
	{HOFF(pool_off), 8},	{HOFF(pool_size), 8},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64 */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void store(volatile unsigned char *h, size_t off, size_t width,
		  uint64_t v)
{
	if (width == 4)
		*(volatile uint32_t *)(h + off) = (uint32_t)v;
	else
		*(volatile uint64_t *)(h + off) = v;
}

static uint64_t load(const unsigned char *h, size_t off, size_t width)
{
	uint32_t v32;
	uint64_t v;

	if (width == 4) {
		memcpy(&v32, h + off, 4);
		return v32;
	}
	memcpy(&v, h + off, 8);
	return v;
}

/*
 * Corrupt one field at a time (random, or off by one from the valid value),
 * then put the valid value back, so that attaches race with every kind of
 * change and some still find a valid header.
 */
static void hostile_child(unsigned char *h, const unsigned char *good)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();

	for (;;) {
		uint64_t r = rnd(&s);
		size_t i = r % NFIELDS, off = fields[i].off;
		size_t w = fields[i].width;
		uint64_t v = load(good, off, w);
		int spin;

		if ((r >> 8) & 1)
			v = rnd(&s);
		else
			v += ((r >> 16) & 1) ? 1 : (uint64_t)-1;
		store(h, off, w, v);
		for (spin = (int)((r >> 20) % 64); spin > 0; spin--)
			__asm__ __volatile__("" ::: "memory");
		store(h, off, w, load(good, off, w));
	}
}

/* An attached region is consistent and inside its mapping. */
static void check_attached(struct xio_region *a)
{
	const struct xio_layout *l = xio_region_layout(a);
	struct xio_params p = {
		.nr_qpairs = l->nr_qpairs,
		.sq_entries = l->sq_entries,
		.cq_entries = l->cq_entries,
		.buf_size = l->buf_size,
		.nr_bufs = l->nr_bufs,
	};
	struct xio_layout again;
	char *base = xio_region_base(a), *end = base + xio_region_size(a);
	uint32_t q;

	CHECK_EQ(xio_layout_compute(&p, &again), 0);
	CHECK(!memcmp(&again, l, sizeof(again)));
	CHECK(l->min_region_size <= xio_region_size(a));
	for (q = 0; q < l->nr_qpairs; q++) {
		struct xio_host_qp *hq = xio_region_host_qp(a, q);
		struct xio_qp *qp = xio_region_qp(a, q);
		struct xio_sqe in[4];
		int n;

		CHECK(hq && qp);
		CHECK((char *)qp->sqes >= base);
		CHECK((char *)(qp->sqes + qp->sq_entries) <= end);
		CHECK((char *)(qp->cqes + qp->cq_mask + 1) <= end);
		n = xio_host_sq_take(hq, in, 4);
		CHECK(n == 0 || n == -EPROTO);
	}
	CHECK(!xio_region_qp(a, l->nr_qpairs));
	if (l->nr_bufs) {
		char *b = xio_host_buf(a, l->nr_bufs - 1, 0, l->buf_size);

		CHECK(b && b >= base && b + l->buf_size <= end);
	}
}

int main(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r, *a;
	unsigned char *good, *map;
	unsigned long ok = 0, einval = 0, eproto = 0;
	size_t size;
	pid_t pid;
	int fd, i, st;

	xio_set_print(NULL); /* thousands of expected warnings */
	o.params.nr_qpairs = 2;
	o.params.sq_entries = 16;
	o.params.buf_size = 512;
	o.params.nr_bufs = 8;
	CHECK_EQ(xio_region_create(&o, &r), 0);
	fd = xio_region_fd(r);
	size = xio_region_size(r);
	good = malloc(XIO_REGION_HDR_SIZE);
	CHECK(good);
	memcpy(good, xio_region_base(r), XIO_REGION_HDR_SIZE);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* Never outlive the parent, whatever way it exits. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
			_exit(1);
		hostile_child(map, good);
		_exit(0);
	}

	for (i = 0; i < ITERS; i++) {
		int rc;

		a = NULL;
		if (i & 1)
			rc = xio_region_attach_mem(map, size, 0, &a);
		else
			rc = xio_region_attach_fd(fd, 0, &a);
		if (rc == 0) {
			CHECK(a);
			check_attached(a);
			xio_region_destroy(a);
			ok++;
		} else if (rc == -EINVAL) {
			CHECK(!a);
			einval++;
		} else if (rc == -EPROTO) {
			CHECK(!a);
			eproto++;
		} else {
			fprintf(stderr, "FAIL: attach returned %d\n", rc);
			kill(pid, SIGKILL);
			exit(1);
		}
	}
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* With the peer gone and the header restored, attach works again. */
	memcpy(map, good, XIO_REGION_HDR_SIZE);
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a), 0);
	check_attached(a);
	xio_region_destroy(a);

	printf("%d attaches under a hostile peer: %lu ok, %lu -EINVAL, %lu -EPROTO\n",
	       ITERS, ok, einval, eproto);
	munmap(map, size);
	free(good);
	xio_region_destroy(r);
	printf("ok\n");
	return 0;
}
