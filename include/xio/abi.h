/* SPDX-License-Identifier: MIT */
/*
 * xio shared-memory ABI.
 *
 * This header is the whole contract between a guest (a VM through an ivshmem
 * BAR, or a local process) and the host daemon xiod.  Everything here lives in
 * memory that BOTH sides can write at any time, so:
 *
 *  - only fixed-width fields, explicit padding, no pointers, no enums;
 *  - every size and offset is pinned with a static assertion below, so an
 *    accidental change fails to compile on either side;
 *  - the host treats every byte as hostile: it keeps private copies of the
 *    geometry it validated at attach time and never re-reads it (see
 *    docs/abi.md, "Trust model").
 *
 * Region layout (all offsets from the start of the region, see
 * xio_layout_compute() in xio.h, which both sides use to derive them):
 *
 *     +--------------------------+  0
 *     | struct xio_region_hdr    |  (XIO_REGION_HDR_SIZE bytes, one page)
 *     +--------------------------+  qp_off
 *     | queue pair 0             |  qp_stride bytes:
 *     |   SQ control (3 blocks)  |    struct xio_sq_ctrl
 *     |   SQ entries             |    sq_entries * XIO_SQE_SIZE
 *     |   CQ control (3 blocks)  |    struct xio_cq_ctrl
 *     |   CQ entries             |    cq_entries * XIO_CQE_SIZE
 *     | queue pair 1 ...         |
 *     +--------------------------+  pool_off (page aligned)
 *     | buffer pool              |  nr_bufs * buf_size
 *     +--------------------------+  region_size (page aligned)
 *
 * Ring indices are free-running 32-bit counters: the producer's index counts
 * every entry ever produced, modulo 2^32.  The number of entries in a ring is
 * always (uint32_t)(tail - head), which stays correct across the wrap as long
 * as it never exceeds the ring size (a power of two <= 2^31); a slot is
 * addressed as entries[index & (size - 1)].  Each index is written by exactly
 * one side and sits alone in its own 128-byte block: one cache line for the
 * index plus one guard line, so the adjacent-line prefetcher of the reader
 * never drags the writer's line into a ping-pong with an unrelated field.
 */
#ifndef XIO_ABI_H
#define XIO_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "XIOREGN1" read as a little-endian u64. */
#define XIO_REGION_MAGIC 0x314e4745524f4958ULL
/* Bumped on any incompatible layout change; attach refuses a mismatch. */
#define XIO_ABI_VERSION 1U

#define XIO_BLOCK_SIZE 128U	  /* one owner's index block */
#define XIO_REGION_HDR_SIZE 4096U /* the header owns the first page */
#define XIO_PAGE_SIZE 4096U	  /* alignment of the pool and region size */
#define XIO_SQE_SIZE 64U
#define XIO_CQE_SIZE 16U

/* Limits enforced at creation and attach (both sides). */
#define XIO_MAX_QPAIRS 64U
#define XIO_MIN_RING_ENTRIES 2U
#define XIO_MAX_RING_ENTRIES 32768U
#define XIO_MIN_BUF_SIZE 64U
#define XIO_MAX_BUF_SIZE (1U << 24) /* 16 MiB per slot */
#define XIO_MAX_BUFS (1U << 20)
#define XIO_MAX_REGION_SIZE (1ULL << 40)

/* Feature bits in xio_region_hdr.features (reserved: none defined in v1). */
#define XIO_FEAT_MASK 0U

/*
 * Region header: written once by the creator before the region is shared,
 * read (and validated) by whoever attaches.  Nobody writes it afterwards; the
 * host never reads it again after attach.
 */
struct xio_region_hdr {
	uint64_t magic;	      /* XIO_REGION_MAGIC */
	uint32_t abi_version; /* XIO_ABI_VERSION */
	uint32_t hdr_size;    /* XIO_REGION_HDR_SIZE */
	uint64_t region_size; /* bytes, page aligned */
	uint32_t features;    /* XIO_FEAT_* */
	uint32_t nr_qpairs;   /* 1 .. XIO_MAX_QPAIRS */
	uint32_t sq_entries;  /* power of two */
	uint32_t cq_entries;  /* power of two, >= sq_entries */
	uint32_t sqe_size;    /* XIO_SQE_SIZE */
	uint32_t cqe_size;    /* XIO_CQE_SIZE */
	uint32_t buf_size;    /* pool slot size, multiple of 64 */
	uint32_t nr_bufs;     /* pool slots, 1 .. XIO_MAX_BUFS */
	uint64_t qp_off;      /* offset of queue pair 0 */
	uint64_t qp_stride;   /* bytes between queue pairs */
	uint64_t sq_ctrl_off; /* within a queue pair */
	uint64_t sqes_off;    /* within a queue pair */
	uint64_t cq_ctrl_off; /* within a queue pair */
	uint64_t cqes_off;    /* within a queue pair */
	uint64_t pool_off;    /* offset of buffer slot 0 */
	uint64_t pool_size;   /* nr_bufs * buf_size */
	uint8_t name[64];     /* NUL-padded tenant name, informational */
	uint8_t resv[XIO_REGION_HDR_SIZE - 184];
};

