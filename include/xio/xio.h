/* SPDX-License-Identifier: MIT */
/*
 * libxio: exitless paravirtual I/O rings in shared memory.
 *
 * Two faces over one shared region (see xio/abi.h for the layout):
 *
 *  - the guest face (struct xio_qp): get an SQE, fill it, submit a batch with
 *    one tail publish, peek/wait/mark-seen CQEs, allocate pool buffers.  The
 *    hot path is the static inlines at the end of this header.
 *  - the host face (struct xio_host_qp, xiod's side): take SQEs (each copied
 *    once and validated before use), post and publish CQEs, arm/disarm
 *    NEED_WAKEUP.
 *
 * Conventions: every function that can fail returns a negative errno (see
 * xio_strerror()); constructors return int and fill an out-pointer; destroy
 * functions accept NULL.  A region and its queue pairs are not thread-safe:
 * use one thread per queue pair side and serialise pool calls yourself.  The
 * library never prints by itself except through the xio_set_print() callback.
 */
#ifndef XIO_XIO_H
#define XIO_XIO_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xio/abi.h>
#include <xio/barrier.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XIO_VERSION_MAJOR 0
#define XIO_VERSION_MINOR 1

/* ------------------------------------------------------------------------ */
/* Errors and diagnostics                                                   */

/* A static, human-readable description of a negative (or positive) errno. */
const char *xio_strerror(int err);

enum xio_print_level {
	XIO_WARN,
	XIO_INFO,
	XIO_DEBUG,
};
typedef int (*xio_print_fn)(enum xio_print_level level, const char *fmt,
			    va_list ap);
/*
 * Route the library's diagnostics (one line each, naming the object and the
 * errno) to @fn; NULL silences them.  Returns the previous callback.  The
 * default prints XIO_WARN and XIO_INFO lines to stderr.
 */
xio_print_fn xio_set_print(xio_print_fn fn);

/* ------------------------------------------------------------------------ */
/* Geometry                                                                 */

/* The geometry a region is created with.  Zero fields take the defaults. */
struct xio_params {
	uint32_t nr_qpairs;  /* default 1 */
	uint32_t sq_entries; /* power of two; default 256 */
	uint32_t cq_entries; /* power of two >= sq_entries; default 2 * sq */
	uint32_t buf_size;   /* multiple of 64; default 4096 */
	uint32_t nr_bufs;    /* default sq_entries */
};

/* Every offset of a region, derived from its parameters by one function. */
struct xio_layout {
	uint32_t nr_qpairs;
	uint32_t sq_entries;
	uint32_t cq_entries;
	uint32_t buf_size;
	uint32_t nr_bufs;
	uint32_t __pad;
	uint64_t qp_off;
	uint64_t qp_stride;
	uint64_t sq_ctrl_off;
	uint64_t sqes_off;
	uint64_t cq_ctrl_off;
	uint64_t cqes_off;
	uint64_t pool_off;
	uint64_t pool_size;
	uint64_t min_region_size; /* page aligned */
};

/*
 * Derive the layout for @p (defaults applied to zero fields).  Returns 0, or
 * -EINVAL if a parameter is out of range (a message says which).
 */
int xio_layout_compute(const struct xio_params *p, struct xio_layout *out);

/* ------------------------------------------------------------------------ */
/* Regions                                                                  */

struct xio_region;

/* xio_region_opts.flags */
#define XIO_REGION_HUGETLB (1U << 0)	    /* try MFD_HUGETLB, fall back */
#define XIO_REGION_HUGETLB_STRICT (1U << 1) /* fail rather than fall back */
#define XIO_REGION_NUMA_BIND (1U << 2)	    /* bind to .numa_node */
/* Size the memfd to a power of two >= 1 MiB: an ivshmem BAR (docs/vm.md). */
#define XIO_REGION_POW2 (1U << 3)
#define XIO_REGION_FLAGS_MASK                                                  \
	(XIO_REGION_HUGETLB | XIO_REGION_HUGETLB_STRICT |                      \
	 XIO_REGION_NUMA_BIND | XIO_REGION_POW2)

