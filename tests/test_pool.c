/* SPDX-License-Identifier: MIT */
/*
 * Buffer pool: allocation until -ENOBUFS with distinct, in-bounds,
 * non-overlapping slots; free and reallocation; double and out-of-range
 * frees; xio_host_buf() bounds including overflowing offset + length.  And
 * the extensible-options contract of xio_region_create(): .sz too small,
 * larger with zero or non-zero tail bytes, unknown flags.
 */
#include <stdlib.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_print.h"

#define NBUFS 37
#define BUFSZ 192 /* a multiple of 64 that is not a power of two */

static struct xio_region *mk(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r;

	o.params.sq_entries = 8;
	o.params.buf_size = BUFSZ;
	o.params.nr_bufs = NBUFS;
	CHECK_EQ(xio_region_create(&o, &r), 0);
	return r;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a;
	uintptr_t y = (uintptr_t) * (void *const *)b;

	return x < y ? -1 : x > y;
}

static void test_alloc_all(void)
{
	struct xio_region *r = mk();
	const struct xio_layout *l = xio_region_layout(r);
	char *base = xio_region_base(r);
	char *pool_lo = base + l->pool_off, *pool_hi = pool_lo + l->pool_size;
	uint32_t slots[NBUFS], s, i, j, freed[3] = {5, 0, NBUFS - 1};
	unsigned char seen[NBUFS] = {0};
	void *ptrs[NBUFS];

	CHECK_EQ(l->nr_bufs, NBUFS);
	CHECK_EQ(l->buf_size, BUFSZ);
	CHECK_EQ(l->pool_size, (uint64_t)NBUFS * BUFSZ);
	CHECK(l->pool_off + l->pool_size <= xio_region_size(r));
	CHECK_EQ(xio_buf_avail(r), NBUFS);
	/* Nothing allocated yet: every free is refused. */
	CHECK_EQ(xio_buf_free(r, 0), -EINVAL);

	for (i = 0; i < NBUFS; i++) {
		char *p;

		CHECK_EQ(xio_buf_alloc(r, &slots[i]), 0);
		s = slots[i];
		CHECK(s < NBUFS);
		CHECK(!seen[s]);
		seen[s] = 1;
		CHECK_EQ(xio_buf_avail(r), NBUFS - i - 1);
		p = xio_buf_ptr(r, s);
		CHECK(p >= pool_lo && p + BUFSZ <= pool_hi);
		CHECK_EQ((p - pool_lo) % BUFSZ, 0);
		CHECK(p == xio_host_buf(r, s, 0, BUFSZ));
		memset(p, (int)(s + 1), BUFSZ);
		ptrs[i] = p;
	}
	s = 12345;
	CHECK_EQ(xio_buf_alloc(r, &s), -ENOBUFS);
	CHECK_EQ(s, 12345); /* untouched on failure */
	CHECK_EQ(xio_buf_alloc(r, &s), -ENOBUFS);
	CHECK_EQ(xio_buf_avail(r), 0);

	/* Non-overlapping: sorted, consecutive slots are >= BUFSZ apart. */
	qsort(ptrs, NBUFS, sizeof(ptrs[0]), cmp_ptr);
	for (i = 1; i < NBUFS; i++)
		CHECK((char *)ptrs[i] - (char *)ptrs[i - 1] >= BUFSZ);
	/* Each slot kept its own pattern: no write spilled into a neighbour. */
	for (i = 0; i < NBUFS; i++) {
		unsigned char *p = xio_buf_ptr(r, i);

		for (j = 0; j < BUFSZ; j++)
			CHECK_EQ(p[j], (unsigned char)(i + 1));
	}

	/* Free three, get exactly those three back, then -ENOBUFS again. */
	for (i = 0; i < 3; i++) {
		CHECK_EQ(xio_buf_free(r, freed[i]), 0);
		CHECK_EQ(xio_buf_avail(r), i + 1);
		CHECK_EQ(xio_buf_free(r, freed[i]), -EINVAL); /* double free */
		CHECK_EQ(xio_buf_avail(r), i + 1);
	}
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 3; i++) {
		CHECK_EQ(xio_buf_alloc(r, &s), 0);
		CHECK(s == freed[0] || s == freed[1] || s == freed[2]);
		CHECK(!seen[s]);
		seen[s] = 1;
	}
	CHECK_EQ(xio_buf_alloc(r, &s), -ENOBUFS);

	/* Out of range. */
	CHECK_EQ(xio_buf_free(r, NBUFS), -EINVAL);
	CHECK_EQ(xio_buf_free(r, UINT32_MAX), -EINVAL);
	CHECK_EQ(xio_buf_free(r, 1U << 31), -EINVAL);
	CHECK_EQ(xio_buf_avail(r), 0);
	CHECK(!xio_buf_ptr(r, NBUFS));
	CHECK(!xio_buf_ptr(r, UINT32_MAX));

	/* Free everything, twice round. */
	for (j = 0; j < 2; j++) {
		for (i = 0; i < NBUFS; i++)
			CHECK_EQ(xio_buf_free(r, i), 0);
		CHECK_EQ(xio_buf_avail(r), NBUFS);
		for (i = 0; i < NBUFS; i++)
			CHECK_EQ(xio_buf_free(r, i), -EINVAL);
		for (i = 0; i < NBUFS; i++)
			CHECK_EQ(xio_buf_alloc(r, &slots[i]), 0);
		CHECK_EQ(xio_buf_alloc(r, &s), -ENOBUFS);
	}

	/* Bad arguments. */
	CHECK_EQ(xio_buf_alloc(NULL, &s), -EINVAL);
	CHECK_EQ(xio_buf_alloc(r, NULL), -EINVAL);
	CHECK_EQ(xio_buf_free(NULL, 0), -EINVAL);
	CHECK_EQ(xio_buf_avail(NULL), 0);
	CHECK(!xio_buf_ptr(NULL, 0));
	xio_region_destroy(r);
}