/* An index alone in its 128-byte block. */
struct xio_idx_block {
	uint32_t idx;
	uint32_t __pad[XIO_BLOCK_SIZE / 4 - 1];
};

/*
 * Flags the host publishes in xio_sq_ctrl.flags.  Only the host writes them.
 *
 * XIO_SQ_NEED_WAKEUP: the poller serving this ring is (about to be) asleep; a
 * guest that published new entries must kick it (eventfd / ivshmem doorbell).
 * XIO_SQ_BROKEN: the host quarantined this ring after an index violation; no
 * further entries will be consumed.
 */
#define XIO_SQ_NEED_WAKEUP (1U << 0)
#define XIO_SQ_BROKEN (1U << 1)

/* Submission queue control: three blocks, each with one writer. */
struct xio_sq_ctrl {
	struct xio_idx_block head; /* host-owned: next entry to consume */
	struct xio_idx_block tail; /* guest-owned: next entry to produce */
	/* host-owned, rarely written: flags + dropped (invalid SQE) count */
	uint32_t flags;
	uint32_t dropped;
	uint32_t __pad[XIO_BLOCK_SIZE / 4 - 2];
};

/*
 * Guest-owned CQ flags.  XIO_CQ_NOTIFY: the guest sleeps on its notify eventfd
 * and wants a signal once the CQ tail passes xio_cq_ctrl.event_idx (virtio
 * event-idx semantics: notify when the host moves the tail from old to new and
 * (new - event_idx - 1) < (new - old), all modulo 2^32).
 */
#define XIO_CQ_NOTIFY (1U << 0)
#define XIO_CQ_FLAGS_MASK XIO_CQ_NOTIFY

/* Completion queue control: three blocks, each with one writer. */
struct xio_cq_ctrl {
	struct xio_idx_block tail; /* host-owned: next entry to post */
	struct xio_idx_block head; /* guest-owned: next entry to reap */
	/* guest-owned: notification request */
	uint32_t flags;	    /* XIO_CQ_* */
	uint32_t event_idx; /* notify when tail passes this index */
	uint32_t __pad[XIO_BLOCK_SIZE / 4 - 2];
};

/* Opcodes (xio_sqe.opcode). */
#define XIO_OP_NOP 0U
#define XIO_OP_READ 1U	/* target file -> pool buffer */
#define XIO_OP_WRITE 2U /* pool buffer -> target file */
#define XIO_OP_FSYNC 3U /* target file */
#define XIO_OP_SEND 4U	/* pool buffer -> target socket */
#define XIO_OP_RECV 5U	/* target socket -> pool buffer */
/*
 * Packets of the host's steered interfaces (docs/steering.md).  PKT_RECV
 * posts a pool buffer for the next frame the steering classifier assigns to
 * this tenant (target must be 0; the CQE res is the frame length, the frame
 * starting with its Ethernet header); PKT_SEND sends one frame, Ethernet
 * header included, out of port `target` (the interface's place in
 * `xioctl steer show`).  Buffer rules as SEND/RECV; off must be 0.
 */
#define XIO_OP_PKT_RECV 6U /* steered frame -> pool buffer */
#define XIO_OP_PKT_SEND 7U /* pool buffer -> frame out of a port */
#define XIO_OP_LAST 8U	   /* first invalid opcode */

/* Submission flags (xio_sqe.flags): none defined in v1, all must be zero. */
#define XIO_SQE_FLAGS_MASK 0U

/*
 * Submission queue entry, 64 bytes.  Buffers are named by pool slot index plus
 * an offset and a length inside that slot, never by address.  `target` is an
 * index into the table of targets the host administrator attached to the
 * tenant.  Reserved fields must be zero (refused otherwise, so they can be
 * given a meaning later).
 */
struct xio_sqe {
	uint8_t opcode;	    /* XIO_OP_* */
	uint8_t flags;	    /* XIO_SQE_* */
	uint16_t ioprio;    /* reserved, 0 */
	uint32_t target;    /* target index */
	uint64_t off;	    /* file offset (READ/WRITE) */
	uint32_t buf_index; /* pool slot */
	uint32_t buf_off;   /* offset within the slot */
	uint32_t len;	    /* bytes */
	uint32_t op_flags;  /* per-opcode flags, reserved in v1, 0 */
	uint64_t user_data; /* returned untouched in the CQE */
	uint64_t resv[3];   /* 0 */
};

/* Completion flags (xio_cqe.flags). */
#define XIO_CQE_F_INVALID (1U << 0) /* SQE refused by validation */

/* Completion queue entry, 16 bytes. */
struct xio_cqe {
	uint64_t user_data; /* from the SQE */
	int32_t res;	    /* bytes transferred or -errno */
	uint32_t flags;	    /* XIO_CQE_F_* */
};

