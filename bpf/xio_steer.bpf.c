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
#include <bpf/bpf_helpers.h>

#include "xio_steer_abi.h"

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

/* The classifier's lookups, in the maps (xio_steer_classify.h). */
static __always_inline int xio_cl_mac(const __u8 *mac)
{
	struct xio_steer_mac_key key = {};
	__u32 *t;

	__builtin_memcpy(key.addr, mac, ETH_ALEN);
	t = bpf_map_lookup_elem(&mac_tenant, &key);
	return t ? (int)(*t & 0x7fffffff) : XIO_CL_UNKNOWN;
}

static __always_inline int xio_cl_ip4(__u32 daddr)
{
	__u32 *t = bpf_map_lookup_elem(&ip4_tenant, &daddr);

	return t ? (int)(*t & 0x7fffffff) : XIO_CL_UNKNOWN;
}

static __always_inline int xio_cl_ip6(const __u8 *daddr)
{
	struct xio_steer_ip6_key key;
	__u32 *t;

	__builtin_memcpy(key.addr, daddr, sizeof(key.addr));
	t = bpf_map_lookup_elem(&ip6_tenant, &key);
	return t ? (int)(*t & 0x7fffffff) : XIO_CL_UNKNOWN;
}

#include "xio_steer_classify.h"

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

	cl = xio_steer_classify(data, data_end, cfg->ip_mode);
	if (cl < 0) {
		if (cl == XIO_CL_RUNT)
			g->runt++;
		else if (cl == XIO_CL_MALFORMED)
			g->malformed++;
		else if (cl == XIO_CL_STACKED)
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
		cl = xio_steer_classify(data, data_end, ip_mode_get());
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
