/* SPDX-License-Identifier: MIT */
/*
 * Control-plane abuse (reliability anchors B1-B3): truncated, oversized,
 * wrong-version, bad-magic and unknown-type messages, missing and extra
 * fds, fds of the wrong kind (directory, O_PATH, eventfd, pipe, unconnected
 * socket, write-only file), every message replayed in the wrong session
 * state, and a guest (another uid) trying admin operations or another
 * tenant.  Each gets an error reply or a disconnect; xiod keeps serving and
 * its fd count returns to baseline.
 */
#include "dtest.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static void hdr(void *m, uint32_t type)
{
	xio__msg_hdr_init(m, type, 42);
}

/* Send @len bytes of @m with @fds; expect an error reply with @want. */
static void expect(int fd, const void *m, size_t len, const int *fds,
		   unsigned int nfds, int want)
{
	uint32_t type = 0;
	int st;

	CHECK_EQ(raw_send(fd, m, len, fds, nfds), 0);
	st = raw_reply(fd, &type);
	if (st != want) {
		fprintf(stderr, "FAIL: reply %d, wanted %d (type 0x%x)\n", st,
			want, type);
		exit(1);
	}
	if (want < 0)
		CHECK_EQ(type, XIO_MSG_ERROR);
}

static const char *g_sock;

/* Like expect(), on a fresh connection (xiod hangs up on a run of bad ones). */
static void expect1(const void *m, size_t len, const int *fds,
		    unsigned int nfds, int want)
{
	int fd = dt_connect(g_sock);

	CHECK(fd >= 0);
	expect(fd, m, len, fds, nfds, want);
	close(fd);
}

static void framing(const char *sock, int rounds)
{
	struct xio_msg_tenant_list tl;
	struct xio_msg_attach at;
	char big[XIO_MSG_MAX_SIZE + 64];
	int fd = dt_connect(sock), efd = eventfd(0, EFD_CLOEXEC);
	int two[2] = {efd, efd};

	CHECK(fd >= 0 && efd >= 0);
	for (int r = 0; r < rounds; r++) {
		memset(&tl, 0, sizeof(tl));
		hdr(&tl, XIO_MSG_TENANT_LIST);
		/* Valid first: the connection works. */
		expect(fd, &tl, sizeof(tl), NULL, 0, 0);
		/* Truncated (header only, and half a header). */
		expect1(&tl, sizeof(tl.hdr), NULL, 0, -EBADMSG);
		expect1(&tl, 7, NULL, 0, -EBADMSG);
		/* Oversized for its type, and beyond any message. */
		memset(big, 0, sizeof(big));
		memcpy(big, &tl, sizeof(tl));
		((struct xio_msg_hdr *)big)->len = sizeof(tl) + 8;
		expect1(big, sizeof(tl) + 8, NULL, 0, -EBADMSG);
		expect1(big, sizeof(big), NULL, 0, -EMSGSIZE);
		/* len field disagreeing with the bytes sent. */
		tl.hdr.len = sizeof(tl) - 1;
		expect1(&tl, sizeof(tl), NULL, 0, -EBADMSG);
		hdr(&tl, XIO_MSG_TENANT_LIST);
		/* Bad magic, wrong version, unknown types (incl. replies). */
		tl.hdr.magic ^= 1;
		expect1(&tl, sizeof(tl), NULL, 0, -EBADMSG);
		hdr(&tl, XIO_MSG_TENANT_LIST);
		tl.hdr.version = 2;
		expect1(&tl, sizeof(tl), NULL, 0, -EPROTONOSUPPORT);
		hdr(&tl, XIO_MSG_TENANT_LIST);
		tl.hdr.type = 0;
		expect1(&tl, sizeof(tl), NULL, 0, -EOPNOTSUPP);
		tl.hdr.type = XIO_MSG_LAST;
		expect1(&tl, sizeof(tl), NULL, 0, -EOPNOTSUPP);
		tl.hdr.type = XIO_MSG_TENANT_LIST | XIO_MSG_REPLY;
		expect1(&tl, sizeof(tl), NULL, 0, -EOPNOTSUPP);
		/* Unknown flags. */
		hdr(&tl, XIO_MSG_TENANT_LIST);
		tl.flags = 0x80;
		expect1(&tl, sizeof(tl), NULL, 0, -EINVAL);
		/* Extra fds on a request that takes none (1, 2, many). */
		tl.flags = 0;
		expect1(&tl, sizeof(tl), &efd, 1, -EBADF);
		expect1(&tl, sizeof(tl), two, 2, -EBADF);
		{
			int many[32];

			for (int i = 0; i < 32; i++)
				many[i] = efd;
			int c = dt_connect(sock);

			CHECK_EQ(raw_send(c, &tl, sizeof(tl), many, 32), 0);
			CHECK(raw_reply(c, NULL) < 0);
			close(c);
		}
		/* ATTACH with garbage: reserved fields, negative node. */
		memset(&at, 0, sizeof(at));
		hdr(&at, XIO_MSG_ATTACH);
		strcpy(at.name, "ctl");
		at.resv = 1;
		expect1(&at, sizeof(at), NULL, 0, -EINVAL);
		at.resv = 0;
		at.numa_node = -7;
		expect1(&at, sizeof(at), NULL, 0, -EINVAL);
		at.numa_node = XIO_ATTACH_NUMA_AUTO;
		memset(at.name, 'x', sizeof(at.name)); /* no NUL */
		expect1(&at, sizeof(at), NULL, 0, -EINVAL);
		strcpy(at.name, "ctl");
		at.sq_entries = 0x80000000U;
		expect1(&at, sizeof(at), NULL, 0, -EINVAL);
		at.sq_entries = 0;
		at.cq_entries = 2; /* < default sq */
		expect1(&at, sizeof(at), NULL, 0, -EINVAL);
		at.cq_entries = 0;
		at.buf_size = 65; /* not a multiple of 64 */
		expect1(&at, sizeof(at), NULL, 0, -EINVAL);
		/* DETACH with no tenant. */
		{
			struct xio_msg_detach dm;

			hdr(&dm, XIO_MSG_DETACH);
			expect1(&dm, sizeof(dm), NULL, 0, -ENOENT);
		}
	}
	close(efd);
	close(fd);
}

