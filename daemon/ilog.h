/* SPDX-License-Identifier: MIT */
/*
 * The per-tenant in-flight log (docs/daemon.md, "Restart"): what xiod must
 * know to finish a tenant's requests exactly once after it was killed.
 *
 * One host-private file per tenant, `<state dir>/<name>.ilog`, mapped
 * MAP_SHARED: a store into it is in the page cache the moment it retires,
 * so it survives the process (SIGKILL included; not a host crash).  Without
 * a state directory the same layout lives in anonymous memory: one code
 * path, and the cost measured is the cost paid.
 *
 *   +---------------------------+ 0
 *   | struct ilog_hdr           | one page: identity, geometry, quota,
 *   |                           | target count, checksum of the static part
 *   +---------------------------+ ILOG_TARGETS_OFF
 *   | struct ilog_target [64]   | what reopens each target (static part)
 *   +---------------------------+ recs_off (page aligned)
 *   | struct ilog_rec           | nr_qpairs * cq_entries records: every
 *   |   [qp][cq_entries]        | request taken and not yet visibly
 *   +---------------------------+ completed holds one
 *
 * A record's life (poller.c, which owns the records of its tenants):
 *
 *   FREE -> TAKEN      before the SQ head that consumes the SQE is published
 *                      (L1: the state is store-released after the fields,
 *                      the head store-released after the state);
 *   TAKEN -> ISSUED    SEND, RECV, PKT_SEND only: before the request can
 *                      reach io_uring (the submit that follows is a call);
 *   TAKEN|ISSUED -> POSTING  before the CQE is written: its result and the CQ
 *                      index it is written at (L2: store-release of the
 *                      state; the CQ tail is store-released later, after);
 *   POSTING -> FREE    after the CQ tail that shows the CQE is published
 *                      (L3: a compiler fence between the tail and the
 *                      frees: only a later xiod reads them, after this
 *                      one died at an instruction boundary).
 *
 * So at any kill point, a request the guest cannot yet see completed is
 * TAKEN or POSTING here, or still in the SQ (head not yet published), and a
 * POSTING record whose CQ index is below the published tail is one the
 * guest saw.  Recovery (ilog_recover()) trusts nothing it reads: the file
 * is as hostile as the guest's ring.
 */
#ifndef XIOD_ILOG_H
#define XIOD_ILOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xio/abi.h>
#include <xio/xio.h>

#include "proto.h"

#define ILOG_MAGIC 0x31474f4c494f4958ULL /* "XIOILOG1" little-endian */
#define ILOG_VERSION 2U			 /* 2: the VM part */
#define ILOG_HDR_SIZE 4096U
#define ILOG_TARGETS_OFF ILOG_HDR_SIZE

/* Record states: FREE is 0 (a new file is zeroes); the others are unlikely
 * bit patterns, so stray bytes rarely look like a live record. */
#define ILOG_FREE 0U
#define ILOG_TAKEN 0x4e4b4154U	 /* "TAKN" */
#define ILOG_POSTING 0x54534f50U /* "POST" */
/* TAKEN, and a SEND, RECV or PKT_SEND handed to io_uring (or about to be):
 * not re-executed after a restart (ilog_recover(): -EINTR). */
#define ILOG_ISSUED 0x44535349U /* "ISSD" */

/* struct ilog_hdr.vm_kind */
#define ILOG_VM_NONE 0U
#define ILOG_VM_FILE 1U /* ivshmem-plain: the region is vm_path */
#define ILOG_VM_DOORBELL                                                       \
	2U /* ivshmem-doorbell: server socket vm_path,
			     * region <state dir>/<name>.region */

/* struct ilog_target.kind */
#define ILOG_T_NONE 0U
#define ILOG_T_PATH 1U /* reopened by path with the flags */
#define ILOG_T_FD 2U   /* passed as an fd: cannot be reopened */

