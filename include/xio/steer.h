/* SPDX-License-Identifier: MIT */
/*
 * libxio host API: eBPF steering of received packets to tenants.
 *
 * An XDP program attached to the host's ingress interface(s) classifies every
 * frame on its own: destination MAC (and/or destination IPv4/IPv6) -> tenant
 * -> the tenant's NUMA node -> that node's target CPU, and redirects the frame
 * there through a CPUMAP; a second program on the target CPU counts it and
 * checks that the CPU is on the tenant's node.  Frames of no tenant, runts,
 * stacked VLAN tags and malformed headers go on to the kernel stack.  See
 * docs/steering.md for the design and the delivery decision.
 *
 * One struct xio_steer owns one loaded program and its maps; it may be
 * attached to several interfaces.  Not thread-safe: serialise calls on one
 * object.  Map updates take effect for the next frame.  Requires
 * CAP_BPF + CAP_NET_ADMIN (or root).
 *
 * Every function that can fail returns a negative errno; nothing is printed
 * except through xio_set_print().
 */
#ifndef XIO_STEER_H
#define XIO_STEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XIO_STEER_TENANTS_MAX 1024U /* tenant ids are 0 .. 1023 */
#define XIO_STEER_NODES_MAX 64U

/* Lookup order, xio_steer_opts.ip_mode and xio_steer_set_ip_mode(). */
enum xio_steer_ip_mode {
	XIO_STEER_MAC_ONLY = 0,	   /* destination MAC only (default) */
	XIO_STEER_MAC_THEN_IP = 1, /* MAC; destination IP on a MAC miss */
	XIO_STEER_IP_THEN_MAC = 2, /* destination IP; MAC on an IP miss */
};

/*
 * Options for xio_steer_open().  Extensible: set .sz = sizeof(struct
 * xio_steer_opts); a larger struct is accepted when the fields this library
 * does not know are zero.  NULL means all defaults.
 */
struct xio_steer_opts {
	size_t sz;
	uint32_t ip_mode;      /* enum xio_steer_ip_mode */
	uint32_t cpumap_qsize; /* per-CPU redirect queue; 0 = 2048 */
};

struct xio_steer;

/*
 * Open and load the steering program and create its maps (nothing attached
 * yet).  The CPU -> node table starts from the machine's topology (libnuma).
 * Returns 0, -EINVAL (bad options), -EPERM (no privilege), or another -errno
 * from libbpf / the kernel (the verifier log goes to the print callback at
 * XIO_DEBUG).
 */
int xio_steer_open(const struct xio_steer_opts *opts, struct xio_steer **out);

/* Detach from every interface still attached (restoring what was there),
 * then unload.  Accepts NULL. */
void xio_steer_close(struct xio_steer *s);

enum xio_steer_attach_mode {
	XIO_STEER_NATIVE = 0,  /* driver XDP */
	XIO_STEER_GENERIC = 1, /* skb XDP: any device, slower */
};
/* xio_steer_attach() flags.  REPLACE: replace an XDP program already
 * there; detach puts it back. */
#define XIO_STEER_ATTACH_REPLACE (1U << 0)
#define XIO_STEER_ATTACH_FLAGS_MASK XIO_STEER_ATTACH_REPLACE

/*
 * Attach the classifier to @ifname in @mode.  An interface that already has
 * an XDP program in that mode is refused with -EBUSY, unless
 * XIO_STEER_ATTACH_REPLACE: the old program's id is then recorded and put
 * back by xio_steer_detach() / xio_steer_close().  Returns 0, -ENODEV (no
 * such interface), -EBUSY, -EALREADY (already attached by this object),
 * -ENOSPC (too many interfaces), -EINVAL (bad mode or flags), -EOPNOTSUPP
 * (driver without native XDP) or another -errno.
 */
int xio_steer_attach(struct xio_steer *s, const char *ifname,
		     enum xio_steer_attach_mode mode, unsigned int flags);

/*
 * Detach from @ifname and leave it as it was before xio_steer_attach(): no
 * XDP program, or the one that was replaced.  If someone else has replaced
 * our program meanwhile, theirs is left alone.  0, -ENOENT (not attached by
 * this object) or -errno.
 */
int xio_steer_detach(struct xio_steer *s, const char *ifname);

/* ---- rules --------------------------------------------------------- */

/* Map destination MAC @mac to @tenant (replacing an earlier mapping).
 * 0, -EINVAL (tenant out of range, multicast/zero MAC), -E2BIG (map full). */
int xio_steer_add_mac(struct xio_steer *s, uint32_t tenant,
		      const uint8_t mac[6]);
/* 0 or -ENOENT. */
int xio_steer_del_mac(struct xio_steer *s, const uint8_t mac[6]);

/*
 * Map destination address @addr (family AF_INET: 4 bytes, AF_INET6: 16
 * bytes, network byte order) to @tenant.  Only consulted when the IP mode is
 * not XIO_STEER_MAC_ONLY.  0, -EINVAL, -EAFNOSUPPORT, -E2BIG.
 */
int xio_steer_add_ip(struct xio_steer *s, uint32_t tenant, int family,
		     const void *addr);
int xio_steer_del_ip(struct xio_steer *s, int family, const void *addr);

/* Remove every MAC and IP rule of @tenant and its node (counters stay).
 * Returns the number of rules removed (>= 0) or -errno. */
