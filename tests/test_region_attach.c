/* SPDX-License-Identifier: MIT */
/*
 * Attach validation: every header field corrupted in turn, through both
 * xio_region_attach_fd() and xio_region_attach_mem(), must be refused with
 * the exact errno and a warning naming that field; short files, non-regular
 * fds and bad arguments fail cleanly; a valid second attach shares the
 * queue pairs and the pool with the creator.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_print.h"

#define HOFF(f) offsetof(struct xio_region_hdr, f)
#define HSZ(f) sizeof(((struct xio_region_hdr *)0)->f)

static struct xio_region *src;	 /* the valid region every case starts from */
static const unsigned char *img; /* its bytes */
static size_t img_len;
static unsigned char *buf; /* page-aligned scratch copy */

/* Names of every header field, for checking which one a message names. */
static const char *const fields[] = {
	"magic",     "abi_version", "hdr_size",	  "region_size", "features",
	"nr_qpairs", "sq_entries",  "cq_entries", "sqe_size",	 "cqe_size",
	"buf_size",  "nr_bufs",	    "qp_off",	  "qp_stride",	 "sq_ctrl_off",
	"sqes_off",  "cq_ctrl_off", "cqes_off",	  "pool_off",	 "pool_size",
};

static void set_field(unsigned char *h, size_t off, size_t width, uint64_t v)
{
	if (width == 4) {
		uint32_t v32 = (uint32_t)v;
		memcpy(h + off, &v32, 4);
	} else {
		CHECK_EQ(width, 8);
		memcpy(h + off, &v, 8);
	}
}

static uint64_t get_field(const unsigned char *h, size_t off, size_t width)
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

/* A memfd holding @len bytes of @p. */
static int memfd_with(const void *p, size_t len)
{
	int fd = memfd_create("xio-attach", MFD_CLOEXEC);
	size_t done = 0;

	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)len), 0);
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)p + done, len - done,
				   (off_t)done);
		CHECK(n > 0);
		done += (size_t)n;
	}
	return fd;
}

/*
 * The first line of the captured log must mention @field, and no other
 * header field before it (a message listing every field names none).
 */
static void check_names(const char *what, const char *field)
{
	const char *first = NULL, *nl, *hit;
	size_t i, line_len;

	nl = strchr(xt_log, '\n');
	line_len = nl ? (size_t)(nl - xt_log) : strlen(xt_log);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		hit = memmem(xt_log, line_len, fields[i], strlen(fields[i]));
		if (hit && (!first || hit < first))
			first = hit;
	}
	if (!first || strncmp(first, field, strlen(field))) {
		fprintf(stderr,
			"FAIL %s: first message does not name '%s':\n%s", what,
			field, xt_log);
		exit(1);
	}
}

/*
 * Attach the image in buf (@len bytes, @map_len for the memory attach)
 * through both paths; both must fail with @want and name @field.
 */
static void expect_fail(const char *what, size_t len, int want,
			const char *field)
{
	struct xio_region *a = NULL;
	int fd, rc;

	xt_log_clear();
	rc = xio_region_attach_mem(buf, len, 0, &a);
	if (rc != want) {
		fprintf(stderr, "FAIL %s: attach_mem returned %d, want %d\n%s",
			what, rc, want, xt_log);
		exit(1);
	}
	CHECK(!a);
	CHECK(xt_nr_warn >= 1);
	if (field)
		check_names(what, field);

	fd = memfd_with(buf, len);
	xt_log_clear();
	rc = xio_region_attach_fd(fd, 0, &a);
	if (rc != want) {
		fprintf(stderr, "FAIL %s: attach_fd returned %d, want %d\n%s",
			what, rc, want, xt_log);
		exit(1);
	}
	CHECK(!a);
	CHECK(xt_nr_warn >= 1);
	if (field)
		check_names(what, field);
	close(fd);
}

static void reset(void)
{
	memcpy(buf, img, img_len);
}

struct field_case {
	const char *field;
	size_t off, width;
	uint64_t val;
	int want;
};

#define FC(f, v, e)                                                            \
	{                                                                      \
#f, HOFF(f), HSZ(f), (uint64_t)(v), e                          \
	}

