/* SPDX-License-Identifier: MIT */
/*
 * xio-bench steer: frames per second delivered into tenants' receive rings
 * through xio steering, beside the kernel path a host would otherwise use,
 * in the same run, on the same CPUs (issue 6, docs/steering.md).
 *
 * In a private network namespace (root only; exit 77 otherwise):
 *
 *   xio:    sender --veth--> xb0 [XDP xio_steer -> AF_XDP socket of xiod's
 *           poller] -> copied into the RX buffer a tenant posted
 *           (XIO_OP_PKT_RECV); the tenants' CQEs are reaped and the buffers
 *           posted again by one thread.
 *   hop:    sender --veth--> hb0 (attached with --no-xsk) [XDP xio_steer ->
 *           CPUMAP to the node's target CPU (the poller's, CPU B, or
 *           --steer-cpu N) -> skb -> xiod's packet socket (TPACKET_V2)] ->
 *           the same tenants' RX buffers, the same reaper.
 *   kernel: sender --veth--> kb0 [Linux bridge br0, a static FDB entry per
 *           tenant MAC] -> veth kt<i>a -> kt<i>b, read by a packet socket
 *           per tenant with recvmmsg(2) by one thread (epoll).
 *
 * The sender (a packet socket with PACKET_QDISC_BYPASS, sendmmsg of 64
 * frames of 60 bytes, the tenants' MACs in turn) runs on CPU A, where the
 * veth receive softirq then runs too (XDP, or the bridge); xiod's poller
 * and the tenants' reaper, or the recvmmsg reader, on CPU B.  Metric:
 * frames delivered per second to tenants (after a warm-up), frames sent per
 * second, and the ratio xio / kernel.  Every delivered frame's flow number
 * is checked against its tenant (misdelivered must be 0; frames without
 * one, the kernel's own traffic on the endpoints, are not counted).
 *
 * With --pollers 2 the run measures the hand-off between pollers instead of
 * the kernel path: xiod runs two pollers, both on CPU B; poller 0 owns xb0's
 * only receive queue (queue q goes to poller q % 2) and the tenants are
 * placed in turn on poller 0 and 1.  Phase "direct" sends only to poller 0's
 * tenants, phase "handoff" only to poller 1's, so each of those frames is
 * copied by poller 0 into the (0 -> 1) hand-off ring and delivered by
 * poller 1.  Drops are xiod's per-tenant steer_drops (no RX buffer posted,
 * hand-off ring full) during the measured interval.
 *
 * usage: xio-bench [options] steer [--xiod PATH] [--tenants N] [--secs S]
 *                                  [--pollers 1|2] [--steer-cpu N]
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#define ST_MAX_TENANTS 8
#define ST_BUFS 2048U /* RX buffers each tenant keeps posted (4 MiB) */
#define ST_BUF_SIZE 2048U
#define ST_BATCH 64U
#define ST_FRAME 60U
#define ST_ETHERTYPE 0x88b5

struct st {
	struct bench_ctx *ctx;
	unsigned int nt;
	uint8_t mac[ST_MAX_TENANTS][6];
	struct xio_tenant *t[ST_MAX_TENANTS];
	struct xio_admin *adm;
	uint32_t poller[ST_MAX_TENANTS]; /* serving each tenant */
	unsigned int tx[ST_MAX_TENANTS]; /* tenants sent to this phase */
	unsigned int ntx;
	int ks[ST_MAX_TENANTS]; /* kernel path: packet socket per tenant */
	const char *tx_if;	/* sender's interface this phase */
	int stop;		/* atomic */
	uint64_t sent;		/* atomic, sender */
	uint64_t delivered;	/* atomic, reaper */
	uint64_t misdelivered;	/* atomic, reaper */
};

__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		bench_die("setup failed: %s", cmd);
}

