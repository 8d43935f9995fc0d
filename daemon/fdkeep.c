// SPDX-License-Identifier: MIT
/*
 * The fd keeper: a process that holds the eventfds of xiod's
 * ivshmem-doorbell VM tenants, so that a killed xiod's successor gets back
 * the very eventfds QEMU holds (QEMU never takes new ones: docs/vm.md) and
 * serves those tenants with kicks and interrupts instead of polling them.
 *
 * xiod (with --state-dir) starts it at its first doorbell tenant: it binds
 * <state dir>/xiod.fdkeep (0600, in the 0700 directory), makes a socketpair
 * for its own connection and runs `xiod --fd-keeper DIR` (a fresh
 * exec of its own binary: no memory, thread or ring of xiod's, so the
 * restart barrier never waits for it) in a session of its own, with the
 * bound socket on fd 3, its end of the pair on fd 4, /dev/null for 0-2
 * (no log pipe held open) and nothing else.  The keeper listens, so that
 * SO_PEERCRED names it, and serves at most KEEP_CONNS connections of xiod's
 * own uid (SO_PEERCRED checked at accept; the socketpair is xiod's).
 *
 * Messages are SOCK_SEQPACKET records (struct fdk_msg), checked by both
 * sides like any peer input:
 *
 *     PUT  name, N  + 2N eventfds   keep (replaces what @name had); no reply
 *     GET  name, N                  reply: status, and the 2N eventfds
 *     DROP name                     close what @name had; no reply
 *     SWEEP                         close what this connection neither put
 *                                   nor got (tenants not re-adopted)
 *     BYE  keep                     keep 0: close everything, else what
 *                                   no log names; reply: entries left;
 *                                   none: exit
 *
 * fd 2i is queue pair i's kick eventfd (xiod polls it; the guest's
 * Doorbell writes signal it), fd 2i + 1 its notify eventfd (the guest's
 * interrupt; xiod writes it).  Only eventfds are kept (the keeper checks,
 * the reader checks again), at most KEEP_ENTRIES names and KEEP_FDS fds.
 * The keeper exits when its socket no longer names it (the state
 * directory removed, another keeper started), and when it has neither a
 * connection nor anything kept (a clean stop, or an xiod that never had a
 * doorbell tenant to keep).  xiod never waits on it but for a reply to GET
 * (re-adoption) or BYE (clean stop), 2 s and 1 s at most: it answers in
 * microseconds, but on a machine loaded 8-fold (2 cores, load 16) it was
 * seen not to be scheduled within 200 ms.  A keeper that does not answer
 * in time is given up (xiod starts another when it has something to
 * keep).
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdkeep.h"
#include "proto.h"
#include "xiod.h"

#define FDK_NAME "xiod.fdkeep"
#define FDK_MAGIC 0x4b454546U /* "FEEK" */
#define KEEP_ENTRIES 4096
#define KEEP_FDS 16384
#define KEEP_CONNS 8
#define KEEP_PER (2 * XIO_MAX_QPAIRS)
#define GET_WAIT_MS 2000
#define BYE_WAIT_MS 1000

enum {
	FDK_PUT = 1,
	FDK_GET,
	FDK_DROP,
	FDK_SWEEP,
	FDK_BYE,
	FDK_REPLY = 0x80
};

enum {
	FDK_DOORBELL = 1, /* arg: N queue pairs, 2N eventfds */
	FDK_TARGET,	  /* arg: the target's index, 1 fd */
};

struct fdk_msg {
	uint32_t magic;
	uint32_t op;
	uint32_t kind; /* FDK_DOORBELL, FDK_TARGET */
	uint32_t arg;
	int32_t status;
	char name[XIO_NAME_MAX];
};

_Static_assert(KEEP_PER <= XIO_MSG_MAX_FDS, "one message per tenant");

static int fdk_path(const char *dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	return snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir,
			FDK_NAME) >= (int)sizeof(sa->sun_path) ?
		       -ENAMETOOLONG :
		       0;
}

bool xiod_is_eventfd(int fd)
{
	static const char want[] = "anon_inode:[eventfd]";
	char p[40], l[sizeof(want) + 1];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, l, sizeof(l));
	return n == (ssize_t)sizeof(want) - 1 && !memcmp(l, want, (size_t)n);
}

