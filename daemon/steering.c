/* SPDX-License-Identifier: MIT */
/*
 * xiod's eBPF steering (docs/steering.md): one libxio steering object per
 * daemon, loaded at the first request that needs it, driven by the admin
 * STEER messages.  Placement follows xiod's own: a tenant's node is the one
 * its region was bound to (else its poller's, else the only node of a
 * one-node machine), and each node's target CPU is the CPU of the first
 * poller pinned on that node.  Control thread only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

#include <xio/steer.h>

#include "xiod.h"

static struct xio_steer *steer;
static struct xio_admin_steer_iface ifaces[XIO_ADMIN_STEER_IFACES_MAX];
static uint32_t nr_ifaces;
static bool ip_mode_set;

/* Packet I/O of an attached interface, in the order of ifaces[]. */
#define IFACE_MAX_RXQS 16U
struct iface_io {
	struct xsk *xsk[IFACE_MAX_RXQS]; /* per receive queue, or NULL */
	uint32_t nr_rxqs;
};
static struct iface_io io[XIO_ADMIN_STEER_IFACES_MAX];

/* Without libnuma, or with one node, every CPU and region is on node 0. */
static bool one_node(void)
{
	return numa_available() < 0 || numa_num_configured_nodes() <= 1;
}

static int steering_open(void)
{
	unsigned int i;
	int err;

	if (steer)
		return 0;
	err = xio_steer_open(NULL, &steer);
	if (err) {
		log_warn("steering: loading the XDP program: %s",
			 strerror(-err));
		steer = NULL;
		return err;
	}
	for (i = 0; i < cfg.nr_pollers; i++) {
		const struct poller *p = &pollers[i];
		int node = p->node >= 0 ? p->node : one_node() ? 0 : -1;

		if (p->cpu < 0 || node < 0 ||
		    xio_steer_node_target(steer, node) != -ENOENT)
			continue;
		err = xio_steer_set_node_target(steer, node, p->cpu);
		if (err)
			log_warn("steering: node %d -> CPU %d: %s", node,
				 p->cpu, strerror(-err));
		else
			log_info(
				"steering: node %d's frames to CPU %d (poller %u)",
				node, p->cpu, p->idx);
	}
	log_info("steering: XDP program loaded");
	return 0;
}

int steering_node(const struct tenant *t)
{
	if (t->numa_node >= 0)
		return t->numa_node;
	if (t->p && t->p->node >= 0)
		return t->p->node;
	if (one_node())
		return 0; /* every region lives there */
	return -1;
}

static int find_iface(const char *name)
{
	uint32_t i;

	for (i = 0; i < nr_ifaces; i++)
		if (!strcmp(ifaces[i].name, name))
			return (int)i;
	return -1;
}

/* The poller that owns the AF_XDP socket of receive queue @q. */
static struct poller *rxq_poller(uint32_t q)
{
	return &pollers[q % cfg.nr_pollers];
}

/* Receive queues of @ifname (ethtool channels), 1 when it cannot say. */
static uint32_t rx_queues(const char *ifname)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr;
	uint32_t n = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
		/* NICs count combined channels, veth rx ones (and both) */
		n = ch.rx_count > ch.combined_count ? ch.rx_count :
						      ch.combined_count;
		if (!n)
			n = 1;
	}
	close(fd);
	return n < IFACE_MAX_RXQS ? n : IFACE_MAX_RXQS;
}

/*
 * The pollers' AF_XDP sockets on every receive queue of interface @i, and
 * its transmit port.  Queue q goes to poller q % nr_pollers, registered for
 * that poller's node.  A queue whose socket fails keeps the CPU hop (its
 * frames reach the kernel stack on the node); logged.
 */
