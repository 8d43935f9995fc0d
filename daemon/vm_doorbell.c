// SPDX-License-Identifier: MIT
/*
 * ivshmem-doorbell VM tenants (XIO_MSG_VM_TENANT with XIO_VM_F_DOORBELL):
 * xiod is the tenant's ivshmem server, so that QEMU's
 *
 *     -chardev socket,path=PATH,id=X -device ivshmem-doorbell,chardev=X,vectors=N
 *
 * gets the tenant's region and eventfds from xiod, and the guest's write to
 * the device's Doorbell register becomes a signal on the eventfd the poller
 * already polls as that queue pair's kick.  The tenant then parks and lets
 * the poller sleep like a local one (docs/vm.md).
 *
 * The protocol (QEMU docs/specs/ivshmem-spec.rst): the server only sends,
 * little-endian int64 messages, some carrying one fd (SCM_RIGHTS):
 *
 *     0                   protocol version
 *     GUEST_PEER          the client's id (read back as IVPosition)
 *     -1 + region fd      the shared memory (BAR2)
 *     HOST_PEER + fd      N times: xiod's vector i = kick eventfd of qpair i
 *     GUEST_PEER + fd     N times: the guest's vector i = notify eventfd i
 *
 * The shared memory comes before any vector because QEMU reads the setup
 * synchronously up to it and handles the rest once its interrupt state
 * exists (the order of QEMU's own server).  xiod is a peer that never goes
 * away, so no "peer left" message is ever sent.  One memory and one socket
 * per tenant: the stock server shares one memory with every client, which
 * would be no isolation.
 *
 * Everything a client does is suspect: QEMU never writes to the server, so
 * a client that sends a byte is dropped; a client that does not read gets
 * a greeting that fits the socket buffer (MSG_DONTWAIT: a full buffer drops
 * it); at most one client is kept per tenant, and a new connection replaces
 * the old one (the old QEMU keeps the fds it received; reconnecting after a
 * restart of QEMU gets the same eventfds and memory).  Only who can open
 * the socket (mode 0600, owned by QEMU's user) can connect.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xio/ivshmem.h>

#include "fdkeep.h"
#include "proto.h"
#include "vm_doorbell.h"

#define DB_MAX 256
#define GUEST_PEER 1 /* != XIO_IVSHMEM_HOST_PEER */
#define TAG_CLIENT 1UL

struct db_server {
	struct tenant *t; /* NULL: free */
	int lfd;	  /* listening socket */
	int cfd;	  /* the connected client, or -1 */
	dev_t dev;	  /* of the socket file: unlink only ours */
	ino_t ino;
	uint64_t connects;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static struct db_server servers[DB_MAX];
static int db_epfd = -1;

int vm_doorbell_fd(void)
{
	if (db_epfd < 0)
		db_epfd = epoll_create1(EPOLL_CLOEXEC);
	return db_epfd < 0 ? -errno : db_epfd;
}

static struct db_server *server_of(const struct tenant *t)
{
	unsigned int i;

	for (i = 0; i < DB_MAX; i++)
		if (servers[i].t == t)
			return &servers[i];
	return NULL;
}

/*
 * One protocol message: @v as a little-endian int64, with @fd if >= 0.
 * The socket is non-blocking (accept4()), so this never waits on QEMU.
 */
static int send_msg64(int sock, int64_t v, int fd)
{
	uint64_t le = htole64((uint64_t)v);

	return xio__msg_send(sock, &le, sizeof(le), &fd, fd >= 0 ? 1 : 0);
}

/* The whole setup, at once (it fits any socket buffer: 8 bytes a message). */
static int greet(const struct db_server *s, int sock)
{
	const struct tenant *t = s->t;
	uint32_t i;
	int err;

	err = send_msg64(sock, 0, -1); /* protocol version */
	if (!err)
		err = send_msg64(sock, GUEST_PEER, -1);
	if (!err)
		err = send_msg64(sock, -1, xio_region_fd(t->region));
	for (i = 0; !err && i < t->nr_qpairs; i++)
		err = send_msg64(sock, XIO_IVSHMEM_HOST_PEER,
				 t->qps[i].kick_fd);
	for (i = 0; !err && i < t->nr_qpairs; i++)
		err = send_msg64(sock, GUEST_PEER, t->qps[i].notify_fd);
	return err;
}

static void client_close(struct db_server *s, const char *why)
{
	if (s->cfd < 0)
		return;
	epoll_ctl(db_epfd, EPOLL_CTL_DEL, s->cfd, NULL);
	close(s->cfd);
	s->cfd = -1;
	if (log_ratelimit()) /* clients come and go at will */
		log_info("tenant %u '%s': ivshmem client %s", s->t->id,
			 s->t->name, why);
}

static void accept_clients(struct db_server *s)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
	int fd, err;

	for (;;) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* Out of fds: the connection waits in the backlog
			 * until the next one (edge-triggered listener). */
			if (errno != EAGAIN && errno != EINTR &&
			    log_ratelimit())
				log_warn("tenant %u '%s': ivshmem accept: %s",
					 s->t->id, s->t->name, strerror(errno));
			if (errno == EINTR)
				continue;
			return;
		}
		s->connects++;
		err = greet(s, fd);
		if (err) {
			if (log_ratelimit())
				log_warn(
					"tenant %u '%s': ivshmem client #%llu: setup: %s: dropped",
					s->t->id, s->t->name,
					(unsigned long long)s->connects,
					strerror(-err));
			close(fd);
			continue;
		}
		client_close(s, "replaced by a new connection");
		ev.data.u64 = (uint64_t)(uintptr_t)s | TAG_CLIENT;
		if (epoll_ctl(db_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("tenant %u: ivshmem client: epoll: %s",
				 s->t->id, strerror(errno));
			close(fd);
			continue;
		}
		s->cfd = fd;
		if (log_ratelimit())
			log_info(
				"tenant %u '%s': ivshmem client #%llu connected: region, %u kick and %u notify eventfds sent (guest peer %d, xiod peer %d)",
				s->t->id, s->t->name,
				(unsigned long long)s->connects,
				s->t->nr_qpairs, s->t->nr_qpairs, GUEST_PEER,
				XIO_IVSHMEM_HOST_PEER);
	}
}

