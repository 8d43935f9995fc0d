/* SPDX-License-Identifier: MIT */
/*
 * Two processes, one region: the parent creates it and is the guest; the
 * child receives the memfd over a socketpair (SCM_RIGHTS), attaches it with
 * XIO_ATTACH_REQUIRE_SEALS and is the host.  10^7 entries (fewer under a
 * sanitizer or with XIO_TEST_SCALE) travel SQ -> host -> CQ in batches of
 * varying size on both sides.  Every entry is derived from its sequence
 * number, so the host checks all 64 bytes of each SQE and the order; the
 * guest checks the order, res and flags of each CQE.  A watchdog turns a
 * stall into a failure.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_ring.h"

#define SQ_ENTRIES 256
#define CQ_ENTRIES 512
#define NR_BUFS 64
#define BUF_SIZE 1024
#define DEFAULT_ENTRIES 10000000ULL
#define STALL_SECS 20

/* The SQE the guest submits for @seq; the host recomputes and compares. */
static void sqe_for(struct xio_sqe *s, uint64_t seq)
{
	uint32_t buf_off, len;

	if (seq % 3 == 0) {
		xio_prep_nop(s, seq);
		return;
	}
	buf_off = (uint32_t)(seq * 64 % BUF_SIZE);
	len = 1 + (uint32_t)(seq % (BUF_SIZE - buf_off));
	xio_prep_rw(s, seq % 3 == 1 ? XIO_OP_READ : XIO_OP_WRITE,
		    (uint32_t)(seq >> 7), (uint32_t)(seq % NR_BUFS), buf_off,
		    len, seq * 512, seq);
}

static int32_t res_for(uint64_t seq)
{
	return (int32_t)(seq % 1000003);
}

/* ---- host (child) ------------------------------------------------------ */

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	char byte;
	int fd;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	CHECK_EQ(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC), 1);
	cm = CMSG_FIRSTHDR(&mh);
	CHECK(cm && cm->cmsg_level == SOL_SOCKET &&
	      cm->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

/* Taken SQEs not yet answered, oldest first (so CQEs stay in order). */
struct fifo {
	uint64_t seq[1024];
	uint32_t head, tail;
};

static int host_main(int sock, int inherited_fd, uint64_t n)
{
	static struct xio_sqe in[SQ_ENTRIES];
	static struct fifo q;
	struct xio_host_qp_stats st;
	struct xio_region *r;
	struct xio_host_qp *hq;
	uint64_t rng = 0x9e3779b97f4a7c15ULL, next = 0, answered = 0;
	uint32_t idle = 0;
	int fd, got, i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	xt_watchdog_init(STALL_SECS,
			 "FAIL: host (child): no progress, stalled\n");
	/* Use only the fd that came over the socket. */
	close(inherited_fd);
	fd = recv_fd(sock);
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &r), 0);
	close(fd); /* borrowed: the mapping stays */
	CHECK_EQ(xio_region_layout(r)->sq_entries, SQ_ENTRIES);
	hq = xio_region_host_qp(r, 0);
	CHECK(hq);

	while (answered < n) {
		uint32_t max = xt_range(&rng, 1, SQ_ENTRIES);
		uint32_t inq, post;

		if (xt_range(&rng, 0, 3) == 0)
			max = xt_range(&rng, 1, 8);
		got = xio_host_sq_take(hq, in, max);
		CHECK(got >= 0);
		for (i = 0; i < got; i++, next++) {
			struct xio_sqe want;

			sqe_for(&want, next);
			if (memcmp(&in[i], &want, sizeof(want))) {
				fprintf(stderr,
					"FAIL host: SQE %" PRIu64
					" differs (user_data %" PRIu64 ")\n",
					next, in[i].user_data);
				exit(1);
			}
			CHECK(xio_sqe_validate(xio_region_layout(r), &in[i]) ==
			      0);
			if (in[i].opcode != XIO_OP_NOP)
				CHECK(xio_host_buf(r, in[i].buf_index,
						   in[i].buf_off, in[i].len));
			CHECK(q.tail - q.head < 1024);
			q.seq[q.tail++ % 1024] = next;
		}
		/* Answer a random part of what is in flight; all when idle. */
		inq = q.tail - q.head;
		post = got ? xt_range(&rng, 0, inq) : inq;
		CHECK_EQ(xio_host_inflight(hq), inq);
		while (post--) {
			uint64_t seq = q.seq[q.head++ % 1024];

			CHECK_EQ(xio_host_cq_post(hq, seq, res_for(seq), 0), 0);
			answered++;
		}
		if (!got || xt_range(&rng, 0, 2) == 0)
			xio_host_cq_publish(hq);
		if (got) {
			idle = 0;
			if ((next & 0xffff) < (uint32_t)got)
				xt_watchdog_pet();
		} else if (++idle % 64 == 0) {
			sched_yield();
		}
	}
	xio_host_cq_publish(hq);
	xio_host_qp_get_stats(hq, &st);
	CHECK_EQ(st.taken, n);
	CHECK_EQ(st.invalid, 0);
	CHECK_EQ(st.posted, n);
	CHECK_EQ(st.broken, 0);
	CHECK_EQ(xio_host_sq_pending(hq), 0);
	printf("host: taken %" PRIu64 " posted %" PRIu64 " publishes %" PRIu64
	       " cq_full %" PRIu64 "\n",
	       st.taken, st.posted, st.published, st.cq_full);
	xio_region_destroy(r);
	close(sock);
	return 0;
}