/*
 * Creation options.  Extensible: set .sz = sizeof(struct xio_region_opts);
 * a caller built against a newer header may pass a larger struct as long as
 * the fields this library does not know are zero.
 */
struct xio_region_opts {
	size_t sz;
	struct xio_params params;
	uint32_t flags;	   /* XIO_REGION_* */
	int32_t numa_node; /* with XIO_REGION_NUMA_BIND */
	const char *name;  /* copied into the header (63 bytes max) */
};

/*
 * Create a region: a sealed memfd (F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL), mapped, optionally on huge pages and bound to a NUMA node,
 * with every page populated and the header written.  The region owns the fd
 * (xio_region_fd()) and the mapping.
 *
 * Returns 0, -EINVAL (bad options or geometry; invalid NUMA node), -ENOMEM
 * (no huge pages with XIO_REGION_HUGETLB_STRICT, or no memory), or another
 * -errno from the system calls involved.
 */
int xio_region_create(const struct xio_region_opts *opts,
		      struct xio_region **out);

/* xio_region_attach_*() flags */
#define XIO_ATTACH_REQUIRE_SEALS (1U << 0) /* fd must carry SHRINK+GROW seals */
#define XIO_ATTACH_FLAGS_MASK XIO_ATTACH_REQUIRE_SEALS

/*
 * Attach to a region created elsewhere, through its fd.  The fd is borrowed
 * (the caller still owns and closes it); the mapping never extends beyond
 * the file size given by fstat().  The header is validated and the layout
 * kept in private memory: nothing in it is read again.
 *
 * Returns 0, -EPROTO (bad magic or ABI version), -EINVAL (a size or offset
 * that disagrees with the geometry, or a file too small; a message names the
 * field), -EPERM (seals required but absent) or another -errno.
 */
int xio_region_attach_fd(int fd, unsigned int flags, struct xio_region **out);

/*
 * Attach to a region that is already mapped at @base for @len bytes (the
 * ivshmem BAR case).  The mapping is borrowed, never unmapped.  Same checks
 * and return values as xio_region_attach_fd().
 */
int xio_region_attach_mem(void *base, size_t len, unsigned int flags,
			  struct xio_region **out);

/* Unmap and close what the region owns.  Accepts NULL. */
void xio_region_destroy(struct xio_region *r);

/* The memfd of a created region (owned by it), or -1 for an attached one. */
int xio_region_fd(const struct xio_region *r);
void *xio_region_base(const struct xio_region *r);
size_t xio_region_size(const struct xio_region *r);
const struct xio_layout *xio_region_layout(const struct xio_region *r);
/* The region's tenant name from the header as attached (NUL-terminated). */
const char *xio_region_name(const struct xio_region *r);
/* Whether the region's pages are huge pages. */
bool xio_region_is_hugetlb(const struct xio_region *r);

/* ------------------------------------------------------------------------ */
/* Buffer pool (guest face).  Not thread-safe: serialise calls per region.  */

/* Take a free slot: 0 and *slot set, or -ENOBUFS when all are in use. */
int xio_buf_alloc(struct xio_region *r, uint32_t *slot);
/* Return a slot: 0, or -EINVAL if out of range or not allocated. */
int xio_buf_free(struct xio_region *r, uint32_t slot);
/* Address of slot @slot, or NULL if out of range. */
void *xio_buf_ptr(const struct xio_region *r, uint32_t slot);
/* Number of free slots. */
uint32_t xio_buf_avail(const struct xio_region *r);

/* ------------------------------------------------------------------------ */
/* Guest face: one queue pair.  Fields are private; use the functions.      */

typedef int (*xio_kick_fn)(void *ctx);

