/* SPDX-License-Identifier: MIT */
/* Host administration client (include/xio/admin.h). */
#define _GNU_SOURCE
#include <errno.h>
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

int xio__admin_tenants_fd(int fd, uint32_t flags, struct xio_tenant_info *out,
			  uint32_t max, uint32_t *total)
{
	struct xio_msg_tenant_list req;
	struct xio_msg_tenant_list_reply *rep;
	uint32_t filled = 0, i;
	int err;

	if (!out && max)
		return -EINVAL;
	rep = malloc(sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	for (;;) {
		memset(&req, 0, sizeof(req));
		xio__msg_hdr_init(&req.hdr, XIO_MSG_TENANT_LIST, 0);
		req.start = filled;
		req.flags = flags;
		err = xio__rpc(fd, &req, NULL, 0, rep,
			       XIO_MSG_TENANT_LIST | XIO_MSG_REPLY, NULL, 0,
			       NULL);
		if (err)
			break;
		if (rep->count > XIO_LIST_CHUNK) {
			err = -EPROTO;
			break;
		}
		if (total)
			*total = rep->total;
		for (i = 0; i < rep->count && filled < max; i++)
			tenant_from_wire(&out[filled++], &rep->t[i]);
		if (!rep->count || filled >= max || filled >= rep->total)
			break;
	}
	free(rep);
	return err ? err : (int)filled;
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

int xio_admin_target_list(struct xio_admin *a, const char *tenant,
			  struct xio_target_info *out, uint32_t max,
			  uint32_t *total)
{
	struct xio_msg_target_list req;
	struct xio_msg_target_list_reply *rep;
	uint32_t filled = 0, i;
	int err;

	if (!a || (!out && max))
		return -EINVAL;
	rep = malloc(sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	for (;;) {
		memset(&req, 0, sizeof(req));
		xio__msg_hdr_init(&req.hdr, XIO_MSG_TARGET_LIST, 0);
		err = set_tenant(req.tenant, tenant);
		if (err)
			break;
		req.start = filled;
		err = xio__rpc(a->sock, &req, NULL, 0, rep,
			       XIO_MSG_TARGET_LIST | XIO_MSG_REPLY, NULL, 0,
			       NULL);
		if (err)
			break;
		if (rep->count > XIO_LIST_CHUNK) {
			err = -EPROTO;
			break;
		}
		if (total)
			*total = rep->total;
		for (i = 0; i < rep->count && filled < max; i++) {
			struct xio_target_info *o = &out[filled++];

			o->index = rep->t[i].index;
			o->flags = rep->t[i].flags;
			o->size = rep->t[i].size;
			memcpy(o->path, rep->t[i].path, sizeof(o->path));
			o->path[sizeof(o->path) - 1] = '\0';
		}
		if (!rep->count || filled >= max || filled >= rep->total)
			break;
	}
	free(rep);
	return err ? err : (int)filled;
}

/* ---- accounting --------------------------------------------------------- */

/* Copy @n wire entries of @esz bytes into the caller's array (stride *sz). */
static void stats_out(void *out, uint32_t *filled, uint32_t max,
		      const void *src, uint32_t n, size_t esz, uint32_t stride)
{
	size_t cp = stride < esz ? stride : esz;
	uint32_t i;

	for (i = 0; i < n && *filled < max; i++) {
		char *o = (char *)out + (size_t)*filled * stride;
		uint32_t *hdr = (uint32_t *)(void *)o;

		memset(o, 0, stride);
		memcpy(o, (const char *)src + i * esz, cp);
		hdr[0] = (uint32_t)cp; /* sz */
		hdr[1] = XIO_STATS_VERSION;
		(*filled)++;
	}
}

int xio_admin_stats(struct xio_admin *a, const char *tenant, uint32_t flags,
		    struct xio_tenant_stats *out, uint32_t max, uint32_t *total)
{
	struct xio_msg_stats req;
	struct xio_msg_stats_reply *rep;
	uint32_t filled = 0, stride = 0, start = 0;
	int err;

	if (!a || (!out && max) || (flags & ~XIO_STATS_F_CONSUME))
		return -EINVAL;
	if (max) {
		stride = out->sz;
		if (stride < 16 || stride % 8)
			return -EINVAL; /* .sz not set */
	}
	if (tenant && strlen(tenant) >= XIO_NAME_MAX)
		return -EINVAL;
	rep = malloc(sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	for (;;) {
		memset(&req, 0, sizeof(req));
		xio__msg_hdr_init(&req.hdr, XIO_MSG_STATS, 0);
		if (tenant)
			strcpy(req.tenant, tenant);
		/* Consumed records vanish: the next page starts at 0 again. */
		req.start = (flags & XIO_STATS_F_CONSUME) ? 0 : start;
		req.flags = flags;
		err = xio__rpc(a->sock, &req, NULL, 0, rep,
			       XIO_MSG_STATS | XIO_MSG_REPLY, NULL, 0, NULL);
		if (err)
			break;
		if (rep->count > XIO_STATS_CHUNK) {
			err = -EPROTO;
			break;
		}
		if (total && !start)
			*total = rep->total;
		stats_out(out, &filled, max, rep->t, rep->count,
			  sizeof(rep->t[0]), stride);
		start += rep->count;
		if (!rep->count || filled >= max || start >= rep->total ||
		    (flags & XIO_STATS_F_CONSUME))
			break;
	}
	free(rep);
	return err ? err : (int)filled;
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
	struct xio_msg_poller_stats_reply *rep;
	uint32_t filled = 0, stride = 0, start = 0;
	int err;

	if (!a || (!out && max))
		return -EINVAL;
	if (max) {
		stride = out->sz;
		if (stride < 16 || stride % 8)
			return -EINVAL;
	}
	rep = malloc(sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	for (;;) {
		memset(&req, 0, sizeof(req));
		xio__msg_hdr_init(&req.hdr, XIO_MSG_POLLER_STATS, 0);
		req.start = start;
		err = xio__rpc(a->sock, &req, NULL, 0, rep,
			       XIO_MSG_POLLER_STATS | XIO_MSG_REPLY, NULL, 0,
			       NULL);
		if (err)
			break;
		if (rep->count > XIO_LIST_CHUNK) {
			err = -EPROTO;
			break;
		}
		if (total)
			*total = rep->total;
		stats_out(out, &filled, max, rep->p, rep->count,
			  sizeof(rep->p[0]), stride);
		start += rep->count;
		if (!rep->count || filled >= max || start >= rep->total)
			break;
	}
	free(rep);
	return err ? err : (int)filled;
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

static int steer_rpc(struct xio_admin *a, struct xio_msg_steer *req,
		     struct xio_msg_steer_reply **out)
{
	struct xio_msg_steer_reply *rep = malloc(sizeof(*rep));
	int err;

	if (!rep)
		return -ENOMEM;
	xio__msg_hdr_init(&req->hdr, XIO_MSG_STEER, 0);
	err = xio__rpc(a->sock, req, NULL, 0, rep,
		       XIO_MSG_STEER | XIO_MSG_REPLY, NULL, 0, NULL);
	if (err || !out) {
		free(rep);
		return err;
	}
	*out = rep;
	return 0;
}

static int steer_ifname(char dst[XIO_STEER_IFNAME_MAX], const char *ifname)
{
	if (!ifname || !*ifname || strlen(ifname) >= XIO_STEER_IFNAME_MAX)
		return -EINVAL;
	strcpy(dst, ifname);
	return 0;
}

int xio_admin_steer_attach(struct xio_admin *a, const char *ifname,
			   uint32_t flags)
{
	struct xio_msg_steer req;
	int err;

	if (!a || (flags & ~XIO_ADMIN_STEER_GENERIC))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	err = steer_ifname(req.ifname, ifname);
	if (err)
		return err;
	req.op = XIO_STEER_OP_ATTACH;
	req.flags = flags;
	return steer_rpc(a, &req, NULL);
}

int xio_admin_steer_detach(struct xio_admin *a, const char *ifname)
{
	struct xio_msg_steer req;
	int err;

	if (!a)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	err = steer_ifname(req.ifname, ifname);
	if (err)
		return err;
	req.op = XIO_STEER_OP_DETACH;
	return steer_rpc(a, &req, NULL);
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
	return steer_rpc(a, &req, NULL);
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

int xio_admin_steer_show(struct xio_admin *a, struct xio_admin_steer_iface *ifs,
			 uint32_t *nr_ifs, struct xio_admin_steer_rule *out,
			 uint32_t max, uint32_t *total)
{
	struct xio_msg_steer_reply *rep;
	struct xio_msg_steer req;
	uint32_t filled = 0, start = 0, i;
	int err;

	if (!a || (!out && max))
		return -EINVAL;
	for (;;) {
		memset(&req, 0, sizeof(req));
		req.op = XIO_STEER_OP_SHOW;
		req.start = start;
		err = steer_rpc(a, &req, &rep);
		if (err)
			return err;
		if (rep->count > XIO_STEER_CHUNK ||
		    rep->nr_ifaces > XIO_ADMIN_STEER_IFACES_MAX) {
			free(rep);
			return -EPROTO;
		}
		if (!start) {
			if (total)
				*total = rep->total;
			if (nr_ifs)
				*nr_ifs = rep->nr_ifaces;
			for (i = 0; ifs && i < rep->nr_ifaces; i++) {
				ifs[i] = rep->ifaces[i];
				ifs[i].name[XIO_STEER_IFNAME_MAX - 1] = '\0';
			}
		}
		for (i = 0; i < rep->count && filled < max; i++)
			out[filled++] = rep->r[i];
		start += rep->count;
		i = !rep->count || filled >= max || start >= rep->total;
		free(rep);
		if (i)
			break;
	}
	return (int)filled;
}