static void iface_io_open(uint32_t i, bool copy)
{
	const char *name = ifaces[i].name;
	int ifindex = (int)if_nametoindex(name), fd, err;
	uint32_t q, nq = rx_queues(name);

	memset(&io[i], 0, sizeof(io[i]));
	err = pktio_port_open(ifaces[i].port, ifindex);
	if (err)
		log_warn("steering: %s: no transmit port: %s", name,
			 strerror(-err));
	for (q = 0; q < nq; q++) {
		struct poller *p = rxq_poller(q);
		int node = p->node >= 0 ? p->node : one_node() ? 0 : -1;

		if (node < 0)
			continue; /* unpinned on a NUMA machine: no home */
		err = pktio_xsk_open(ifindex, q, copy, p, &io[i].xsk[q], &fd);
		if (!err) {
			err = xio_steer_set_rxq(steer, name, q, node, fd);
			if (err) {
				pktio_xsk_close(io[i].xsk[q]);
				io[i].xsk[q] = NULL;
			}
		}
		if (err)
			log_warn("steering: %s queue %u: no AF_XDP socket: %s",
				 name, q, strerror(-err));
		else
			log_info(
				"steering: %s queue %u -> AF_XDP socket of poller %u (node %d)",
				name, q, p->idx, node);
	}
	io[i].nr_rxqs = nq;
}

/* Sockets out of the XSKMAP first, then away; the port unbound. */
static void iface_io_close(uint32_t i)
{
	uint32_t q;

	for (q = 0; q < io[i].nr_rxqs; q++) {
		if (!io[i].xsk[q])
			continue;
		xio_steer_clear_rxq(steer, ifaces[i].name, q);
		pktio_xsk_close(io[i].xsk[q]);
		io[i].xsk[q] = NULL;
	}
	pktio_port_close(ifaces[i].port);
}

/* The lowest port no attached interface uses. */
static uint32_t free_port(void)
{
	uint32_t port, i;

	for (port = 0;; port++) {
		for (i = 0; i < nr_ifaces && ifaces[i].port != port; i++)
			;
		if (i == nr_ifaces)
			return port;
	}
}

static int op_attach(const struct xio_msg_steer *m)
{
	enum xio_steer_attach_mode mode = XIO_STEER_NATIVE;
	int err;

	if (m->flags & ~XIO_ADMIN_STEER_GENERIC)
		return -EINVAL;
	if (m->flags & XIO_ADMIN_STEER_GENERIC)
		mode = XIO_STEER_GENERIC;
	if (find_iface(m->ifname) >= 0)
		return -EALREADY;
	if (nr_ifaces >= XIO_ADMIN_STEER_IFACES_MAX)
		return -ENOSPC;
	err = steering_open();
	if (err)
		return err;
	err = xio_steer_attach(steer, m->ifname, mode, 0);
	if (err)
		return err;
	memset(&ifaces[nr_ifaces], 0, sizeof(ifaces[0]));
	strcpy(ifaces[nr_ifaces].name, m->ifname);
	ifaces[nr_ifaces].flags = m->flags;
	ifaces[nr_ifaces].port = free_port();
	iface_io_open(nr_ifaces, mode == XIO_STEER_GENERIC);
	nr_ifaces++;
	log_info("steering: attached to %s (%s XDP)", m->ifname,
		 mode == XIO_STEER_GENERIC ? "generic" : "native");
	return 0;
}

static int op_detach(const struct xio_msg_steer *m)
{
	int i = find_iface(m->ifname), err;

	if (i < 0 || !steer)
		return -ENOENT;
	iface_io_close((uint32_t)i);
	err = xio_steer_detach(steer, m->ifname);
	if (err && err != -ENOENT)
		return err;
	memmove(&ifaces[i], &ifaces[i + 1],
		(nr_ifaces - (uint32_t)i - 1) * sizeof(ifaces[0]));
	memmove(&io[i], &io[i + 1],
		(nr_ifaces - (uint32_t)i - 1) * sizeof(io[0]));
	nr_ifaces--;
	log_info("steering: detached from %s", m->ifname);
	return 0;
}

static int ip_len(int32_t family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return -1;
}

/* Whether poller @p reads one of the AF_XDP sockets (frames reach only
 * the tenants of the socket's poller). */
