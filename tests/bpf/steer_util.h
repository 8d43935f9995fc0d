/* SPDX-License-Identifier: MIT */
/* Helpers shared by the steering tests. */
#ifndef XIO_TEST_STEER_UTIL_H
#define XIO_TEST_STEER_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xio/steer.h>
#include <xio/xio.h>

#include "../xtest.h"

/* Root, and a kernel that loads the program: otherwise a SKIP line. */
static inline struct xio_steer *steer_open_or_skip(void)
{
	struct xio_steer *s = NULL;
	int err;

	if (geteuid() != 0)
		SKIP("steering tests need root (CAP_BPF, CAP_NET_ADMIN)");
	err = xio_steer_open(NULL, &s);
	if (err == -EPERM || err == -ENOSYS || err == -EOPNOTSUPP ||
	    err == -EINVAL)
		SKIP("cannot load the steering BPF program here: %s",
		     xio_strerror(err));
	if (err) {
		fprintf(stderr, "FAIL xio_steer_open: %s\n", xio_strerror(err));
		exit(1);
	}
	return s;
}

static inline void mac_of(uint8_t mac[6], uint32_t tenant, uint32_t n)
{
	/* locally administered unicast 02:78:69:TT:TT:NN */
	mac[0] = 0x02;
	mac[1] = 0x78;
	mac[2] = 0x69;
	mac[3] = (uint8_t)(tenant >> 8);
	mac[4] = (uint8_t)tenant;
	mac[5] = (uint8_t)n;
}

#endif
