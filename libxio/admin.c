/* SPDX-License-Identifier: MIT */
/* Host administration client (include/xio/admin.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xio/admin.h>

#include "internal.h"
#include "proto.h"

struct xio_admin {
	int sock;
};

int xio_admin_open(const char *sock_path, struct xio_admin **out)
{
	struct xio_admin *a;

	if (!out)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->sock = xio__sock_connect(sock_path, 0);
	if (a->sock < 0) {
		int err = a->sock;

		free(a);
		return err;
	}
	*out = a;
	return 0;
}

void xio_admin_close(struct xio_admin *a)
{
	if (!a)
		return;
	close(a->sock);
	free(a);
}

static int set_tenant(char dst[XIO_NAME_MAX], const char *tenant)
{
	if (!tenant || !*tenant || strlen(tenant) >= XIO_NAME_MAX)
		return -EINVAL;
	strcpy(dst, tenant);
	return 0;
}

static void tenant_from_wire(struct xio_tenant_info *o,
			     const struct xio_wire_tenant *w)
{
	memset(o, 0, sizeof(*o));
	o->id = w->id;
	o->nr_qpairs = w->nr_qpairs;
	memcpy(o->name, w->name, sizeof(o->name));
	o->name[sizeof(o->name) - 1] = '\0';
	o->pid = w->pid;
	o->uid = w->uid;
	o->poller = w->poller;
	o->nr_targets = w->nr_targets;
	o->state = w->state;
	o->broken = w->broken;
	o->taken = w->taken;
	o->completed = w->completed;
	o->invalid = w->invalid;
	o->inflight = w->inflight;
	o->kicks = w->kicks;
	o->wakeups = w->wakeups;
	o->notifies = w->notifies;
	o->poller_sleeps = w->poller_sleeps;
	o->region_size = w->region_size;
	o->max_visit_entries = w->max_visit_entries;
	o->max_visit_bytes = w->max_visit_bytes;
	o->parks = w->parks;
	o->attach_flags = w->attach_flags;
}

/*
 * Every listing reply (TENANT_LIST, TARGET_LIST, STATS, POLLER_STATS, STEER)
 * starts with this head; its entries follow at an offset of their own.
 */
struct list_head {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t total;
	uint32_t count;
};