static void ctr_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static uint64_t ctr_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static bool stopped(struct st *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

/* The flow (tenant index) a frame carries, or -1. */
static int frame_flow(const uint8_t *f, size_t len)
{
	uint32_t w;

	if (len < 18 || f[12] != (ST_ETHERTYPE >> 8) ||
	    f[13] != (ST_ETHERTYPE & 0xff))
		return -1;
	memcpy(&w, f + 14, 4);
	return (int)ntohl(w);
}

/* ---- sender (CPU A) ----------------------------------------------------- */

static void *sender(void *arg)
{
	struct st *s = arg;
	static uint8_t frames[ST_BATCH][ST_FRAME];
	struct mmsghdr msg[ST_BATCH];
	struct iovec iov[ST_BATCH];
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	uint64_t sent = 0;
	int fd, one = 1, i;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		bench_die("packet socket: %s", strerror(errno));
	sll.sll_ifindex = (int)if_nametoindex(s->tx_if);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		bench_die("bind %s: %s", s->tx_if, strerror(errno));
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < (int)ST_BATCH; i++) {
		uint8_t *f = frames[i];
		unsigned int k = s->tx[(unsigned int)i % s->ntx];
		uint32_t flow = htonl(k);

		memset(f, 0, ST_FRAME);
		memcpy(f, s->mac[k], 6);
		memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
		f[12] = ST_ETHERTYPE >> 8;
		f[13] = ST_ETHERTYPE & 0xff;
		memcpy(f + 14, &flow, 4);
		iov[i].iov_base = f;
		iov[i].iov_len = ST_FRAME;
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stopped(s)) {
		int n = sendmmsg(fd, msg, ST_BATCH, 0);

		if (n > 0) {
			sent += (uint64_t)n;
			ctr_set(&s->sent, sent);
		} else if (errno != ENOBUFS && errno != EAGAIN &&
			   errno != EINTR) {
			bench_die("sendmmsg: %s", strerror(errno));
		}
	}
	close(fd);
	return NULL;
}

/* ---- xio: the tenants' reaper (CPU B) ----------------------------------- */

static void post_rx(struct xio_qp *qp, uint32_t slot)
{
	struct xio_sqe *q = xio_get_sqe(qp);

	if (!q)
		bench_die("internal: SQ full");
	xio_prep_pkt_recv(q, slot, 0, ST_BUF_SIZE, slot);
}

static void *xio_reaper(void *arg)
{
	struct st *s = arg;
	uint64_t got = 0, bad = 0;
	unsigned int k;

	while (!stopped(s)) {
		bool any = false;

		for (k = 0; k < s->nt; k++) {
			struct xio_qp *qp = xio_tenant_qp(s->t[k], 0);
			struct xio_region *r = xio_tenant_region(s->t[k]);
			struct xio_cqe *c[ST_BATCH];
			uint32_t n = xio_peek_batch_cqe(qp, c, ST_BATCH), i;

			for (i = 0; i < n; i++) {
				uint32_t slot = (uint32_t)c[i]->user_data;

				int f = c[i]->res > 0 ?
						frame_flow(xio_buf_ptr(r, slot),
							   (size_t)c[i]->res) :
						-1;

				got += f >= 0;
				bad += f >= 0 && f != (int)k;
				post_rx(qp, slot);
			}
			if (n) {
				xio_cq_advance(qp, n);
				xio_submit(qp);
				any = true;
			}
		}
		if (any) {
			ctr_set(&s->delivered, got);
			ctr_set(&s->misdelivered, bad);
		} else {
			sched_yield(); /* the poller shares this CPU */
		}
	}
	return NULL;
}

/* ---- kernel: recvmmsg on the bridge's endpoints (CPU B) ----------------- */

static void *kernel_reader(void *arg)
{
	struct st *s = arg;
	static uint8_t bufs[ST_BATCH][2048];
	struct mmsghdr msg[ST_BATCH];
	struct iovec iov[ST_BATCH];
	struct epoll_event ev[ST_MAX_TENANTS];
	uint64_t got = 0, bad = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), i, n, k;

	if (ep < 0)
		bench_die("epoll: %s", strerror(errno));
	for (k = 0; k < (int)s->nt; k++) {
		struct epoll_event e = {.events = EPOLLIN,
					.data.u32 = (uint32_t)k};

		epoll_ctl(ep, EPOLL_CTL_ADD, s->ks[k], &e);
	}
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < (int)ST_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stopped(s)) {
		int ne = epoll_wait(ep, ev, ST_MAX_TENANTS, 10);

		for (i = 0; i < ne; i++) {
			k = (int)ev[i].data.u32;
			while ((n = recvmmsg(s->ks[k], msg, ST_BATCH,
					     MSG_DONTWAIT, NULL)) > 0) {
				for (int j = 0; j < n; j++) {
					int f = frame_flow(bufs[j],
							   msg[j].msg_len);

					/* < 0: the kernel's own traffic */
					got += f >= 0;
					bad += f >= 0 && f != k;
				}
			}
		}
		ctr_set(&s->delivered, got);
		ctr_set(&s->misdelivered, bad);
	}
	close(ep);
	return NULL;
}

