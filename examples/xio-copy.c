/* SPDX-License-Identifier: MIT */
/*
 * xio-copy: copy a file through xiod, with end-to-end checksums.
 *
 *   xio-copy [--socket PATH] [--depth N] [--chunk BYTES] SRC DST
 *
 * The program attaches to xiod as a tenant, has xiod open SRC (read-only)
 * and DST as its two targets (that needs xiod's administrator: root or xiod's
 * own user), then keeps up to --depth chunks in flight: READ a chunk of SRC
 * into a pool buffer, WRITE the same buffer to DST at the same offset.  No
 * byte passes through this process's own read()/write(): the data moves
 * between the files and the shared pool inside xiod's io_uring.
 *
 * Three checksums must agree: of the data as it was read through xiod, of
 * DST read back through xiod after an FSYNC, and of SRC read directly with
 * pread(2).  Chunks complete out of order, so the checksum is
 * order-independent: the sum over chunks of a 64-bit hash of (offset, data).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#define OP_READ 0U
#define OP_WRITE 1U

struct copy {
	struct xio_tenant *t;
	struct xio_region *r;
	struct xio_qp *qp;
	uint32_t src, dst; /* target indices */
	uint64_t size;	   /* bytes to copy */
	uint32_t chunk, depth;
	uint64_t *slot_off; /* per pool slot: file offset of its chunk */
	uint64_t ops;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "xio-copy: %s: %s\n", what, xio_strerror(err));
	exit(1);
}

/* FNV-1a over the data, seeded with the offset, then a final mix. */
static uint64_t chunk_hash(uint64_t off, const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ off;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

static void queue(struct copy *c, uint32_t op, uint32_t target, uint32_t slot,
		  uint32_t len, uint64_t off)
{
	struct xio_sqe *sqe = xio_get_sqe(c->qp);

	/* Never more chunks in flight than SQ entries: a slot is always free. */
	if (!sqe)
		die("submission queue full", -EOVERFLOW);
	xio_prep_rw(sqe, op == OP_READ ? XIO_OP_READ : XIO_OP_WRITE, target,
		    slot, 0, len, off, ((uint64_t)slot << 1) | op);
	c->slot_off[slot] = off;
	c->ops++;
}

static struct xio_cqe *next_cqe(struct copy *c)
{
	struct xio_cqe *cqe;
	int err = xio_submit(c->qp);

	if (err < 0)
		die("submit", err);
	err = xio_wait_cqe(c->qp, &cqe, 10000);
	if (err)
		die("waiting for a completion", err);
	return cqe;
}

static uint32_t chunk_len(const struct copy *c, uint64_t off)
{
	return c->size - off < c->chunk ? (uint32_t)(c->size - off) : c->chunk;
}

/*
 * Read [0, size) of @target chunk by chunk and return the checksum; when
 * @copy_to_dst, every chunk read is written to DST at the same offset.
 */
static uint64_t pass(struct copy *c, uint32_t target, int copy_to_dst)
{
	uint64_t next = 0, sum = 0;
	uint32_t slot, busy = 0;

	for (slot = 0; slot < c->depth && next < c->size; slot++, busy++) {
		queue(c, OP_READ, target, slot, chunk_len(c, next), next);
		next += c->chunk;
	}
	while (busy) {
		struct xio_cqe *cqe = next_cqe(c);
		uint32_t op = cqe->user_data & 1,
			 s = (uint32_t)(cqe->user_data >> 1);
		int32_t res = cqe->res;
		uint64_t off;
		uint32_t want;

		xio_cqe_seen(c->qp, cqe);
		if (s >= c->depth)
			die("completion for an unknown slot", -EPROTO);
		off = c->slot_off[s];
		want = chunk_len(c, off);
		if (res < 0)
			die(op == OP_READ ? "READ" : "WRITE", res);
		if ((uint32_t)res != want)
			die("short transfer (file changed during the copy?)",
			    -EIO);
		if (op == OP_READ) {
			sum += chunk_hash(off, xio_buf_ptr(c->r, s), want);
			if (copy_to_dst) {
				queue(c, OP_WRITE, c->dst, s, want, off);
				continue;
			}
		}
		/* The slot is free: start the next chunk in it. */
		if (next < c->size) {
			queue(c, OP_READ, target, s, chunk_len(c, next), next);
			next += c->chunk;
		} else {
			busy--;
		}
	}
	return sum;
}

static void fsync_dst(struct copy *c)
{
	struct xio_sqe *sqe = xio_get_sqe(c->qp);
	struct xio_cqe *cqe;

	xio_prep_fsync(sqe, c->dst, UINT64_MAX);
	cqe = next_cqe(c);
	if (cqe->user_data != UINT64_MAX || cqe->res < 0)
		die("FSYNC", cqe->res < 0 ? cqe->res : -EPROTO);
	xio_cqe_seen(c->qp, cqe);
	c->ops++;
}

/* The reference: SRC read with plain pread(2), same chunking and hash. */
static uint64_t local_sum(const char *path, uint64_t size, uint32_t chunk)
{
	char *buf = malloc(chunk);
	uint64_t off, sum = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf)
		die(path, fd < 0 ? -errno : -ENOMEM);
	for (off = 0; off < size; off += chunk) {
		size_t len = size - off < chunk ? size - off : chunk;

		if (pread(fd, buf, len, (off_t)off) != (ssize_t)len)
			die("pread of the source", -EIO);
		sum += chunk_hash(off, buf, len);
	}
	close(fd);
	free(buf);
	return sum;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xio-copy [--socket PATH] [--depth N] [--chunk BYTES] SRC DST\n"
		"  copies SRC to DST through xiod (needs xiod's administrator rights)\n");
	exit(2);
}

