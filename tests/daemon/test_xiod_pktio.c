/* SPDX-License-Identifier: MIT */
/*
 * Tenants' packet I/O through xiod (docs/steering.md, "Delivery into RX
 * rings"): a private xiod in a network namespace, a veth pair, `xioctl
 * steer attach` and a MAC per tenant.  Three tenants post RX buffers
 * (XIO_OP_PKT_RECV) -- the third none -- and the peer sends frames of
 * varied lengths carrying (flow, sequence) and a payload derived from them:
 *
 *  - each tenant completes exactly its frames, in order, byte-exact, with
 *    the frame length as res; 0 misdelivered, 0 lost (below its buffers);
 *  - the tenant without buffers: every frame counted in steer_drops, exactly;
 *  - a buffer too small completes with -EMSGSIZE;
 *  - unknown destinations still reach the kernel stack (a packet socket on
 *    the receiving interface sees them);
 *  - XIO_OP_PKT_SEND: the frames appear on the peer byte-exact, in order;
 *    too short, too long and an unknown port are refused;
 *  - the source MAC of a sent frame must be one steered to the tenant:
 *    another tenant's or a foreign one is refused with -EPERM and counted
 *    in pkt_tx_refused; while a thread flips the source address of the
 *    buffer between the tenant's MAC and a spoofed one, sends racing with
 *    it either succeed or are refused, and the peer never sees a frame
 *    with the spoofed address (the poller checks and sends a private copy
 *    of the header);
 *  - XDP through a bpf_link: xiod killed with SIGKILL leaves no program.
 *
 * With the argument "2" xiod runs two pollers: the veth's only receive queue
 * is read by poller 0, pa and pc are served there and pb by poller 1, so
 * every frame of pb crosses the hand-off ring between the pollers, and the
 * same checks hold for it (exact, in order, byte-exact, 0 misdelivered).
 *
 * With "hop" (one poller) or "hop2" (two), xp0 is attached with --no-xsk:
 * no AF_XDP socket, so every steered frame takes the CPU hop (CPUMAP to
 * the node's CPU, --steer-cpus 1 with one poller) and is read by poller 0
 * with its packet socket; the same checks hold, and also: a second
 * interface with an AF_XDP socket (xq0) carries pa's frames while xp0
 * carries pb's, and each frame is delivered once (the packet socket never
 * takes a frame of the fast path); a MAC deleted at run time is not
 * delivered from the next frame on, added back it is; an 802.1Q-tagged
 * frame arrives with its tag, byte-exact (the kernel untags it before the
 * packet socket; xiod puts it back); frames to an unknown MAC for pb's
 * IPv4 (plain and tagged) and IPv6 addresses reach pb (the IP rules).
 *
 * Root only; SKIP without XDP or network namespaces.
 */
#include "steer_dtest.h"

#include <pthread.h>

#define NT 3	    /* tenants */
#define NBUF 64	    /* pool slots (and RX buffers posted) per tenant */
#define BUFSZ 2048U /* pool slot size */

static struct xio_tenant *tn[NT];
static uint8_t mac[NT][6];
static const uint8_t SRC[6] = {0x02, 0, 0, 0, 0, 0x01};

/*
 * Frame (flow, seq): dst, src, TF ethertype, TF words, then bytes derived
 * from (flow, seq, offset).  Lengths vary between 60 and 1514.
 */
static uint32_t frame_len(uint32_t flow, uint32_t seq)
{
	return 60 + (flow * 977 + seq * 131) % (1514 - 60 + 1);
}

static uint32_t frame_from(uint8_t *f, const uint8_t dst[6],
			   const uint8_t src[6], uint32_t flow, uint32_t seq)
{
	uint32_t len = frame_len(flow, seq), w[3], i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = TF_ETHERTYPE >> 8;
	f[13] = TF_ETHERTYPE & 0xff;
	w[0] = htonl(TF_MAGIC);
	w[1] = htonl(flow);
	w[2] = htonl(seq);
	memcpy(f + 14, w, sizeof(w));
	for (i = 26; i < len; i++)
		f[i] = (uint8_t)(i * 7 + flow * 13 + seq);
	return len;
}

