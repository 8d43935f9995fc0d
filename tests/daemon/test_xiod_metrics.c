/* SPDX-License-Identifier: MIT */
/*
 * xiod --metrics-listen (docs/accounting.md): a real HTTP client (curl)
 * scrapes the Prometheus exposition, concurrently; promtool accepts it; the
 * counters are exact; a detached tenant's final record shows; bad,
 * oversized and idle requests get their status (or are dropped) while
 * scrapes keep working.  curl or promtool absent: that part is skipped.
 */
#include "dtest.h"

#include <netinet/in.h>
#include <sys/socket.h>

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	CHECK(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int tcp_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send @req raw; the response (to EOF) into @out. */
static void http_raw(int port, const char *req, size_t len, char *out, size_t n)
{
	int fd = tcp_connect(port);
	size_t got = 0;
	ssize_t r;

	CHECK_EQ(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	while (got < n - 1 && (r = recv(fd, out + got, n - 1 - got, 0)) > 0)
		got += (size_t)r;
	if (!got)
		fprintf(stderr, "http_raw: nothing (%s)\n", strerror(errno));
	out[got] = '\0';
	close(fd);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char big[20000];

int main(void)
{
	char out[65536], line[160], listen[64];
	struct xio_tenant *t;
	struct xiod d;
	int port = free_port(), idle[70], i;
	uint32_t id;
	bool curl = sh("command -v curl >/dev/null") == 0;
	bool promtool = sh("command -v promtool >/dev/null") == 0;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	xiod_start(&d, "--metrics-listen", listen, NULL);
	t = attach(d.sock, "prom-a", 16, 4);
	for (i = 0; i < 10; i++)
		nop_roundtrip(xio_tenant_qp(t, 0), (uint64_t)i);
	snprintf(line, sizeof(line),
		 "xio_tenant_ops_total{tenant=\"prom-a\",id=\"%u\"} 10\n",
		 xio_tenant_id(t));

	http_raw(port, "GET /metrics HTTP/1.0\r\n\r\n", 25, out, sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(strstr(out, "Content-Type: text/plain; version=0.0.4"));
	CHECK(strstr(out, "# TYPE xio_tenant_ops_total counter\n"));
	CHECK(strstr(out, "# HELP xio_tenant_ops_total "));
	CHECK(strstr(out, line));
	CHECK(strstr(out, "xio_poller_thread_cpu_seconds_total{poller=\"0\"}"));

	if (curl) {
		/* 8 concurrent scrapes, each complete and exact. */
		CHECK_EQ(sh("cd %s && for i in 1 2 3 4 5 6 7 8; do "
			    "curl -sf --max-time 10 -o scrape.$i "
			    "http://127.0.0.1:%d/metrics & done; "
			    "wait; for i in 1 2 3 4 5 6 7 8; do "
			    "grep -qF '%.*s' scrape.$i || exit 1; done",
			    d.dir, port, (int)strlen(line) - 1, line),
			 0);
		if (promtool)
			CHECK_EQ(sh("promtool check metrics < %s/scrape.1",
				    d.dir),
				 0);
		else
			printf("promtool absent: exposition lint skipped\n");
		CHECK_EQ(sh("curl -s -o /dev/null -w '%%{http_code}' "
			    "http://127.0.0.1:%d/nope | grep -qx 404",
			    port),
			 0);
		CHECK_EQ(sh("curl -s -o /dev/null -w '%%{http_code}' -X POST "
			    "http://127.0.0.1:%d/metrics | grep -qx 405",
			    port),
			 0);
		CHECK_EQ(sh("cd %s && rm -f scrape.*", d.dir), 0);
	} else {
		printf("curl absent: HTTP client part skipped\n");
	}

	/* Bad requests get their status. */
	http_raw(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35, out,
		 sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(!strstr(out, "# TYPE")); /* no body */
	http_raw(port, "hello\r\n\r\n", 9, out, sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 400 ", 13));
	http_raw(port, "GET /metrics HTTP/2.0\r\n\r\n", 25, out, sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 505 ", 13));
	http_raw(port, "DELETE /metrics HTTP/1.1\r\n\r\n", 28, out,
		 sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 405 ", 13));
	memset(big, 'A', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	http_raw(port, big, 9000, out, sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 431 ", 13));
	http_raw(port, "GET /metrics\0 HTTP/1.1\r\n\r\n", 26, out, sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 400 ", 13));

	/* 70 silent connections: the oldest are dropped, scrapes go on. */
	for (i = 0; i < 70; i++)
		idle[i] = tcp_connect(port);
	http_raw(port, "GET /metrics HTTP/1.1\r\n\r\n", 25, out, sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 200 OK\r\n", 17));
	for (i = 0; i < 70; i++)
		close(idle[i]);

	/* The final record of a detached tenant. */
	id = xio_tenant_id(t);
	CHECK_EQ(xio_client_detach(t), 0);
	http_raw(port, "GET /metrics HTTP/1.1\r\n\r\n", 25, out, sizeof(out));
	if (!strstr(out, line))
		fprintf(stderr, "%s", out);
	CHECK(strstr(out, line));
	snprintf(line, sizeof(line),
		 "xio_tenant_detached{tenant=\"prom-a\",id=\"%u\"} 1\n", id);
	CHECK(strstr(out, line));

	/* The control socket still answers. */
	CHECK_EQ(sh("%s --socket %s stats >/dev/null", XIOCTL_PATH, d.sock), 0);
	xiod_stop(&d);

	/* A bad --metrics-listen is refused at start-up. */
	CHECK(sh("%s --foreground --socket %s/x.sock --metrics-listen nonsense "
		 "2>/dev/null",
		 XIOD_PATH, d.dir) != 0);
	printf("ok\n");
	return 0;
}