/* ---- one measured phase ------------------------------------------------- */

struct phase {
	double delivered_pps, sent_pps;
	uint64_t misdelivered, drops;
};

/* xiod's steer_drops of the tenants sent to (0 without the admin link). */
static uint64_t tx_drops(struct st *s)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; s->adm && i < s->ntx; i++) {
		struct xio_tenant_stats ts = {.sz = sizeof(ts)};
		char name[32];

		snprintf(name, sizeof(name), "steer%u", s->tx[i]);
		if (xio_admin_stats(s->adm, name, 0, &ts, 1, NULL) != 1)
			bench_die("stats of %s", name);
		sum += ts.steer_drops;
	}
	return sum;
}

static void run_phase(struct st *s, const char *tx_if, void *(*reader)(void *),
		      double secs, struct phase *out)
{
	pthread_t ts, tr;
	uint64_t d0, s0, t0, d1, s1, t1, x0, x1;

	s->tx_if = tx_if;
	__atomic_store_n(&s->stop, 0, __ATOMIC_RELAXED);
	ctr_set(&s->sent, 0);
	ctr_set(&s->delivered, 0);
	ctr_set(&s->misdelivered, 0);
	bench_thread_start(s->ctx, &tr, s->ctx->cpu_b, reader, s);
	bench_thread_start(s->ctx, &ts, s->ctx->cpu_a, sender, s);
	usleep((useconds_t)(secs * 200000)); /* warm-up: a fifth */
	x0 = tx_drops(s);
	d0 = ctr_read(&s->delivered);
	s0 = ctr_read(&s->sent);
	t0 = bench_mono_ns();
	usleep((useconds_t)(secs * 1e6));
	d1 = ctr_read(&s->delivered);
	s1 = ctr_read(&s->sent);
	t1 = bench_mono_ns();
	x1 = tx_drops(s);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	bench_thread_join(ts);
	bench_thread_join(tr);
	out->delivered_pps = (double)(d1 - d0) * 1e9 / (double)(t1 - t0);
	out->sent_pps = (double)(s1 - s0) * 1e9 / (double)(t1 - t0);
	out->misdelivered = ctr_read(&s->misdelivered);
	out->drops = x1 - x0;
}

/* ---- setup -------------------------------------------------------------- */

static int kernel_socket(const char *ifname)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			htons(ETH_P_ALL));
	int rcvbuf = 4 << 20;

	if (fd < 0)
		bench_die("packet socket: %s", strerror(errno));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		bench_die("bind %s: %s", ifname, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	return fd;
}

static void veth(const char *a, const char *b)
{
	sh("ip link add %s type veth peer name %s", a, b);
	sh("ip link set %s up && ip link set %s up", a, b);
}

static void topology(struct st *s)
{
	unsigned int k;

	sh("ip link set lo up");
	sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 "
	   "net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true");
	veth("xb0", "xb1");
	veth("hb0", "hb1");
	veth("kb0", "kb1");
	sh("ip link add br0 type bridge && ip link set br0 up");
	sh("ip link set kb0 master br0");
	for (k = 0; k < s->nt; k++) {
		char m[18];

		snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x",
			 s->mac[k][0], s->mac[k][1], s->mac[k][2], s->mac[k][3],
			 s->mac[k][4], s->mac[k][5]);
		sh("ip link add kt%ua type veth peer name kt%ub", k, k);
		sh("ip link set kt%ub address %s", k, m);
		sh("ip link set kt%ua master br0 && ip link set kt%ua up && "
		   "ip link set kt%ub up",
		   k, k, k);
		sh("bridge fdb add %s dev kt%ua master static", m, k);
	}
}