static void test_fields(void)
{
	const struct xio_layout *l = xio_region_layout(src);
	const struct field_case cases[] = {
		FC(magic, 0, -EPROTO),
		FC(magic, XIO_REGION_MAGIC ^ 1, -EPROTO),
		FC(abi_version, XIO_ABI_VERSION + 1, -EPROTO),
		FC(abi_version, 0, -EPROTO),
		FC(hdr_size, XIO_REGION_HDR_SIZE * 2, -EINVAL),
		FC(hdr_size, 184, -EINVAL),
		FC(region_size, img_len + XIO_PAGE_SIZE, -EINVAL), /* > file */
		FC(region_size, 1ULL << 62, -EINVAL),
		FC(region_size, img_len - 1, -EINVAL), /* unaligned */
		FC(region_size, l->min_region_size - XIO_PAGE_SIZE, -EINVAL),
		FC(region_size, 0, -EINVAL),
		FC(features, 1, -EPROTO),
		FC(features, 1U << 31, -EPROTO),
		FC(nr_qpairs, 0, -EINVAL),
		FC(nr_qpairs, XIO_MAX_QPAIRS + 1, -EINVAL),
		FC(nr_qpairs, UINT32_MAX, -EINVAL),
		FC(sq_entries, 0, -EINVAL),
		FC(sq_entries, 15, -EINVAL),
		FC(sq_entries, 24, -EINVAL),
		FC(sq_entries, XIO_MAX_RING_ENTRIES * 2, -EINVAL),
		FC(cq_entries, 0, -EINVAL),
		FC(cq_entries, 8, -EINVAL), /* < sq_entries (16) */
		FC(cq_entries, 33, -EINVAL),
		FC(sqe_size, XIO_SQE_SIZE * 2, -EINVAL),
		FC(sqe_size, 0, -EINVAL),
		FC(cqe_size, XIO_CQE_SIZE * 2, -EINVAL),
		FC(cqe_size, 8, -EINVAL),
		FC(buf_size, 0, -EINVAL),
		FC(buf_size, 100, -EINVAL),
		FC(buf_size, 32, -EINVAL),
		FC(buf_size, XIO_MAX_BUF_SIZE * 2, -EINVAL),
		FC(nr_bufs, 0, -EINVAL),
		FC(nr_bufs, XIO_MAX_BUFS + 1, -EINVAL),
		FC(qp_off, l->qp_off + 64, -EINVAL),
		FC(qp_off, 0, -EINVAL),
		FC(qp_stride, l->qp_stride + XIO_PAGE_SIZE, -EINVAL),
		FC(qp_stride, 0, -EINVAL),
		FC(sq_ctrl_off, 128, -EINVAL),
		FC(sq_ctrl_off, UINT64_MAX, -EINVAL),
		FC(sqes_off, l->sqes_off + 64, -EINVAL),
		FC(sqes_off, 0, -EINVAL),
		FC(cq_ctrl_off, l->cq_ctrl_off - 128, -EINVAL),
		FC(cq_ctrl_off, UINT64_MAX - 4095, -EINVAL),
		FC(cqes_off, l->cqes_off + 16, -EINVAL),
		FC(cqes_off, img_len, -EINVAL),
		FC(pool_off, l->pool_off + XIO_PAGE_SIZE, -EINVAL),
		FC(pool_off, img_len - 64, -EINVAL),
		FC(pool_size, l->pool_size + 64, -EINVAL),
		FC(pool_size, UINT64_MAX, -EINVAL),
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct field_case *c = &cases[i];
		char what[96];

		snprintf(what, sizeof(what), "%s = 0x%llx", c->field,
			 (unsigned long long)c->val);
		reset();
		/* The corruption must actually change the field. */
		CHECK(get_field(buf, c->off, c->width) !=
		      (c->width == 4 ? (uint32_t)c->val : c->val));
		set_field(buf, c->off, c->width, c->val);
		expect_fail(what, img_len, c->want, c->field);
	}

	/*
	 * A different but valid geometry whose stored offsets were not
	 * updated: the first offset that disagrees is named.
	 */
	reset();
	set_field(buf, HOFF(sq_entries), 4, 32);
	expect_fail("sq_entries = 32, stale offsets", img_len, -EINVAL,
		    "cq_ctrl_off");
	reset();
	set_field(buf, HOFF(nr_bufs), 4, l->nr_bufs - 1);
	expect_fail("nr_bufs - 1, stale pool_size", img_len, -EINVAL,
		    "pool_size");
	/* Bytes outside the checked fields (name, reserved) do not matter. */
	reset();
	memset(buf + HOFF(name), 0xff, XIO_REGION_HDR_SIZE - HOFF(name));
	{
		struct xio_region *a = NULL;

		CHECK_EQ(xio_region_attach_mem(buf, img_len, 0, &a), 0);
		/* The name is always NUL-terminated, whatever the peer wrote. */
		CHECK_EQ(strlen(xio_region_name(a)), 63);
		xio_region_destroy(a);
	}
}

