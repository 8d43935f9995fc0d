/* SPDX-License-Identifier: MIT */
/*
 * Fault injection on the packet paths (docs/security.md, "Fault
 * injection"; needs -DXIO_FAULT_INJECT=ON, root, XDP and network
 * namespaces: SKIP otherwise).  A private xiod with
 *
 *   xsk       AF_XDP socket / UMEM creation at `steer attach`
 *   xsk_fill  refilling the fill ring (the batch is taken again later)
 *   pkt_rx    a steered frame that finds no RX buffer
 *   pkt_tx    XIO_OP_PKT_SEND refused before io_uring (-ENOBUFS)
 *   cqe       the io_uring result of a PKT_SEND
 *   handoff   a full hand-off ring: xiod runs two pollers, the second
 *             tenant on the one that owns no socket
 *
 * at random points, and every injection accounted for, exactly:
 *
 *   xsk      == the queues xiod reported without a socket (its log); each
 *               failed attach detached again leaves xiod at its fd count
 *   xsk_fill == retried, and no frame lost: sent == received + dropped
 *   pkt_rx + handoff == the tenants' drops (steer_drops), with buffers
 *               always posted; every received frame whole, in order
 *   pkt_tx   == -ENOBUFS CQEs, and those frames never reach the peer
 *   cqe      == other error or short PKT_SEND CQEs (those were sent)
 *
 * and xiod exits cleanly at the end (ASan: no leak).
 *
 * With the argument "hop", xf0 is attached with --no-xsk: every frame takes
 * the CPU hop and poller 0's packet socket, whose creation is the site
 *
 *   hop      packet socket / ring creation at `steer attach`
 *
 * and hop == the packet sockets xiod reported missing; pkt_rx + handoff ==
 * steer_drops exactly as on the AF_XDP path.
 */
#ifndef XIO_FAULT_INJECT
#include <stdio.h>
#include <stdlib.h>

#include "xtest.h"

int main(void)
{
	SKIP("built without -DXIO_FAULT_INJECT=ON");
}
#else
#include "steer_dtest.h"

#define NT 2	    /* tenants */
#define NBUF 64	    /* pool slots (RX buffers posted) per tenant */
#define BUFSZ 2048U /* pool slot size */
#define K 32	    /* frames per tenant per round (< NBUF: never short) */

static const char *const names[NT] = {"fa", "fb"};
static struct xio_tenant *tn[NT];
static uint8_t mac[NT][6];
static char log_path[128], report_path[128];
static bool hop; /* "hop": no AF_XDP socket, every frame hops */

