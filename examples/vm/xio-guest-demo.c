/* SPDX-License-Identifier: MIT */
/*
 * xio-guest-demo: runs inside a VM (statically linked, so it can be dropped
 * into a busybox initramfs), attaches to the xio region in an ivshmem BAR and
 * drives queue pair 0 by polling:
 *
 *   1. NOPs              every CQE: res 0, its user_data exactly once
 *   2. WRITE blocks      self-checking blocks (blockfmt.h) to target 0,
 *                        block i at offset i * bs
 *   3. READ them back    each one verified against its checksum and seed
 *
 * and prints one summary line (parsed by tests/vm/run-vm-test.sh):
 *
 *   XIO-GUEST-RESULT nops=N writes=N reads=N mismatches=N errors=N
 *                    order_errors=N kicks=N seed=0x... usec=N passes=N
 *
 * --seconds S repeats the three steps (a pass; each pass writes with the
 * seed + 1 of the one before, so a read that returns an older pass's
 * block is a mismatch) until S seconds have passed, then waits 200 ms for
 * a CQE nobody asked for (a duplicate is an error): the load of
 * tests/vm/run-vm-restart.sh, which kills xiod meanwhile.  seed= is the
 * last pass's.
 *
 * --doorbell wires the kick to an ivshmem-doorbell device's Doorbell
 * register (xio_ivshmem_doorbell(): xiod is its ivshmem server), so xiod
 * may sleep; kicks= then counts doorbell writes.  --kicklat N measures N
 * times how long one NOP takes when submitted to a sleeping xiod (idle
 * 20 ms before each), the kick included:
 *
 *   XIO-GUEST-KICKLAT n=N kicks=K min=US p50=US p90=US max=US
 *
 * Whoever serves the rings only has to execute NOP/READ/WRITE on its target
 * 0: tests/vm/vm_host.c today, xiod with a file target tomorrow.  Exit status
 * 0 when mismatches and errors are both 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xio/ivshmem.h>
#include <xio/xio.h>

#include "blockfmt.h"

#define MAX_DEPTH 256U

struct demo {
	struct xio_region *r;
	struct xio_qp *qp;
	uint32_t bs, depth;
	uint64_t seed;
	int timeout_ms;
	bool strict_order;
	/* results */
	uint64_t nops, writes, reads;
	uint64_t mismatches, errors, order_errors;
};

