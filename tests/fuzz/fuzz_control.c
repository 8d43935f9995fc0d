/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: xiod's side of the control protocol -- daemon/control.c
 * compiled in with -DXIOD_FUZZ, its framing checks (size, magic, version,
 * type, length, fd count) and every request handler, fed messages whose
 * bytes and SCM_RIGHTS fds the fuzzer chooses, from an administrator or a
 * guest.  Pollers, steering and VM tenants are stubs here: a tenant is
 * drained as soon as it is detached.  Input:
 *
 *   byte 0   bit 0: the peer is the administrator (else a guest uid)
 *   records  [u8 fdspec][u8 flags][u16 len][len bytes], one message each:
 *            fdspec bits 0-2 = fds attached (0..7, 4 is the most xiod
 *            reads), bits 3-7 pick their kinds (file, /dev/null, pipe,
 *            socket, eventfd, directory, O_PATH, memfd); flags bit 0
 *            makes the header right (magic, version, len = bytes sent)
 *
 * A TARGET_ADD's path is replaced by one of a few harmless ones (xiod opens
 * it): the fuzzer must not make a root process open devices.
 *
 * Checked: no crash, no sanitizer report or leak; no fd leaked (as many
 * open after every input as before); every reply is a well-formed
 * header of the request's reply type or XIO_MSG_ERROR, with a status of 0
 * or a -errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"
#include "vm_doorbell.h"
#include "vm_tenant.h"
#include "xiod.h"
#include "xtest_proc.h"
#include "fuzz.h"

#define MAX_SEND 7

/* ---- what xiod's other files would provide -------------------------------- */

struct xiod_config cfg = {
	.socket_path = "/nonexistent/xiod-fuzz.sock",
	.nr_pollers = 1,
	.budget_entries = 64,
	.budget_bytes = 1 << 20,
	.inflight_cap = 64,
	.max_tenants = 4,
	.max_guest_tenants = 2,
	/* Regions are populated when made: keep them cheap. */
	.max_region_bytes = 1 << 20,
};
int xiod_log_level = LOG_ERR_;
static struct poller the_poller;
struct poller *pollers = &the_poller;

void xiod_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

bool log_ratelimit(void)
{
	return true; /* the log lines are formatted, then dropped */
}

uint64_t acct_ns(uint64_t cycles)
{
	return cycles;
}

void poller_send(struct poller *p, enum pcmd_type type, struct tenant *t)
{
	(void)p;
	if (type == XIO_PCMD_DEL)
		control_tenant_drained(t); /* nothing ever in flight */
}

int steering_request(const struct xio_msg_steer *m, struct tenant *t,
		     struct xio_msg_steer_reply *r)
{
	(void)m;
	(void)t;
	(void)r;
	return -EOPNOTSUPP;
}
void steering_stats(struct xio_tenant_stats *w, uint32_t id)
{
	(void)w;
	(void)id;
}
void steering_tenant_gone(struct tenant *t)
{
	(void)t;
}
void steering_close(void)
{
}
void steering_restore(void)
{
}
void steering_tenant_back(struct tenant *t)
{
	(void)t;
}
void steering_forget(uint32_t id)
{
	(void)id;
}
void steering_state_remove(void)
{
}
uint64_t pktio_handoff_drops(uint32_t id)
{
	(void)id;
	return 0;
}
int state_lock_fd = -1; /* no --state-dir: no restart barrier */
int rings_lock_fd = -1;
int metrics_fd(void)
{
	return -1;
}
void metrics_events(void)
{
}
void metrics_close(void)
{
}
int vm_tenant_init(void)
{
	return 0;
}
int vm_tenant_region(const struct xio_msg_vm_tenant *m, struct tenant *t,
		     struct xio_region **r)
{
	(void)m;
	(void)t;
	(void)r;
	return -EOPNOTSUPP; /* would create files at the fuzzer's paths */
}
void vm_tenant_forget(struct tenant *t)
{
	(void)t;
}
void vm_tenant_keep_file(struct tenant *t)
{
	(void)t;
}
bool vm_tenant_bad(struct tenant *t, const char **why)
{
	(void)t;
	(void)why;
	return false;
}
int vm_tenant_tick_ms(void)
{
	return -1;
}
int vm_doorbell_fd(void)
{
	return -1;
}
void vm_doorbell_events(void)
{
}
int vm_doorbell_listen(struct tenant *t, const struct xio_msg_vm_tenant *m)
{
	(void)t;
	(void)m;
	return -EOPNOTSUPP; /* would bind sockets at the fuzzer's paths */
}
void vm_doorbell_forget(struct tenant *t)
{
	(void)t;
}

/* ---- the harness ---------------------------------------------------------- */

static char file_path[64];

static void cleanup(void)
{
	unlink(file_path);
}

