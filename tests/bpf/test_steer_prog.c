/* SPDX-License-Identifier: MIT */
/*
 * The steering classifier through BPF_PROG_TEST_RUN: crafted and random /
 * malformed frames (truncated Ethernet/VLAN/IP headers, stacked tags, bad IHL
 * and versions, IPv6), in every IP mode.  For each frame the verdict and the
 * counter deltas of every tenant and of the global counters must be exactly
 * what a reference classifier written here independently predicts: never a
 * misroute.  XIO_STEER_FUZZ_N frames per mode (default 3000), seed
 * XIO_STEER_FUZZ_SEED.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "steer_util.h"

#define NT 6 /* tenants 0..5 watched; 4 never has a rule (misroute trap) */

enum {
	R_UNKNOWN = -1,
	R_RUNT = -2,
	R_MALF = -3,
	R_STACK = -4
};

struct rule_mac {
	uint8_t mac[6];
	int tenant;
};
static struct rule_mac macs[8];
static uint32_t ip4s[4]; /* network order */
static int ip4_t[4];
static uint8_t ip6s[3][16];
static int ip6_t[3];
/* tenant -> steered (node with a target) or passed */
static bool steered[NT];

static struct xio_steer *S;
static int prog_fd;
static int nr_cpus;
static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned int rndn(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

/* ---- the reference classifier (written from the spec, not the program) */

static int ref_mac(const uint8_t *f)
{
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++)
		if (!memcmp(macs[i].mac, f, 6))
			return macs[i].tenant;
	return R_UNKNOWN;
}

static int ref_ip(const uint8_t *l3, size_t rem, unsigned int proto)
{
	if (proto == 0x0800) {
		unsigned int ihl;
		uint32_t d;

		if (rem < 20)
			return R_MALF;
		ihl = l3[0] & 15;
		if ((l3[0] >> 4) != 4 || ihl < 5 || ihl * 4 > rem)
			return R_MALF;
		memcpy(&d, l3 + 16, 4);
		for (int i = 0; i < 4; i++)
			if (ip4s[i] == d)
				return ip4_t[i];
		return R_UNKNOWN;
	}
	if (proto == 0x86dd) {
		if (rem < 40)
			return R_MALF;
		if ((l3[0] >> 4) != 6)
			return R_MALF;
		for (int i = 0; i < 3; i++)
			if (!memcmp(ip6s[i], l3 + 24, 16))
				return ip6_t[i];
		return R_UNKNOWN;
	}
	return R_UNKNOWN;
}

static bool is_vlan(unsigned int p)
{
	return p == 0x8100 || p == 0x88a8;
}

static int ref_classify(const uint8_t *f, size_t len, int mode)
{
	unsigned int proto;
	size_t off = 14;
	int t, ip;

	if (len < 14)
		return R_RUNT;
	proto = (unsigned int)f[12] << 8 | f[13];
	if (is_vlan(proto)) {
		if (len < 18)
			return R_MALF;
		proto = (unsigned int)f[16] << 8 | f[17];
		off = 18;
		if (is_vlan(proto))
			return R_STACK;
	}
	if (mode == XIO_STEER_MAC_ONLY)
		return ref_mac(f);
	if (mode == XIO_STEER_MAC_THEN_IP) {
		t = ref_mac(f);
		return t >= 0 ? t : ref_ip(f + off, len - off, proto);
	}
	ip = ref_ip(f + off, len - off, proto);
	if (ip >= 0)
		return ip;
	t = ref_mac(f);
	return t >= 0 ? t : ip;
}

/* ---- counters ------------------------------------------------------- */

struct snap {
	struct xio_steer_tenant_stats t[NT];
	struct xio_steer_global_stats g;
};

static void snap_read(struct snap *sn)
{
	for (uint32_t i = 0; i < NT; i++)
		CHECK_EQ(xio_steer_tenant_stats(S, i, &sn->t[i], NULL, 0), 0);
	CHECK_EQ(xio_steer_global_stats(S, &sn->g), 0);
}

