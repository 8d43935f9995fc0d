/* SPDX-License-Identifier: MIT */
/*
 * Host API of the steering XDP program (include/xio/steer.h): load it through
 * its libbpf skeleton, attach/detach it, fill its maps, read its counters.
 *
 * Object lifecycle (libbpf's): skeleton open -> configure (map sizes from the
 * number of possible CPUs) -> load -> fill the defaults -> attach per
 * interface; close = detach every interface (restoring what was there) ->
 * destroy the skeleton.  Map and program fds belong to the skeleton; the only
 * fds this file opens itself are transient (a replaced program's fd).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <numa.h>

#include <xio/steer.h>

#include "internal.h"
#include "xio_steer_abi.h"
#include "xio_steer.skel.h"

_Static_assert(XIO_STEER_TENANTS_MAX == XIO_STEER_MAX_TENANTS, "tenants");
_Static_assert(XIO_STEER_NODES_MAX == XIO_STEER_MAX_NODES, "nodes");
_Static_assert((int)XIO_STEER_MAC_ONLY == (int)XIO_STEER_IP_OFF, "ip mode");
_Static_assert((int)XIO_STEER_MAC_THEN_IP == (int)XIO_STEER_IP_AFTER_MAC,
	       "ip mode");
_Static_assert((int)XIO_STEER_IP_THEN_MAC == (int)XIO_STEER_IP_FIRST,
	       "ip mode");
/* The public stats are the BPF counters, field for field. */
_Static_assert(sizeof(struct xio_steer_tenant_stats) ==
		       sizeof(struct xio_steer_counters),
	       "tenant stats layout");
_Static_assert(sizeof(struct xio_steer_tenant_stats) % 8 == 0,
	       "per-CPU values are 8-byte multiples");
_Static_assert(sizeof(struct xio_steer_global_stats) ==
		       sizeof(struct xio_steer_gcounters),
	       "global stats layout");

#define STEER_MAX_ATTACH 16
#define STEER_DEFAULT_QSIZE 2048U
#define STEER_MAX_QSIZE 16384U

struct steer_attachment {
	bool used;
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint32_t xdp_flags; /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
	uint32_t prev_id;   /* program we replaced, 0 if none */
	int link_fd;	    /* bpf_link holding the attachment, or -1 */
};

struct steer_xsk_slot {
	bool used;
	int ifindex;
	uint32_t queue;
};

struct xio_steer {
	struct xio_steer_bpf *skel; /* owns programs and maps */
	struct steer_xsk_slot xsk[XIO_STEER_MAX_XSKS]; /* mirror of rxqs */
	int nr_cpus;
	uint32_t qsize;
	int node_cpu[XIO_STEER_MAX_NODES]; /* mirror of node_target, -1 unset */
	struct xio_steer_config cfg;	   /* mirror of config[0] */
	struct steer_attachment att[STEER_MAX_ATTACH];
	void *pcpu; /* nr_cpus tenant counter slots for per-CPU reads */
};

/* ---- libbpf diagnostics go through xio's print callback ------------- */

static int steer_libbpf_print(enum libbpf_print_level level, const char *fmt,
			      va_list ap)
{
	char *msg = NULL;

	if (level == LIBBPF_DEBUG)
		return 0;
	/* Not a fixed buffer: a verifier log is long and its end matters. */
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	/* libbpf's INFO lines are debug output here. */
	xio__log(level == LIBBPF_WARN ? XIO_WARN : XIO_DEBUG, "%s", msg);
	free(msg);
	return 0;
}

/*
 * libbpf's print hook is process-wide: install ours only around our own
 * libbpf calls and give the application's back afterwards.
 */
#define LIBBPF_CALL(expr)                                                      \
	({                                                                     \
		libbpf_print_fn_t _old = libbpf_set_print(steer_libbpf_print); \
		__typeof__(expr) _r = (expr);                                  \
		libbpf_set_print(_old);                                        \
		_r;                                                            \
	})

/* libbpf 1.x returns -errno itself; this only names the convention. */
static int neg_errno(int r)
{
	return r < 0 ? r : 0;
}

/* ---- open / close --------------------------------------------------- */

/* Write the config value from the mirror (its fields are independent: a
 * frame that sees one field old and the other new is still right). */
static int steer_config_push(struct xio_steer *s,
			     const struct xio_steer_config *cfg)
{
	uint32_t zero = 0;
	int err;

	err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.config), &zero, cfg,
				  BPF_ANY);
	if (!err)
		s->cfg = *cfg;
	return neg_errno(err);
}

