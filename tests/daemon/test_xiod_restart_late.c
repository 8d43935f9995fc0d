// SPDX-License-Identifier: MIT
/*
 * Late completions of a killed xiod's io_uring (issue 8, docs/daemon.md
 * "Late completions"): the kernel tears a dead process's ring down
 * asynchronously, so a request it had started can land after the process
 * was reaped.  xiod's restart barrier (ilog_barrier()) makes the next xiod
 * wait for that when the killed xiod had O_DIRECT targets (the only
 * requests a device completes on its own): the lock on its <state
 * dir>/xiod.rings.XXXXXX is held by a file the rings registered, and the
 * kernel drops those only after the ring's last request ended.
 *
 * A request that stays in flight as long as the test wants: an O_DIRECT
 * WRITE to a loop device whose backing file (tmpfs) has its inode lock
 * held by this test -- a write(2) from a buffer whose page faults into a
 * userfaultfd nobody answers yet.  The loop worker blocks behind it,
 * uninterruptibly; the io_uring request cannot be cancelled.
 *
 * Part 1, the kernel alone (what the barrier relies on, and what happens
 * without it): a child registers a flocked file in its ring, submits the
 * WRITE and is SIGKILLed.  It is reaped while the WRITE has not landed
 * (without a barrier, a new xiod would start now: the late completion is
 * observable), and the lock is still held; once the test lets the loop
 * worker go, the WRITE lands and only then is the lock free.
 *
 * Part 2, xiod: a tenant's WRITE is held in flight, xiod is SIGKILLed and
 * restarted: the new xiod does not take the tenant back while the WRITE is
 * held (it waits on the barrier); once released, the tenant reattaches, the
 * WRITE completes exactly once, and a later WRITE of the same block is what
 * the device keeps.  An xiod started with --restart-wait 1 meanwhile gives
 * up with exit status 1.
 *
 * Needs root, loop devices and userfaultfd: SKIP otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/loop.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "dtest.h"

#define BS 4096U
#define IMG_SIZE (1U << 20)

static char dir[64], img[96], lockp[96], loopdev[32];
static int img_fd = -1, loop_fd = -1;

/* ---- a loop device over a tmpfs file ---------------------------------- */

static bool loop_setup(void)
{
	struct loop_info64 li;
	int ctl, i, n;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return false;
	for (i = 0; i < 16; i++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			break;
		snprintf(loopdev, sizeof(loopdev), "/dev/loop%d", n);
		loop_fd = open(loopdev, O_RDWR | O_CLOEXEC);
		if (loop_fd < 0)
			break;
		if (ioctl(loop_fd, LOOP_SET_FD, img_fd) == 0)
			break;
		close(loop_fd); /* taken meanwhile by someone else: again */
		loop_fd = -1;
	}
	close(ctl);
	if (loop_fd < 0)
		return false;
	/* Detached when its last user closes it, whatever happens here. */
	memset(&li, 0, sizeof(li));
	li.lo_flags = LO_FLAGS_AUTOCLEAR;
	ioctl(loop_fd, LOOP_SET_STATUS64, &li);
	return true;
}

/* ---- the blocker: the backing file's inode lock held ------------------ */

struct blocker {
	int uffd;
	void *page;
	pthread_t th;
	ssize_t ret;
};

static void *blocker_main(void *arg)
{
	struct blocker *b = arg;

	/* shmem write_iter: inode_lock(), then the fault on b->page. */
	b->ret = pwrite(img_fd, b->page, BS, IMG_SIZE - BS);
	return NULL;
}

/* Returns once the write holds the lock (its fault is pending). */
static bool block(struct blocker *b)
{
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg;
	struct uffd_msg msg;
	struct pollfd pfd;

	b->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (b->uffd < 0 || ioctl(b->uffd, UFFDIO_API, &api) < 0)
		return false;
	b->page = mmap(NULL, BS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(b->page != MAP_FAILED);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)b->page;
	reg.range.len = BS;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(b->uffd, UFFDIO_REGISTER, &reg) < 0)
		return false;
	CHECK(pthread_create(&b->th, NULL, blocker_main, b) == 0);
	pfd.fd = b->uffd;
	pfd.events = POLLIN;
	CHECK(poll(&pfd, 1, 10000) == 1);
	CHECK(read(b->uffd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg));
	CHECK(msg.event == UFFD_EVENT_PAGEFAULT);
	return true;
}