/*
 * The client's socket reported something.  Whatever the event mask says
 * (it may even be a stale event of a replaced client), look: EOF is a
 * hang-up, data is a protocol violation, nothing is nothing.
 */
static void client_event(struct db_server *s)
{
	char c;
	ssize_t n;

	if (s->cfd < 0)
		return;
	n = recv(s->cfd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		client_close(s, "hung up");
	else if (n > 0)
		client_close(s, "sent data (QEMU never does): dropped");
}

/*
 * With a state directory, @t's eventfds -- those QEMU got in the greeting
 * -- go to the fd keeper (fdkeep.c), so that an xiod restarted
 * after a kill gets them back and keeps serving the tenant on its kicks.
 */
static void keep(const struct tenant *t)
{
	int fds[2 * XIO_MAX_QPAIRS];
	uint32_t i;
	int err;

	for (i = 0; i < t->nr_qpairs; i++) {
		fds[2 * i] = t->qps[i].kick_fd;
		fds[2 * i + 1] = t->qps[i].notify_fd;
	}
	err = fdkeep_put(t->name, fds, t->nr_qpairs);
	if (err)
		log_warn(
			"tenant %u '%s': eventfds not kept (%s): polled if xiod restarts",
			t->id, t->name, strerror(-err));
}

/* The keeper died under us: a new one gets what the live tenants have. */
static void keep_all(void)
{
	unsigned int i;

	for (i = 0; i < DB_MAX; i++)
		if (servers[i].t && !servers[i].t->no_doorbell)
			keep(servers[i].t);
}

void vm_doorbell_events(void)
{
	struct epoll_event evs[32];
	int i, n;

	if (db_epfd < 0)
		return;
	do {
		n = epoll_wait(db_epfd, evs, 32, 0);
		for (i = 0; i < n; i++) {
			uint64_t u = evs[i].data.u64;
			struct db_server *s;

			if (u == VM_DOORBELL_TAG_KEEPER) {
				if (fdkeep_event())
					keep_all();
				continue;
			}
			s = (struct db_server *)(uintptr_t)(u & ~TAG_CLIENT);

			if (!s->t)
				continue; /* forgotten meanwhile */
			if (u & TAG_CLIENT)
				client_event(s);
			else
				accept_clients(s);
		}
	} while (n == 32);
}

/* A socket file at @sa that nobody listens on (left by a killed xiod). */
static bool socket_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	bool stale;
	int p;

	if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	p = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p < 0)
		return false;
	stale = connect(p, (const struct sockaddr *)sa, sizeof(*sa)) < 0 &&
		errno == ECONNREFUSED;
	close(p);
	return stale;
}

int vm_doorbell_listen(struct tenant *t, const struct xio_msg_vm_tenant *m)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	struct db_server *s = server_of(NULL);
	struct stat st;
	mode_t old;
	size_t len = strnlen(m->path, sizeof(m->path));
	int fd, err;

	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (!s)
		return -EUSERS;
	err = vm_doorbell_fd();
	if (err < 0)
		return err;
	memcpy(sa.sun_path, m->path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Never reachable by others, not even between bind and chmod. */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	/* Re-adopted after a restart: the dead xiod's socket is still there. */
	if (err == -EADDRINUSE && (m->flags & XIO_VM_F_ADOPT) &&
	    socket_stale(&sa)) {
		unlink(sa.sun_path);
		err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ?
			      -errno :
			      0;
	}
	umask(old);
	if (err) {
		close(fd);
		return err == -EADDRINUSE ? -EEXIST : err;
	}
	if (lchown(m->path, m->uid, m->gid) < 0 ||
	    chmod(m->path, m->mode ? m->mode : 0600) < 0 ||
	    lstat(m->path, &st) < 0 || listen(fd, 8) < 0) {
		err = -errno;
		unlink(m->path);
		close(fd);
		return err;
	}
	s->t = t;
	s->lfd = fd;
	s->cfd = -1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->connects = 0;
	memcpy(s->path, sa.sun_path, sizeof(s->path));
	ev.data.u64 = (uint64_t)(uintptr_t)s;
	if (epoll_ctl(db_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = -errno;
		vm_doorbell_forget(t);
		return err;
	}
	/* Re-adopted: its eventfds are kept already (then it is not
	 * polled), or QEMU holds none that live (then it is). */
	if (cfg.state_dir && !(m->flags & XIO_VM_F_ADOPT))
		keep(t);
	return 0;
}

void vm_doorbell_forget(struct tenant *t)
{
	struct db_server *s = server_of(t);
	struct stat st;

	if (!t || !s)
		return;
	client_close(s, "closed: tenant removed");
	epoll_ctl(db_epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	close(s->lfd);
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino && unlink(s->path) < 0)
		log_warn("tenant %u '%s': unlink %s: %s", t->id, t->name,
			 s->path, strerror(errno));
	s->t = NULL;
}
