/* SPDX-License-Identifier: MIT */
/*
 * xiod control protocol: the messages exchanged over xiod's UNIX socket
 * (SOCK_SEQPACKET: one send = one message, boundaries kept).  Internal to
 * libxio (client.c, admin.c) and xiod; never installed.
 *
 * Every message is one fixed-size struct: a 16-byte header followed by the
 * type's payload.  A receiver accepts a message only if
 *   - it was not truncated (MSG_TRUNC / MSG_CTRUNC clear),
 *   - its byte count equals hdr.len equals the size of hdr.type's struct,
 *   - magic and version match, the type is known and allowed in this
 *     direction, and
 *   - it carries exactly the number of fds that type carries (0 for every
 *     request but TARGET_ADD_FD, which carries 1, and REATTACH, which
 *     carries 1 + 2 * nr_qpairs).
 * Anything else is answered with XIO_MSG_ERROR (or the connection is
 * closed), and every fd that came with it is closed.  Strings are fixed
 * arrays that must contain a NUL; reserved fields must be zero.
 *
 * Replies echo the request's seq and start with an int32 status (0 or
 * -errno).  A reply's type is the request's type | XIO_MSG_REPLY.
 */
#ifndef XIO_PROTO_H
#define XIO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <xio/admin.h>

#define XIO_PROTO_MAGIC 0x50434f58U /* "XOCP" */
#define XIO_PROTO_VERSION 1U
#define XIO_DEFAULT_SOCKET "/run/xio/xiod.sock"
#define XIO_SOCKET_ENV "XIO_SOCKET"

#define XIO_NAME_MAX XIO_TENANT_NAME_MAX /* with its NUL */
#define XIO_PATH_MAX 1024		 /* target path, with its NUL */
#define XIO_TARGET_PATH_SHOWN 256
#define XIO_MAX_TARGETS 64	     /* per tenant */
#define XIO_MSG_MAX_FDS (1 + 2 * 64) /* region + kick/notify per qpair */

/* Message types.  Requests < 0x100; replies have XIO_MSG_REPLY set. */
#define XIO_MSG_ATTACH 1	/* guest: create my tenant */
#define XIO_MSG_DETACH 2	/* guest: tear my tenant down */
#define XIO_MSG_TENANT_LIST 3	/* admin (guest: own tenant only) */
#define XIO_MSG_TARGET_ADD 4	/* admin: xiod opens a host path */
#define XIO_MSG_TARGET_ADD_FD 5 /* admin: an fd passed with SCM_RIGHTS */
#define XIO_MSG_TARGET_LIST 6	/* admin (guest: own tenant only) */
#define XIO_MSG_TENANT_DETACH 7 /* admin: tear a tenant down */
#define XIO_MSG_VM_TENANT 8	/* admin: file-backed tenant for a VM */
#define XIO_MSG_REATTACH 9	/* guest: re-adopt my tenant after a restart */
#define XIO_MSG_LAST 10
/* Accounting (issue 5; docs/accounting.md): numbered apart from the above. */
#define XIO_MSG_STATS 16	/* tenant counters (guest: own tenant only) */
#define XIO_MSG_STATS_RESET 17	/* admin: rebase counters, drop final records */
#define XIO_MSG_POLLER_STATS 18 /* admin: per poller time split */
#define XIO_MSG_QUOTA 19	/* admin: set a tenant's quota */
/* Steering (issue 6; docs/steering.md): one type, the operation inside. */
#define XIO_MSG_STEER 20 /* admin: attach/detach/add/del/show */
#define XIO_MSG_REPLY 0x100U
#define XIO_MSG_ERROR 0x1ffU /* reply to a message that could not be parsed */

struct xio_msg_hdr {
	uint32_t magic;	  /* XIO_PROTO_MAGIC */
	uint16_t version; /* XIO_PROTO_VERSION */
	uint16_t type;	  /* XIO_MSG_* */
	uint32_t len;	  /* whole message, header included */
	uint32_t seq;	  /* chosen by the requester, echoed */
};

/* ---- requests ----------------------------------------------------------- */