/* Lines of xiod's log containing @what. */
static unsigned int log_count(const char *what)
{
	FILE *f = fopen(log_path, "r");
	char line[512];
	unsigned int n = 0;

	CHECK(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* injected and retried of @site in xiod's fault report. */
static void report(const char *site, unsigned long long *inj,
		   unsigned long long *ret)
{
	FILE *f = fopen(report_path, "r");
	unsigned long long a, b, c;
	char name[32];

	CHECK(f);
	*inj = *ret = ~0ULL;
	while (fscanf(f, "%31s %llu %llu %llu", name, &a, &b, &c) == 4)
		if (!strcmp(name, site)) {
			*inj = a;
			*ret = b;
		}
	fclose(f);
	CHECK(*inj != ~0ULL);
}

static void post_rx(struct xio_qp *qp, uint32_t slot)
{
	struct xio_sqe *s = xio_get_sqe(qp);

	CHECK(s);
	xio_prep_pkt_recv(s, slot, 0, BUFSZ, slot);
	CHECK_EQ(xio_submit(qp), 1);
}

/*
 * `steer attach` until every receive queue got its AF_XDP socket (hop: the
 * node its packet socket); each attempt where one failed (an injected xsk
 * or hop fault) is detached again and must leave xiod at the same fd
 * count.  Returns the failed sockets.
 */
static unsigned int attach_until_sockets(void)
{
	const char *ok_line = hop ? "-> packet socket of poller" :
				    "-> AF_XDP socket of poller";
	const char *fail_line = hop ? "no packet socket" : "no AF_XDP socket";
	unsigned int fails = 0, oks, f, tries;
	int fds = -1;

	for (tries = 0; tries < 50; tries++) {
		oks = log_count(ok_line);
		f = log_count(fail_line);
		if (xioctl(hop ? "steer attach xf0 --no-xsk" :
				 "steer attach xf0")) {
			CHECK(tries == 0); /* a fault never fails the attach */
			xiod_stop(&d);
			SKIP("xiod cannot attach XDP to a veth here");
		}
		oks = log_count(ok_line) - oks;
		f = log_count(fail_line) - f;
		CHECK(oks + f > 0);
		fails += f;
		if (!f)
			return fails;
		CHECK_EQ(xioctl("steer detach xf0"), 0);
		if (fds < 0)
			fds = fd_count(d.pid);
		else
			CHECK_EQ(fd_count(d.pid), fds); /* nothing leaked */
	}
	CHECK(!"no attach got its sockets in 50 tries");
	return fails;
}

/* The frames tenant @k received since the last call: whole, in order. */
static unsigned int drain_rx(int k, uint32_t *next_seq, unsigned int n)
{
	struct xio_qp *qp = xio_tenant_qp(tn[k], 0);
	struct xio_region *r = xio_tenant_region(tn[k]);
	uint8_t want[TF_LEN];
	uint32_t flow, seq;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct xio_cqe c = wait_one(qp);
		const uint8_t *b;

		CHECK(c.user_data < NBUF);
		CHECK_EQ(c.res, TF_LEN);
		b = xio_buf_ptr(r, (uint32_t)c.user_data);
		CHECK(tf_parse(b, c.res, &flow, &seq));
		CHECK_EQ(flow, (uint32_t)k);
		CHECK(seq >= *next_seq); /* in order; gaps are drops */
		tf_build(want, mac[k], flow, seq);
		CHECK(!memcmp(b, want, TF_LEN));
		*next_seq = seq + 1;
		post_rx(qp, (uint32_t)c.user_data);
	}
	return n;
}

/* Rounds of K frames per tenant: received + dropped == sent, exactly. */
static unsigned long long rx_rounds(unsigned int rounds)
{
	unsigned long long sent = 0, got[NT] = {0}, drops = 0;
	uint32_t next[NT] = {0};
	unsigned int r, i;
	int k, tx = raw_socket("xf1", 0);

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < K; i++)
			for (k = 0; k < NT; k++)
				tf_send(tx, mac[k], (uint32_t)k, r * K + i);
		sent += K;
		for (k = 0; k < NT; k++) {
			uint64_t deadline = dt_now_ms() + 10000;
			unsigned long long rcv, drp;

			for (;;) {
				rcv = stat_of(names[k], "pkt_received");
				drp = stat_of(names[k], "steer_drops");
				if (rcv + drp >= sent)
					break;
				CHECK(dt_now_ms() < deadline);
				usleep(5000);
			}
			CHECK_EQ(rcv + drp, sent); /* none lost, none twice */
			got[k] += drain_rx(k, &next[k],
					   (unsigned int)(rcv - got[k]));
		}
	}
	for (k = 0; k < NT; k++) {
		wait_stat(names[k], "pkt_received", got[k]); /* all drained */
		drops += stat_of(names[k], "steer_drops");
	}
	close(tx);
	printf("rx: %llu frames per tenant sent, %llu + %llu received, %llu dropped\n",
	       sent, got[0], got[1], drops);
	return drops;
}

/* PKT_SEND of @n frames: refused (-ENOBUFS) ones never reach the peer. */
static void tx_frames(unsigned int n, unsigned int *refused,
		      unsigned int *faulted)
{
	struct xio_qp *qp = xio_tenant_qp(tn[0], 0);
	struct xio_region *r = xio_tenant_region(tn[0]);
	static const uint8_t dst[6] = {0x02, 0x78, 0x69, 0, 0x07, 0x07};
	uint8_t *sent = calloc(n, 1), g[2048];
	unsigned int i, want = 0, seen = 0;
	uint32_t sq, last = 0;
	int peer = raw_socket("xf1", ETH_P_ALL);

	CHECK(sent);
	*refused = *faulted = 0;
	for (i = 0; i < n; i++) {
		struct xio_sqe *s = xio_get_sqe(qp);
		struct xio_cqe c;

		tf_build(xio_buf_ptr(r, 0), dst, 7, i);
		/* from its own MAC: others are refused (-EPERM) */
		memcpy((uint8_t *)xio_buf_ptr(r, 0) + 6, mac[0], 6);
		CHECK(s);
		xio_prep_pkt_send(s, 0, 0, 0, TF_LEN, i);
		CHECK_EQ(xio_submit(qp), 1);
		c = wait_one(qp);
		CHECK_EQ(c.user_data, i);
		if (c.res == -ENOBUFS) {
			(*refused)++;
			continue;
		}
		sent[i] = 1; /* a faulted result: the frame went out */
		want++;
		if (c.res != TF_LEN)
			(*faulted)++;
	}
	/* The peer sees exactly the frames that were not refused. */
	while (seen < want) {
		CHECK_EQ(tf_recv(peer, g, sizeof(g), 7, &sq), TF_LEN);
		CHECK(sq < n && sent[sq] && (!seen || sq > last));
		last = sq;
		seen++;
	}
	close(peer);
	free(sent);
	printf("tx: %u sent, %u refused, %u with a faulted result; the peer saw %u\n",
	       n, *refused, *faulted, seen);
}

