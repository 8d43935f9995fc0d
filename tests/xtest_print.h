/* SPDX-License-Identifier: MIT */
/*
 * Capture libxio's diagnostics for tests: install with xt_capture_start(),
 * inspect the accumulated text (xt_log) and the level of the last message.
 */
#ifndef XIO_XTEST_PRINT_H
#define XIO_XTEST_PRINT_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xio/xio.h>

static char xt_log[16384];
static size_t xt_log_len;
static unsigned int xt_nr_warn, xt_nr_info;

static int xt_capture(enum xio_print_level level, const char *fmt, va_list ap)
{
	int n;

	if (level == XIO_WARN)
		xt_nr_warn++;
	else if (level == XIO_INFO)
		xt_nr_info++;
	if (xt_log_len >= sizeof(xt_log) - 1)
		return 0;
	n = vsnprintf(xt_log + xt_log_len, sizeof(xt_log) - xt_log_len, fmt,
		      ap);
	if (n > 0) {
		xt_log_len += (size_t)n;
		if (xt_log_len > sizeof(xt_log) - 1)
			xt_log_len = sizeof(xt_log) - 1;
	}
	return n;
}

static inline void xt_log_clear(void)
{
	xt_log[0] = '\0';
	xt_log_len = 0;
	xt_nr_warn = 0;
	xt_nr_info = 0;
}

static inline void xt_capture_start(void)
{
	xt_log_clear();
	xio_set_print(xt_capture);
}

/* Whether the captured text contains @s. */
static inline int xt_log_has(const char *s)
{
	return strstr(xt_log, s) != NULL;
}

#endif
