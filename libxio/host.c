/* SPDX-License-Identifier: MIT */
/*
 * Host face: take SQEs from a guest and post CQEs back.
 *
 * The guest is hostile.  Rules followed throughout:
 *  - geometry (sizes, masks, offsets) comes from the layout validated at
 *    attach, held in host memory; nothing is re-read from the header;
 *  - every shared index is loaded once into a local and checked against the
 *    ring size before it is used for anything; the host's own indices are
 *    kept privately and only ever stored to shared memory, never read back;
 *  - every SQE is copied once, word by word, into host memory and validated
 *    there; the shared slot is never looked at again.
 *
 * Memory-order pairs (the guest side is in xio.h / guest.c):
 *  H1 store-release SQ head  <-> guest acquire of SQ head in xio_get_sqe()
 *  H2 acquire SQ tail        <-> G1 guest store-release of the SQ tail
 *  H3 fence after NEED_WAKEUP<-> G2 guest fence after the tail store
 *  H4 store-release CQ tail  <-> A1 guest acquire of the CQ tail
 *  H5 acquire CQ head        <-> A2 guest store-release of the CQ head
 *  H6 fence after CQ tail    <-> guest fence after arming event_idx
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

void xio__host_qp_init(struct xio_region *r, uint32_t idx,
		       struct xio_host_qp *hq)
{
	const struct xio_layout *l = &r->layout;
	uint64_t qp_base = l->qp_off + (uint64_t)idx * l->qp_stride;
	struct xio_sq_ctrl *sq = xio__at(r, qp_base + l->sq_ctrl_off);
	struct xio_cq_ctrl *cq = xio__at(r, qp_base + l->cq_ctrl_off);

	memset(hq, 0, sizeof(*hq));
	hq->sqes = xio__at(r, qp_base + l->sqes_off);
	hq->sq_khead = &sq->head.idx;
	hq->sq_ktail = &sq->tail.idx;
	hq->sq_kflags = &sq->flags;
	hq->sq_kdropped = &sq->dropped;
	hq->cqes = xio__at(r, qp_base + l->cqes_off);
	hq->cq_ktail = &cq->tail.idx;
	hq->cq_khead = &cq->head.idx;
	hq->cq_kflags = &cq->flags;
	hq->cq_kevent_idx = &cq->event_idx;
	hq->layout = l;
	hq->sq_mask = l->sq_entries - 1;
	hq->sq_entries = l->sq_entries;
	hq->cq_mask = l->cq_entries - 1;
	hq->cq_entries = l->cq_entries;
	/*
	 * Adopt the ring's current host-owned indices: zero for a fresh
	 * region.  They are read once here; a garbage value is harmless
	 * because every distance computed from it is range-checked.
	 */
	hq->sq_head = XIO_READ_ONCE(*hq->sq_khead);
	hq->cq_tail = XIO_READ_ONCE(*hq->cq_ktail);
	hq->cq_published = hq->cq_tail;
	hq->cq_head_cache = hq->cq_tail; /* refreshed before first use */
	hq->sq_flags = 0;
	XIO_WRITE_ONCE(*hq->sq_kflags, 0);
}

struct xio_host_qp *xio_region_host_qp(struct xio_region *r, uint32_t idx)
{
	struct xio_host_qp *hq;

	if (!r || !r->hqps || idx >= r->layout.nr_qpairs)
		return NULL;
	hq = &r->hqps[idx];
	/*
	 * Set up on first use only: a guest that never asks for the host view
	 * must not have its region's host-owned fields (flags) touched.
	 */
	if (!hq->layout)
		xio__host_qp_init(r, idx, hq);
	return hq;
}

static inline bool is_data_op(uint8_t op)
{
	return op == XIO_OP_READ || op == XIO_OP_WRITE || op == XIO_OP_SEND ||
	       op == XIO_OP_RECV || op == XIO_OP_PKT_RECV ||
	       op == XIO_OP_PKT_SEND;
}