static int steer_fill_defaults(struct xio_steer *s, uint32_t ip_mode)
{
	struct xio_steer_config cfg = {.ip_mode = ip_mode};
	int map_fd = bpf_map__fd(s->skel->maps.cpu_node);
	bool numa = numa_available() >= 0;
	int cpu, err;

	for (cpu = 0; cpu < s->nr_cpus; cpu++) {
		uint32_t key = (uint32_t)cpu;
		int32_t node = numa ? numa_node_of_cpu(cpu) : 0;

		if (node < 0)
			node = -1; /* not present: never a tenant's node */
		err = bpf_map_update_elem(map_fd, &key, &node, BPF_ANY);
		if (err)
			return neg_errno(err);
	}
	return steer_config_push(s, &cfg);
}

int xio_steer_open(const struct xio_steer_opts *opts, struct xio_steer **out)
{
	struct xio_steer_opts o = {0};
	struct xio_steer *s;
	int err, i;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts) {
		const unsigned char *p = (const unsigned char *)opts;
		size_t n = opts->sz;

		if (n < offsetof(struct xio_steer_opts, ip_mode))
			return -EINVAL;
		for (i = (int)sizeof(o); (size_t)i < n; i++) {
			if (p[i]) {
				pr_warn("xio_steer_open: unknown option bytes "
					"(struct from a newer libxio?): %s\n",
					xio_strerror(-EINVAL));
				return -EINVAL;
			}
		}
		memcpy(&o, opts, n < sizeof(o) ? n : sizeof(o));
	}
	if (o.ip_mode > XIO_STEER_IP_THEN_MAC ||
	    o.cpumap_qsize > STEER_MAX_QSIZE)
		return -EINVAL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < (int)XIO_STEER_MAX_NODES; i++)
		s->node_cpu[i] = -1;
	s->qsize = o.cpumap_qsize ? o.cpumap_qsize : STEER_DEFAULT_QSIZE;
	s->nr_cpus = libbpf_num_possible_cpus();
	if (s->nr_cpus <= 0) {
		err = s->nr_cpus ? s->nr_cpus : -ENODEV;
		goto err_free;
	}
	s->pcpu = calloc((size_t)s->nr_cpus, sizeof(struct xio_steer_counters));
	if (!s->pcpu) {
		err = -ENOMEM;
		goto err_free;
	}

	s->skel = LIBBPF_CALL(xio_steer_bpf__open());
	if (!s->skel) {
		err = -errno;
		pr_warn("xio_steer_open: cannot open the BPF object: %s\n",
			xio_strerror(err));
		goto err_free;
	}
	/* configure: one CPUMAP slot and one node entry per possible CPU */
	err = bpf_map__set_max_entries(s->skel->maps.cpus,
				       (uint32_t)s->nr_cpus);
	if (!err)
		err = bpf_map__set_max_entries(s->skel->maps.cpu_node,
					       (uint32_t)s->nr_cpus);
	if (err)
		goto err_destroy;
	err = LIBBPF_CALL(xio_steer_bpf__load(s->skel));
	if (err) {
		err = neg_errno(err);
		pr_warn("xio_steer_open: loading the steering program: %s%s\n",
			xio_strerror(err),
			err == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" :
					"");
		goto err_destroy;
	}
	err = steer_fill_defaults(s, o.ip_mode);
	if (err) {
		pr_warn("xio_steer_open: initialising the maps: %s\n",
			xio_strerror(err));
		goto err_destroy;
	}
	*out = s;
	return 0;

err_destroy:
	xio_steer_bpf__destroy(s->skel);
err_free:
	free(s->pcpu);
	free(s);
	return err;
}

void xio_steer_close(struct xio_steer *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < STEER_MAX_ATTACH; i++)
		if (s->att[i].used)
			(void)xio_steer_detach(s, s->att[i].ifname);
	/* Destroying the skeleton closes the CPUMAP, which stops its
	 * kthreads, and the maps and programs. */
	xio_steer_bpf__destroy(s->skel);
	free(s->pcpu);
	free(s);
}

/* ---- attach / detach ------------------------------------------------ */

static struct steer_attachment *steer_find(struct xio_steer *s,
					   const char *ifname)
{
	int i;

	for (i = 0; i < STEER_MAX_ATTACH; i++)
		if (s->att[i].used && !strcmp(s->att[i].ifname, ifname))
			return &s->att[i];
	return NULL;
}

