/* SPDX-License-Identifier: MIT */
/*
 * Fault injection sites (built with -DXIO_FAULT_INJECT=ON only; fault.h).
 *
 * Decisions are a pure function of (seed, site, call number), so a run is
 * reproducible for a given order of calls and any thread may ask without a
 * lock: the call number is one atomic increment per site.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "fault.h"
#include "internal.h"

#define MAX_KINDS 4

struct site {
	const char *name;
	int kinds[MAX_KINDS]; /* what a random pick chooses from; 0 ends */
	double prob;	      /* per call, when nth == 0 */
	uint64_t nth;	      /* fail only this call (1-based) */
	int kind;	      /* forced kind, or 0 = random */
	bool on;
	uint64_t calls, injected, retried; /* atomic */
};

static struct site sites[XIO_FAULT__NR] = {
	[XIO_FAULT_SUBMIT] = {"submit", {-EAGAIN, -ENOMEM, XIO_FAULT_SHORT}},
	[XIO_FAULT_CQE] = {"cqe", {-EAGAIN, -ENOMEM, -EIO, XIO_FAULT_SHORT}},
	[XIO_FAULT_MEMFD] = {"memfd", {-ENOMEM, -EMFILE}},
	[XIO_FAULT_MMAP] = {"mmap", {-ENOMEM}},
	[XIO_FAULT_FTRUNCATE] = {"ftruncate", {-ENOSPC, -ENOMEM}},
	[XIO_FAULT_EVENTFD] = {"eventfd", {-EMFILE, -ENOMEM}},
	[XIO_FAULT_CQ_OVERFLOW] = {"cq_overflow", {0}},
	[XIO_FAULT_XSK] = {"xsk", {-ENOMEM, -EMFILE}},
	[XIO_FAULT_XSK_FILL] = {"xsk_fill", {-ENOBUFS}},
	[XIO_FAULT_PKT_RX] = {"pkt_rx", {-ENOBUFS}},
	[XIO_FAULT_PKT_TX] = {"pkt_tx", {-EAGAIN, -ENOBUFS}},
	[XIO_FAULT_ILOG] = {"ilog", {-ENOSPC, -EMFILE, -ENOMEM}},
	[XIO_FAULT_HANDOFF] = {"handoff", {-ENOBUFS}},
	[XIO_FAULT_HOP] = {"hop", {-ENOMEM, -EMFILE}},
};

static const struct {
	const char *name;
	int kind;
} kind_names[] = {
	{"EAGAIN", -EAGAIN},
	{"ENOMEM", -ENOMEM},
	{"EIO", -EIO},
	{"EMFILE", -EMFILE},
	{"ENOSPC", -ENOSPC},
	{"ENOBUFS", -ENOBUFS},
	{"short", XIO_FAULT_SHORT},
	{"partial", XIO_FAULT_SHORT},
};

static uint64_t seed = 1;
/* This thread's injections: how many, and the sites of the last few. */
#define TL_SITES 8
static __thread uint64_t tl_injected;
static __thread uint8_t tl_site[TL_SITES];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint64_t mix(uint64_t x)
{
	/* splitmix64 finalizer */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int parse_kind(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(s, kind_names[i].name))
			return kind_names[i].kind;
	return 0;
}

/* One "site=P[:ERR]" or "site=#N[:ERR]" or "seed=N" item. */
static void parse_item(char *item)
{
	char *val = strchr(item, '='), *err, *end;
	struct site *s = NULL;
	size_t i;

	if (!val)
		goto bad;
	*val++ = '\0';
	if (!strcmp(item, "seed")) {
		seed = strtoull(val, NULL, 0);
		return;
	}
	for (i = 0; i < XIO_FAULT__NR; i++)
		if (!strcmp(item, sites[i].name))
			s = &sites[i];
	if (!s)
		goto bad;
	err = strchr(val, ':');
	if (err) {
		*err++ = '\0';
		s->kind = parse_kind(err);
		if (!s->kind)
			goto bad;
	}
	if (val[0] == '#') {
		s->nth = strtoull(val + 1, &end, 10);
		if (*end || !s->nth)
			goto bad;
	} else {
		s->prob = strtod(val, &end);
		if (*end || s->prob < 0 || s->prob > 1)
			goto bad;
	}
	s->on = s->nth || s->prob > 0;
	return;
bad:
	pr_warn("xio: XIO_FAULTS: ignoring bad item '%s' (site=P[:ERR], site=#N[:ERR], seed=N)\n",
		item);
}