/*
 * The checks of xio_sqe_validate(), inlined into the take loop (no call per
 * entry).  The fields that must be zero for every opcode are OR-ed together
 * and tested with one branch.
 */
static inline int sqe_check(const struct xio_layout *l, const struct xio_sqe *s)
{
	if (s->opcode >= XIO_OP_LAST)
		return -EINVAL;
	if ((s->flags & ~XIO_SQE_FLAGS_MASK) |
	    (s->ioprio | s->op_flags | s->resv[0] | s->resv[1] | s->resv[2]))
		return -EINVAL;
	if (!is_data_op(s->opcode)) {
		/* NOP and FSYNC name no buffer and no range. */
		if (s->buf_index | s->buf_off | s->len | s->off)
			return -EINVAL;
		return 0;
	}
	/* 1 <= len, [buf_off, buf_off + len) inside one slot, no overflow. */
	if (s->buf_index >= l->nr_bufs || s->len == 0 ||
	    s->buf_off > l->buf_size || s->len > l->buf_size - s->buf_off)
		return -EINVAL;
	/* The kernel's file offsets are signed 64-bit: off + len must fit. */
	if ((s->opcode == XIO_OP_READ || s->opcode == XIO_OP_WRITE) &&
	    s->off > (uint64_t)INT64_MAX - s->len)
		return -EINVAL;
	/* Sockets and packets have no offset. */
	if (s->opcode != XIO_OP_READ && s->opcode != XIO_OP_WRITE && s->off)
		return -EINVAL;
	return 0;
}

int xio_sqe_validate(const struct xio_layout *l, const struct xio_sqe *s)
{
	return sqe_check(l, s);
}

/*
 * Copy one SQE out of shared memory: eight relaxed 64-bit loads, each word
 * read exactly once, so a guest rewriting the slot concurrently can give us
 * a mix of old and new words but never make us see two values of one field.
 * Each word goes straight into @dst as loaded, with one 8-byte store: the
 * narrower loads of the validation that follows forward from those stores,
 * whereas copying through a staging array with 16-byte moves stalled on
 * store-to-load forwarding four times per entry.
 */
static inline void sqe_copy_once(struct xio_sqe *dst, const struct xio_sqe *src)
{
	const uint64_t *s = (const uint64_t *)src;
	unsigned char *d = (unsigned char *)dst;
	unsigned int i;

#pragma GCC unroll 8
	for (i = 0; i < XIO_SQE_SIZE / 8; i++) {
		uint64_t w = XIO_READ_ONCE(s[i]);

		memcpy(d + 8 * i, &w, sizeof(w));
	}
}

static XIO_COLD int mark_broken(struct xio_host_qp *hq, const char *why,
				uint32_t a, uint32_t b)
{
	if (!hq->st.broken)
		pr_warn("xio: queue pair quarantined: %s (%u vs %u)\n", why, a,
			b);
	hq->st.broken = 1;
	hq->sq_flags |= XIO_SQ_BROKEN;
	XIO_WRITE_ONCE(*hq->sq_kflags, hq->sq_flags);
	return -EPROTO;
}

/*
 * CQ slots not used by posted entries nor promised to taken SQEs.  The
 * guest's head is only loaded when the cached view offers fewer than @want.
 */
static int cq_space(struct xio_host_qp *hq, uint32_t want, uint32_t *space)
{
	uint32_t used = hq->cq_tail - hq->cq_head_cache;

	if (hq->cq_entries - used - hq->cq_reserved < want) {
		/* H5: acquire pairs with A2: the guest is done with them. */
		uint32_t head = xio_load_acquire(hq->cq_khead);

		used = hq->cq_tail - head;
		if (used > hq->cq_entries)
			return mark_broken(hq, "CQ head outside the ring", head,
					   hq->cq_tail);
		hq->cq_head_cache = head;
	}
	/*
	 * An honest guest's head only moves forward, so used + reserved never
	 * exceeds the ring; one that moved its head back gets no space (its
	 * own completions wait), never an underflow.
	 */
	used = hq->cq_tail - hq->cq_head_cache;
	if (used > hq->cq_entries - hq->cq_reserved)
		*space = 0;
	else
		*space = hq->cq_entries - used - hq->cq_reserved;
	return 0;
}