/* A frame from the peer (source SRC). */
static uint32_t frame_make(uint8_t *f, const uint8_t dst[6], uint32_t flow,
			   uint32_t seq)
{
	return frame_from(f, dst, SRC, flow, seq);
}

static void post_rx(struct xio_qp *qp, uint32_t slot, uint32_t len, uint64_t ud)
{
	struct xio_sqe *s = xio_get_sqe(qp);

	CHECK(s);
	xio_prep_pkt_recv(s, slot, 0, len, ud);
	CHECK_EQ(xio_submit(qp), 1);
}

/* Tenant @k completes its @n frames from @seq0 in order, byte-exact, into
 * the buffers it posted (user_data = slot), none of another flow. */
static void check_rx(int k, uint32_t seq0, uint32_t n)
{
	struct xio_qp *qp = xio_tenant_qp(tn[k], 0);
	struct xio_region *r = xio_tenant_region(tn[k]);
	uint8_t want[1600];
	struct xio_cqe c;
	uint32_t i, flow, seq, len;

	for (i = 0; i < n; i++) {
		CHECK(get_cqe(qp, &c, 10000));
		CHECK(c.user_data < NBUF);
		len = frame_make(want, mac[k], (uint32_t)k, seq0 + i);
		CHECK_EQ(c.res, (int)len);
		CHECK(tf_parse(xio_buf_ptr(r, (uint32_t)c.user_data), c.res,
			       &flow, &seq));
		CHECK_EQ(flow, (uint32_t)k); /* 0 misdelivered */
		CHECK_EQ(seq, seq0 + i);     /* in order */
		CHECK(!memcmp(xio_buf_ptr(r, (uint32_t)c.user_data), want,
			      len)); /* byte-exact */
		/* recycle the buffer for the next round */
		post_rx(qp, (uint32_t)c.user_data, BUFSZ, c.user_data);
	}
}

/* The peer's raw socket sees frames (flow, seq0..seq0+n-1) from @src,
 * byte-exact. */
static void check_peer(int fd, const uint8_t dst[6], const uint8_t src[6],
		       uint32_t flow, uint32_t seq0, uint32_t n)
{
	uint8_t got[2048], want[1600];
	uint32_t i, sq, len;
	ssize_t r;

	for (i = 0; i < n; i++) {
		r = tf_recv(fd, got, sizeof(got), flow, &sq);
		len = frame_from(want, dst, src, flow, seq0 + i);
		CHECK_EQ(sq, seq0 + i);
		CHECK_EQ(r, (ssize_t)len);
		CHECK(!memcmp(got, want, len));
	}
}

static int pkt_send(struct xio_qp *qp, uint32_t port, uint32_t len)
{
	struct xio_sqe *s = xio_get_sqe(qp);
	struct xio_cqe c;

	CHECK(s);
	xio_prep_pkt_send(s, port, 0, 0, len, 77);
	CHECK_EQ(xio_submit(qp), 1);
	CHECK(get_cqe(qp, &c, 10000));
	CHECK_EQ(c.user_data, 77);
	return c.res;
}

/* Rewrites the source address of a frame between two MACs until told. */
struct flipper {
	uint8_t *src; /* in the tenant's pool */
	const uint8_t *mac[2];
	int stop;
	uint64_t flips;
};