static unsigned long frames_run, frames_refused;
static unsigned long by_reason[5];

/*
 * Run one frame; check verdict and every counter delta against the model.
 * @want: the expected classification when the caller knows it (crafted
 * frames; a second, hand-written opinion), or 99 to use the model alone.
 */
static void run_frame(const uint8_t *f, size_t len, int mode, int want)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct snap a, b;
	uint8_t out[2048];
	int cl = ref_classify(f, len, mode), err;
	uint32_t want_ret;

	if (want != 99 && want != cl) {
		fprintf(stderr,
			"FAIL reference model says %d, crafted %d (len %zu)\n",
			cl, want, len);
		exit(1);
	}
	o.data_in = f;
	o.data_size_in = (uint32_t)len;
	o.data_out = out;
	o.data_size_out = sizeof(out);
	snap_read(&a);
	err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err == -EINVAL && len < 14) {
		/* The kernel refuses frames shorter than an Ethernet header
		 * before any program sees them. */
		frames_refused++;
		snap_read(&b);
		CHECK_EQ(b.g.frames, a.g.frames);
		return;
	}
	CHECK_EQ(err, 0);
	frames_run++;
	snap_read(&b);

	if (cl >= 0)
		want_ret = steered[cl] ? XDP_REDIRECT : XDP_PASS;
	else
		want_ret = XDP_PASS;
	if (o.retval != want_ret) {
		fprintf(stderr,
			"FAIL verdict %u, want %u (class %d, mode %d, "
			"len %zu)\n",
			o.retval, want_ret, cl, mode, len);
		exit(1);
	}
	CHECK_EQ(b.g.frames - a.g.frames, 1);
	CHECK_EQ(b.g.classified - a.g.classified, cl >= 0);
	CHECK_EQ(b.g.unknown - a.g.unknown, cl == R_UNKNOWN);
	CHECK_EQ(b.g.runt - a.g.runt, cl == R_RUNT);
	CHECK_EQ(b.g.malformed - a.g.malformed, cl == R_MALF);
	CHECK_EQ(b.g.vlan_stacked - a.g.vlan_stacked, cl == R_STACK);
	for (int t = 0; t < NT; t++) {
		bool me = t == cl;

		if ((b.t[t].packets - a.t[t].packets) != me) {
			fprintf(stderr,
				"FAIL misroute: tenant %d packets +%llu, "
				"class %d, mode %d, len %zu\n",
				t,
				(unsigned long long)(b.t[t].packets -
						     a.t[t].packets),
				cl, mode, len);
			exit(1);
		}
		CHECK_EQ(b.t[t].bytes - a.t[t].bytes, me ? len : 0);
		CHECK_EQ(b.t[t].redirected - a.t[t].redirected,
			 me && steered[t]);
		CHECK_EQ(b.t[t].passed - a.t[t].passed, me && !steered[t]);
		CHECK_EQ(b.t[t].drops - a.t[t].drops, 0);
		CHECK_EQ(b.t[t].wrong_node - a.t[t].wrong_node, 0);
	}
	by_reason[cl >= 0 ? 0 : -cl]++;
}

/* ---- frame builders ------------------------------------------------- */

static size_t put_eth(uint8_t *f, const uint8_t *dst, unsigned int proto)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = (uint8_t)(proto >> 8);
	f[13] = (uint8_t)proto;
	return 14;
}

static size_t put_vlan(uint8_t *f, size_t off, unsigned int tci,
		       unsigned int inner)
{
	f[off] = (uint8_t)(tci >> 8);
	f[off + 1] = (uint8_t)tci;
	f[off + 2] = (uint8_t)(inner >> 8);
	f[off + 3] = (uint8_t)inner;
	return off + 4;
}

static size_t put_ip4(uint8_t *f, size_t off, unsigned int ihl, uint32_t daddr)
{
	memset(f + off, 0, 60);
	f[off] = (uint8_t)(0x40 | (ihl & 15));
	f[off + 9] = 17;
	memcpy(f + off + 16, &daddr, 4);
	return off + (ihl >= 5 ? ihl * 4 : 20);
}