static bool serves_xsk(const struct poller *p)
{
	uint32_t i, q;

	for (i = 0; i < nr_ifaces; i++)
		for (q = 0; q < io[i].nr_rxqs; q++)
			if (io[i].xsk[q] && rxq_poller(q) == p)
				return true;
	return false;
}

static int op_add(const struct xio_msg_steer *m, struct tenant *t)
{
	int node, err;

	if (!m->flags || (m->flags & ~(XIO_STEER_F_MAC | XIO_STEER_F_IP)))
		return -EINVAL;
	if ((m->flags & XIO_STEER_F_IP) && ip_len(m->family) < 0)
		return -EAFNOSUPPORT;
	if (t->id >= XIO_STEER_TENANTS_MAX)
		return -ERANGE;
	err = steering_open();
	if (err)
		return err;
	if ((m->flags & XIO_STEER_F_IP) && !ip_mode_set) {
		err = xio_steer_set_ip_mode(steer, XIO_STEER_MAC_THEN_IP);
		if (err)
			return err;
		ip_mode_set = true;
	}
	if (m->flags & XIO_STEER_F_MAC) {
		err = xio_steer_add_mac(steer, t->id, m->mac);
		if (err)
			return err;
	}
	if (m->flags & XIO_STEER_F_IP) {
		err = xio_steer_add_ip(steer, t->id, m->family, m->addr);
		if (err) {
			if (m->flags & XIO_STEER_F_MAC)
				xio_steer_del_mac(steer, m->mac);
			return err;
		}
	}
	node = steering_node(t);
	if (node >= 0) {
		err = xio_steer_set_tenant_node(steer, t->id, node);
		if (err)
			log_warn("steering: tenant %u -> node %d: %s", t->id,
				 node, strerror(-err));
	}
	t->steered = true;
	log_info("steering: tenant %u '%s': rule added (node %d)", t->id,
		 t->name, node);
	if (nr_ifaces && !serves_xsk(t->p))
		log_warn(
			"steering: tenant %u '%s' is on poller %u, which reads no AF_XDP socket: its frames are dropped (docs/steering.md, limits)",
			t->id, t->name, t->p->idx);
	return 0;
}

/* Whether @t owns the rule of @family / @addr. */
static int rule_owned(const struct tenant *t, int32_t family,
		      const uint8_t *addr, size_t len)
{
	struct xio_steer_rule *r;
	int n, i, found = 0;

	n = xio_steer_rules(steer, NULL, 0);
	if (n <= 0)
		return n;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return -ENOMEM;
	n = xio_steer_rules(steer, r, (unsigned int)n);
	for (i = 0; n > 0 && i < n; i++)
		if (r[i].tenant == t->id && r[i].family == family &&
		    !memcmp(r[i].addr, addr, len))
			found = 1;
	free(r);
	return n < 0 ? n : found;
}

static int op_del(const struct xio_msg_steer *m, struct tenant *t)
{
	int err;

	if (m->flags & ~(XIO_STEER_F_MAC | XIO_STEER_F_IP))
		return -EINVAL;
	if (!steer || t->id >= XIO_STEER_TENANTS_MAX)
		return -ENOENT;
	if (!m->flags) {
		err = xio_steer_del_tenant(steer, t->id);
		if (err < 0)
			return err;
		log_info("steering: tenant %u '%s': %d rule(s) removed", t->id,
			 t->name, err);
		return err ? 0 : -ENOENT;
	}
	if ((m->flags & XIO_STEER_F_IP) && ip_len(m->family) < 0)
		return -EAFNOSUPPORT;
	/* Check both first: a refused request changes nothing. */
	if (m->flags & XIO_STEER_F_MAC) {
		err = rule_owned(t, AF_PACKET, m->mac, 6);
		if (err <= 0)
			return err ? err : -ENOENT;
	}
	if (m->flags & XIO_STEER_F_IP) {
		err = rule_owned(t, m->family, m->addr,
				 (size_t)ip_len(m->family));
		if (err <= 0)
			return err ? err : -ENOENT;
	}
	if (m->flags & XIO_STEER_F_MAC) {
		err = xio_steer_del_mac(steer, m->mac);
		if (err)
			return err;
	}
	if (m->flags & XIO_STEER_F_IP) {
		err = xio_steer_del_ip(steer, m->family, m->addr);
		if (err)
			return err;
	}
	log_info("steering: tenant %u '%s': rule removed", t->id, t->name);
	return 0;
}