static void xio_setup(struct st *s, const char *sock)
{
	struct xio_admin *a;
	unsigned int k, i;
	int err;

	for (k = 0; k < s->nt; k++) {
		struct xio_client_opts co = {.sz = sizeof(co)};
		struct xio_qp *qp;
		char name[32];

		snprintf(name, sizeof(name), "steer%u", k);
		co.name = name;
		co.params.sq_entries = ST_BUFS;
		co.params.nr_bufs = ST_BUFS;
		co.params.buf_size = ST_BUF_SIZE;
		err = xio_client_attach(sock, &co, &s->t[k]);
		if (err)
			bench_die("tenant %u: %s", k, xio_strerror(err));
		qp = xio_tenant_qp(s->t[k], 0);
		for (i = 0; i < ST_BUFS; i++)
			post_rx(qp, i);
		xio_submit(qp);
	}
	err = xio_admin_open(sock, &a);
	if (!err)
		err = xio_admin_steer_attach(a, "xb0", 0);
	if (err)
		bench_die("steer attach xb0: %s", xio_strerror(err));
	err = xio_admin_steer_attach(a, "hb0", XIO_ADMIN_STEER_NO_XSK);
	if (err)
		bench_die("steer attach hb0 --no-xsk: %s", xio_strerror(err));
	for (k = 0; k < s->nt; k++) {
		char name[32];

		snprintf(name, sizeof(name), "steer%u", k);
		err = xio_admin_steer_add(a, name, s->mac[k], 0, NULL);
		if (err)
			bench_die("steer add %s: %s", name, xio_strerror(err));
	}
	for (k = 0; k < s->nt; k++) {
		struct xio_tenant_stats ts = {.sz = sizeof(ts)};
		char name[32];

		snprintf(name, sizeof(name), "steer%u", k);
		if (xio_admin_stats(a, name, 0, &ts, 1, NULL) != 1)
			bench_die("stats of %s", name);
		s->poller[k] = ts.poller;
	}
	s->adm = a;
}

enum {
	S_XIO,
	S_HOP,
	S_KERNEL,
	S_XIO_SENT,
	S_HOP_SENT,
	S_KERNEL_SENT,
	S_RATIO,
	S_HOP_RATIO,
	S_HOP_DROPS,
	S_NR
};

static const struct bench_metric steer_metrics[S_NR] = {
	{"steer.xio_rx", "frames/s", "xio, AF_XDP: delivered into RX rings"},
	{"steer.hop_rx", "frames/s", "xio, CPU hop + packet socket: delivered"},
	{"steer.kernel_rx", "frames/s", "bridge + veth + recvmmsg: delivered"},
	{"steer.xio_sent", "frames/s", "xio phase: sent by the sender"},
	{"steer.hop_sent", "frames/s", "hop phase: sent by the sender"},
	{"steer.kernel_sent", "frames/s", "kernel phase: sent by the sender"},
	{"steer.ratio", "x", "xio (AF_XDP) / kernel, delivered"},
	{"steer.hop_ratio", "x", "hop / AF_XDP, delivered"},
	{"steer.hop_drops", "frames", "hop phase: xiod steer_drops"},
};

enum {
	H_DIRECT,
	H_HANDOFF,
	H_RATIO,
	H_DIRECT_SENT,
	H_HANDOFF_SENT,
	H_DIRECT_DROPS,
	H_HANDOFF_DROPS,
	H_NR
};

static const struct bench_metric handoff_metrics[H_NR] = {
	{"steer.direct_rx", "frames/s", "tenants of the queue's poller"},
	{"steer.handoff_rx", "frames/s", "tenants of the other poller"},
	{"steer.handoff_ratio", "x", "handed off / direct, delivered"},
	{"steer.direct_sent", "frames/s", "direct phase: sent"},
	{"steer.handoff_sent", "frames/s", "handoff phase: sent"},
	{"steer.direct_drops", "frames", "direct phase: xiod steer_drops"},
	{"steer.handoff_drops", "frames", "handoff phase: xiod steer_drops"},
};

