// SPDX-License-Identifier: MIT
/*
 * The fd keeper (daemon/fdkeep.c, docs/vm.md): the process that keeps
 * the eventfds of ivshmem-doorbell VM tenants (and targets passed as fds:
 * test_xiod_restart_sends) across a kill of xiod.
 *
 *  - no doorbell tenant, no keeper; the first one starts it;
 *  - 50 doorbell tenants created and removed: the keeper's fd count comes
 *    back to its baseline (it closes what a removed tenant had);
 *  - hostile peers of xiod's uid on its socket (garbage, a pipe passed as
 *    an eventfd, a wrong fd count, an unknown request, 16 connections at
 *    once) are dropped, nothing leaks; a peer of another uid (as root) is
 *    dropped unheard;
 *  - an entry nobody re-adopts ("ghost", put by the test) is swept by the
 *    next xiod;
 *  - xiod killed and restarted: the tenant is kicked (a write to the kick
 *    eventfd "QEMU" got is counted by the new xiod) and interrupts it (its
 *    notify eventfd), not polled;
 *  - the keeper killed under a running xiod: xiod starts a new one with
 *    what its tenants have (a restart after that still finds db0's);
 *  - the keeper killed with xiod: polled, the dead keeper's socket gone;
 *  - the state directory moved away: the keeper exits;
 *  - SIGTERM (a handover) leaves the keeper with db2's eventfds for the
 *    next xiod;
 *  - every tenant removed, a clean stop leaves no keeper and an empty
 *    state directory.
 */
#include "dtest.h"

#include <poll.h>
#include <sys/eventfd.h>

#define FDK_MAGIC 0x4b454546U /* daemon/fdkeep.c */
#define FDK_PUT 1
#define FDK_DOORBELL 1
#define FDK_TARGET 2

struct fdk_msg {
	uint32_t magic, op, kind, arg;
	int32_t status;
	char name[XIO_NAME_MAX];
};

static struct xiod d;
static char dir[64];

/* "QEMU": the doorbell server's setup for a 1-qpair tenant; kick, notify. */
static void qemu(const char *sock, int *kick, int *notify)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int64_t v;
	int fd, i, got[5];

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (i = 0; i < 5; i++)
		CHECK_EQ(dt_recv64(fd, &v, &got[i]), 1);
	close(fd);
	close(got[2]); /* the region */
	*kick = got[3];
	*notify = got[4];
}

static void db_add(struct xio_admin *adm, const char *name, int *kick,
		   int *notify)
{
	char sock[100];
	struct xio_vm_tenant_opts vo = {
		.name = name,
		.path = sock,
		.size = 1 << 20,
		.nr_qpairs = 1,
		.sq_entries = 32,
		.cq_entries = 64,
		.buf_size = 4096,
		.nr_bufs = 8,
		.numa_node = -1,
		.uid = getuid(),
		.gid = getgid(),
		.flags = XIO_VM_TENANT_DOORBELL,
	};

	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, name);
	CHECK(xio_admin_vm_tenant(adm, &vo) > 0);
	if (kick)
		qemu(sock, kick, notify);
}

static struct xio_tenant_info tinfo(const char *name)
{
	struct xio_tenant_info ti[8];
	struct xio_admin *adm;
	int i, n;

	CHECK(xio_admin_open(d.sock, &adm) == 0);
	n = xio_admin_tenants(adm, ti, 8, NULL);
	xio_admin_close(adm);
	for (i = 0; i < n; i++)
		if (!strcmp(ti[i].name, name))
			return ti[i];
	fprintf(stderr, "FAIL: %s not listed\n", name);
	exit(1);
}

static int kconnect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xiod.fdkeep", dir);
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send @len bytes of @m with @nfds fds; true if the keeper then hung up
 * (within @wait_ms). */
static bool hostile(const void *m, size_t len, const int *fds,
		    unsigned int nfds, int wait_ms)
{
	struct pollfd pf = {.events = POLLIN};
	char c;
	bool dropped;

	pf.fd = kconnect();
	/* Refused already (another uid): dropped before a word. */
	dropped = xio__msg_send(pf.fd, m, len, fds, nfds) != 0 ||
		  (poll(&pf, 1, wait_ms) == 1 && recv(pf.fd, &c, 1, 0) <= 0);
	close(pf.fd);
	return dropped;
}

/* Whether @pid has exited (gone, or a zombie nobody reaps yet). */
static bool gone(pid_t pid)
{
	char p[64], buf[256];
	FILE *f;
	bool z = true;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return true;
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "State:", 6))
			z = strchr(buf, 'Z') != NULL;
	fclose(f);
	return z;
}

