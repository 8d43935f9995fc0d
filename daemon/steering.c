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
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

#include <xio/steer.h>

#include "xio_steer_abi.h"
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
	struct xsk *hop[XIOD_MAX_POLLERS]; /* per node target, or NULL */
};
static struct iface_io io[XIO_ADMIN_STEER_IFACES_MAX];

/* The nodes' target CPUs (the CPUMAP hop) and the poller reading each
 * node's hopped frames, set when the program is loaded. */
struct hop_target {
	int node, cpu;
	struct poller *p;
};
static struct hop_target targets[XIOD_MAX_POLLERS];
static uint32_t nr_targets;

/* Without libnuma, or with one node, every CPU and region is on node 0. */
static bool one_node(void)
{
	return numa_available() < 0 || numa_num_configured_nodes() <= 1;
}

static int poller_node(const struct poller *p)
{
	return p->node >= 0 ? p->node : one_node() ? 0 : -1;
}

static int cpu_node(int cpu)
{
	return one_node() ? 0 : numa_node_of_cpu(cpu);
}

/* Node @node's frames hop to @cpu, read by poller @p. */
static void target_set(int node, int cpu, struct poller *p)
{
	int err = xio_steer_set_node_target(steer, node, cpu);

	if (err) {
		log_warn("steering: node %d -> CPU %d: %s", node, cpu,
			 strerror(-err));
		return;
	}
	targets[nr_targets++] = (struct hop_target){node, cpu, p};
	log_info("steering: node %d's frames to CPU %d, read by poller %u",
		 node, cpu, p->idx);
}

/*
 * Each node with a pinned poller gets a target CPU: the first CPU of
 * --steer-cpus on that node, else the CPU of its first pinned poller; that
 * poller reads the node's hopped frames.  A --steer-cpus CPU on a node
 * without a pinned poller is not used (nobody would read its frames).
 */
static void targets_init(void)
{
	unsigned int i, j;

	nr_targets = 0;
	for (i = 0; i < cfg.nr_pollers; i++) {
		struct poller *p = &pollers[i];
		int node = poller_node(p), cpu = p->cpu;

		if (p->cpu < 0 || node < 0 ||
		    xio_steer_node_target(steer, node) != -ENOENT)
			continue;
		for (j = 0; j < cfg.nr_steer_cpus; j++)
			if (cpu_node(cfg.steer_cpus[j]) == node) {
				cpu = cfg.steer_cpus[j];
				break;
			}
		target_set(node, cpu, p);
	}
	for (j = 0; j < cfg.nr_steer_cpus; j++)
		if (xio_steer_node_target(steer, cpu_node(cfg.steer_cpus[j])) <
		    0)
			log_warn(
				"steering: --steer-cpus %d: no pinned poller on its node, not used",
				cfg.steer_cpus[j]);
}