#define XIO_ATTACH_NUMA_AUTO (-1)
/* xio_msg_attach.flags: the XIO_CLIENT_* values of xio/client.h */
#define XIO_ATTACH_F_PERSIST (1U << 1)
#define XIO_ATTACH_F_NO_DOORBELL (1U << 2)
#define XIO_ATTACH_F_MASK (XIO_ATTACH_F_PERSIST | XIO_ATTACH_F_NO_DOORBELL)

struct xio_msg_attach {
	struct xio_msg_hdr hdr;
	char name[XIO_NAME_MAX];
	uint32_t nr_qpairs;
	uint32_t sq_entries;
	uint32_t cq_entries;
	uint32_t buf_size;
	uint32_t nr_bufs;
	int32_t numa_node; /* XIO_ATTACH_NUMA_AUTO or a node */
	uint32_t flags;	   /* XIO_CLIENT_PERSIST | XIO_CLIENT_NO_DOORBELL */
	uint32_t resv;
};

struct xio_msg_detach {
	struct xio_msg_hdr hdr;
};

/* A tenant is named by its name or, when all digits, its id. */
#define XIO_LIST_OWN (1U << 0) /* only the connection's own tenant */

struct xio_msg_tenant_list {
	struct xio_msg_hdr hdr;
	uint32_t start; /* first entry wanted (paging) */
	uint32_t flags; /* XIO_LIST_* */
};

/* XIO_TARGET_* flags: xio/admin.h */
#define XIO_TARGET_ADD_MASK (XIO_TARGET_RDONLY | XIO_TARGET_DIRECT)

struct xio_msg_target_add {
	struct xio_msg_hdr hdr;
	char tenant[XIO_NAME_MAX];
	char path[XIO_PATH_MAX]; /* absolute; unused for TARGET_ADD_FD */
	uint32_t flags;		 /* XIO_TARGET_ADD_MASK */
	uint32_t resv;
};

struct xio_msg_target_list {
	struct xio_msg_hdr hdr;
	char tenant[XIO_NAME_MAX];
	uint32_t start;
	uint32_t resv;
};

/* Replied to (XIO_MSG_TENANT_DETACH | XIO_MSG_REPLY, a status) once the
 * tenant's I/O is cancelled and it is freed; its connection is closed. */
struct xio_msg_tenant_detach {
	struct xio_msg_hdr hdr;
	char tenant[XIO_NAME_MAX];
	uint32_t flags; /* none: 0 */
	uint32_t resv;
};

/*
 * REATTACH (docs/daemon.md, "Restart"): after xiod was restarted, the guest
 * of a tenant re-sends what it holds: 1 + 2 * nr_qpairs fds, its region
 * memfd then kick[i], notify[i].  xiod re-adopts the tenant from its
 * in-flight log (name, id and geometry must match it) and finishes the
 * requests that were in flight.  Reply: the ATTACH reply, without fds.
 */
struct xio_msg_reattach {
	struct xio_msg_hdr hdr;
	char name[XIO_NAME_MAX];
	uint32_t tenant_id;
	uint32_t nr_qpairs;
	uint32_t flags; /* none: 0 */
	uint32_t resv;
};

/* XIO_STATS_F_*: xio/admin.h */
/* tenant "": every tenant (and final record); else one name or id. */
struct xio_msg_stats {
	struct xio_msg_hdr hdr;
	char tenant[XIO_NAME_MAX];
	uint32_t start;
	uint32_t flags; /* XIO_STATS_F_* */
};

struct xio_msg_stats_reset {
	struct xio_msg_hdr hdr;
	char tenant[XIO_NAME_MAX]; /* "": all */
	uint32_t flags;		   /* none: 0 */
	uint32_t resv;
};

struct xio_msg_poller_stats {
	struct xio_msg_hdr hdr;
	uint32_t start;
	uint32_t resv;
};

/* Fields named by q.flags (XIO_QUOTA_*) are set, the others kept. */
struct xio_msg_quota {
	struct xio_msg_hdr hdr;
	char tenant[XIO_NAME_MAX];
	struct xio_quota q;
};

/* xio_msg_steer.op */
#define XIO_STEER_OP_ATTACH 1 /* ifname, flags XIO_ADMIN_STEER_FLAGS */
#define XIO_STEER_OP_DETACH 2 /* ifname */
#define XIO_STEER_OP_ADD 3    /* tenant, XIO_STEER_F_MAC/IP: mac, addr */
#define XIO_STEER_OP_DEL 4    /* tenant, [mac] [addr]; neither: all */
#define XIO_STEER_OP_SHOW 5   /* start: paging of the rules */
#define XIO_STEER_F_MAC (1U << 0)
#define XIO_STEER_F_IP (1U << 1)

