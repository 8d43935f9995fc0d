/* SPDX-License-Identifier: MIT */
/*
 * Definitions shared by the steering XDP program (xio_steer.bpf.c) and its
 * loader (libxio/steer.c): map keys and values, limits, counter layouts.
 * Private to xio: the public face is include/xio/steer.h, whose stats
 * structs have exactly the layout of the counter structs below (steer.c
 * asserts it).  Only fixed-width types: this header is compiled for the BPF
 * target and for the host.
 */
#ifndef XIO_STEER_ABI_H
#define XIO_STEER_ABI_H

#include <linux/types.h>

#define XIO_STEER_MAX_TENANTS 1024U /* tenant ids 0 .. MAX-1 */
#define XIO_STEER_MAX_MACS 4096U
#define XIO_STEER_MAX_IPS 4096U /* per address family */
#define XIO_STEER_MAX_NODES 64U
#define XIO_STEER_MAX_CPUS 256U /* default; the loader sets the real one */
#define XIO_STEER_MAX_XSKS 256U /* AF_XDP sockets, one per receive queue */

/* Lookup order (config.ip_mode). */
#define XIO_STEER_IP_OFF 0U	  /* destination MAC only */
#define XIO_STEER_IP_AFTER_MAC 1U /* MAC, then destination IP on a miss */
#define XIO_STEER_IP_FIRST 2U	  /* destination IP, then MAC on a miss */

struct xio_steer_mac_key {
	__u8 addr[6];
	__u8 pad[2]; /* always zero */
};

struct xio_steer_ip6_key {
	__u8 addr[16];
};

/* tenants[tenant] */
#define XIO_STEER_TENANT_VALID (1U << 0)
struct xio_steer_tenant {
	__u32 flags; /* XIO_STEER_TENANT_* */
	__s32 node;  /* NUMA node the tenant lives on */
};

/* node_target[node]: where that node's packets are processed */
#define XIO_STEER_TARGET_VALID (1U << 0)
struct xio_steer_target {
	__u32 flags; /* XIO_STEER_TARGET_* */
	__u32 cpu;   /* CPUMAP slot == CPU id */
};

/* rxqs[{ifindex, queue}]: the AF_XDP socket a node's poller owns on that
 * receive queue (xsks[slot]) */
struct xio_steer_rxq_key {
	__u32 ifindex;
	__u32 queue;
};
#define XIO_STEER_RXQ_VALID (1U << 0)
struct xio_steer_rxq {
	__u32 flags; /* XIO_STEER_RXQ_* */
	__s32 node;  /* node of the poller that owns the socket */
	__u32 slot;  /* index in the XSKMAP */
	__u32 __pad;
};

/* config[0] */
struct xio_steer_config {
	__u32 ip_mode; /* XIO_STEER_IP_* */
	__u32 nr_rxqs; /* entries in rxqs: 0 skips the AF_XDP lookup */
};

/*
 * Metadata the first stage puts in front of a redirected frame (data_meta),
 * read back by the second stage on the target CPU, or by the reader of the
 * AF_XDP socket (xiod: 8 bytes in front of the frame in its UMEM).
 */
#define XIO_STEER_META_MAGIC 0x78696f31U /* "xio1" */
struct xio_steer_meta {
	__u32 magic;
	__u32 tenant;
};

/* Classification results that are not a tenant id (xio_steer_classify.h;
 * its lookups return a tenant or XIO_CL_UNKNOWN). */
#define XIO_CL_UNKNOWN (-1)
#define XIO_CL_RUNT (-2)
#define XIO_CL_MALFORMED (-3)
#define XIO_CL_STACKED (-4)

/* tstats[tenant], one copy per CPU (PERCPU_ARRAY). */
struct xio_steer_counters {
	__u64 packets;	  /* frames classified to the tenant (rx CPU) */
	__u64 bytes;	  /* their bytes */
	__u64 redirected; /* handed to the CPUMAP target (rx CPU) */
	__u64 delivered;  /* seen by the second stage on the target CPU */
	__u64 passed;	  /* passed to the kernel on the rx CPU: no target */
	__u64 drops; /* redirect refused (target CPU has no CPUMAP entry) */
	__u64 wrong_node; /* processed on a CPU of another node */
	__u64 xsk;	  /* redirected straight to the node's AF_XDP socket */
};

/* gstats[0], one copy per CPU. */
struct xio_steer_gcounters {
	__u64 frames;	    /* every frame the first stage saw */
	__u64 classified;   /* frames that matched a tenant */
	__u64 unknown;	    /* no tenant matched: XDP_PASS */
	__u64 runt;	    /* shorter than an Ethernet header: XDP_PASS */
	__u64 malformed;    /* truncated VLAN/IP header, bad IHL/version */
	__u64 vlan_stacked; /* more than one VLAN tag: XDP_PASS */
};

#endif /* XIO_STEER_ABI_H */