/* Send to the tenants of poller 0 (owning xb0's queue) or of the other. */
static void select_tx(struct st *s, bool handed)
{
	unsigned int k;

	s->ntx = 0;
	for (k = 0; k < s->nt; k++)
		if ((s->poller[k] != 0) == handed)
			s->tx[s->ntx++] = k;
	if (!s->ntx)
		bench_die("internal: no tenant on %s poller",
			  handed ? "the other" : "the queue's");
}

/* One run of the two-poller mode: direct, then handed-off delivery. */
static uint64_t handoff_run(struct st *s, double secs, int r,
			    double (*v)[BENCH_MAX_RUNS])
{
	struct phase d, h;

	select_tx(s, false);
	run_phase(s, "xb1", xio_reaper, secs, &d);
	select_tx(s, true);
	run_phase(s, "xb1", xio_reaper, secs, &h);
	v[H_DIRECT][r] = d.delivered_pps;
	v[H_HANDOFF][r] = h.delivered_pps;
	v[H_RATIO][r] =
		d.delivered_pps > 0 ? h.delivered_pps / d.delivered_pps : 0;
	v[H_DIRECT_SENT][r] = d.sent_pps;
	v[H_HANDOFF_SENT][r] = h.sent_pps;
	v[H_DIRECT_DROPS][r] = (double)d.drops;
	v[H_HANDOFF_DROPS][r] = (double)h.drops;
	bench_info(s->ctx,
		   "run %d/%d: direct %.0f/s delivered (%.0f/s sent, %llu "
		   "dropped), handed off %.0f/s (%.0f/s sent, %llu dropped)\n",
		   r + 1, s->ctx->runs, d.delivered_pps, d.sent_pps,
		   (unsigned long long)d.drops, h.delivered_pps, h.sent_pps,
		   (unsigned long long)h.drops);
	return d.misdelivered + h.misdelivered;
}