static int steering_open(void)
{
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
	targets_init();
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
 * Interface @i's readers of the frames hopped to each node's target CPU:
 * a packet socket each, read by the node's poller.  One that fails leaves
 * that node's hopped frames to the kernel stack; logged.
 */
static void iface_hop_open(uint32_t i, int ifindex)
{
	uint32_t k;
	int err;

	for (k = 0; k < nr_targets; k++) {
		const struct hop_target *h = &targets[k];

		err = pktio_hop_open(ifindex, h->node, h->cpu, h->p,
				     &io[i].hop[k]);
		if (err)
			log_warn(
				"steering: %s: no packet socket for node %d's hopped frames: %s",
				ifaces[i].name, h->node, strerror(-err));
		else
			log_info(
				"steering: %s: node %d's hopped frames (CPU %d) -> packet socket of poller %u",
				ifaces[i].name, h->node, h->cpu, h->p->idx);
	}
}

/*
 * The pollers' AF_XDP sockets on every receive queue of interface @i
 * (none with XIO_ADMIN_STEER_NO_XSK), its packet sockets after the CPU
 * hop, and its transmit port.  Queue q goes to poller q % nr_pollers,
 * registered for that poller's node.  A queue whose socket fails keeps the
 * CPU hop; logged.
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
	iface_hop_open(i, ifindex);
	if (ifaces[i].flags & XIO_ADMIN_STEER_NO_XSK)
		nq = 0;
	for (q = 0; q < nq; q++) {
		struct poller *p = rxq_poller(q);
		int node = poller_node(p);

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
	for (q = 0; q < nr_targets; q++) {
		pktio_xsk_close(io[i].hop[q]); /* NULL: none */
		io[i].hop[q] = NULL;
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

/* Attach @name with @flags as port @port (a free one if UINT32_MAX). */
static int iface_attach(const char *name, uint32_t flags, uint32_t port)
{
	enum xio_steer_attach_mode mode = XIO_STEER_NATIVE;
	int err;

	if (flags & ~XIO_ADMIN_STEER_FLAGS)
		return -EINVAL;
	if (flags & XIO_ADMIN_STEER_GENERIC)
		mode = XIO_STEER_GENERIC;
	if (find_iface(name) >= 0)
		return -EALREADY;
	if (nr_ifaces >= XIO_ADMIN_STEER_IFACES_MAX)
		return -ENOSPC;
	err = steering_open();
	if (err)
		return err;
	err = xio_steer_attach(steer, name, mode, 0);
	if (err)
		return err;
	memset(&ifaces[nr_ifaces], 0, sizeof(ifaces[0]));
	strcpy(ifaces[nr_ifaces].name, name);
	ifaces[nr_ifaces].flags = flags;
	ifaces[nr_ifaces].port = port == UINT32_MAX ? free_port() : port;
	iface_io_open(nr_ifaces, mode == XIO_STEER_GENERIC);
	nr_ifaces++;
	log_info("steering: attached to %s (%s XDP%s), port %u", name,
		 mode == XIO_STEER_GENERIC ? "generic" : "native",
		 flags & XIO_ADMIN_STEER_NO_XSK ? ", no AF_XDP" : "",
		 ifaces[nr_ifaces - 1].port);
	return 0;
}

static int op_attach(const struct xio_msg_steer *m)
{
	return iface_attach(m->ifname, m->flags, UINT32_MAX);
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
		/* its frames may leave with it as source: room for that */
		if (!pktio_tx_mac_room(t->id, m->mac))
			return -ENOSPC;
		err = pktio_tx_alloc(t);
		if (err)
			return err;
		err = xio_steer_add_mac(steer, t->id, m->mac);
		if (err)
			return err;
	}
	if (m->flags & XIO_STEER_F_IP) {
		err = xio_steer_add_ip(steer, t->id, m->family, m->addr);
		if (err) {
			if (m->flags & XIO_STEER_F_MAC) {
				xio_steer_del_mac(steer, m->mac);
				pktio_tx_mac_set(m->mac, -1);
			}
			return err;
		}
	}
	if (m->flags & XIO_STEER_F_MAC)
		pktio_tx_mac_set(m->mac, t->id); /* another's no more */
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
		pktio_tx_mac_clear(t->id);
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
		pktio_tx_mac_set(m->mac, -1);
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

static void state_save(void);

/*
 * After every change of the rules or of a tenant's node: the packet-socket
 * readers' copy of them (pkthop.c), then the state file.  The copy is read
 * back from the maps, so it is what the XDP program classifies with.
 */
static void rules_changed(void)
{
	static int32_t node[XIO_STEER_MAX_TENANTS];
	struct xio_steer_rule *r = NULL;
	int n = steer ? xio_steer_rules(steer, NULL, 0) : 0;
	uint32_t i;

	if (n > 0) {
		r = calloc((size_t)n, sizeof(*r));
		n = r ? xio_steer_rules(steer, r, (unsigned int)n) : -ENOMEM;
	}
	if (n < 0) {
		/* No copy: the readers keep the old rules; logged. */
		log_warn("steering: reading the rules back: %s", strerror(-n));
	} else {
		for (i = 0; i < XIO_STEER_MAX_TENANTS; i++)
			node[i] = -1;
		for (i = 0; i < (uint32_t)n; i++)
			if (r[i].tenant < XIO_STEER_MAX_TENANTS)
				node[r[i].tenant] = xio_steer_tenant_node(
					steer, r[i].tenant);
		pkthop_rules_set(r, (uint32_t)n, node,
				 ip_mode_set ? XIO_STEER_IP_AFTER_MAC :
					       XIO_STEER_IP_OFF);
	}
	free(r);
	state_save();
}

int steering_request(const struct xio_msg_steer *m, struct tenant *t,
		     struct xio_msg_steer_reply *r)
{
	bool has_if =
		m->op == XIO_STEER_OP_ATTACH || m->op == XIO_STEER_OP_DETACH;
	int err;

	if (m->resv0[0] || m->resv0[1] ||
	    (has_if &&
	     (!m->ifname[0] || !memchr(m->ifname, 0, sizeof(m->ifname)))))
		return -EINVAL;
	switch (m->op) {
	case XIO_STEER_OP_ATTACH:
		err = op_attach(m);
		break;
	case XIO_STEER_OP_DETACH:
		err = op_detach(m);
		break;
	case XIO_STEER_OP_ADD:
		err = t ? op_add(m, t) : -ENOENT;
		break;
	case XIO_STEER_OP_DEL:
		err = t ? op_del(m, t) : -ENOENT;
		break;
	case XIO_STEER_OP_SHOW:
		return op_show(m, r);
	default:
		return -EINVAL;
	}
	/* A refused request may have changed something (a MAC added, its IP
	 * refused and the MAC removed): save either way. */
	rules_changed();
	return err;
}

void steering_tenant_gone(struct tenant *t)
{
	if (!steer || !t->steered || t->id >= XIO_STEER_TENANTS_MAX)
		return;
	xio_steer_del_tenant(steer, t->id); /* its counters stay */
	pktio_tx_mac_clear(t->id);
	t->steered = false;
	rules_changed();
}

/* ---- the steering state file (docs/steering.md, "Restart") -------------- */

/*
 * <state dir>/steering: the interfaces attached (name, flags, port) and the
 * rules (tenant id, MAC or IP), rewritten (aside, then renamed) after every
 * change, so that a restarted xiod attaches the interfaces again at start
 * and gives each tenant its rules back when it reattaches.  Read like any
 * untrusted input: a file that fails a check is ignored, with a warning.
 */
#define STATE_NAME "steering"
#define STATE_MAGIC 0x52454554534f4958ULL /* "XIOSTEER" little-endian */
#define STATE_VERSION 1U
#define STATE_RULES_MAX 65536U

struct state_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t nr_ifaces;
	uint32_t nr_rules;
	uint32_t resv;
	uint64_t csum; /* FNV-1a over the rest of the file */
};