static void faults_init(void)
{
	const char *env = getenv("XIO_FAULTS");
	char *copy, *tok, *save = NULL;

	if (!env || !*env)
		return;
	copy = strdup(env);
	if (!copy)
		return;
	for (tok = strtok_r(copy, ",;", &save); tok;
	     tok = strtok_r(NULL, ",;", &save))
		parse_item(tok);
	free(copy);
}

bool xio__fault_enabled(enum xio_fault_site site)
{
	pthread_once(&once, faults_init);
	return sites[site].on;
}

int xio__fault(enum xio_fault_site site)
{
	struct site *s = &sites[site];
	uint64_t n, h;
	int nk, kind;

	if (!xio__fault_enabled(site))
		return 0;
	n = __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
	h = mix(seed ^ ((uint64_t)site << 56) ^ n);
	if (s->nth ? n != s->nth : (double)(h >> 11) * 0x1.0p-53 >= s->prob)
		return 0;
	kind = s->kind;
	if (!kind) {
		for (nk = 0; nk < MAX_KINDS && s->kinds[nk]; nk++)
			;
		if (!nk)
			return 0;
		kind = s->kinds[mix(h) % (uint64_t)nk];
	}
	__atomic_add_fetch(&s->injected, 1, __ATOMIC_RELAXED);
	tl_site[tl_injected++ % TL_SITES] = (uint8_t)site;
	return kind;
}

uint64_t xio__fault_mark(void)
{
	return tl_injected;
}

void xio__fault_absorbed(uint64_t mark)
{
	/* A fallback follows one failed attempt: far fewer than TL_SITES. */
	if (tl_injected - mark > TL_SITES)
		mark = tl_injected - TL_SITES;
	for (; mark < tl_injected; mark++)
		xio__fault_retried(
			(enum xio_fault_site)tl_site[mark % TL_SITES]);
}

void xio__fault_stats(enum xio_fault_site site, uint64_t *injected,
		      uint64_t *retried)
{
	*injected = __atomic_load_n(&sites[site].injected, __ATOMIC_RELAXED);
	*retried = __atomic_load_n(&sites[site].retried, __ATOMIC_RELAXED);
}

void xio__fault_retried(enum xio_fault_site site)
{
	__atomic_add_fetch(&sites[site].retried, 1, __ATOMIC_RELAXED);
}

void xio__fault_count(enum xio_fault_site site)
{
	__atomic_add_fetch(&sites[site].injected, 1, __ATOMIC_RELAXED);
}

/*
 * A failed or partial submit leaves the SQEs in the SQ ring: the poller
 * submits whatever is ready on its next turn (or before it sleeps), which
 * is the retry counted here.
 */
int xio__fault_submit(struct io_uring *ring)
{
	unsigned int unflushed = ring->sq.sqe_tail - ring->sq.sqe_head, held;
	int f = xio__fault(XIO_FAULT_SUBMIT), ret;

	if (!f)
		return io_uring_submit(ring);
	xio__fault_retried(XIO_FAULT_SUBMIT);
	if (f < 0)
		return f;
	/* Partial: hide the newer half of what is queued from the flush. */
	held = unflushed / 2;
	ring->sq.sqe_tail -= held;
	ret = io_uring_submit(ring);
	ring->sq.sqe_tail += held;
	return ret;
}

int xio__fault_cqe_res(int res)
{
	int f = xio__fault(XIO_FAULT_CQE);

	if (f != XIO_FAULT_SHORT)
		return f ? f : res;
	/* Short transfer: half of what was done; nothing done is an -EIO. */
	return res > 1 ? res / 2 : -EIO;
}

int xio__fault_report(const char *path)
{
	FILE *f = fopen(path, "we");
	size_t i;
	int err = 0;

	if (!f)
		return -errno;
	for (i = 0; i < XIO_FAULT__NR; i++)
		fprintf(f, "%s %llu %llu %llu\n", sites[i].name,
			(unsigned long long)__atomic_load_n(&sites[i].injected,
							    __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&sites[i].retried,
							    __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&sites[i].calls,
							    __ATOMIC_RELAXED));
	if (fclose(f))
		err = -errno;
	return err;
}