/* The keeper, once it listens (it was just started). */
static pid_t keeper(void)
{
	uint64_t deadline = dt_now_ms() + 10000;
	pid_t pid;

	while ((pid = dt_keeper_pid(dir)) < 0) {
		CHECK(dt_now_ms() < deadline);
		usleep(1000);
	}
	return pid;
}

static void wait_gone(pid_t pid)
{
	uint64_t deadline = dt_now_ms() + 10000;

	while (!gone(pid)) {
		CHECK(dt_now_ms() < deadline);
		usleep(10000);
	}
}

/* Start xiod with @argv; back once it listens (re-adoptions done). */
static void spawn(const char **argv)
{
	uint64_t deadline = dt_now_ms() + 10000;

	dt_xiod_spawn(&d, argv);
	for (;;) {
		struct xio_admin *adm;

		if (xio_admin_open(d.sock, &adm) == 0) {
			xio_admin_close(adm);
			return;
		}
		CHECK(dt_now_ms() < deadline);
		usleep(10000);
	}
}

static void restart(const char **argv)
{
	dt_xiod_kill(&d);
	spawn(argv);
}

int main(void)
{
	struct fdk_msg m = {.magic = FDK_MAGIC,
			    .op = FDK_PUT,
			    .kind = FDK_DOORBELL,
			    .arg = 1};
	const char *argv[16];
	char moved[80];
	struct xio_admin *adm;
	struct xio_tenant_info ti;
	struct pollfd pf = {.events = POLLIN};
	int kick, notify, base, i, p[2], efd[2], conns[16];
	uint64_t one = 1;
	pid_t kp, kp2;

	dt_state_dir(dir, sizeof(dir), "fk");
	dt_keeper_kill_at_exit(dir);
	xiod_start(&d, "--state-dir", dir, NULL);
	dt_xiod_argv(&d, argv, 16, "--state-dir", dir, NULL);
	CHECK(xio_admin_open(d.sock, &adm) == 0);
	CHECK(dt_keeper_pid(dir) < 0);

	/* The first doorbell tenant starts the keeper. */
	db_add(adm, "db0", &kick, &notify);
	kp = keeper();
	/* 0-2 (/dev/null), its socket, xiod's connection, db0's two
	 * eventfds (once it has seen keeper()'s probe connection go). */
	base = 7;
	wait_fd_count(kp, base);
	printf("keeper pid %d: %d fds\n", (int)kp, base);
	for (i = 0; i < 50; i++) {
		db_add(adm, "churn", NULL, NULL);
		CHECK_EQ(xio_admin_tenant_detach(adm, "churn"), 0);
	}
	wait_fd_count(kp, base);
	CHECK_EQ(dt_keeper_pid(dir), kp);

	/* Hostile peers. */
	CHECK(hostile("garbage", 7, NULL, 0, 10000));
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	snprintf(m.name, sizeof(m.name), "pipe");
	CHECK(hostile(&m, sizeof(m), p, 2, 10000)); /* not eventfds */
	efd[0] = eventfd(0, EFD_CLOEXEC);
	efd[1] = eventfd(0, EFD_CLOEXEC);
	CHECK(efd[0] >= 0 && efd[1] >= 0);
	snprintf(m.name, sizeof(m.name), "short");
	CHECK(!hostile(&m, sizeof(m), efd, 1, 100)); /* refused, not kept */
	m.kind = FDK_TARGET; /* a pipe is no target either */
	CHECK(hostile(&m, sizeof(m), p, 1, 10000));
	m.kind = 9;
	CHECK(hostile(&m, sizeof(m), efd, 2, 10000));
	m.kind = FDK_DOORBELL;
	m.op = 77;
	CHECK(hostile(&m, sizeof(m), NULL, 0, 10000));
	m.op = FDK_PUT;
	m.magic = ~FDK_MAGIC;
	CHECK(hostile(&m, sizeof(m), efd, 2, 10000));
	m.magic = FDK_MAGIC;
	close(p[0]);
	close(p[1]);
	wait_fd_count(kp, base);
	for (i = 0; i < 16; i++)
		conns[i] = kconnect();
	for (i = 0; i < 16; i++)
		close(conns[i]);
	wait_fd_count(kp, base);
	if (geteuid() == 0) {
		char sp[96];
		pid_t c;
		int st;

		/* Reachable by another uid for a moment: it is dropped. */
		snprintf(sp, sizeof(sp), "%s/xiod.fdkeep", dir);
		CHECK(chmod(dir, 0711) == 0 && chmod(sp, 0666) == 0);
		c = fork();
		CHECK(c >= 0);
		if (c == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(2);
			_exit(hostile(&m, sizeof(m), efd, 2, 10000) ? 0 : 1);
		}
		CHECK(waitpid(c, &st, 0) == c);
		CHECK(chmod(dir, 0700) == 0 && chmod(sp, 0600) == 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fprintf(stderr, "other uid: status 0x%x\n", st);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		wait_fd_count(kp, base);
	}
	/* One the test keeps itself: nobody re-adopts it. */
	snprintf(m.name, sizeof(m.name), "ghost");
	pf.fd = kconnect();
	CHECK_EQ(xio__msg_send(pf.fd, &m, sizeof(m), efd, 2), 0);
	close(pf.fd);
	wait_fd_count(kp, base + 2);
	close(efd[0]);
	close(efd[1]);
	xio_admin_close(adm);
	pf.fd = notify; /* no interrupt yet */
	CHECK_EQ(poll(&pf, 1, 0), 0);

	/* Killed: the new xiod gets db0's eventfds, sweeps the ghost. */
	restart(argv);
	CHECK_EQ(dt_keeper_pid(dir), kp);
	wait_fd_count(kp, base);
	ti = tinfo("db0");
	CHECK(!(ti.attach_flags & XIO_CLIENT_NO_DOORBELL));
	pf.fd = notify; /* the re-adoption owes the guest an interrupt */
	CHECK_EQ(poll(&pf, 1, 10000), 1);
	CHECK(read(notify, &one, sizeof(one)) == sizeof(one));
	one = 1;
	CHECK(write(kick, &one, sizeof(one)) == sizeof(one));
	for (i = 0; tinfo("db0").kicks == 0; i++) {
		CHECK(i < 1000);
		usleep(10000);
	}
	printf("restarted: db0 kicked and interrupted through its kept eventfds\n");

	/* The keeper killed under xiod: a new one gets db0's eventfds. */
	CHECK(kill(kp, SIGKILL) == 0);
	wait_gone(kp);
	for (i = 0; (kp2 = dt_keeper_pid(dir)) < 0 || kp2 == kp; i++) {
		CHECK(i < 1000);
		usleep(10000);
	}
	kp = kp2;
	wait_fd_count(kp, base);
	restart(argv);
	CHECK(!(tinfo("db0").attach_flags & XIO_CLIENT_NO_DOORBELL));
	printf("keeper killed under xiod: keeper %d took over\n", (int)kp);

	/* The keeper killed with xiod: polled; its socket does not stay. */
	dt_xiod_kill(&d);
	CHECK(kill(kp, SIGKILL) == 0);
	wait_gone(kp);
	spawn(argv);
	ti = tinfo("db0");
	CHECK(ti.attach_flags & XIO_CLIENT_NO_DOORBELL);
	{
		char sp[96];

		snprintf(sp, sizeof(sp), "%s/xiod.fdkeep", dir);
		CHECK(access(sp, F_OK) < 0);
	}
	printf("keeper killed: db0 polled\n");

	/* The state directory goes away: the keeper follows. */
	CHECK(xio_admin_open(d.sock, &adm) == 0);
	db_add(adm, "db1", NULL, NULL);
	xio_admin_close(adm);
	kp = keeper();
	dt_xiod_kill(&d);
	snprintf(moved, sizeof(moved), "%s.moved", dir);
	CHECK(rename(dir, moved) == 0);
	wait_gone(kp);
	CHECK(rename(moved, dir) == 0);
	printf("state directory moved: keeper %d exited\n", (int)kp);

	/* SIGTERM hands the tenants over (docs/daemon.md, "Clean stop"):
	 * the keeper stays, the next xiod gets db2's eventfds. */
	spawn(argv);
	CHECK(xio_admin_open(d.sock, &adm) == 0);
	db_add(adm, "db2", NULL, NULL);
	kp = keeper();
	xio_admin_close(adm);
	{
		int st;

		CHECK(kill(d.pid, SIGTERM) == 0);
		CHECK(waitpid(d.pid, &st, 0) == d.pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	CHECK_EQ(dt_keeper_pid(dir), kp);
	spawn(argv);
	CHECK(!(tinfo("db2").attach_flags & XIO_CLIENT_NO_DOORBELL));
	printf("handover (SIGTERM): keeper %d kept db2's eventfds\n", (int)kp);

	/* Every tenant removed, then a clean stop: nothing left. */
	CHECK(xio_admin_open(d.sock, &adm) == 0);
	CHECK_EQ(xio_admin_tenant_detach(adm, "db0"), 0);
	CHECK_EQ(xio_admin_tenant_detach(adm, "db1"), 0);
	CHECK_EQ(xio_admin_tenant_detach(adm, "db2"), 0);
	xio_admin_close(adm);
	xiod_stop(&d);
	wait_gone(kp);
	close(kick);
	close(notify);
	CHECK(rmdir(dir) == 0);
	return 0;
}