/* Rules of tenants not back yet: given back by steering_tenant_back(),
 * dropped by steering_forget(), kept in the file meanwhile. */
static struct xio_steer_rule *pending;
static uint32_t nr_pending;

static char *state_path(const char *suffix)
{
	char *p;

	if (asprintf(&p, "%s/%s%s", cfg.state_dir, STATE_NAME, suffix) < 0)
		return NULL;
	return p;
}

static void state_save(void)
{
	struct xio_steer_rule *r = NULL;
	struct state_hdr h = {.magic = STATE_MAGIC, .version = STATE_VERSION};
	size_t isz = nr_ifaces * sizeof(ifaces[0]), body;
	char *path, *tmp = NULL, *buf = NULL;
	int n = 0, fd = -1;

	if (!cfg.state_dir)
		return;
	if (steer) {
		n = xio_steer_rules(steer, NULL, 0);
		if (n > 0) {
			r = calloc((size_t)n, sizeof(*r));
			n = r ? xio_steer_rules(steer, r, (unsigned int)n) :
				-ENOMEM;
		}
	}
	path = state_path("");
	if (n < 0 || !path || !(tmp = state_path(".new")))
		goto fail;
	if (!nr_ifaces && !n && !nr_pending) {
		unlink(path); /* nothing to restore */
		goto out;
	}
	h.nr_ifaces = nr_ifaces;
	h.nr_rules = (uint32_t)n + nr_pending;
	body = isz + (size_t)h.nr_rules * sizeof(*r);
	buf = malloc(body ? body : 1);
	if (!buf)
		goto fail;
	memcpy(buf, ifaces, isz);
	if (n) /* r and pending may be NULL */
		memcpy(buf + isz, r, (size_t)n * sizeof(*r));
	if (nr_pending)
		memcpy(buf + isz + (size_t)n * sizeof(*r), pending,
		       nr_pending * sizeof(*r));
	h.csum = ilog_fnv(ILOG_FNV_INIT, buf, body);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0 || write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(fd, buf, body) != (ssize_t)body || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == 0)
		goto out;
fail:
	log_warn("steering: saving the state for a restart: %s",
		 strerror(errno ? errno : ENOMEM));
	if (tmp)
		unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(r);
	free(tmp);
	free(path);
}

