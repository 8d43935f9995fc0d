/* SPDX-License-Identifier: MIT */
/* Helpers shared by the steering tests. */
#ifndef XIO_TEST_STEER_UTIL_H
#define XIO_TEST_STEER_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xio/steer.h>
#include <xio/xio.h>

#include "../xtest.h"

/* Root, and a kernel that loads the program: otherwise a SKIP line. */
static inline struct xio_steer *steer_open_or_skip(void)
{
	struct xio_steer *s = NULL;
	int err;

	if (geteuid() != 0)
		SKIP("steering tests need root (CAP_BPF, CAP_NET_ADMIN)");
	err = xio_steer_open(NULL, &s);
	if (err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP)
		SKIP("cannot load the steering BPF program here: %s",
		     xio_strerror(err));
	if (err) {
		fprintf(stderr, "FAIL xio_steer_open: %s\n", xio_strerror(err));
		exit(1);
	}
	return s;
}

static inline void mac_of(uint8_t mac[6], uint32_t tenant, uint32_t n)
{
	/* locally administered unicast 02:78:69:TT:TT:NN */
	mac[0] = 0x02;
	mac[1] = 0x78;
	mac[2] = 0x69;
	mac[3] = (uint8_t)(tenant >> 8);
	mac[4] = (uint8_t)tenant;
	mac[5] = (uint8_t)n;
}

/* ---- a network namespace of our own, removed at exit even on failure */

static char ns_name[64];

static void ns_cleanup(void)
{
	char cmd[128];

	if (!ns_name[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns_name);
	ns_name[0] = 0;
	if (system(cmd) != 0)
		fprintf(stderr, "warning: %s failed\n", cmd);
}

static void ns_on_signal(int sig)
{
	ns_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Create namespace xio-TAG-PID, move this process into it (so ip(8) run by
 * system() and every socket we open live there) and arm the cleanup: atexit
 * (covers CHECK failures), fatal signals, and an alarm after @limit_s.
 */
static inline void ns_enter_or_skip(const char *tag, unsigned int limit_s)
{
	char cmd[160], path[128];
	int fd;

	if (system("ip -V >/dev/null 2>&1") != 0)
		SKIP("ip(8) not found (apt-get install iproute2)");
	snprintf(ns_name, sizeof(ns_name), "xio-%s-%d", tag, (int)getpid());
	snprintf(cmd, sizeof(cmd), "ip netns add %s", ns_name);
	if (system(cmd) != 0) {
		ns_name[0] = 0;
		SKIP("cannot create a network namespace (%s)", cmd);
	}
	atexit(ns_cleanup);
	signal(SIGTERM, ns_on_signal);
	signal(SIGINT, ns_on_signal);
	signal(SIGALRM, ns_on_signal);
	signal(SIGSEGV, ns_on_signal);
	signal(SIGABRT, ns_on_signal);
	alarm(limit_s);
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
		SKIP("cannot enter network namespace %s: %s", ns_name,
		     strerror(errno));
	close(fd);
}

static inline void sh(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void sh(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "FAIL: %s\n", cmd);
		exit(1);
	}
}

/* veth pair @a <-> @b in the current namespace, IPv6 off (no stray
 * router solicitations), both up. */
static inline void veth_create(const char *a, const char *b)
{
	sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true");
	sh("ip link add %s type veth peer name %s", a, b);
	sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 "
	   "net.ipv6.conf.%s.disable_ipv6=1 2>/dev/null || true",
	   a, b);
	sh("ip link set %s up && ip link set %s up", a, b);
}

/* A raw packet socket bound to @ifname: @proto 0 = send only. */
static inline int raw_socket(const char *ifname, int proto)
{
	struct sockaddr_ll sll = {0};
	int fd, rcvbuf = 4 << 20;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    htons((uint16_t)proto));
	CHECK(fd >= 0);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons((uint16_t)proto);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	CHECK(sll.sll_ifindex > 0);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	return fd;
}

/* Test frames: ethertype 0x88b5 (local experimental), payload magic, the
 * flow number and a per-flow sequence number. */
#define TF_ETHERTYPE 0x88b5
#define TF_MAGIC 0x58494f54U /* "XIOT" */
#define TF_LEN 60

/* Test frame (flow, seq) to @dst in @f (TF_LEN bytes). */
static inline void tf_build(uint8_t *f, const uint8_t dst[6], uint32_t flow,
			    uint32_t seq)
{
	uint32_t w[3] = {htonl(TF_MAGIC), htonl(flow), htonl(seq)};

	memset(f, 0, TF_LEN);
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = TF_ETHERTYPE >> 8;
	f[13] = TF_ETHERTYPE & 0xff;
	memcpy(f + 14, w, sizeof(w));
}

static inline void tf_send(int fd, const uint8_t dst[6], uint32_t flow,
			   uint32_t seq)
{
	uint8_t f[TF_LEN];

	tf_build(f, dst, flow, seq);
	CHECK_EQ(send(fd, f, sizeof(f), 0), TF_LEN);
}

/* Parse one received frame: 1 and flow/seq set if it is ours, else 0. */
static inline int tf_parse(const uint8_t *f, ssize_t n, uint32_t *flow,
			   uint32_t *seq)
{
	uint32_t w[3];

	if (n < 14 + 12 || f[12] != (TF_ETHERTYPE >> 8) ||
	    f[13] != (TF_ETHERTYPE & 0xff))
		return 0;
	memcpy(w, f + 14, sizeof(w));
	if (ntohl(w[0]) != TF_MAGIC)
		return 0;
	*flow = ntohl(w[1]);
	*seq = ntohl(w[2]);
	return 1;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t steer_frames(struct xio_steer *s)
{
	struct xio_steer_global_stats g;

	CHECK_EQ(xio_steer_global_stats(s, &g), 0);
	return g.frames;
}

/* Wait (bounded, 10 s: a stuck datapath fails, it is no timing check) until
 * the classifier has seen @want frames in total. */
static inline void wait_frames(struct xio_steer *s, uint64_t want)
{
	double end = now_s() + 10;
	uint64_t got;

	while ((got = steer_frames(s)) < want) {
		if (now_s() > end) {
			fprintf(stderr,
				"FAIL: classifier saw %llu frames, "
				"want %llu\n",
				(unsigned long long)got,
				(unsigned long long)want);
			exit(1);
		}
		usleep(200);
	}
}

/* Sum of @tenant's delivered counter (second stage, target CPU). */
static inline uint64_t tenant_delivered(struct xio_steer *s, uint32_t tenant)
{
	struct xio_steer_tenant_stats st;

	CHECK_EQ(xio_steer_tenant_stats(s, tenant, &st, NULL, 0), 0);
	return st.delivered;
}

static inline void wait_delivered(struct xio_steer *s, uint32_t tenant,
				  uint64_t want)
{
	double end = now_s() + 10;

	while (tenant_delivered(s, tenant) < want) {
		if (now_s() > end) {
			fprintf(stderr,
				"FAIL: tenant %u delivered %llu, "
				"want %llu\n",
				tenant,
				(unsigned long long)tenant_delivered(s, tenant),
				(unsigned long long)want);
			exit(1);
		}
		usleep(200);
	}
}

#endif
