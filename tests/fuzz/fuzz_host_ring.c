/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the host face over a queue pair whose shared memory the
 * fuzzer controls.  A region is made by xio_region_create() (one template per
 * geometry), its bytes copied into a heap buffer of exactly region_size (so
 * ASan sees any access beyond it) and attached with xio_region_attach_mem();
 * then the input is read as a program of guest writes (indices, flags, SQEs,
 * raw bytes) interleaved with host operations (take, post, publish, arm,
 * clear).  Checked: no crash or out-of-bounds access, every SQE returned by
 * xio_host_sq_take() passes xio_sqe_validate() and names pool memory inside
 * the region, the in-flight count never exceeds the CQ, and a quarantined
 * ring stays quarantined.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xio/xio.h>

#include "fuzz.h"

#define NR_GEOM 16
#define MAX_TAKE 40

static struct xio_region *tmpl[NR_GEOM];

static struct xio_region *template(unsigned int g)
{
	struct xio_region_opts o = {.sz = sizeof(o)};

	if (tmpl[g])
		return tmpl[g];
	o.params.nr_qpairs = 1 + (g >> 3);
	o.params.sq_entries = 2U << (g & 3);
	o.params.cq_entries = o.params.sq_entries << ((g >> 2) & 1);
	o.params.buf_size = 64;
	o.params.nr_bufs = 3;
	o.name = "fuzz";
	if (xio_region_create(&o, &tmpl[g]))
		die("xio_region_create failed");
	return tmpl[g];
}

#define SQ_TAIL offsetof(struct xio_sq_ctrl, tail)
#define CQ_HEAD offsetof(struct xio_cq_ctrl, head)
#define CQ_FLAGS offsetof(struct xio_cq_ctrl, flags)
#define CQ_EVENT offsetof(struct xio_cq_ctrl, event_idx)

/* A guest store into the queue pair at @qp. */
static void put32(uint8_t *qp, uint64_t off, uint32_t v)
{
	*(volatile uint32_t *)(qp + off) = v;
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint32_t get(struct in *in, unsigned int bytes)
{
	uint32_t v = 0;

	while (bytes--) {
		v <<= 8;
		if (in->n) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	const struct xio_layout *l;
	struct xio_region *t, *r;
	struct xio_host_qp *hq;
	struct xio_sqe out[MAX_TAKE];
	uint8_t *mem, *qp, *pool_lo, *pool_hi;
	uint32_t inflight = 0, i, qpi;
	bool broken = false;
	size_t len;
	int n;

	xio_set_print(NULL); /* silent */
	t = template(get(&in, 1) % NR_GEOM);
	l = xio_region_layout(t);
	len = xio_region_size(t);
	mem = aligned_alloc(4096, len);
	if (!mem)
		return 0;
	memcpy(mem, xio_region_base(t), len);
	if (xio_region_attach_mem(mem, len, 0, &r))
		die("attach_mem of a fresh region failed");
	qpi = get(&in, 1) % l->nr_qpairs;
	hq = xio_region_host_qp(r, qpi);
	if (!hq)
		die("no host qp");
	qp = mem + l->qp_off + (uint64_t)qpi * l->qp_stride;
	pool_lo = mem + l->pool_off;
	pool_hi = pool_lo + l->pool_size;

	while (in.n) {
		uint8_t op = (uint8_t)get(&in, 1);

		switch (op % 12) {
		case 0: /* guest: SQ tail */
			put32(qp, l->sq_ctrl_off + SQ_TAIL, get(&in, 4));
			break;
		case 1: /* guest: CQ head */
			put32(qp, l->cq_ctrl_off + CQ_HEAD, get(&in, 4));
			break;
		case 2: /* guest: CQ flags and event index */
			put32(qp, l->cq_ctrl_off + CQ_FLAGS, get(&in, 1));
			put32(qp, l->cq_ctrl_off + CQ_EVENT, get(&in, 4));
			break;
		case 3: { /* guest: one SQE, bytes as given */
			uint32_t slot = get(&in, 1) % l->sq_entries;
			struct xio_sqe s;
			size_t k = in.n < sizeof(s) ? in.n : sizeof(s);

			memset(&s, 0, sizeof(s));
			memcpy(&s, in.p, k);
			in.p += k;
			in.n -= k;
			memcpy(qp + l->sqes_off + slot * sizeof(s), &s,
			       sizeof(s));
			break;
		}
		case 4: { /* guest: a plausible SQE (mostly valid) */
			uint32_t slot = get(&in, 1) % l->sq_entries;
			struct xio_sqe s = {0};

			s.opcode = (uint8_t)(get(&in, 1) % (XIO_OP_LAST + 1));
			s.buf_index = get(&in, 1) % (l->nr_bufs + 1);
			s.buf_off = get(&in, 1);
			s.len = get(&in, 1);
			s.user_data = get(&in, 2);
			memcpy(qp + l->sqes_off + slot * sizeof(s), &s,
			       sizeof(s));
			break;
		}
		case 5: { /* guest: raw bytes anywhere in the queue pair */
			uint32_t off = get(&in, 2) % l->qp_stride;
			uint32_t k = get(&in, 1) % 16;

			if (k > in.n)
				k = (uint32_t)in.n;
			if (k > l->qp_stride - off)
				k = (uint32_t)(l->qp_stride - off);
			memcpy(qp + off, in.p, k);
			in.p += k;
			in.n -= k;
			break;
		}
		case 6: /* host: take */
		case 7:
			n = xio_host_sq_take(hq, out, get(&in, 1) % MAX_TAKE);
			if (n < 0) {
				if (n != -EPROTO)
					die("take: unexpected error");
				broken = true;
				break;
			}
			if (broken)
				die("take succeeded on a quarantined ring");
			for (i = 0; i < (uint32_t)n; i++) {
				const struct xio_sqe *s = &out[i];
				uint8_t *b;

				if (xio_sqe_validate(l, s))
					die("take returned an invalid SQE");
				if (s->opcode == XIO_OP_NOP ||
				    s->opcode == XIO_OP_FSYNC)
					continue;
				b = xio_host_buf(r, s->buf_index, s->buf_off,
						 s->len);
				if (!b || b < pool_lo || b + s->len > pool_hi)
					die("SQE buffer outside the pool");
			}
			inflight += (uint32_t)n;
			break;
		case 8: { /* host: post some completions */
			uint32_t k = get(&in, 1) % 8;

			while (k--) {
				int rc = xio_host_cq_post(hq, inflight, 0, 0);

				if (inflight && rc)
					die("post failed with a reserved slot");
				if (!inflight && rc != -ENOSPC)
					die("post succeeded without a slot");
				if (inflight)
					inflight--;
			}
			break;
		}
		case 9:
			n = xio_host_cq_publish(hq);
			if (n != 0 && n != 1)
				die("publish returned neither 0 nor 1");
			break;
		case 10:
			(void)xio_host_sq_arm_wakeup(hq);
			break;
		case 11:
			xio_host_sq_clear_wakeup(hq);
			(void)xio_host_sq_pending(hq);
			break;
		}
		if (xio_host_inflight(hq) != inflight)
			die("in-flight count disagrees");
		if (inflight > l->cq_entries)
			die("more in flight than CQ entries");
	}
	xio_region_destroy(r);
	free(mem);
	return 0;
}