static void unblock(struct blocker *b)
{
	struct uffdio_zeropage z;

	memset(&z, 0, sizeof(z));
	z.range.start = (uintptr_t)b->page;
	z.range.len = BS;
	CHECK(ioctl(b->uffd, UFFDIO_ZEROPAGE, &z) == 0);
	pthread_join(b->th, NULL);
	CHECK_EQ(b->ret, (ssize_t)BS);
	close(b->uffd);
	munmap(b->page, BS);
}

/* ---- helpers ------------------------------------------------------------ */

static unsigned char block0(void)
{
	unsigned char b[BS];

	CHECK(pread(img_fd, b, BS, 0) == (ssize_t)BS);
	return b[0];
}

/* The (killed) process reaped within 10 s: its own requests do not hold
 * its end (an O_DIRECT bio is not an io-wq worker's blocking call). */
static bool reaped(pid_t pid)
{
	uint64_t deadline = dt_now_ms() + 10000;
	int st;

	while (dt_now_ms() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return true;
		usleep(1000);
	}
	return false;
}

static bool lock_free(int fd)
{
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		return true;
	}
	CHECK(errno == EWOULDBLOCK);
	return false;
}

/* ---- part 1: the kernel ------------------------------------------------- */

static void child_ring(int ready_fd)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	void *buf;
	int lk, dev;

	lk = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lk < 0 || flock(lk, LOCK_EX) < 0 ||
	    io_uring_queue_init(8, &ring, 0) < 0 ||
	    io_uring_register_files(&ring, &lk, 1) < 0)
		_exit(2);
	dev = open(loopdev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (dev < 0 || posix_memalign(&buf, BS, BS))
		_exit(2);
	memset(buf, 'A', BS);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, dev, buf, BS, 0);
	if (io_uring_submit(&ring) != 1)
		_exit(2);
	if (write(ready_fd, "x", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

static void part_kernel(void)
{
	struct blocker b;
	int pfd[2], lk;
	char c;
	pid_t pid;

	CHECK(block(&b));
	CHECK(pipe(pfd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		close(pfd[0]);
		child_ring(pfd[1]);
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &c, 1) == 1);
	close(pfd[0]);
	usleep(50000); /* not needed: the request is somewhere in flight */
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(reaped(pid));
	/* Gone -- and its WRITE has not happened yet. */
	CHECK(block0() == 0);
	lk = open(lockp, O_RDWR | O_CLOEXEC);
	CHECK(lk >= 0);
	CHECK(!lock_free(lk));
	unblock(&b);
	{
		uint64_t deadline = dt_now_ms() + 10000;

		while (!lock_free(lk)) {
			CHECK(dt_now_ms() < deadline);
			usleep(1000);
		}
	}
	/* It landed, after the process, before the lock. */
	CHECK(block0() == 'A');
	close(lk);
	unlink(lockp);
	printf("kernel: a WRITE landed after its process was reaped; the ring's registered flock was held until it did\n");
}

/* ---- part 2: xiod ------------------------------------------------------- */

static struct xiod d;

static void guest_write(struct xio_tenant *t, struct xio_qp *qp, char v,
			uint64_t ud, bool wait)
{
	unsigned char *buf = xio_buf_ptr(xio_tenant_region(t), 0);
	struct xio_sqe *sqe = xio_get_sqe(qp);
	struct xio_cqe *cqe;

	CHECK(sqe);
	memset(buf, v, BS);
	xio_prep_write(sqe, 0, 0, 0, BS, 0, ud);
	CHECK(xio_submit(qp) == 1);
	if (!wait)
		return;
	CHECK_EQ(xio_wait_cqe(qp, &cqe, 10000), 0);
	CHECK_EQ(cqe->user_data, ud);
	CHECK_EQ(cqe->res, (int)BS);
	xio_cqe_seen(qp, cqe);
}

static void part_xiod(void)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t;
	struct xio_admin *adm;
	struct xio_cqe *cqe;
	struct blocker b;
	struct xio_qp *qp;
	const char *args[16], *args_1s[16];
	uint64_t t0;
	int err, st;

	xiod_start(&d, "--state-dir", dir, "--log-level", "warning", NULL);
	dt_xiod_argv(&d, args, 16, "--state-dir", dir, NULL);
	dt_xiod_argv(&d, args_1s, 16, "--state-dir", dir, "--restart-wait", "1",
		     NULL);
	o.name = "late";
	o.params.nr_qpairs = 1;
	o.params.sq_entries = 8;
	o.params.cq_entries = 8;
	o.params.buf_size = BS;
	o.params.nr_bufs = 2;
	CHECK_EQ(xio_client_attach(d.sock, &o, &t), 0);
	qp = xio_tenant_qp(t, 0);
	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	CHECK_EQ(xio_admin_target_add(adm, "late", loopdev, XIO_TARGET_DIRECT),
		 0);
	xio_admin_close(adm);
	guest_write(t, qp, 'B', 1, true); /* the path works */
	CHECK(block(&b));
	guest_write(t, qp, 'C', 2, false);
	usleep(100000); /* taken and submitted, most likely: either is fine */
	CHECK(xio_peek_cqe(qp, &cqe) != 0); /* held */
	CHECK(kill(d.pid, SIGKILL) == 0);
	if (!reaped(d.pid)) {
		/* An io-wq worker holds the process: the barrier is moot. */
		unblock(&b);
		CHECK(waitpid(d.pid, &st, 0) == d.pid);
		printf("SKIP part 2: the killed xiod was not reaped while its WRITE was held\n");
		xio_client_detach(t);
		return;
	}
	xio_set_print(NULL);
	/* Bounded: --restart-wait 1 gives up (exit status 1) while held. */
	dt_xiod_spawn(&d, args_1s);
	CHECK(waitpid(d.pid, &st, 0) == d.pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	dt_xiod_spawn(&d, args);
	/* While the WRITE is held, the new xiod does not serve: with no
	 * barrier it would be back within milliseconds (test_xiod_restart). */
	t0 = dt_now_ms();
	while (dt_now_ms() - t0 < 1000) {
		err = xio_tenant_reattach(t);
		CHECK(err == -ENOENT || err == -ECONNREFUSED);
		CHECK(waitpid(d.pid, &st, WNOHANG) == 0);
		usleep(20000);
	}
	CHECK(block0() == 'B');
	unblock(&b);
	t0 = dt_now_ms();
	dt_reattach(t);
	printf("xiod: restarted, waited for the held WRITE; reattached %llu ms after its release\n",
	       (unsigned long long)(dt_now_ms() - t0));
	/* The held WRITE completes once (landed by the old ring, redone by
	 * the new one: the same bytes). */
	CHECK_EQ(xio_wait_cqe(qp, &cqe, 10000), 0);
	CHECK_EQ(cqe->user_data, 2);
	CHECK_EQ(cqe->res, (int)BS);
	xio_cqe_seen(qp, cqe);
	CHECK(xio_wait_cqe(qp, &cqe, 200) == -ETIMEDOUT);
	/* A later WRITE of the block is the one that stays. */
	guest_write(t, qp, 'D', 3, true);
	CHECK(block0() == 'D');
	CHECK_EQ(xio_client_detach(t), 0);
	xiod_stop(&d);
}

int main(void)
{
	if (geteuid() != 0)
		SKIP("needs root (loop device, userfaultfd)");
	snprintf(dir, sizeof(dir), "/dev/shm/xiod-late-XXXXXX");
	CHECK(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/img", dir);
	snprintf(lockp, sizeof(lockp), "%s/xiod.lock", dir);
	img_fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(img_fd >= 0);
	CHECK(ftruncate(img_fd, IMG_SIZE) == 0);
	if (!loop_setup()) {
		unlink(img);
		rmdir(dir);
		SKIP("no free loop device");
	}
	{
		struct blocker b;

		if (!block(&b)) {
			ioctl(loop_fd, LOOP_CLR_FD, 0);
			unlink(img);
			rmdir(dir);
			SKIP("no userfaultfd");
		}
		unblock(&b);
	}
	part_kernel();
	part_xiod();
	ioctl(loop_fd, LOOP_CLR_FD, 0);
	close(loop_fd);
	close(img_fd);
	unlink(img);
	CHECK(rmdir(dir) == 0);
	return 0;
}