int bench_steer(struct bench_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"xiod", required_argument, NULL, 'x'},
		{"tenants", required_argument, NULL, 'n'},
		{"secs", required_argument, NULL, 's'},
		{"pollers", required_argument, NULL, 'p'},
		{"steer-cpu", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	static double v[S_NR][BENCH_MAX_RUNS];
	static double hv[H_NR][BENCH_MAX_RUNS];
	static struct st s;
	const char *xiod = NULL, *steer_cpu = NULL;
	char dir[64], sock[108], cpu[32], npol[4];
	double secs = 0;
	int pollers = 1;
	uint64_t bad = 0;
	unsigned int k;
	pid_t pid;
	int opt, r, st;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.nt = 4;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'x':
			xiod = optarg;
			break;
		case 'n':
			s.nt = (unsigned int)atoi(optarg);
			if (s.nt < 1 || s.nt > ST_MAX_TENANTS)
				bench_die("--tenants: 1..%d", ST_MAX_TENANTS);
			break;
		case 's':
			secs = atof(optarg);
			if (secs <= 0 || secs > 60)
				bench_die("--secs: (0, 60]");
			break;
		case 'p':
			pollers = atoi(optarg);
			if (pollers < 1 || pollers > 2)
				bench_die("--pollers: 1 or 2");
			break;
		case 'c':
			steer_cpu = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: xio-bench [options] steer "
				"[--xiod PATH] [--tenants N] [--secs S] "
				"[--pollers 1|2] [--steer-cpu N]\n");
			return 2;
		}
	}
	if (pollers == 2 && s.nt < 2)
		bench_die("--pollers 2: --tenants >= 2 (one per poller)");
	s.ntx = s.nt;
	for (k = 0; k < s.nt; k++)
		s.tx[k] = k;
	if (!secs)
		secs = ctx->quick ? 0.2 : 2;
	if (geteuid() != 0) {
		printf("SKIP: steer needs root (XDP, AF_XDP, a network namespace)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: no network namespace: %s\n", strerror(errno));
		return 77;
	}
	for (k = 0; k < s.nt; k++) {
		uint8_t mk[6] = {0x02, 0x78, 0x69, 0x00, (uint8_t)(k + 1),
				 0x01};

		memcpy(s.mac[k], mk, 6);
	}
	topology(&s);
	for (k = 0; k < s.nt; k++) {
		char ifn[16];

		snprintf(ifn, sizeof(ifn), "kt%ub", k);
		s.ks[k] = kernel_socket(ifn);
	}
	/* A private xiod in this namespace, its poller(s) on CPU B. */
	snprintf(dir, sizeof(dir), "/tmp/xio-bench-XXXXXX");
	if (!mkdtemp(dir))
		bench_die("mkdtemp: %s", strerror(errno));
	snprintf(sock, sizeof(sock), "%s/xiod.sock", dir);
	if (pollers == 2)
		snprintf(cpu, sizeof(cpu), "%d,%d", ctx->cpu_b, ctx->cpu_b);
	else
		snprintf(cpu, sizeof(cpu), "%d", ctx->cpu_b);
	snprintf(npol, sizeof(npol), "%d", pollers);
	{
		char *xargv[] = {"xiod",
				 "--foreground",
				 "--socket",
				 sock,
				 "--pollers",
				 npol,
				 "--cpus",
				 cpu,
				 "--idle-us",
				 "2000",
				 "--inflight-cap",
				 "2048", /* = ST_BUFS */
				 "--log-level",
				 "warning",
				 steer_cpu ? "--steer-cpus" : NULL,
				 (char *)steer_cpu,
				 NULL};

		pid = bench_xiod_spawn(xiod, xargv, sock);
	}
	xio_setup(&s, sock);
	for (r = 0; pollers == 2 && r < ctx->runs; r++)
		bad += handoff_run(&s, secs, r, hv);
	for (r = 0; pollers == 1 && r < ctx->runs; r++) {
		struct phase x, h, kp;

		run_phase(&s, "xb1", xio_reaper, secs, &x);
		run_phase(&s, "hb1", xio_reaper, secs, &h);
		run_phase(&s, "kb1", kernel_reader, secs, &kp);
		v[S_XIO][r] = x.delivered_pps;
		v[S_HOP][r] = h.delivered_pps;
		v[S_KERNEL][r] = kp.delivered_pps;
		v[S_XIO_SENT][r] = x.sent_pps;
		v[S_HOP_SENT][r] = h.sent_pps;
		v[S_KERNEL_SENT][r] = kp.sent_pps;
		v[S_RATIO][r] = kp.delivered_pps > 0 ?
					x.delivered_pps / kp.delivered_pps :
					0;
		v[S_HOP_RATIO][r] = x.delivered_pps > 0 ?
					    h.delivered_pps / x.delivered_pps :
					    0;
		v[S_HOP_DROPS][r] = (double)h.drops;
		bad += x.misdelivered + h.misdelivered + kp.misdelivered;

		bench_info(ctx,
			   "run %d/%d: xio %.0f/s delivered (%.0f/s sent), "
			   "hop %.0f/s (%.0f/s sent, %llu dropped), "
			   "kernel %.0f/s delivered (%.0f/s sent)\n",
			   r + 1, ctx->runs, x.delivered_pps, x.sent_pps,
			   h.delivered_pps, h.sent_pps,
			   (unsigned long long)h.drops, kp.delivered_pps,
			   kp.sent_pps);
	}
	xio_admin_close(s.adm);
	for (k = 0; k < s.nt; k++) {
		xio_client_detach(s.t[k]);
		close(s.ks[k]);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	unlink(sock);
	rmdir(dir);
	if (pollers == 2)
		bench_report_table(ctx,
				   "xio-bench steer --pollers 2: sender + "
				   "softirq on CPU A, both pollers + reaper "
				   "on CPU B",
				   handoff_metrics, H_NR, hv);
	else
		bench_report_table(
			ctx,
			"xio-bench steer: sender + softirq on CPU A, "
			"receivers (poller + reaper / recvmmsg) on "
			"CPU B; hop: CPUMAP to the poller's CPU or "
			"--steer-cpu",
			steer_metrics, S_NR, v);
	if (bad) {
		fprintf(stderr, "xio-bench steer: %llu frames misdelivered\n",
			(unsigned long long)bad);
		return 1;
	}
	return 0;
}