static void *flip_main(void *arg)
{
	struct flipper *fl = arg;
	int j;

	while (!__atomic_load_n(&fl->stop, __ATOMIC_RELAXED)) {
		const uint8_t *m = fl->mac[fl->flips++ & 1];

		for (j = 0; j < 6; j++)
			__atomic_store_n(&fl->src[j], m[j], __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Sends of one buffer whose source address another thread flips between
 * pa's MAC and @spoof: each completes with its length or -EPERM, and the
 * peer sees exactly the ones that succeeded, all from pa's MAC.  Returns
 * how many were refused.
 */
static uint32_t tx_flip_race(struct xio_qp *qp, struct xio_region *r, int peer,
			     const uint8_t dst[6], const uint8_t spoof[6],
			     uint32_t rounds)
{
	struct flipper fl = {.mac = {mac[0], spoof}};
	uint8_t want[1600], got[2048];
	uint32_t len = frame_from(xio_buf_ptr(r, 1), dst, mac[0], 8, 0);
	uint32_t rd, i, ok = 0, refused = 0, seen = 0, fw, sq;
	pthread_t th;
	struct xio_cqe c;

	frame_from(want, dst, mac[0], 8, 0);
	fl.src = (uint8_t *)xio_buf_ptr(r, 1) + 6;
	CHECK_EQ(pthread_create(&th, NULL, flip_main, &fl), 0);
	for (rd = 0; rd < rounds; rd++) {
		for (i = 0; i < 32; i++) {
			struct xio_sqe *s = xio_get_sqe(qp);

			CHECK(s);
			xio_prep_pkt_send(s, 0, 1, 0, len, 88);
		}
		CHECK_EQ(xio_submit(qp), 32);
		for (i = 0; i < 32; i++) {
			CHECK(get_cqe(qp, &c, 10000));
			CHECK_EQ(c.user_data, 88);
			if (c.res == -EPERM) {
				refused++;
			} else {
				CHECK_EQ(c.res, (int)len);
				ok++;
			}
		}
		/* The peer: exactly the sent ones, none spoofed. */
		for (; seen < ok; seen++) {
			CHECK_EQ(tf_recv(peer, got, sizeof(got), 8, &sq),
				 (ssize_t)len);
			CHECK(!memcmp(got, want, len)); /* pa's MAC, intact */
		}
	}
	__atomic_store_n(&fl.stop, 1, __ATOMIC_RELAXED);
	CHECK_EQ(pthread_join(th, NULL), 0);
	usleep(50000); /* nothing more arrives */
	for (;;) {
		ssize_t got_n = recv(peer, got, sizeof(got), 0);

		if (got_n < 0)
			break;
		CHECK(!tf_parse(got, got_n, &fw, &sq) || fw != 8);
	}
	printf("flip race: %u sent, %u refused, %llu flips\n", ok, refused,
	       (unsigned long long)fl.flips);
	return refused;
}

/* Frame @f sent through @tx arrives byte-exact in tenant @k's buffer. */
static void check_frame(int k, int tx, const uint8_t *f, uint32_t len)
{
	struct xio_qp *qp = xio_tenant_qp(tn[k], 0);
	struct xio_region *r = xio_tenant_region(tn[k]);
	struct xio_cqe c;

	CHECK_EQ(send(tx, f, len, 0), (ssize_t)len);
	CHECK(get_cqe(qp, &c, 10000));
	CHECK(c.user_data < NBUF);
	CHECK_EQ(c.res, (int)len);
	CHECK(!memcmp(xio_buf_ptr(r, (uint32_t)c.user_data), f, len));
	post_rx(qp, (uint32_t)c.user_data, BUFSZ, c.user_data);
}

/* A tagged frame (VLAN @tci, then the TF header of @flow / @seq) to pa
 * through @tx arrives byte-exact, tag included, in pa's buffer. */
static void check_tagged(int tx, uint16_t tci, uint32_t flow, uint32_t seq)
{
	uint8_t f[1600];
	uint32_t len = frame_make(f + 4, mac[0], flow, seq) + 4;

	memmove(f, f + 4, 12);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = (uint8_t)(tci >> 8);
	f[15] = (uint8_t)tci;
	check_frame(0, tx, f, len);
}

/* Frames to an unknown MAC for pb's IPv4 address, plain and tagged, and
 * for its IPv6 address: pb's by the IP rules (the reader's copy of them). */
static void check_ip(int tx)
{
	static const uint8_t ip6[16] = {0xfd, 0x78, 0x69, [15] = 2};
	uint8_t f[128], t[132];
	uint32_t i;

	char cmd[128];
	int j;

	for (j = 0; j < 2; j++) { /* with its MAC again: xioctl wants one */
		snprintf(cmd, sizeof(cmd),
			 "steer add pb --mac %02x:%02x:%02x:%02x:%02x:%02x "
			 "--ip %s",
			 mac[1][0], mac[1][1], mac[1][2], mac[1][3], mac[1][4],
			 mac[1][5], j ? "fd78:6900::2" : "10.9.9.2");
		CHECK_EQ(xioctl(cmd), 0);
	}
	memset(f, 0, sizeof(f));
	memcpy(f, "\x02\x78\x69\x00\x0e\x0e", 6);
	memcpy(f + 6, SRC, 6);
	f[12] = 0x08; /* IPv4, 20-byte header, to 10.9.9.2 */
	f[14] = 0x45;
	f[17] = 60 - 14;
	f[23] = 17;
	memcpy(f + 30, "\x0a\x09\x09\x02", 4);
	for (i = 34; i < 60; i++)
		f[i] = (uint8_t)i;
	check_frame(1, tx, f, 60);
	memcpy(t, f, 12); /* tagged: the copy is classified with its tag */
	memcpy(t + 12, "\x81\x00\x00\x09", 4);
	memcpy(t + 16, f + 12, 48);
	check_frame(1, tx, t, 64);
	f[12] = 0x86; /* IPv6 to fd78:6900::2 */
	f[13] = 0xdd;
	memset(f + 14, 0, 40);
	f[14] = 0x60;
	memcpy(f + 14 + 24, ip6, 16);
	check_frame(1, tx, f, 80);
}

/*
 * Hop mode, after two rounds (2 * @n frames each for pa and pb): pa's
 * frames over xq0 (AF_XDP) beside pb's over xp0 (hop), each delivered
 * once; a MAC deleted and added back at run time; tagged frames.
 */
static void hop_steps(int tx, int txq, uint32_t n)
{
	uint32_t i, s0 = 2 * n, m = n / 2 ? n / 2 : 1;
	uint8_t f[1600];
	struct xio_cqe c;

	for (i = 0; i < n; i++) {
		CHECK_EQ(send(txq, f, frame_make(f, mac[0], 0, s0 + i), 0),
			 (ssize_t)frame_len(0, s0 + i));
		CHECK_EQ(send(tx, f, frame_make(f, mac[1], 1, s0 + i), 0),
			 (ssize_t)frame_len(1, s0 + i));
	}
	check_rx(0, s0, n);
	check_rx(1, s0, n);
	/* Nothing twice: no further completion, exact counts. */
	CHECK(!get_cqe(xio_tenant_qp(tn[0], 0), &c, 100));
	CHECK(!get_cqe(xio_tenant_qp(tn[1], 0), &c, 0));
	CHECK_EQ(stat_of("pa", "pkt_received"), 3ULL * n);
	CHECK_EQ(stat_of("pb", "pkt_received"), 3ULL * n);

	/* pa's MAC deleted: its next frames reach no tenant (pb's, sent
	 * after them, arrive); added back: the next frames are pa's. */
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd),
			 "steer del pa --mac %02x:%02x:%02x:%02x:%02x:%02x",
			 mac[0][0], mac[0][1], mac[0][2], mac[0][3], mac[0][4],
			 mac[0][5]);
		CHECK_EQ(xioctl(cmd), 0);
	}
	s0 = 3 * n;
	for (i = 0; i < m; i++)
		CHECK_EQ(send(tx, f, frame_make(f, mac[0], 0, s0 + i), 0),
			 (ssize_t)frame_len(0, s0 + i));
	for (i = 0; i < m; i++)
		CHECK_EQ(send(tx, f, frame_make(f, mac[1], 1, s0 + i), 0),
			 (ssize_t)frame_len(1, s0 + i));
	check_rx(1, s0, m);
	CHECK(!get_cqe(xio_tenant_qp(tn[0], 0), &c, 50));
	CHECK_EQ(steer_add_mac("pa", mac[0]), 0);
	for (i = 0; i < m; i++)
		CHECK_EQ(send(tx, f, frame_make(f, mac[0], 0, s0 + m + i), 0),
			 (ssize_t)frame_len(0, s0 + m + i));
	check_rx(0, s0 + m, m);
	CHECK_EQ(stat_of("pa", "pkt_received"), 3ULL * n + m);

	/* Tagged, through the hop and through the AF_XDP socket. */
	check_tagged(tx, 0x2005, 0, 5000);
	check_tagged(txq, 0x0007, 0, 5001);
	CHECK(!get_cqe(xio_tenant_qp(tn[0], 0), &c, 50));
	check_ip(tx);
}

