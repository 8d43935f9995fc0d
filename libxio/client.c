/* SPDX-License-Identifier: MIT */
/* Guest client: attach to / detach from xiod (include/xio/client.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xio/client.h>

#include "internal.h"
#include "proto.h"

/* The wire carries the public flag values as they are. */
_Static_assert(XIO_CLIENT_PERSIST == XIO_ATTACH_F_PERSIST, "flag value");
_Static_assert(XIO_CLIENT_NO_DOORBELL == XIO_ATTACH_F_NO_DOORBELL,
	       "flag value");

struct xio_tenant {
	int sock;
	uint32_t id;
	uint32_t nr_qpairs;
	struct xio_region *region;
	int region_fd; /* the sealed memfd, kept for xio_tenant_region_fd() and
			  xio_tenant_reattach() */
	int *evfds;    /* kick[i] = evfds[2i], notify[i] = evfds[2i+1] */
	int timeout_ms;
	char name[XIO_NAME_MAX];
	char sock_path[108]; /* sun_path's size */
};

#define XIO_CLIENT_OPTS_V1_SZ                                                  \
	(offsetof(struct xio_client_opts, timeout_ms) + sizeof(int))

static int client_opts_check(const struct xio_client_opts *o)
{
	const char *p = (const char *)o;
	size_t i;

	if (!o || o->sz < XIO_CLIENT_OPTS_V1_SZ) {
		pr_warn("xio: client opts: .sz too small (set it to sizeof(struct xio_client_opts))\n");
		return -EINVAL;
	}
	for (i = sizeof(*o); i < o->sz; i++)
		if (p[i]) {
			pr_warn("xio: client opts: unknown non-zero option at byte %zu\n",
				i);
			return -EINVAL;
		}
	if (o->flags & ~XIO_CLIENT_FLAGS_MASK)
		return -EINVAL;
	if (o->name && strlen(o->name) >= XIO_NAME_MAX) {
		pr_warn("xio: tenant name longer than %d bytes\n",
			XIO_NAME_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

static void tenant_free(struct xio_tenant *t)
{
	uint32_t i;

	if (!t)
		return;
	xio_region_destroy(t->region);
	if (t->evfds)
		for (i = 0; i < 2 * t->nr_qpairs; i++)
			if (t->evfds[i] >= 0)
				close(t->evfds[i]);
	free(t->evfds);
	if (t->region_fd >= 0)
		close(t->region_fd);
	if (t->sock >= 0)
		close(t->sock);
	free(t);
}

int xio_client_attach(const char *sock_path, const struct xio_client_opts *o,
		      struct xio_tenant **out)
{
	struct xio_msg_attach req;
	struct xio_msg_attach_reply rep;
	int fds[XIO_MSG_MAX_FDS];
	unsigned int nfds = 0, i;
	struct xio_tenant *t;
	int err;

	if (!out)
		return -EINVAL;
	err = client_opts_check(o);
	if (err)
		return err;
	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_ATTACH, 0);
	if (o->name)
		strcpy(req.name, o->name);
	else
		snprintf(req.name, sizeof(req.name), "guest-%d", (int)getpid());
	req.nr_qpairs = o->params.nr_qpairs;
	req.sq_entries = o->params.sq_entries;
	req.cq_entries = o->params.cq_entries;
	req.buf_size = o->params.buf_size;
	req.nr_bufs = o->params.nr_bufs;
	req.numa_node = (o->flags & XIO_CLIENT_NUMA_BIND) ?
				o->numa_node :
				XIO_ATTACH_NUMA_AUTO;
	req.flags = o->flags & (XIO_CLIENT_PERSIST | XIO_CLIENT_NO_DOORBELL);

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->region_fd = -1;
	t->timeout_ms = o->timeout_ms;
	memcpy(t->name, req.name, sizeof(t->name));
	snprintf(t->sock_path, sizeof(t->sock_path), "%s",
		 xio__sock_path(sock_path));
	t->sock = xio__sock_connect(sock_path, o->timeout_ms);
	if (t->sock < 0) {
		err = t->sock;
		t->sock = -1;
		goto fail;
	}
	err = xio__rpc(t->sock, &req, NULL, 0, &rep,
		       XIO_MSG_ATTACH | XIO_MSG_REPLY, fds, XIO_MSG_MAX_FDS,
		       &nfds);
	if (err) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		if (err != -EPROTO && err != -ETIMEDOUT)
			pr_warn("xio: xiod refused tenant '%s': %s\n", req.name,
				xio_strerror(err));
		goto fail;
	}
	if (rep.nr_qpairs < 1 || rep.nr_qpairs > XIO_MAX_QPAIRS ||
	    rep.nr_fds != 1 + 2 * rep.nr_qpairs || nfds != rep.nr_fds) {
		pr_warn("xio: attach reply: %u fds for %u queue pairs\n", nfds,
			rep.nr_qpairs);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		err = -EPROTO;
		goto fail;
	}
	t->id = rep.tenant_id;
	t->nr_qpairs = rep.nr_qpairs;
	t->evfds = malloc(2 * t->nr_qpairs * sizeof(int));
	if (!t->evfds) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		err = -ENOMEM;
		goto fail;
	}
	memcpy(t->evfds, fds + 1, 2 * t->nr_qpairs * sizeof(int));
	/* The region is validated like any peer's. */
	t->region_fd = fds[0];
	err = xio_region_attach_fd(fds[0], XIO_ATTACH_REQUIRE_SEALS,
				   &t->region);
	if (err)
		goto fail;
	if (xio_region_layout(t->region)->nr_qpairs != t->nr_qpairs) {
		err = -EPROTO;
		goto fail;
	}
	for (i = 0; i < t->nr_qpairs; i++) {
		struct xio_qp *qp = xio_region_qp(t->region, i);

		xio_qp_set_kick_fd(qp, t->evfds[2 * i]);
		xio_qp_set_notify_fd(qp, t->evfds[2 * i + 1]);
	}
	*out = t;
	return 0;
fail:
	tenant_free(t);
	return err;
}

