/* SPDX-License-Identifier: MIT */
/*
 * xiod --metrics-listen ADDR:PORT: the accounting counters in the
 * Prometheus text exposition format (docs/accounting.md), served by a small
 * HTTP/1.0-1.1 responder on the control thread: its sockets live in an
 * epoll of their own, nested in the control loop's, so the counters are
 * read by the thread that owns the tenants (no locks, no freed tenant).
 *
 * Every response closes its connection.  A request is at most
 * METRICS_MAX_REQ bytes of head (else 431); only GET and HEAD (else 405);
 * only /metrics (else 404); a connection that has not sent its request head
 * within METRICS_TIMEOUT_MS, or the oldest one when METRICS_MAX_CONNS are
 * open, is closed.  Nothing blocks: sockets are non-blocking and a reply
 * that the peer does not read waits in its buffer, bounded by the timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xiod.h"

#define METRICS_MAX_REQ 8192
#define METRICS_MAX_CONNS 64
#define METRICS_TIMEOUT_MS 10000

struct mconn {
	int fd;
	bool replying;
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	uint64_t deadline;
	struct mconn *next;
	char in[METRICS_MAX_REQ];
};

static int m_ep = -1, m_listen = -1;
static struct mconn *m_conns; /* oldest first */
static unsigned int m_nr;
static char m_tag_listen;

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int metrics_listen(const char *spec)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct epoll_event ev = {.events = EPOLLIN};
	char host[256];
	const char *colon, *h;
	int one = 1, err;
	size_t hl;

	/* ADDR:PORT, [V6ADDR]:PORT or :PORT (every address). */
	colon = strrchr(spec, ':');
	if (!colon || !colon[1] || (size_t)(colon - spec) >= sizeof(host)) {
		log_err("--metrics-listen %s: want ADDR:PORT", spec);
		return -EINVAL;
	}
	hl = (size_t)(colon - spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';
	h = host;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		h = host + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	err = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
	if (err) {
		log_err("--metrics-listen %s: %s", spec, gai_strerror(err));
		return -EINVAL;
	}
	err = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
				ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				0);

		if (fd < 0) {
			err = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, 64) < 0) {
			err = -errno;
			close(fd);
			continue;
		}
		m_listen = fd;
		break;
	}
	freeaddrinfo(res);
	if (m_listen < 0) {
		log_err("--metrics-listen %s: %s", spec, strerror(-err));
		return err;
	}
	m_ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.ptr = &m_tag_listen;
	if (m_ep < 0 || epoll_ctl(m_ep, EPOLL_CTL_ADD, m_listen, &ev) < 0) {
		err = -errno;
		log_err("metrics: epoll: %s", strerror(-err));
		return err;
	}
	log_info("metrics: Prometheus exposition on http://%s/metrics", spec);
	return 0;
}

int metrics_fd(void)
{
	return m_ep;
}

static void mconn_close(struct mconn *c)
{
	struct mconn **pp;

	for (pp = &m_conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	epoll_ctl(m_ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
	m_nr--;
}

static void mconn_flush(struct mconn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n =
			send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
			     MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return; /* EPOLLOUT brings us back */
			break;
		}
		c->outoff += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	/* Unread input would turn the close into a reset that can beat the
	 * reply to the peer: read what already arrived (bounded). */
	for (int i = 0; i < 16; i++)
		if (recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT) <= 0)
			break;
	mconn_close(c);
}

static void mconn_reply(struct mconn *c, const char *status, const char *extra,
			const char *body, size_t blen, bool head_only)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	char hdr[512];
	int hlen;

	hlen = snprintf(hdr, sizeof(hdr),
			"HTTP/1.1 %s\r\n"
			"Content-Type: %s\r\n"
			"Content-Length: %zu\r\n"
			"%s"
			"Connection: close\r\n\r\n",
			status,
			body && !strncmp(status, "200", 3) ?
				"text/plain; version=0.0.4; charset=utf-8" :
				"text/plain; charset=utf-8",
			blen, extra ? extra : "");
	c->out = malloc((size_t)hlen + (head_only ? 0 : blen));
	if (!c->out) {
		mconn_close(c);
		return;
	}
	memcpy(c->out, hdr, (size_t)hlen);
	if (!head_only && blen)
		memcpy(c->out + hlen, body, blen);
	c->outlen = (size_t)hlen + (head_only ? 0 : blen);
	c->replying = true;
	epoll_ctl(m_ep, EPOLL_CTL_MOD, c->fd, &ev);
	mconn_flush(c);
}

