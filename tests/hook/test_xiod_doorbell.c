// SPDX-License-Identifier: MIT
/*
 * ivshmem-doorbell VM tenants without a VM: this process plays QEMU on the
 * tenant's ivshmem-server socket (daemon/vm_doorbell.c).
 *
 *  - refusals: existing socket path, a path too long for a socket, unknown
 *    flags, a size that does not fit;
 *  - a well-behaved client gets the protocol: version 0, its id, the region
 *    (a sealed memfd of the BAR size, attachable with REQUIRE_SEALS), one
 *    kick eventfd as xiod's vector and one notify eventfd as its own;
 *    driving the ring with that kick eventfd (what QEMU does with a Doorbell
 *    write) wakes a sleeping xiod: xiod's kick count equals our doorbell
 *    rings, and the poller never fell back to timed sleeps;
 *  - hostile clients: connect-and-close before reading, a "version" sent
 *    to the server, an fd sent to it, half-close, many connections at
 *    once: each is served or dropped, xiod's fd count comes back, and the
 *    tenant still works through a fresh connection (reconnect);
 *  - two VMs side by side: separate sockets, separate regions;
 *  - removal: the socket is unlinked and the client sees EOF.
 */
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon/dtest.h"
#include <xio/ivshmem.h>

#define MIB (1ULL << 20)

static struct xiod d;

static void db_opts(struct xio_vm_tenant_opts *o, const char *name,
		    const char *path)
{
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->path = path;
	o->size = MIB;
	xio_vm_tenant_geometry(o->size, o);
	o->numa_node = -1;
	o->uid = geteuid();
	o->gid = getegid();
	o->flags = XIO_VM_TENANT_DOORBELL;
}

