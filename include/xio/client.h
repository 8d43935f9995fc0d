/* SPDX-License-Identifier: MIT */
/*
 * xio guest client: attach a local process to xiod as a tenant.
 *
 * xio_client_attach() connects to xiod's control socket, asks for a tenant
 * with the given geometry and receives its region (a sealed memfd, mapped
 * and validated here) and, per queue pair, a kick eventfd (our doorbell)
 * and a notify eventfd (xiod's completion signal), already wired into the
 * queue pairs: use xio_tenant_qp() with the guest API of xio.h.  The
 * connection stays open: closing it (xio_client_detach(), or the process
 * dying) makes xiod cancel the tenant's I/O and free it.
 */
#ifndef XIO_CLIENT_H
#define XIO_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <xio/admin.h>
#include <xio/xio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XIO_CLIENT_NUMA_BIND (1U << 0) /* place the region on .numa_node */
/*
 * Administrators only: the tenant outlives this connection (for a VM whose
 * region is handed to QEMU: see xio_tenant_region_fd(), xio_client_close());
 * it ends with xio_admin_tenant_detach() or xiod's exit.
 */
#define XIO_CLIENT_PERSIST (1U << 1)
/*
 * The guest cannot ring a doorbell (ivshmem-plain has none): xiod never
 * parks the tenant and its poller never sleeps longer than a tick (1 ms)
 * while it serves one.
 */
#define XIO_CLIENT_NO_DOORBELL (1U << 2)
#define XIO_CLIENT_FLAGS_MASK                                                  \
	(XIO_CLIENT_NUMA_BIND | XIO_CLIENT_PERSIST | XIO_CLIENT_NO_DOORBELL)

/*
 * Extensible: set .sz = sizeof(struct xio_client_opts); unknown trailing
 * bytes must be zero.  Zero geometry fields take the defaults of
 * struct xio_params.
 */
struct xio_client_opts {
	size_t sz;
	const char *name; /* tenant name: [A-Za-z0-9._-], not all digits;
			     NULL: "guest-<pid>" */
	struct xio_params params;
	uint32_t flags;	   /* XIO_CLIENT_* */
	int32_t numa_node; /* with XIO_CLIENT_NUMA_BIND */
	int timeout_ms;	   /* per control request; 0: 10 s */
};

struct xio_tenant;

/*
 * Attach to xiod at @sock_path (NULL: $XIO_SOCKET, else
 * /run/xio/xiod.sock).  Returns 0 and *out, or -errno: the daemon's refusal
 * (-EINVAL bad geometry or name, -E2BIG region over its limit, -EEXIST name
 * taken, -EUSERS too many tenants), -EPROTO (a malformed reply or region),
 * -ETIMEDOUT, or the connect() error (-ENOENT / -ECONNREFUSED: no xiod).
 */
int xio_client_attach(const char *sock_path, const struct xio_client_opts *opts,
		      struct xio_tenant **out);

/*
 * Ask xiod to tear the tenant down, wait until it has (its I/O cancelled or
 * finished), then unmap and free everything.  Returns 0 or the -errno of the
 * exchange (everything is freed in any case).  Accepts NULL.
 */
int xio_client_detach(struct xio_tenant *t);

/*
 * Close this process's side (connection, mapping, fds) without asking xiod
 * to detach: a XIO_CLIENT_PERSIST tenant lives on, any other is torn down
 * by xiod as the connection closes.  Accepts NULL.
 */
void xio_client_close(struct xio_tenant *t);

struct xio_region *xio_tenant_region(struct xio_tenant *t);
/* The region's sealed memfd (owned by @t), e.g. to hand to QEMU. */
int xio_tenant_region_fd(const struct xio_tenant *t);
struct xio_qp *xio_tenant_qp(struct xio_tenant *t, uint32_t idx);
uint32_t xio_tenant_id(const struct xio_tenant *t);
/* The control connection (for poll(): readable/hung up when xiod goes). */
int xio_tenant_sock(const struct xio_tenant *t);
/*
 * Restart (docs/daemon.md, "Restart"): when xiod dies, the tenant's region
 * stays mapped here and keeps its requests; a restarted xiod (same socket
 * path, same --state-dir) re-adopts it when asked by xio_tenant_reattach():
 * a new connection carrying the region memfd and the eventfds.  Requests
 * that were in flight complete exactly once (re-executed if they had not
 * finished: SEND/RECV targets, passed as fds, fail with -EBADF instead);
 * the tenant keeps its id, targets and quota.  0, or -errno: the connect()
 * error while xiod is not back yet (-ENOENT, -ECONNREFUSED: retry), -ENOENT
 * (no log of this tenant), -EEXIST (its name or id is taken), -ESTALE (the
 * log is of another tenant), -EBADMSG (its log cannot be trusted: the
 * tenant is lost), -EOPNOTSUPP (xiod runs without --state-dir).
 */
int xio_tenant_reattach(struct xio_tenant *t);
/*
 * 1 when the control connection was hung up (xiod died or detached the
 * tenant), 0 when not, -errno.  Non-blocking: a poll() of
 * xio_tenant_sock(), for a guest whose completions stopped coming.
 */
int xio_tenant_hung_up(const struct xio_tenant *t);

/* This tenant's own counters, as xiod sees them. */
int xio_tenant_info(struct xio_tenant *t, struct xio_tenant_info *info);

#ifdef __cplusplus
}
#endif
#endif /* XIO_CLIENT_H */
