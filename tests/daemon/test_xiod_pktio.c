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
 *  - XDP through a bpf_link: xiod killed with SIGKILL leaves no program.
 *
 * Root only; SKIP without XDP or network namespaces.
 */
#include "steer_dtest.h"

#define NT 3	    /* tenants */
#define NBUF 64	    /* pool slots (and RX buffers posted) per tenant */
#define BUFSZ 2048U /* pool slot size */

static struct xio_tenant *tn[NT];
static uint8_t mac[NT][6];
static const uint8_t SRC[6] = {0x02, 0, 0, 0, 0, 0x01};

/*
 * Frame (flow, seq): dst, SRC, TF ethertype, TF words, then bytes derived
 * from (flow, seq, offset).  Lengths vary between 60 and 1514.
 */
static uint32_t frame_len(uint32_t flow, uint32_t seq)
{
	return 60 + (flow * 977 + seq * 131) % (1514 - 60 + 1);
}

static uint32_t frame_make(uint8_t *f, const uint8_t dst[6], uint32_t flow,
			   uint32_t seq)
{
	uint32_t len = frame_len(flow, seq), w[3], i;

	memcpy(f, dst, 6);
	memcpy(f + 6, SRC, 6);
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

/* The peer's raw socket sees frames (flow, seq0..seq0+n-1), byte-exact. */
static void check_peer(int fd, const uint8_t dst[6], uint32_t flow,
		       uint32_t seq0, uint32_t n)
{
	uint8_t got[2048], want[1600];
	uint32_t i = 0, fl, sq, len;
	uint64_t deadline = dt_now_ms() + 10000;

	while (i < n) {
		ssize_t r = recv(fd, got, sizeof(got), 0);

		if (r < 0) {
			CHECK(errno == EAGAIN);
			CHECK(dt_now_ms() < deadline);
			usleep(1000);
			continue;
		}
		if (!tf_parse(got, r, &fl, &sq) || fl != flow)
			continue; /* not ours (the kernel's own traffic) */
		len = frame_make(want, dst, flow, seq0 + i);
		CHECK_EQ(sq, seq0 + i);
		CHECK_EQ((uint32_t)r, len);
		CHECK(!memcmp(got, want, len));
		i++;
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

int main(void)
{
	static const char *names[NT] = {"pa", "pb", "pc"};
	uint8_t f[1600], unk[6] = {0x02, 0x78, 0x69, 0, 0x09, 0x09};
	unsigned int i, n = SCALE(NBUF) < 8 ? 8 : SCALE(NBUF);
	int k, tx, sniff, st;
	struct xio_cqe c;

	if (geteuid() != 0)
		SKIP("needs root (XDP, AF_XDP, network namespaces)");
	ns_enter_or_skip("xiodpkt", 50);
	veth_create("xp0", "xp1");
	xiod_start(&d, "--cpus", "0", NULL);
	for (k = 0; k < NT; k++) {
		tn[k] = pkt_tenant(names[k], NBUF, BUFSZ);
		mac_of(mac[k], (uint32_t)k + 1, 0);
	}
	st = xioctl("steer attach xp0");
	if (st) {
		xiod_stop(&d);
		SKIP("xiod cannot attach XDP to a veth here (exit %d)", st);
	}
	for (k = 0; k < NT; k++)
		CHECK_EQ(steer_add_mac(names[k], mac[k]), 0);
	/* pa and pb post every slot; pc posts nothing. */
	for (k = 0; k < 2; k++)
		for (i = 0; i < NBUF; i++)
			post_rx(xio_tenant_qp(tn[k], 0), i, BUFSZ, i);
	/* Let the poller take the posts (a NOP answered after them). */
	for (k = 0; k < 2; k++)
		nop_roundtrip(xio_tenant_qp(tn[k], 0), 1000);

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
		CHECK_EQ(tenants, 0);
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

		for (i = 0; i < n; i++) {
			uint32_t len = frame_make(xio_buf_ptr(r, 0), dst, 7, i);

			CHECK_EQ(pkt_send(qp, 0, len), (int)len);
		}
		check_peer(peer, dst, 7, 0, n);
		close(peer);
		CHECK_EQ(pkt_send(qp, 0, 13), -EINVAL); /* < Ethernet */
		CHECK_EQ(pkt_send(qp, 0, 1500 + 19), -EMSGSIZE); /* > MTU */
		CHECK_EQ(pkt_send(qp, 3, 60), -ENXIO);		 /* no port */
		CHECK_EQ(stat_of("pa", "pkt_sent"), n);
		CHECK(stat_of("pa", "bytes_sent") > 0);
	}
	close(tx);
	close(sniff);

	/* bpf_link: SIGKILL leaves no XDP program on xp0. */
	CHECK(has_xdp("xp0"));
	for (k = 0; k < NT; k++)
		xio_client_close(tn[k]);
	CHECK_EQ(kill(d.pid, SIGKILL), 0);
	CHECK_EQ(waitpid(d.pid, &st, 0), d.pid);
	unlink(d.sock);
	rmdir(d.dir);
	{
		uint64_t deadline = dt_now_ms() + 5000;

		/* The link goes with the last reference: soon, not at once. */
		while (has_xdp("xp0")) {
			CHECK(dt_now_ms() < deadline);
			usleep(10000);
		}
	}
	printf("ok: %u frames per tenant delivered exactly, %u dropped "
	       "without buffers, %u sent; no XDP left after SIGKILL\n",
	       2 * n, n, n);
	return 0;
}