#define LIST_REPLY(T)                                                          \
	_Static_assert(offsetof(T, total) ==                                   \
				       offsetof(struct list_head, total) &&    \
			       offsetof(T, count) ==                           \
				       offsetof(struct list_head, count),      \
		       #T " has the listing head")
LIST_REPLY(struct xio_msg_tenant_list_reply);
LIST_REPLY(struct xio_msg_target_list_reply);
LIST_REPLY(struct xio_msg_stats_reply);
LIST_REPLY(struct xio_msg_poller_stats_reply);
LIST_REPLY(struct xio_msg_steer_reply);

/*
 * One paged listing.  @req, every field set but its start, is sent once per
 * page with *@start = the entries seen so far (0 with @one_page, which stops
 * after the first page); each reply (@type | REPLY, @rep_size bytes) brings
 * at most @chunk entries of @esz bytes at offset @ents.  @page, if set,
 * checks a reply first (0 or -errno); @copy turns an entry into the caller's
 * entry @idx of @out.
 */
struct pager {
	void *req;
	uint32_t *start;
	uint32_t type;
	size_t rep_size, ents, esz;
	uint32_t chunk;
	bool one_page;
	int (*page)(struct pager *pg, const void *rep);
	void (*copy)(struct pager *pg, uint32_t idx, const void *wire);
	void *out;
	uint32_t stride; /* stats: the caller's entry size */
	void *ctx;
};

/* The fields of a pager for request @req, type @type, reply @T (entries
 * in its array @ents, at most @chunk a page). */
#define PAGER(req, type_, T, ents_, chunk_)                                    \
	.req = &(req), .start = &(req).start, .type = (type_),                 \
	.rep_size = sizeof(T), .ents = offsetof(T, ents_),                     \
	.esz = sizeof(((T *)0)->ents_[0]), .chunk = (chunk_)

/*
 * Fill @out[0..@max) from the pages of @pg's listing; *@total (if set) gets
 * the last reply's total.  Ends on an empty page, a full @out or the total
 * reached.  Returns the entries filled or -errno.
 */
static int list_pages(int fd, struct pager *pg, void *out, uint32_t max,
		      uint32_t *total)
{
	const struct list_head *h;
	uint32_t filled = 0, start = 0, i;
	char *rep;
	int err;

	if (!out && max)
		return -EINVAL;
	pg->out = out;
	rep = malloc(pg->rep_size);
	if (!rep)
		return -ENOMEM;
	h = (const struct list_head *)(void *)rep;
	for (;;) {
		xio__msg_hdr_init(pg->req, pg->type, 0);
		*pg->start = pg->one_page ? 0 : start;
		err = xio__rpc(fd, pg->req, NULL, 0, rep,
			       pg->type | XIO_MSG_REPLY, NULL, 0, NULL);
		if (err)
			break;
		if (h->count > pg->chunk) {
			err = -EPROTO;
			break;
		}
		if (pg->page) {
			err = pg->page(pg, rep);
			if (err)
				break;
		}
		if (total)
			*total = h->total;
		for (i = 0; i < h->count && filled < max; i++)
			pg->copy(pg, filled++, rep + pg->ents + i * pg->esz);
		start += h->count;
		if (!h->count || filled >= max || start >= h->total ||
		    pg->one_page)
			break;
	}
	free(rep);
	return err ? err : (int)filled;
}

static void copy_tenant(struct pager *pg, uint32_t idx, const void *wire)
{
	tenant_from_wire((struct xio_tenant_info *)pg->out + idx, wire);
}

int xio__admin_tenants_fd(int fd, uint32_t flags, struct xio_tenant_info *out,
			  uint32_t max, uint32_t *total)
{
	struct xio_msg_tenant_list req = {.flags = flags};
	struct pager pg = {
		PAGER(req, XIO_MSG_TENANT_LIST,
		      struct xio_msg_tenant_list_reply, t, XIO_LIST_CHUNK),
		.copy = copy_tenant,
	};

	return list_pages(fd, &pg, out, max, total);
}

int xio_admin_tenants(struct xio_admin *a, struct xio_tenant_info *out,
		      uint32_t max, uint32_t *total)
{
	if (!a)
		return -EINVAL;
	return xio__admin_tenants_fd(a->sock, 0, out, max, total);
}

static int target_add(struct xio_admin *a, uint32_t type, const char *tenant,
		      const char *path, int fd, uint32_t flags)
{
	struct xio_msg_target_add *req;
	struct xio_msg_target_add_reply rep;
	int err;

	if (!a || !path || strlen(path) >= XIO_PATH_MAX)
		return -EINVAL;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	xio__msg_hdr_init(&req->hdr, type, 0);
	err = set_tenant(req->tenant, tenant);
	if (!err) {
		strcpy(req->path, path);
		req->flags = flags;
		err = xio__rpc(a->sock, req, fd >= 0 ? &fd : NULL, fd >= 0,
			       &rep, type | XIO_MSG_REPLY, NULL, 0, NULL);
	}
	free(req);
	return err ? err : (int)rep.index;
}

int xio_admin_target_add(struct xio_admin *a, const char *tenant,
			 const char *path, uint32_t flags)
{
	return target_add(a, XIO_MSG_TARGET_ADD, tenant, path, -1, flags);
}

int xio_admin_target_add_fd(struct xio_admin *a, const char *tenant, int fd,
			    uint32_t flags, const char *label)
{
	if (fd < 0)
		return -EBADF;
	return target_add(a, XIO_MSG_TARGET_ADD_FD, tenant, label ? label : "",
			  fd, flags);
}

int xio_admin_tenant_detach(struct xio_admin *a, const char *tenant)
{
	struct xio_msg_tenant_detach req;
	struct xio_msg_status rep;
	int err;

	if (!a)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_TENANT_DETACH, 0);
	err = set_tenant(req.tenant, tenant);
	if (err)
		return err;
	return xio__rpc(a->sock, &req, NULL, 0, &rep,
			XIO_MSG_TENANT_DETACH | XIO_MSG_REPLY, NULL, 0, NULL);
}

