/* SPDX-License-Identifier: MIT */
/*
 * The guest's buffer-pool allocator.  Its state (a stack of free slot numbers
 * and an in-use map) lives in the guest's private memory, never in the shared
 * region: the host must not be able to corrupt it, and the host in turn never
 * trusts which slots the guest believes are free (it bound-checks every slot
 * an SQE names, see xio_sqe_validate()).
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static int pool_init(struct xio_region *r)
{
	uint32_t n = r->layout.nr_bufs, i;

	r->free_stack = malloc((size_t)n * sizeof(*r->free_stack));
	r->in_use = calloc(n ? n : 1, 1);
	if (!r->free_stack || !r->in_use) {
		free(r->free_stack);
		free(r->in_use);
		r->free_stack = NULL;
		r->in_use = NULL;
		return -ENOMEM;
	}
	/* Pop order 0, 1, 2, ...: low slots first, which tests find handy. */
	for (i = 0; i < n; i++)
		r->free_stack[i] = n - 1 - i;
	r->nr_free = n;
	return 0;
}

int xio_buf_alloc(struct xio_region *r, uint32_t *slot)
{
	uint32_t s;

	if (!r || !slot)
		return -EINVAL;
	if (!r->free_stack) {
		int err = pool_init(r);
		if (err)
			return err;
	}
	if (!r->nr_free)
		return -ENOBUFS;
	s = r->free_stack[--r->nr_free];
	r->in_use[s] = 1;
	*slot = s;
	return 0;
}

int xio_buf_free(struct xio_region *r, uint32_t slot)
{
	if (!r || !r->in_use || slot >= r->layout.nr_bufs || !r->in_use[slot])
		return -EINVAL;
	r->in_use[slot] = 0;
	r->free_stack[r->nr_free++] = slot;
	return 0;
}

uint32_t xio_buf_avail(const struct xio_region *r)
{
	if (!r)
		return 0;
	return r->free_stack ? r->nr_free : r->layout.nr_bufs;
}

void *xio_buf_ptr(const struct xio_region *r, uint32_t slot)
{
	if (!r || slot >= r->layout.nr_bufs)
		return NULL;
	return xio__at(r, r->layout.pool_off +
				  (uint64_t)slot * r->layout.buf_size);
}

void *xio_host_buf(const struct xio_region *r, uint32_t slot, uint32_t buf_off,
		   uint32_t len)
{
	if (!r || slot >= r->layout.nr_bufs || buf_off > r->layout.buf_size ||
	    len > r->layout.buf_size - buf_off)
		return NULL;
	return xio__at(r, r->layout.pool_off +
				  (uint64_t)slot * r->layout.buf_size +
				  buf_off);
}