struct xio_msg_steer {
	struct xio_msg_hdr hdr;
	uint32_t op;	/* XIO_STEER_OP_* */
	uint32_t flags; /* ATTACH: XIO_ADMIN_STEER_FLAGS; ADD/DEL: F_MAC|F_IP */
	char ifname[XIO_STEER_IFNAME_MAX];
	char tenant[XIO_NAME_MAX];
	uint8_t mac[6];
	uint8_t resv0[2];
	int32_t family; /* with XIO_STEER_F_IP: AF_INET or AF_INET6 */
	uint32_t start; /* SHOW */
	uint8_t addr[16];
};

/* ---- replies ------------------------------------------------------------ */
/*
 * VM_TENANT: xiod creates the tenant's region as the file @path (absolute,
 * O_EXCL, @mode, owned by @uid/@gid) of exactly @size bytes, persistent and
 * doorbell-less.  Removed (file unlinked) by TENANT_DETACH.  Reply: the
 * ATTACH reply, without fds.
 */
struct xio_msg_vm_tenant {
	struct xio_msg_hdr hdr;
	char name[XIO_NAME_MAX];
	char path[XIO_PATH_MAX];
	uint64_t size; /* the file's size: a power of two >= 1 MiB */
	uint32_t nr_qpairs;
	uint32_t sq_entries;
	uint32_t cq_entries;
	uint32_t buf_size;
	uint32_t nr_bufs;
	int32_t numa_node; /* XIO_ATTACH_NUMA_AUTO or a node */
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;	/* 0: 0600 */
	uint32_t flags; /* XIO_VM_F_* */
};
/* Adopt the existing file at path (its header gives the geometry; size must
 * match it; uid/gid/mode are left as they are). */
#define XIO_VM_F_ADOPT (1U << 0)
/* ivshmem-doorbell: @path is xiod's ivshmem server socket, the region a
 * memfd (XIO_VM_TENANT_DOORBELL in xio/admin.h; not with ADOPT) */
#define XIO_VM_F_DOORBELL (1U << 1)
#define XIO_VM_F_MASK (XIO_VM_F_ADOPT | XIO_VM_F_DOORBELL)

struct xio_msg_status {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t resv;
};

/* Carries 1 + 2 * nr_qpairs fds: region memfd, then kick[i], notify[i]. */
struct xio_msg_attach_reply {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t tenant_id;
	uint64_t region_size;
	uint32_t nr_qpairs;
	uint32_t nr_fds;
};

/* Counters are per tenant, summed over its queue pairs. */
struct xio_wire_tenant {
	uint32_t id;
	uint32_t nr_qpairs;
	char name[XIO_NAME_MAX];
	int32_t pid; /* of the attaching process (SO_PEERCRED) */
	uint32_t uid;
	uint32_t poller;
	uint32_t nr_targets;
	uint32_t state; /* 0 running, 1 detaching */
	uint32_t broken;
	uint64_t taken;
	uint64_t completed;
	uint64_t invalid;
	uint64_t inflight;
	uint64_t kicks;	   /* doorbells received */
	uint64_t wakeups;  /* poller sleeps this tenant's kick ended */
	uint64_t notifies; /* guest notifications sent */
	uint64_t
		poller_sleeps; /* sleeps of the tenant's poller (all tenants) */
	uint64_t region_size;
	uint64_t max_visit_entries; /* per-visit budget check (E2) */
	uint64_t max_visit_bytes;
	uint64_t parks;
	uint64_t attach_flags; /* XIO_ATTACH_F_* it was created with */
	uint64_t resv[4];      /* room for accounting (issue 5); zero */
};

#define XIO_LIST_CHUNK 16

struct xio_msg_tenant_list_reply {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t total;
	uint32_t count;
	uint32_t resv;
	struct xio_wire_tenant t[XIO_LIST_CHUNK];
};

struct xio_msg_target_add_reply {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t index;
};

struct xio_wire_target {
	uint32_t index;
	uint32_t flags; /* XIO_TARGET_* */
	uint64_t size;
	char path[XIO_TARGET_PATH_SHOWN];
};