static size_t put_ip6(uint8_t *f, size_t off, const uint8_t *daddr)
{
	memset(f + off, 0, 40);
	f[off] = 0x60;
	f[off + 6] = 17;
	memcpy(f + off + 24, daddr, 16);
	return off + 40;
}

static void crafted(void)
{
	static const uint8_t unk[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
	uint8_t f[256];
	size_t n;
	uint32_t unk4 = htonl(0x0a0000fe);

	CHECK_EQ(xio_steer_set_ip_mode(S, XIO_STEER_MAC_ONLY), 0);
	memset(f, 0, sizeof(f));
	/* runts: 0, 1, 13 bytes */
	put_eth(f, macs[0].mac, 0x88b5);
	run_frame(f, 0, XIO_STEER_MAC_ONLY, R_RUNT);
	run_frame(f, 1, XIO_STEER_MAC_ONLY, R_RUNT);
	run_frame(f, 13, XIO_STEER_MAC_ONLY, R_RUNT);
	/* a bare Ethernet header to a known MAC is enough */
	run_frame(f, 14, XIO_STEER_MAC_ONLY, macs[0].tenant);
	run_frame(f, 60, XIO_STEER_MAC_ONLY, macs[0].tenant);
	/* broadcast and an unknown unicast */
	put_eth(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 0x0806);
	run_frame(f, 60, XIO_STEER_MAC_ONLY, R_UNKNOWN);
	put_eth(f, unk, 0x0800);
	run_frame(f, 60, XIO_STEER_MAC_ONLY, R_UNKNOWN);
	/* one VLAN tag: truncated tag (15..17 bytes) is malformed even for a
	 * known MAC; complete tag -> the MAC decides */
	put_eth(f, macs[1].mac, 0x8100);
	put_vlan(f, 14, 42, 0x88b5);
	run_frame(f, 15, XIO_STEER_MAC_ONLY, R_MALF);
	run_frame(f, 17, XIO_STEER_MAC_ONLY, R_MALF);
	run_frame(f, 18, XIO_STEER_MAC_ONLY, macs[1].tenant);
	/* 802.1ad outer tag works the same */
	put_eth(f, macs[1].mac, 0x88a8);
	run_frame(f, 64, XIO_STEER_MAC_ONLY, macs[1].tenant);
	/* stacked tags: pass, whatever the MAC */
	put_eth(f, macs[1].mac, 0x88a8);
	put_vlan(f, 14, 1, 0x8100);
	put_vlan(f, 18, 2, 0x0800);
	run_frame(f, 64, XIO_STEER_MAC_ONLY, R_STACK);
	put_eth(f, macs[1].mac, 0x8100);
	put_vlan(f, 14, 1, 0x8100);
	run_frame(f, 18, XIO_STEER_MAC_ONLY, R_STACK);

	/* IP after MAC: known IPv4 behind an unknown MAC */
	CHECK_EQ(xio_steer_set_ip_mode(S, XIO_STEER_MAC_THEN_IP), 0);
	put_eth(f, unk, 0x0800);
	n = put_ip4(f, 14, 5, ip4s[0]);
	run_frame(f, n, XIO_STEER_MAC_THEN_IP, ip4_t[0]);
	run_frame(f, n - 1, XIO_STEER_MAC_THEN_IP, R_MALF); /* 19-byte IP */
	/* bad IHL: 4 (< 5) and 15 (beyond the frame) */
	put_ip4(f, 14, 4, ip4s[0]);
	run_frame(f, 60, XIO_STEER_MAC_THEN_IP, R_MALF);
	put_ip4(f, 14, 15, ip4s[0]);
	run_frame(f, 14 + 59, XIO_STEER_MAC_THEN_IP, R_MALF);
	run_frame(f, 14 + 60, XIO_STEER_MAC_THEN_IP, ip4_t[0]);
	/* wrong version nibble */
	put_ip4(f, 14, 5, ip4s[0]);
	f[14] = 0x65;
	run_frame(f, 60, XIO_STEER_MAC_THEN_IP, R_MALF);
	/* ... but a known MAC wins before the IP header is looked at */
	put_eth(f, macs[2].mac, 0x0800);
	put_ip4(f, 14, 4, ip4s[0]);
	run_frame(f, 60, XIO_STEER_MAC_THEN_IP, macs[2].tenant);
	/* VLAN + IPv4 */
	put_eth(f, unk, 0x8100);
	n = put_ip4(f, put_vlan(f, 14, 7, 0x0800), 5, ip4s[1]);
	run_frame(f, n, XIO_STEER_MAC_THEN_IP, ip4_t[1]);
	run_frame(f, 18 + 19, XIO_STEER_MAC_THEN_IP, R_MALF);
	/* IPv6 known, truncated, wrong version, unknown */
	put_eth(f, unk, 0x86dd);
	n = put_ip6(f, 14, ip6s[0]);
	run_frame(f, n, XIO_STEER_MAC_THEN_IP, ip6_t[0]);
	run_frame(f, n - 1, XIO_STEER_MAC_THEN_IP, R_MALF);
	f[14] = 0x40;
	run_frame(f, n, XIO_STEER_MAC_THEN_IP, R_MALF);
	put_ip6(f, 14, (const uint8_t *)"\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x99");
	run_frame(f, n, XIO_STEER_MAC_THEN_IP, R_UNKNOWN);
	/* unknown IPv4 */
	put_eth(f, unk, 0x0800);
	n = put_ip4(f, 14, 5, unk4);
	run_frame(f, n, XIO_STEER_MAC_THEN_IP, R_UNKNOWN);

	/* IP first: the IP rule beats a MAC rule of another tenant */
	CHECK_EQ(xio_steer_set_ip_mode(S, XIO_STEER_IP_THEN_MAC), 0);
	put_eth(f, macs[0].mac, 0x0800);
	n = put_ip4(f, 14, 5, ip4s[2]);
	CHECK(ip4_t[2] != macs[0].tenant);
	run_frame(f, n, XIO_STEER_IP_THEN_MAC, ip4_t[2]);
	/* malformed IP falls back to the MAC; without one it is malformed */
	put_ip4(f, 14, 3, ip4s[2]);
	run_frame(f, n, XIO_STEER_IP_THEN_MAC, macs[0].tenant);
	put_eth(f, unk, 0x0800);
	run_frame(f, n, XIO_STEER_IP_THEN_MAC, R_MALF);

	/* MAC only ignores IP rules entirely */
	CHECK_EQ(xio_steer_set_ip_mode(S, XIO_STEER_MAC_ONLY), 0);
	put_eth(f, unk, 0x0800);
	n = put_ip4(f, 14, 5, ip4s[0]);
	run_frame(f, n, XIO_STEER_MAC_ONLY, R_UNKNOWN);
}

static unsigned int pick_proto(void)
{
	static const unsigned int p[] = {0x0800, 0x0800, 0x0800, 0x86dd,
					 0x86dd, 0x8100, 0x8100, 0x88a8};
	unsigned int r = rndn(10);

	if (r < 8)
		return p[r];
	return (unsigned int)rndn(0x10000);
}

static size_t random_frame(uint8_t *f, size_t cap)
{
	uint8_t dst[6];
	unsigned int proto, r;
	size_t off, end, len;

	for (size_t i = 0; i < cap; i++)
		f[i] = (uint8_t)rnd();
	r = rndn(10);
	if (r < 5)
		memcpy(dst, macs[rndn(8)].mac, 6);
	else if (r < 6)
		memset(dst, 0xff, 6);
	else
		memcpy(dst, f, 6);
	proto = pick_proto();
	off = put_eth(f, dst, proto);
	if (is_vlan(proto)) {
		proto = pick_proto();
		off = put_vlan(f, off, (unsigned int)rndn(4096), proto);
	}
	if (proto == 0x0800) {
		uint32_t d = rndn(2) ? ip4s[rndn(4)] : (uint32_t)rnd();
		unsigned int ihl = rndn(4) ? 5 + rndn(11) : rndn(16);

		end = put_ip4(f, off, ihl, d);
		if (!rndn(10))
			f[off] = (uint8_t)((rndn(16) << 4) | ihl);
	} else if (proto == 0x86dd) {
		uint8_t d6[16];

		if (rndn(2))
			memcpy(d6, ip6s[rndn(3)], 16);
		else
			for (int i = 0; i < 16; i++)
				d6[i] = (uint8_t)rnd();
		end = put_ip6(f, off, d6);
		if (!rndn(10))
			f[off] = (uint8_t)(rndn(16) << 4);
	} else {
		end = off;
	}
	len = end + rndn(200);
	if (len > cap)
		len = cap;
	r = rndn(10);
	if (r < 3) {
		/* cut near a header boundary */
		static const int b[] = {14, 18, 34, 38, 54, 58, 74, 78};
		int c = b[rndn(8)] + (int)rndn(7) - 3;

		if (c >= 0 && (size_t)c < len)
			len = (size_t)c;
	} else if (r < 4) {
		len = rndn((unsigned int)len + 1);
	}
	return len;
}

static void setup_rules(void)
{
	/* tenants 0, 1, 5: steered (nodes 0, 1, 0); 2: node without target;
	 * 3: no node; 4: no rules at all */
	int ntarget1 = nr_cpus > 1 ? 1 : 0;

	CHECK_EQ(xio_steer_set_node_target(S, 0, 0), 0);
	CHECK_EQ(xio_steer_set_node_target(S, 1, ntarget1), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, 0, 0), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, 1, 1), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, 2, 2), 0);
	CHECK_EQ(xio_steer_set_tenant_node(S, 5, 0), 0);
	steered[0] = steered[1] = steered[5] = true;

	static const int mt[8] = {0, 0, 1, 2, 3, 5, 5, 1};
	for (int i = 0; i < 8; i++) {
		mac_of(macs[i].mac, (uint32_t)mt[i], (uint32_t)i);
		macs[i].tenant = mt[i];
		CHECK_EQ(xio_steer_add_mac(S, (uint32_t)mt[i], macs[i].mac), 0);
	}
	static const int it[4] = {1, 2, 5, 3};
	for (int i = 0; i < 4; i++) {
		ip4s[i] = htonl(0x0a000001u + (uint32_t)i);
		ip4_t[i] = it[i];
		CHECK_EQ(
			xio_steer_add_ip(S, (uint32_t)it[i], AF_INET, &ip4s[i]),
			0);
	}
	static const int i6[3] = {0, 2, 5};
	for (int i = 0; i < 3; i++) {
		memset(ip6s[i], 0, 16);
		ip6s[i][0] = 0xfd;
		ip6s[i][15] = (uint8_t)(i + 1);
		ip6_t[i] = i6[i];
		CHECK_EQ(
			xio_steer_add_ip(S, (uint32_t)i6[i], AF_INET6, ip6s[i]),
			0);
	}
}