static void test_private_allocator(void)
{
	struct xio_region *r = mk(), *a;
	uint32_t s;

	/* The allocator lives in each side's private memory. */
	CHECK_EQ(xio_buf_alloc(r, &s), 0);
	CHECK_EQ(xio_region_attach_fd(xio_region_fd(r), 0, &a), 0);
	CHECK_EQ(xio_buf_avail(a), NBUFS);
	CHECK_EQ(xio_buf_free(a, s), -EINVAL);
	CHECK_EQ(xio_buf_avail(r), NBUFS - 1);
	xio_region_destroy(a);
	xio_region_destroy(r);
}

static void test_host_buf(void)
{
	struct xio_region *r = mk();
	char *p0 = xio_buf_ptr(r, 0), *plast = xio_buf_ptr(r, NBUFS - 1);

	CHECK(xio_host_buf(r, 0, 0, BUFSZ) == p0);
	CHECK(xio_host_buf(r, 0, 0, 1) == p0);
	CHECK(xio_host_buf(r, 0, BUFSZ - 1, 1) == p0 + BUFSZ - 1);
	CHECK(xio_host_buf(r, 0, 64, BUFSZ - 64) == p0 + 64);
	CHECK(xio_host_buf(r, NBUFS - 1, 0, BUFSZ) == plast);
	/* Slot out of range. */
	CHECK(!xio_host_buf(r, NBUFS, 0, 1));
	CHECK(!xio_host_buf(r, NBUFS, 0, 0));
	CHECK(!xio_host_buf(r, UINT32_MAX, 0, 1));
	/* Beyond the slot. */
	CHECK(!xio_host_buf(r, 0, 0, BUFSZ + 1));
	CHECK(!xio_host_buf(r, 0, 1, BUFSZ));
	CHECK(!xio_host_buf(r, 0, BUFSZ - 1, 2));
	CHECK(!xio_host_buf(r, 0, BUFSZ, 1));
	CHECK(!xio_host_buf(r, 0, BUFSZ + 1, 0));
	CHECK(!xio_host_buf(r, NBUFS - 1, BUFSZ / 2, BUFSZ / 2 + 1));
	/* Offset + length wrapping around 2^32. */
	CHECK(!xio_host_buf(r, 0, 0xFFFFFFF0U, 0x20));
	CHECK(!xio_host_buf(r, 0, 0x20, 0xFFFFFFF0U));
	CHECK(!xio_host_buf(r, 0, 0xFFFFFFFFU, 1));
	CHECK(!xio_host_buf(r, 0, 1, 0xFFFFFFFFU));
	CHECK(!xio_host_buf(r, 0, 0xFFFFFFFFU, 0xFFFFFFFFU));
	CHECK(!xio_host_buf(r, 0, 0, 0xFFFFFFFFU));
	CHECK(!xio_host_buf(r, NBUFS - 1, 0x80000000U, 0x80000000U));
	CHECK(!xio_host_buf(NULL, 0, 0, 1));
	xio_region_destroy(r);
}