struct xio_qp {
	/* submission queue: the guest produces */
	struct xio_sqe *sqes;
	uint32_t *sq_khead;  /* host-owned */
	uint32_t *sq_ktail;  /* ours */
	uint32_t *sq_kflags; /* host-owned */
	uint32_t sq_mask;
	uint32_t sq_entries;
	uint32_t sqe_tail;	/* next SQE handed out by xio_get_sqe() */
	uint32_t sq_published;	/* last tail stored to *sq_ktail */
	uint32_t sq_head_cache; /* last host head we loaded */

	/* completion queue: the guest consumes */
	struct xio_cqe *cqes;
	uint32_t *cq_ktail;	 /* host-owned */
	uint32_t *cq_khead;	 /* ours */
	uint32_t *cq_kflags;	 /* ours */
	uint32_t *cq_kevent_idx; /* ours */
	uint32_t cq_mask;
	uint32_t cq_head;	/* next CQE to reap (== *cq_khead once seen) */
	uint32_t cq_tail_cache; /* last host tail we loaded */

	/* doorbell */
	int kick_fd;
	int notify_fd;
	xio_kick_fn kick_fn;
	void *kick_ctx;
	uint64_t kicks;

	struct xio_region *region;
	uint32_t index;
};

/* Guest view of queue pair @idx, or NULL if @idx is out of range. */
struct xio_qp *xio_region_qp(struct xio_region *r, uint32_t idx);

/*
 * The doorbell used when the host asks for a wake-up: an eventfd (written
 * with 1) or, when a function is set, that function (e.g. an ivshmem
 * doorbell register write).  -1 / NULL: no doorbell (the caller polls
 * xio_qp_needs_kick() itself).
 */
void xio_qp_set_kick_fd(struct xio_qp *qp, int fd);
void xio_qp_set_kick_fn(struct xio_qp *qp, xio_kick_fn fn, void *ctx);
/* The eventfd the host signals for completions (see xio_wait_cqe()). */
void xio_qp_set_notify_fd(struct xio_qp *qp, int fd);

/* Ring the doorbell now, unconditionally.  0 or -errno. */
int xio_qp_kick(struct xio_qp *qp);
/* Doorbells rung so far by this queue pair (submits that found NEED_WAKEUP). */
uint64_t xio_qp_kicks(const struct xio_qp *qp);

/* Slow path of xio_submit(): kick if the host sleeps; -EPIPE if broken. */
int xio__submit_slow(struct xio_qp *qp, uint32_t flags, uint32_t n);

/*
 * Wait for a CQE up to @timeout_ms (-1 = forever): spin briefly, then sleep
 * on the notify eventfd with event-idx armed (or yield, without one).
 * 0 and *cqe set, -ETIMEDOUT, -EPIPE (host quarantined the ring) or -errno.
 */
int xio_wait_cqe(struct xio_qp *qp, struct xio_cqe **cqe, int timeout_ms);

/* ---- hot path -------------------------------------------------------- */

/*
 * Next free SQE, or NULL when the SQ is full.  The entry is NOT cleared:
 * fill every field (the xio_prep_*() helpers do).  Invisible to the host
 * until xio_submit().
 */
static inline struct xio_sqe *xio_get_sqe(struct xio_qp *qp)
{
	uint32_t tail = qp->sqe_tail;

	if (tail - qp->sq_head_cache >= qp->sq_entries) {
		/*
		 * Looks full: refresh the host's head.  Acquire pairs with the
		 * host's store-release of the head (H1 in libxio/host.c), so
		 * the host has finished copying out every entry below it
		 * before we overwrite its slot.
		 */
		qp->sq_head_cache = xio_load_acquire(qp->sq_khead);
		if (tail - qp->sq_head_cache >= qp->sq_entries)
			return NULL;
	}
	qp->sqe_tail = tail + 1;
	return &qp->sqes[tail & qp->sq_mask];
}

/* Entries obtained with xio_get_sqe() and not yet submitted. */
static inline uint32_t xio_sq_ready(const struct xio_qp *qp)
{
	return qp->sqe_tail - qp->sq_published;
}

/*
 * Publish every SQE obtained since the last submit with one tail store.
 * Returns the number published (>= 0), or -EPIPE if the host quarantined the
 * ring, or the -errno of a failed doorbell (the entries are published anyway;
 * retry with xio_qp_kick()).
 */