void xio_vm_tenant_geometry(uint64_t size, struct xio_vm_tenant_opts *o)
{
	struct xio_params p = {0};
	struct xio_layout l;
	uint32_t lo = 1, hi, mid;

	p.nr_qpairs = 1;
	p.sq_entries = 256;
	p.cq_entries = 256;
	p.buf_size = 4096;
	hi = size / p.buf_size > 65536 ? 65536 : (uint32_t)(size / p.buf_size);
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		p.nr_bufs = mid;
		if (xio_layout_compute(&p, &l) == 0 &&
		    l.min_region_size <= size)
			lo = mid;
		else
			hi = mid - 1;
	}
	o->nr_qpairs = p.nr_qpairs;
	o->sq_entries = p.sq_entries;
	o->cq_entries = p.cq_entries;
	o->buf_size = p.buf_size;
	o->nr_bufs = lo;
}

static int vm_tenant(struct xio_admin *a, const struct xio_vm_tenant_opts *o,
		     uint32_t flags)
{
	struct xio_msg_vm_tenant req;
	struct xio_msg_attach_reply rep;
	int err;

	if (!a || !o || !o->path || o->path[0] != '/' ||
	    strlen(o->path) >= sizeof(req.path))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_VM_TENANT, 0);
	err = set_tenant(req.name, o->name);
	if (err)
		return err;
	strcpy(req.path, o->path);
	req.size = o->size;
	req.nr_qpairs = o->nr_qpairs;
	req.sq_entries = o->sq_entries;
	req.cq_entries = o->cq_entries;
	req.buf_size = o->buf_size;
	req.nr_bufs = o->nr_bufs;
	req.numa_node = o->numa_node;
	req.uid = o->uid;
	req.gid = o->gid;
	req.mode = o->mode;
	if (o->flags & ~XIO_VM_TENANT_DOORBELL)
		return -EINVAL;
	req.flags = flags;
	if (o->flags & XIO_VM_TENANT_DOORBELL)
		req.flags |= XIO_VM_F_DOORBELL;
	err = xio__rpc(a->sock, &req, NULL, 0, &rep,
		       XIO_MSG_VM_TENANT | XIO_MSG_REPLY, NULL, 0, NULL);
	return err ? err : (int)rep.tenant_id;
}

int xio_admin_vm_tenant(struct xio_admin *a, const struct xio_vm_tenant_opts *o)
{
	return vm_tenant(a, o, 0);
}

int xio_admin_vm_tenant_adopt(struct xio_admin *a,
			      const struct xio_vm_tenant_opts *o)
{
	return vm_tenant(a, o, XIO_VM_F_ADOPT);
}

static void copy_target(struct pager *pg, uint32_t idx, const void *wire)
{
	const struct xio_wire_target *w = wire;
	struct xio_target_info *o = (struct xio_target_info *)pg->out + idx;

	o->index = w->index;
	o->flags = w->flags;
	o->size = w->size;
	memcpy(o->path, w->path, sizeof(o->path));
	o->path[sizeof(o->path) - 1] = '\0';
}

int xio_admin_target_list(struct xio_admin *a, const char *tenant,
			  struct xio_target_info *out, uint32_t max,
			  uint32_t *total)
{
	struct xio_msg_target_list req;
	struct pager pg = {
		PAGER(req, XIO_MSG_TARGET_LIST,
		      struct xio_msg_target_list_reply, t, XIO_LIST_CHUNK),
		.copy = copy_target,
	};
	int err;

	if (!a || (!out && max))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	err = set_tenant(req.tenant, tenant);
	if (err)
		return err;
	return list_pages(a->sock, &pg, out, max, total);
}

/* ---- accounting --------------------------------------------------------- */

/* A wire stats entry into the caller's array, whose entries are
 * pg->stride bytes (their .sz): the common prefix, .sz and .version set. */