int xio_steer_attach(struct xio_steer *s, const char *ifname,
		     enum xio_steer_attach_mode mode, unsigned int flags)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
	struct steer_attachment *a = NULL;
	int prog_fd, old_fd = -1, ifindex, err, i;
	uint32_t xdp_flags, prev_id = 0;

	if (!s || !ifname || strlen(ifname) >= IF_NAMESIZE ||
	    (flags & ~XIO_STEER_ATTACH_FLAGS_MASK) ||
	    (mode != XIO_STEER_NATIVE && mode != XIO_STEER_GENERIC))
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	if (steer_find(s, ifname))
		return -EALREADY;
	for (i = 0; i < STEER_MAX_ATTACH && !a; i++)
		if (!s->att[i].used)
			a = &s->att[i];
	if (!a)
		return -ENOSPC;
	a->link_fd = -1;

	xdp_flags = mode == XIO_STEER_NATIVE ? XDP_FLAGS_DRV_MODE :
					       XDP_FLAGS_SKB_MODE;
	err = LIBBPF_CALL(bpf_xdp_query_id(ifindex, (int)xdp_flags, &prev_id));
	if (err) {
		err = neg_errno(err);
		pr_warn("xio_steer_attach %s: querying XDP: %s\n", ifname,
			xio_strerror(err));
		return err;
	}
	prog_fd = bpf_program__fd(s->skel->progs.xio_steer);
	if (prev_id) {
		if (!(flags & XIO_STEER_ATTACH_REPLACE)) {
			pr_warn("xio_steer_attach %s: XDP program id %u already "
				"attached (XIO_STEER_ATTACH_REPLACE replaces it): "
				"%s\n",
				ifname, prev_id, xio_strerror(-EBUSY));
			return -EBUSY;
		}
		old_fd = bpf_prog_get_fd_by_id(prev_id);
		if (old_fd < 0) /* went away meanwhile */
			prev_id = 0;
	}
	if (old_fd >= 0) {
		aopts.old_prog_fd = old_fd;
		err = LIBBPF_CALL(bpf_xdp_attach(ifindex, prog_fd,
						 xdp_flags | XDP_FLAGS_REPLACE,
						 &aopts));
		close(old_fd);
	} else {
		/*
		 * Nothing to put back: a bpf_link, released with its fd, so
		 * an xiod killed by SIGKILL leaves no program behind.  A
		 * kernel without XDP links (before 5.9) gets the netlink
		 * attachment, which outlives the process.
		 */
		LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = xdp_flags);

		a->link_fd = LIBBPF_CALL(
			bpf_link_create(prog_fd, ifindex, BPF_XDP, &lopts));
		if (a->link_fd >= 0)
			err = 0;
		else if (a->link_fd == -EINVAL || a->link_fd == -EOPNOTSUPP)
			err = LIBBPF_CALL(bpf_xdp_attach(
				ifindex, prog_fd,
				xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL));
		else
			err = a->link_fd;
		if (a->link_fd < 0)
			a->link_fd = -1;
	}
	if (err) {
		err = neg_errno(err);
		pr_warn("xio_steer_attach %s (%s mode): %s\n", ifname,
			mode == XIO_STEER_NATIVE ? "native" : "generic",
			xio_strerror(err));
		return err;
	}
	a->used = true;
	a->ifindex = ifindex;
	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	a->xdp_flags = xdp_flags;
	a->prev_id = prev_id;
	return 0;
}