/* One request in flight: the pool slot it uses (or UINT32_MAX). */
struct req {
	uint32_t slot;
	uint8_t done;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

#define UD(phase, i) (((uint64_t)(phase) << 56) | (uint64_t)(i))

static const char *const op_name[] = {"nop", "read", "write"};

/* Check one completion of phase @op; @next: the index expected in order. */
static void complete(struct demo *d, uint8_t op, struct req *reqs,
		     uint64_t count, const struct xio_cqe *cqe, uint64_t *next)
{
	uint64_t ud = cqe->user_data, i = ud & ((1ULL << 56) - 1);
	int32_t want = op == XIO_OP_NOP ? 0 : (int32_t)d->bs;
	int bad;

	if (ud >> 56 != op || i >= count || reqs[i].done) {
		fprintf(stderr,
			"xio-guest-demo: %s: unexpected CQE user_data 0x%" PRIx64
			" res %d\n",
			op_name[op], ud, cqe->res);
		d->errors++;
		return;
	}
	reqs[i].done = 1;
	if (i != *next)
		d->order_errors++;
	*next = i + 1;
	if (cqe->res != want || cqe->flags) {
		fprintf(stderr,
			"xio-guest-demo: %s %" PRIu64
			": res %d flags 0x%x (want %d)\n",
			op_name[op], i, cqe->res, cqe->flags, want);
		d->errors++;
	} else if (op == XIO_OP_READ) {
		bad = blk_check(xio_buf_ptr(d->r, reqs[i].slot), d->bs, i,
				&d->seed);
		if (bad) {
			if (d->mismatches < 10)
				fprintf(stderr,
					"xio-guest-demo: block %" PRIu64
					" read back: %s\n",
					i, blk_strerror(bad));
			d->mismatches++;
		}
	}
	if (op == XIO_OP_NOP)
		d->nops++;
	else if (op == XIO_OP_WRITE)
		d->writes++;
	else
		d->reads++;
	if (reqs[i].slot != UINT32_MAX)
		xio_buf_free(d->r, reqs[i].slot);
	reqs[i].slot = UINT32_MAX;
}

/* Issue @count requests of @op with at most d->depth in flight. */
static int run_phase(struct demo *d, uint8_t op, uint64_t count)
{
	struct req *reqs = calloc(count ? count : 1, sizeof(*reqs));
	uint64_t issued = 0, reaped = 0, next = 0;
	struct xio_cqe *cqe;
	struct xio_sqe *sqe;
	uint32_t slot;
	int err = 0;

	if (!reqs)
		return -ENOMEM;
	while (reaped < count) {
		while (issued < count && issued - reaped < d->depth) {
			slot = UINT32_MAX;
			if (op != XIO_OP_NOP && xio_buf_alloc(d->r, &slot))
				break;
			sqe = xio_get_sqe(d->qp);
			if (!sqe) {
				if (slot != UINT32_MAX)
					xio_buf_free(d->r, slot);
				break;
			}
			reqs[issued].slot = slot;
			if (op == XIO_OP_NOP) {
				xio_prep_nop(sqe, UD(op, issued));
			} else {
				if (op == XIO_OP_WRITE)
					blk_fill(xio_buf_ptr(d->r, slot), d->bs,
						 issued, d->seed);
				else
					memset(xio_buf_ptr(d->r, slot), 0,
					       d->bs);
				xio_prep_rw(sqe, op, 0, slot, 0, d->bs,
					    issued * d->bs, UD(op, issued));
			}
			issued++;
		}
		err = xio_submit(d->qp);
		if (err < 0) {
			fprintf(stderr, "xio-guest-demo: submit: %s\n",
				xio_strerror(err));
			break;
		}
		err = xio_wait_cqe(d->qp, &cqe, d->timeout_ms);
		if (err) {
			fprintf(stderr,
				"xio-guest-demo: %s: waiting for CQE %" PRIu64
				" of %" PRIu64 ": %s\n",
				op_name[op], reaped, count, xio_strerror(err));
			break;
		}
		do {
			complete(d, op, reqs, count, cqe, &next);
			xio_cqe_seen(d->qp, cqe);
			reaped++;
		} while (xio_peek_cqe(d->qp, &cqe) == 0);
	}
	if (err < 0)
		d->errors += count - reaped;
	free(reqs);
	return err < 0 ? err : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Kick-to-completion latency of a sleeping host: idle @idle_us (the host
 * parks the tenant and sleeps), then one NOP, timed until its CQE.
 */
static int kicklat(struct demo *d, uint32_t n, uint32_t idle_us)
{
	uint64_t *lat = calloc(n ? n : 1, sizeof(*lat));
	uint64_t k0 = xio_qp_kicks(d->qp), t0;
	struct xio_cqe *cqe;
	struct xio_sqe *sqe;
	uint32_t i;
	int err = 0;

	if (!lat)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++) {
		usleep(idle_us);
		sqe = xio_get_sqe(d->qp);
		if (!sqe) {
			err = -EBUSY;
			break;
		}
		xio_prep_nop(sqe, UD(XIO_OP_NOP, i));
		t0 = now_us();
		err = xio_submit(d->qp);
		if (err >= 0)
			err = xio_wait_cqe(d->qp, &cqe, d->timeout_ms);
		if (err < 0)
			break;
		lat[i] = now_us() - t0;
		if (cqe->res)
			d->errors++;
		xio_cqe_seen(d->qp, cqe);
	}
	if (err < 0) {
		fprintf(stderr, "xio-guest-demo: kicklat %u: %s\n", i,
			xio_strerror(err));
		d->errors++;
		free(lat);
		return err;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("XIO-GUEST-KICKLAT n=%u kicks=%" PRIu64 " min=%" PRIu64
	       " p50=%" PRIu64 " p90=%" PRIu64 " max=%" PRIu64 "\n",
	       n, xio_qp_kicks(d->qp) - k0, n ? lat[0] : 0, n ? lat[n / 2] : 0,
	       n ? lat[n * 9 / 10] : 0, n ? lat[n - 1] : 0);
	free(lat);
	return 0;
}

/*
 * Time reading the whole BAR through one sysfs resource file (resource2 is
 * mapped uncached, resource2_wc write-combining): MB/s, or -errno.
 */
static double bar_read_mbps(const char *pci, const char *res)
{
	volatile const uint64_t *p;
	char path[256];
	uint64_t t0, t1, sum = 0;
	struct stat st;
	size_t i, n;
	void *base;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", pci, res);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return -errno;
	p = base;
	n = (size_t)st.st_size / 8;
	t0 = now_us();
	for (i = 0; i < n; i++)
		sum += p[i];
	t1 = now_us();
	munmap(base, (size_t)st.st_size);
	(void)sum;
	return (double)st.st_size / (double)(t1 - t0 ? t1 - t0 : 1);
}

/* Each mapping three times, alternating, so first-touch costs show. */
static void maptest(const char *pci)
{
	static const char *const res[] = {"resource2", "resource2_wc"};

	for (size_t i = 0; i < 6; i++) {
		double v = bar_read_mbps(pci, res[i % 2]);

		if (v < 0)
			printf("XIO-GUEST-MAPTEST %s unavailable (%s)\n",
			       res[i % 2], xio_strerror((int)v));
		else
			printf("XIO-GUEST-MAPTEST %s read %.1f MB/s (pass %zu)\n",
			       res[i % 2], v, i / 2 + 1);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xio-guest-demo [--pci ADDR] [--wc] [--nops N] [--blocks N]\n"
		"                      [--bs BYTES] [--depth N] [--timeout-ms MS]\n"
		"                      [--seed N] [--strict-order] [--maptest]\n"
		"                      [--doorbell] [--kicklat N] [--seconds S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"pci", required_argument, NULL, 'p'},
		{"wc", no_argument, NULL, 'W'},
		{"nops", required_argument, NULL, 'n'},
		{"blocks", required_argument, NULL, 'b'},
		{"bs", required_argument, NULL, 's'},
		{"depth", required_argument, NULL, 'd'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 'S'},
		{"strict-order", no_argument, NULL, 'o'},
		{"maptest", no_argument, NULL, 'm'},
		{"doorbell", no_argument, NULL, 'D'},
		{"kicklat", required_argument, NULL, 'K'},
		{"seconds", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	struct demo d = {.bs = 4096, .depth = 32, .timeout_ms = 20000};
	const struct xio_layout *l;
	struct xio_ivshmem_info info;
	uint64_t nops = 1000, blocks = 256, t0, usec;
	const char *pci = NULL;
	unsigned int flags = 0;
	bool do_maptest = false, doorbell = false;
	uint32_t nr_kicklat = 0;
	uint64_t seconds = 0, passes = 0;
	struct xio_cqe *cqe;
	int c, err, peer = 0;

	d.seed = now_us() * 0x2545f4914f6cdd1dULL;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			pci = optarg;
			break;
		case 'W':
			flags |= XIO_IVSHMEM_WC;
			break;
		case 'n':
			nops = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			blocks = strtoull(optarg, NULL, 0);
			break;
		case 's':
			d.bs = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'd':
			d.depth = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 't':
			d.timeout_ms = atoi(optarg);
			break;
		case 'S':
			d.seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			d.strict_order = true;
			break;
		case 'm':
			do_maptest = true;
			break;
		case 'D':
			doorbell = true;
			break;
		case 'K':
			nr_kicklat = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'T':
			seconds = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || d.bs < BLK_MIN_SIZE || d.bs % 8 || !d.depth ||
	    d.depth > MAX_DEPTH || blocks >= (1ULL << 40) / d.bs)
		usage();

	err = xio_ivshmem_attach(pci, flags, &d.r);
	if (err) {
		fprintf(stderr, "xio-guest-demo: attach ivshmem %s: %s\n",
			pci ? pci : "(scan)", xio_strerror(err));
		printf("XIO-GUEST-RESULT attach-failed err=%d\n", err);
		return 1;
	}
	xio_ivshmem_info(d.r, &info);
	l = xio_region_layout(d.r);
	printf("xio-guest-demo: %s %s, BAR %" PRIu64
	       " bytes, region '%s': sq %u cq %u, %u bufs of %u\n",
	       info.pci_addr, info.resource, info.bar_size,
	       xio_region_name(d.r), l->sq_entries, l->cq_entries, l->nr_bufs,
	       l->buf_size);
	if (d.bs > l->buf_size) {
		fprintf(stderr,
			"xio-guest-demo: --bs %u exceeds the pool slot size %u\n",
			d.bs, l->buf_size);
		return 2;
	}
	if (d.depth > l->sq_entries)
		d.depth = l->sq_entries;
	if (d.depth > l->nr_bufs)
		d.depth = l->nr_bufs;
	if (do_maptest)
		maptest(info.pci_addr);
	d.qp = xio_region_qp(d.r, 0);
	if (doorbell) {
		peer = xio_ivshmem_doorbell(d.r, 0);
		if (peer < 0) {
			fprintf(stderr, "xio-guest-demo: doorbell: %s\n",
				xio_strerror(peer));
			printf("XIO-GUEST-RESULT doorbell-failed err=%d\n",
			       peer);
			return 1;
		}
		printf("xio-guest-demo: doorbell: guest peer %d, kicks ring xiod's peer %d\n",
		       peer, XIO_IVSHMEM_HOST_PEER);
	}

	t0 = now_us();
	do {
		if (passes++)
			d.seed++;
		err = run_phase(&d, XIO_OP_NOP, nops);
		if (!err)
			err = run_phase(&d, XIO_OP_WRITE, blocks);
		if (!err)
			err = run_phase(&d, XIO_OP_READ, blocks);
	} while (!err && now_us() - t0 < seconds * 1000000ULL);
	usec = now_us() - t0;
	/* Every request was answered: one more CQE is a duplicate. */
	if (!err && seconds && !xio_wait_cqe(d.qp, &cqe, 200)) {
		fprintf(stderr,
			"xio-guest-demo: CQE user_data 0x%" PRIx64
			" after the last request was answered\n",
			cqe->user_data);
		d.errors++;
	}
	if (!err && nr_kicklat)
		err = kicklat(&d, nr_kicklat, 20000);
	if (d.strict_order)
		d.errors += d.order_errors;

	printf("XIO-GUEST-RESULT nops=%" PRIu64 " writes=%" PRIu64
	       " reads=%" PRIu64 " mismatches=%" PRIu64 " errors=%" PRIu64
	       " order_errors=%" PRIu64 " kicks=%" PRIu64 " seed=0x%" PRIx64
	       " bs=%u usec=%" PRIu64 " passes=%" PRIu64 "\n",
	       d.nops, d.writes, d.reads, d.mismatches, d.errors,
	       d.order_errors, xio_qp_kicks(d.qp), d.seed, d.bs, usec, passes);
	fflush(stdout);
	xio_region_destroy(d.r);
	return d.mismatches || d.errors || err ? 1 : 0;
}