static void close_fds(const int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * One record from @fd into @m and @fds (KEEP_PER at most): its fd count,
 * or -errno (-EPIPE: closed, -EPROTO: not a record of ours; every fd that
 * came is closed then).
 */
/* What @kind may carry: eventfds, or a target's file, device or socket. */
static bool fd_ok(uint32_t kind, int fd)
{
	struct stat st;

	if (kind == FDK_DOORBELL)
		return xiod_is_eventfd(fd);
	return fstat(fd, &st) == 0 &&
	       (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
		S_ISSOCK(st.st_mode));
}

static int fdk_recv(int fd, struct fdk_msg *m, int *fds)
{
	unsigned char buf[sizeof(*m) + 1];
	unsigned int nfds, i;
	int flags;
	long n = xio__msg_recv(fd, buf, sizeof(buf), fds, KEEP_PER, &nfds,
			       &flags);

	if (n <= 0)
		return n == 0 ? -EPIPE : (int)n;
	memcpy(m, buf, sizeof(*m));
	if (nfds > KEEP_PER || n != (long)sizeof(*m) ||
	    (flags & (MSG_TRUNC | MSG_CTRUNC)) || m->magic != FDK_MAGIC ||
	    !memchr(m->name, 0, sizeof(m->name)) ||
	    (m->kind == FDK_DOORBELL ? m->arg > XIO_MAX_QPAIRS :
	     m->kind == FDK_TARGET   ? m->arg >= XIO_MAX_TARGETS || nfds > 1 :
				       nfds > 0)) {
		close_fds(fds, nfds < KEEP_PER ? nfds : KEEP_PER);
		return -EPROTO;
	}
	for (i = 0; i < nfds; i++)
		if (!fd_ok(m->kind, fds[i])) {
			close_fds(fds, nfds);
			return -EPROTO;
		}
	return (int)nfds;
}

static int fdk_send(int fd, uint32_t op, uint32_t kind, const char *name,
		    uint32_t arg, int32_t status, const int *fds,
		    unsigned int nfds)
{
	struct fdk_msg m;

	memset(&m, 0, sizeof(m));
	m.magic = FDK_MAGIC;
	m.op = op;
	m.kind = kind;
	m.arg = arg;
	m.status = status;
	if (name)
		snprintf(m.name, sizeof(m.name), "%s", name);
	return xio__msg_send(fd, &m, sizeof(m), fds, nfds);
}

/* ---- the keeper process ------------------------------------------------- */

struct kent {
	uint32_t nr; /* fds; 0: free */
	uint32_t kind;
	uint32_t idx; /* FDK_TARGET: the target's index */
	uint64_t owner;
	char name[XIO_NAME_MAX];
	int *fds;
};

struct kconn {
	int fd; /* -1: free */
	uint64_t serial;
};

static struct kent kents[KEEP_ENTRIES];
static struct kconn kconns[KEEP_CONNS];
static uint32_t nr_kents, nr_kfds;

/* The fds @m's kind and argument ask for. */
static int kent_want(const struct fdk_msg *m)
{
	return m->kind == FDK_DOORBELL ? 2 * (int)m->arg : 1;
}

static struct kent *kent_find(const struct fdk_msg *m)
{
	uint32_t idx = m->kind == FDK_TARGET ? m->arg : 0;
	unsigned int i;

	for (i = 0; i < KEEP_ENTRIES; i++)
		if (kents[i].nr && kents[i].kind == m->kind &&
		    kents[i].idx == idx && !strcmp(kents[i].name, m->name))
			return &kents[i];
	return NULL;
}

static void kent_free(struct kent *e)
{
	close_fds(e->fds, e->nr);
	free(e->fds);
	e->fds = NULL;
	nr_kfds -= e->nr;
	nr_kents--;
	e->nr = 0;
}

static void keep_put(const struct fdk_msg *m, const int *fds, int nfds,
		     uint64_t owner)
{
	struct kent *e = kent_find(m);
	unsigned int i;

	if (e)
		kent_free(e);
	for (i = 0; !e && i < KEEP_ENTRIES; i++)
		if (!kents[i].nr)
			e = &kents[i];
	if (!m->name[0] || !nfds || nfds != kent_want(m) || !e ||
	    nr_kfds + (uint32_t)nfds > KEEP_FDS ||
	    !(e->fds = malloc((size_t)nfds * sizeof(*fds)))) {
		close_fds(fds, (unsigned int)nfds);
		return;
	}
	memcpy(e->name, m->name, sizeof(e->name));
	memcpy(e->fds, fds, (size_t)nfds * sizeof(*fds));
	e->nr = (uint32_t)nfds;
	e->kind = m->kind;
	e->idx = m->kind == FDK_TARGET ? m->arg : 0;
	e->owner = owner;
	nr_kents++;
	nr_kfds += e->nr;
}

static const char *kdir;

/* Whether @e's tenant still has its in-flight log (a next xiod may
 * re-adopt it): one removed by hand, say, has nothing to come back to. */
static bool keep_logged(const struct kent *e)
{
	char p[XIO_PATH_MAX];

	return snprintf(p, sizeof(p), "%s/%s.ilog", kdir, e->name) <
		       (int)sizeof(p) &&
	       access(p, F_OK) == 0;
}

/* One request on @c: 1 served, 0 none waiting, -1 close the connection. */
static int keep_serve(struct kconn *c, const char *path)
{
	int fds[KEEP_PER];
	struct fdk_msg m;
	struct kent *e;
	unsigned int i;
	int n = fdk_recv(c->fd, &m, fds);

	if (n < 0)
		return n == -EAGAIN || n == -EINTR ? 0 : -1;
	if (n && m.op != FDK_PUT) {
		close_fds(fds, (unsigned int)n);
		return -1;
	}
	switch (m.op) {
	case FDK_PUT:
		keep_put(&m, fds, n, c->serial);
		return 1;
	case FDK_GET:
		e = kent_find(&m);
		if (!e || e->nr != (uint32_t)kent_want(&m))
			return fdk_send(c->fd, FDK_GET | FDK_REPLY, m.kind,
					m.name, m.arg, e ? -ESTALE : -ENOENT,
					NULL, 0) ?
				       -1 :
				       1;
		e->owner = c->serial;
		return fdk_send(c->fd, FDK_GET | FDK_REPLY, m.kind, m.name,
				m.arg, 0, e->fds, e->nr) ?
			       -1 :
			       1;
	case FDK_DROP: /* everything of that tenant */
		for (i = 0; i < KEEP_ENTRIES; i++)
			if (kents[i].nr && !strcmp(kents[i].name, m.name))
				kent_free(&kents[i]);
		return 1;
	case FDK_SWEEP: /* doorbells (targets: their guests come later) */
		for (i = 0; i < KEEP_ENTRIES; i++)
			if (kents[i].nr && kents[i].kind == FDK_DOORBELL &&
			    kents[i].owner != c->serial)
				kent_free(&kents[i]);
		return 1;
	case FDK_BYE:
		/* arg 0: xiod detached everything, nothing is to be kept;
		 * else (a handover) what a tenant with a log has. */
		for (i = 0; i < KEEP_ENTRIES; i++)
			if (kents[i].nr && (!m.arg || !keep_logged(&kents[i])))
				kent_free(&kents[i]);
		/* Gone before the reply: the state directory is empty when
		 * the stopping xiod exits. */
		if (!nr_kents)
			unlink(path);
		fdk_send(c->fd, FDK_BYE | FDK_REPLY, 0, NULL, 0,
			 (int32_t)nr_kents, NULL, 0);
		if (!nr_kents)
			exit(0);
		return 1;
	default:
		return -1;
	}
}

/*
 * Every request waiting, connection by connection, oldest first and each
 * to the end: what a killed xiod sent is done before its successor asks.
 */
static void keep_drain(const struct pollfd *pf, const char *path)
{
	uint64_t done = 0;
	unsigned int i;
	int r;

	for (;;) {
		struct kconn *c = NULL;

		for (i = 0; i < KEEP_CONNS; i++)
			if (kconns[i].fd >= 0 && pf[i].revents &&
			    kconns[i].serial > done &&
			    (!c || kconns[i].serial < c->serial))
				c = &kconns[i];
		if (!c)
			return;
		done = c->serial;
		while ((r = keep_serve(c, path)) > 0)
			;
		if (r < 0) {
			close(c->fd);
			c->fd = -1;
		}
	}
}

static void keep_accept(int lfd, uint64_t *serial)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	unsigned int i;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	/* xiod's own uid only; the directory is 0700 anyway. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
	    cr.uid != geteuid()) {
		close(fd);
		return;
	}
	for (i = 0; i < KEEP_CONNS; i++)
		if (kconns[i].fd < 0) {
			kconns[i].fd = fd;
			kconns[i].serial = ++*serial;
			return;
		}
	close(fd); /* busy: a restarted xiod retries, a stray one goes */
}

