/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the xiod integration tests: start a private xiod on a
 * temporary socket, stop it (checking it exits cleanly), count its fds,
 * speak raw protocol for the abuse tests.
 */
#ifndef XIO_DTEST_H
#define XIO_DTEST_H

#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#include "proto.h"
#include "xtest.h"
#include "xtest_proc.h"

#ifdef XIO_TEST_SANITIZED
#define SCALE(n) ((n) / 10 ? (n) / 10 : 1)
#else
#define SCALE(n) (n)
#endif

/*
 * Lines /proc/PID/maps may gain over tenant churn without a leak: allocator
 * noise and, under a sanitizer, its shadow for every new address range (a
 * TSan heap block over 128 KiB, such as the in-flight log of a tenant with
 * a large CQ, lands at a new address each time).  A leaked region is one
 * line per tenant: the plain builds, with more cycles, catch it.
 */
#ifdef XIO_TEST_SANITIZED
#define DT_MAPS_SLACK 32
#else
#define DT_MAPS_SLACK 8
#endif

/* If set, xiod is started with this RLIMIT_NOFILE (soft and hard). */
static unsigned int dt_nofile;

struct xiod {
	pid_t pid;
	char dir[40];
	char sock[100];
};

static inline uint64_t dt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline int dt_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct timeval tv = {10, 0};

	CHECK(fd >= 0);
	CHECK(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static inline int fd_count(pid_t pid);
static inline void wait_fd_count(pid_t pid, int want);

/* @argv (@max entries): xiod on @d's socket, then the arguments in @ap up
 * to a NULL. */
static inline void dt_argv_v(const struct xiod *d, const char **argv, int max,
			     va_list ap)
{
	const char *a;
	int n = 0;

	argv[n++] = XIOD_PATH;
	argv[n++] = "--foreground";
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--socket-mode";
	argv[n++] = "0666";
	while ((a = va_arg(ap, const char *)) && n < max - 1)
		argv[n++] = a;
	CHECK(!a);
	argv[n] = NULL;
}

/* Start xiod on @d's socket with extra arguments from @ap. */
static inline void xiod_vstart(struct xiod *d, va_list ap)
{
	const char *argv[40];
	int fd, n;
	uint64_t deadline;

	dt_argv_v(d, argv, 40, ap);
	d->pid = fork();
	CHECK(d->pid >= 0);
	if (d->pid == 0) {
		/* Dies with the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dt_nofile) {
			struct rlimit rl = {dt_nofile, dt_nofile};

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		execv(XIOD_PATH, (char *const *)argv);
		perror("exec xiod");
		_exit(127);
	}
	deadline = dt_now_ms() + 10000;
	for (;;) {
		int st;

		fd = dt_connect(d->sock);
		if (fd >= 0) {
			/*
			 * Answered only once every thread and fd is set up;
			 * once xiod has seen this one connection close, its
			 * fd count is the baseline.
			 */
			CHECK(xio__admin_tenants_fd(fd, 0, NULL, 0, NULL) >= 0);
			n = fd_count(d->pid);
			close(fd);
			wait_fd_count(d->pid, n - 1);
			return;
		}
		CHECK(waitpid(d->pid, &st, WNOHANG) == 0); /* still alive */
		CHECK(dt_now_ms() < deadline);
		usleep(10000);
	}
}

/* Start xiod with extra arguments (NULL-terminated). */
static inline void xiod_start(struct xiod *d, ...)
{
	va_list ap;

	snprintf(d->dir, sizeof(d->dir), "/tmp/xiod-test-XXXXXX");
	CHECK(mkdtemp(d->dir));
	chmod(d->dir, 0755);
	snprintf(d->sock, sizeof(d->sock), "%s/xiod.sock", d->dir);
	va_start(ap, d);
	xiod_vstart(d, ap);
	va_end(ap);
}

/* After xiod died or stopped: a new one on the same socket path. */
static inline void xiod_restart(struct xiod *d, ...)
{
	va_list ap;

	CHECK(!mkdir(d->dir, 0755) || errno == EEXIST); /* xiod_stop() */
	unlink(d->sock);
	va_start(ap, d);
	xiod_vstart(d, ap);
	va_end(ap);
}

/* SIGTERM, then require a clean exit within 10 s. */
static inline void xiod_stop(struct xiod *d)
{
	uint64_t deadline = dt_now_ms() + 10000;
	int st = 0;

	CHECK(kill(d->pid, SIGTERM) == 0);
	while (waitpid(d->pid, &st, WNOHANG) == 0) {
		if (dt_now_ms() > deadline) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
			fprintf(stderr, "FAIL: xiod did not exit on SIGTERM\n");
			exit(1);
		}
		usleep(10000);
	}
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	unlink(d->sock);
	rmdir(d->dir);
}