int main(int argc, char **argv)
{
	bool hop = argc > 1 && !strncmp(argv[1], "hop", 3);
	bool two =
		argc > 1 && (!strcmp(argv[1], "2") || !strcmp(argv[1], "hop2"));
	bool cpu2 = sysconf(_SC_NPROCESSORS_ONLN) > 1;
	static const char *names[NT] = {"pa", "pb", "pc"};
	uint8_t f[1600], unk[6] = {0x02, 0x78, 0x69, 0, 0x09, 0x09};
	unsigned int i, n = SCALE(NBUF) < 8 ? 8 : SCALE(NBUF);
	int k, tx, txq = -1, sniff, st;
	struct xio_cqe c;

	if (geteuid() != 0)
		SKIP("needs root (XDP, AF_XDP, network namespaces)");
	ns_enter_or_skip(hop ? (two ? "xiodpkth2" : "xiodpkth") :
			       (two ? "xiodpkt2" : "xiodpkt"),
			 50);
	veth_create("xp0", "xp1");
	if (hop)
		veth_create("xq0", "xq1");
	if (two)
		xiod_start(&d, "--pollers", "2", "--cpus", cpu2 ? "0,1" : "0,0",
			   NULL);
	else if (hop) /* the node's frames hop to the other CPU */
		xiod_start(&d, "--cpus", "0", "--steer-cpus", cpu2 ? "1" : "0",
			   NULL);
	else
		xiod_start(&d, "--cpus", "0", NULL);
	if (hop) {
		/* Send from the target CPU: the frames the program passes
		 * there (unknown destinations) and the fast path's (none
		 * become skbs) are then all in reach of the reader's filter,
		 * which must not take them. */
		cpu_set_t cs;

		CPU_ZERO(&cs);
		CPU_SET(cpu2 && !two ? 1 : 0, &cs);
		CHECK_EQ(sched_setaffinity(0, sizeof(cs), &cs), 0);
	}
	for (k = 0; k < NT; k++) {
		tn[k] = pkt_tenant(names[k], NBUF, BUFSZ);
		mac_of(mac[k], (uint32_t)k + 1, 0);
	}
	/* pa and pb post every slot, before the attach: the pollers then go
	 * to sleep with nothing to do, and the sockets and hand-off rings made
	 * by the attach must wake them (poller 1 slept before any ring
	 * existed).  pc posts nothing. */
	for (k = 0; k < 2; k++)
		for (i = 0; i < NBUF; i++)
			post_rx(xio_tenant_qp(tn[k], 0), i, BUFSZ, i);
	/* Let the poller take the posts (a NOP answered after them). */
	for (k = 0; k < 2; k++)
		nop_roundtrip(xio_tenant_qp(tn[k], 0), 1000);
	usleep(100000); /* idle: asleep */
	st = xioctl(hop ? "steer attach xp0 --no-xsk" : "steer attach xp0");
	if (!st && hop)
		st = xioctl("steer attach xq0");
	if (st) {
		xiod_stop(&d);
		SKIP("xiod cannot attach XDP to a veth here (exit %d)", st);
	}
	for (k = 0; k < NT; k++)
		CHECK_EQ(steer_add_mac(names[k], mac[k]), 0);
	/* Placement: least loaded poller, in attach order. */
	CHECK_EQ(stat_of("pa", "poller"), 0);
	CHECK_EQ(stat_of("pb", "poller"), two ? 1 : 0);

	/* Round 1: n frames per tenant, interleaved, plus unknown ones. */
	tx = raw_socket("xp1", 0);
	sniff = raw_socket("xp0", ETH_P_ALL);
	for (i = 0; i < n; i++) {
		for (k = 0; k < NT; k++)
			CHECK_EQ(send(tx, f,
				      frame_make(f, mac[k], (uint32_t)k, i), 0),
				 (ssize_t)frame_len((uint32_t)k, i));
		CHECK_EQ(send(tx, f, frame_make(f, unk, 9, i), 0),
			 (ssize_t)frame_len(9, i));
	}
	check_rx(0, 0, n);
	check_rx(1, 0, n);
	wait_stat("pc", "steer_drops", n); /* no buffers: all dropped */
	CHECK_EQ(stat_of("pa", "steer_drops"), 0);
	CHECK_EQ(stat_of("pb", "steer_drops"), 0);
	CHECK(!get_cqe(xio_tenant_qp(tn[2], 0), &c, 0));
	/* Unknown destinations reached the stack; tenants' frames did not. */
	{
		uint8_t g[2048];
		uint32_t fl, sq, unknown = 0, tenants = 0;
		ssize_t r;
		uint64_t deadline = dt_now_ms() + 10000;

		while (unknown < n) {
			r = recv(sniff, g, sizeof(g), 0);
			if (r < 0) {
				CHECK(dt_now_ms() < deadline);
				usleep(1000);
				continue;
			}
			if (!tf_parse(g, r, &fl, &sq))
				continue;
			if (fl == 9)
				CHECK_EQ(sq, unknown++);
			else
				tenants++;
		}
		/* the hop's frames enter the stack too (a packet socket is a
		 * tap); the fast path's never do */
		CHECK(hop || tenants == 0);
	}
	/* Round 2 on the recycled buffers: still exact. */
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++)
			CHECK_EQ(send(tx, f,
				      frame_make(f, mac[k], (uint32_t)k, n + i),
				      0),
				 (ssize_t)frame_len((uint32_t)k, n + i));
	check_rx(0, n, n);
	check_rx(1, n, n);
	CHECK(!get_cqe(xio_tenant_qp(tn[0], 0), &c, 50)); /* nothing more */
	CHECK_EQ(stat_of("pa", "steer_drops"), 0);
	CHECK_EQ(stat_of("pa", "pkt_received"), 2ULL * n);
	CHECK_EQ(stat_of("pc", "pkt_received"), 0);
	if (hop) {
		txq = raw_socket("xq1", 0);
		hop_steps(tx, txq, n);
		close(txq);
	}

	/* A buffer smaller than the frame: -EMSGSIZE, counted as a drop. */
	{
		struct xio_qp *qp = xio_tenant_qp(tn[2], 0);

		post_rx(qp, 0, 32, 5);
		CHECK_EQ(send(tx, f, frame_make(f, mac[2], 2, 1000), 0),
			 (ssize_t)frame_len(2, 1000));
		CHECK(get_cqe(qp, &c, 10000));
		CHECK_EQ(c.user_data, 5);
		CHECK_EQ(c.res, -EMSGSIZE);
		wait_stat("pc", "steer_drops", n + 1ULL);
	}

	/* TX: pa's frames out of port 0 (xp0) appear on xp1 byte-exact. */
	{
		struct xio_qp *qp = xio_tenant_qp(tn[0], 0);
		struct xio_region *r = xio_tenant_region(tn[0]);
		int peer = raw_socket("xp1", ETH_P_ALL);
		uint8_t dst[6] = {0x02, 0x78, 0x69, 0, 0x07, 0x07};

		uint32_t refused;

		for (i = 0; i < n; i++) {
			uint32_t len = frame_from(xio_buf_ptr(r, 0), dst,
						  mac[0], 7, i);

			CHECK_EQ(pkt_send(qp, 0, len), (int)len);
		}
		check_peer(peer, dst, mac[0], 7, 0, n);
		/* Another tenant's source MAC, a foreign one: refused. */
		CHECK_EQ(pkt_send(qp, 0,
				  frame_from(xio_buf_ptr(r, 0), dst, mac[1], 7,
					     n)),
			 -EPERM);
		CHECK_EQ(
			pkt_send(qp, 0,
				 frame_from(xio_buf_ptr(r, 0), dst, SRC, 7, n)),
			-EPERM);
		CHECK_EQ(stat_of("pa", "pkt_tx_refused"), 2);
		CHECK_EQ(stat_of("pb", "pkt_tx_refused"), 0);
		refused = tx_flip_race(qp, r, peer, dst, mac[1], SCALE(32));
		CHECK_EQ(stat_of("pa", "pkt_tx_refused"), 2ULL + refused);
		CHECK_EQ(stat_of("pa", "pkt_sent"),
			 n + 32ULL * SCALE(32) - refused);
		close(peer);
		CHECK_EQ(pkt_send(qp, 0, 13), -EINVAL); /* < Ethernet */
		CHECK_EQ(pkt_send(qp, 0, 1500 + 19), -EMSGSIZE); /* > MTU */
		CHECK_EQ(pkt_send(qp, 3, 60), -ENXIO);		 /* no port */
		CHECK(stat_of("pa", "bytes_sent") > 0);
		/* A MAC moved to another tenant is no longer pa's to send
		 * from; given back, it is again. */
		CHECK_EQ(steer_add_mac("pb", mac[0]), 0);
		CHECK_EQ(pkt_send(qp, 0,
				  frame_from(xio_buf_ptr(r, 0), dst, mac[0], 7,
					     n)),
			 -EPERM);
		CHECK_EQ(steer_add_mac("pa", mac[0]), 0);
		CHECK_EQ(pkt_send(qp, 0,
				  frame_from(xio_buf_ptr(r, 0), dst, mac[0], 7,
					     n)),
			 (int)frame_len(7, n));
	}
	close(tx);
	close(sniff);

	/* bpf_link: SIGKILL leaves no XDP program on xp0.  Two pollers:
	 * SIGTERM, a clean exit (sockets, hand-off rings, pollers). */
	CHECK(has_xdp("xp0"));
	for (k = 0; k < NT; k++)
		xio_client_close(tn[k]);
	if (two) {
		xiod_stop(&d);
	} else {
		CHECK_EQ(kill(d.pid, SIGKILL), 0);
		CHECK_EQ(waitpid(d.pid, &st, 0), d.pid);
		unlink(d.sock);
		rmdir(d.dir);
	}
	{
		uint64_t deadline = dt_now_ms() + 5000;

		/* The link goes with the last reference: soon, not at once. */
		while (has_xdp("xp0")) {
			CHECK(dt_now_ms() < deadline);
			usleep(10000);
		}
	}
	printf("ok: %u frames per tenant delivered exactly%s%s, %u dropped "
	       "without buffers, %u sent; no XDP left after %s\n",
	       2 * n, hop ? " after the CPU hop" : "",
	       two ? " (pb's through the hand-off ring)" : "", n, n,
	       two ? "SIGTERM" : "SIGKILL");
	return 0;
}