static void copy_stats(struct pager *pg, uint32_t idx, const void *wire)
{
	size_t cp = pg->stride < pg->esz ? pg->stride : pg->esz;
	char *o = (char *)pg->out + (size_t)idx * pg->stride;
	uint32_t *hdr = (uint32_t *)(void *)o;

	memset(o, 0, pg->stride);
	memcpy(o, wire, cp);
	hdr[0] = (uint32_t)cp; /* sz */
	hdr[1] = XIO_STATS_VERSION;
}

/* The caller's entry size (.sz of the first) or 0 when @max is 0. */
static int stats_stride(const void *out, uint32_t max, uint32_t *stride)
{
	*stride = 0;
	if (!max)
		return 0;
	*stride = *(const uint32_t *)out; /* .sz */
	if (*stride < 16 || *stride % 8)
		return -EINVAL; /* .sz not set */
	return 0;
}

int xio_admin_stats(struct xio_admin *a, const char *tenant, uint32_t flags,
		    struct xio_tenant_stats *out, uint32_t max, uint32_t *total)
{
	struct xio_msg_stats req;
	struct pager pg = {
		PAGER(req, XIO_MSG_STATS, struct xio_msg_stats_reply, t,
		      XIO_STATS_CHUNK),
		/* Consumed records vanish: one page, from 0. */
		.one_page = (flags & XIO_STATS_F_CONSUME) != 0,
		.copy = copy_stats,
	};

	if (!a || (!out && max) || (flags & ~XIO_STATS_F_CONSUME) ||
	    stats_stride(out, max, &pg.stride))
		return -EINVAL;
	if (tenant && strlen(tenant) >= XIO_NAME_MAX)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	if (tenant)
		strcpy(req.tenant, tenant);
	req.flags = flags;
	return list_pages(a->sock, &pg, out, max, total);
}

int xio_admin_stats_reset(struct xio_admin *a, const char *tenant)
{
	struct xio_msg_stats_reset req;
	struct xio_msg_status rep;

	if (!a || (tenant && strlen(tenant) >= XIO_NAME_MAX))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_STATS_RESET, 0);
	if (tenant)
		strcpy(req.tenant, tenant);
	return xio__rpc(a->sock, &req, NULL, 0, &rep,
			XIO_MSG_STATS_RESET | XIO_MSG_REPLY, NULL, 0, NULL);
}

int xio_admin_poller_stats(struct xio_admin *a, struct xio_poller_stats *out,
			   uint32_t max, uint32_t *total)
{
	struct xio_msg_poller_stats req;
	struct pager pg = {
		PAGER(req, XIO_MSG_POLLER_STATS,
		      struct xio_msg_poller_stats_reply, p, XIO_LIST_CHUNK),
		.copy = copy_stats,
	};

	if (!a || (!out && max) || stats_stride(out, max, &pg.stride))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	return list_pages(a->sock, &pg, out, max, total);
}

int xio_admin_quota_set(struct xio_admin *a, const char *tenant,
			const struct xio_quota *q)
{
	struct xio_msg_quota req;
	struct xio_msg_status rep;
	int err;

	if (!a || !q || q->sz < sizeof(*q))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_QUOTA, 0);
	err = set_tenant(req.tenant, tenant);
	if (err)
		return err;
	req.q = *q;
	req.q.sz = sizeof(req.q);
	return xio__rpc(a->sock, &req, NULL, 0, &rep,
			XIO_MSG_QUOTA | XIO_MSG_REPLY, NULL, 0, NULL);
}

/* ---- steering ------------------------------------------------------------ */

static int steer_rpc(struct xio_admin *a, struct xio_msg_steer *req)
{
	struct xio_msg_steer_reply *rep = malloc(sizeof(*rep));
	int err;

	if (!rep)
		return -ENOMEM;
	xio__msg_hdr_init(&req->hdr, XIO_MSG_STEER, 0);
	err = xio__rpc(a->sock, req, NULL, 0, rep,
		       XIO_MSG_STEER | XIO_MSG_REPLY, NULL, 0, NULL);
	free(rep);
	return err;
}

