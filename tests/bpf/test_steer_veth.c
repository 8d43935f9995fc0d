/* SPDX-License-Identifier: MIT */
/*
 * Steering with real packets on a veth pair inside a network namespace made
 * by the test (removed at exit, also on failure):
 *  - attach refuses an interface that already has an XDP program, replaces
 *    it when asked, and detach puts the old one back;
 *  - frames sent from the peer with a raw packet socket to several tenant
 *    MACs are counted exactly per tenant (packets, bytes, redirected,
 *    delivered on the target CPU), in order per flow, none lost;
 *  - frames to unknown MACs reach the kernel stack (counted as unknown and
 *    seen by a raw socket on the receiving interface);
 *  - adding, moving and deleting a MAC at run time takes effect at once;
 *  - a tenant whose node has no target is passed to the kernel and counted;
 *  - generic mode attaches too, and close detaches what is still attached.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "steer_util.h"

#define RX_IF "xs0" /* XDP attached here */
#define TX_IF "xs1" /* frames sent from here */

enum {
	T_A = 1,
	T_B = 2,
	T_C = 3
};

/* flows: index = flow number in the frame */
struct flow {
	uint8_t mac[6];
	int tenant; /* expected tenant, -1 = unknown (kernel stack) */
	uint32_t sent;
	uint32_t seen;	   /* raw socket on RX_IF */
	uint32_t next_seq; /* next sequence number expected */
};
static struct flow flows[16];
static int nflows;
static struct xio_steer *S;
static int tx_fd, rx_fd;
static uint64_t frames_sent;

static int add_flow(const uint8_t mac[6], int tenant)
{
	memcpy(flows[nflows].mac, mac, 6);
	flows[nflows].tenant = tenant;
	return nflows++;
}