/* The file's entries, checked; NULL (and a reason) if one is wrong. */
static const char *state_check(const struct state_hdr *h, const char *body,
			       size_t len)
{
	const struct xio_admin_steer_iface *fi = (const void *)body;
	const struct xio_steer_rule *fr;
	uint32_t i, j;

	if (h->magic != STATE_MAGIC || h->version != STATE_VERSION || h->resv)
		return "magic or version";
	if (h->nr_ifaces > XIO_ADMIN_STEER_IFACES_MAX ||
	    h->nr_rules > STATE_RULES_MAX ||
	    len != h->nr_ifaces * sizeof(*fi) + h->nr_rules * sizeof(*fr))
		return "size";
	if (ilog_fnv(ILOG_FNV_INIT, body, len) != h->csum)
		return "checksum";
	for (i = 0; i < h->nr_ifaces; i++) {
		if (!fi[i].name[0] ||
		    !memchr(fi[i].name, 0, sizeof(fi[i].name)) ||
		    (fi[i].flags & ~XIO_ADMIN_STEER_FLAGS) ||
		    fi[i].port >= XIO_ADMIN_STEER_IFACES_MAX)
			return "interface";
		for (j = 0; j < i; j++)
			if (fi[j].port == fi[i].port ||
			    !strcmp(fi[j].name, fi[i].name))
				return "interface twice";
	}
	fr = (const void *)(body + h->nr_ifaces * sizeof(*fi));
	for (i = 0; i < h->nr_rules; i++)
		if (fr[i].tenant >= XIO_STEER_TENANTS_MAX ||
		    (fr[i].family != AF_PACKET && ip_len(fr[i].family) < 0))
			return "rule";
	return NULL;
}

void steering_restore(void)
{
	const struct xio_admin_steer_iface *fi;
	struct state_hdr h;
	const char *why = NULL;
	char *path, *body = NULL;
	struct stat st;
	size_t len = 0;
	uint32_t i;
	int fd, err;

	if (!cfg.state_dir || !(path = state_path("")))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		free(path);
		return; /* none: nothing was steered */
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(h) ||
	    st.st_size > (off_t)(sizeof(h) + 4096 +
				 STATE_RULES_MAX * sizeof(*pending)))
		why = "size";
	else if ((len = (size_t)st.st_size - sizeof(h)),
		 !(body = malloc(len ? len : 1)))
		why = "no memory";
	else if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		 pread(fd, body, len, sizeof(h)) != (ssize_t)len)
		why = "short read";
	else
		why = state_check(&h, body, len);
	close(fd);
	if (why) {
		log_warn("steering: %s: %s: not trusted, nothing restored",
			 path, why);
		goto out;
	}
	fi = (const void *)body;
	for (i = 0; i < h.nr_ifaces; i++) {
		err = iface_attach(fi[i].name, fi[i].flags, fi[i].port);
		if (err)
			log_warn("steering: restoring %s (port %u): %s",
				 fi[i].name, fi[i].port, strerror(-err));
	}
	if (h.nr_rules) {
		pending = calloc(h.nr_rules, sizeof(*pending));
		if (pending) {
			memcpy(pending, body + h.nr_ifaces * sizeof(*fi),
			       h.nr_rules * sizeof(*pending));
			nr_pending = h.nr_rules;
		}
	}
	log_info(
		"steering: restored %u interface(s); %u rule(s) wait for their tenants",
		nr_ifaces, nr_pending);
	rules_changed(); /* what could not be restored is gone */
out:
	free(body);
	free(path);
}

/* Take the pending rules of tenant @id out of the list; their number. */
static uint32_t pending_take(uint32_t id, struct tenant *t)
{
	uint32_t i, k = 0, n = 0;

	for (i = 0; i < nr_pending; i++) {
		const struct xio_steer_rule *r = &pending[i];
		struct xio_msg_steer m;
		int err;

		if (r->tenant != id) {
			pending[k++] = *r;
			continue;
		}
		n++;
		if (!t)
			continue;
		memset(&m, 0, sizeof(m));
		if (r->family == AF_PACKET) {
			m.flags = XIO_STEER_F_MAC;
			memcpy(m.mac, r->addr, sizeof(m.mac));
		} else {
			m.flags = XIO_STEER_F_IP;
			m.family = r->family;
			memcpy(m.addr, r->addr, sizeof(m.addr));
		}
		err = op_add(&m, t);
		if (err)
			log_warn(
				"steering: tenant %u '%s': restoring a rule: %s",
				t->id, t->name, strerror(-err));
	}
	nr_pending = k;
	return n;
}

void steering_tenant_back(struct tenant *t)
{
	if (nr_pending && pending_take(t->id, t))
		rules_changed();
}

void steering_forget(uint32_t id)
{
	if (nr_pending && pending_take(id, NULL))
		rules_changed();
}

void steering_state_remove(void)
{
	char *path;

	free(pending);
	pending = NULL;
	nr_pending = 0;
	if (!cfg.state_dir || !(path = state_path("")))
		return;
	unlink(path);
	free(path);
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
