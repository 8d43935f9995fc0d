/* SPDX-License-Identifier: MIT */
/*
 * xio host administration: talk to a running xiod over its control socket
 * (tenants, targets).  Used by xioctl; later by the libvirt hook.
 *
 * Privilege: xiod decides from the peer credentials of the connection
 * (SO_PEERCRED): uid 0 or the uid xiod runs as is an administrator.  Any
 * other peer is a guest: it may attach one tenant and read that tenant's own
 * information, nothing else (-EPERM).  See xiod(8) and docs/daemon.md.
 *
 * Tenants are named by their name or, written in decimal, their id.
 * Conventions as in xio.h: negative errno on failure; close accepts NULL.
 */
#ifndef XIO_ADMIN_H
#define XIO_ADMIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XIO_TENANT_NAME_MAX 64 /* with the NUL */

/* Target flags. */
#define XIO_TARGET_RDONLY (1U << 0) /* writes are answered -EROFS */
#define XIO_TARGET_DIRECT (1U << 1) /* open with O_DIRECT (paths only) */
#define XIO_TARGET_SOCKET (1U << 2) /* reported: a socket target */

struct xio_admin;

/* Connect to xiod at @sock_path (NULL: $XIO_SOCKET, else /run/xio/xiod.sock). */
int xio_admin_open(const char *sock_path, struct xio_admin **out);
void xio_admin_close(struct xio_admin *a);

struct xio_tenant_info {
	uint32_t id;
	uint32_t nr_qpairs;
	char name[XIO_TENANT_NAME_MAX];
	int32_t pid; /* process that attached it */
	uint32_t uid;
	uint32_t poller; /* index of the poller serving it */
	uint32_t nr_targets;
	uint32_t state;		/* 0 running, 1 detaching */
	uint32_t broken;	/* a queue pair was quarantined */
	uint64_t taken;		/* SQEs accepted */
	uint64_t completed;	/* CQEs posted (including refusals) */
	uint64_t invalid;	/* SQEs refused by validation */
	uint64_t inflight;	/* operations in io_uring now */
	uint64_t kicks;		/* doorbells received */
	uint64_t wakeups;	/* poller sleeps ended by this tenant's kick */
	uint64_t notifies;	/* completion notifications sent */
	uint64_t poller_sleeps; /* sleeps of its poller (all tenants) */
	uint64_t region_size;
	uint64_t max_visit_entries; /* most SQEs taken in one visit */
	uint64_t max_visit_bytes;   /* most I/O bytes started in one visit */
	uint64_t parks; /* times it was parked (idle: served on kicks only) */
	uint64_t attach_flags; /* XIO_CLIENT_PERSIST, XIO_CLIENT_NO_DOORBELL,
				  XIO_TENANT_F_VM */
	uint64_t resv[4];
};

/* xio_tenant_info.attach_flags: a file-backed VM tenant (reported only). */
#define XIO_TENANT_F_VM (1ULL << 16)

/*
 * Fill up to @max entries of @out with the tenants (all of them for an
 * administrator, the caller's own for a guest connection); *total (may be
 * NULL) gets how many exist.  Returns the number filled or -errno.
 */
int xio_admin_tenants(struct xio_admin *a, struct xio_tenant_info *out,
		      uint32_t max, uint32_t *total);

/*
 * Attach host file @path (absolute; a regular file or a block device) to
 * @tenant as a target; xiod opens it (read-only with XIO_TARGET_RDONLY,
 * O_DIRECT with XIO_TARGET_DIRECT).  Returns the target index the guest
 * puts in xio_sqe.target (>= 0), or -EPERM (not an administrator), -ENOENT
 * (no such tenant), -ENOSPC (target table full), -EINVAL, or the -errno of
 * open().
 */
int xio_admin_target_add(struct xio_admin *a, const char *tenant,
			 const char *path, uint32_t flags);

/*
 * Same with an open fd instead of a path (passed with SCM_RIGHTS; the caller
 * keeps its own copy): a regular file or block device (read-only when opened
 * O_RDONLY or with XIO_TARGET_RDONLY) or a connected stream/seqpacket/dgram
 * socket for SEND/RECV.  @label is shown in listings (may be NULL).
 */
int xio_admin_target_add_fd(struct xio_admin *a, const char *tenant, int fd,
			    uint32_t flags, const char *label);

struct xio_target_info {
	uint32_t index;
	uint32_t flags; /* XIO_TARGET_* */
	uint64_t size;	/* bytes at attach time (files) */
	char path[256]; /* truncated */
};

