// SPDX-License-Identifier: MIT
/*
 * xio steering: classify every received frame to its destination tenant and
 * hand it to a CPU of the tenant's NUMA node (docs/steering.md).
 *
 * Stage 1, xio_steer (attached to the ingress interface, runs on the CPU
 * that received the frame):
 *   destination MAC (and/or destination IPv4/IPv6, see config.ip_mode)
 *   -> tenant -> tenant's node, then
 *   - if the receive queue's AF_XDP socket belongs to the poller of that
 *     node: XSKMAP redirect, straight to the poller (fast path);
 *   - else, if the node has a target CPU: CPUMAP redirect to it;
 *   - else XDP_PASS on this CPU (counted as passed).
 *   Anything that matches no tenant, runts, stacked VLAN tags and malformed
 *   headers go on to the kernel stack (XDP_PASS) and are counted.
 * Stage 2, xio_steer_cpu (attached to every CPUMAP entry, runs on the target
 *   CPU): counts the frame as delivered on this CPU, checks that this CPU is
 *   on the tenant's node (wrong_node must stay 0) and passes it to the stack
 *   of the target CPU, where xiod's poller for that node picks it up.
 *
 * Every header access is checked against data_end before it is made.  The
 * program never prints, allocates or loops over packet data.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xio_steer_abi.h"

struct xio_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XIO_STEER_MAX_MACS);
	__type(key, struct xio_steer_mac_key);
	__type(value, __u32);
} mac_tenant SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XIO_STEER_MAX_IPS);
	__type(key, __u32); /* network byte order */
	__type(value, __u32);
} ip4_tenant SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XIO_STEER_MAX_IPS);
	__type(key, struct xio_steer_ip6_key);
	__type(value, __u32);
} ip6_tenant SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XIO_STEER_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct xio_steer_tenant);
} tenants SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XIO_STEER_MAX_NODES);
	__type(key, __u32);
	__type(value, struct xio_steer_target);
} node_target SEC(".maps");

/* cpu -> NUMA node, for the wrong-node check on the target CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XIO_STEER_MAX_CPUS);
	__type(key, __u32);
	__type(value, __s32);
} cpu_node SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, XIO_STEER_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XIO_STEER_MAX_XSKS);
	__type(key, struct xio_steer_rxq_key);
	__type(value, struct xio_steer_rxq);
} rxqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XIO_STEER_MAX_XSKS);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xio_steer_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XIO_STEER_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct xio_steer_counters);
} tstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xio_steer_gcounters);
} gstats SEC(".maps");

/* classify() results that are not a tenant id */
#define CL_UNKNOWN (-1)
#define CL_RUNT (-2)
#define CL_MALFORMED (-3)
#define CL_STACKED (-4)

static __always_inline int is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) ||
	       proto == bpf_htons(ETH_P_8021AD);
}

static __always_inline int lookup_mac(const struct ethhdr *eth)
{
	struct xio_steer_mac_key key = {};
	__u32 *t;

	__builtin_memcpy(key.addr, eth->h_dest, ETH_ALEN);
	t = bpf_map_lookup_elem(&mac_tenant, &key);
	return t ? (int)(*t & 0x7fffffff) : CL_UNKNOWN;
}

/*
 * Destination-IP lookup on the L3 header at @l3 with ethertype @proto.
 * Returns a tenant, CL_UNKNOWN (not IP, or no match) or CL_MALFORMED
 * (truncated header, wrong version, IHL < 5 or beyond the frame).
 */
static __always_inline int lookup_ip(void *l3, void *data_end, __be16 proto)
{
	__u32 *t;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = l3;
		__u32 daddr;

		if ((void *)(iph + 1) > data_end)
			return CL_MALFORMED;
		if (iph->version != 4 || iph->ihl < 5)
			return CL_MALFORMED;
		if ((void *)((char *)l3 + iph->ihl * 4) > data_end)
			return CL_MALFORMED;
		daddr = iph->daddr;
		t = bpf_map_lookup_elem(&ip4_tenant, &daddr);
		return t ? (int)(*t & 0x7fffffff) : CL_UNKNOWN;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = l3;
		struct xio_steer_ip6_key key;

		if ((void *)(ip6h + 1) > data_end)
			return CL_MALFORMED;
		if (ip6h->version != 6)
			return CL_MALFORMED;
		__builtin_memcpy(key.addr, &ip6h->daddr, sizeof(key.addr));
		t = bpf_map_lookup_elem(&ip6_tenant, &key);
		return t ? (int)(*t & 0x7fffffff) : CL_UNKNOWN;
	}
	return CL_UNKNOWN;
}

/*
 * The whole classification of one frame: a tenant id (>= 0) or a CL_*
 * reason.  At most one 802.1Q/802.1ad tag is looked through; a second one
 * makes the frame CL_STACKED whatever its addresses.
 */
static __always_inline int classify(void *data, void *data_end, __u32 ip_mode)
{
	struct ethhdr *eth = data;
	void *l3;
	__be16 proto;
	int t, ip;

	if ((void *)(eth + 1) > data_end)
		return CL_RUNT;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (is_vlan(proto)) {
		struct xio_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return CL_MALFORMED;
		proto = vh->proto;
		l3 = vh + 1;
		if (is_vlan(proto))
			return CL_STACKED;
	}

	switch (ip_mode) {
	case XIO_STEER_IP_AFTER_MAC:
		t = lookup_mac(eth);
		if (t >= 0)
			return t;
		return lookup_ip(l3, data_end, proto);
	case XIO_STEER_IP_FIRST:
		ip = lookup_ip(l3, data_end, proto);
		if (ip >= 0)
			return ip;
		t = lookup_mac(eth);
		return t >= 0 ? t : ip;
	default:
		return lookup_mac(eth);
	}
}