/* Whether @path still names the socket this keeper listens on. */
static bool keep_ours(const char *path, const struct stat *own)
{
	struct stat st;

	return lstat(path, &st) == 0 && st.st_dev == own->st_dev &&
	       st.st_ino == own->st_ino;
}

int fdkeep_main(const char *dir)
{
	struct pollfd pf[1 + KEEP_CONNS];
	struct sockaddr_un sa;
	struct rlimit rl;
	struct stat own;
	uint64_t serial = 1;
	unsigned int i, nc;

	close_range(5, ~0U, 0); /* nothing of xiod's but fds 3 and 4 */
	kdir = dir;
	signal(SIGPIPE, SIG_IGN);
	if (dir[0] != '/' || fdk_path(dir, &sa) || lstat(sa.sun_path, &own) ||
	    !S_ISSOCK(own.st_mode) || listen(3, 8) < 0)
		return 1;
	if (chdir("/") < 0)
		return 1;
	/* Room for everything it may keep. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < KEEP_FDS + 64) {
		rl.rlim_cur = rl.rlim_max < KEEP_FDS + 64 ? rl.rlim_max :
							    KEEP_FDS + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fcntl(3, F_SETFL, O_NONBLOCK);
	fcntl(4, F_SETFL, O_NONBLOCK);
	for (i = 0; i < KEEP_CONNS; i++)
		kconns[i].fd = -1;
	kconns[0].fd = 4;
	kconns[0].serial = 1;
	for (;;) {
		nc = 0;
		pf[0].fd = 3;
		pf[0].events = POLLIN;
		for (i = 0; i < KEEP_CONNS; i++) {
			pf[1 + i].fd = kconns[i].fd;
			pf[1 + i].events = POLLIN;
			pf[1 + i].revents = 0;
			nc += kconns[i].fd >= 0;
		}
		if (!keep_ours(sa.sun_path, &own))
			return 0; /* directory gone, or another keeper's */
		if (!nc && !nr_kents)
			break;
		if (poll(pf, 1 + KEEP_CONNS, 1000) < 0 && errno != EINTR)
			break;
		keep_drain(pf + 1, sa.sun_path);
		if (pf[0].revents)
			keep_accept(3, &serial);
	}
	if (keep_ours(sa.sun_path, &own))
		unlink(sa.sun_path);
	return 0;
}