struct ilog_target {
	uint32_t kind;	/* ILOG_T_* */
	uint32_t flags; /* XIO_TARGET_* */
	char path[XIO_PATH_MAX];
};

/*
 * A tenant's accounting (docs/accounting.md, "Across a restart"): the
 * cumulative counters of struct xio_tenant_stats, in this order (append
 * only: the order is the file format), since the tenant's attach or last
 * reset, and the time since then.  The control thread stores a snapshot
 * every ILOG_ACCT_PERIOD_MS; a restarted xiod carries them on, a collected
 * orphan's final record shows them.
 */
/* clang-format off */
#define ILOG_ACCT_FIELDS(X) \
	X(taken) \
	X(completed) \
	X(errors) \
	X(invalid) \
	X(bytes_read) \
	X(bytes_written) \
	X(bytes_sent) \
	X(bytes_received) \
	X(kicks) \
	X(notifies) \
	X(wakeups) \
	X(cpu_ns) \
	X(throttled) \
	X(steer_packets) \
	X(steer_bytes) \
	X(steer_drops) \
	X(steer_passed) \
	X(steer_wrong_node) \
	X(pkt_received) \
	X(pkt_sent) \
	X(pkt_tx_refused)
/* clang-format on */
#define ILOG_ACCT_VALS 32U
#define ILOG_ACCT_PERIOD_MS 100U

struct ilog_acct {
	uint64_t seq; /* 0: empty or being written; the newer slot wins */
	uint64_t elapsed_ns;
	uint64_t vals[ILOG_ACCT_VALS];
	uint64_t csum; /* ilog_acct_csum() */
};

struct ilog_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;  /* ILOG_HDR_SIZE */
	uint32_t rec_size;  /* sizeof(struct ilog_rec) */
	uint32_t tgt_size;  /* sizeof(struct ilog_target) */
	uint64_t file_size; /* the whole file */
	uint64_t recs_off;
	uint32_t tenant_id;
	uint32_t uid;
	uint32_t attach_flags; /* XIO_ATTACH_F_* */
	uint32_t nr_qpairs;
	uint32_t sq_entries;
	uint32_t cq_entries; /* also the records per queue pair */
	uint32_t buf_size;
	uint32_t nr_bufs;
	uint64_t region_size;
	/* quota (docs/accounting.md) */
	uint64_t q_weight, q_ops_rate, q_bytes_rate;
	uint32_t q_inflight;
	uint32_t nr_targets;
	char name[XIO_NAME_MAX];
	/*
	 * VM tenants (XIO_MSG_VM_TENANT): what xiod needs to re-adopt one by
	 * itself at startup (control.c, vm_readopt()); vm_kind 0 otherwise.
	 */
	uint32_t vm_kind;		  /* ILOG_VM_* */
	uint32_t vm_uid, vm_gid, vm_mode; /* of the file or socket */
	int32_t vm_node;
	uint32_t vm_resv;
	char vm_path[XIO_PATH_MAX]; /* FILE: region file; DOORBELL: socket */
	uint64_t csum; /* FNV-1a over the header up to acct (this field and
			* upd_targets 0) + targets */
	/*
	 * Not in the checksum: 0 when the static part is sealed; during an
	 * in-place update (ilog_update_begin() .. ilog_seal()) the sealed
	 * target count + 1, so that a SIGKILL in between is recognised as a
	 * torn update and repaired (the unacknowledged target dropped).
	 */
	uint32_t upd_targets;
	uint32_t resv;
	/* Not in the checksum either: two slots written alternately
	 * (ilog_acct_store()), each with its own checksum. */
	struct ilog_acct acct[2];
};

struct ilog_rec {
	uint64_t seq;	    /* per tenant, from 1, in take order */
	uint32_t state;	    /* ILOG_* */
	uint32_t sq_idx;    /* free-running SQ index it was taken from */
	uint32_t cq_idx;    /* POSTING: where its CQE was written */
	int32_t res;	    /* POSTING: the result */
	uint32_t cqe_flags; /* POSTING */
	uint32_t resv;
	struct xio_sqe sqe; /* the validated copy */
};