int xio_steer_detach(struct xio_steer *s, const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
	struct steer_attachment *a;
	int prev_fd = -1, ifindex, err;

	if (!s || !ifname)
		return -EINVAL;
	a = steer_find(s, ifname);
	if (!a)
		return -ENOENT;
	if (a->link_fd >= 0) {
		/* Detach even if a forked child inherited the fd. */
		err = bpf_link_detach(a->link_fd);
		close(a->link_fd);
		a->link_fd = -1;
		a->used = false;
		err = neg_errno(err);
		return err == -ENOLINK || err == -ENODEV ? 0 : err;
	}
	ifindex = (int)if_nametoindex(ifname);
	if (ifindex != a->ifindex) {
		/* The interface is gone (or is another one now): its XDP
		 * program went with it. */
		a->used = false;
		return 0;
	}
	if (a->prev_id) {
		prev_fd = bpf_prog_get_fd_by_id(a->prev_id);
		if (prev_fd < 0)
			pr_warn("xio_steer_detach %s: the program we replaced "
				"(id %u) is gone; leaving no program\n",
				ifname, a->prev_id);
	}
	/* Only if ours is still the one attached (REPLACE + expected fd). */
	aopts.old_prog_fd = bpf_program__fd(s->skel->progs.xio_steer);
	err = LIBBPF_CALL(bpf_xdp_attach(
		ifindex, prev_fd, a->xdp_flags | XDP_FLAGS_REPLACE, &aopts));
	if (prev_fd >= 0)
		close(prev_fd);
	err = neg_errno(err);
	if (err == -EEXIST) {
		pr_info("xio_steer_detach %s: our program was replaced by "
			"someone else; leaving theirs\n",
			ifname);
		err = 0;
	}
	if (err) {
		pr_warn("xio_steer_detach %s: %s\n", ifname, xio_strerror(err));
		return err;
	}
	a->used = false;
	return 0;
}

/* ---- rules ---------------------------------------------------------- */

int xio_steer_add_mac(struct xio_steer *s, uint32_t tenant,
		      const uint8_t mac[6])
{
	struct xio_steer_mac_key key = {0};
	static const uint8_t zero[6];

	if (!s || !mac || tenant >= XIO_STEER_MAX_TENANTS)
		return -EINVAL;
	if ((mac[0] & 1) || !memcmp(mac, zero, 6))
		return -EINVAL; /* group or null address: never one tenant's */
	memcpy(key.addr, mac, 6);
	return neg_errno(bpf_map_update_elem(
		bpf_map__fd(s->skel->maps.mac_tenant), &key, &tenant, BPF_ANY));
}

int xio_steer_del_mac(struct xio_steer *s, const uint8_t mac[6])
{
	struct xio_steer_mac_key key = {0};

	if (!s || !mac)
		return -EINVAL;
	memcpy(key.addr, mac, 6);
	return neg_errno(bpf_map_delete_elem(
		bpf_map__fd(s->skel->maps.mac_tenant), &key));
}

static int steer_ip_map(struct xio_steer *s, int family)
{
	if (family == AF_INET)
		return bpf_map__fd(s->skel->maps.ip4_tenant);
	if (family == AF_INET6)
		return bpf_map__fd(s->skel->maps.ip6_tenant);
	return -EAFNOSUPPORT;
}

int xio_steer_add_ip(struct xio_steer *s, uint32_t tenant, int family,
		     const void *addr)
{
	int fd;

	if (!s || !addr || tenant >= XIO_STEER_MAX_TENANTS)
		return -EINVAL;
	fd = steer_ip_map(s, family);
	if (fd < 0)
		return fd;
	/* Both key types are the address bytes as they are on the wire. */
	return neg_errno(bpf_map_update_elem(fd, addr, &tenant, BPF_ANY));
}

int xio_steer_del_ip(struct xio_steer *s, int family, const void *addr)
{
	int fd;

	if (!s || !addr)
		return -EINVAL;
	fd = steer_ip_map(s, family);
	if (fd < 0)
		return fd;
	return neg_errno(bpf_map_delete_elem(fd, addr));
}

/* Delete every entry of hash map @fd (keys of @ksz bytes) whose value is
 * @tenant.  All keys are collected first: deleting while walking a hash map
 * can restart the walk. */
static int steer_purge(int fd, size_t ksz, uint32_t max, uint32_t tenant)
{
	unsigned char *keys, *cur = NULL;
	uint32_t n = 0, i, val;
	int removed = 0;

	keys = malloc((size_t)max * ksz);
	if (!keys)
		return -ENOMEM;
	while (n < max && !bpf_map_get_next_key(fd, cur, keys + n * ksz)) {
		cur = keys + n * ksz;
		n++;
	}
	for (i = 0; i < n; i++) {
		cur = keys + i * ksz;
		if (!bpf_map_lookup_elem(fd, cur, &val) && val == tenant &&
		    !bpf_map_delete_elem(fd, cur))
			removed++;
	}
	free(keys);
	return removed;
}