static int qemu_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {10, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

struct vm {
	int sock, shm, kick, notify;
	struct xio_region *r;
	struct xio_qp *qp;
};

/* Read the whole setup as QEMU's ivshmem-doorbell would, attach. */
static void vm_connect(struct vm *v, const char *path, const char *name)
{
	struct stat st;
	int64_t m;

	v->sock = qemu_connect(path);
	CHECK_EQ(dt_recv64(v->sock, &m, &v->shm), 1);
	CHECK(m == 0 && v->shm < 0); /* version 0, no fd */
	CHECK_EQ(dt_recv64(v->sock, &m, &v->shm), 1);
	CHECK(m == 1 && v->shm < 0); /* our peer id */
	CHECK_EQ(dt_recv64(v->sock, &m, &v->shm), 1);
	CHECK(m == -1 && v->shm >= 0); /* the shared memory */
	CHECK_EQ(dt_recv64(v->sock, &m, &v->kick), 1);
	CHECK(m == XIO_IVSHMEM_HOST_PEER && v->kick >= 0); /* xiod's vector 0 */
	CHECK_EQ(dt_recv64(v->sock, &m, &v->notify), 1);
	CHECK(m == 1 && v->notify >= 0); /* our vector 0 */
	/* A BAR: a power of two; and sealed, unlike a region file. */
	CHECK_EQ(fstat(v->shm, &st), 0);
	CHECK_EQ((uint64_t)st.st_size, MIB);
	CHECK_EQ(xio_region_attach_fd(v->shm, XIO_ATTACH_REQUIRE_SEALS, &v->r),
		 0);
	CHECK(!strcmp(xio_region_name(v->r), name));
	v->qp = xio_region_qp(v->r, 0);
	/* The Doorbell register write, as QEMU's ioeventfd does it. */
	xio_qp_set_kick_fd(v->qp, v->kick);
}

static void vm_close(struct vm *v)
{
	xio_region_destroy(v->r);
	close(v->shm);
	close(v->kick);
	close(v->notify);
	close(v->sock);
}

static uint64_t kicks_of(struct xio_admin *a, const char *name)
{
	struct xio_tenant_stats s[4];
	int n;

	s[0].sz = sizeof(s[0]);
	n = xio_admin_stats(a, name, 0, s, 4, NULL);
	CHECK_EQ(n, 1);
	return s[0].kicks;
}

static uint64_t timed_sleeps(struct xio_admin *a, uint64_t *sleeps)
{
	struct xio_poller_stats p[1];

	p[0].sz = sizeof(p[0]);
	CHECK_EQ(xio_admin_poller_stats(a, p, 1, NULL), 1);
	*sleeps = p[0].sleeps;
	return p[0].timed_sleeps;
}

/* NOPs after idle gaps: the poller sleeps, each submit rings the doorbell. */
static void nops_asleep(struct xio_admin *a, struct vm *v, const char *name,
			int n)
{
	uint64_t k0 = kicks_of(a, name), g0 = xio_qp_kicks(v->qp), deadline;
	int i;

	for (i = 0; i < n; i++) {
		usleep(20000);
		nop_roundtrip(v->qp, 100 + i);
	}
	CHECK(xio_qp_kicks(v->qp) > g0);
	/* xiod counts a kick when its poll fires: the same number. */
	deadline = dt_now_ms() + 5000;
	while (kicks_of(a, name) - k0 != xio_qp_kicks(v->qp) - g0 &&
	       dt_now_ms() < deadline)
		usleep(1000);
	CHECK_EQ(kicks_of(a, name) - k0, xio_qp_kicks(v->qp) - g0);
}

/* The server drops us: EOF after whatever greeting is still queued. */
static void expect_eof(int sock)
{
	int64_t m;
	int fd, n;

	while ((n = dt_recv64(sock, &m, &fd)) == 1)
		if (fd >= 0)
			close(fd);
	close(sock);
}

static void send_fd(int sock, int64_t v, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &v, .iov_len = sizeof(v)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	if (fd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	CHECK_EQ(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(v));
}

int main(void)
{
	char path[128], path2[128], longp[200];
	struct xio_vm_tenant_opts o;
	struct xio_admin *a;
	struct vm v, w;
	struct stat st;
	uint64_t sleeps0, sleeps1, timed0;
	int base, i, fd, socks[32];

	xiod_start(&d, "--pollers", "1", NULL);
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	/* Answered: xiod has accepted this connection, base counts it. */
	CHECK_EQ(xio_admin_tenants(a, NULL, 0, NULL), 0);
	base = fd_count(d.pid);
	snprintf(path, sizeof(path), "%s/vm1.sock", d.dir);
	snprintf(path2, sizeof(path2), "%s/vm2.sock", d.dir);

	/* Refusals, xiod unchanged. */
	db_opts(&o, "xio-db1", d.sock); /* exists */
	CHECK_EQ(xio_admin_vm_tenant(a, &o), -EEXIST);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	db_opts(&o, "xio-db1", longp);
	CHECK_EQ(xio_admin_vm_tenant(a, &o), -ENAMETOOLONG);
	db_opts(&o, "xio-db1", path);
	o.flags |= 1U << 7;
	CHECK_EQ(xio_admin_vm_tenant(a, &o), -EINVAL);
	db_opts(&o, "xio-db1", path);
	o.size = 2 * MIB; /* the geometry fits in 1 MiB */
	CHECK_EQ(xio_admin_vm_tenant(a, &o), -EINVAL);
	CHECK(access(path, F_OK) < 0);
	wait_fd_count(d.pid, base);

	/* The tenant: a socket, 0600, ours; not marked no-doorbell. */
	db_opts(&o, "xio-db1", path);
	CHECK(xio_admin_vm_tenant(a, &o) > 0);
	CHECK_EQ(lstat(path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(st.st_uid, geteuid());
	db_opts(&o, "xio-db1b", path); /* the same socket path twice */
	CHECK_EQ(xio_admin_vm_tenant(a, &o), -EEXIST);

	/* A well-behaved QEMU, then the guest's ring through the doorbell. */
	vm_connect(&v, path, "xio-db1");
	timed0 = timed_sleeps(a, &sleeps0);
	nops_asleep(a, &v, "xio-db1", SCALE(20));
	CHECK_EQ(timed_sleeps(a, &sleeps1), timed0);
	CHECK(sleeps1 > sleeps0);

	/* Hostile clients.  Connect and go before reading anything. */
	for (i = 0; i < SCALE(200); i++)
		close(qemu_connect(path));
	/* Talk to the server: QEMU never does; dropped after the greeting. */
	fd = qemu_connect(path);
	send_fd(fd, 1, -1); /* a "version" */
	expect_eof(fd);
	fd = qemu_connect(path);
	i = eventfd(0, EFD_CLOEXEC);
	CHECK(i >= 0);
	send_fd(fd, 0, i); /* an fd xiod must not keep */
	close(i);
	expect_eof(fd);
	fd = qemu_connect(path);
	shutdown(fd, SHUT_WR); /* half-close */
	expect_eof(fd);
	/* Many at once: only the newest is kept, the others see EOF. */
	for (i = 0; i < 32; i++)
		socks[i] = qemu_connect(path);
	for (i = 0; i < 31; i++)
		expect_eof(socks[i]);
	close(socks[31]);

	/* Unaffected: the old fds still work, a reconnect gets the same. */
	nop_roundtrip(v.qp, 1);
	vm_close(&v);
	vm_connect(&v, path, "xio-db1");
	nops_asleep(a, &v, "xio-db1", SCALE(5));

	/* A second VM beside it: its own socket and region. */
	db_opts(&o, "xio-db2", path2);
	CHECK(xio_admin_vm_tenant(a, &o) > 0);
	vm_connect(&w, path2, "xio-db2");
	nop_roundtrip(w.qp, 2);
	nops_asleep(a, &v, "xio-db1", SCALE(3));
	vm_close(&w);

	/* Removal: socket gone, client dropped, xiod's fds back to base. */
	CHECK_EQ(xio_admin_tenant_detach(a, "xio-db1"), 0);
	CHECK_EQ(xio_admin_tenant_detach(a, "xio-db2"), 0);
	/* xiod replies, then frees the tenant: wait for the unlink. */
	for (i = 0; i < 500 && !access(path2, F_OK); i++)
		usleep(10000);
	CHECK(access(path, F_OK) < 0 && access(path2, F_OK) < 0);
	expect_eof(v.sock);
	v.sock = -1;
	vm_close(&v);
	wait_fd_count(d.pid, base);
	xio_admin_close(a);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