/* ---- xiod's side -------------------------------------------------------- */

static int kfd = -1;	/* connection to the keeper */
static pid_t kpid;	/* the keeper, when this xiod started it */
static time_t kspawned; /* when (one start a second at most) */
static int kepfd = -1;
static uint64_t ktag;

static void kwatch(void)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

	ev.data.u64 = ktag;
	if (kepfd >= 0 && kfd >= 0)
		epoll_ctl(kepfd, EPOLL_CTL_ADD, kfd, &ev);
}

static void klost(const char *why)
{
	int st;

	if (kfd < 0)
		return;
	close(kfd);
	kfd = -1;
	if (kpid > 0 && waitpid(kpid, &st, WNOHANG) == kpid)
		kpid = 0;
	log_warn("fd keeper: %s: doorbells kept so far are lost if xiod dies",
		 why);
}

static int kconnect(const struct sockaddr_un *sa)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* Our own user's, or nothing of ours goes there. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
	    cr.uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

void fdkeep_open(int epfd, uint64_t tag)
{
	struct sockaddr_un sa;
	int fd, i;

	kepfd = epfd;
	ktag = tag;
	if (!cfg.state_dir || kfd >= 0 || fdk_path(cfg.state_dir, &sa))
		return;
	/* Refused: a killed keeper's socket (we are alone), or one that
	 * was just started and does not listen yet: 100 ms for that. */
	for (i = 0; (fd = kconnect(&sa)) == -ECONNREFUSED && i < 10; i++)
		usleep(10000);
	if (fd == -ECONNREFUSED)
		unlink(sa.sun_path);
	if (fd == -ENOENT || fd == -ECONNREFUSED)
		return;
	if (fd < 0) {
		log_warn("fd keeper %s: %s: doorbell tenants are polled",
			 sa.sun_path, strerror(-fd));
		return;
	}
	kfd = fd;
	kwatch();
	log_info("fd keeper found on %s", sa.sun_path);
}

