/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (build option -DXIO_FAULT_INJECT=ON, docs/security.md).
 *
 * Named sites in libxio and xiod ask xio__fault*() whether to fail this
 * call; XIO_FAULTS in the environment says which sites fail and how often:
 *
 *   XIO_FAULTS="cqe=0.01,submit=0.05:EAGAIN,memfd=#3;seed=42"
 *
 * "site=P" fails each call with probability P (0..1), "site=#N" fails only
 * the Nth call; ":ERR" picks the error (EAGAIN, ENOMEM, EIO, EMFILE, ENOSPC,
 * ENOBUFS or "short": a short transfer / partial submit), else a random one of the
 * site's kinds.  Every injection is counted per site, and so is each one
 * the daemon turned into a retry; xiod writes the counts at exit to the
 * file named by XIO_FAULTS_REPORT.
 *
 * Without the option every hook below is a no-op the compiler removes.
 */
#ifndef XIO_FAULT_H
#define XIO_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum xio_fault_site {
	XIO_FAULT_SUBMIT,    /* io_uring_submit(): -EAGAIN, -ENOMEM, partial */
	XIO_FAULT_CQE,	     /* an op's io_uring result: -errno or short */
	XIO_FAULT_MEMFD,     /* memfd_create() of a region */
	XIO_FAULT_MMAP,	     /* mmap() of a region */
	XIO_FAULT_FTRUNCATE, /* ftruncate() sizing a region memfd */
	XIO_FAULT_EVENTFD,   /* a tenant's kick/notify eventfd */
	XIO_FAULT_CQ_OVERFLOW, /* tiny poller CQ: overflow flushes counted */
	XIO_FAULT_XSK,	       /* an AF_XDP socket's UMEM or socket */
	XIO_FAULT_XSK_FILL,    /* refilling an AF_XDP fill ring: retried */
	XIO_FAULT_PKT_RX,      /* a steered frame finds no RX buffer: a drop */
	XIO_FAULT_PKT_TX,      /* a PKT_SEND's packet socket: its error CQE */
	XIO_FAULT_ILOG,	       /* a tenant's in-flight log: create or reopen */
	XIO_FAULT_HANDOFF,     /* a hand-off ring between pollers full: drop */
	XIO_FAULT_HOP,	       /* the packet socket read after the CPU hop */
	XIO_FAULT__NR
};

/* xio__fault() result for a short transfer / partial submit. */
#define XIO_FAULT_SHORT 1

#ifdef XIO_FAULT_INJECT
struct io_uring;

/* 0: go ahead; -errno: fail with it; XIO_FAULT_SHORT.  Counts injections. */
int xio__fault(enum xio_fault_site site);
/* Whether @site is configured at all. */
bool xio__fault_enabled(enum xio_fault_site site);
/* An event at @site the daemon recovered from by retrying (counted). */
void xio__fault_retried(enum xio_fault_site site);
/* An injection made by the caller itself (CQ overflow): counted. */
void xio__fault_count(enum xio_fault_site site);
/* Injections this thread made so far (a mark for xio__fault_absorbed()). */
uint64_t xio__fault_mark(void);
/* This thread's injections since @mark were absorbed by a fallback (a
 * hugetlb region made on 4 KiB pages): counted as retried at their sites. */
void xio__fault_absorbed(uint64_t mark);
/* The counts of @site (tests). */
void xio__fault_stats(enum xio_fault_site site, uint64_t *injected,
		      uint64_t *retried);
/* io_uring_submit() through the submit site: failures are retried later. */
int xio__fault_submit(struct io_uring *ring);
/* An op's result through the CQE site (NOPs never reach io_uring). */
int xio__fault_cqe_res(int res);
/* Write "site injected retried calls" lines to @path; 0 or -errno. */
int xio__fault_report(const char *path);

/* A failing syscall returns -1 with errno set (region/daemon setup). */
#define XIO_FAULT_SYSCALL(site, call)                                          \
	({                                                                     \
		int xio_f_ = xio__fault(site);                                 \
		xio_f_ < 0 ? (errno = -xio_f_, -1) : (call);                   \
	})
#define XIO_FAULT_MMAP_AT(site, call)                                          \
	({                                                                     \
		int xio_f_ = xio__fault(site);                                 \
		xio_f_ < 0 ? (errno = -xio_f_, MAP_FAILED) : (call);           \
	})
#define XIO_FAULT_MMAP_CALL(call) XIO_FAULT_MMAP_AT(XIO_FAULT_MMAP, call)
#else
#define xio__fault_enabled(site) ((void)(site), false)
#define xio__fault_retried(site) ((void)(site))
#define xio__fault_count(site) ((void)(site))
#define xio__fault(site) ((void)(site), 0)
#define xio__fault_mark() ((uint64_t)0)
#define xio__fault_absorbed(mark) ((void)(mark))
#define xio__fault_submit(ring) io_uring_submit(ring)
#define xio__fault_cqe_res(res) (res)
#define XIO_FAULT_SYSCALL(site, call) (call)
#define XIO_FAULT_MMAP_CALL(call) (call)
#define XIO_FAULT_MMAP_AT(site, call) ((void)(site), (call))
#endif

#endif /* XIO_FAULT_H */