_Static_assert(sizeof(struct ilog_hdr) <= ILOG_HDR_SIZE, "ilog header");
_Static_assert(sizeof(struct ilog_acct) == 8 * (3 + ILOG_ACCT_VALS),
	       "ilog accounting slot");

/* FNV-1a of @n bytes at @p, continuing from @h (ILOG_FNV_INIT to start). */
#define ILOG_FNV_INIT 0xcbf29ce484222325ULL
static inline uint64_t ilog_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static inline uint64_t ilog_acct_csum(const struct ilog_acct *a)
{
	return ilog_fnv(ILOG_FNV_INIT, a, offsetof(struct ilog_acct, csum)) |
	       1; /* never 0, which a zeroed slot has */
}

/*
 * The newest valid snapshot of @h (the file is as hostile as a guest's
 * ring: a torn or forged slot is ignored): true and *@a filled.  Each slot
 * is copied once, then checked on the copy.
 */
static inline bool ilog_acct_load(const struct ilog_hdr *h, struct ilog_acct *a)
{
	struct ilog_acct s;
	bool found = false;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		memcpy(&s, (const void *)&h->acct[i], sizeof(s));
		if (!s.seq || s.csum != ilog_acct_csum(&s) ||
		    (found && s.seq <= a->seq))
			continue;
		*a = s;
		found = true;
	}
	return found;
}
/* Store @vals (ILOG_ACCT_FIELDS order, @n of them) and @elapsed_ns into the
 * older slot of @h, then publish it (the control thread only). */
void ilog_acct_store(struct ilog_hdr *h, const uint64_t *vals, unsigned int n,
		     uint64_t elapsed_ns);
_Static_assert(sizeof(struct ilog_rec) == 96, "ilog record");

struct ilog {
	int fd;	    /* -1: anonymous */
	void *base; /* the mapping */
	size_t size;
	struct ilog_hdr *hdr;
	struct ilog_target *targets;
	struct ilog_rec *recs; /* [qp * cq_entries + i] */
	char *path;	       /* malloc'ed; NULL when anonymous */
};

/* What a new log records about its tenant. */
struct ilog_ident {
	const char *name;
	uint32_t tenant_id, uid, attach_flags;
	const struct xio_layout *l;
	uint64_t region_size;
	const struct xio_msg_vm_tenant *vm; /* NULL: not a VM tenant */
};

/*
 * Create @dir/<name>.ilog (replacing a stale one) or, @dir NULL, an
 * anonymous log.  0 or -errno.
 */
int ilog_create(const char *dir, const struct ilog_ident *id, struct ilog *lg);
/*
 * Map @dir/<name>.ilog and check its static part: magic, version, sizes,
 * geometry (through xio_layout_compute()), file size, checksum, name,
 * target table.  -ENOENT when there is none, -EBADMSG (with a warning)
 * when it cannot be trusted; nothing is changed in the file but the repair
 * of an update torn by a kill (ilog_update_begin()).
 */
int ilog_open(const char *dir, const char *name, struct ilog *lg);
/* Unmap; with @remove, unlink the file.  Accepts a zeroed struct. */
void ilog_close(struct ilog *lg, bool remove);
/*
 * Changing the static part (targets, quota; control thread): call
 * ilog_update_begin() before the first store, ilog_seal() after the last.
 */
void ilog_update_begin(struct ilog *lg);
void ilog_seal(struct ilog *lg);
/* Tenant id and name of the log file at @path (startup scan), or -errno. */
int ilog_peek(const char *path, uint32_t *tenant_id);

/* Requests that must not run twice: a SEND or PKT_SEND may leave twice, a
 * RECV may have consumed data that a second one would not see. */