static uint32_t parse_u32(const char *s, uint32_t lo, uint32_t hi,
			  const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '-' || *end || v < lo || v > hi) {
		fprintf(stderr, "xio-copy: %s must be in [%u, %u]\n", what, lo,
			hi);
		exit(2);
	}
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"depth", required_argument, NULL, 'd'},
		{"chunk", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct xio_client_opts co = {.sz = sizeof(co)};
	char src[PATH_MAX], dst[PATH_MAX], name[32];
	const char *sock = NULL;
	struct xio_admin *adm;
	struct copy c = {.chunk = 65536, .depth = 16};
	uint64_t s_copy, s_back, s_local;
	struct stat st;
	double t0, t1;
	int opt, fd, err;

	while ((opt = getopt_long(argc, argv, "s:d:c:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'd':
			c.depth = parse_u32(optarg, 1, 1024, "--depth");
			break;
		case 'c':
			c.chunk = parse_u32(optarg, 4096, 1U << 22, "--chunk");
			if (c.chunk % 4096)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	if (!realpath(argv[optind], src))
		die(argv[optind], -errno);
	if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
		die("source is not a regular file", -EINVAL);
	c.size = (uint64_t)st.st_size;
	/* xiod opens DST by absolute path: create it here, empty. */
	fd = open(argv[optind + 1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0 || !realpath(argv[optind + 1], dst))
		die(argv[optind + 1], -errno);
	close(fd);
	if (!strcmp(src, dst))
		die("source and destination are the same file", -EINVAL);

	snprintf(name, sizeof(name), "xio-copy-%d", (int)getpid());
	co.name = name;
	co.params.sq_entries = 1;
	while (co.params.sq_entries < c.depth + 1) /* +1: the FSYNC */
		co.params.sq_entries <<= 1;
	if (co.params.sq_entries < 2)
		co.params.sq_entries = 2;
	co.params.buf_size = c.chunk;
	co.params.nr_bufs = c.depth;
	err = xio_client_attach(sock, &co, &c.t);
	if (err)
		die("attaching to xiod (is it running? --socket?)", err);
	c.r = xio_tenant_region(c.t);
	c.qp = xio_tenant_qp(c.t, 0);
	c.slot_off = calloc(c.depth, sizeof(*c.slot_off));
	if (!c.slot_off)
		die("allocating", -ENOMEM);

	err = xio_admin_open(sock, &adm);
	if (err)
		die("connecting to xiod as administrator", err);
	err = xio_admin_target_add(adm, name, src, XIO_TARGET_RDONLY);
	if (err < 0)
		die("adding the source target (administrator rights?)", err);
	c.src = (uint32_t)err;
	err = xio_admin_target_add(adm, name, dst, 0);
	if (err < 0)
		die("adding the destination target", err);
	c.dst = (uint32_t)err;
	xio_admin_close(adm);

	t0 = now_s();
	s_copy = pass(&c, c.src, 1);
	fsync_dst(&c);
	t1 = now_s();
	s_back = pass(&c, c.dst, 0);
	s_local = local_sum(src, c.size, c.chunk);
	xio_client_detach(c.t);
	free(c.slot_off);

	printf("copied %llu bytes in %.3f s (%.1f MB/s), %llu ops through xiod, depth %u, chunk %u\n",
	       (unsigned long long)c.size, t1 - t0,
	       t1 > t0 ? (double)c.size / (t1 - t0) / 1e6 : 0.0,
	       (unsigned long long)c.ops, c.depth, c.chunk);
	printf("checksums: read %016llx, written+read back %016llx, source via pread %016llx\n",
	       (unsigned long long)s_copy, (unsigned long long)s_back,
	       (unsigned long long)s_local);
	if (s_copy != s_back || s_copy != s_local) {
		fprintf(stderr, "xio-copy: CHECKSUM MISMATCH\n");
		return 1;
	}
	printf("ok: checksums match\n");
	return 0;
}
