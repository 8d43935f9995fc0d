/* SPDX-License-Identifier: MIT */
/*
 * xio-vm-bench: runs inside a VM (static, for a busybox initramfs) and
 * measures 4 KiB I/O to ONE host file two ways, in the same boot and run:
 *
 *   xio     the ivshmem BAR's ring (queue pair 0, target 0): xiod on the
 *           host polls it and does the I/O with io_uring on the file;
 *   virtio  the virtio-blk disk QEMU backs with the same file (what a user
 *           would otherwise use), opened O_DIRECT in the guest.
 *
 * For each: the round trip of one request at a time (each timed: p50/p99;
 * xio with pread/pwrite's counterpart, a READ or WRITE SQE and its CQE;
 * virtio with pread/pwrite on the disk), and the throughput of --depth
 * requests in flight (xio: the ring; virtio: io_uring on the disk, the
 * guest kernel's fastest block path).  NOP round trips through xio show the
 * ring alone.  Offsets: the same pseudo-random 4 KiB-aligned sequence for
 * both, within the disk.  Every result is checked (res == 4096).
 *
 * Output: the RESULT lines of xio-bench (metric, unit, min/median/max over
 * --runs) and "XIO-VM-BENCH ratio ..." lines (virtio / xio for round trips,
 * xio / virtio for throughput, from the medians), then
 * "XIO-VM-BENCH done errors=N".  The figures are whatever the VM's
 * accelerator makes them: under TCG they measure the emulator.
 */
#include "../xio-bench/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <xio/ivshmem.h>
#include <xio/xio.h>

#define BS 4096U
#define MAX_DEPTH 128U

struct vb {
	struct bench_ctx *ctx;
	struct xio_region *r;
	struct xio_qp *qp;
	int fd;		 /* the virtio-blk disk, O_DIRECT */
	uint64_t blocks; /* 4 KiB blocks of the disk */
	uint32_t depth;
	uint64_t rtt_ops, tput_ops;
	int timeout_ms;
	void *vbuf; /* MAX_DEPTH aligned blocks for the disk */
	uint64_t errors;
};

/* Block number @i of the shared offset sequence. */
static uint64_t blk_of(const struct vb *v, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 29;
	return x % v->blocks;
}

static void bad_res(struct vb *v, const char *what, int64_t res)
{
	if (v->errors++ < 5)
		fprintf(stderr, "xio-vm-bench: %s: res %" PRId64 " (%s)\n",
			what, res, res < 0 ? xio_strerror((int)res) : "short");
}

/* ---- xio ------------------------------------------------------------- */

/* One request on queue pair 0; its CQE's result. */
static int32_t xio_one(struct vb *v, uint8_t op, uint32_t slot, uint64_t i)
{
	struct xio_sqe *sqe = xio_get_sqe(v->qp);
	struct xio_cqe *cqe;
	int32_t res;
	int err;

	if (!sqe)
		bench_die("no free SQE with nothing in flight");
	if (op == XIO_OP_NOP)
		xio_prep_nop(sqe, i);
	else
		xio_prep_rw(sqe, op, 0, slot, 0, BS, blk_of(v, i) * BS, i);
	err = xio_submit(v->qp);
	if (err >= 0)
		err = xio_wait_cqe(v->qp, &cqe, v->timeout_ms);
	if (err < 0)
		bench_die("xio %u: %s", op, xio_strerror(err));
	res = cqe->res;
	xio_cqe_seen(v->qp, cqe);
	return res;
}

static void xio_rtt(struct vb *v, uint8_t op, uint64_t *t)
{
	uint32_t slot = 0;
	uint64_t i, t0;
	int32_t res;

	if (op != XIO_OP_NOP && xio_buf_alloc(v->r, &slot))
		bench_die("no pool buffer");
	for (i = 0; i < v->rtt_ops; i++) {
		t0 = bench_tsc_start();
		res = xio_one(v, op, slot, i);
		t[i] = bench_tsc_stop() - t0;
		if (res != (op == XIO_OP_NOP ? 0 : (int32_t)BS))
			bad_res(v, op == XIO_OP_READ ? "xio read" : "xio op",
				res);
	}
	if (op != XIO_OP_NOP)
		xio_buf_free(v->r, slot);
}