int main(int argc, char **argv)
{
	unsigned long long inj, hinj, ret, drops;
	unsigned int xsk_fails, refused, faulted, k, i;
	int saved, lf;

	hop = argc > 1 && !strcmp(argv[1], "hop");
	if (geteuid() != 0)
		SKIP("needs root (XDP, AF_XDP, network namespaces)");
	ns_enter_or_skip(hop ? "xiodpktfh" : "xiodpktf", 100);
	veth_create("xf0", "xf1");
	snprintf(log_path, sizeof(log_path), "/tmp/xio-fault-pktio-%d.log",
		 (int)getpid());
	snprintf(report_path, sizeof(report_path),
		 "/tmp/xio-fault-pktio-%d.txt", (int)getpid());
	/* hop only in hop mode: an AF_XDP attach makes packet sockets too */
	setenv("XIO_FAULTS",
	       hop ? "hop=0.4,xsk_fill=0.2,pkt_rx=0.1,pkt_tx=0.1:ENOBUFS,"
		     "cqe=0.1,handoff=0.1,seed=23" :
		     "xsk=0.4,xsk_fill=0.2,pkt_rx=0.1,pkt_tx=0.1:ENOBUFS,"
		     "cqe=0.1,handoff=0.1,seed=23",
	       1);
	setenv("XIO_FAULTS_REPORT", report_path, 1);
	/* xiod's log (its stderr) into a file: the failed sockets. */
	fflush(stderr);
	saved = dup(2);
	lf = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(saved >= 0 && lf >= 0 && dup2(lf, 2) == 2);
	xiod_start(&d, "--pollers", "2", "--cpus",
		   sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "0,1" : "0,0",
		   "--log-level", "info", NULL);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	close(lf);
	unsetenv("XIO_FAULTS");
	for (k = 0; k < NT; k++) {
		tn[k] = pkt_tenant(names[k], NBUF, BUFSZ);
		mac_of(mac[k], k + 1, 0);
	}
	CHECK_EQ(stat_of("fb", "poller"), 1); /* its frames: hand-off */
	xsk_fails = attach_until_sockets();
	for (k = 0; k < NT; k++) {
		CHECK_EQ(steer_add_mac(names[k], mac[k]), 0);
		for (i = 0; i < NBUF; i++)
			post_rx(xio_tenant_qp(tn[k], 0), i);
		nop_roundtrip(xio_tenant_qp(tn[k], 0), 1000);
	}
	drops = rx_rounds(SCALE(40) < 8 ? 8 : SCALE(40));
	tx_frames(SCALE(400) < 100 ? 100 : SCALE(400), &refused, &faulted);

	CHECK_EQ(xioctl("steer detach xf0"), 0);
	CHECK(!has_xdp("xf0"));
	for (k = 0; k < NT; k++)
		xio_client_close(tn[k]);
	xiod_stop(&d); /* a clean exit writes the report */

	report(hop ? "hop" : "xsk", &inj, &ret);
	printf("%s: injected %llu == sockets refused %u\n", hop ? "hop" : "xsk",
	       inj, xsk_fails);
	CHECK_EQ(inj, xsk_fails);
	CHECK_EQ(ret, 0);
	CHECK(xsk_fails > 0);
	report(hop ? "xsk" : "hop", &inj, &ret);
	CHECK_EQ(inj, 0); /* the other site: not configured or not reached */
	report("xsk_fill", &inj, &ret);
	printf("xsk_fill: injected %llu == retried %llu\n", inj, ret);
	CHECK_EQ(inj, ret);
	report("pkt_rx", &inj, &ret);
	report("handoff", &hinj, &ret);
	printf("pkt_rx + handoff: injected %llu + %llu == dropped %llu\n", inj,
	       hinj, drops);
	CHECK_EQ(inj + hinj, drops);
	CHECK(inj > 0 && hinj > 0);
	report("pkt_tx", &inj, &ret);
	printf("pkt_tx: injected %llu == refused %u\n", inj, refused);
	CHECK_EQ(inj, refused);
	CHECK(refused > 0);
	report("cqe", &inj, &ret);
	printf("cqe: injected %llu == faulted PKT_SEND results %u\n", inj,
	       faulted);
	CHECK_EQ(inj, faulted);
	CHECK(faulted > 0);
	unlink(report_path);
	unlink(log_path);
	printf("ok: every packet-path fault accounted for\n");
	return 0;
}
#endif