static inline void post_cqe(struct xio_host_qp *hq, uint64_t user_data,
			    int32_t res, uint32_t flags)
{
	struct xio_cqe c = {.user_data = user_data, .res = res, .flags = flags};

	/* One 16-byte copy: the guest reads the slot only after H4. */
	memcpy(&hq->cqes[hq->cq_tail & hq->cq_mask], &c, sizeof(c));
	hq->cq_tail++;
	hq->st.posted++;
}

/* Answer an SQE refused by validation at once (slow path). */
static XIO_COLD void refuse_sqe(struct xio_host_qp *hq, const struct xio_sqe *s)
{
	hq->st.invalid++;
	XIO_WRITE_ONCE(*hq->sq_kdropped, (uint32_t)hq->st.invalid);
	post_cqe(hq, s->user_data, -EINVAL, XIO_CQE_F_INVALID);
}

/*
 * The take loop, shared by both takes; @held is a constant at each call
 * site, so each gets its own straight loop.  Not held: refused entries are
 * answered here and the head is published (H1).  Held: every entry copied
 * is returned (status[i] 0 or -EINVAL), each with its CQ slot, and the head
 * stays private until xio_host_sq_publish().
 */
static inline __attribute__((always_inline)) int
take(struct xio_host_qp *hq, struct xio_sqe *out, int32_t *status, uint32_t max,
     uint32_t *first, bool held)
{
	uint32_t tail, avail, space = 0, head, mask, i, n = 0;
	const struct xio_layout *layout;
	const struct xio_sqe *sqes;
	int err;

	if (hq->st.broken)
		return -EPROTO;
	/* H2: acquire pairs with G1, making the entries below tail visible. */
	tail = xio_load_acquire(hq->sq_ktail);
	avail = tail - hq->sq_head;
	if (avail > hq->sq_entries)
		return mark_broken(hq, "SQ tail outside the ring", tail,
				   hq->sq_head);
	if (first)
		*first = hq->sq_head;
	if (!avail || !max)
		return 0; /* max 0: the tail check alone, nothing written */
	if (avail > max)
		avail = max;
	err = cq_space(hq, avail, &space);
	if (err)
		return err;
	if (avail > space) {
		hq->st.cq_full++;
		avail = space;
	}
	/*
	 * The copies below are byte stores as far as the compiler knows, so
	 * they could alias *hq: keep what the loop needs in locals.
	 */
	sqes = hq->sqes;
	layout = hq->layout;
	mask = hq->sq_mask;
	head = hq->sq_head;
	/*
	 * Start every line of the batch on its way before the first copy:
	 * each was written by the guest on another CPU, and the copy and
	 * checks per entry are long enough to keep only a few misses in
	 * flight otherwise.  A prefetch is a hint, not a read: the words are
	 * still loaded exactly once, below, after H2.
	 */
	for (i = 0; i < avail; i++)
		__builtin_prefetch(&sqes[(head + i) & mask]);
	for (i = 0; i < avail; i++, head++) {
		struct xio_sqe *s = &out[n];
		int32_t bad;

		sqe_copy_once(s, &sqes[head & mask]);
		bad = sqe_check(layout, s);
		if (held) {
			status[n++] = bad;
			if (__builtin_expect(bad != 0, 0)) {
				hq->st.invalid++;
				XIO_WRITE_ONCE(*hq->sq_kdropped,
					       (uint32_t)hq->st.invalid);
			}
			continue;
		}
		if (__builtin_expect(bad != 0, 0)) {
			refuse_sqe(hq, s);
			continue;
		}
		n++;
	}
	hq->cq_reserved += n;
	hq->sq_head = head;
	if (held)
		return (int)n;
	/* H1: our copies are done before the guest may reuse the slots. */
	xio_store_release(hq->sq_khead, head);
	hq->st.taken += n;
	return (int)n;
}

