/* SPDX-License-Identifier: MIT */
/*
 * Node -> CPU placement on real packets.  This machine has one NUMA node, so
 * the test declares two (CPU 0 = node 0, CPU 1 = node 1), places tenant A on
 * node 0 and tenant B on node 1, sends from a thread pinned to CPU 0 and
 * checks through the per-CPU counters that each tenant's frames were
 * processed on its node's CPU and nowhere else; then moves the nodes to the
 * other CPUs at run time, checks the frames follow, checks that a placement
 * that contradicts the CPU -> node table is caught by wrong_node, and that a
 * node without a target passes its tenants' frames to the kernel.
 * It also checks the receive path planned for xiod after the CPU hop: a
 * packet socket whose classic BPF filter accepts only the CPUs of one node
 * (SKF_AD_CPU) sees exactly that node's tenants' frames.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <sched.h>

#include "steer_util.h"

#define RX_IF "xc0"
#define TX_IF "xc1"

enum {
	T_A = 10,
	T_B = 11
};

static struct xio_steer *S;
static int tx_fd, ncpu;
static uint64_t frames_sent;
static uint32_t seq;
static uint8_t mac_a[6], mac_b[6];

/* A packet socket on @ifname that only takes frames processed on @cpu. */
static int cpu_socket(const char *ifname, int cpu)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 (uint32_t)(SKF_AD_OFF + SKF_AD_CPU)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)cpu, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = 4, .filter = code};
	int fd = raw_socket(ifname, ETH_P_ALL);
	uint8_t buf[2048];

	CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			    sizeof(prog)),
		 0);
	while (recv(fd, buf, sizeof(buf), 0) > 0) /* before the filter */
		;
	return fd;
}

/* Count our frames on @fd by destination until @want_a to A and @want_b to
 * B have arrived (bounded: a missing frame fails), then check there are
 * exactly those. */
static void cpu_socket_expect(int fd, uint32_t want_a, uint32_t want_b)
{
	uint32_t a = 0, b = 0, flow, sq;
	double end = now_s() + 10;
	uint8_t buf[2048];
	ssize_t n;

	for (;;) {
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			if (!tf_parse(buf, n, &flow, &sq))
				continue;
			if (!memcmp(buf, mac_a, 6))
				a++;
			else if (!memcmp(buf, mac_b, 6))
				b++;
		}
		if ((a >= want_a && b >= want_b) || now_s() > end)
			break;
		usleep(500);
	}
	CHECK_EQ(a, want_a);
	CHECK_EQ(b, want_b);
}

static void send_n(const uint8_t mac[6], uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		tf_send(tx_fd, mac, 0, seq++);
		if (++frames_sent % 32 == 0)
			wait_frames(S, frames_sent);
	}
	wait_frames(S, frames_sent);
}

/* Per-CPU delivered/wrong_node of @t must equal @d0/@d1 on CPUs 0/1 and be
 * zero elsewhere. */
static void check_cpus(uint32_t t, uint64_t d0, uint64_t d1, uint64_t wrong)
{
	struct xio_steer_tenant_stats pc[ncpu], sum;

	wait_delivered(S, t, d0 + d1);
	CHECK_EQ(xio_steer_tenant_stats(S, t, &sum, pc, (unsigned int)ncpu), 0);
	for (int c = 0; c < ncpu; c++)
		printf("tenant %u cpu %d: packets %llu delivered %llu "
		       "wrong_node %llu\n",
		       t, c, (unsigned long long)pc[c].packets,
		       (unsigned long long)pc[c].delivered,
		       (unsigned long long)pc[c].wrong_node);
	CHECK_EQ(pc[0].delivered, d0);
	CHECK_EQ(pc[1].delivered, d1);
	for (int c = 2; c < ncpu; c++)
		CHECK_EQ(pc[c].delivered, 0);
	CHECK_EQ(sum.wrong_node, wrong);
	CHECK_EQ(sum.redirected, d0 + d1);
	CHECK_EQ(sum.drops, 0);
}