static void mconn_error(struct mconn *c, const char *status, const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	mconn_reply(c, status, extra, body, (size_t)n, false);
}

static void mconn_request(struct mconn *c)
{
	char method[16], path[256], *body;
	int major = 0, minor = 0;
	size_t blen;
	bool head;

	if (sscanf(c->in, "%15[A-Z] %255[^ \r\n] HTTP/%d.%d", method, path,
		   &major, &minor) != 4) {
		mconn_error(c, "400 Bad Request", NULL);
		return;
	}
	if (major != 1 || minor < 0 || minor > 1) {
		mconn_error(c, "505 HTTP Version Not Supported", NULL);
		return;
	}
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		mconn_error(c, "405 Method Not Allowed",
			    "Allow: GET, HEAD\r\n");
		return;
	}
	if (strcmp(path, "/metrics") && strncmp(path, "/metrics?", 9)) {
		mconn_error(c, "404 Not Found", NULL);
		return;
	}
	body = control_metrics_text(&blen);
	if (!body) {
		mconn_error(c, "503 Service Unavailable", NULL);
		return;
	}
	mconn_reply(c, "200 OK", NULL, body, blen, head);
	free(body);
}

static void mconn_readable(struct mconn *c)
{
	ssize_t n;

	if (c->replying) {
		mconn_flush(c);
		return;
	}
	n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen,
		 MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		mconn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	if (memchr(c->in, '\0', c->inlen)) {
		mconn_error(c, "400 Bad Request", NULL);
		return;
	}
	if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n"))
		mconn_request(c);
	else if (c->inlen >= sizeof(c->in) - 1)
		mconn_error(c, "431 Request Header Fields Too Large", NULL);
}

static void accept_all(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct mconn *c, **tail;
	int fd;

	for (;;) {
		fd = accept4(m_listen, NULL, NULL,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    log_ratelimit())
				log_warn("metrics: accept: %s",
					 strerror(errno));
			return;
		}
		if (m_nr >= METRICS_MAX_CONNS)
			mconn_close(m_conns); /* the oldest makes room */
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline = ms_now() + METRICS_TIMEOUT_MS;
		ev.data.ptr = c;
		if (epoll_ctl(m_ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		for (tail = &m_conns; *tail; tail = &(*tail)->next)
			;
		*tail = c;
		m_nr++;
	}
}

void metrics_events(void)
{
	struct epoll_event ev;
	struct mconn *c, *next;
	uint64_t now = ms_now();

	/*
	 * One event per call: handling one may free a connection another
	 * event names.  The nested epoll is level-triggered, so the control
	 * loop comes back for the rest.
	 */
	if (epoll_wait(m_ep, &ev, 1, 0) == 1) {
		if (ev.data.ptr == &m_tag_listen) {
			accept_all();
		} else {
			c = ev.data.ptr;
			if ((ev.events & (EPOLLERR | EPOLLHUP)) && !c->replying)
				mconn_close(c);
			else
				mconn_readable(c);
		}
	}
	/* Slow or silent peers (this runs on every metrics event). */
	for (c = m_conns; c; c = next) {
		next = c->next;
		if (now > c->deadline)
			mconn_close(c);
	}
}

void metrics_close(void)
{
	while (m_conns)
		mconn_close(m_conns);
	if (m_listen >= 0)
		close(m_listen);
	if (m_ep >= 0)
		close(m_ep);
	m_listen = m_ep = -1;
}
