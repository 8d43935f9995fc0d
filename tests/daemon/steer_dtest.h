/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the steering tests that drive a private xiod through xioctl
 * (test_xiod_steer, test_xiod_pktio): the xiod `d`, xioctl runs, the
 * counters of `xioctl stats --json`, whether an interface has XDP.
 */
#ifndef XIO_STEER_DTEST_H
#define XIO_STEER_DTEST_H

#include "dtest.h"
#include "../bpf/steer_util.h"

static struct xiod d;

/* Run xioctl with @args (a shell fragment) on our xiod; its exit status. */
static int xioctl(const char *args)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s", XIOCTL_PATH, d.sock,
		 args);
	st = system(cmd);
	CHECK(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Output of a shell command (at most @n - 1 bytes). */
static void capture(const char *cmd, char *out, size_t n)
{
	FILE *f = popen(cmd, "r");
	size_t len;

	CHECK(f);
	len = fread(out, 1, n - 1, f);
	out[len] = 0;
	CHECK_EQ(pclose(f), 0);
}

/* @field of tenant @name in `xioctl stats --json`. */
static unsigned long long stat_of(const char *name, const char *field)
{
	static char buf[1 << 16];
	char cmd[512], key[96];
	const char *p, *f;

	snprintf(cmd, sizeof(cmd), "%s --socket %s stats --json", XIOCTL_PATH,
		 d.sock);
	capture(cmd, buf, sizeof(buf));
	snprintf(key, sizeof(key), "\"name\":\"%s\"", name);
	p = strstr(buf, key);
	CHECK(p);
	snprintf(key, sizeof(key), "\"%s\":", field);
	f = strstr(p, key);
	CHECK(f);
	return strtoull(f + strlen(key), NULL, 10);
}

/* Wait (10 s at most) for @field of @name to reach @want, exactly. */
static void wait_stat(const char *name, const char *field,
		      unsigned long long want)
{
	uint64_t deadline = dt_now_ms() + 10000;

	while (stat_of(name, field) < want) {
		CHECK(dt_now_ms() < deadline);
		usleep(20000);
	}
	CHECK_EQ(stat_of(name, field), want);
}

/* A tenant @name of xiod `d` for packet I/O: @nbufs pool slots of
 * @bufsz bytes, a 128-entry SQ. */
static inline struct xio_tenant *pkt_tenant(const char *name, uint32_t nbufs,
					    uint32_t bufsz)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t;

	o.name = name;
	o.params.sq_entries = 128;
	o.params.nr_bufs = nbufs;
	o.params.buf_size = bufsz;
	CHECK_EQ(xio_client_attach(d.sock, &o, &t), 0);
	return t;
}

/* `xioctl steer add @name --mac @mac`: its exit status. */
static inline int steer_add_mac(const char *name, const uint8_t mac[6])
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "steer add %s --mac %02x:%02x:%02x:%02x:%02x:%02x", name,
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return xioctl(cmd);
}

/* The next test frame of @flow on raw socket @fd (10 s at most): its
 * length, its sequence number in *@seq; other frames are skipped. */
static inline ssize_t tf_recv(int fd, uint8_t *buf, size_t n, uint32_t flow,
			      uint32_t *seq)
{
	uint64_t deadline = dt_now_ms() + 10000;
	uint32_t fl;

	for (;;) {
		ssize_t r = recv(fd, buf, n, 0);

		if (r < 0) {
			CHECK(errno == EAGAIN);
			CHECK(dt_now_ms() < deadline);
			usleep(1000);
			continue;
		}
		if (tf_parse(buf, r, &fl, seq) && fl == flow)
			return r; /* else the kernel's own traffic */
	}
}

static bool has_xdp(const char *ifname)
{
	char cmd[128], out[4096];

	snprintf(cmd, sizeof(cmd), "ip link show %s", ifname);
	capture(cmd, out, sizeof(out));
	return strstr(out, " xdp") != NULL;
}

/* A CQE of @qp within @ms (copied out, consumed), or 0. */
static inline int get_cqe(struct xio_qp *qp, struct xio_cqe *out, int ms)
{
	struct xio_cqe *c;

	if (xio_wait_cqe(qp, &c, ms))
		return 0;
	*out = *c;
	xio_cqe_seen(qp, c);
	return 1;
}

#endif