static inline int xio_submit(struct xio_qp *qp)
{
	uint32_t tail = qp->sqe_tail;
	uint32_t n = tail - qp->sq_published;
	uint32_t flags;

	if (n) {
		/*
		 * G1: release publishes the SQE contents written before it;
		 * pairs with the host's acquire load of the tail (H2).
		 */
		xio_store_release(qp->sq_ktail, tail);
		qp->sq_published = tail;
	}
	/*
	 * G2: full fence between the tail store above and the flags load
	 * below.  The host, before sleeping, stores NEED_WAKEUP, fences (H3)
	 * and loads the tail.  With both fences at least one side sees the
	 * other's store: either we see NEED_WAKEUP and kick, or the host sees
	 * our tail and does not sleep.  Without it the load may be satisfied
	 * before the store drains from the store buffer: a lost wake-up
	 * (liburing #541).
	 */
	xio_smp_mb();
	flags = XIO_READ_ONCE(*qp->sq_kflags);
	if (__builtin_expect(flags != 0, 0))
		return xio__submit_slow(qp, flags, n);
	return (int)n;
}

/* Whether the host currently asks for a doorbell. */
static inline bool xio_qp_needs_kick(const struct xio_qp *qp)
{
	return XIO_READ_ONCE(*qp->sq_kflags) & XIO_SQ_NEED_WAKEUP;
}

/* Completions available without looking at the host's tail again. */
static inline uint32_t xio_cq_ready(struct xio_qp *qp)
{
	/* A1: acquire pairs with the host's release of the CQ tail (H4). */
	qp->cq_tail_cache = xio_load_acquire(qp->cq_ktail);
	return qp->cq_tail_cache - qp->cq_head;
}

/* The oldest unseen CQE: 0 and *cqe set, or -EAGAIN when the CQ is empty. */
static inline int xio_peek_cqe(struct xio_qp *qp, struct xio_cqe **cqe)
{
	if (qp->cq_head == qp->cq_tail_cache && xio_cq_ready(qp) == 0)
		return -EAGAIN;
	*cqe = &qp->cqes[qp->cq_head & qp->cq_mask];
	return 0;
}

/* Up to @max unseen CQEs into @cqes (pointers into the ring); returns n. */
static inline uint32_t xio_peek_batch_cqe(struct xio_qp *qp,
					  struct xio_cqe **cqes, uint32_t max)
{
	uint32_t ready = qp->cq_tail_cache - qp->cq_head;
	uint32_t i;

	if (ready < max)
		ready = xio_cq_ready(qp);
	if (ready > max)
		ready = max;
	for (i = 0; i < ready; i++)
		cqes[i] = &qp->cqes[(qp->cq_head + i) & qp->cq_mask];
	return ready;
}

/* Mark @n peeked CQEs as consumed; their slots go back to the host. */
static inline void xio_cq_advance(struct xio_qp *qp, uint32_t n)
{
	qp->cq_head += n;
	/*
	 * A2: release orders our reads of the CQEs before the head store;
	 * pairs with the host's acquire load of the CQ head (H5), so the host
	 * never overwrites an entry we are still reading.
	 */
	xio_store_release(qp->cq_khead, qp->cq_head);
}

/* Mark the CQE returned by xio_peek_cqe() as consumed. */
static inline void xio_cqe_seen(struct xio_qp *qp, struct xio_cqe *cqe)
{
	(void)cqe;
	xio_cq_advance(qp, 1);
}

/* ---- SQE preparation ------------------------------------------------- */

static inline void xio_prep_rw(struct xio_sqe *sqe, uint8_t op, uint32_t target,
			       uint32_t buf_index, uint32_t buf_off,
			       uint32_t len, uint64_t off, uint64_t user_data)
{
	sqe->opcode = op;
	sqe->flags = 0;
	sqe->ioprio = 0;
	sqe->target = target;
	sqe->off = off;
	sqe->buf_index = buf_index;
	sqe->buf_off = buf_off;
	sqe->len = len;
	sqe->op_flags = 0;
	sqe->user_data = user_data;
	sqe->resv[0] = 0;
	sqe->resv[1] = 0;
	sqe->resv[2] = 0;
}

