/* SPDX-License-Identifier: MIT */
/*
 * vm_host: the host side of tests/vm/run-vm-test.sh, a stand-in for xiod.
 *
 * Creates the region as the file QEMU maps for its ivshmem device
 * (xio_region_create_file()), then serves queue pair 0 by polling with the
 * libxio host face: NOP, and READ/WRITE/FSYNC on target 0, a host file,
 * with plain pread/pwrite.  On SIGTERM/SIGINT (or after --max-seconds) it
 * prints its counters and, with --verify-blocks, checks the target file's
 * blocks (examples/vm/blockfmt.h) on its own:
 *
 *   XIO-HOST-RESULT taken=N invalid=N posted=N nops=N reads=N writes=N
 *                   io_errors=N broken=N
 *   XIO-HOST-VERIFY blocks=N mismatches=N seed=0x...
 *
 * Exit 0 when nothing was invalid or broken and every block verified.
 *
 * --corrupt-read N flips one byte of the data returned by the Nth READ (from
 * 1) after the file was read correctly: the guest must report exactly one
 * mismatch while the file itself still verifies (the test's own failure
 * check, run-vm-test.sh --expect-mismatch).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xio/ivshmem.h>
#include <xio/xio.h>

#include "../../examples/vm/blockfmt.h"

#define BATCH 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct counters {
	uint64_t nops, reads, writes, fsyncs, io_errors;
	uint64_t corrupt_read; /* flip a byte of this READ's data (1-based) */
};