int xio_host_sq_take(struct xio_host_qp *hq, struct xio_sqe *out, uint32_t max)
{
	return take(hq, out, NULL, max, NULL, false);
}

int xio_host_sq_take_held(struct xio_host_qp *hq, struct xio_sqe *out,
			  int32_t *status, uint32_t max, uint32_t *first)
{
	int n = take(hq, out, status, max, first, true);

	if (n > 0)
		hq->st.taken += (uint32_t)n; /* refused ones included */
	return n;
}

void xio_host_sq_publish(struct xio_host_qp *hq)
{
	/*
	 * H1 for held takes: the copies, and whatever the caller stored
	 * before this call (its in-flight log), are done before the guest
	 * may reuse the slots.
	 */
	xio_store_release(hq->sq_khead, hq->sq_head);
}

int xio_host_cq_reserve(struct xio_host_qp *hq, uint32_t n)
{
	uint32_t space = 0;
	int err;

	if (hq->st.broken)
		return -EPROTO;
	err = cq_space(hq, n, &space);
	if (err)
		return err;
	if (space < n)
		return -ENOSPC;
	hq->cq_reserved += n;
	return 0;
}

void xio_host_qp_indices(const struct xio_host_qp *hq, uint32_t *sq_head,
			 uint32_t *cq_tail)
{
	if (sq_head)
		*sq_head = hq->sq_head;
	if (cq_tail)
		*cq_tail = hq->cq_tail;
}

int xio_host_cq_post(struct xio_host_qp *hq, uint64_t user_data, int32_t res,
		     uint32_t flags)
{
	if (!hq->cq_reserved)
		return -ENOSPC;
	hq->cq_reserved--;
	post_cqe(hq, user_data, res, flags);
	return 0;
}

int xio_host_cq_publish(struct xio_host_qp *hq)
{
	uint32_t old = hq->cq_published, new = hq->cq_tail, flags, ev;

	if (old == new)
		return 0;
	/* H4: the CQE contents are visible before the new tail (A1). */
	xio_store_release(hq->cq_ktail, new);
	hq->cq_published = new;
	hq->st.published++;
	/*
	 * H6: full fence between the tail store and the loads of the guest's
	 * notification request; pairs with the guest's fence after it arms
	 * event_idx and before it re-checks the tail (guest.c arm_notify).
	 */
	xio_smp_mb();
	flags = XIO_READ_ONCE(*hq->cq_kflags);
	if (!(flags & XIO_CQ_NOTIFY))
		return 0;
	ev = XIO_READ_ONCE(*hq->cq_kevent_idx);
	/* virtio event-idx: did the tail step over ev on its way old->new? */
	if ((uint32_t)(new - ev - 1) < (uint32_t)(new - old)) {
		hq->st.notifies++;
		return 1;
	}
	return 0;
}

uint32_t xio_host_sq_pending(struct xio_host_qp *hq)
{
	return xio_load_acquire(hq->sq_ktail) - hq->sq_head;
}

bool xio_host_sq_arm_wakeup(struct xio_host_qp *hq)
{
	hq->sq_flags |= XIO_SQ_NEED_WAKEUP;
	XIO_WRITE_ONCE(*hq->sq_kflags, hq->sq_flags);
	/*
	 * H3: full fence between the flag store and the tail load, the other
	 * half of G2: either the guest sees NEED_WAKEUP after publishing and
	 * kicks, or we see its tail here and stay awake.
	 */
	xio_smp_mb();
	return XIO_READ_ONCE(*hq->sq_ktail) != hq->sq_head;
}

void xio_host_sq_clear_wakeup(struct xio_host_qp *hq)
{
	hq->sq_flags &= ~XIO_SQ_NEED_WAKEUP;
	XIO_WRITE_ONCE(*hq->sq_kflags, hq->sq_flags);
}

uint32_t xio_host_inflight(const struct xio_host_qp *hq)
{
	return hq->cq_reserved;
}

void xio_host_qp_get_stats(const struct xio_host_qp *hq,
			   struct xio_host_qp_stats *st)
{
	*st = hq->st;
}