static inline void xio_prep_nop(struct xio_sqe *sqe, uint64_t user_data)
{
	xio_prep_rw(sqe, XIO_OP_NOP, 0, 0, 0, 0, 0, user_data);
}

static inline void xio_prep_read(struct xio_sqe *sqe, uint32_t target,
				 uint32_t buf_index, uint32_t buf_off,
				 uint32_t len, uint64_t off, uint64_t user_data)
{
	xio_prep_rw(sqe, XIO_OP_READ, target, buf_index, buf_off, len, off,
		    user_data);
}

static inline void xio_prep_write(struct xio_sqe *sqe, uint32_t target,
				  uint32_t buf_index, uint32_t buf_off,
				  uint32_t len, uint64_t off,
				  uint64_t user_data)
{
	xio_prep_rw(sqe, XIO_OP_WRITE, target, buf_index, buf_off, len, off,
		    user_data);
}

static inline void xio_prep_fsync(struct xio_sqe *sqe, uint32_t target,
				  uint64_t user_data)
{
	xio_prep_rw(sqe, XIO_OP_FSYNC, target, 0, 0, 0, 0, user_data);
}

/* Post [buf_off, buf_off + len) of slot @buf_index for one steered frame. */
static inline void xio_prep_pkt_recv(struct xio_sqe *sqe, uint32_t buf_index,
				     uint32_t buf_off, uint32_t len,
				     uint64_t user_data)
{
	xio_prep_rw(sqe, XIO_OP_PKT_RECV, 0, buf_index, buf_off, len, 0,
		    user_data);
}

/* Send the frame in [buf_off, buf_off + len) out of steering port @port. */
static inline void xio_prep_pkt_send(struct xio_sqe *sqe, uint32_t port,
				     uint32_t buf_index, uint32_t buf_off,
				     uint32_t len, uint64_t user_data)
{
	xio_prep_rw(sqe, XIO_OP_PKT_SEND, port, buf_index, buf_off, len, 0,
		    user_data);
}

/* ------------------------------------------------------------------------ */
/* Host face (xiod): consume SQEs, post CQEs.                               */

struct xio_host_qp;

/* Host view of queue pair @idx, or NULL if @idx is out of range. */
struct xio_host_qp *xio_region_host_qp(struct xio_region *r, uint32_t idx);

/*
 * Validate one SQE already copied into host memory against the layout the
 * host validated at attach.  0, or -EINVAL (unknown opcode, non-zero
 * reserved field or flag, buffer slot out of range, buf_off + len beyond the
 * slot, file offset + len beyond INT64_MAX).
 */
int xio_sqe_validate(const struct xio_layout *l, const struct xio_sqe *sqe);

/*
 * Take up to @max SQEs.  Each is copied once into @out and validated before
 * anything else looks at it; an invalid one is answered at once with a CQE
 * (res -EINVAL, flags XIO_CQE_F_INVALID), counted, and not returned.  Only
 * as many entries are taken as there are CQ slots left to answer them: every
 * returned SQE holds a reserved CQ slot until xio_host_cq_post() (so a CQ
 * the guest never drains stops the consumption, never loses a completion).
 *
 * Returns the number of valid SQEs in @out (0 when the SQ is empty or the CQ
 * is full), or -EPROTO when the guest broke the index protocol (tail - head >
 * ring size, CQ head beyond the tail): the ring is then quarantined, flagged
 * XIO_SQ_BROKEN, and every later call returns -EPROTO.  With @max 0 (@out
 * may be NULL) it only checks the published tail: 0 or -EPROTO, no store to
 * the shared region unless it quarantines.
 */
int xio_host_sq_take(struct xio_host_qp *hq, struct xio_sqe *out, uint32_t max);