#ifdef __cplusplus /* the header is usable from C++ too (extern "C" above) */
#define XIO_ABI_ASSERT(e, m) static_assert(e, "xio ABI: " m)
#else
#define XIO_ABI_ASSERT(e, m) _Static_assert(e, "xio ABI: " m)
#endif
#define XIO_ABI_OFF(t, f, v)                                                   \
	XIO_ABI_ASSERT(__builtin_offsetof(t, f) == (v), #t "." #f " offset")

XIO_ABI_ASSERT(sizeof(struct xio_region_hdr) == XIO_REGION_HDR_SIZE,
	       "region header size");
XIO_ABI_OFF(struct xio_region_hdr, magic, 0);
XIO_ABI_OFF(struct xio_region_hdr, abi_version, 8);
XIO_ABI_OFF(struct xio_region_hdr, hdr_size, 12);
XIO_ABI_OFF(struct xio_region_hdr, region_size, 16);
XIO_ABI_OFF(struct xio_region_hdr, features, 24);
XIO_ABI_OFF(struct xio_region_hdr, nr_qpairs, 28);
XIO_ABI_OFF(struct xio_region_hdr, sq_entries, 32);
XIO_ABI_OFF(struct xio_region_hdr, cq_entries, 36);
XIO_ABI_OFF(struct xio_region_hdr, sqe_size, 40);
XIO_ABI_OFF(struct xio_region_hdr, cqe_size, 44);
XIO_ABI_OFF(struct xio_region_hdr, buf_size, 48);
XIO_ABI_OFF(struct xio_region_hdr, nr_bufs, 52);
XIO_ABI_OFF(struct xio_region_hdr, qp_off, 56);
XIO_ABI_OFF(struct xio_region_hdr, qp_stride, 64);
XIO_ABI_OFF(struct xio_region_hdr, sq_ctrl_off, 72);
XIO_ABI_OFF(struct xio_region_hdr, sqes_off, 80);
XIO_ABI_OFF(struct xio_region_hdr, cq_ctrl_off, 88);
XIO_ABI_OFF(struct xio_region_hdr, cqes_off, 96);
XIO_ABI_OFF(struct xio_region_hdr, pool_off, 104);
XIO_ABI_OFF(struct xio_region_hdr, pool_size, 112);
XIO_ABI_OFF(struct xio_region_hdr, name, 120);
XIO_ABI_OFF(struct xio_region_hdr, resv, 184);

XIO_ABI_ASSERT(sizeof(struct xio_idx_block) == XIO_BLOCK_SIZE, "index block");
XIO_ABI_ASSERT(sizeof(struct xio_sq_ctrl) == 3 * XIO_BLOCK_SIZE, "SQ ctrl");
XIO_ABI_OFF(struct xio_sq_ctrl, head, 0);
XIO_ABI_OFF(struct xio_sq_ctrl, tail, 128);
XIO_ABI_OFF(struct xio_sq_ctrl, flags, 256);
XIO_ABI_OFF(struct xio_sq_ctrl, dropped, 260);
XIO_ABI_ASSERT(sizeof(struct xio_cq_ctrl) == 3 * XIO_BLOCK_SIZE, "CQ ctrl");
XIO_ABI_OFF(struct xio_cq_ctrl, tail, 0);
XIO_ABI_OFF(struct xio_cq_ctrl, head, 128);
XIO_ABI_OFF(struct xio_cq_ctrl, flags, 256);
XIO_ABI_OFF(struct xio_cq_ctrl, event_idx, 260);

XIO_ABI_ASSERT(sizeof(struct xio_sqe) == XIO_SQE_SIZE, "SQE size");
XIO_ABI_OFF(struct xio_sqe, opcode, 0);
XIO_ABI_OFF(struct xio_sqe, flags, 1);
XIO_ABI_OFF(struct xio_sqe, ioprio, 2);
XIO_ABI_OFF(struct xio_sqe, target, 4);
XIO_ABI_OFF(struct xio_sqe, off, 8);
XIO_ABI_OFF(struct xio_sqe, buf_index, 16);
XIO_ABI_OFF(struct xio_sqe, buf_off, 20);
XIO_ABI_OFF(struct xio_sqe, len, 24);
XIO_ABI_OFF(struct xio_sqe, op_flags, 28);
XIO_ABI_OFF(struct xio_sqe, user_data, 32);
XIO_ABI_OFF(struct xio_sqe, resv, 40);
XIO_ABI_ASSERT(sizeof(struct xio_cqe) == XIO_CQE_SIZE, "CQE size");
XIO_ABI_OFF(struct xio_cqe, user_data, 0);
XIO_ABI_OFF(struct xio_cqe, res, 8);
XIO_ABI_OFF(struct xio_cqe, flags, 12);

XIO_ABI_ASSERT(XIO_OP_RECV == 5 && XIO_OP_PKT_RECV == 6 &&
		       XIO_OP_PKT_SEND == 7 && XIO_OP_LAST == 8,
	       "opcode values");
XIO_ABI_ASSERT(XIO_OP_LAST <= 255, "opcodes fit xio_sqe.opcode");

XIO_ABI_ASSERT((XIO_MAX_RING_ENTRIES & (XIO_MAX_RING_ENTRIES - 1)) == 0,
	       "max ring entries is a power of two");
XIO_ABI_ASSERT(XIO_MAX_RING_ENTRIES <= (1U << 31), "index arithmetic");

#ifdef __cplusplus
}
#endif
#endif /* XIO_ABI_H */
