/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a region header and file made of the fuzzer's bytes,
 * attached with xio_region_attach_mem() (heap copy of exactly the given
 * length: ASan sees any read beyond it) or xio_region_attach_fd() (a memfd,
 * optionally sealed).  Input:
 *
 *   byte 0  mode: bit 0 template, bit 1 fd, bit 2 seal, bit 3 require seals
 *   template (bit 0 set): byte 1 geometry, byte 2 length change, then patches
 *           of [u16 offset][u8 n][n bytes] applied to a region made by
 *           xio_region_create();
 *   raw (bit 0 clear): bytes 1-2 length in 64-byte units, then the contents
 *           from offset 0 (the rest zero).
 *
 * Checked: no crash or out-of-bounds access; an attach that succeeds gives a
 * layout whose every part lies inside the bytes attached, and the host and
 * guest faces work on it (one take, one buffer alloc/free).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xio/xio.h>

#include "fuzz.h"

#define NR_GEOM 8
#define MAX_LEN (256U << 10)

static struct xio_region *tmpl[NR_GEOM];

static struct xio_region *template(unsigned int g)
{
	struct xio_region_opts o = {.sz = sizeof(o)};

	if (tmpl[g])
		return tmpl[g];
	o.params.nr_qpairs = 1 + (g & 1);
	o.params.sq_entries = 2U << ((g >> 1) & 1);
	o.params.cq_entries = o.params.sq_entries << ((g >> 2) & 1);
	o.params.buf_size = 64;
	o.params.nr_bufs = 1 + g;
	o.name = "fuzz-attach";
	if (xio_region_create(&o, &tmpl[g]))
		die("xio_region_create failed");
	return tmpl[g];
}

/* Fill a buffer of the length the input asks for; NULL to skip the input. */
static uint8_t *build(const uint8_t *d, size_t n, size_t *lenp)
{
	uint8_t *buf;
	size_t len;

	if (n < 3)
		return NULL;
	if (d[0] & 1) {
		struct xio_region *t = template(d[1] % NR_GEOM);
		size_t rs = xio_region_size(t);

		/* Shrink or grow by up to 127 64-byte units. */
		len = rs + (size_t)((int8_t)d[2] * 64L);
		if (len > MAX_LEN || len == 0)
			return NULL;
		if (posix_memalign((void **)&buf, 4096, len))
			return NULL;
		memset(buf, 0, len);
		memcpy(buf, xio_region_base(t), len < rs ? len : rs);
		d += 3;
		n -= 3;
		while (n >= 3) {
			size_t off = (size_t)d[0] | (size_t)d[1] << 8, k = d[2];

			d += 3;
			n -= 3;
			if (k > n)
				k = n;
			if (off < len)
				memcpy(buf + off, d,
				       k < len - off ? k : len - off);
			d += k;
			n -= k;
		}
	} else {
		len = ((size_t)d[1] | (size_t)d[2] << 8) * 64;
		if (len > MAX_LEN || len == 0)
			return NULL;
		if (posix_memalign((void **)&buf, 4096, len))
			return NULL;
		memset(buf, 0, len);
		memcpy(buf, d + 3, n - 3 < len ? n - 3 : len);
	}
	*lenp = len;
	return buf;
}

static int attach_fd(const uint8_t *buf, size_t len, unsigned int mode,
		     struct xio_region **r)
{
	unsigned int flags = mode & 8 ? XIO_ATTACH_REQUIRE_SEALS : 0;
	int fd, err;

	fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		die("memfd_create");
	if (write(fd, buf, len) != (ssize_t)len)
		die("write to memfd");
	if ((mode & 4) &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		die("F_ADD_SEALS");
	err = xio_region_attach_fd(fd, flags, r);
	close(fd); /* borrowed: the region keeps its own mapping */
	return err;
}

/* Exercise an attached region and check its layout against @len. */
static void use(struct xio_region *r, size_t len)
{
	const struct xio_layout *l = xio_region_layout(r);
	struct xio_sqe out[4];
	uint32_t q, slot;

	if (!l || xio_region_size(r) > len)
		die("region larger than the bytes attached");
	if (!l->nr_qpairs || !l->sq_entries || !l->cq_entries || !l->nr_bufs ||
	    l->sq_entries & (l->sq_entries - 1) ||
	    l->cq_entries & (l->cq_entries - 1))
		die("attached a degenerate geometry");
	if (l->qp_off + (uint64_t)l->nr_qpairs * l->qp_stride > l->pool_off ||
	    l->pool_off + l->pool_size > len ||
	    (uint64_t)l->nr_bufs * l->buf_size != l->pool_size)
		die("layout outside the bytes attached");
	if (l->sqes_off + (uint64_t)l->sq_entries * XIO_SQE_SIZE >
		    l->qp_stride ||
	    l->cqes_off + (uint64_t)l->cq_entries * XIO_CQE_SIZE > l->qp_stride)
		die("rings outside their queue pair");
	for (q = 0; q < l->nr_qpairs; q++) {
		struct xio_host_qp *hq = xio_region_host_qp(r, q);
		int n;

		if (!hq)
			die("no host view of a queue pair");
		n = xio_host_sq_take(hq, out, 4);
		if (n > 0) {
			for (int i = 0; i < n; i++) {
				if (xio_sqe_validate(l, &out[i]))
					die("take returned an invalid SQE");
				xio_host_cq_post(hq, out[i].user_data, 0, 0);
			}
		}
		xio_host_cq_publish(hq);
	}
	if (xio_region_host_qp(r, l->nr_qpairs))
		die("host view of a queue pair out of range");
	if (xio_buf_alloc(r, &slot) == 0) {
		uint8_t *b = xio_buf_ptr(r, slot);

		if (!b || b + l->buf_size > (uint8_t *)xio_region_base(r) + len)
			die("buffer outside the region");
		b[0] ^= 1;
		b[l->buf_size - 1] ^= 1;
		if (xio_buf_free(r, slot))
			die("xio_buf_free");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xio_region *r = NULL;
	size_t len = 0;
	uint8_t *buf;
	int err;

	xio_set_print(NULL); /* silent */
	buf = build(data, size, &len);
	if (!buf)
		return 0;
	if (data[0] & 2)
		err = attach_fd(buf, len, data[0], &r);
	else
		err = xio_region_attach_mem(
			buf, len, data[0] & 8 ? XIO_ATTACH_REQUIRE_SEALS : 0,
			&r);
	if (err == 0) {
		/* attach_fd maps the memfd: check against the same bytes. */
		use(r, len);
		xio_region_destroy(r);
	} else if (err != -EINVAL && err != -EPROTO && err != -EPERM) {
		die("attach: unexpected error");
	}
	free(buf);
	return 0;
}
