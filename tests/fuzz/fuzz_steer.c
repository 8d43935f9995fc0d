/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the steering classifier (bpf/xio_steer.bpf.c) through
 * BPF_PROG_TEST_RUN.  Byte 0 picks the IP mode, the rest is the frame.  The
 * program runs in the kernel (no coverage feedback from it: the mutations
 * are guided by the seeds and the dictionary-like CMP hints only), so the
 * value here is the checks on every frame: the kernel accepts the run
 * (frames under 14 bytes excepted), the verdict is XDP_PASS or XDP_REDIRECT,
 * exactly one frame is counted and exactly one of classified / unknown /
 * runt / malformed / vlan_stacked moves, and a redirect happens only for a
 * classified frame of a tenant whose node has a target CPU; in MAC-only
 * mode an untagged frame to a known MAC gets its tenant's verdict.
 *
 * Needs root and a kernel that loads the program: otherwise it prints SKIP
 * and exits 77 (ctest: skipped).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <xio/steer.h>
#include <xio/xio.h>

static struct xio_steer *S;
static int prog_fd;
static int mode = -1;

static void die(const char *what, int err)
{
	fprintf(stderr, "fuzz_steer: %s: %s\n", what, xio_strerror(err));
	abort();
}

static void skip(const char *why)
{
	printf("SKIP: %s\n", why);
	exit(77);
}

/* Tenants 0 and 1 on node 0 (target CPU 0): steered; 2 and 3: passed. */
static void setup(void)
{
	uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0};
	uint8_t a6[16] = {0xfd};
	uint32_t a4;
	int err;

	if (geteuid() != 0)
		skip("the steering fuzzer needs root (CAP_BPF, CAP_NET_ADMIN)");
	xio_set_print(NULL);
	err = xio_steer_open(NULL, &S);
	if (err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP)
		skip("cannot load the steering BPF program here");
	if (err)
		die("xio_steer_open", err);
	prog_fd = xio_steer_prog_fd(S);
	if ((err = xio_steer_set_node_target(S, 0, 0)) ||
	    (err = xio_steer_set_tenant_node(S, 0, 0)) ||
	    (err = xio_steer_set_tenant_node(S, 1, 0)))
		die("steer setup", err);
	for (uint32_t t = 0; t < 4; t++) {
		mac[5] = (uint8_t)(t + 1);
		a4 = htonl(0x0a000001 + t); /* 10.0.0.1 + t */
		a6[15] = (uint8_t)(t + 1);  /* fd00::1 + t */
		if ((err = xio_steer_add_mac(S, t, mac)) ||
		    (err = xio_steer_add_ip(S, t, AF_INET, &a4)) ||
		    (err = xio_steer_add_ip(S, t, AF_INET6, a6)))
			die("steer rules", err);
	}
}

static int is_vlan(int proto)
{
	return proto == 0x8100 || proto == 0x88a8;
}

static void stats(struct xio_steer_global_stats *g)
{
	int err = xio_steer_global_stats(S, g);

	if (err)
		die("xio_steer_global_stats", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct xio_steer_global_stats a, b;
	static uint8_t frame[4096], out[4096 + 256];
	uint64_t moved;
	int err;

	if (!S)
		setup();
	if (size < 1 || size - 1 > sizeof(frame))
		return 0;
	if (mode != data[0] % 3) {
		mode = data[0] % 3;
		err = xio_steer_set_ip_mode(S, (enum xio_steer_ip_mode)mode);
		if (err)
			die("xio_steer_set_ip_mode", err);
	}
	memcpy(frame, data + 1, size - 1);
	o.data_in = frame;
	o.data_size_in = (uint32_t)(size - 1);
	o.data_out = out;
	o.data_size_out = sizeof(out);
	stats(&a);
	err = bpf_prog_test_run_opts(prog_fd, &o);
	stats(&b);
	if (err == -EINVAL && size - 1 < 14) {
		if (b.frames != a.frames)
			die("a frame refused by the kernel was counted", 0);
		return 0;
	}
	if (err)
		die("BPF_PROG_TEST_RUN", err);
	if (o.retval != XDP_PASS && o.retval != XDP_REDIRECT)
		die("verdict neither XDP_PASS nor XDP_REDIRECT", 0);
	if (b.frames != a.frames + 1)
		die("frame not counted once", 0);
	moved = (b.classified - a.classified) + (b.unknown - a.unknown) +
		(b.runt - a.runt) + (b.malformed - a.malformed) +
		(b.vlan_stacked - a.vlan_stacked);
	if (moved != 1)
		die("not exactly one reason counted", 0);
	if (o.retval == XDP_REDIRECT && b.classified == a.classified)
		die("redirected an unclassified frame", 0);
	/* MAC only, untagged, to a known MAC: that tenant's verdict. */
	if (mode == XIO_STEER_MAC_ONLY && size - 1 >= 14 && frame[0] == 0x02 &&
	    !memcmp(frame + 1, "\0\0\0\0", 4) && frame[5] >= 1 &&
	    frame[5] <= 4 && !is_vlan(frame[12] << 8 | frame[13])) {
		if (b.classified != a.classified + 1)
			die("a known MAC not classified", 0);
		if (o.retval != (frame[5] <= 2 ? XDP_REDIRECT : XDP_PASS))
			die("wrong verdict for a known MAC", 0);
	}
	return 0;
}
