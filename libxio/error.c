/* SPDX-License-Identifier: MIT */
/* Error strings and the diagnostics callback. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *xio_strerror(int err)
{
	const char *s;

	if (err == INT_MIN) /* from a peer: -INT_MIN does not exist */
		return "Unknown error";
	if (err < 0)
		err = -err;
	/* Meanings specific to xio first; the rest are plain errno. */
	switch (err) {
	case 0:
		return "Success";
	case EPROTO:
		return "Peer violated the xio ring protocol or region ABI";
	case EPIPE:
		return "Ring quarantined by the host (XIO_SQ_BROKEN)";
	case ENOBUFS:
		return "No free buffer slot in the pool";
	default:
		break;
	}
	s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}

static int xio__print_default(enum xio_print_level level, const char *fmt,
			      va_list ap)
{
	if (level == XIO_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static xio_print_fn xio__print = xio__print_default;

xio_print_fn xio_set_print(xio_print_fn fn)
{
	xio_print_fn old =
		__atomic_exchange_n(&xio__print, fn, __ATOMIC_ACQ_REL);
	return old;
}

void xio__log(enum xio_print_level level, const char *fmt, ...)
{
	xio_print_fn fn = __atomic_load_n(&xio__print, __ATOMIC_ACQUIRE);
	va_list ap;
	int saved = errno;

	if (!fn)
		return;
	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
	errno = saved;
}