static inline bool ilog_op_unsure(uint8_t op)
{
	return op == XIO_OP_SEND || op == XIO_OP_RECV || op == XIO_OP_PKT_SEND;
}

static inline struct ilog_rec *ilog_qp_recs(const struct ilog *lg, uint32_t qp)
{
	return lg->recs + (size_t)qp * lg->hdr->cq_entries;
}

/* ---- the restart barrier (docs/daemon.md, "Late completions") ---------- */

#define ILOG_LOCK_NAME "xiod.lock"

/*
 * Before a new xiod touches the state directory: take flock(LOCK_EX) on
 * @dir/xiod.lock (held through the file table only: free once every thread
 * of the previous xiod, io-wq workers included, is gone), then wait for the
 * rings of previous xiods that had O_DIRECT targets (their own lock files,
 * registered in their rings, free once the kernel freed the ring after its
 * last request), all within @wait_s seconds (0: forever), and create this
 * xiod's ring lock file, returned in *@ringsp for every poller to register
 * (IORING_REGISTER_FILES).  Returns the process lock fd, or -ETIMEDOUT
 * (logged), -EINTR (SIGINT/SIGTERM pending), -errno.  ilog.c argues why.
 */
int ilog_barrier(const char *dir, unsigned int wait_s, int *ringsp);
/* Mark this xiod's rings as carrying O_DIRECT requests: call before the
 * first O_DIRECT target is opened.  0 or -errno (refuse the target). */
int ilog_barrier_direct(void);
/* A clean stop (every tenant drained, the rings exited): remove the files,
 * waiting up to 10 s for previous generations' rings still torn down. */
void ilog_barrier_release(const char *dir, int fd);

/* ---- recovery ----------------------------------------------------------- */

/* Per queue pair, the indices of the adopted ring (host view, shared). */
struct ilog_pos {
	uint32_t sq_head; /* shared SQ head: entries from here are retaken */
	uint32_t cq_tail; /* shared CQ tail: what the guest can see */
};

/* One request to finish, in the order to finish it. */
struct ilog_fix {
	uint32_t qp, rec;   /* record index within the queue pair */
	bool repost;	    /* CQE result known: post it again; else resubmit */
	int32_t status;	    /* resubmit: 0; -EINVAL: answer it refused;
			     * -EINTR: answer it, not executed again */
	struct xio_sqe sqe; /* resubmit: the copy recovery validated */
};

struct ilog_rstats {
	uint32_t corrupt;  /* records dropped: bad state, seq, index */
	uint32_t dup;	   /* records dropped: a sequence number seen twice */
	uint32_t visible;  /* POSTING, CQE already published: done */
	uint32_t retake;   /* TAKEN, SQ head not published: taken again */
	uint32_t repost;   /* POSTING, CQE not published: posted again */
	uint32_t resubmit; /* TAKEN: executed again */
	uint32_t invalid;  /* resubmits whose SQE fails validation */
	uint32_t unsure;   /* ISSUED sends/receives: answered -EINTR */
	uint64_t next_seq; /* the tenant's next sequence number */
};

/*
 * Sort out @lg's records against the ring positions @pos[nr_qpairs]: every
 * record is validated like guest input; dropped ones are set FREE.  A
 * TAKEN record whose SQE fails xio_sqe_validate() becomes a repost of
 * -EINVAL (XIO_CQE_F_INVALID); an ISSUED SEND, RECV or PKT_SEND, which may
 * have gone out (or consumed data) before the kill, is answered -EINTR
 * (ilog_fix.status) instead of being executed again.  *fixes (malloc'ed, *nr entries) lists per
 * queue pair the reposts in CQ order, then the resubmits in sequence order.
 * 0 or -ENOMEM.
 */
int ilog_recover(struct ilog *lg, const struct ilog_pos *pos,
		 struct ilog_fix **fixes, uint32_t *nr, struct ilog_rstats *st);

#endif /* XIOD_ILOG_H */