static int32_t do_rw(int fd, const struct xio_region *r,
		     const struct xio_sqe *s)
{
	char *buf = xio_host_buf(r, s->buf_index, s->buf_off, s->len);
	uint32_t done = 0;
	ssize_t n;

	if (!buf)
		return -EINVAL; /* validated already: cannot happen */
	while (done < s->len) {
		if (s->opcode == XIO_OP_WRITE)
			n = pwrite(fd, buf + done, s->len - done,
				   (off_t)(s->off + done));
		else
			n = pread(fd, buf + done, s->len - done,
				  (off_t)(s->off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break; /* read at EOF: short */
		done += (uint32_t)n;
	}
	return (int32_t)done;
}

static int32_t execute(int fd, const struct xio_region *r,
		       const struct xio_sqe *s, struct counters *c)
{
	int32_t res;

	if (s->opcode == XIO_OP_NOP) {
		c->nops++;
		return 0;
	}
	if (s->target != 0)
		return -EBADF;
	switch (s->opcode) {
	case XIO_OP_READ:
	case XIO_OP_WRITE:
		res = do_rw(fd, r, s);
		if (s->opcode == XIO_OP_READ) {
			if (++c->reads == c->corrupt_read && res > 64)
				((char *)xio_host_buf(r, s->buf_index,
						      s->buf_off,
						      s->len))[res / 2] ^= 1;
		} else
			c->writes++;
		break;
	case XIO_OP_FSYNC:
		c->fsyncs++;
		res = fsync(fd) < 0 ? -errno : 0;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (res < 0)
		c->io_errors++;
	return res;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vm_host --region PATH --target FILE [--ready FILE]\n"
		"               [--sq N] [--bufs N] [--buf-size N] [--max-seconds S]\n"
		"               [--verify-blocks N --bs BYTES] [--keep]\n"
		"               [--corrupt-read N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"region", required_argument, NULL, 'r'},
		{"target", required_argument, NULL, 't'},
		{"ready", required_argument, NULL, 'R'},
		{"sq", required_argument, NULL, 'q'},
		{"bufs", required_argument, NULL, 'n'},
		{"buf-size", required_argument, NULL, 'B'},
		{"max-seconds", required_argument, NULL, 'm'},
		{"verify-blocks", required_argument, NULL, 'v'},
		{"bs", required_argument, NULL, 's'},
		{"keep", no_argument, NULL, 'k'},
		{"corrupt-read", required_argument, NULL, 'C'},
		{NULL, 0, NULL, 0},
	};
	struct xio_region_opts o = {.sz = sizeof(o), .name = "vmtest"};
	const char *region_path = NULL, *target = NULL, *ready = NULL;
	uint64_t vblocks = 0, seed = 0, bad = 0, idle = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	struct xio_host_qp_stats st;
	struct counters cnt = {0};
	struct xio_sqe sqes[BATCH];
	struct xio_host_qp *hq;
	struct xio_region *r;
	uint32_t bs = 4096;
	int c, fd, n, i, err, rc = 0;
	bool keep = false;
	time_t deadline;
	long max_s = 240;

	o.params.sq_entries = 64;
	o.params.nr_bufs = 64;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			region_path = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'R':
			ready = optarg;
			break;
		case 'q':
			o.params.sq_entries = (uint32_t)atoi(optarg);
			break;
		case 'n':
			o.params.nr_bufs = (uint32_t)atoi(optarg);
			break;
		case 'B':
			o.params.buf_size = (uint32_t)atoi(optarg);
			break;
		case 'm':
			max_s = atol(optarg);
			break;
		case 'v':
			vblocks = strtoull(optarg, NULL, 0);
			break;
		case 's':
			bs = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			keep = true;
			break;
		case 'C':
			cnt.corrupt_read = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (!region_path || !target || optind != argc || bs < BLK_MIN_SIZE)
		usage();

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = open(target, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "vm_host: %s: %s\n", target, strerror(errno));
		return 1;
	}
	err = xio_region_create_file(region_path, 0600, &o, &r);
	if (err) {
		fprintf(stderr, "vm_host: create region file %s: %s\n",
			region_path, xio_strerror(err));
		return 1;
	}
	hq = xio_region_host_qp(r, 0);
	printf("vm_host: region %s, %zu bytes\n", region_path,
	       xio_region_size(r));
	fflush(stdout);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fclose(f)) {
			fprintf(stderr, "vm_host: %s: %s\n", ready,
				strerror(errno));
			rc = 1;
			stop = 1;
		}
	}

	deadline = time(NULL) + max_s;
	while (!stop) {
		n = xio_host_sq_take(hq, sqes, BATCH);
		if (n < 0) {
			fprintf(stderr, "vm_host: ring quarantined: %s\n",
				xio_strerror(n));
			break;
		}
		if (n == 0) {
			/* The guest is slow under TCG: poll gently. */
			if (++idle > 1000) {
				struct timespec ts = {0, 20000};

				nanosleep(&ts, NULL);
				/* QEMU or anyone else may truncate the file. */
				if (!(idle & 1023) &&
				    xio_region_file_check(r) == -ESTALE) {
					fprintf(stderr,
						"vm_host: region file truncated: stop serving\n");
					rc = 1;
					break;
				}
				if (!(idle & 1023) && time(NULL) > deadline) {
					fprintf(stderr,
						"vm_host: --max-seconds %ld reached\n",
						max_s);
					rc = 1;
					break;
				}
			}
			/* A posted invalid-SQE answer still needs its publish. */
			xio_host_cq_publish(hq);
			continue;
		}
		idle = 0;
		for (i = 0; i < n; i++)
			xio_host_cq_post(hq, sqes[i].user_data,
					 execute(fd, r, &sqes[i], &cnt), 0);
		xio_host_cq_publish(hq);
	}

	xio_host_qp_get_stats(hq, &st);
	printf("XIO-HOST-RESULT taken=%" PRIu64 " invalid=%" PRIu64
	       " posted=%" PRIu64 " nops=%" PRIu64 " reads=%" PRIu64
	       " writes=%" PRIu64 " io_errors=%" PRIu64 " broken=%u\n",
	       st.taken, st.invalid, st.posted, cnt.nops, cnt.reads, cnt.writes,
	       cnt.io_errors, st.broken);
	if (st.invalid || st.broken || cnt.io_errors)
		rc = 1;
	if (vblocks) {
		bad = blk_verify_file(fd, vblocks, bs, &seed, "vm_host");
		printf("XIO-HOST-VERIFY blocks=%" PRIu64 " mismatches=%" PRIu64
		       " seed=0x%" PRIx64 "\n",
		       vblocks, bad, seed);
		if (bad)
			rc = 1;
	}
	fflush(stdout);
	close(fd);
	xio_region_destroy(r);
	if (!keep)
		unlink(region_path);
	return rc;
}
