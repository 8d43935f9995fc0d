/* SPDX-License-Identifier: MIT */
/*
 * Sealing: a created region's memfd carries SHRINK|GROW|SEAL, its size can
 * never change, XIO_ATTACH_REQUIRE_SEALS accepts it and refuses an unsealed
 * memfd or a plain file holding the very same bytes, and punching a hole in
 * the pool (allowed: the seals fix the size, not the contents) reads back as
 * zeros through the existing mapping, with no SIGBUS.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_print.h"

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static struct xio_region *mk(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r;

	o.params.sq_entries = 16;
	o.params.buf_size = 4096;
	o.params.nr_bufs = 8;
	o.name = "seal-test";
	CHECK_EQ(xio_region_create(&o, &r), 0);
	return r;
}

/* Write the region's bytes into @fd (a copy that is valid but unsealed). */
static void copy_into(int fd, const struct xio_region *r)
{
	const char *p = xio_region_base(r);
	size_t len = xio_region_size(r), done = 0;

	CHECK_EQ(ftruncate(fd, (off_t)len), 0);
	while (done < len) {
		ssize_t n = pwrite(fd, p + done, len - done, (off_t)done);
		CHECK(n > 0);
		done += (size_t)n;
	}
}

static void attach_ok(int fd, unsigned int flags, const struct xio_region *src)
{
	struct xio_region *a = NULL;

	CHECK_EQ(xio_region_attach_fd(fd, flags, &a), 0);
	CHECK(a);
	CHECK(xio_region_size(a) == xio_region_size(src));
	CHECK(!memcmp(xio_region_layout(a), xio_region_layout(src),
		      sizeof(struct xio_layout)));
	CHECK(!strcmp(xio_region_name(a), "seal-test"));
	CHECK_EQ(xio_region_fd(a), -1); /* borrowed, not owned */
	xio_region_destroy(a);
}

static void test_seals(void)
{
	struct xio_region *r = mk();
	int fd = xio_region_fd(r);
	size_t size = xio_region_size(r);
	struct stat st;
	int seals;

	CHECK(fd >= 0);
	seals = fcntl(fd, F_GET_SEALS);
	CHECK(seals >= 0);
	CHECK_EQ(seals & SEALS, SEALS);
	/* The creator keeps write access: no WRITE/FUTURE_WRITE seal. */
	CHECK_EQ(seals & F_SEAL_WRITE, 0);

	errno = 0;
	CHECK_EQ(ftruncate(fd, (off_t)size / 2), -1);
	CHECK_EQ(errno, EPERM);
	errno = 0;
	CHECK_EQ(ftruncate(fd, (off_t)size * 2), -1);
	CHECK_EQ(errno, EPERM);
	errno = 0;
	CHECK_EQ(pwrite(fd, "x", 1, (off_t)size), -1); /* grow by writing */
	CHECK_EQ(errno, EPERM);
	errno = 0;
	CHECK_EQ(fallocate(fd, 0, (off_t)size, 4096),
		 -1); /* grow by allocating */
	CHECK_EQ(errno, EPERM);
	errno = 0;
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_size, size);

	attach_ok(fd, XIO_ATTACH_REQUIRE_SEALS, r);
	attach_ok(fd, 0, r);
	xio_region_destroy(r);
}

static void test_unsealed(void)
{
	struct xio_region *r = mk(), *a = NULL;
	char path[] = "/tmp/xio-seal-XXXXXX";
	int fd;

	/* An unsealed memfd holding a valid region. */
	fd = memfd_create("xio-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	copy_into(fd, r);
	attach_ok(fd, 0, r);
	xt_log_clear();
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a),
		 -EPERM);
	CHECK(!a);
	CHECK(xt_nr_warn >= 1 && xt_log_has("seal"));
	/* Half sealed is not enough. */
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a),
		 -EPERM);
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
	attach_ok(fd, XIO_ATTACH_REQUIRE_SEALS, r);
	close(fd);

	/* A memfd created without MFD_ALLOW_SEALING (implicit F_SEAL_SEAL). */
	fd = memfd_create("xio-nosealing", MFD_CLOEXEC);
	CHECK(fd >= 0);
	copy_into(fd, r);
	attach_ok(fd, 0, r);
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a),
		 -EPERM);
	close(fd);

	/* A regular file on disk, same bytes: cannot carry seals at all. */
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ(unlink(path), 0);
	copy_into(fd, r);
	attach_ok(fd, 0, r);
	xt_log_clear();
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a),
		 -EPERM);
	CHECK(!a);
	CHECK(xt_nr_warn >= 1);
	close(fd);

	/* A bare mapping carries no seals: requiring them is a usage error. */
	CHECK_EQ(xio_region_attach_mem(xio_region_base(r), xio_region_size(r),
				       XIO_ATTACH_REQUIRE_SEALS, &a),
		 -EINVAL);
	xio_region_destroy(r);
}

static void test_punch_hole(void)
{
	struct xio_region *r = mk(), *a = NULL;
	const struct xio_layout *l = xio_region_layout(r);
	int fd = xio_region_fd(r);
	unsigned char *pool, *apool;
	uint64_t i;

	pool = xio_buf_ptr(r, 0);
	CHECK(pool);
	memset(pool, 0xa5, l->pool_size);
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a), 0);
	apool = xio_buf_ptr(a, 0);
	CHECK(apool && apool != pool);
	CHECK_EQ(apool[l->pool_size - 1], 0xa5);

	CHECK_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   (off_t)l->pool_off, (off_t)l->pool_size),
		 0);
	/* Both mappings see zeros; no page beyond EOF, so no SIGBUS. */
	for (i = 0; i < l->pool_size; i++) {
		if (pool[i] || apool[i]) {
			fprintf(stderr,
				"FAIL: pool byte %llu not zero after punch\n",
				(unsigned long long)i);
			exit(1);
		}
	}
	/* The hole refills on write, and the size never moved. */
	pool[0] = 1;
	CHECK_EQ(apool[0], 1);
	CHECK_EQ(lseek(fd, 0, SEEK_END), (off_t)xio_region_size(r));
	xio_region_destroy(a);
	/* The rings and header before the pool are untouched. */
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &a), 0);
	xio_region_destroy(a);
	xio_region_destroy(r);
}

int main(void)
{
	xt_capture_start();
	test_seals();
	test_unsealed();
	test_punch_hole();
	printf("ok\n");
	return 0;
}