/* A caller built against a newer header: more option bytes after ours. */
struct opts_v2 {
	struct xio_region_opts o;
	unsigned char extra[40];
};

static void test_opts(void)
{
	struct xio_region_opts o;
	struct opts_v2 v2;
	struct xio_region *r = NULL;
	unsigned int i;

	memset(&o, 0, sizeof(o));
	o.params.nr_bufs = 4;
	/* .sz too small, including zero and one byte short. */
	xt_log_clear();
	CHECK_EQ(xio_region_create(&o, &r), -EINVAL);
	CHECK(xt_log_has(".sz"));
	o.sz = sizeof(o) - 1;
	CHECK_EQ(xio_region_create(&o, &r), -EINVAL);
	o.sz = offsetof(struct xio_region_opts, flags);
	CHECK_EQ(xio_region_create(&o, &r), -EINVAL);
	CHECK(!r);
	o.sz = sizeof(o);
	CHECK_EQ(xio_region_create(&o, &r), 0);
	xio_region_destroy(r);
	r = NULL;

	/* Larger, tail all zero: accepted. */
	memset(&v2, 0, sizeof(v2));
	v2.o.sz = sizeof(v2);
	v2.o.params.nr_bufs = 4;
	v2.o.name = "v2";
	CHECK_EQ(xio_region_create(&v2.o, &r), 0);
	CHECK(!strcmp(xio_region_name(r), "v2"));
	xio_region_destroy(r);
	r = NULL;
	/* Larger, any non-zero tail byte: refused, naming the byte. */
	for (i = 0; i < sizeof(v2.extra); i += 13) {
		char want[32];

		v2.extra[i] = 0x80;
		xt_log_clear();
		CHECK_EQ(xio_region_create(&v2.o, &r), -EINVAL);
		CHECK(!r);
		snprintf(want, sizeof(want), "byte %zu",
			 offsetof(struct opts_v2, extra) + i);
		CHECK(xt_log_has(want));
		v2.extra[i] = 0;
	}
	v2.extra[sizeof(v2.extra) - 1] = 1;
	CHECK_EQ(xio_region_create(&v2.o, &r), -EINVAL);
	/* ... but bytes beyond .sz are not the library's business. */
	v2.o.sz = sizeof(v2) - 1;
	CHECK_EQ(xio_region_create(&v2.o, &r), 0);
	xio_region_destroy(r);
	r = NULL;

	/* Unknown flags. */
	o.sz = sizeof(o);
	for (i = 0; i < 32; i++) {
		if ((1U << i) & XIO_REGION_FLAGS_MASK)
			continue;
		o.flags = 1U << i;
		xt_log_clear();
		CHECK_EQ(xio_region_create(&o, &r), -EINVAL);
		CHECK(xt_log_has("flags"));
	}
	o.flags = XIO_REGION_FLAGS_MASK | (1U << 31);
	CHECK_EQ(xio_region_create(&o, &r), -EINVAL);
	CHECK(!r);

	/*
	 * Names: copied into the header truncated to 63 bytes, whatever their
	 * length (memfd_create() alone would refuse one over 249 bytes).
	 */
	{
		char name[400];
		size_t lens[] = {0, 1, 63, 64, 249, 250, sizeof(name) - 1};

		o.flags = 0;
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			memset(name, 'n', lens[i]);
			name[lens[i]] = '\0';
			o.name = name;
			CHECK_EQ(xio_region_create(&o, &r), 0);
			CHECK_EQ(strlen(xio_region_name(r)),
				 lens[i] < 63 ? lens[i] : 63);
			CHECK(!strncmp(xio_region_name(r), name, 63));
			xio_region_destroy(r);
			r = NULL;
		}
		o.name = NULL;
		CHECK_EQ(xio_region_create(&o, &r), 0);
		CHECK_EQ(strlen(xio_region_name(r)), 0);
		xio_region_destroy(r);
		r = NULL;
	}

	/* NULL arguments. */
	o.flags = 0;
	CHECK_EQ(xio_region_create(NULL, &r), -EINVAL);
	CHECK_EQ(xio_region_create(&o, NULL), -EINVAL);
	CHECK(!r);
}

int main(void)
{
	xt_capture_start();
	test_alloc_all();
	test_private_allocator();
	test_host_buf();
	test_opts();
	printf("ok\n");
	return 0;
}