/* ---- restart (docs/daemon.md, "Restart") -------------------------------- */

/* A --state-dir, "/dev/shm/xiod-TAG-XXXXXX" (tmpfs: the in-flight logs are
 * MAP_SHARED files), else under /tmp. */
static inline void dt_state_dir(char *buf, size_t n, const char *tag)
{
	snprintf(buf, n, "/dev/shm/xiod-%s-XXXXXX", tag);
	if (mkdtemp(buf))
		return;
	snprintf(buf, n, "/tmp/xiod-%s-XXXXXX", tag);
	CHECK(mkdtemp(buf));
}

/* @argv (@max entries) of an xiod on @d's socket, then the NULL-terminated
 * extra arguments: what dt_xiod_spawn() starts again after a kill. */
static inline void dt_xiod_argv(const struct xiod *d, const char **argv,
				int max, ...)
{
	va_list ap;

	va_start(ap, max);
	dt_argv_v(d, argv, max, ap);
	va_end(ap);
}

/* Start xiod with @argv into @d->pid, not waiting for it to listen. */
static inline void dt_xiod_spawn(struct xiod *d, const char *const *argv)
{
	d->pid = fork();
	CHECK(d->pid >= 0);
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(XIOD_PATH, (char *const *)argv);
		_exit(127);
	}
}

/* SIGKILL @d's xiod and reap it. */
static inline void dt_xiod_kill(struct xiod *d)
{
	int st;

	CHECK(kill(d->pid, SIGKILL) == 0);
	CHECK(waitpid(d->pid, &st, 0) == d->pid);
}

/* Retry xio_tenant_reattach() until a restarted xiod takes @t back (10 s at
 * most; the not-listening-yet errors only). */
static inline void dt_reattach(struct xio_tenant *t)
{
	uint64_t deadline = dt_now_ms() + 10000;
	int err;

	while ((err = xio_tenant_reattach(t))) {
		CHECK(err == -ENOENT || err == -ECONNREFUSED);
		CHECK(dt_now_ms() < deadline);
		usleep(1000);
	}
}

/*
 * A path for a scratch file whose writes never wait for a disk (tmpfs
 * /dev/shm when there is one, else @d's directory): rate tests on a
 * machine busy with I/O measure xiod, not the writeback.
 */
static inline void dt_scratch_path(const struct xiod *d, char *path, size_t n,
				   const char *name)
{
	struct stat st;

	if (!stat("/dev/shm", &st) && S_ISDIR(st.st_mode) &&
	    !access("/dev/shm", W_OK))
		snprintf(path, n, "/dev/shm/xiod-test-%d-%s", (int)getpid(),
			 name);
	else
		snprintf(path, n, "%s/%s", d->dir, name);
}

static inline int fd_count(pid_t pid)
{
	int n = proc_fd_count(pid);

	CHECK(n >= 0);
	return n;
}

/* CPU time (user + system) of @pid in clock ticks. */
static inline unsigned long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	CHECK(f);
	CHECK(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')'); /* fields after the command name */
	CHECK(p);
	CHECK(sscanf(p + 2,
		     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		     &ut, &st) == 2);
	return ut + st;
}

/* Resident set of @pid in KiB (VmRSS). */
static inline long rss_kib(pid_t pid)
{
	long kib = proc_status_kib(pid, "VmRSS");

	CHECK(kib >= 0);
	return kib;
}

/* Lines of /proc/PID/maps: one per mapping (region leaks show here). */
static inline int maps_count(pid_t pid)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f))
		n += strchr(line, '\n') != NULL;
	fclose(f);
	return n;
}

/* Wait (bounded) for xiod's fd count to come back to @want. */
static inline void wait_fd_count(pid_t pid, int want)
{
	uint64_t deadline = dt_now_ms() + 10000;
	int n;

	while ((n = fd_count(pid)) != want) {
		if (dt_now_ms() > deadline) {
			char cmd[64];

			fprintf(stderr, "FAIL: xiod has %d fds, baseline %d\n",
				n, want);
			snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2",
				 (int)pid);
			if (system(cmd))
				fprintf(stderr, "(no listing)\n");
			exit(1);
		}
		usleep(5000);
	}
}

static inline struct xio_tenant *attach(const char *sock, const char *name,
					uint32_t sq, uint32_t nr_bufs)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t = NULL;

	o.name = name;
	o.params.sq_entries = sq;
	o.params.nr_bufs = nr_bufs;
	CHECK_EQ(xio_client_attach(sock, &o, &t), 0);
	CHECK(t);
	return t;
}

static inline void info(struct xio_tenant *t, struct xio_tenant_info *i)
{
	CHECK_EQ(xio_tenant_info(t, i), 0);
}