int xio_steer_del_tenant(struct xio_steer *s, uint32_t tenant);

int xio_steer_set_ip_mode(struct xio_steer *s, enum xio_steer_ip_mode mode);

/* One classification rule, as listed by xio_steer_rules(). */
struct xio_steer_rule {
	uint32_t tenant;
	int32_t family;	  /* AF_PACKET: MAC in addr[0..5]; AF_INET; AF_INET6 */
	uint8_t addr[16]; /* network byte order */
};

/*
 * List the rules (MACs, then IPv4, then IPv6; no particular order within a
 * kind) into @out, at most @max of them.  Returns the total number of rules,
 * which may exceed @max (then only @max were written), or -errno.  A rule
 * added or removed during the call may or may not be listed.
 */
int xio_steer_rules(struct xio_steer *s, struct xio_steer_rule *out,
		    unsigned int max);

/* ---- placement ----------------------------------------------------- */

/* The NUMA node @tenant lives on; -1 clears it (its frames then go to the
 * kernel stack, counted as passed).  0 or -EINVAL. */
int xio_steer_set_tenant_node(struct xio_steer *s, uint32_t tenant, int node);

/*
 * The CPU that processes the frames of @node's tenants (a CPU of that node
 * other than the poller's own, normally).  Creates the CPUMAP entry for @cpu
 * first and only then points the node at it, so a frame never finds a node
 * without its queue; -1 clears the node (its tenants' frames then pass to the
 * kernel stack on the receiving CPU).  0, -EINVAL (node or cpu out of range)
 * or -errno (e.g. the CPU is offline).
 */
int xio_steer_set_node_target(struct xio_steer *s, int node, int cpu);

/* Placement as set: @tenant's node, or -ENOENT if none; @node's target CPU,
 * or -ENOENT if none; -EINVAL for an id out of range. */
int xio_steer_tenant_node(struct xio_steer *s, uint32_t tenant);
int xio_steer_node_target(struct xio_steer *s, int node);

/*
 * Override which node @cpu belongs to, for the wrong-node check (the default
 * comes from the machine's topology; tests use this to simulate two nodes on
 * a one-node machine).  0 or -EINVAL.
 */
int xio_steer_set_cpu_node(struct xio_steer *s, int cpu, int node);

/*
 * Fast path for NICs whose flow rules put a tenant's traffic on a queue of
 * its node's poller: register AF_XDP socket @xsk_fd, bound to @ifname's
 * receive queue @queue and owned by the poller of @node.  Frames of @node's
 * tenants arriving on that queue are then redirected straight into it
 * (counted as xsk); other tenants' frames on that queue still take the CPU
 * hop.  The fd is borrowed: the kernel removes the socket from the map when
 * it is closed, and its frames fall back to the CPU hop.  0, -EINVAL,
 * -ENODEV, -ENOSPC (no free slot) or -errno (e.g. @xsk_fd is no bound
 * AF_XDP socket).
 */
int xio_steer_set_rxq(struct xio_steer *s, const char *ifname, uint32_t queue,
		      int node, int xsk_fd);
/* Forget @ifname's queue @queue.  0, -ENOENT or -errno. */
int xio_steer_clear_rxq(struct xio_steer *s, const char *ifname,
			uint32_t queue);

/* ---- counters ------------------------------------------------------ */

/* Per-tenant counters (layout fixed: eight-byte fields in this order). */
struct xio_steer_tenant_stats {
	uint64_t packets;    /* frames classified to the tenant */
	uint64_t bytes;	     /* their bytes */
	uint64_t redirected; /* handed to the node's target CPU */
	uint64_t delivered;  /* processed on the target CPU */
	uint64_t passed;     /* passed to the kernel: tenant or node unplaced */
	uint64_t drops;	     /* target CPU without a redirect queue */
	uint64_t wrong_node; /* processed on a CPU of another node: must be 0 */
	uint64_t xsk; /* redirected straight to the node's AF_XDP socket */
};

struct xio_steer_global_stats {
	uint64_t frames;       /* every frame seen */
	uint64_t classified;   /* matched a tenant */
	uint64_t unknown;      /* matched no tenant: to the kernel stack */
	uint64_t runt;	       /* shorter than an Ethernet header */
	uint64_t malformed;    /* truncated VLAN/IP header, bad IHL/version */
	uint64_t vlan_stacked; /* two or more VLAN tags: to the kernel stack */
};

/* Number of per-CPU slots (possible CPUs) the per-CPU reads fill. */
int xio_steer_nr_cpus(const struct xio_steer *s);

/*
 * Counters of @tenant summed over CPUs into @sum (may be NULL) and, when
 * @per_cpu is not NULL, per CPU into per_cpu[0 .. nr_cpus-1] (@nr_cpus must
 * be at least xio_steer_nr_cpus()).  0, -EINVAL or -errno.
 */
int xio_steer_tenant_stats(struct xio_steer *s, uint32_t tenant,
			   struct xio_steer_tenant_stats *sum,
			   struct xio_steer_tenant_stats *per_cpu,
			   unsigned int nr_cpus);
int xio_steer_global_stats(struct xio_steer *s,
			   struct xio_steer_global_stats *sum);

/* The classifier's program fd (owned by @s), e.g. for BPF_PROG_TEST_RUN. */
int xio_steer_prog_fd(const struct xio_steer *s);

#ifdef __cplusplus
}
#endif
#endif /* XIO_STEER_H */