static void test_short(void)
{
	struct xio_region *a = NULL;
	int fd;

	reset();
	/* Shorter than the header. */
	expect_fail("100-byte file", 100, -EINVAL, NULL);
	expect_fail("header minus one", XIO_REGION_HDR_SIZE - 1, -EINVAL, NULL);
	fd = memfd_with(buf, 0);
	CHECK_EQ(xio_region_attach_fd(fd, 0, &a), -EINVAL);
	close(fd);
	CHECK_EQ(xio_region_attach_mem(buf, 0, 0, &a), -EINVAL);
	/* Header intact, but the file is shorter than region_size claims. */
	expect_fail("one page short", img_len - XIO_PAGE_SIZE, -EINVAL,
		    "region_size");
	expect_fail("one byte short", img_len - 1, -EINVAL, "region_size");
	expect_fail("header only", XIO_REGION_HDR_SIZE, -EINVAL, "region_size");
	CHECK(!a);

	/* A (sparse) file beyond the largest region size is not mapped. */
	fd = memfd_with(img, img_len);
	CHECK_EQ(ftruncate(fd, (off_t)(XIO_MAX_REGION_SIZE + XIO_PAGE_SIZE)),
		 0);
	xt_log_clear();
	CHECK_EQ(xio_region_attach_fd(fd, 0, &a), -EINVAL);
	CHECK(xt_nr_warn >= 1);
	close(fd);

	/* A file longer than the region is fine (region_size is what counts). */
	memcpy(buf, img, img_len);
	memset(buf + img_len, 0, 2 * XIO_PAGE_SIZE);
	fd = memfd_with(buf, img_len + XIO_PAGE_SIZE + 10);
	CHECK_EQ(xio_region_attach_fd(fd, 0, &a), 0);
	CHECK(xio_region_size(a) >= img_len);
	xio_region_destroy(a);
	close(fd);
}