/* ---- guest (parent) ---------------------------------------------------- */

static void send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	char byte = 'F';

	memset(&mh, 0, sizeof(mh));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	CHECK_EQ(sendmsg(sock, &mh, 0), 1);
}

/* The child is gone before the guest finished: report why and fail. */
static void child_check_alive(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return;
	fprintf(stderr, "FAIL: host child ended early (%s %d)\n",
		WIFEXITED(status) ? "exit" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	exit(1);
}

static void guest_run(struct xio_region *r, pid_t pid, uint64_t n)
{
	struct xio_qp *qp = xio_region_qp(r, 0);
	struct xio_cqe *c[CQ_ENTRIES];
	uint64_t rng = 0xdeadbeefcafef00dULL, sub = 0, done = 0;
	uint32_t idle = 0, i, b, got;
	int rc;

	CHECK(qp);
	while (done < n) {
		/* A batch of 1..8 entries half the time, up to a full SQ else. */
		b = xt_range(&rng, 0, 1) ? xt_range(&rng, 1, 8) :
					   xt_range(&rng, 1, SQ_ENTRIES);
		for (i = 0; i < b && sub < n; i++, sub++) {
			struct xio_sqe *s = xio_get_sqe(qp);

			if (!s)
				break;
			sqe_for(s, sub);
		}
		if (i) {
			rc = xio_submit(qp);
			CHECK_EQ(rc, i);
		}
		got = xio_peek_batch_cqe(qp, c, xt_range(&rng, 1, CQ_ENTRIES));
		for (i = 0; i < got; i++, done++) {
			if (c[i]->user_data != done ||
			    c[i]->res != res_for(done) || c[i]->flags != 0) {
				fprintf(stderr,
					"FAIL guest: CQE %" PRIu64
					": user_data %" PRIu64
					" res %d flags 0x%x\n",
					done, c[i]->user_data, c[i]->res,
					c[i]->flags);
				kill(pid, SIGKILL);
				exit(1);
			}
		}
		if (got) {
			xio_cq_advance(qp, got);
			idle = 0;
			if ((done & 0xffff) < got)
				xt_watchdog_pet();
		} else if (++idle % 64 == 0) {
			sched_yield();
			if (idle % 4096 == 0)
				child_check_alive(pid);
		}
	}
	CHECK_EQ(sub, n);
	CHECK_EQ(xio_cq_ready(qp), 0);
	CHECK_EQ(xio_sq_ready(qp), 0);
}

int main(void)
{
	struct xio_region_opts o = {.sz = sizeof(o)};
	uint64_t n = xt_scaled(DEFAULT_ENTRIES, 100000);
	struct xio_region *r;
	int sv[2], status;
	pid_t pid;

	o.params.sq_entries = SQ_ENTRIES;
	o.params.cq_entries = CQ_ENTRIES;
	o.params.nr_bufs = NR_BUFS;
	o.params.buf_size = BUF_SIZE;
	o.name = "two-process";
	CHECK_EQ(xio_region_create(&o, &r), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	printf("test_two_process: %" PRIu64 " entries (sanitizer %s)\n", n,
	       XT_SANITIZER);
	fflush(stdout);
	fflush(stderr);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		exit(host_main(sv[1], xio_region_fd(r), n));
	}
	close(sv[1]);
	xt_watchdog_kill = pid;
	xt_watchdog_init(STALL_SECS,
			 "FAIL: guest (parent): no progress, stalled\n");
	send_fd(sv[0], xio_region_fd(r));
	guest_run(r, pid, n);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	alarm(0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "FAIL: host child %s %d\n",
			WIFEXITED(status) ? "exited with" : "killed by signal",
			WIFEXITED(status) ? WEXITSTATUS(status) :
					    WTERMSIG(status));
		return 1;
	}
	close(sv[0]);
	xio_region_destroy(r);
	printf("PASS test_two_process\n");
	return 0;
}