/* Receive everything pending on the RX raw socket; check per-flow order. */
static void drain(void)
{
	uint8_t buf[2048];
	uint32_t flow, seq;
	ssize_t n;

	while ((n = recv(rx_fd, buf, sizeof(buf), 0)) > 0) {
		if (!tf_parse(buf, n, &flow, &seq))
			continue;
		CHECK(flow < (uint32_t)nflows);
		if (seq != flows[flow].next_seq) {
			fprintf(stderr,
				"FAIL flow %u: seq %u, want %u "
				"(reordered or lost)\n",
				flow, seq, flows[flow].next_seq);
			exit(1);
		}
		flows[flow].next_seq++;
		flows[flow].seen++;
	}
	CHECK(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* Send @n frames on @flow in bursts, waiting for the classifier between
 * bursts so that no queue on the way overflows (this tests accounting, not
 * capacity). */
static void send_flow(int flow, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		tf_send(tx_fd, flows[flow].mac, (uint32_t)flow,
			flows[flow].sent++);
		frames_sent++;
		if (frames_sent % 32 == 0)
			wait_frames(S, frames_sent);
	}
	wait_frames(S, frames_sent);
}

/* Wait until the RX raw socket has seen @want frames of @flow. */
static void wait_seen(int flow, uint32_t want)
{
	double end = now_s() + 10;

	for (;;) {
		drain();
		if (flows[flow].seen >= want)
			break;
		if (now_s() > end) {
			fprintf(stderr, "FAIL flow %d: seen %u of %u\n", flow,
				flows[flow].seen, want);
			exit(1);
		}
		usleep(500);
	}
	CHECK_EQ(flows[flow].seen, want);
}

static void check_tenant(uint32_t t, uint64_t packets, uint64_t delivered,
			 uint64_t passed)
{
	struct xio_steer_tenant_stats st;

	wait_delivered(S, t, delivered);
	CHECK_EQ(xio_steer_tenant_stats(S, t, &st, NULL, 0), 0);
	CHECK_EQ(st.packets, packets);
	CHECK_EQ(st.bytes, packets * TF_LEN);
	CHECK_EQ(st.redirected, delivered);
	CHECK_EQ(st.delivered, delivered);
	CHECK_EQ(st.passed, passed);
	CHECK_EQ(st.drops, 0);
	CHECK_EQ(st.wrong_node, 0);
}

static uint32_t prog_id_of(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	CHECK_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.id;
}

static uint32_t xdp_id(const char *ifname, uint32_t mode_flags)
{
	uint32_t id = 0;

	CHECK_EQ(bpf_xdp_query_id((int)if_nametoindex(ifname), (int)mode_flags,
				  &id),
		 0);
	return id;
}

int main(void)
{
	static const struct bpf_insn pass_insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K,
		 .dst_reg = BPF_REG_0,
		 .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};
	uint8_t m[8][6], unk1[6] = {0x02, 0xee, 0, 0, 0, 1},
			 unk2[6] = {0x02, 0xee, 0, 0, 0, 2};
	struct xio_steer_global_stats g0, g1;
	int fa0, fa1, fb, fc, fu1, fu2, fnew, old_fd, err;
	uint32_t old_id, our_id;
	uint64_t a_pk, b_pk, c_pk;

	if (geteuid() != 0)
		SKIP("steering tests need root (CAP_BPF, CAP_NET_ADMIN)");
	ns_enter_or_skip("veth", 55);
	veth_create(RX_IF, TX_IF);
	S = steer_open_or_skip();
	our_id = prog_id_of(xio_steer_prog_fd(S));

	/* Someone else's XDP program is there first. */
	old_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xio_test_pass", "GPL",
			       pass_insns, 2, NULL);
	CHECK(old_fd >= 0);
	old_id = prog_id_of(old_fd);
	CHECK_EQ(bpf_xdp_attach((int)if_nametoindex(RX_IF), old_fd,
				XDP_FLAGS_DRV_MODE, NULL),
		 0);
	CHECK_EQ(xdp_id(RX_IF, XDP_FLAGS_DRV_MODE), old_id);
	xio_set_print(NULL); /* the refusal below warns */
	CHECK_EQ(xio_steer_attach(S, RX_IF, XIO_STEER_NATIVE, 0), -EBUSY);
	CHECK_EQ(xdp_id(RX_IF, XDP_FLAGS_DRV_MODE), old_id);
	CHECK_EQ(xio_steer_attach(S, RX_IF, XIO_STEER_NATIVE, 0xf0), -EINVAL);
	err = xio_steer_attach(S, RX_IF, XIO_STEER_NATIVE,
			       XIO_STEER_ATTACH_REPLACE);
	if (err == -EOPNOTSUPP)
		SKIP("native XDP on veth unsupported here");
	CHECK_EQ(err, 0);
	CHECK_EQ(xdp_id(RX_IF, XDP_FLAGS_DRV_MODE), our_id);
	CHECK_EQ(xio_steer_attach(S, RX_IF, XIO_STEER_NATIVE, 0), -EALREADY);

	/* Tenants A, B, C on node 0, processed on CPU 0. */
	CHECK_EQ(xio_steer_set_node_target(S, 0, 0), 0);
	CHECK_EQ(xio_steer_set_cpu_node(S, 0, 0), 0);
	for (int t = T_A; t <= T_C; t++)
		CHECK_EQ(xio_steer_set_tenant_node(S, (uint32_t)t, 0), 0);
	for (int i = 0; i < 8; i++)
		mac_of(m[i],
		       (uint32_t)(i < 2 ? T_A :
				  i < 3 ? T_B :
					  T_C),
		       (uint32_t)i);
	fa0 = add_flow(m[0], T_A);
	fa1 = add_flow(m[1], T_A);
	fb = add_flow(m[2], T_B);
	fc = add_flow(m[3], T_C);
	fu1 = add_flow(unk1, -1);
	fu2 = add_flow(unk2, -1);
	fnew = add_flow(m[4], T_C); /* T_C's second MAC, added later */
	CHECK_EQ(xio_steer_add_mac(S, T_A, m[0]), 0);
	CHECK_EQ(xio_steer_add_mac(S, T_A, m[1]), 0);
	CHECK_EQ(xio_steer_add_mac(S, T_B, m[2]), 0);
	CHECK_EQ(xio_steer_add_mac(S, T_C, m[3]), 0);

	rx_fd = raw_socket(RX_IF, ETH_P_ALL);
	tx_fd = raw_socket(TX_IF, 0);
	CHECK_EQ(xio_steer_global_stats(S, &g0), 0);
	frames_sent = g0.frames;

	/* 1. several tenants and unknown MACs, interleaved */
	for (int round = 0; round < 4; round++) {
		send_flow(fa0, 25);
		send_flow(fb, 15);
		send_flow(fu1, 10);
		send_flow(fa1, 5);
		send_flow(fc, 10);
		send_flow(fu2, 3);
	}
	check_tenant(T_A, 120, 120, 0);
	check_tenant(T_B, 60, 60, 0);
	check_tenant(T_C, 40, 40, 0);
	CHECK_EQ(xio_steer_global_stats(S, &g1), 0);
	CHECK_EQ(g1.classified - g0.classified, 220);
	CHECK_EQ(g1.unknown - g0.unknown, 52);
	CHECK_EQ(g1.frames - g0.frames, 272);
	CHECK_EQ(g1.malformed + g1.runt + g1.vlan_stacked, 0);
	/* The kernel stack saw every frame: unknown ones passed on the rx
	 * CPU, tenant ones after the hop (until xiod takes them instead). */
	for (int f = 0; f < nflows; f++)
		wait_seen(f, flows[f].sent);

	/* 2. run-time rule changes take effect for the very next frame */
	CHECK_EQ(xio_steer_del_mac(S, m[2]), 0); /* B loses its MAC */
	flows[fb].tenant = -1;
	send_flow(fb, 20);
	CHECK_EQ(xio_steer_add_mac(S, T_C, m[4]), 0); /* C gains one */
	send_flow(fnew, 20);
	CHECK_EQ(xio_steer_add_mac(S, T_B, m[0]), 0); /* A's MAC moves to B */
	send_flow(fa0, 7);
	check_tenant(T_A, 120, 120, 0);
	check_tenant(T_B, 67, 67, 0);
	check_tenant(T_C, 60, 60, 0);
	CHECK_EQ(xio_steer_global_stats(S, &g1), 0);
	CHECK_EQ(g1.unknown - g0.unknown, 72);

	/* 3. a tenant on a node without a target: passed, counted */
	CHECK_EQ(xio_steer_set_tenant_node(S, T_C, 7), 0);
	send_flow(fc, 9);
	check_tenant(T_C, 69, 60, 9);
	CHECK_EQ(xio_steer_set_tenant_node(S, T_C, 0), 0);
	send_flow(fc, 1);
	check_tenant(T_C, 70, 61, 9);
	for (int f = 0; f < nflows; f++)
		wait_seen(f, flows[f].sent);

	/* 4. detach puts the replaced program back */
	CHECK_EQ(xio_steer_detach(S, RX_IF), 0);
	CHECK_EQ(xdp_id(RX_IF, XDP_FLAGS_DRV_MODE), old_id);
	CHECK_EQ(xio_steer_detach(S, RX_IF), -ENOENT);
	a_pk = tenant_delivered(S, T_A);
	b_pk = tenant_delivered(S, T_B);
	c_pk = tenant_delivered(S, T_C);
	for (int i = 0; i < 5; i++)
		tf_send(tx_fd, m[3], (uint32_t)fc, flows[fc].sent++);
	wait_seen(fc, flows[fc].sent); /* arrived, past the old program */
	CHECK_EQ(tenant_delivered(S, T_C), c_pk);
	CHECK_EQ(tenant_delivered(S, T_A), a_pk);
	CHECK_EQ(tenant_delivered(S, T_B), b_pk);

	/* 4b. someone replaces our program after us: detach leaves theirs */
	CHECK_EQ(xio_steer_attach(S, RX_IF, XIO_STEER_NATIVE,
				  XIO_STEER_ATTACH_REPLACE),
		 0);
	CHECK_EQ(xdp_id(RX_IF, XDP_FLAGS_DRV_MODE), our_id);
	{
		LIBBPF_OPTS(bpf_xdp_attach_opts, ro);

		ro.old_prog_fd = xio_steer_prog_fd(S);
		CHECK_EQ(bpf_xdp_attach((int)if_nametoindex(RX_IF), old_fd,
					XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE,
					&ro),
			 0);
	}
	CHECK_EQ(xio_steer_detach(S, RX_IF), 0);
	CHECK_EQ(xdp_id(RX_IF, XDP_FLAGS_DRV_MODE), old_id);

	/* 5. generic mode on the other end; close detaches it */
	CHECK_EQ(xdp_id(TX_IF, XDP_FLAGS_SKB_MODE), 0);
	CHECK_EQ(xio_steer_attach(S, TX_IF, XIO_STEER_GENERIC, 0), 0);
	CHECK_EQ(xdp_id(TX_IF, XDP_FLAGS_SKB_MODE), our_id);
	{
		/* frames the other way are steered in generic mode too */
		int back = raw_socket(RX_IF, 0);
		uint64_t a_pk0 = tenant_delivered(S, T_A);
		struct xio_steer_tenant_stats st;

		for (uint32_t i = 0; i < 12; i++)
			tf_send(back, m[1], 99, i);
		wait_delivered(S, T_A, a_pk0 + 12);
		CHECK_EQ(xio_steer_tenant_stats(S, T_A, &st, NULL, 0), 0);
		CHECK_EQ(st.delivered, a_pk0 + 12);
		CHECK_EQ(st.redirected, st.delivered);
		CHECK_EQ(st.wrong_node, 0);
		close(back);
	}
	xio_steer_close(S);
	CHECK_EQ(xdp_id(TX_IF, XDP_FLAGS_SKB_MODE), 0);
	CHECK_EQ(xdp_id(RX_IF, XDP_FLAGS_DRV_MODE), old_id);
	(void)fu1;
	(void)fu2;
	close(old_fd);
	close(rx_fd);
	close(tx_fd);
	printf("veth steering: %llu frames, per-tenant counts exact\n",
	       (unsigned long long)frames_sent);
	return 0;
}