struct xio_msg_target_list_reply {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t total;
	uint32_t count;
	uint32_t resv;
	struct xio_wire_target t[XIO_LIST_CHUNK];
};

#define XIO_STATS_CHUNK 8

/* Entries are struct xio_tenant_stats / xio_poller_stats (xio/admin.h). */
struct xio_msg_stats_reply {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t total;
	uint32_t count;
	uint32_t resv;
	struct xio_tenant_stats t[XIO_STATS_CHUNK];
};

struct xio_msg_poller_stats_reply {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t total;
	uint32_t count;
	uint32_t resv;
	struct xio_poller_stats p[XIO_LIST_CHUNK];
};

#define XIO_STEER_CHUNK 16

/* Every STEER operation is answered with this (SHOW fills it). */
struct xio_msg_steer_reply {
	struct xio_msg_hdr hdr;
	int32_t status;
	uint32_t total; /* rules */
	uint32_t count; /* rules in r[] */
	uint32_t nr_ifaces;
	struct xio_admin_steer_iface ifaces[XIO_ADMIN_STEER_IFACES_MAX];
	struct xio_admin_steer_rule r[XIO_STEER_CHUNK];
};

/* Size of the request or reply struct of @type; 0 for an unknown type. */
static inline size_t xio_msg_size(uint32_t type)
{
	switch (type) {
	case XIO_MSG_ATTACH:
		return sizeof(struct xio_msg_attach);
	case XIO_MSG_DETACH:
		return sizeof(struct xio_msg_detach);
	case XIO_MSG_TENANT_LIST:
		return sizeof(struct xio_msg_tenant_list);
	case XIO_MSG_TARGET_ADD:
	case XIO_MSG_TARGET_ADD_FD:
		return sizeof(struct xio_msg_target_add);
	case XIO_MSG_TARGET_LIST:
		return sizeof(struct xio_msg_target_list);
	case XIO_MSG_TENANT_DETACH:
		return sizeof(struct xio_msg_tenant_detach);
	case XIO_MSG_VM_TENANT:
		return sizeof(struct xio_msg_vm_tenant);
	case XIO_MSG_REATTACH:
		return sizeof(struct xio_msg_reattach);
	case XIO_MSG_STATS:
		return sizeof(struct xio_msg_stats);
	case XIO_MSG_STATS_RESET:
		return sizeof(struct xio_msg_stats_reset);
	case XIO_MSG_POLLER_STATS:
		return sizeof(struct xio_msg_poller_stats);
	case XIO_MSG_QUOTA:
		return sizeof(struct xio_msg_quota);
	case XIO_MSG_STEER:
		return sizeof(struct xio_msg_steer);
	case XIO_MSG_STEER | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_steer_reply);
	case XIO_MSG_STATS | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_stats_reply);
	case XIO_MSG_STATS_RESET | XIO_MSG_REPLY:
	case XIO_MSG_QUOTA | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_status);
	case XIO_MSG_POLLER_STATS | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_poller_stats_reply);
	case XIO_MSG_ATTACH | XIO_MSG_REPLY:
	case XIO_MSG_VM_TENANT | XIO_MSG_REPLY:
	case XIO_MSG_REATTACH | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_attach_reply);
	case XIO_MSG_DETACH | XIO_MSG_REPLY:
	case XIO_MSG_TENANT_DETACH | XIO_MSG_REPLY:
	case XIO_MSG_ERROR:
		return sizeof(struct xio_msg_status);
	case XIO_MSG_TENANT_LIST | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_tenant_list_reply);
	case XIO_MSG_TARGET_ADD | XIO_MSG_REPLY:
	case XIO_MSG_TARGET_ADD_FD | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_target_add_reply);
	case XIO_MSG_TARGET_LIST | XIO_MSG_REPLY:
		return sizeof(struct xio_msg_target_list_reply);
	default:
		return 0;
	}
}

/* Fds a request of @type must carry (REATTACH: see xio_msg_fds_ok()). */
static inline unsigned int xio_msg_req_fds(uint32_t type)
{
	return type == XIO_MSG_TARGET_ADD_FD ? 1 : 0;
}

/* Whether @nfds fds may come with a request of @type; REATTACH carries
 * 1 + 2 * nr_qpairs (its handler checks the exact count). */