/* Extensible options: sz required, unknown trailing bytes must be zero. */
static void opts_checks(void)
{
	struct {
		struct xio_steer_opts o;
		uint64_t newer;
	} big;
	struct xio_steer *s2 = NULL;

	memset(&big, 0, sizeof(big));
	CHECK_EQ(xio_steer_open(&big.o, &s2), -EINVAL); /* sz == 0 */
	big.o.sz = sizeof(big);
	big.o.ip_mode = XIO_STEER_IP_THEN_MAC;
	big.o.cpumap_qsize = 256;
	CHECK_EQ(xio_steer_open(&big.o, &s2), 0);
	xio_steer_close(s2);
	big.newer = 1;
	CHECK_EQ(xio_steer_open(&big.o, &s2), -EINVAL);
	big.newer = 0;
	big.o.ip_mode = 3;
	CHECK_EQ(xio_steer_open(&big.o, &s2), -EINVAL);
	big.o.ip_mode = 0;
	big.o.cpumap_qsize = 1U << 20;
	CHECK_EQ(xio_steer_open(&big.o, &s2), -EINVAL);
	CHECK(s2 == NULL);
	xio_steer_close(NULL);
}

static void api_checks(void)
{
	uint8_t mac[6], mcast[6] = {0x01, 0, 0x5e, 0, 0, 1}, zero[6] = {0};
	uint32_t a4 = htonl(0x0a0000ff);

	mac_of(mac, 9, 9);
	CHECK_EQ(xio_steer_add_mac(S, XIO_STEER_TENANTS_MAX, mac), -EINVAL);
	CHECK_EQ(xio_steer_add_mac(S, 1, mcast), -EINVAL);
	CHECK_EQ(xio_steer_add_mac(S, 1, zero), -EINVAL);
	CHECK_EQ(xio_steer_del_mac(S, mac), -ENOENT);
	CHECK_EQ(xio_steer_add_ip(S, 1, AF_UNIX, &a4), -EAFNOSUPPORT);
	CHECK_EQ(xio_steer_del_ip(S, AF_INET, &a4), -ENOENT);
	CHECK_EQ(xio_steer_set_tenant_node(S, 0, XIO_STEER_NODES_MAX), -EINVAL);
	CHECK_EQ(xio_steer_set_node_target(S, 0, nr_cpus), -EINVAL);
	CHECK_EQ(xio_steer_set_node_target(S, -1, 0), -EINVAL);
	CHECK_EQ(xio_steer_set_cpu_node(S, nr_cpus, 0), -EINVAL);
	CHECK_EQ(xio_steer_set_ip_mode(S, (enum xio_steer_ip_mode)3), -EINVAL);
	CHECK_EQ(
		xio_steer_tenant_stats(S, XIO_STEER_TENANTS_MAX, NULL, NULL, 0),
		-EINVAL);
	CHECK_EQ(xio_steer_attach(S, "xio-no-such-if0", XIO_STEER_NATIVE, 0),
		 -ENODEV);
	CHECK_EQ(xio_steer_detach(S, "lo"), -ENOENT);
	/* listing: 8 MACs + 4 IPv4 + 3 IPv6 from setup_rules() */
	{
		struct xio_steer_rule r[32];
		int n = xio_steer_rules(S, r, 32), macs_seen = 0;

		CHECK_EQ(n, 15);
		CHECK_EQ(xio_steer_rules(S, r, 2), 15);
		CHECK_EQ(xio_steer_rules(S, NULL, 0), 15);
		n = xio_steer_rules(S, r, 32);
		for (int i = 0; i < n; i++) {
			if (r[i].family == AF_PACKET) {
				for (int j = 0; j < 8; j++)
					if (!memcmp(r[i].addr, macs[j].mac,
						    6)) {
						CHECK_EQ(r[i].tenant,
							 macs[j].tenant);
						macs_seen++;
					}
			} else if (r[i].family == AF_INET) {
				uint32_t a;

				memcpy(&a, r[i].addr, 4);
				CHECK(ntohl(a) >= 0x0a000001 &&
				      ntohl(a) <= 0x0a000004);
				CHECK_EQ(r[i].tenant,
					 ip4_t[ntohl(a) - 0x0a000001]);
			} else {
				CHECK_EQ(r[i].family, AF_INET6);
				CHECK_EQ(r[i].addr[0], 0xfd);
				CHECK_EQ(r[i].tenant, ip6_t[r[i].addr[15] - 1]);
			}
		}
		CHECK_EQ(macs_seen, 8);
	}
	CHECK_EQ(xio_steer_tenant_node(S, 1), 1);
	CHECK_EQ(xio_steer_tenant_node(S, 3), -ENOENT);
	CHECK_EQ(xio_steer_tenant_node(S, XIO_STEER_TENANTS_MAX), -EINVAL);
	CHECK_EQ(xio_steer_node_target(S, 0), 0);
	CHECK_EQ(xio_steer_node_target(S, 2), -ENOENT);
	CHECK_EQ(xio_steer_node_target(S, -1), -EINVAL);

	/* del_tenant removes all of a tenant's rules and nobody else's */
	CHECK_EQ(xio_steer_add_mac(S, 9, mac), 0);
	CHECK_EQ(xio_steer_add_ip(S, 9, AF_INET, &a4), 0);
	CHECK_EQ(xio_steer_del_tenant(S, 9), 2);
	CHECK_EQ(xio_steer_del_mac(S, mac), -ENOENT);
	CHECK_EQ(xio_steer_del_tenant(S, 9), 0);
}