int xio_steer_del_tenant(struct xio_steer *s, uint32_t tenant)
{
	struct xio_steer_tenant none = {0};
	int r, total = 0;

	if (!s || tenant >= XIO_STEER_MAX_TENANTS)
		return -EINVAL;
	r = steer_purge(bpf_map__fd(s->skel->maps.mac_tenant),
			sizeof(struct xio_steer_mac_key), XIO_STEER_MAX_MACS,
			tenant);
	if (r < 0)
		return r;
	total += r;
	r = steer_purge(bpf_map__fd(s->skel->maps.ip4_tenant), 4,
			XIO_STEER_MAX_IPS, tenant);
	if (r < 0)
		return r;
	total += r;
	r = steer_purge(bpf_map__fd(s->skel->maps.ip6_tenant), 16,
			XIO_STEER_MAX_IPS, tenant);
	if (r < 0)
		return r;
	total += r;
	r = bpf_map_update_elem(bpf_map__fd(s->skel->maps.tenants), &tenant,
				&none, BPF_ANY);
	return r ? neg_errno(r) : total;
}

/* Append the entries of hash map @fd (keys of @ksz bytes) as rules of
 * @family; *n counts all, at most @max are written. */
static int steer_list(int fd, size_t ksz, int32_t family,
		      struct xio_steer_rule *out, unsigned int max,
		      unsigned int *n)
{
	unsigned char key[16], next[16];
	bool first = true;
	uint32_t val;
	int err;

	for (;;) {
		err = bpf_map_get_next_key(fd, first ? NULL : key, next);
		if (err == -ENOENT)
			return 0;
		if (err)
			return neg_errno(err);
		first = false;
		memcpy(key, next, ksz);
		if (bpf_map_lookup_elem(fd, key, &val))
			continue; /* deleted meanwhile */
		if (*n < max) {
			struct xio_steer_rule *r = &out[*n];

			memset(r, 0, sizeof(*r));
			r->tenant = val;
			r->family = family;
			memcpy(r->addr, key, ksz == 8 ? 6 : ksz);
		}
		(*n)++;
	}
}

int xio_steer_rules(struct xio_steer *s, struct xio_steer_rule *out,
		    unsigned int max)
{
	unsigned int n = 0;
	int err;

	if (!s || (max && !out))
		return -EINVAL;
	err = steer_list(bpf_map__fd(s->skel->maps.mac_tenant),
			 sizeof(struct xio_steer_mac_key), AF_PACKET, out, max,
			 &n);
	if (!err)
		err = steer_list(bpf_map__fd(s->skel->maps.ip4_tenant), 4,
				 AF_INET, out, max, &n);
	if (!err)
		err = steer_list(bpf_map__fd(s->skel->maps.ip6_tenant), 16,
				 AF_INET6, out, max, &n);
	return err ? err : (int)n;
}

int xio_steer_set_ip_mode(struct xio_steer *s, enum xio_steer_ip_mode mode)
{
	struct xio_steer_config cfg;

	if (!s || (uint32_t)mode > XIO_STEER_IP_THEN_MAC)
		return -EINVAL;
	cfg = s->cfg;
	cfg.ip_mode = (uint32_t)mode;
	return steer_config_push(s, &cfg);
}

/* ---- placement ------------------------------------------------------ */

int xio_steer_set_tenant_node(struct xio_steer *s, uint32_t tenant, int node)
{
	struct xio_steer_tenant t = {0};

	if (!s || tenant >= XIO_STEER_MAX_TENANTS || node < -1 ||
	    node >= (int)XIO_STEER_MAX_NODES)
		return -EINVAL;
	if (node >= 0) {
		t.flags = XIO_STEER_TENANT_VALID;
		t.node = node;
	} else {
		t.node = -1;
	}
	return neg_errno(bpf_map_update_elem(bpf_map__fd(s->skel->maps.tenants),
					     &tenant, &t, BPF_ANY));
}

static bool steer_cpu_in_use(const struct xio_steer *s, int cpu)
{
	int n;

	for (n = 0; n < (int)XIO_STEER_MAX_NODES; n++)
		if (s->node_cpu[n] == cpu)
			return true;
	return false;
}

