/* SPDX-License-Identifier: MIT */
/*
 * The AF_XDP fast path on a veth pair in a namespace of our own: an AF_XDP
 * socket (copy mode) on the receiving interface's queue 0, registered for
 * node 0, receives exactly the frames of node 0's tenant, in order, and the
 * kernel stack never sees them; another node's tenant on the same queue takes
 * the CPU hop.  Re-registering the queue for the other node swaps the roles at
 * once; closing the socket makes its frames fall back to the CPU hop.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <xdp/xsk.h>

#include "steer_util.h"

#define RX_IF "xx0"
#define TX_IF "xx1"
#define NFRAMES 1024U
#define FRAME 2048U

enum {
	T_A = 20,
	T_B = 21
};
enum {
	F_A,
	F_B,
	F_U,
	NFLOWS
};

static struct xio_steer *S;
static int tx_fd, rx_fd;
static uint64_t frames_sent;
static uint32_t sent[NFLOWS], xsk_seen[NFLOWS], stack_seen[NFLOWS];
static uint8_t macs[NFLOWS][6];

static struct xsk_umem *umem;
static struct xsk_socket *xsk;
static struct xsk_ring_prod fq;
static struct xsk_ring_cons cq, rxr;
static void *area;

static void send_flow(int flow, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		tf_send(tx_fd, macs[flow], (uint32_t)flow, sent[flow]++);
		if (++frames_sent % 32 == 0)
			wait_frames(S, frames_sent);
	}
	wait_frames(S, frames_sent);
}

/* Take everything in the socket's RX ring; give the buffers back. */
static void xsk_drain(void)
{
	uint32_t idx_rx = 0, idx_fq = 0, n, flow, seq;

	n = xsk_ring_cons__peek(&rxr, 64, &idx_rx);
	if (!n)
		return;
	CHECK_EQ(xsk_ring_prod__reserve(&fq, n, &idx_fq), n);
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d =
			xsk_ring_cons__rx_desc(&rxr, idx_rx + i);
		const uint8_t *p = xsk_umem__get_data(area, d->addr);

		CHECK(tf_parse(p, d->len, &flow, &seq));
		CHECK(flow < NFLOWS);
		CHECK_EQ(seq, xsk_seen[flow]); /* in order, none lost */
		xsk_seen[flow]++;
		*xsk_ring_prod__fill_addr(&fq, idx_fq + i) =
			xsk_umem__extract_addr(d->addr);
	}
	xsk_ring_prod__submit(&fq, n);
	xsk_ring_cons__release(&rxr, n);
}

static void stack_drain(void)
{
	uint8_t buf[2048];
	uint32_t flow, seq;
	ssize_t n;

	while ((n = recv(rx_fd, buf, sizeof(buf), 0)) > 0)
		if (tf_parse(buf, n, &flow, &seq) && flow < NFLOWS)
			stack_seen[flow]++;
}

/* Wait (bounded) until the socket has @a frames of flow A and @b of B,
 * and the stack @sa/@sb/@su; then check that nothing else came. */
static void expect(uint32_t a, uint32_t b, uint32_t sa, uint32_t sb,
		   uint32_t su)
{
	double end = now_s() + 10;

	for (;;) {
		xsk_drain();
		stack_drain();
		if (xsk_seen[F_A] >= a && xsk_seen[F_B] >= b &&
		    stack_seen[F_A] >= sa && stack_seen[F_B] >= sb &&
		    stack_seen[F_U] >= su)
			break;
		if (now_s() > end)
			break;
		usleep(500);
	}
	usleep(20000); /* let any extra frame show up before counting */
	xsk_drain();
	stack_drain();
	CHECK_EQ(xsk_seen[F_A], a);
	CHECK_EQ(xsk_seen[F_B], b);
	CHECK_EQ(xsk_seen[F_U], 0);
	CHECK_EQ(stack_seen[F_A], sa);
	CHECK_EQ(stack_seen[F_B], sb);
	CHECK_EQ(stack_seen[F_U], su);
}

static void check_tenant_w(uint32_t t, uint64_t packets, uint64_t xskd,
			   uint64_t delivered, uint64_t wrong)
{
	struct xio_steer_tenant_stats st;

	wait_delivered(S, t, delivered);
	CHECK_EQ(xio_steer_tenant_stats(S, t, &st, NULL, 0), 0);
	CHECK_EQ(st.packets, packets);
	CHECK_EQ(st.xsk, xskd);
	CHECK_EQ(st.redirected, delivered);
	CHECK_EQ(st.delivered, delivered);
	CHECK_EQ(st.passed, 0);
	CHECK_EQ(st.drops, 0);
	CHECK_EQ(st.wrong_node, wrong);
}

static void check_tenant(uint32_t t, uint64_t packets, uint64_t xskd,
			 uint64_t delivered)
{
	check_tenant_w(t, packets, xskd, delivered, 0);
}

/* veth runs the receive side (and so our program) on the sending CPU:
 * pinning the sender stands for the queue's interrupt affinity. */