static int op_show(const struct xio_msg_steer *m, struct xio_msg_steer_reply *r)
{
	struct xio_steer_rule *rules = NULL;
	int n = 0, i;

	memcpy(r->ifaces, ifaces, sizeof(ifaces[0]) * nr_ifaces);
	r->nr_ifaces = nr_ifaces;
	if (!steer)
		return 0;
	n = xio_steer_rules(steer, NULL, 0);
	if (n > 0) {
		rules = calloc((size_t)n, sizeof(*rules));
		if (!rules)
			return -ENOMEM;
		n = xio_steer_rules(steer, rules, (unsigned int)n);
	}
	if (n < 0) {
		free(rules);
		return n;
	}
	r->total = (uint32_t)n;
	for (i = (int)m->start; i < n && r->count < XIO_STEER_CHUNK; i++) {
		struct xio_admin_steer_rule *o = &r->r[r->count++];
		int node = xio_steer_tenant_node(steer, rules[i].tenant);

		o->tenant = rules[i].tenant;
		o->family = rules[i].family;
		memcpy(o->addr, rules[i].addr, sizeof(o->addr));
		o->node = node < 0 ? -1 : node;
		o->cpu = node < 0 ? -1 : xio_steer_node_target(steer, node);
		if (o->cpu < 0)
			o->cpu = -1;
	}
	free(rules);
	return 0;
}

int steering_request(const struct xio_msg_steer *m, struct tenant *t,
		     struct xio_msg_steer_reply *r)
{
	bool has_if =
		m->op == XIO_STEER_OP_ATTACH || m->op == XIO_STEER_OP_DETACH;

	if (m->resv0[0] || m->resv0[1] ||
	    (has_if &&
	     (!m->ifname[0] || !memchr(m->ifname, 0, sizeof(m->ifname)))))
		return -EINVAL;
	switch (m->op) {
	case XIO_STEER_OP_ATTACH:
		return op_attach(m);
	case XIO_STEER_OP_DETACH:
		return op_detach(m);
	case XIO_STEER_OP_ADD:
		return t ? op_add(m, t) : -ENOENT;
	case XIO_STEER_OP_DEL:
		return t ? op_del(m, t) : -ENOENT;
	case XIO_STEER_OP_SHOW:
		return op_show(m, r);
	default:
		return -EINVAL;
	}
}

void steering_tenant_gone(struct tenant *t)
{
	if (!steer || !t->steered || t->id >= XIO_STEER_TENANTS_MAX)
		return;
	xio_steer_del_tenant(steer, t->id); /* its counters stay */
	t->steered = false;
}

void steering_stats(struct xio_tenant_stats *w, uint32_t id)
{
	struct xio_steer_tenant_stats s;

	if (!steer || id >= XIO_STEER_TENANTS_MAX ||
	    xio_steer_tenant_stats(steer, id, &s, NULL, 0))
		return;
	w->steer_packets = s.packets;
	w->steer_bytes = s.bytes;
	w->steer_drops += s.drops; /* the poller's no-buffer drops are in */
	w->steer_passed = s.passed;
	w->steer_wrong_node = s.wrong_node;
}

void steering_close(void)
{
	uint32_t i;

	if (!steer)
		return;
	for (i = 0; i < nr_ifaces; i++) {
		log_info("steering: detaching from %s", ifaces[i].name);
		iface_io_close(i);
	}
	xio_steer_close(steer); /* detaches, restoring what was there */
	steer = NULL;
	nr_ifaces = 0;
}
