/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the client side of the control protocol (libxio/proto.c
 * and its callers) against a daemon whose replies are the fuzzer's bytes.
 * A server thread answers each request the library sends with the next
 * reply record of the input, with as many fds attached (SCM_RIGHTS) as the
 * record says, and hangs up when the records run out.  Input:
 *
 *   byte 0   scenario: 0 raw xio__rpc(), 1 tenant list (paged), 2 attach
 *   byte 1   with 0: reply type index; with 2: queue pairs asked for
 *   byte 2   max fds the caller accepts (raw)
 *   records  [u8 nfds][u8 flags][u16 len][len bytes]: flags bit 0 makes the
 *            header right (magic, version, seq echoed, len = bytes sent),
 *            bit 1 makes the first fd a sealed region memfd, bit 2 puts the
 *            fds in two SCM_RIGHTS messages (the library must count both)
 *
 * Checked: no crash or out-of-bounds access, no fd leaked or closed twice
 * (the lowest free fd is the same after every input, and every fd returned
 * to the caller is open), fd counts never exceed what the caller allows,
 * every status returned is 0 or a -errno (>= -4095) whatever the reply said.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#include "proto.h"
#include "fuzz.h"

#define MAX_SEND_FDS (XIO_MSG_MAX_FDS + 4)

static const uint32_t rep_types[] = {
	XIO_MSG_ATTACH | XIO_MSG_REPLY,
	XIO_MSG_DETACH | XIO_MSG_REPLY,
	XIO_MSG_TENANT_LIST | XIO_MSG_REPLY,
	XIO_MSG_TARGET_ADD | XIO_MSG_REPLY,
	XIO_MSG_TARGET_ADD_FD | XIO_MSG_REPLY,
	XIO_MSG_TARGET_LIST | XIO_MSG_REPLY,
	XIO_MSG_STATS | XIO_MSG_REPLY,
	XIO_MSG_POLLER_STATS | XIO_MSG_REPLY,
	XIO_MSG_QUOTA | XIO_MSG_REPLY,
	XIO_MSG_VM_TENANT | XIO_MSG_REPLY,
	XIO_MSG_ERROR,
	0x7777,
};
#define NR_REP_TYPES (sizeof(rep_types) / sizeof(rep_types[0]))

static int evfd = -1;
static char sock_path[108];
static int listen_fd = -1;

static void cleanup(void)
{
	unlink(sock_path);
}

static void setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	xio_set_print(NULL); /* silent */
	evfd = eventfd(0, EFD_CLOEXEC);
	if (evfd < 0)
		die("eventfd");
	snprintf(sock_path, sizeof(sock_path), "/tmp/xio-fuzz-proto-%d.sock",
		 (int)getpid());
	strcpy(sa.sun_path, sock_path);
	unlink(sock_path);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 ||
	    bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(listen_fd, 4))
		die("listening socket");
	atexit(cleanup);
}

/* A sealed memfd holding a fresh region of @nr_qpairs queue pairs. */
static int region_fd(uint32_t nr_qpairs)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	struct xio_region *r;
	int fd;

	o.params.nr_qpairs = nr_qpairs;
	o.params.sq_entries = 2;
	o.params.buf_size = 64;
	o.params.nr_bufs = 1;
	if (xio_region_create(&o, &r))
		return -1;
	fd = fcntl(xio_region_fd(r), F_DUPFD_CLOEXEC, 0);
	xio_region_destroy(r);
	return fd;
}

struct server {
	int sock;
	const uint8_t *p;
	size_t n;
	uint32_t nr_qpairs;
};

static void send_fds(int sock, const void *msg, size_t len, const int *fds,
		     unsigned int nfds, unsigned int split)
{
	union {
		struct cmsghdr align;
		char buf[2 * CMSG_SPACE(sizeof(int) * MAX_SEND_FDS)];
	} cb;
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	unsigned int first = split && nfds > 1 ? nfds / 2 : nfds;
	struct cmsghdr *c;

	if (nfds) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * first);
		if (first < nfds)
			mh.msg_controllen +=
				CMSG_SPACE(sizeof(int) * (nfds - first));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * first);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * first);
		if (first < nfds) {
			c = CMSG_NXTHDR(&mh, c);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * (nfds - first));
			memcpy(CMSG_DATA(c), fds + first,
			       sizeof(int) * (nfds - first));
		}
	}
	/* Errors (the client gone, a message too large) are fine. */
	(void)sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/* Answer each request with the next record; hang up after the last. */