int xio_steer_set_node_target(struct xio_steer *s, int node, int cpu)
{
	struct xio_steer_target tgt = {0};
	uint32_t key = (uint32_t)node;
	int cpumap = -1, old, err;

	if (!s || node < 0 || node >= (int)XIO_STEER_MAX_NODES || cpu < -1 ||
	    cpu >= s->nr_cpus)
		return -EINVAL;
	cpumap = bpf_map__fd(s->skel->maps.cpus);
	old = s->node_cpu[node];
	if (old == cpu)
		return 0;

	/* 1. the redirect queue on the new CPU, before anyone points at it */
	if (cpu >= 0 && !steer_cpu_in_use(s, cpu)) {
		struct bpf_cpumap_val val = {
			.qsize = s->qsize,
			.bpf_prog.fd =
				bpf_program__fd(s->skel->progs.xio_steer_cpu),
		};
		uint32_t ckey = (uint32_t)cpu;

		err = bpf_map_update_elem(cpumap, &ckey, &val, BPF_ANY);
		if (err) {
			err = neg_errno(err);
			pr_warn("xio_steer_set_node_target: CPU %d redirect "
				"queue: %s\n",
				cpu, xio_strerror(err));
			return err;
		}
	}
	/* 2. the node entry: one atomic value update, seen by the next frame */
	if (cpu >= 0) {
		tgt.flags = XIO_STEER_TARGET_VALID;
		tgt.cpu = (uint32_t)cpu;
	}
	err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.node_target), &key,
				  &tgt, BPF_ANY);
	if (err) {
		err = neg_errno(err);
		if (cpu >= 0 && !steer_cpu_in_use(s, cpu)) {
			uint32_t ckey = (uint32_t)cpu;

			bpf_map_delete_elem(cpumap, &ckey);
		}
		return err;
	}
	s->node_cpu[node] = cpu;
	/* 3. the old CPU's queue, once no node uses it (the kernel flushes
	 * frames still queued there before the entry goes) */
	if (old >= 0 && !steer_cpu_in_use(s, old)) {
		uint32_t ckey = (uint32_t)old;

		bpf_map_delete_elem(cpumap, &ckey);
	}
	return 0;
}

int xio_steer_tenant_node(struct xio_steer *s, uint32_t tenant)
{
	struct xio_steer_tenant t;
	int err;

	if (!s || tenant >= XIO_STEER_MAX_TENANTS)
		return -EINVAL;
	err = bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.tenants), &tenant,
				  &t);
	if (err)
		return neg_errno(err);
	return (t.flags & XIO_STEER_TENANT_VALID) && t.node >= 0 ? t.node :
								   -ENOENT;
}

int xio_steer_node_target(struct xio_steer *s, int node)
{
	if (!s || node < 0 || node >= (int)XIO_STEER_MAX_NODES)
		return -EINVAL;
	return s->node_cpu[node] >= 0 ? s->node_cpu[node] : -ENOENT;
}

int xio_steer_set_cpu_node(struct xio_steer *s, int cpu, int node)
{
	uint32_t key = (uint32_t)cpu;
	int32_t val = node;

	if (!s || cpu < 0 || cpu >= s->nr_cpus || node < -1 ||
	    node >= (int)XIO_STEER_MAX_NODES)
		return -EINVAL;
	return neg_errno(bpf_map_update_elem(
		bpf_map__fd(s->skel->maps.cpu_node), &key, &val, BPF_ANY));
}

static int steer_rxq_find(const struct xio_steer *s, int ifindex,
			  uint32_t queue)
{
	int i;

	for (i = 0; i < (int)XIO_STEER_MAX_XSKS; i++)
		if (s->xsk[i].used && s->xsk[i].ifindex == ifindex &&
		    s->xsk[i].queue == queue)
			return i;
	return -1;
}

int xio_steer_set_rxq(struct xio_steer *s, const char *ifname, uint32_t queue,
		      int node, int xsk_fd)
{
	struct xio_steer_rxq_key key = {0};
	struct xio_steer_rxq val = {0};
	uint32_t slot;
	int ifindex, i, err;
	bool fresh = false;

	if (!s || !ifname || node < 0 || node >= (int)XIO_STEER_MAX_NODES ||
	    xsk_fd < 0)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	i = steer_rxq_find(s, ifindex, queue);
	if (i < 0) {
		for (i = 0; i < (int)XIO_STEER_MAX_XSKS; i++)
			if (!s->xsk[i].used)
				break;
		if (i == (int)XIO_STEER_MAX_XSKS)
			return -ENOSPC;
		fresh = true;
	}
	slot = (uint32_t)i;
	/* socket first, then the queue entry that sends frames to it */
	err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.xsks), &slot,
				  &xsk_fd, BPF_ANY);
	if (err) {
		pr_warn("xio_steer_set_rxq %s queue %u: AF_XDP socket fd %d: "
			"%s\n",
			ifname, queue, xsk_fd, xio_strerror(err));
		return neg_errno(err);
	}
	if (fresh) {
		/* tell stage 1 there are queues to look up */
		struct xio_steer_config cfg = s->cfg;

		cfg.nr_rxqs++;
		err = steer_config_push(s, &cfg);
		if (err) {
			bpf_map_delete_elem(bpf_map__fd(s->skel->maps.xsks),
					    &slot);
			return err;
		}
	}
	key.ifindex = (uint32_t)ifindex;
	key.queue = queue;
	val.flags = XIO_STEER_RXQ_VALID;
	val.node = node;
	val.slot = slot;
	err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.rxqs), &key, &val,
				  BPF_ANY);
	if (err) {
		if (fresh) {
			struct xio_steer_config cfg = s->cfg;

			bpf_map_delete_elem(bpf_map__fd(s->skel->maps.xsks),
					    &slot);
			cfg.nr_rxqs--;
			(void)steer_config_push(s, &cfg);
		}
		return neg_errno(err);
	}
	s->xsk[i].used = true;
	s->xsk[i].ifindex = ifindex;
	s->xsk[i].queue = queue;
	return 0;
}