/* Submit one SQE prepared by the caller and wait for its CQE. */
static inline struct xio_cqe wait_one(struct xio_qp *qp)
{
	struct xio_cqe *c, copy;

	CHECK_EQ(xio_wait_cqe(qp, &c, 10000), 0);
	copy = *c;
	xio_cqe_seen(qp, c);
	return copy;
}

static inline void nop_roundtrip(struct xio_qp *qp, uint64_t ud)
{
	struct xio_sqe *s = xio_get_sqe(qp);
	struct xio_cqe c;

	CHECK(s);
	xio_prep_nop(s, ud);
	CHECK_EQ(xio_submit(qp), 1);
	c = wait_one(qp);
	CHECK_EQ(c.user_data, ud);
	CHECK_EQ(c.res, 0);
}

/* ---- raw protocol ------------------------------------------------------- */

static inline int raw_send(int fd, const void *buf, size_t len, const int *fds,
			   unsigned int nfds)
{
	return xio__msg_send(fd, buf, len, fds, nfds);
}

/* Receive one reply; returns its status (or -1000 - errno on no reply). */
static inline int raw_reply(int fd, uint32_t *type)
{
	static char buf[XIO_MSG_MAX_SIZE + 1];
	int fds[8], flags;
	unsigned int nfds, i;
	long n;

	n = xio__msg_recv(fd, buf, sizeof(buf), fds, 8, &nfds, &flags);
	for (i = 0; i < nfds && i < 8; i++)
		close(fds[i]);
	if (n <= 0)
		return n < 0 ? (int)(-1000 + n) : -1000;
	CHECK((size_t)n >= sizeof(struct xio_msg_status));
	if (type)
		*type = ((struct xio_msg_hdr *)buf)->type;
	return ((struct xio_msg_status *)buf)->status;
}

#ifdef XIOCTL_PATH
/*
 * One ivshmem server message (xiod as QEMU's ivshmem server, docs/vm.md):
 * 1 with *v (and *fd or -1), 0 on EOF or reset.
 */
static inline int dt_recv64(int sock, int64_t *v, int *fd)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	uint64_t le;
	struct iovec iov = {.iov_base = &le, .iov_len = sizeof(le)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);

	*fd = -1;
	/* Closed with our bytes unread: a reset, i.e. dropped. */
	if (n < 0 && errno == ECONNRESET)
		return 0;
	CHECK(n >= 0);
	if (n == 0)
		return 0;
	CHECK_EQ(n, (ssize_t)sizeof(le));
	CHECK(!(mh.msg_flags & MSG_CTRUNC));
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		CHECK(c->cmsg_type == SCM_RIGHTS);
		CHECK_EQ(c->cmsg_len, CMSG_LEN(sizeof(int))); /* one fd */
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	}
	*v = (int64_t)le64toh(le);
	return 1;
}

/*
 * The fd keeper of state directory @dir (docs/vm.md): its pid, by
 * SO_PEERCRED on its socket (it listens itself), or -1 if none answers.
 */
static inline pid_t dt_keeper_pid(const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct { /* struct ucred, which a test may not see (_GNU_SOURCE) */
		pid_t pid;
		uid_t uid;
		gid_t gid;
	} cr;
	socklen_t cl = sizeof(cr);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	pid_t pid = -1;

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xiod.fdkeep", dir);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
		pid = cr.pid;
	close(fd);
	return pid;
}

static const char *dt_keeper_dir;

static inline void dt_keeper_kill(void)
{
	pid_t pid = dt_keeper_pid(dt_keeper_dir);

	if (pid > 0)
		kill(pid, SIGKILL);
}

/* A test that fails (exit()) leaves no keeper of @dir behind: it would
 * outlive the test (its own session) for as long as @dir exists. */
static inline void dt_keeper_kill_at_exit(const char *dir)
{
	dt_keeper_dir = dir;
	atexit(dt_keeper_kill);
}

/*
 * Run xioctl with @args (a shell fragment) against @d: its stdout, and its
 * stderr too when @with_stderr, into @out (NUL-terminated); returns its exit
 * status.
 */
static inline int dt_xioctl(const struct xiod *d, char *out, size_t n,
			    const char *args, bool with_stderr)
{
	char cmd[1024];
	size_t got;
	FILE *f;
	int st;

	CHECK((size_t)snprintf(cmd, sizeof(cmd), "%s --socket %s %s %s",
			       XIOCTL_PATH, d->sock, args,
			       with_stderr ? "2>&1" : "2>/dev/null") <
	      sizeof(cmd));
	f = popen(cmd, "r");
	CHECK(f);
	got = fread(out, 1, n - 1, f);
	out[got] = '\0';
	st = pclose(f);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}
#endif

#endif