/*
 * Tear @tenant down as if its process had died: its connection is closed,
 * its in-flight I/O cancelled; returns once xiod has freed it.  0, or
 * -EPERM, -ENOENT (no such tenant, or already detaching), -EBUSY (this
 * handle already waits for a detach).
 */
int xio_admin_tenant_detach(struct xio_admin *a, const char *tenant);

/*
 * A file-backed tenant for a VM (ivshmem-plain): xiod creates @path (an
 * absolute path, normally /dev/shm/NAME; never an existing file) of exactly
 * @o->size bytes (a power of two >= 1 MiB that holds the geometry), with
 * @o->mode (0: 0600), owned by @o->uid/@o->gid (QEMU's user), its memory
 * bound to @o->numa_node (-1: none), and serves it by polling: persistent,
 * no doorbell.  xio_admin_tenant_detach() removes it and unlinks the file.
 * A tenant whose file is shrunk (SIGBUS) or replaced is quarantined and
 * removed by xiod.  Returns the tenant id (> 0) or -errno: -EPERM,
 * -EEXIST (name or file), -EINVAL (geometry does not fit @size, bad path).
 *
 * With XIO_VM_TENANT_DOORBELL (ivshmem-doorbell, docs/vm.md), @path is
 * instead the UNIX socket xiod listens on as the tenant's ivshmem server
 * (QEMU: -chardev socket,path=@path,id=X -device
 * ivshmem-doorbell,chardev=X,vectors=nr_qpairs; libvirt: <server path=>);
 * the region is a sealed memfd of @size bytes that xiod hands to QEMU
 * over that socket (with xiod --state-dir: the file <state dir>/NAME.region,
 * which survives an xiod restart; docs/vm.md), and the guest's doorbell
 * writes are the tenant's kicks: it parks and lets the poller sleep like a
 * local tenant.  @mode, @uid and @gid apply to the socket (mode 0: 0600).
 * The socket is removed with the tenant; -EEXIST if @path exists.
 */
#define XIO_VM_TENANT_DOORBELL (1U << 0)
struct xio_vm_tenant_opts {
	const char *name;
	const char *path;
	uint64_t size;
	uint32_t nr_qpairs, sq_entries, cq_entries, buf_size, nr_bufs;
	int32_t numa_node;
	uint32_t uid, gid, mode;
	uint32_t flags; /* XIO_VM_TENANT_* */
};
int xio_admin_vm_tenant(struct xio_admin *a,
			const struct xio_vm_tenant_opts *o);
/*
 * The default geometry for a VM region of exactly @size bytes (what the
 * libvirt hook and `xioctl vm add` use): one queue pair of 256 entries,
 * 4 KiB buffers, as many as fit.  Fills @o's geometry fields only.
 */
void xio_vm_tenant_geometry(uint64_t size, struct xio_vm_tenant_opts *o);

/*
 * Re-adopt the region file of a VM tenant that xiod lost (xiod restarted
 * while QEMU kept the file mapped): xiod opens the existing regular file
 * @o->path (no symlink, not world-accessible, exactly @o->size bytes),
 * validates its header like guest input and serves it as
 * xio_admin_vm_tenant() would, resuming from the ring indices in it.
 * @o->name, ->path, ->size and ->numa_node are used; the geometry comes
 * from the header, owner and mode stay as they are.  Returns the tenant id
 * or -errno: -EPERM, -EEXIST (name taken), -ENOENT (no file), -EINVAL (not
 * a regular file, size mismatch, world-accessible), -EPROTO (no xio header).
 */
int xio_admin_vm_tenant_adopt(struct xio_admin *a,
			      const struct xio_vm_tenant_opts *o);

/* Like xio_admin_tenants() for the targets of @tenant. */
int xio_admin_target_list(struct xio_admin *a, const char *tenant,
			  struct xio_target_info *out, uint32_t max,
			  uint32_t *total);

/* ---- accounting (docs/accounting.md) ----------------------------------- */

/*
 * Extensible: the caller sets .sz = sizeof(struct xio_tenant_stats) in the
 * first element of the array it passes; that is also the array's stride.
 * The library fills min(.sz, its own size) bytes of each entry and sets
 * .sz of each to the bytes filled and .version to XIO_STATS_VERSION; fields
 * are only ever added at the end.
 */
#define XIO_STATS_VERSION 1
#define XIO_STATS_F_CONSUME (1U << 0) /* drop the final records returned */

/* xio_tenant_stats.state */
#define XIO_TSTATE_RUNNING 0
#define XIO_TSTATE_DETACHING 1
#define XIO_TSTATE_DETACHED 2 /* final record of a tenant that is gone */