int xio_steer_clear_rxq(struct xio_steer *s, const char *ifname, uint32_t queue)
{
	struct xio_steer_rxq_key key = {0};
	uint32_t slot;
	int ifindex, i, err;

	if (!s || !ifname)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	i = ifindex ? steer_rxq_find(s, ifindex, queue) : -1;
	if (i < 0)
		return -ENOENT;
	key.ifindex = (uint32_t)ifindex;
	key.queue = queue;
	err = bpf_map_delete_elem(bpf_map__fd(s->skel->maps.rxqs), &key);
	if (err && err != -ENOENT)
		return neg_errno(err);
	slot = (uint32_t)i;
	/* -ENOENT: the socket was closed and the kernel removed it already */
	err = bpf_map_delete_elem(bpf_map__fd(s->skel->maps.xsks), &slot);
	s->xsk[i].used = false;
	{
		struct xio_steer_config cfg = s->cfg;

		cfg.nr_rxqs--;
		(void)steer_config_push(s, &cfg); /* a stale count only costs
						     a lookup */
	}
	return err && err != -ENOENT ? neg_errno(err) : 0;
}

/* ---- counters ------------------------------------------------------- */

int xio_steer_nr_cpus(const struct xio_steer *s)
{
	return s ? s->nr_cpus : -EINVAL;
}

int xio_steer_prog_fd(const struct xio_steer *s)
{
	return s ? bpf_program__fd(s->skel->progs.xio_steer) : -EINVAL;
}

/* Sum @n u64 fields of @nr_cpus per-CPU copies of @size bytes into @sum. */
static void steer_sum(const void *pcpu, int nr_cpus, size_t size, void *sum)
{
	const uint64_t *v = pcpu;
	uint64_t *out = sum;
	size_t nf = size / sizeof(uint64_t), f;
	int c;

	memset(sum, 0, size);
	for (c = 0; c < nr_cpus; c++)
		for (f = 0; f < nf; f++)
			out[f] += v[(size_t)c * nf + f];
}

int xio_steer_tenant_stats(struct xio_steer *s, uint32_t tenant,
			   struct xio_steer_tenant_stats *sum,
			   struct xio_steer_tenant_stats *per_cpu,
			   unsigned int nr_cpus)
{
	int err;

	if (!s || tenant >= XIO_STEER_MAX_TENANTS ||
	    (per_cpu && nr_cpus < (unsigned int)s->nr_cpus))
		return -EINVAL;
	err = bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.tstats), &tenant,
				  s->pcpu);
	if (err)
		return neg_errno(err);
	if (per_cpu)
		memcpy(per_cpu, s->pcpu, (size_t)s->nr_cpus * sizeof(*per_cpu));
	if (sum)
		steer_sum(s->pcpu, s->nr_cpus, sizeof(*sum), sum);
	return 0;
}

int xio_steer_global_stats(struct xio_steer *s,
			   struct xio_steer_global_stats *sum)
{
	struct xio_steer_gcounters *v;
	uint32_t zero = 0;
	int err;

	if (!s || !sum)
		return -EINVAL;
	v = calloc((size_t)s->nr_cpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.gstats), &zero, v);
	if (!err)
		steer_sum(v, s->nr_cpus, sizeof(*sum), sum);
	free(v);
	return neg_errno(err);
}