/* Average cost of one classification (not asserted: no timing checks),
 * next to a program that only returns XDP_PASS (the test_run baseline). */
static unsigned int run_repeat(int fd, const uint8_t *f, uint32_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	o.data_in = f;
	o.data_size_in = len;
	o.repeat = 100000;
	CHECK_EQ(bpf_prog_test_run_opts(fd, &o), 0);
	return o.duration;
}

static void measure(void)
{
	static const struct bpf_insn pass_insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K,
		 .dst_reg = BPF_REG_0,
		 .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};
	uint8_t f[128];
	unsigned int base, hit, miss;
	int pass_fd;

	pass_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xio_pass", "GPL",
				pass_insns, 2, NULL);
	CHECK(pass_fd >= 0);
	memset(f, 0, sizeof(f));
	put_eth(f, macs[0].mac, 0x88b5);
	base = run_repeat(pass_fd, f, 64);
	CHECK_EQ(xio_steer_set_ip_mode(S, XIO_STEER_MAC_ONLY), 0);
	hit = run_repeat(prog_fd, f, 64);
	put_eth(f, (const uint8_t *)"\x02\0\0\0\0\x77", 0x0800);
	put_ip4(f, 14, 5, htonl(0x0b000001));
	CHECK_EQ(xio_steer_set_ip_mode(S, XIO_STEER_MAC_THEN_IP), 0);
	miss = run_repeat(prog_fd, f, 64);
	printf("test_run ns/frame (repeat 100000): XDP_PASS-only program %u; "
	       "MAC hit -> CPUMAP redirect %u; MAC+IPv4 miss -> pass %u\n",
	       base, hit, miss);
	close(pass_fd);
}