/* ATTACH or DETACH on interface @ifname. */
static int steer_iface(struct xio_admin *a, uint32_t op, const char *ifname,
		       uint32_t flags)
{
	struct xio_msg_steer req;

	if (!a || !ifname || !*ifname || strlen(ifname) >= XIO_STEER_IFNAME_MAX)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	strcpy(req.ifname, ifname);
	req.op = op;
	req.flags = flags;
	return steer_rpc(a, &req);
}

int xio_admin_steer_attach(struct xio_admin *a, const char *ifname,
			   uint32_t flags)
{
	if (flags & ~XIO_ADMIN_STEER_FLAGS)
		return -EINVAL;
	return steer_iface(a, XIO_STEER_OP_ATTACH, ifname, flags);
}

int xio_admin_steer_detach(struct xio_admin *a, const char *ifname)
{
	return steer_iface(a, XIO_STEER_OP_DETACH, ifname, 0);
}

static int steer_rule(struct xio_admin *a, uint32_t op, const char *tenant,
		      const uint8_t *mac, int family, const void *addr)
{
	struct xio_msg_steer req;
	int err;

	if (!a)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	err = set_tenant(req.tenant, tenant);
	if (err)
		return err;
	req.op = op;
	if (mac) {
		req.flags |= XIO_STEER_F_MAC;
		memcpy(req.mac, mac, 6);
	}
	if (addr) {
		if (family == AF_INET)
			memcpy(req.addr, addr, 4);
		else if (family == AF_INET6)
			memcpy(req.addr, addr, 16);
		else
			return -EAFNOSUPPORT;
		req.flags |= XIO_STEER_F_IP;
		req.family = family;
	}
	if (op == XIO_STEER_OP_ADD && !req.flags)
		return -EINVAL;
	return steer_rpc(a, &req);
}

int xio_admin_steer_add(struct xio_admin *a, const char *tenant,
			const uint8_t *mac, int family, const void *addr)
{
	return steer_rule(a, XIO_STEER_OP_ADD, tenant, mac, family, addr);
}

int xio_admin_steer_del(struct xio_admin *a, const char *tenant,
			const uint8_t *mac, int family, const void *addr)
{
	return steer_rule(a, XIO_STEER_OP_DEL, tenant, mac, family, addr);
}

/* SHOW: the interfaces come with every page; kept from the first. */
struct steer_show {
	struct xio_admin_steer_iface *ifs;
	uint32_t *nr_ifs;
};

static int steer_show_page(struct pager *pg, const void *rep)
{
	const struct xio_msg_steer_reply *r = rep;
	const struct xio_msg_steer *req = pg->req;
	struct steer_show *ss = pg->ctx;
	uint32_t i;

	if (r->nr_ifaces > XIO_ADMIN_STEER_IFACES_MAX)
		return -EPROTO;
	if (req->start)
		return 0;
	if (ss->nr_ifs)
		*ss->nr_ifs = r->nr_ifaces;
	for (i = 0; ss->ifs && i < r->nr_ifaces; i++) {
		ss->ifs[i] = r->ifaces[i];
		ss->ifs[i].name[XIO_STEER_IFNAME_MAX - 1] = '\0';
	}
	return 0;
}

static void copy_rule(struct pager *pg, uint32_t idx, const void *wire)
{
	((struct xio_admin_steer_rule *)pg->out)[idx] =
		*(const struct xio_admin_steer_rule *)wire;
}

int xio_admin_steer_show(struct xio_admin *a, struct xio_admin_steer_iface *ifs,
			 uint32_t *nr_ifs, struct xio_admin_steer_rule *out,
			 uint32_t max, uint32_t *total)
{
	struct steer_show ss = {.ifs = ifs, .nr_ifs = nr_ifs};
	struct xio_msg_steer req;
	struct pager pg = {
		PAGER(req, XIO_MSG_STEER, struct xio_msg_steer_reply, r,
		      XIO_STEER_CHUNK),
		.page = steer_show_page,
		.copy = copy_rule,
		.ctx = &ss,
	};

	if (!a || (!out && max))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.op = XIO_STEER_OP_SHOW;
	return list_pages(a->sock, &pg, out, max, total);
}