static void test_bad_fds(void)
{
	struct xio_region *a = NULL;
	int p[2], fd;

	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(xio_region_attach_fd(p[0], 0, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_fd(p[1], 0, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_fd(p[0], XIO_ATTACH_REQUIRE_SEALS, &a),
		 -EPERM);
	close(p[0]);
	close(p[1]);

	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(xio_region_attach_fd(fd, 0, &a), -EINVAL);
	close(fd);

	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(xio_region_attach_fd(fd, 0, &a), -EINVAL);
	close(fd);

	/* Read-only fd of a valid region: the shared mapping is refused. */
	fd = memfd_with(img, img_len);
	{
		char path[64];
		int ro;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ro = open(path, O_RDONLY | O_CLOEXEC);
		CHECK(ro >= 0);
		CHECK_EQ(xio_region_attach_fd(ro, 0, &a), -EACCES);
		close(ro);
	}
	/* Closed and negative fds. */
	close(fd);
	CHECK_EQ(xio_region_attach_fd(fd, 0, &a), -EBADF);
	CHECK_EQ(xio_region_attach_fd(-1, 0, &a), -EINVAL);
	CHECK(!a);
}

static void test_bad_args(void)
{
	struct xio_region *a = NULL;
	int fd = xio_region_fd(src);

	CHECK_EQ(xio_region_attach_fd(fd, 1U << 1, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_fd(fd, ~XIO_ATTACH_FLAGS_MASK, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_fd(fd, 1U << 31, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_fd(fd, 0, NULL), -EINVAL);
	reset();
	CHECK_EQ(xio_region_attach_mem(buf, img_len, 1U << 1, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_mem(buf, img_len, 1U << 31, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_mem(NULL, img_len, 0, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_mem(buf, img_len, 0, NULL), -EINVAL);
	/* Unaligned bases: the header would be fine, the base is not. */
	memmove(buf + 64, buf, img_len - 64);
	CHECK_EQ(xio_region_attach_mem(buf + 64, img_len - 64, 0, &a), -EINVAL);
	CHECK_EQ(xio_region_attach_mem(buf + 1, img_len - 1, 0, &a), -EINVAL);
	CHECK(!a);
}

/*
 * Two views of one region: writes through one are read through the other.
 * Each queue pair @q is used once (a guest view snapshots the indices when
 * the region is attached, so a second guest on the same ring would be a
 * second producer).
 */
static void check_shared(struct xio_region *g, struct xio_region *h, uint32_t q)
{
	const struct xio_layout *l = xio_region_layout(g);
	struct xio_qp *qp = xio_region_qp(g, q);
	struct xio_host_qp *hq = xio_region_host_qp(h, q);
	struct xio_sqe in[4];
	struct xio_cqe *c;
	uint32_t slot;
	char *gp, *hp;

	CHECK(!memcmp(l, xio_region_layout(h), sizeof(*l)));
	CHECK(xio_region_base(g) != xio_region_base(h));
	CHECK(qp && hq);

	/* Pool: guest allocates and writes, host reads and answers. */
	CHECK_EQ(xio_buf_alloc(g, &slot), 0);
	gp = xio_buf_ptr(g, slot);
	hp = xio_host_buf(h, slot, 0, l->buf_size);
	CHECK(gp && hp && gp != hp);
	memset(gp, 0, l->buf_size);
	strcpy(gp, "from the guest");
	CHECK(!strcmp(hp, "from the guest"));
	strcpy(hp + l->buf_size / 2, "from the host");
	CHECK(!strcmp(gp + l->buf_size / 2, "from the host"));

	/* Queue pair q: guest submits, host takes, posts, guest reaps. */
	xio_prep_write(xio_get_sqe(qp), 0, slot, 0, 14, 0, 0x1234);
	xio_prep_nop(xio_get_sqe(qp), 0x5678);
	CHECK_EQ(xio_submit(qp), 2);
	CHECK_EQ(xio_host_sq_take(hq, in, 4), 2);
	CHECK_EQ(in[0].user_data, 0x1234);
	CHECK_EQ(in[0].opcode, XIO_OP_WRITE);
	CHECK_EQ(in[0].buf_index, slot);
	CHECK_EQ(in[1].user_data, 0x5678);
	CHECK_EQ(xio_host_cq_post(hq, in[0].user_data, 14, 0), 0);
	CHECK_EQ(xio_host_cq_post(hq, in[1].user_data, 0, 0), 0);
	xio_host_cq_publish(hq);
	CHECK_EQ(xio_peek_cqe(qp, &c), 0);
	CHECK_EQ(c->user_data, 0x1234);
	CHECK_EQ(c->res, 14);
	xio_cqe_seen(qp, c);
	CHECK_EQ(xio_peek_cqe(qp, &c), 0);
	CHECK_EQ(c->user_data, 0x5678);
	xio_cqe_seen(qp, c);
	CHECK_EQ(xio_peek_cqe(qp, &c), -EAGAIN);
	CHECK_EQ(xio_buf_free(g, slot), 0);
}

static void test_second_mapping(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r, *a, *m;
	void *map;
	int fd;

	o.params.nr_qpairs = 3;
	o.params.sq_entries = 8;
	o.params.buf_size = 1024;
	o.params.nr_bufs = 4;
	o.name = "second";
	CHECK_EQ(xio_region_create(&o, &r), 0);
	fd = xio_region_fd(r);

	/* Through the fd. */
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a), 0);
	CHECK(!strcmp(xio_region_name(a), "second"));
	check_shared(r, a, 0);

	/* Through an existing mapping (the ivshmem BAR case). */
	map = mmap(NULL, xio_region_size(r), PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	CHECK(map != MAP_FAILED);
	CHECK_EQ(xio_region_attach_mem(map, xio_region_size(r), 0, &m), 0);
	CHECK_EQ(xio_region_fd(m), -1);
	CHECK(xio_region_base(m) == map);
	check_shared(a, m, 1);
	check_shared(m, r, 2);
	xio_region_destroy(m);
	/* The borrowed mapping is still there after destroy. */
	CHECK_EQ(((struct xio_region_hdr *)map)->magic, XIO_REGION_MAGIC);
	CHECK_EQ(munmap(map, xio_region_size(r)), 0);
	xio_region_destroy(a);
	/* The borrowed fd is still open after destroying the attachment. */
	CHECK(fcntl(fd, F_GETFD) >= 0);
	xio_region_destroy(r);
}

int main(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};

	xt_capture_start();
	o.params.nr_qpairs = 2;
	o.params.sq_entries = 16;
	o.params.cq_entries = 32;
	o.params.buf_size = 512;
	o.params.nr_bufs = 16;
	CHECK_EQ(xio_region_create(&o, &src), 0);
	img = xio_region_base(src);
	img_len = xio_region_size(src);
	CHECK(img_len >= 3 * XIO_PAGE_SIZE);
	buf = aligned_alloc(XIO_PAGE_SIZE, img_len + 2 * XIO_PAGE_SIZE);
	CHECK(buf);
	/* The unmodified copy attaches: the cases below start from it. */
	{
		struct xio_region *a = NULL;

		reset();
		CHECK_EQ(xio_region_attach_mem(buf, img_len, 0, &a), 0);
		xio_region_destroy(a);
	}
	CHECK_EQ(xt_nr_warn, 0);

	test_fields();
	test_short();
	test_bad_fds();
	test_bad_args();
	test_second_mapping();
	free(buf);
	xio_region_destroy(src);
	printf("ok\n");
	return 0;
}