static inline int xio_msg_fds_ok(uint32_t type, unsigned int nfds)
{
	if (type == XIO_MSG_REATTACH)
		return nfds >= 3 && nfds <= XIO_MSG_MAX_FDS && (nfds & 1);
	return nfds == xio_msg_req_fds(type);
}

/* Largest message of either direction, for receive buffers. */
#define XIO_MSG_MAX_SIZE sizeof(struct xio_msg_target_list_reply)

_Static_assert(sizeof(struct xio_msg_hdr) == 16, "proto header");
_Static_assert(sizeof(struct xio_wire_tenant) == sizeof(struct xio_tenant_info),
	       "wire tenant == xio_tenant_info");
_Static_assert(sizeof(struct xio_wire_target) == sizeof(struct xio_target_info),
	       "wire target == xio_target_info");
_Static_assert(sizeof(struct xio_msg_attach) == 16 + 64 + 32, "attach");
_Static_assert(sizeof(struct xio_wire_tenant) % 8 == 0, "tenant entry");
_Static_assert(sizeof(struct xio_msg_target_list_reply) >=
		       sizeof(struct xio_msg_tenant_list_reply),
	       "max size");
_Static_assert(sizeof(struct xio_msg_target_list_reply) >=
		       sizeof(struct xio_msg_target_add),
	       "max size");
_Static_assert(sizeof(struct xio_msg_target_list_reply) >=
		       sizeof(struct xio_msg_vm_tenant),
	       "max size");
_Static_assert(sizeof(struct xio_msg_target_list_reply) >=
			       sizeof(struct xio_msg_stats_reply) &&
		       sizeof(struct xio_msg_target_list_reply) >=
			       sizeof(struct xio_msg_poller_stats_reply),
	       "max size");

_Static_assert(sizeof(struct xio_msg_target_list_reply) >=
			       sizeof(struct xio_msg_steer_reply) &&
		       sizeof(struct xio_msg_target_list_reply) >=
			       sizeof(struct xio_msg_steer),
	       "max size");

/* Helpers shared by both ends (proto.c). */
int xio__msg_send(int fd, const void *msg, size_t len, const int *fds,
		  unsigned int nfds);
/*
 * Receive one message into @buf (at least XIO_MSG_MAX_SIZE + 1 bytes) and up
 * to @max_fds fds into @fds (all close-on-exec).  Returns the byte count
 * (0 on orderly shutdown) or -errno; *nfds is set to the fds received,
 * *flags to the msg_flags (MSG_TRUNC/MSG_CTRUNC).  The caller owns and must
 * close every received fd, whatever it decides about the message.
 */
long xio__msg_recv(int fd, void *buf, size_t buf_len, int *fds,
		   unsigned int max_fds, unsigned int *nfds, int *flags);
void xio__msg_hdr_init(struct xio_msg_hdr *h, uint32_t type, uint32_t seq);
/* Whether @s, an array of @n bytes, holds a NUL. */
int xio__str_ok(const char *s, size_t n);
/* Socket path: @path, else $XIO_SOCKET, else XIO_DEFAULT_SOCKET. */
const char *xio__sock_path(const char *path);
/* A connected SOCK_SEQPACKET socket with send/receive timeouts, or -errno. */
int xio__sock_connect(const char *path, int timeout_ms);
/*
 * One request/reply exchange.  The reply must be of type @rep_type (or
 * XIO_MSG_ERROR), echo @req's seq and be exactly xio_msg_size() long; it may
 * carry up to @max_rfds fds (into @rfds, *nrfds set; the caller closes them)
 * and none when @max_rfds is 0.  Returns the reply's status (0 or -errno,
 * the reply is in @rep) or -EPROTO / the -errno of the exchange.
 */
int xio__rpc(int fd, void *req, const int *fds, unsigned int nfds, void *rep,
	     uint32_t rep_type, int *rfds, unsigned int max_rfds,
	     unsigned int *nrfds);
/* TENANT_LIST over any connection (admin.c; used by xio_tenant_info()). */
int xio__admin_tenants_fd(int fd, uint32_t flags, struct xio_tenant_info *out,
			  uint32_t max, uint32_t *total);

#endif /* XIO_PROTO_H */