/*
 * @v->tput_ops requests, v->depth in flight: ops/s.  Buffers are reused
 * round robin; one may be in two requests at once when completions come
 * out of order, which only mixes junk data (nothing is checked but res).
 */
static double xio_tput(struct vb *v, uint8_t op)
{
	uint32_t slots[MAX_DEPTH], n = 0, k;
	uint64_t issued = 0, done = 0, t0;
	struct xio_cqe *cqe;
	struct xio_sqe *sqe;
	int err;

	for (n = 0; n < v->depth; n++)
		if (xio_buf_alloc(v->r, &slots[n]))
			bench_die("no pool buffer");
	t0 = bench_tsc_start();
	while (done < v->tput_ops) {
		while (issued < v->tput_ops && issued - done < v->depth &&
		       (sqe = xio_get_sqe(v->qp))) {
			k = (uint32_t)(issued % v->depth);
			xio_prep_rw(sqe, op, 0, slots[k], 0, BS,
				    blk_of(v, issued) * BS, issued);
			issued++;
		}
		err = xio_submit(v->qp);
		if (err >= 0)
			err = xio_wait_cqe(v->qp, &cqe, v->timeout_ms);
		if (err < 0)
			bench_die("xio throughput: %s", xio_strerror(err));
		do {
			if (cqe->res != (int32_t)BS)
				bad_res(v, "xio i/o", cqe->res);
			xio_cqe_seen(v->qp, cqe);
			done++;
		} while (xio_peek_cqe(v->qp, &cqe) == 0);
	}
	t0 = bench_tsc_stop() - t0;
	for (k = 0; k < n; k++)
		xio_buf_free(v->r, slots[k]);
	return (double)v->tput_ops / (bench_ns(t0) / 1e9);
}

/* ---- virtio-blk --------------------------------------------------------- */

static void virtio_rtt(struct vb *v, bool write, uint64_t *t)
{
	uint64_t i, t0;
	ssize_t n;

	for (i = 0; i < v->rtt_ops; i++) {
		off_t off = (off_t)(blk_of(v, i) * BS);

		t0 = bench_tsc_start();
		n = write ? pwrite(v->fd, v->vbuf, BS, off) :
			    pread(v->fd, v->vbuf, BS, off);
		t[i] = bench_tsc_stop() - t0;
		if (n != (ssize_t)BS)
			bad_res(v, write ? "virtio pwrite" : "virtio pread",
				n < 0 ? -errno : n);
	}
}

static double virtio_tput(struct vb *v, bool write)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	uint64_t issued = 0, done = 0, t0;
	int err;

	err = io_uring_queue_init(v->depth * 2, &ring, 0);
	if (err < 0)
		bench_die("io_uring_queue_init: %s", strerror(-err));
	t0 = bench_tsc_start();
	while (done < v->tput_ops) {
		while (issued < v->tput_ops && issued - done < v->depth &&
		       (sqe = io_uring_get_sqe(&ring))) {
			char *b = (char *)v->vbuf + (issued % v->depth) * BS;
			off_t off = (off_t)(blk_of(v, issued) * BS);

			if (write)
				io_uring_prep_write(sqe, v->fd, b, BS, off);
			else
				io_uring_prep_read(sqe, v->fd, b, BS, off);
			issued++;
		}
		err = io_uring_submit_and_wait(&ring, 1);
		if (err < 0)
			bench_die("io_uring_submit_and_wait: %s",
				  strerror(-err));
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			if (cqe->res != (int)BS)
				bad_res(v, "virtio io_uring", cqe->res);
			io_uring_cqe_seen(&ring, cqe);
			done++;
		}
	}
	t0 = bench_tsc_stop() - t0;
	io_uring_queue_exit(&ring);
	return (double)v->tput_ops / (bench_ns(t0) / 1e9);
}

/* ---- the runs ------------------------------------------------------------- */

/* Round-trip metrics (each reported as p50 and p99). */
enum {
	M_XIO_NOP,
	M_XIO_READ,
	M_VIRTIO_READ,
	M_XIO_WRITE,
	M_VIRTIO_WRITE,
	M_RTT,
};