/* Too many bad messages: the daemon hangs up. */
static void hangup(const char *sock)
{
	struct xio_msg_tenant_list tl;
	int fd = dt_connect(sock), i, st = 0;

	memset(&tl, 0, sizeof(tl));
	hdr(&tl, XIO_MSG_TENANT_LIST);
	tl.hdr.magic = 0;
	for (i = 0; i < 100; i++) {
		if (raw_send(fd, &tl, sizeof(tl), NULL, 0))
			break;
		st = raw_reply(fd, NULL);
		if (st <= -1000)
			break; /* closed */
	}
	CHECK(st <= -1000 || i < 100);
	close(fd);
}

static void target_fds(const char *sock, const char *dir)
{
	struct xio_msg_target_add *m = calloc(1, sizeof(*m));
	int fd = dt_connect(sock), bad[8], nbad = 0, p[2];
	char path[64];

	CHECK(m && fd >= 0);
	hdr(m, XIO_MSG_TARGET_ADD_FD);
	strcpy(m->tenant, "victim");
	/* Missing fd. */
	expect(fd, m, sizeof(*m), NULL, 0, -EBADF);
	/* Wrong kinds. */
	bad[nbad++] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bad[nbad++] = open(dir, O_PATH | O_CLOEXEC);
	bad[nbad++] = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	bad[nbad++] = p[0];
	bad[nbad++] = p[1];
	bad[nbad++] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(path, sizeof(path), "%s/wo", dir);
	bad[nbad++] = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	/* Every wrong kind, many times: each fd must be closed by xiod. */
	for (int r = 0; r < SCALE(1000); r++) {
		for (int i = 0; i < nbad; i++) {
			uint32_t type = 0;
			int st;

			CHECK(bad[i] >= 0);
			CHECK_EQ(raw_send(fd, m, sizeof(*m), &bad[i], 1), 0);
			st = raw_reply(fd, &type);
			CHECK(st < 0 && st > -1000);
			CHECK_EQ(type, XIO_MSG_ERROR);
		}
	}
	/* Two fds where one is expected. */
	expect(fd, m, sizeof(*m), bad, 2, -EBADF);
	/* O_DIRECT is for paths only. */
	m->flags = XIO_TARGET_DIRECT;
	expect(fd, m, sizeof(*m), &bad[6], 1, -EINVAL);
	for (int i = 0; i < nbad; i++)
		close(bad[i]);
	unlink(path);
	free(m);
	close(fd);
}