static __always_inline struct xio_steer_config *config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline __u32 ip_mode_get(void)
{
	struct xio_steer_config *c = config_get();

	return c ? c->ip_mode : XIO_STEER_IP_OFF;
}

SEC("xdp")
int xio_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = (__u64)(data_end - data);
	struct xio_steer_gcounters *g;
	struct xio_steer_counters *c;
	struct xio_steer_tenant *tc;
	struct xio_steer_target *tgt;
	struct xio_steer_meta *meta;
	struct xio_steer_rxq_key rk;
	struct xio_steer_config *cfg;
	struct xio_steer_rxq *rq;
	__u32 zero = 0, tenant, node;
	long act;
	int cl;

	g = bpf_map_lookup_elem(&gstats, &zero);
	cfg = config_get();
	if (!g || !cfg)
		return XDP_PASS;
	g->frames++;

	cl = classify(data, data_end, cfg->ip_mode);
	if (cl < 0) {
		if (cl == CL_RUNT)
			g->runt++;
		else if (cl == CL_MALFORMED)
			g->malformed++;
		else if (cl == CL_STACKED)
			g->vlan_stacked++;
		else
			g->unknown++;
		return XDP_PASS;
	}
	tenant = (__u32)cl;
	c = bpf_map_lookup_elem(&tstats, &tenant);
	if (!c) {
		/* A map value beyond the tenant range: treat as unknown. */
		g->unknown++;
		return XDP_PASS;
	}
	g->classified++;
	c->packets++;
	c->bytes += len;

	tc = bpf_map_lookup_elem(&tenants, &tenant);
	if (!tc || !(tc->flags & XIO_STEER_TENANT_VALID) || tc->node < 0)
		goto pass;
	node = (__u32)tc->node;

	/*
	 * Tell the receiver which tenant this is, so it need not classify
	 * again: the second stage after a CPU hop, or xiod's poller reading
	 * the AF_XDP socket (copy mode copies the metadata with the frame).
	 * The poller delivers only to the tenant named here.  Drivers
	 * without metadata support refuse; stage 2 then classifies itself
	 * and xiod drops what carries no metadata.
	 */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)) == 0) {
		data = (void *)(long)ctx->data;
		meta = (void *)(long)ctx->data_meta;
		if ((void *)(meta + 1) <= data) {
			meta->magic = XIO_STEER_META_MAGIC;
			meta->tenant = tenant;
		}
	}

	/*
	 * Fast path: the frame arrived on a receive queue whose AF_XDP socket
	 * belongs to the poller of the tenant's node (NIC flow steering put
	 * it there): hand it to that socket directly.  An AF_XDP socket only
	 * takes frames of the queue it is bound to, hence the key.
	 */
	rq = NULL;
	if (cfg->nr_rxqs) {
		rk.ifindex = ctx->ingress_ifindex;
		rk.queue = ctx->rx_queue_index;
		rq = bpf_map_lookup_elem(&rxqs, &rk);
	}
	if (rq && (rq->flags & XIO_STEER_RXQ_VALID) && rq->node == tc->node) {
		/* flags 0: a slot without a socket returns XDP_ABORTED (0)
		 * and we fall back to the CPU hop below */
		act = bpf_redirect_map(&xsks, rq->slot, 0);
		if (act == XDP_REDIRECT) {
			__u32 cpu = bpf_get_smp_processor_id();
			__s32 *cn = bpf_map_lookup_elem(&cpu_node, &cpu);

			if (!cn || *cn != tc->node)
				c->wrong_node++;
			c->xsk++;
			return XDP_REDIRECT;
		}
	}

	tgt = bpf_map_lookup_elem(&node_target, &node);
	if (!tgt || !(tgt->flags & XIO_STEER_TARGET_VALID))
		goto pass;

	act = bpf_redirect_map(&cpus, tgt->cpu, XDP_DROP);
	if (act == XDP_REDIRECT) {
		c->redirected++;
		return XDP_REDIRECT;
	}
	c->drops++;
	return XDP_DROP;
pass:
	/* The tenant's node has no target yet: the host stack may route it. */
	c->passed++;
	return XDP_PASS;
}

SEC("xdp/cpumap")
int xio_steer_cpu(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xio_steer_meta *meta = (void *)(long)ctx->data_meta;
	struct xio_steer_counters *c;
	struct xio_steer_tenant *tc;
	__u32 tenant, cpu;
	__s32 *node;
	int cl;

	if ((void *)(meta + 1) <= data && meta->magic == XIO_STEER_META_MAGIC) {
		tenant = meta->tenant;
	} else {
		cl = classify(data, data_end, ip_mode_get());
		if (cl < 0)
			return XDP_PASS;
		tenant = (__u32)cl;
	}
	c = bpf_map_lookup_elem(&tstats, &tenant);
	if (!c)
		return XDP_PASS;
	c->delivered++;

	cpu = bpf_get_smp_processor_id();
	node = bpf_map_lookup_elem(&cpu_node, &cpu);
	tc = bpf_map_lookup_elem(&tenants, &tenant);
	/* A tenant removed while the frame was in flight is not a misroute. */
	if (tc && (tc->flags & XIO_STEER_TENANT_VALID) &&
	    (!node || *node != tc->node))
		c->wrong_node++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