int main(void)
{
	struct xio_steer_tenant_stats st;
	int cpu0_fd, cpu1_fd;
	cpu_set_t set;
	const uint32_t n = 200;

	if (geteuid() != 0)
		SKIP("steering tests need root (CAP_BPF, CAP_NET_ADMIN)");
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 ||
	    sched_setaffinity(0, sizeof(set), &set) != 0)
		SKIP("needs CPUs 0 and 1 online");
	ns_enter_or_skip("cpu", 55);
	veth_create(RX_IF, TX_IF);
	S = steer_open_or_skip();
	ncpu = xio_steer_nr_cpus(S);
	CHECK(ncpu >= 2);
	CHECK_EQ(xio_steer_attach(S, RX_IF, XIO_STEER_NATIVE, 0), 0);

	/* two nodes: CPU 0 is node 0, CPU 1 is node 1 */
	CHECK_EQ(xio_steer_set_cpu_node(S, 0, 0), 0);
	CHECK_EQ(xio_steer_set_cpu_node(S, 1, 1), 0);
	for (int c = 2; c < ncpu; c++)
		CHECK_EQ(xio_steer_set_cpu_node(S, c, -1), 0);
	CHECK_EQ(xio_steer_set_node_target(S, 0, 0), 0);
	CHECK_EQ(xio_steer_set_node_target(S, 1, 1), 0);
	mac_of(mac_a, T_A, 0);
	mac_of(mac_b, T_B, 0);
	CHECK_EQ(xio_steer_add_mac(S, T_A, mac_a), 0);
	CHECK_EQ(xio_steer_add_mac(S, T_B, mac_b), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, T_A, 0), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, T_B, 1), 0);
	tx_fd = raw_socket(TX_IF, 0);

	/* 1. as placed: A on CPU 0, B on CPU 1 (sender on CPU 0) */
	cpu0_fd = cpu_socket(RX_IF, 0);
	cpu1_fd = cpu_socket(RX_IF, 1);
	send_n(mac_a, n);
	send_n(mac_b, n);
	check_cpus(T_A, n, 0, 0);
	check_cpus(T_B, 0, n, 0);
	/* node 1's socket (filter: CPU 1) gets B's frames and only those */
	cpu_socket_expect(cpu1_fd, 0, n);
	cpu_socket_expect(cpu0_fd, n, 0);
	close(cpu0_fd);
	close(cpu1_fd);

	/* 2. swap the nodes' CPUs at run time (and the CPU -> node table
	 * with them): the next frames follow the map */
	CHECK_EQ(xio_steer_set_cpu_node(S, 0, 1), 0);
	CHECK_EQ(xio_steer_set_cpu_node(S, 1, 0), 0);
	CHECK_EQ(xio_steer_set_node_target(S, 0, 1), 0);
	CHECK_EQ(xio_steer_set_node_target(S, 1, 0), 0);
	send_n(mac_a, n);
	send_n(mac_b, n);
	check_cpus(T_A, n, n, 0);
	check_cpus(T_B, n, n, 0);

	/* 3. a placement that contradicts the topology is caught: node 0's
	 * target is CPU 1, which we now declare to be node 1's */
	CHECK_EQ(xio_steer_set_cpu_node(S, 1, 1), 0);
	send_n(mac_a, 50);
	check_cpus(T_A, n, n + 50, 50);
	CHECK_EQ(xio_steer_set_cpu_node(S, 1, 0), 0);
	send_n(mac_a, 10);
	check_cpus(T_A, n, n + 60, 50);

	/* 4. node 1 loses its target: B's frames pass on the rx CPU */
	CHECK_EQ(xio_steer_set_node_target(S, 1, -1), 0);
	send_n(mac_b, 30);
	CHECK_EQ(xio_steer_tenant_stats(S, T_B, &st, NULL, 0), 0);
	CHECK_EQ(st.packets, 2 * n + 30);
	CHECK_EQ(st.passed, 30);
	CHECK_EQ(st.delivered, 2 * n);

	xio_steer_close(S);
	close(tx_fd);
	return 0;
}