int xio_tenant_reattach(struct xio_tenant *t)
{
	struct xio_msg_reattach req;
	struct xio_msg_attach_reply rep;
	int fds[XIO_MSG_MAX_FDS], sock, err;
	uint32_t i;

	if (!t)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_REATTACH, 0);
	memcpy(req.name, t->name, sizeof(req.name));
	req.tenant_id = t->id;
	req.nr_qpairs = t->nr_qpairs;
	fds[0] = t->region_fd;
	for (i = 0; i < 2 * t->nr_qpairs; i++)
		fds[1 + i] = t->evfds[i];
	sock = xio__sock_connect(t->sock_path, t->timeout_ms);
	if (sock < 0)
		return sock;
	err = xio__rpc(sock, &req, fds, 1 + 2 * t->nr_qpairs, &rep,
		       XIO_MSG_REATTACH | XIO_MSG_REPLY, NULL, 0, NULL);
	if (!err && (rep.tenant_id != t->id || rep.nr_qpairs != t->nr_qpairs))
		err = -EPROTO;
	if (err) {
		close(sock);
		return err;
	}
	/* The old connection is dead (its xiod is gone): replace it. */
	close(t->sock);
	t->sock = sock;
	return 0;
}

int xio_tenant_hung_up(const struct xio_tenant *t)
{
	struct pollfd pfd;

	if (!t)
		return -EINVAL;
	pfd.fd = t->sock;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) < 0)
		return -errno;
	/* xiod sends nothing unasked: readable means EOF (or an error). */
	return (pfd.revents & (POLLHUP | POLLERR | POLLIN)) ? 1 : 0;
}

int xio_client_detach(struct xio_tenant *t)
{
	struct xio_msg_detach req;
	struct xio_msg_status rep;
	int err;

	if (!t)
		return 0;
	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_DETACH, 0);
	err = xio__rpc(t->sock, &req, NULL, 0, &rep,
		       XIO_MSG_DETACH | XIO_MSG_REPLY, NULL, 0, NULL);
	tenant_free(t);
	return err;
}

void xio_client_close(struct xio_tenant *t)
{
	tenant_free(t);
}

int xio_tenant_region_fd(const struct xio_tenant *t)
{
	return t ? t->region_fd : -1;
}

struct xio_region *xio_tenant_region(struct xio_tenant *t)
{
	return t ? t->region : NULL;
}

struct xio_qp *xio_tenant_qp(struct xio_tenant *t, uint32_t idx)
{
	return t ? xio_region_qp(t->region, idx) : NULL;
}

uint32_t xio_tenant_id(const struct xio_tenant *t)
{
	return t ? t->id : 0;
}

int xio_tenant_sock(const struct xio_tenant *t)
{
	return t ? t->sock : -1;
}

int xio_tenant_info(struct xio_tenant *t, struct xio_tenant_info *info)
{
	int n;

	if (!t || !info)
		return -EINVAL;
	n = xio__admin_tenants_fd(t->sock, XIO_LIST_OWN, info, 1, NULL);
	if (n < 0)
		return n;
	return n == 1 ? 0 : -ENOENT;
}