/* Throughput metrics. */
enum {
	M_XIO_READ_T,
	M_VIRTIO_READ_T,
	M_XIO_WRITE_T,
	M_VIRTIO_WRITE_T,
	M_TPUT,
};

static const char *const rtt_name[M_RTT] = {
	"vm-xio-nop-rtt", "vm-xio-read4k-rtt", "vm-virtio-read4k-rtt",
	"vm-xio-write4k-rtt", "vm-virtio-write4k-rtt"};
static const char *const tput_name[M_TPUT] = {
	"vm-xio-read4k-qd", "vm-virtio-read4k-qd", "vm-xio-write4k-qd",
	"vm-virtio-write4k-qd"};

static void ratio(const struct bench_ctx *ctx, const char *what,
		  const char *num, const char *den)
{
	const struct bench_result *a = bench_find(ctx, num);
	const struct bench_result *b = bench_find(ctx, den);

	if (a && b && b->median > 0)
		printf("XIO-VM-BENCH ratio %s %.2f (%s / %s, medians)\n", what,
		       a->median / b->median, num, den);
}

static void run_all(struct vb *v)
{
	static double p50[M_RTT][BENCH_MAX_RUNS], p99[M_RTT][BENCH_MAX_RUNS];
	static double tput[M_TPUT][BENCH_MAX_RUNS];
	struct bench_ctx *ctx = v->ctx;
	uint64_t *t = calloc(v->rtt_ops, sizeof(*t));
	struct bench_lat l;
	char name[64];
	int run, m;

	if (!t)
		bench_die("out of memory");
	for (run = 0; run < ctx->runs; run++) {
		for (m = 0; m < M_RTT; m++) {
			switch (m) {
			case M_XIO_NOP:
				xio_rtt(v, XIO_OP_NOP, t);
				break;
			case M_XIO_READ:
				xio_rtt(v, XIO_OP_READ, t);
				break;
			case M_XIO_WRITE:
				xio_rtt(v, XIO_OP_WRITE, t);
				break;
			default:
				virtio_rtt(v, m == M_VIRTIO_WRITE, t);
			}
			bench_lat_compute(t, v->rtt_ops, &l);
			p50[m][run] = l.p50;
			p99[m][run] = l.p99;
		}
		tput[M_XIO_READ_T][run] = xio_tput(v, XIO_OP_READ);
		tput[M_VIRTIO_READ_T][run] = virtio_tput(v, false);
		tput[M_XIO_WRITE_T][run] = xio_tput(v, XIO_OP_WRITE);
		tput[M_VIRTIO_WRITE_T][run] = virtio_tput(v, true);
		bench_info(ctx, "run %d of %d done", run + 1, ctx->runs);
	}
	free(t);
	for (m = 0; m < M_RTT; m++) {
		snprintf(name, sizeof(name), "%s-p50", rtt_name[m]);
		bench_report(ctx, name, "ns", p50[m], ctx->runs);
		snprintf(name, sizeof(name), "%s-p99", rtt_name[m]);
		bench_report(ctx, name, "ns", p99[m], ctx->runs);
	}
	for (m = 0; m < M_TPUT; m++) {
		snprintf(name, sizeof(name), "%s%u", tput_name[m], v->depth);
		bench_report(ctx, name, "ops/s", tput[m], ctx->runs);
	}
}

static void ratios(const struct vb *v)
{
	const struct bench_ctx *c = v->ctx;
	char a[64], b[64];

	ratio(c, "read4k-rtt-p50 virtio/xio", "vm-virtio-read4k-rtt-p50",
	      "vm-xio-read4k-rtt-p50");
	ratio(c, "write4k-rtt-p50 virtio/xio", "vm-virtio-write4k-rtt-p50",
	      "vm-xio-write4k-rtt-p50");
	ratio(c, "read4k-rtt-p99 virtio/xio", "vm-virtio-read4k-rtt-p99",
	      "vm-xio-read4k-rtt-p99");
	snprintf(a, sizeof(a), "vm-xio-read4k-qd%u", v->depth);
	snprintf(b, sizeof(b), "vm-virtio-read4k-qd%u", v->depth);
	ratio(c, "read4k-throughput xio/virtio", a, b);
	snprintf(a, sizeof(a), "vm-xio-write4k-qd%u", v->depth);
	snprintf(b, sizeof(b), "vm-virtio-write4k-qd%u", v->depth);
	ratio(c, "write4k-throughput xio/virtio", a, b);
}

