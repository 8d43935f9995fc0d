/* SPDX-License-Identifier: MIT */
/* Minimal test harness: exit 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE). */
#ifndef XIO_XTEST_H
#define XIO_XTEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XT_SKIP 77

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,          \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a != _b) {                                                \
			fprintf(stderr,                                        \
				"FAIL %s:%d: %s == %s (%lld != %lld)\n",       \
				__FILE__, __LINE__, #a, #b, _a, _b);           \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define SKIP(...)                                                              \
	do {                                                                   \
		printf("SKIP: ");                                              \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		exit(XT_SKIP);                                                 \
	} while (0)

#endif