static void setup(void)
{
	int fd, sv[2];

	xio_set_print(NULL); /* silent */
	snprintf(file_path, sizeof(file_path), "/tmp/xio-fuzz-control-%d.img",
		 (int)getpid());
	fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20))
		die("target file");
	close(fd);
	atexit(cleanup);
	/* An empty session first: control.c's own fds exist from now on. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	control_fuzz_session(sv[0], 0, 0);
	close(sv[1]);
}

/* One fd of kind @k (the sender's copy, closed after sending), or -1. */
static int make_fd(unsigned int k, int *extra)
{
	int p[2], fd;

	*extra = -1;
	switch (k & 7) {
	case 0:
		return open(file_path, O_RDWR | O_CLOEXEC);
	case 1:
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	case 2:
		if (pipe2(p, O_CLOEXEC))
			return -1;
		*extra = p[1];
		return p[0];
	case 3:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
			return -1;
		*extra = p[1];
		return p[0];
	case 4:
		return eventfd(0, EFD_CLOEXEC);
	case 5:
		return open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	case 6:
		return open(file_path, O_PATH | O_CLOEXEC);
	default:
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, 1 << 16)) {
			close(fd);
			return -1;
		}
		return fd;
	}
}

/* The paths a TARGET_ADD may name: none of them a device to fear. */
static void safe_path(struct xio_msg_target_add *m)
{
	static const char *const paths[] = {
		"/dev/null", "/nonexistent/disk", "relative.img", "/tmp", "",
	};
	unsigned int k = (unsigned char)m->path[0] % 6;

	memset(m->path, 0, sizeof(m->path));
	snprintf(m->path, sizeof(m->path), "%s", k == 5 ? file_path : paths[k]);
}

/* Every reply: a right header, a reply type, an errno-like status. */
static void check_replies(int sock, const uint16_t *types, unsigned int n)
{
	static char buf[XIO_MSG_MAX_SIZE + 1];
	int fds[XIO_MSG_MAX_FDS + 4], flags;
	unsigned int nfds, i;
	long got;

	while ((got = xio__msg_recv(sock, buf, sizeof(buf), fds,
				    XIO_MSG_MAX_FDS + 4, &nfds, &flags)) > 0) {
		const struct xio_msg_hdr *h = (const void *)buf;
		bool known = false;

		for (i = 0; i < nfds; i++)
			close(fds[i]);
		if ((size_t)got < sizeof(struct xio_msg_status) ||
		    h->magic != XIO_PROTO_MAGIC ||
		    h->version != XIO_PROTO_VERSION || h->len != (size_t)got)
			die("malformed reply");
		for (i = 0; i < n; i++)
			known |= h->type == (types[i] | XIO_MSG_REPLY);
		if (h->type == XIO_MSG_ERROR) {
			int st = ((const struct xio_msg_status *)buf)->status;

			if (st >= 0 || st < -4095)
				die("error reply without a -errno");
		} else if (!known) {
			die("reply of a type no request asked for");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t msg[XIO_MSG_MAX_SIZE + 64];
	uint16_t types[64];
	unsigned int nmsgs = 0;
	int sv[2], nfds0;
	uid_t uid;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1)
		return 0;
	uid = (data[0] & 1) ? geteuid() : 65534;
	data++;
	size--;
	nfds0 = proc_fd_count(getpid());
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       0, sv))
		die("socketpair");
	while (size >= 4 && nmsgs < 64) {
		unsigned int spec = data[0], flags = data[1], nfds, i;
		size_t len = (size_t)data[2] | (size_t)data[3] << 8;
		int fds[MAX_SEND], extra[MAX_SEND];
		struct xio_msg_hdr *h = (void *)msg;

		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		if (len > sizeof(msg))
			len = sizeof(msg);
		memcpy(msg, data, len);
		data += len;
		size -= len;
		if ((flags & 1) && len >= sizeof(*h)) {
			h->magic = XIO_PROTO_MAGIC;
			h->version = XIO_PROTO_VERSION;
			h->len = (uint32_t)len;
		}
		if (len >= sizeof(struct xio_msg_target_add) &&
		    h->type == XIO_MSG_TARGET_ADD)
			safe_path((struct xio_msg_target_add *)msg);
		types[nmsgs] = len >= sizeof(*h) ? h->type : 0;
		nfds = spec & 7;
		for (i = 0; i < nfds; i++) {
			fds[i] = make_fd((spec >> 3) + 3 * i, &extra[i]);
			if (fds[i] < 0)
				die("making an fd");
		}
		if (xio__msg_send(sv[1], msg, len, fds, nfds) == 0)
			nmsgs++;
		for (i = 0; i < nfds; i++) {
			close(fds[i]);
			if (extra[i] >= 0)
				close(extra[i]);
		}
	}
	control_fuzz_session(sv[0], uid, nmsgs); /* closes sv[0] */
	check_replies(sv[1], types, nmsgs);
	close(sv[1]);
	if (proc_fd_count(getpid()) != nfds0)
		die("fd leaked");
	return 0;
}