/* Move @fd to >= 10 (close-on-exec): the keeper's 3 and 4 stay free. */
static int fd_high(int fd)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return n;
}

static int kspawn(void)
{
	char *argv[] = {"xiod", "--fd-keeper", (char *)cfg.state_dir, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct sockaddr_un sa;
	int sp[2], lfd, err;
	sigset_t none;
	mode_t old;
	pid_t pid;

	if (time(NULL) == kspawned)
		return -EAGAIN; /* it died at once: not in a loop */
	kspawned = time(NULL);
	err = fdk_path(cfg.state_dir, &sa);
	if (err)
		return err;
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		err = -errno;
		close(lfd);
		return err;
	}
	lfd = fd_high(lfd);
	sp[1] = fd_high(sp[1]);
	/* A keeper that does not answer (or a dead one's socket) is
	 * replaced: the old one sees its socket gone and exits. */
	unlink(sa.sun_path);
	old = umask(0177);
	err = lfd < 0 || sp[1] < 0 ||
			      bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) <
				      0 ?
		      -errno :
		      0;
	umask(old);
	if (!err)
		err = -posix_spawn_file_actions_init(&fa);
	if (!err) {
		err = -posix_spawnattr_init(&at);
		if (err)
			posix_spawn_file_actions_destroy(&fa);
	}
	if (!err) {
		/* Its own session, no blocked signal, no log pipe. */
		sigemptyset(&none);
		posix_spawnattr_setsigmask(&at, &none);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
						      POSIX_SPAWN_SETSID);
		posix_spawn_file_actions_adddup2(&fa, lfd, 3);
		posix_spawn_file_actions_adddup2(&fa, sp[1], 4);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR,
						 0);
		posix_spawn_file_actions_adddup2(&fa, 0, 1);
		posix_spawn_file_actions_adddup2(&fa, 0, 2);
		/*
		 * Everything else of xiod's closed right after the clone, not
		 * at the exec: if xiod is killed meanwhile, a child still
		 * exec'ing under load would otherwise hold its listening socket
		 * (the next xiod's probe finds "another xiod listening"), its
		 * process lock and its rings (docs/daemon.md, the restart
		 * barrier).
		 */
		posix_spawn_file_actions_addclosefrom_np(&fa, 5);
		err = -posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv,
				   NULL);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
	}
	if (lfd >= 0)
		close(lfd);
	if (sp[1] >= 0)
		close(sp[1]);
	if (err) {
		unlink(sa.sun_path);
		close(sp[0]);
		return err;
	}
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	kfd = sp[0];
	kpid = pid;
	kwatch();
	log_info("fd keeper started: pid %d, %s", (int)pid, sa.sun_path);
	return 0;
}

static int kput(uint32_t kind, const char *name, uint32_t arg, const int *fds,
		unsigned int nfds)
{
	int err;

	if (!cfg.state_dir)
		return -ENOTSUP;
	if (kfd < 0) {
		err = kspawn();
		if (err)
			return err;
	}
	err = fdk_send(kfd, FDK_PUT, kind, name, arg, 0, fds, nfds);
	if (err && err != -EAGAIN)
		klost(strerror(-err));
	return err;
}