int main(void)
{
	const char *e;
	unsigned long n = 3000;
	uint8_t f[600];
	time_t t0 = time(NULL);

	S = steer_open_or_skip();
	xio_set_print(NULL);
	prog_fd = xio_steer_prog_fd(S);
	nr_cpus = xio_steer_nr_cpus(S);
	CHECK(prog_fd >= 0 && nr_cpus > 0);
	if ((e = getenv("XIO_STEER_FUZZ_N")))
		n = strtoul(e, NULL, 0);
	if ((e = getenv("XIO_STEER_FUZZ_SEED")))
		rng = strtoull(e, NULL, 0) | 1;
	printf("seed %llu, %lu frames per mode\n", (unsigned long long)rng, n);

	opts_checks();
	setup_rules();
	api_checks();
	crafted();
	for (int mode = 0; mode < 3; mode++) {
		CHECK_EQ(xio_steer_set_ip_mode(S, (enum xio_steer_ip_mode)mode),
			 0);
		for (unsigned long i = 0; i < n; i++) {
			size_t len = random_frame(f, sizeof(f));

			run_frame(f, len, mode, 99);
			CHECK(time(NULL) - t0 < 50);
		}
	}
	printf("%lu frames run, %lu refused by the kernel (< 14 bytes); "
	       "tenant %lu unknown %lu runt %lu malformed %lu stacked %lu\n",
	       frames_run, frames_refused, by_reason[0], by_reason[1],
	       by_reason[2], by_reason[3], by_reason[4]);
	/* every class was exercised */
	for (int i = 0; i < 5; i++)
		CHECK(by_reason[i] > 0 || i == 2);
	measure();
	xio_steer_close(S);
	return 0;
}