/*
 * Random datagrams: random lengths (a valid header now and then, random
 * types and payload), 0-3 random fds each.  Every one is refused or
 * answered; nothing is kept.
 */
static void random_msgs(const char *sock, int n)
{
	static char buf[XIO_MSG_MAX_SIZE + 32];
	uint64_t s = 0x2545f4914f6cdd1dULL;
	int fd = dt_connect(sock), efd = eventfd(0, EFD_CLOEXEC), sent = 0;

	CHECK(fd >= 0 && efd >= 0);
	for (int i = 0; i < n; i++) {
		size_t len;
		int fds[3] = {efd, efd, efd}, st;

		for (size_t k = 0; k < sizeof(buf); k += 8) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			memcpy(buf + k, &s, 8);
		}
		len = 1 + (size_t)(s % sizeof(buf));
		if (s & 0x100) { /* plausible header, random type and body */
			uint32_t type = (uint32_t)(s >> 16) % 10;
			struct xio_msg_hdr *h = (struct xio_msg_hdr *)buf;

			xio__msg_hdr_init(h, type, 1);
			if (xio_msg_size(type) && (s & 0x200))
				len = xio_msg_size(type);
			h->len = (uint32_t)len;
			if (type == XIO_MSG_ATTACH && len >= sizeof(*h) + 8)
				memset(buf + sizeof(*h), 0,
				       8); /* tiny geometry */
		}
		if (raw_send(fd, buf, len, fds, (unsigned)(s >> 40) % 4)) {
			close(fd); /* hung up on us: reconnect */
			fd = dt_connect(sock);
			CHECK(fd >= 0);
			continue;
		}
		st = raw_reply(fd, NULL);
		if (st <= -1000) {
			close(fd);
			fd = dt_connect(sock);
			CHECK(fd >= 0);
		}
		sent++;
	}
	CHECK(sent > n / 2);
	close(efd);
	close(fd);
}

/*
 * A peer that sends requests but never reads the replies: once its socket
 * buffer is full, xiod drops the connection instead of blocking on it.
 */
static void deaf_peer(const char *sock, struct xio_qp *victim_qp)
{
	struct xio_msg_tenant_list tl;
	int fd = dt_connect(sock), i, st, replies = 0;
	struct timeval tv = {0, 200000};

	CHECK(fd >= 0);
	memset(&tl, 0, sizeof(tl));
	hdr(&tl, XIO_MSG_TENANT_LIST);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (i = 0; i < 20000; i++)
		if (raw_send(fd, &tl, sizeof(tl), NULL, 0))
			break; /* closed by xiod, or our buffer is full */
	nop_roundtrip(victim_qp, 77); /* xiod still serves */
	/* Without reading, wait for the hang-up (queued requests fill our
	 * receive side long before xiod runs out of them). */
	{
		struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};

		CHECK_EQ(poll(&pfd, 1, 10000), 1);
		CHECK(pfd.revents & (POLLHUP | POLLRDHUP));
	}
	/* Drain: the replies that fit, then end-of-file. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		st = raw_reply(fd, NULL);
		if (st <= -1000)
			break;
		replies++;
	}
	/* xiod hung up: EOF, or a reset when our unread requests were
	 * still queued on its side. */
	CHECK(st == -1000 || st == -1000 - ECONNRESET);
	CHECK(replies < i);
	close(fd);
}

/* Replays in every state on one connection. */
static void states(const char *sock)
{
	struct xio_msg_attach at;
	struct xio_msg_detach dm;
	int fd = dt_connect(sock);

	memset(&at, 0, sizeof(at));
	hdr(&at, XIO_MSG_ATTACH);
	strcpy(at.name, "replay");
	at.numa_node = XIO_ATTACH_NUMA_AUTO;
	at.sq_entries = 8;
	at.nr_bufs = 2;
	expect(fd, &at, sizeof(at), NULL, 0, 0); /* fds closed by raw_reply */
	expect(fd, &at, sizeof(at), NULL, 0, -EALREADY);
	hdr(&dm, XIO_MSG_DETACH);
	expect(fd, &dm, sizeof(dm), NULL, 0, 0);
	expect(fd, &dm, sizeof(dm), NULL, 0, -ENOENT);
	/* After teardown a new tenant may be attached on it again. */
	expect(fd, &at, sizeof(at), NULL, 0, 0);
	close(fd); /* with the tenant attached: torn down by the daemon */
}

