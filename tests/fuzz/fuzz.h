/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets (docs/fuzzing.md).  Needs _GNU_SOURCE. */
#ifndef XIO_TESTS_FUZZ_H
#define XIO_TESTS_FUZZ_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * The harness itself failed (its setup, or a check of what the code under
 * test did): abort(), so that libFuzzer stops, reports it and keeps the
 * input.  The library's own diagnostics are silenced with
 * xio_set_print(NULL): inputs are meant to be refused.
 */
__attribute__((noreturn)) static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s (errno %d)\n", program_invocation_short_name,
		what, errno);
	abort();
}

#endif