struct xio_tenant_stats {
	uint32_t sz;
	uint32_t version;
	uint32_t id;
	uint32_t poller;
	char name[XIO_TENANT_NAME_MAX];
	uint32_t state; /* XIO_TSTATE_* */
	uint32_t resv0;
	uint64_t taken;	    /* SQEs accepted */
	uint64_t completed; /* CQEs posted (refusals included) */
	uint64_t errors;    /* CQEs with a negative result, invalid excluded */
	uint64_t invalid;   /* SQEs refused by validation */
	uint64_t bytes_read, bytes_written, bytes_sent, bytes_received;
	uint64_t kicks;	       /* doorbells received */
	uint64_t notifies;     /* completion notifications sent */
	uint64_t wakeups;      /* poller sleeps this tenant's kick ended */
	uint64_t inflight;     /* operations in io_uring now */
	uint64_t inflight_max; /* high-water mark of inflight */
	uint64_t cpu_ns;     /* poller time attributed (visits, completions) */
	uint64_t throttled;  /* visits cut short by a quota */
	uint64_t weight;     /* quota: share of poller time, 1..10000 */
	uint64_t ops_rate;   /* quota: SQEs/s, 0 none */
	uint64_t bytes_rate; /* quota: bytes/s, 0 none */
	uint64_t inflight_cap;	 /* quota: operations in io_uring at once */
	uint64_t elapsed_ns;	 /* since attach or last reset (to detach) */
	uint64_t inflight_slots; /* upper bound of inflight_cap */
	uint64_t resv[4];
	/* eBPF steering of received frames (docs/steering.md), summed over
	 * CPUs; 0 while xiod has no steering program loaded. */
	uint64_t steer_packets; /* frames classified to the tenant */
	uint64_t steer_bytes;	/* their bytes */
	uint64_t
		steer_drops; /* dropped: no RX buffer posted, or no CPU queue */
	uint64_t steer_passed;	   /* to the kernel stack: not placed */
	uint64_t steer_wrong_node; /* processed off the tenant's node: 0 */
	/* Packet I/O (XIO_OP_PKT_RECV / PKT_SEND, docs/steering.md). */
	uint64_t pkt_received; /* frames delivered into posted RX buffers */
	uint64_t pkt_sent;     /* frames sent out of a steering port */
	/* XIO_OP_PKT_SEND refused (-EPERM): source MAC not steered to it */
	uint64_t pkt_tx_refused;
};

struct xio_poller_stats {
	uint32_t sz;
	uint32_t version;
	uint32_t idx;
	int32_t cpu; /* pinned CPU or -1 */
	uint32_t nr_tenants;
	uint32_t resv0;
	uint64_t attributed_ns; /* charged to tenants */
	uint64_t idle_ns;	/* spinning or visiting empty rings */
	uint64_t overhead_ns;	/* the rest of busy loops (submit, inbox) */
	uint64_t thread_cpu_ns; /* CLOCK_THREAD_CPUTIME_ID of the thread */
	uint64_t sleeps;
	uint64_t sleep_ns; /* wall time asleep (not CPU time) */
	/* of sleeps: bounded (1 ms): a tenant could not wake the poller */
	uint64_t timed_sleeps;
	uint64_t resv[5];
};

/*
 * Counters of @tenant (NULL or "": every tenant, then the final records of
 * detached ones) into @out (stride out->sz, see above), at most @max;
 * *total (may be NULL) gets how many exist.  A guest connection sees its
 * own tenant only.  With XIO_STATS_F_CONSUME the final records returned are
 * dropped by xiod.  Returns the number filled or -errno (-ENOENT: no such
 * tenant or final record).
 */
int xio_admin_stats(struct xio_admin *a, const char *tenant, uint32_t flags,
		    struct xio_tenant_stats *out, uint32_t max,
		    uint32_t *total);

/*
 * Admin: restart the counters of @tenant (NULL or "": all) from zero (the
 * live gauges inflight/inflight_max excepted) and drop its final records.
 */
int xio_admin_stats_reset(struct xio_admin *a, const char *tenant);

/*
 * Quotas, enforced by the poller (docs/accounting.md).  Set .sz =
 * sizeof(struct xio_quota) and in .flags the fields to change; the others
 * keep their value.  Current values: xio_admin_stats().
 */
#define XIO_QUOTA_WEIGHT (1U << 0)
#define XIO_QUOTA_OPS_RATE (1U << 1)
#define XIO_QUOTA_BYTES_RATE (1U << 2)
#define XIO_QUOTA_INFLIGHT (1U << 3)
#define XIO_QUOTA_MASK 0xfU