static uint64_t parse_u(const char *opt, const char *s, uint64_t lo,
			uint64_t hi)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || x < lo || x > hi)
		bench_die("%s: '%s' is not in %" PRIu64 "..%" PRIu64, opt, s,
			  lo, hi);
	return x;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"pci", required_argument, NULL, 'p'},
		{"disk", required_argument, NULL, 'k'},
		{"runs", required_argument, NULL, 'r'},
		{"ops", required_argument, NULL, 'o'},
		{"tput-ops", required_argument, NULL, 't'},
		{"depth", required_argument, NULL, 'd'},
		{"quick", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	static struct bench_ctx ctx = {.subcommand = "vm", .runs = 3};
	struct vb v = {.ctx = &ctx,
		       .depth = 32,
		       .rtt_ops = 2000,
		       .tput_ops = 10000,
		       .timeout_ms = 20000};
	const char *pci = NULL, *disk = "/dev/vda";
	const struct xio_layout *l;
	uint64_t bytes = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			pci = optarg;
			break;
		case 'k':
			disk = optarg;
			break;
		case 'r':
			ctx.runs = (int)parse_u("--runs", optarg, 1,
						BENCH_MAX_RUNS);
			break;
		case 'o':
			v.rtt_ops = parse_u("--ops", optarg, 1, 1U << 24);
			break;
		case 't':
			v.tput_ops = parse_u("--tput-ops", optarg, 1, 1U << 28);
			break;
		case 'd':
			v.depth = (uint32_t)parse_u("--depth", optarg, 1,
						    MAX_DEPTH);
			break;
		case 'q':
			ctx.quick = true;
			break;
		default:
			fprintf(stderr,
				"usage: xio-vm-bench [--pci ADDR] [--disk DEV] [--runs N] [--ops N]\n"
				"                    [--tput-ops N] [--depth N] [--quick]\n");
			return 2;
		}
	}
	if (ctx.quick) {
		ctx.runs = 1;
		v.rtt_ops = 100;
		v.tput_ops = 500;
	}
	bench_calibrate();
	err = xio_ivshmem_attach(pci, 0, &v.r);
	if (err)
		bench_die("attach ivshmem %s: %s", pci ? pci : "(scan)",
			  xio_strerror(err));
	l = xio_region_layout(v.r);
	if (l->buf_size < BS || l->nr_bufs < v.depth + 1 ||
	    l->sq_entries < v.depth)
		bench_die("region too small: %u bufs of %u, %u SQEs",
			  l->nr_bufs, l->buf_size, l->sq_entries);
	v.qp = xio_region_qp(v.r, 0);
	v.fd = open(disk, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (v.fd < 0 || ioctl(v.fd, BLKGETSIZE64, &bytes) < 0)
		bench_die("%s: %s", disk, strerror(errno));
	v.blocks = bytes / BS;
	if (!v.blocks || posix_memalign(&v.vbuf, BS, (size_t)MAX_DEPTH * BS))
		bench_die("%s: empty disk, or no memory", disk);
	memset(v.vbuf, 0x5a, (size_t)MAX_DEPTH * BS);
	printf("XIO-VM-BENCH start disk=%s blocks=%" PRIu64
	       " depth=%u rtt_ops=%" PRIu64 " tput_ops=%" PRIu64 " runs=%d\n",
	       disk, v.blocks, v.depth, v.rtt_ops, v.tput_ops, ctx.runs);
	run_all(&v);
	ratios(&v);
	printf("XIO-VM-BENCH done errors=%" PRIu64 " kicks=%" PRIu64 "\n",
	       v.errors, xio_qp_kicks(v.qp));
	fflush(stdout);
	close(v.fd);
	free(v.vbuf);
	xio_region_destroy(v.r);
	return v.errors ? 1 : 0;
}
