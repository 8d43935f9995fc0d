/* SPDX-License-Identifier: MIT */
/*
 * The steering classification of one frame (docs/steering.md,
 * "Classification"), compiled twice from this one source: into the XDP
 * program (xio_steer.bpf.c, lookups in the BPF maps) and into xiod
 * (daemon/pkthop.c, the packet-socket reader after the CPU hop, lookups in
 * its copy of the rules).  So both sides classify a frame the same way by
 * construction; test_steer_prog checks the XDP side against a reference
 * model written from the spec.
 *
 * The includer defines, before including this header, three lookups that
 * return a tenant id (>= 0) or XIO_CL_UNKNOWN:
 *
 *   static inline int xio_cl_mac(const __u8 *mac);      6 bytes
 *   static inline int xio_cl_ip4(__u32 daddr);          network order
 *   static inline int xio_cl_ip6(const __u8 *daddr);    16 bytes
 *
 * Every header access is checked against @data_end before it is made (the
 * verifier insists; xiod's reader passes a copy of the first bytes).  On
 * the host, @data must be such that the L3 header is 4-byte aligned when
 * the frame has none or one VLAN tag (data % 4 == 2).
 */
#ifndef XIO_STEER_CLASSIFY_H
#define XIO_STEER_CLASSIFY_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/types.h>

#include "xio_steer_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define XIO_CL_BE16(x) ((__be16)__builtin_bswap16(x))
#else
#define XIO_CL_BE16(x) ((__be16)(x))
#endif

struct xio_cl_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

static __always_inline int xio_cl_is_vlan(__be16 proto)
{
	return proto == XIO_CL_BE16(ETH_P_8021Q) ||
	       proto == XIO_CL_BE16(ETH_P_8021AD);
}

/*
 * Destination-IP lookup on the L3 header at @l3 with ethertype @proto.
 * Returns a tenant, XIO_CL_UNKNOWN (not IP, or no match) or
 * XIO_CL_MALFORMED (truncated header, wrong version, IHL < 5 or beyond the
 * frame).
 */
static __always_inline int xio_cl_ip(void *l3, void *data_end, __be16 proto)
{
	if (proto == XIO_CL_BE16(ETH_P_IP)) {
		struct iphdr *iph = l3;

		if ((void *)(iph + 1) > data_end)
			return XIO_CL_MALFORMED;
		if (iph->version != 4 || iph->ihl < 5)
			return XIO_CL_MALFORMED;
		if ((void *)((char *)l3 + iph->ihl * 4) > data_end)
			return XIO_CL_MALFORMED;
		return xio_cl_ip4(iph->daddr);
	}
	if (proto == XIO_CL_BE16(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = l3;

		if ((void *)(ip6h + 1) > data_end)
			return XIO_CL_MALFORMED;
		if (ip6h->version != 6)
			return XIO_CL_MALFORMED;
		return xio_cl_ip6((const __u8 *)&ip6h->daddr);
	}
	return XIO_CL_UNKNOWN;
}

/*
 * The whole classification of one frame: a tenant id (>= 0) or an
 * XIO_CL_* reason.  At most one 802.1Q/802.1ad tag is looked through; a
 * second one makes the frame XIO_CL_STACKED whatever its addresses.
 * @ip_mode: XIO_STEER_IP_*.
 */
static __always_inline int xio_steer_classify(void *data, void *data_end,
					      __u32 ip_mode)
{
	struct ethhdr *eth = data;
	void *l3;
	__be16 proto;
	int t, ip;

	if ((void *)(eth + 1) > data_end)
		return XIO_CL_RUNT;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (xio_cl_is_vlan(proto)) {
		struct xio_cl_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return XIO_CL_MALFORMED;
		proto = vh->proto;
		l3 = vh + 1;
		if (xio_cl_is_vlan(proto))
			return XIO_CL_STACKED;
	}

	switch (ip_mode) {
	case XIO_STEER_IP_AFTER_MAC:
		t = xio_cl_mac(eth->h_dest);
		if (t >= 0)
			return t;
		return xio_cl_ip(l3, data_end, proto);
	case XIO_STEER_IP_FIRST:
		ip = xio_cl_ip(l3, data_end, proto);
		if (ip >= 0)
			return ip;
		t = xio_cl_mac(eth->h_dest);
		return t >= 0 ? t : ip;
	default:
		return xio_cl_mac(eth->h_dest);
	}
}

#endif /* XIO_STEER_CLASSIFY_H */
