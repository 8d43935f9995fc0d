/* SPDX-License-Identifier: MIT */
/*
 * Control-protocol plumbing shared by the client library and xiod: framed
 * SOCK_SEQPACKET messages with SCM_RIGHTS fds (see proto.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"

/* A status from the peer below -4095 is no errno (the kernel's limit). */
#define XIO_ERRNO_MAX 4095

union cmsg_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * XIO_MSG_MAX_FDS)];
};

void xio__msg_hdr_init(struct xio_msg_hdr *h, uint32_t type, uint32_t seq)
{
	h->magic = XIO_PROTO_MAGIC;
	h->version = XIO_PROTO_VERSION;
	h->type = (uint16_t)type;
	h->len = (uint32_t)xio_msg_size(type);
	h->seq = seq;
}

int xio__str_ok(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

int xio__msg_send(int fd, const void *msg, size_t len, const int *fds,
		  unsigned int nfds)
{
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	union cmsg_buf cb;
	ssize_t n;

	if (nfds > XIO_MSG_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

long xio__msg_recv(int fd, void *buf, size_t buf_len, int *fds,
		   unsigned int max_fds, unsigned int *nfds, int *flags)
{
	struct iovec iov = {buf, buf_len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	union cmsg_buf cb;
	struct cmsghdr *c;
	unsigned int got = 0;
	ssize_t n;

	mh.msg_control = cb.buf;
	mh.msg_controllen = sizeof(cb.buf);
	*nfds = 0;
	*flags = 0;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/*
	 * Collect every fd of every SCM_RIGHTS header: the ones the caller has
	 * no room for are closed here, but still counted, so the caller sees
	 * the wrong count and refuses the message.
	 */
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t i, k;
		int v;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&v, CMSG_DATA(c) + i * sizeof(int), sizeof(v));
			if (got < max_fds)
				fds[got] = v;
			else
				close(v);
			got++;
		}
	}
	*nfds = got;
	*flags = mh.msg_flags;
	return (long)n;
}

const char *xio__sock_path(const char *path)
{
	const char *env;

	if (path && *path)
		return path;
	env = getenv(XIO_SOCKET_ENV);
	if (env && *env)
		return env;
	return XIO_DEFAULT_SOCKET;
}

int xio__sock_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv;
	int fd, err;

	path = xio__sock_path(path);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_warn("xio: socket path %s: longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (timeout_ms <= 0)
		timeout_ms = 10000;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		pr_warn("xio: connecting to xiod at %s: %s\n", path,
			xio_strerror(err));
		close(fd);
		return err;
	}
	return fd;
}

static uint32_t next_seq(void)
{
	static uint32_t seq;

	return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

int xio__rpc(int fd, void *req, const int *fds, unsigned int nfds, void *rep,
	     uint32_t rep_type, int *rfds, unsigned int max_rfds,
	     unsigned int *nrfds)
{
	struct xio_msg_hdr *h = req;
	union {
		struct xio_msg_hdr h;
		struct xio_msg_status st;
		char b[XIO_MSG_MAX_SIZE + 1];
	} * in;
	unsigned int got, i;
	int err, flags;
	long n;

	h->seq = next_seq();
	err = xio__msg_send(fd, req, h->len, fds, nfds);
	if (err)
		return err == -EAGAIN ? -ETIMEDOUT : err;
	in = malloc(sizeof(*in));
	if (!in)
		return -ENOMEM;
	n = xio__msg_recv(fd, in, sizeof(*in), rfds, max_rfds, &got, &flags);
	if (nrfds)
		*nrfds = got < max_rfds ? got : max_rfds;
	if (n < 0) {
		err = n == -EAGAIN ? -ETIMEDOUT : (int)n;
		goto out;
	}
	if (n == 0) {
		err = -ECONNRESET;
		goto out;
	}
	err = -EPROTO;
	if ((size_t)n < sizeof(in->h) || (flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    in->h.magic != XIO_PROTO_MAGIC ||
	    in->h.version != XIO_PROTO_VERSION || in->h.seq != h->seq ||
	    in->h.len != (uint32_t)n || xio_msg_size(in->h.type) != (size_t)n)
		goto bad;
	if (in->h.type == XIO_MSG_ERROR) {
		err = in->st.status < 0 && in->st.status >= -XIO_ERRNO_MAX ?
			      in->st.status :
			      -EPROTO;
		goto bad;
	}
	if (in->h.type != rep_type || got > max_rfds)
		goto bad;
	memcpy(rep, in, (size_t)n);
	/* Every reply starts with hdr + int32 status. */
	err = ((struct xio_msg_status *)rep)->status;
	if (err > 0 || err < -XIO_ERRNO_MAX) /* not an errno (e.g. INT_MIN) */
		err = -EPROTO;
	goto out;
bad:
	if (err == -EPROTO)
		pr_warn("xio: malformed reply from xiod (type 0x%x, %ld bytes)\n",
			n >= (long)sizeof(in->h) ? in->h.type : 0, n);
	for (i = 0; i < got && i < max_rfds; i++)
		close(rfds[i]);
	if (nrfds)
		*nrfds = 0;
out:
	free(in);
	return err;
}
