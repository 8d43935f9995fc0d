/* SPDX-License-Identifier: MIT */
/*
 * The fds a clean stop hands to the next xiod (docs/daemon.md, "Clean stop:
 * a handover").  Everything else the next xiod needs is in the state
 * directory already (in-flight logs, VM region files, the steering file);
 * a target an administrator passed as an fd (a connected socket) lives
 * only in a process.  So the stopping xiod, after its pollers stopped,
 * starts a keeper, `xiod --fd-keeper SEC` (a fresh exec of itself: it maps
 * nothing of the old rings, so the restart barrier does not wait for it),
 * with a socketpair on fd 3 over which it sends one record and one fd per
 * target, and the listening socket <state dir>/xiod.handover (bound and
 * listening before the old xiod exits, 0600 in a 0700 directory) on fd 4.
 * The next xiod connects at startup, checks the peer is its own user,
 * takes the records, and gives each fd back to its tenant when the tenant
 * is re-adopted (tenant_restore()).  The keeper exits once it has handed
 * them over, or after SEC seconds (--orphan-grace; 0: never) with nobody
 * asking: the fds are then closed, as a kill -9 would have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "handover.h"
#include "proto.h"
#include "xiod.h"

#define HO_MAGIC 0x5245564f444e4148ULL /* "HANDOVER" little-endian */
#define HO_NAME "xiod.handover"
#define HO_MAX 65536U /* fds kept: 64 targets of 1024 tenants */

struct ho_rec {
	uint64_t magic;
	uint32_t tenant_id;
	uint32_t target;
	uint32_t flags; /* XIO_TARGET_* of the target */
	uint32_t resv;
	char name[XIO_NAME_MAX];
};

struct ho_ent {
	struct ho_rec r;
	int fd;
};

/* This process's table: what it will hand over, or what it was handed. */
static struct ho_ent *ents;
static uint32_t nr_ents, cap_ents;

int handover_keep(uint32_t id, const char *name, uint32_t target,
		  uint32_t flags, int fd)
{
	struct ho_ent *e;

	if (nr_ents == cap_ents) {
		uint32_t cap = cap_ents ? 2 * cap_ents : 16;

		if (cap > HO_MAX)
			return -ENOSPC;
		e = realloc(ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		ents = e;
		cap_ents = cap;
	}
	e = &ents[nr_ents++];
	memset(e, 0, sizeof(*e));
	e->r.magic = HO_MAGIC;
	e->r.tenant_id = id;
	e->r.target = target;
	e->r.flags = flags;
	snprintf(e->r.name, sizeof(e->r.name), "%s", name);
	e->fd = fd;
	return 0;
}

static char *ho_path(const char *dir)
{
	char *p;

	return asprintf(&p, "%s/%s", dir, HO_NAME) < 0 ? NULL : p;
}

/* Move *@fd to a number above the keeper's 0-4 (close-on-exec). */
static int fd_above(int *fd)
{
	int n;

	if (*fd > 4)
		return 0;
	n = fcntl(*fd, F_DUPFD_CLOEXEC, 5);
	if (n < 0)
		return -1;
	close(*fd);
	*fd = n;
	return 0;
}

void handover_spawn(const char *dir, unsigned int wait_s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	char secs[16], *path = ho_path(dir);
	char *argv[] = {"xiod", "--fd-keeper", secs, NULL};
	int sp[2] = {-1, -1}, lfd = -1, err;
	uint32_t i, sent = 0;
	pid_t pid;

	if (!nr_ents)
		goto out;
	err = -ENAMETOOLONG;
	if (!path || strlen(path) >= sizeof(sa.sun_path))
		goto fail;
	strcpy(sa.sun_path, path);
	snprintf(secs, sizeof(secs), "%u", wait_s);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(lfd, 4) < 0) {
		err = -errno;
		goto fail;
	}
	/* Out of the way of 0-4 first: dup2 onto 3 and 4 must not clobber
	 * one with the other. */
	if (fd_above(&sp[1]) || fd_above(&lfd)) {
		err = -errno;
		goto fail;
	}
	/* dup2 onto 3 and 4 clears their close-on-exec; every other fd of
	 * xiod is close-on-exec (and the keeper closes the rest anyway).  No
	 * stdout/stderr: it would hold a journal's (or a test's) pipe open
	 * for as long as it waits.  No blocked signals: SIGTERM ends it. */
	err = -posix_spawn_file_actions_init(&fa);
	if (err)
		goto fail;
	err = -posix_spawnattr_init(&at);
	if (err) {
		posix_spawn_file_actions_destroy(&fa);
		goto fail;
	}
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_adddup2(&fa, sp[1], 3);
	posix_spawn_file_actions_adddup2(&fa, lfd, 4);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	err = -posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, NULL);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (err)
		goto fail;
	close(sp[1]);
	sp[1] = -1;
	for (i = 0; i < nr_ents; i++) {
		err = xio__msg_send(sp[0], &ents[i].r, sizeof(ents[i].r),
				    &ents[i].fd, 1);
		if (err)
			break;
		sent++;
	}
	log_info(
		"handover: %u target fd(s) kept for the next xiod by pid %d (%s, %s)",
		sent, (int)pid, path, wait_s ? secs : "no time limit");
	if (sent == nr_ents)
		goto out;