#define XIO_QUOTA_WEIGHT_DEFAULT 100
#define XIO_QUOTA_WEIGHT_MAX 10000
#define XIO_QUOTA_OPS_RATE_MAX 1000000000ULL  /* 1e9 SQEs/s */
#define XIO_QUOTA_BYTES_RATE_MAX (1ULL << 40) /* 1 TiB/s */

struct xio_quota {
	uint32_t sz;
	uint32_t flags;	       /* XIO_QUOTA_*: the fields to set */
	uint64_t weight;       /* 1..XIO_QUOTA_WEIGHT_MAX; 100 = default */
	uint64_t ops_rate;     /* SQEs per second; 0: unlimited */
	uint64_t bytes_rate;   /* I/O bytes per second; 0: unlimited */
	uint64_t inflight_cap; /* 1..inflight_slots */
};

/*
 * Admin: set @tenant's quota.  0, or -EPERM, -ENOENT, -EINVAL (unknown
 * flag, .sz too small), -ERANGE (a value out of its range).
 */
int xio_admin_quota_set(struct xio_admin *a, const char *tenant,
			const struct xio_quota *q);

/* Admin: the pollers' time split; same conventions as xio_admin_stats(). */
int xio_admin_poller_stats(struct xio_admin *a, struct xio_poller_stats *out,
			   uint32_t max, uint32_t *total);

/* ---- steering (docs/steering.md) --------------------------------------- */

/*
 * xiod owns one eBPF steering program (loaded at the first request) and
 * places each tenant's frames on its NUMA node.  All admin only; -EPERM
 * otherwise.  Tenant ids above 1023 cannot be steered (-ERANGE).
 */
#define XIO_STEER_IFNAME_MAX 16		  /* IFNAMSIZ, with its NUL */
#define XIO_ADMIN_STEER_GENERIC (1U << 0) /* skb XDP instead of native */
/* No AF_XDP sockets on the interface: every steered frame takes the CPU hop
 * and is read by the node's poller with a packet socket. */
#define XIO_ADMIN_STEER_NO_XSK (1U << 1)
#define XIO_ADMIN_STEER_FLAGS (XIO_ADMIN_STEER_GENERIC | XIO_ADMIN_STEER_NO_XSK)
#define XIO_ADMIN_STEER_IFACES_MAX 8

/* Attach the classifier to @ifname (refused with -EBUSY when an XDP program
 * is there already).  xiod detaches it when it exits. */
int xio_admin_steer_attach(struct xio_admin *a, const char *ifname,
			   uint32_t flags);
/* Detach from @ifname, leaving it as it was.  0, -ENOENT. */
int xio_admin_steer_detach(struct xio_admin *a, const char *ifname);
/*
 * Steer frames to destination MAC @mac (may be NULL) and/or destination
 * address @addr (family AF_INET / AF_INET6, network byte order; NULL: none)
 * to @tenant.  At least one of them.  An IP rule makes xiod look up the MAC
 * first, then the IP.
 */
int xio_admin_steer_add(struct xio_admin *a, const char *tenant,
			const uint8_t *mac, int family, const void *addr);
/* Remove the given rules of @tenant; with neither @mac nor @addr, all of
 * them.  0, -ENOENT (no such rule or tenant). */
int xio_admin_steer_del(struct xio_admin *a, const char *tenant,
			const uint8_t *mac, int family, const void *addr);

struct xio_admin_steer_iface {
	char name[XIO_STEER_IFNAME_MAX];
	uint32_t flags; /* XIO_ADMIN_STEER_GENERIC, _NO_XSK */
	uint32_t port;	/* XIO_OP_PKT_SEND target sending out of it */
};

struct xio_admin_steer_rule {
	uint32_t tenant;
	int32_t family;	  /* AF_PACKET: MAC in addr[0..5]; AF_INET; AF_INET6 */
	uint8_t addr[16]; /* network byte order */
	int32_t node;	  /* the tenant's NUMA node, -1 none */
	int32_t cpu;	  /* the node's target CPU, -1 none */
};

/*
 * The interfaces attached (at most XIO_ADMIN_STEER_IFACES_MAX, into
 * @ifs and @nr_ifs, each may be NULL) and the rules (at most @max into @out).
 * Returns the number of rules filled or -errno; *total (may be NULL) gets
 * how many exist.
 */
int xio_admin_steer_show(struct xio_admin *a, struct xio_admin_steer_iface *ifs,
			 uint32_t *nr_ifs, struct xio_admin_steer_rule *out,
			 uint32_t max, uint32_t *total);

#ifdef __cplusplus
}
#endif
#endif /* XIO_ADMIN_H */