static void rx_on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	CHECK_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void xsk_open(void)
{
	struct xsk_umem_config uc = {
		.fill_size = NFRAMES,
		.comp_size = 64,
		.frame_size = FRAME,
		.frame_headroom = 0,
		.flags = 0,
	};
	struct xsk_socket_config sc = {
		.rx_size = NFRAMES,
		.tx_size = 0,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	uint32_t idx = 0;
	int err;

	area = mmap(NULL, (size_t)NFRAMES * FRAME, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(area != MAP_FAILED);
	err = xsk_umem__create(&umem, area, (uint64_t)NFRAMES * FRAME, &fq, &cq,
			       &uc);
	if (err == -EAFNOSUPPORT || err == -ENOPROTOOPT)
		SKIP("AF_XDP unavailable: %s", strerror(-err));
	CHECK_EQ(err, 0);
	err = xsk_socket__create(&xsk, RX_IF, 0, umem, &rxr, NULL, &sc);
	CHECK_EQ(err, 0);
	CHECK_EQ(xsk_ring_prod__reserve(&fq, NFRAMES, &idx), NFRAMES);
	for (uint32_t i = 0; i < NFRAMES; i++)
		*xsk_ring_prod__fill_addr(&fq, idx + i) = (uint64_t)i * FRAME;
	xsk_ring_prod__submit(&fq, NFRAMES);
}

int main(void)
{
	int udp;

	if (geteuid() != 0)
		SKIP("steering tests need root (CAP_BPF, CAP_NET_ADMIN)");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP("needs CPUs 0 and 1 online");
	ns_enter_or_skip("xsk", 55);
	veth_create(RX_IF, TX_IF);
	S = steer_open_or_skip();
	CHECK(xio_steer_nr_cpus(S) >= 2);
	CHECK_EQ(xio_steer_attach(S, RX_IF, XIO_STEER_NATIVE, 0), 0);

	/* nodes 0 and 1 on CPUs 0 and 1; A on node 0, B on node 1 */
	CHECK_EQ(xio_steer_set_cpu_node(S, 0, 0), 0);
	CHECK_EQ(xio_steer_set_cpu_node(S, 1, 1), 0);
	CHECK_EQ(xio_steer_set_node_target(S, 0, 0), 0);
	CHECK_EQ(xio_steer_set_node_target(S, 1, 1), 0);
	mac_of(macs[F_A], T_A, 0);
	mac_of(macs[F_B], T_B, 0);
	memcpy(macs[F_U], "\x02\xee\x00\x00\x00\x09", 6);
	CHECK_EQ(xio_steer_add_mac(S, T_A, macs[F_A]), 0);
	CHECK_EQ(xio_steer_add_mac(S, T_B, macs[F_B]), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, T_A, 0), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, T_B, 1), 0);

	/* the poller of node 0 owns queue 0's AF_XDP socket */
	xsk_open();
	xio_set_print(NULL);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(xio_steer_set_rxq(S, RX_IF, 0, 0, udp) < 0); /* not AF_XDP */
	close(udp);
	CHECK_EQ(xio_steer_set_rxq(S, RX_IF, 0, XIO_STEER_NODES_MAX,
				   xsk_socket__fd(xsk)),
		 -EINVAL);
	CHECK_EQ(xio_steer_set_rxq(S, "xio-nope0", 0, 0, xsk_socket__fd(xsk)),
		 -ENODEV);
	CHECK_EQ(xio_steer_clear_rxq(S, RX_IF, 0), -ENOENT);
	CHECK_EQ(xio_steer_set_rxq(S, RX_IF, 0, 0, xsk_socket__fd(xsk)), 0);
	rx_fd = raw_socket(RX_IF, ETH_P_ALL);
	tx_fd = raw_socket(TX_IF, 0);

	/* 1. A -> the socket (never the stack); B -> CPU hop -> stack */
	rx_on_cpu(0);
	for (int r = 0; r < 5; r++) {
		send_flow(F_A, 20);
		send_flow(F_B, 10);
		send_flow(F_U, 4);
	}
	expect(100, 0, 0, 50, 20);
	check_tenant(T_A, 100, 100, 0);
	check_tenant(T_B, 50, 0, 50);

	/* 2. the queue (and its interrupts) now belong to node 1's poller:
	 * the roles swap at once */
	CHECK_EQ(xio_steer_set_rxq(S, RX_IF, 0, 1, xsk_socket__fd(xsk)), 0);
	rx_on_cpu(1);
	send_flow(F_A, 10);
	send_flow(F_B, 10);
	/* flow B's sequence continues in the socket from 50 */
	xsk_seen[F_B] = 50;
	expect(100, 60, 10, 50, 20);
	check_tenant(T_A, 110, 100, 10);
	check_tenant(T_B, 60, 10, 50);

	/* 3. but if that queue is serviced on node 0's CPU, the frames still
	 * reach the socket and wrong_node says so */
	rx_on_cpu(0);
	send_flow(F_B, 5);
	expect(100, 65, 10, 50, 20);
	check_tenant_w(T_B, 65, 15, 50, 5);

	/* 4. the socket closes: its frames fall back to the CPU hop */
	xsk_socket__delete(xsk);
	xsk = NULL;
	/* libxdp's first socket shares the umem's fd: this closes it */
	CHECK_EQ(xsk_umem__delete(umem), 0);
	umem = NULL;
	send_flow(F_B, 10);
	check_tenant_w(T_B, 75, 15, 60, 5);
	CHECK_EQ(xio_steer_clear_rxq(S, RX_IF, 0), 0);
	CHECK_EQ(xio_steer_clear_rxq(S, RX_IF, 0), -ENOENT);

	xio_steer_close(S);
	munmap(area, (size_t)NFRAMES * FRAME);
	close(rx_fd);
	close(tx_fd);
	return 0;
}