int fdkeep_put(const char *name, const int *fds, uint32_t nr_qpairs)
{
	if (!nr_qpairs || nr_qpairs > XIO_MAX_QPAIRS)
		return -EINVAL;
	return kput(FDK_DOORBELL, name, nr_qpairs, fds, 2 * nr_qpairs);
}

int fdkeep_put_target(const char *name, uint32_t idx, int fd)
{
	if (idx >= XIO_MAX_TARGETS)
		return -EINVAL;
	return kput(FDK_TARGET, name, idx, &fd, 1);
}

/* A reply to @op, @wait_ms at most: its status, or -errno. */
static int kreply(uint32_t op, uint32_t kind, const char *name, int *fds,
		  int want, int wait_ms)
{
	struct pollfd pf = {.fd = kfd, .events = POLLIN};
	int none[KEEP_PER];
	struct fdk_msg m;
	int n, r;

	if (!fds)
		fds = none;

	do
		r = poll(&pf, 1, wait_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		klost("no answer");
		return -ETIMEDOUT;
	}
	n = fdk_recv(kfd, &m, fds);
	if (n < 0 || m.op != (op | FDK_REPLY) || m.kind != kind ||
	    (name && strcmp(m.name, name)) || (m.status < 0 && n) ||
	    (m.status == 0 && name && n != want)) {
		if (n > 0)
			close_fds(fds, (unsigned int)n);
		klost(n == -EPIPE ? "gone" : "protocol error");
		return -EPROTO;
	}
	return m.status;
}

static int kget(uint32_t kind, const char *name, uint32_t arg, int *fds,
		int want)
{
	int err;

	if (kfd < 0)
		return -ENOTCONN;
	err = fdk_send(kfd, FDK_GET, kind, name, arg, 0, NULL, 0);
	if (err) {
		klost(strerror(-err));
		return err;
	}
	return kreply(FDK_GET, kind, name, fds, want, GET_WAIT_MS);
}

int fdkeep_get(const char *name, int *fds, uint32_t nr_qpairs)
{
	if (!nr_qpairs || nr_qpairs > XIO_MAX_QPAIRS)
		return -EINVAL;
	return kget(FDK_DOORBELL, name, nr_qpairs, fds, 2 * (int)nr_qpairs);
}

int fdkeep_get_target(const char *name, uint32_t idx)
{
	int fd = -1, err;

	if (idx >= XIO_MAX_TARGETS)
		return -EINVAL;
	err = kget(FDK_TARGET, name, idx, &fd, 1);
	return err ? err : fd;
}

/* A request without fds or answer to the keeper, if there is one. */
static void ksend(uint32_t op, const char *name)
{
	int err;

	if (kfd < 0)
		return;
	err = fdk_send(kfd, op, 0, name, 0, 0, NULL, 0);
	if (err)
		klost(strerror(-err));
}

void fdkeep_drop(const char *name)
{
	ksend(FDK_DROP, name);
}

void fdkeep_sweep(void)
{
	ksend(FDK_SWEEP, NULL);
}

bool fdkeep_event(void)
{
	char c;
	ssize_t n;

	if (kfd < 0)
		return false;
	n = recv(kfd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	klost(n == 0 ? "gone" :
	      n > 0  ? "wrote unasked: dropped" :
		       strerror(errno));
	return true;
}

void fdkeep_close(bool keep)
{
	int left, i, st;

	if (kfd < 0)
		return;
	left = fdk_send(kfd, FDK_BYE, 0, NULL, keep, 0, NULL, 0);
	if (!left)
		left = kreply(FDK_BYE, 0, NULL, NULL, 0, BYE_WAIT_MS);
	if (left > 0)
		log_info(
			"fd keeper: keeps the eventfds of %d tenant(s) for the next xiod",
			left);
	if (kfd >= 0)
		close(kfd);
	kfd = -1;
	/* Reaped if ours (it exits at once when it keeps nothing). */
	for (i = 0; kpid > 0 && !left && i < 100; i++) {
		if (waitpid(kpid, &st, WNOHANG) != 0)
			break;
		usleep(10000);
	}
}