fail:
	log_warn(
		"handover: %u target fd(s) not kept (%s): their requests fail with EBADF after the restart",
		nr_ents - sent, strerror(-err));
	if (path && lfd >= 0)
		unlink(path);
out:
	if (sp[0] >= 0)
		close(sp[0]); /* EOF: the keeper has everything */
	if (sp[1] >= 0)
		close(sp[1]);
	if (lfd >= 0)
		close(lfd);
	handover_drop_all();
	free(path);
}

/*
 * `xiod --fd-keeper SEC`: fd 3 brings the records, fd 4 listens.  Only
 * async-signal-safe work would matter before exec; after it this is a
 * plain process that holds the fds and nothing else.
 */
int handover_keeper(const char *secs)
{
	static struct ho_ent kept[HO_MAX];
	unsigned long wait_s = strtoul(secs, NULL, 10);
	struct pollfd pf = {.fd = 4, .events = POLLIN};
	uint32_t n = 0, i;
	int timeout, c;

	close_range(5, ~0U, 0);
	for (;;) {
		unsigned int nfds;
		int flags;
		long len = xio__msg_recv(3, &kept[n].r, sizeof(kept[n].r),
					 &kept[n].fd, 1, &nfds, &flags);

		if (len <= 0)
			break; /* EOF: all sent */
		if (nfds != 1 || (size_t)len != sizeof(kept[n].r))
			continue; /* not ours: xio__msg_recv() closed extras */
		if (++n == HO_MAX)
			break;
	}
	close(3);
	timeout = wait_s ?
			  (int)(wait_s > 2000000 ? 2000000000 : wait_s * 1000) :
			  -1;
	while (n && poll(&pf, 1, timeout) > 0) {
		struct ucred cr;
		socklen_t cl = sizeof(cr);

		c = accept4(4, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (c < 0)
			break; /* not a listening socket: nothing to wait for */
		/* Only xiod's own user gets them (the directory is 0700). */
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
		    cr.uid != geteuid()) {
			close(c);
			continue;
		}
		for (i = 0; i < n; i++)
			if (xio__msg_send(c, &kept[i].r, sizeof(kept[i].r),
					  &kept[i].fd, 1))
				break;
		/* End of records; then wait for the reader to hang up: every
		 * fd is in its hands. */
		shutdown(c, SHUT_WR);
		pf.fd = c;
		poll(&pf, 1, 10000);
		close(c);
		break;
	}
	return 0;
}

int handover_collect(const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};
	char *path = ho_path(dir);
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int fd, err = 0;

	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		free(path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno == ENOENT ? 0 : -errno;
		if (errno == ECONNREFUSED)
			unlink(path); /* a keeper that gave up */
		goto out;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
	    cr.uid != geteuid()) {
		err = -EPERM;
		goto out;
	}
	unlink(path);
	for (;;) {
		struct ho_rec r;
		unsigned int nfds;
		int flags, rfd = -1;
		long len = xio__msg_recv(fd, &r, sizeof(r), &rfd, 1, &nfds,
					 &flags);

		if (len <= 0) {
			err = len == -EAGAIN ? -ETIMEDOUT : (int)len;
			break;
		}
		/* Checked like any input, though it comes from ourselves. */
		if (nfds != 1 || (size_t)len != sizeof(r) ||
		    r.magic != HO_MAGIC || !memchr(r.name, 0, sizeof(r.name)) ||
		    r.target >= XIO_MAX_TARGETS ||
		    handover_keep(r.tenant_id, r.name, r.target, r.flags,
				  rfd)) {
			if (nfds == 1)
				close(rfd);
			continue;
		}
	}
	if (nr_ents)
		log_info("handover: %u target fd(s) from the previous xiod",
			 nr_ents);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return err;
}

int handover_take(uint32_t id, const char *name, uint32_t target,
		  uint32_t flags)
{
	uint32_t i;

	for (i = 0; i < nr_ents; i++) {
		struct ho_ent *e = &ents[i];
		struct stat st;
		int fd = e->fd;

		if (fd < 0 || e->r.tenant_id != id || e->r.target != target ||
		    strcmp(e->r.name, name))
			continue;
		e->fd = -1;
		/* The kind the log says (a socket stays a socket). */
		if (e->r.flags != flags || fstat(fd, &st) < 0 ||
		    !!S_ISSOCK(st.st_mode) != !!(flags & XIO_TARGET_SOCKET)) {
			close(fd);
			return -ESTALE;
		}
		return fd;
	}
	return -ENOENT;
}

void handover_drop_all(void)
{
	uint32_t i;

	for (i = 0; i < nr_ents; i++)
		if (ents[i].fd >= 0)
			close(ents[i].fd);
	free(ents);
	ents = NULL;
	nr_ents = cap_ents = 0;
}