/*
 * xio_host_sq_take() for a host that records what it takes before the guest
 * may reuse the slots (xiod's in-flight log, docs/daemon.md): the new SQ
 * head stays private until xio_host_sq_publish(), and refused entries are
 * returned too, status[i] = -EINVAL (0 for a valid one), counted like the
 * take counts them but NOT answered: each returned entry, valid or not,
 * holds a reserved CQ slot, and the caller answers a refused one with
 * xio_host_cq_post(hq, user_data, -EINVAL, XIO_CQE_F_INVALID).  *first
 * (if not NULL) is the free-running SQ index of out[0].  Returns the number
 * of entries in @out, or -EPROTO as xio_host_sq_take().  Call
 * xio_host_sq_publish() before the next take and before sleeping.
 */
int xio_host_sq_take_held(struct xio_host_qp *hq, struct xio_sqe *out,
			  int32_t *status, uint32_t max, uint32_t *first);
/* Publish the SQ head moved by held takes (store-release after the copies
 * and after anything the caller stored before this call). */
void xio_host_sq_publish(struct xio_host_qp *hq);

/*
 * Reserve @n CQ slots without taking SQEs (for requests re-adopted from an
 * in-flight log after a restart).  0, -ENOSPC if fewer are free, -EPROTO if
 * the queue pair is quarantined (or the guest's CQ head is out of range).
 */
int xio_host_cq_reserve(struct xio_host_qp *hq, uint32_t n);

/*
 * The host's private indices: the next SQ entry it will take and the CQ
 * index its next xio_host_cq_post() writes (both free-running).  Right after
 * xio_region_host_qp() they are the ones adopted from the shared ring.
 */
void xio_host_qp_indices(const struct xio_host_qp *hq, uint32_t *sq_head,
			 uint32_t *cq_tail);

/*
 * Write one CQE into a slot reserved by xio_host_sq_take(); invisible to the
 * guest until xio_host_cq_publish().  0, or -ENOSPC if no slot is reserved.
 */
int xio_host_cq_post(struct xio_host_qp *hq, uint64_t user_data, int32_t res,
		     uint32_t flags);

/*
 * Publish the posted CQEs with one tail store.  Returns 1 when the guest
 * asked to be notified and the new entries pass its event index (signal its
 * notify eventfd), 0 otherwise.
 */
int xio_host_cq_publish(struct xio_host_qp *hq);

/*
 * Before sleeping: set NEED_WAKEUP and re-check the tail.  Returns true if
 * entries are pending (do not sleep; the flag stays set until
 * xio_host_sq_clear_wakeup()), false if it is safe to sleep until a kick.
 */
bool xio_host_sq_arm_wakeup(struct xio_host_qp *hq);
void xio_host_sq_clear_wakeup(struct xio_host_qp *hq);

/* Entries the guest has published and the host not yet taken (unvalidated:
 * a value above the ring size means the ring is broken). */
uint32_t xio_host_sq_pending(struct xio_host_qp *hq);

/* CQ slots reserved by taken SQEs and not yet posted (in-flight requests). */
uint32_t xio_host_inflight(const struct xio_host_qp *hq);

/*
 * Pointer to @len bytes at @buf_off in pool slot @slot, or NULL if any part
 * falls outside the slot (overflow-safe).
 */
void *xio_host_buf(const struct xio_region *r, uint32_t slot, uint32_t buf_off,
		   uint32_t len);

struct xio_host_qp_stats {
	uint64_t taken;	    /* valid SQEs returned */
	uint64_t invalid;   /* SQEs refused by validation */
	uint64_t posted;    /* CQEs posted (including invalid answers) */
	uint64_t published; /* tail publishes */
	uint64_t notifies;  /* publishes that asked for a guest signal */
	uint64_t cq_full;   /* takes cut short by a full CQ (backpressure) */
	uint32_t broken;    /* 1 once quarantined */
	uint32_t __pad;
};
void xio_host_qp_get_stats(const struct xio_host_qp *hq,
			   struct xio_host_qp_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* XIO_XIO_H */