static void *serve(void *arg)
{
	struct server *s = arg;
	static char req[XIO_MSG_MAX_SIZE + 1];
	static uint8_t rep[4 * XIO_MSG_MAX_SIZE];
	int fds[MAX_SEND_FDS];

	if (s->sock < 0) {
		s->sock = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (s->sock < 0)
			die("accept");
	}
	while (s->n >= 4) {
		unsigned int nfds = s->p[0] % (MAX_SEND_FDS + 1), i;
		unsigned int flags = s->p[1];
		size_t len = (size_t)s->p[2] | (size_t)s->p[3] << 8;
		struct xio_msg_hdr h;
		ssize_t got;

		s->p += 4;
		s->n -= 4;
		if (len > s->n)
			len = s->n;
		if (len > sizeof(rep))
			len = sizeof(rep);
		got = recv(s->sock, req, sizeof(req), 0);
		if (got <= 0)
			break;
		memset(rep, 0, sizeof(rep));
		memcpy(rep, s->p, len);
		s->p += len;
		s->n -= len;
		if ((flags & 1) && len >= sizeof(h) &&
		    (size_t)got >= sizeof(h)) {
			memcpy(&h, rep, sizeof(h));
			h.magic = XIO_PROTO_MAGIC;
			h.version = XIO_PROTO_VERSION;
			h.seq = ((struct xio_msg_hdr *)req)->seq;
			h.len = (uint32_t)len;
			memcpy(rep, &h, sizeof(h));
		}
		for (i = 0; i < nfds; i++) {
			if (i == 0 && (flags & 2))
				fds[i] = region_fd(s->nr_qpairs);
			else
				fds[i] = fcntl(evfd, F_DUPFD_CLOEXEC, 0);
			if (fds[i] < 0)
				die("making fds to send");
		}
		send_fds(s->sock, rep, len, fds, nfds, flags & 4);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
	}
	shutdown(s->sock, SHUT_WR);
	/* Drain until the client hangs up, so it never blocks on a send. */
	while (recv(s->sock, req, sizeof(req), 0) > 0)
		;
	return NULL;
}

static int lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD, 0);

	if (fd < 0)
		die("dup");
	close(fd);
	return fd;
}

static void raw_rpc(int sock, uint32_t rep_type, unsigned int max_rfds)
{
	struct xio_msg_stats req;
	static char rep[XIO_MSG_MAX_SIZE + 1];
	int rfds[XIO_MSG_MAX_FDS];
	unsigned int nrfds = 12345, i;
	int err;

	memset(&req, 0, sizeof(req));
	xio__msg_hdr_init(&req.hdr, XIO_MSG_STATS, 0);
	err = xio__rpc(sock, &req, NULL, 0, rep, rep_type, rfds, max_rfds,
		       &nrfds);
	if (err > 0 || err < -4095)
		die("xio__rpc returned a status that is no -errno");
	if (nrfds > max_rfds)
		die("more fds returned than the caller has room for");
	for (i = 0; i < nrfds; i++)
		if (close(rfds[i]))
			die("an fd returned by xio__rpc was not open");
}

static void tenant_list(int sock, uint32_t max)
{
	struct xio_tenant_info out[40];
	uint32_t total = 0;
	int n;

	n = xio__admin_tenants_fd(sock, 0, out, max, &total);
	if (n > (int)max || n < -4095)
		die("more tenants than asked for, or no -errno");
	for (int i = 0; i < n; i++)
		if (!memchr(out[i].name, 0, sizeof(out[i].name)))
			die("tenant name not terminated");
}

static void attach(uint32_t nr_qpairs)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t = NULL;
	int err;

	o.name = "fuzz";
	o.params.nr_qpairs = nr_qpairs;
	o.params.sq_entries = 2;
	o.params.buf_size = 64;
	o.params.nr_bufs = 1;
	o.timeout_ms = 5000;
	err = xio_client_attach(sock_path, &o, &t);
	if (err > 0 || err < -4095)
		die("xio_client_attach returned no -errno");
	if (err == 0) {
		if (!t || !xio_tenant_region(t))
			die("attach succeeded without a tenant");
		xio_client_close(t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server s = {.sock = -1};
	int sv[2], before, scen;
	pthread_t th;

	if (evfd < 0)
		setup();
	if (size < 3)
		return 0;
	before = lowest_free_fd();
	scen = data[0] % 3;
	s.p = data + 3;
	s.n = size - 3;
	s.nr_qpairs = 1 + data[1] % 3;
	if (scen == 2) {
		/* serve() accepts the library's connection. */
		if (pthread_create(&th, NULL, serve, &s))
			die("pthread_create");
		attach(s.nr_qpairs);
		pthread_join(th, NULL);
		close(s.sock);
		if (lowest_free_fd() != before)
			die("fd leaked");
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	s.sock = sv[1];
	if (pthread_create(&th, NULL, serve, &s))
		die("pthread_create");
	if (scen == 0)
		raw_rpc(sv[0], rep_types[data[1] % NR_REP_TYPES],
			data[2] % (XIO_MSG_MAX_FDS + 1));
	else
		tenant_list(sv[0], data[2] % 41);
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	if (lowest_free_fd() != before)
		die("fd leaked");
	return 0;
}