/* A guest (uid nobody) may attach, not administer nor see others. */
static void guest_privilege(const char *sock)
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		printf("not root: guest-privilege part skipped\n");
		return;
	}
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct xio_tenant_info ti[4];
		struct xio_target_info tg[2];
		struct xio_admin *a;
		struct xio_tenant *t;
		uint32_t total = 0;

		CHECK_EQ(setgid(65534), 0);
		CHECK_EQ(setuid(65534), 0);
		t = attach(sock, "guest", 8, 2);
		nop_roundtrip(xio_tenant_qp(t, 0), 5);
		CHECK_EQ(xio_admin_open(sock, &a), 0);
		CHECK_EQ(xio_admin_target_add(a, "guest", "/etc/passwd",
					      XIO_TARGET_RDONLY),
			 -EPERM);
		CHECK_EQ(xio_admin_target_add(a, "victim", "/etc/passwd", 0),
			 -EPERM);
		/* Another tenant, by name or id, does not exist for it. */
		CHECK_EQ(xio_admin_target_list(a, "victim", tg, 2, NULL),
			 -EPERM);
		CHECK_EQ(xio_admin_target_list(a, "1", tg, 2, NULL), -EPERM);
		/* A fresh connection has no tenant: lists nothing. */
		CHECK_EQ(xio_admin_tenants(a, ti, 4, &total), 0);
		CHECK_EQ(total, 0);
		xio_admin_close(a);
		/* Its own tenant, through its own connection. */
		CHECK_EQ(xio_tenant_info(t, ti), 0);
		CHECK(!strcmp(ti[0].name, "guest"));
		CHECK_EQ(xio_client_detach(t), 0);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * Out of fds: xiod stops accepting instead of spinning on a listen fd it
 * cannot serve, keeps serving what it has, and listens again once
 * connections go away.
 */
static void fd_exhaustion(void)
{
	int conns[80], n = 0, i, fd;
	unsigned long long c0, c1;
	struct xiod d;

	dt_nofile = 40;
	xiod_start(&d, NULL);
	dt_nofile = 0;
	for (i = 0; i < 80; i++) {
		fd = dt_connect(d.sock);
		if (fd < 0)
			break; /* backlog full */
		conns[n++] = fd;
	}
	CHECK(n > 40);
	/* An accepted connection still gets answers. */
	CHECK(xio__admin_tenants_fd(conns[0], 0, NULL, 0, NULL) >= 0);
	/* Not spinning: well under one CPU over 300 ms. */
	c0 = cpu_ticks(d.pid);
	usleep(300000);
	c1 = cpu_ticks(d.pid);
	CHECK((c1 - c0) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK) <
	      150);
	for (i = 0; i < n; i++)
		close(conns[i]);
	/* Listening again. */
	{
		uint64_t deadline = dt_now_ms() + 10000;

		for (;;) {
			fd = dt_connect(d.sock);
			CHECK(fd >= 0);
			if (xio__admin_tenants_fd(fd, 0, NULL, 0, NULL) >= 0)
				break;
			close(fd);
			CHECK(dt_now_ms() < deadline);
			usleep(10000);
		}
		close(fd);
	}
	xiod_stop(&d);
}

int main(void)
{
	struct xio_tenant *victim;
	struct xiod d;
	int base, maps;

	xiod_start(&d, "--idle-us", "100", NULL);
	g_sock = d.sock;
	victim = attach(d.sock, "victim", 16, 4);
	nop_roundtrip(xio_tenant_qp(victim, 0), 1);
	base = fd_count(d.pid); /* with the victim tenant */

	framing(d.sock, SCALE(200));
	hangup(d.sock);
	maps = maps_count(d.pid);
	target_fds(d.sock, d.dir);
	random_msgs(d.sock, SCALE(20000));
	deaf_peer(d.sock, xio_tenant_qp(victim, 0));
	states(d.sock);
	guest_privilege(d.sock);
	nop_roundtrip(xio_tenant_qp(victim, 0), 2);
	wait_fd_count(d.pid, base);
	CHECK(maps_count(d.pid) <= maps + DT_MAPS_SLACK);
	CHECK_EQ(xio_client_detach(victim), 0);
	xiod_stop(&d);
	fd_exhaustion();
	printf("ok\n");
	return 0;
}
