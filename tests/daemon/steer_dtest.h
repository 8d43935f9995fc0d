/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the steering tests that drive a private xiod through xioctl
 * (test_xiod_steer, test_xiod_pktio): the xiod `d`, xioctl runs, the
 * counters of `xioctl stats --json`, whether an interface has XDP.
 */
#ifndef XIO_STEER_DTEST_H
#define XIO_STEER_DTEST_H

#include "dtest.h"
#include "../bpf/steer_util.h"

static struct xiod d;

/* Run xioctl with @args (a shell fragment) on our xiod; its exit status. */
static int xioctl(const char *args)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s", XIOCTL_PATH, d.sock,
		 args);
	st = system(cmd);
	CHECK(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Output of a shell command (at most @n - 1 bytes). */
static void capture(const char *cmd, char *out, size_t n)
{
	FILE *f = popen(cmd, "r");
	size_t len;

	CHECK(f);
	len = fread(out, 1, n - 1, f);
	out[len] = 0;
	CHECK_EQ(pclose(f), 0);
}

/* @field of tenant @name in `xioctl stats --json`. */
static unsigned long long stat_of(const char *name, const char *field)
{
	static char buf[1 << 16];
	char cmd[512], key[96];
	const char *p, *f;

	snprintf(cmd, sizeof(cmd), "%s --socket %s stats --json", XIOCTL_PATH,
		 d.sock);
	capture(cmd, buf, sizeof(buf));
	snprintf(key, sizeof(key), "\"name\":\"%s\"", name);
	p = strstr(buf, key);
	CHECK(p);
	snprintf(key, sizeof(key), "\"%s\":", field);
	f = strstr(p, key);
	CHECK(f);
	return strtoull(f + strlen(key), NULL, 10);
}

/* Wait (10 s at most) for @field of @name to reach @want, exactly. */
static void wait_stat(const char *name, const char *field,
		      unsigned long long want)
{
	uint64_t deadline = dt_now_ms() + 10000;

	while (stat_of(name, field) < want) {
		CHECK(dt_now_ms() < deadline);
		usleep(20000);
	}
	CHECK_EQ(stat_of(name, field), want);
}

static bool has_xdp(const char *ifname)
{
	char cmd[128], out[4096];

	snprintf(cmd, sizeof(cmd), "ip link show %s", ifname);
	capture(cmd, out, sizeof(out));
	return strstr(out, " xdp") != NULL;
}

#endif
