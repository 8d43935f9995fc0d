// SPDX-License-Identifier: MIT
/*
 * xiod killed with SIGKILL at random moments under load, and restarted
 * (same socket, same --state-dir): issue 8's exactly-once test.
 *
 * NT tenants (threads of this process) run a mixed load on file targets,
 * two guests (xio_client_attach) and two VM-style tenants (VM_TENANT, as
 * the libvirt hook makes them): one ivshmem-plain (a region file the
 * thread maps, as QEMU does) and one ivshmem-doorbell (the thread plays
 * QEMU on xiod's server socket, maps the region fd it gets, kicks the
 * kick eventfd it got and counts the interrupts on the notify eventfd: the
 * dead xiod's after a restart, as in QEMU, which the fd keeper hands
 * to the new one).  The load:
 * WRITEs of checksummed blocks (tenant id, block number, generation, a
 * checksum of the payload), READs that verify them, and NOPs.  Each tenant
 * keeps DEPTH requests in flight, at most one per block.  When its
 * completions stop and its control connection hangs up, it calls
 * xio_tenant_reattach() until the new xiod takes it back; a VM tenant does
 * nothing: xiod re-adopts it from its state directory by itself.  The main thread
 * kills xiod a random 0..4 ms after every tenant was served again, 1,000
 * times (100 under sanitizers; $XIO_RESTART_KILLS for a long run; on a
 * machine so loaded that 90 s pass first, at least a quarter of them), and
 * restarts it at once.
 *
 * Checked: every READ sees the last completed WRITE of its block (0
 * mismatches); every user_data completes exactly once (a CQE for a request
 * not in flight is a duplicate, one still missing at the end is lost); NOP
 * completions come in submission order (reposted CQEs before resubmitted
 * requests, those in sequence order); no tenant waits more than 10 s.  The
 * time from each restart to every tenant being served again is printed
 * (max, p50): no timing assertion.  XIO_RESTART_DIRECT=1 opens the targets
 * O_DIRECT (the restart barrier then waits for a killed xiod's rings).
 *
 * Built with XIO_RESTART_TERM (test_xiod_restart_term): the same load, but
 * xiod is stopped with SIGTERM -- a clean stop, which with --state-dir
 * hands every tenant over to the next xiod (docs/daemon.md, "Clean stop")
 * -- 50 times (5 under sanitizers), and must exit with status 0 each time.
 * A fifth tenant has a socket target (passed as an fd, so only the
 * fd keeper carries it across) and a RECV waiting on it whenever
 * xiod is stopped: the RECV must complete once, with the bytes sent after
 * the restart (not -EINTR, not -EBADF).  xiod's completion counts carry
 * over exactly: at the end each tenant's equals what it saw.  With the
 * old SIGTERM, which detached every tenant and removed its log, the
 * guests' reattach gets -ENOENT and the VM tenants are not re-adopted: the
 * test fails.
 *
 * The doorbell (docs/vm.md): before every kill, the ivshmem-doorbell tenant
 * is not polled (no XIO_CLIENT_NO_DOORBELL in xiod's tenant list) and this
 * xiod counted a kick of it (the thread holds its submissions until the
 * ring asks for a wake-up, then kicks), and after a restart an interrupt
 * reached the thread's notify eventfd.  Near the end (KEEPER_KILL) the
 * fd keeper is killed with xiod: from then on the tenant is polled,
 * and served all the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/un.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtest.h"

#ifdef XIO_RESTART_TERM
#define STOP_SIG SIGTERM
#define NSOCK 1 /* a guest with a RECV waiting on a socket target */
#define KILLS_CI SCALE(50)
#else
#define STOP_SIG SIGKILL
#define NSOCK 0
#define KILLS_CI SCALE(1000) /* XIO_RESTART_KILLS=N for a longer run */
#endif
#define NLOCAL 2 /* then one ivshmem-plain, one ivshmem-doorbell tenant */
#define NVM 2
#define SOCK (NLOCAL + NVM) /* the socket tenant's index, with NSOCK */
#define NT (NLOCAL + NVM + NSOCK)
#define MSG_LEN 32
#define VM_SIZE (1ULL << 20)
#define DEPTH 8
#define NBLK 64
#define BS 4096U
/* A loaded CI machine: stop after this long, once a quarter is done. */
#define BUDGET_MS 90000
#define HANG_MS 10000

struct blk {
	uint32_t tenant, block;
	uint64_t gen;
	uint64_t sum;
};

struct slot {
	bool busy;
	uint8_t op;
	uint32_t block;
	uint64_t gen, ud;
};

struct tn {
	int idx;
	char name[32];
	char file[96];
	struct xio_tenant *t;	   /* a guest; NULL: a VM tenant */
	struct xio_region *r;	   /* a VM tenant's mapping */
	int vm_fds[4];		   /* doorbell: socket, region, kick, notify */
	atomic_uint_fast64_t irqs; /* doorbell: notify eventfd reads */
	atomic_int probe;  /* doorbell: submit once a wake-up is asked */
	char vm_path[100]; /* region file or server socket */
	struct xio_qp *qp;
	struct slot s[DEPTH];
	uint64_t committed[NBLK]; /* generation of the last completed write */
	bool blk_busy[NBLK];
	uint64_t next_ud, last_nop;
	uint64_t seed;
	atomic_uint_fast64_t done;
	atomic_uint_fast64_t reattaches, done_at_reattach;
	uint64_t mismatches, dups, ops[3];
	bool sock; /* RECVs from a socket target, one at a time */
	int peer;  /* the test's end of that socket */
	atomic_uint_fast64_t msgs; /* messages received as sent */
	pthread_t th;
};

static struct xiod d;
static char state_dir[64];
static atomic_bool stop;
/* When the current xiod was started; 0 while the killed one is reaped. */
static atomic_uint_fast64_t spawned_ms;
static uint64_t reap_max_ms;
static const char *xiod_args[16];

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t payload_sum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void fill(struct tn *x, unsigned char *b, uint32_t block, uint64_t gen)
{
	struct blk h = {(uint32_t)x->idx, block, gen, 0};
	uint64_t s = gen * 0x9e3779b97f4a7c15ULL + block + 1;
	size_t i;

	for (i = sizeof(h); i < BS; i++)
		b[i] = (unsigned char)rnd(&s);
	h.sum = payload_sum(b + sizeof(h), BS - sizeof(h));
	memcpy(b, &h, sizeof(h));
}

static bool verify(struct tn *x, const unsigned char *b, uint32_t block)
{
	uint64_t want = x->committed[block];
	struct blk h;
	size_t i;

	memcpy(&h, b, sizeof(h));
	if (!want) { /* never written: the file's zeroes */
		for (i = 0; i < BS; i++)
			if (b[i])
				return false;
		return true;
	}
	return h.tenant == (uint32_t)x->idx && h.block == block &&
	       h.gen == want &&
	       h.sum == payload_sum(b + sizeof(h), BS - sizeof(h));
}

static struct xio_region *tn_region(const struct tn *x)
{
	return x->t ? xio_tenant_region(x->t) : x->r;
}

/* Back to xiod after it died: retry until the new one takes us. */
static void reattach(struct tn *x)
{
	uint64_t deadline = 0;
	int err;

	for (;;) {
		/*
		 * The clock runs from the restart: the kernel reaps a killed
		 * xiod only once its io_uring requests ended, which a loaded
		 * machine can stretch (reported apart: reap time).
		 */
		uint64_t sp = atomic_load(&spawned_ms);

		if (sp && sp + HANG_MS > deadline)
			deadline = sp + HANG_MS;
		err = xio_tenant_reattach(x->t);
		if (!err)
			break;
		if (err != -ENOENT && err != -ECONNREFUSED &&
		    err != -ECONNRESET && err != -EPIPE && err != -ETIMEDOUT &&
		    err != -EPROTO && err != -ESHUTDOWN) {
			fprintf(stderr, "FAIL: tenant %d: reattach: %s\n",
				x->idx, strerror(-err));
			exit(1);
		}
		if (deadline && dt_now_ms() > deadline) {
			fprintf(stderr,
				"FAIL: tenant %d: no reattach in %d ms (last: %s)\n",
				x->idx, HANG_MS, strerror(-err));
			exit(1);
		}
		usleep(500);
	}
	atomic_store(&x->done_at_reattach, atomic_load(&x->done));
	atomic_fetch_add(&x->reattaches, 1);
}

static void submit_one(struct tn *x, int i)
{
	struct slot *s = &x->s[i];
	struct xio_sqe *sqe = xio_get_sqe(x->qp);
	uint32_t r = (uint32_t)(rnd(&x->seed) % 100), b;
	unsigned char *buf = xio_buf_ptr(tn_region(x), (uint32_t)i);

	CHECK(sqe);
	s->ud = ((uint64_t)x->idx << 48) | ++x->next_ud;
	s->busy = true;
	if (x->sock) {
		s->op = XIO_OP_RECV;
		memset(buf, 0, MSG_LEN);
		xio_prep_rw(sqe, XIO_OP_RECV, 0, (uint32_t)i, 0, MSG_LEN, 0,
			    s->ud);
		return;
	}
	if (r < 10) {
		s->op = XIO_OP_NOP;
		xio_prep_nop(sqe, s->ud);
		x->ops[2]++;
		return;
	}
	do
		b = (uint32_t)(rnd(&x->seed) % NBLK);
	while (x->blk_busy[b]);
	x->blk_busy[b] = true;
	s->block = b;
	if (r < 55) {
		s->op = XIO_OP_WRITE;
		s->gen = x->committed[b] + 1;
		fill(x, buf, b, s->gen);
		xio_prep_write(sqe, 0, (uint32_t)i, 0, BS, (uint64_t)b * BS,
			       s->ud);
		x->ops[0]++;
	} else {
		s->op = XIO_OP_READ;
		memset(buf, 0xa5, BS);
		xio_prep_read(sqe, 0, (uint32_t)i, 0, BS, (uint64_t)b * BS,
			      s->ud);
		x->ops[1]++;
	}
}

static void complete(struct tn *x, const struct xio_cqe *c)
{
	unsigned char *buf;
	struct slot *s = NULL;
	int i;

	for (i = 0; i < DEPTH; i++)
		if (x->s[i].busy && x->s[i].ud == c->user_data)
			s = &x->s[i];
	if (!s) {
		fprintf(stderr,
			"tenant %d: CQE for %llx not in flight (res %d)\n",
			x->idx, (unsigned long long)c->user_data, c->res);
		x->dups++;
		return;
	}
	i = (int)(s - x->s);
	s->busy = false;
	if (s->op == XIO_OP_NOP) {
		if (c->res != 0 || c->user_data <= x->last_nop) {
			fprintf(stderr,
				"tenant %d: NOP %llx out of order (last %llx) res %d\n",
				x->idx, (unsigned long long)c->user_data,
				(unsigned long long)x->last_nop, c->res);
			x->mismatches++;
		}
		x->last_nop = c->user_data;
		goto done;
	}
	if (s->op == XIO_OP_RECV) {
		char want[MSG_LEN] = {0};

		/* The message sent after the last restart, whole, once. */
		buf = xio_buf_ptr(tn_region(x), (uint32_t)i);
		snprintf(want, sizeof(want), "message %llu",
			 (unsigned long long)atomic_load(&x->msgs) + 1);
		if (c->res != MSG_LEN || memcmp(buf, want, MSG_LEN)) {
			fprintf(stderr,
				"tenant %d: RECV: res %d, want \"%s\" (%s)\n",
				x->idx, c->res, want,
				c->res < 0 ? strerror(-c->res) : "data");
			x->mismatches++;
		}
		atomic_fetch_add(&x->msgs, 1);
		goto done;
	}
	x->blk_busy[s->block] = false;
	if (c->res != (int)BS) {
		fprintf(stderr, "tenant %d: op %u block %u: res %d\n", x->idx,
			s->op, s->block, c->res);
		x->mismatches++;
		goto done;
	}
	buf = xio_buf_ptr(tn_region(x), (uint32_t)i);
	if (s->op == XIO_OP_WRITE) {
		x->committed[s->block] = s->gen;
	} else if (!verify(x, buf, s->block)) {
		fprintf(stderr,
			"tenant %d: block %u: data mismatch (want gen %llu)\n",
			x->idx, s->block,
			(unsigned long long)x->committed[s->block]);
		x->mismatches++;
	}
done:
	atomic_fetch_add(&x->done, 1);
}

static int in_flight(const struct tn *x)
{
	int i, n = 0;

	for (i = 0; i < DEPTH; i++)
		n += x->s[i].busy;
	return n;
}

static void *tenant_main(void *arg)
{
	struct tn *x = arg;
	uint64_t last_progress = dt_now_ms();

	for (;;) {
		struct xio_cqe *c;
		bool draining = atomic_load(&stop), hold = false;
		int i, n = 0, err;
		uint64_t v;

		if (draining && !in_flight(x))
			break;
		if (!x->t && x->vm_fds[3] >= 0 &&
		    read(x->vm_fds[3], &v, sizeof(v)) > 0)
			atomic_fetch_add(&x->irqs, 1); /* an interrupt */
		/* A probe: nothing new until xiod sleeps or parks us; then
		 * this xio_submit() kicks. */
		if (atomic_load(&x->probe)) {
			hold = in_flight(x) || !xio_qp_needs_kick(x->qp);
			if (!hold)
				atomic_store(&x->probe, 0);
		}
		for (i = 0; !draining && !hold && i < (x->sock ? 1 : DEPTH);
		     i++)
			if (!x->s[i].busy) {
				submit_one(x, i);
				n++;
			}
		if (n)
			CHECK(xio_submit(x->qp) >= 0);
		if (x->t) {
			err = xio_wait_cqe(x->qp, &c, 2);
		} else {
			/* A VM polls (no interrupt): sleep, not spin. */
			err = xio_peek_cqe(x->qp, &c);
			if (err)
				usleep(100);
		}
		if (!err) {
			do {
				complete(x, c);
				xio_cqe_seen(x->qp, c);
			} while (!xio_peek_cqe(x->qp, &c));
			last_progress = dt_now_ms();
			continue;
		}
		CHECK(err == -ETIMEDOUT || err == -EAGAIN || err == -EINTR);
		if (x->t && xio_tenant_hung_up(x->t) == 1) {
			reattach(x);
			last_progress = dt_now_ms();
		} else if (!x->t && !atomic_load(&spawned_ms)) {
			last_progress = dt_now_ms(); /* xiod is being reaped */
		} else if (dt_now_ms() - last_progress > HANG_MS &&
			   (x->t ||
			    dt_now_ms() - atomic_load(&spawned_ms) > HANG_MS)) {
			fprintf(stderr,
				"FAIL: tenant %d: %d requests lost (no completion in %d ms)\n",
				x->idx, in_flight(x), HANG_MS);
			exit(1);
		}
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A VM tenant as the libvirt hook makes it, and the thread's view of it as
 * QEMU's: the region file mapped, or the ivshmem-doorbell setup read from
 * xiod's server socket (the region fd mapped, the kick eventfd kept as the
 * Doorbell register's).
 */
static void vm_setup(struct xio_admin *adm, struct tn *x,
		     const struct xio_params *p, bool doorbell)
{
	struct xio_vm_tenant_opts vo = {
		.name = x->name,
		.path = x->vm_path,
		.size = VM_SIZE,
		.nr_qpairs = p->nr_qpairs,
		.sq_entries = p->sq_entries,
		.cq_entries = p->cq_entries,
		.buf_size = p->buf_size,
		.nr_bufs = p->nr_bufs,
		.numa_node = -1,
		.uid = getuid(),
		.gid = getgid(),
		.flags = doorbell ? XIO_VM_TENANT_DOORBELL : 0,
	};
	int64_t m;
	int i, fd;

	snprintf(x->vm_path, sizeof(x->vm_path), "%s/%s.%s", state_dir, x->name,
		 doorbell ? "sock" : "shm");
	CHECK(xio_admin_vm_tenant(adm, &vo) > 0);
	for (i = 0; i < 4; i++)
		x->vm_fds[i] = -1;
	if (doorbell) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(fd >= 0);
		CHECK(strlen(x->vm_path) < sizeof(sa.sun_path));
		memcpy(sa.sun_path, x->vm_path, strlen(x->vm_path) + 1);
		CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		x->vm_fds[0] = fd;
		/* version, peer id, memory, xiod's vector, ours */
		for (i = 0; i < 5; i++) {
			int got = -1;

			CHECK_EQ(dt_recv64(fd, &m, &got), 1);
			if (i >= 2)
				x->vm_fds[i - 1] = got;
			else
				CHECK(got < 0);
		}
		CHECK(x->vm_fds[1] >= 0 && x->vm_fds[2] >= 0 &&
		      x->vm_fds[3] >= 0);
		CHECK(fcntl(x->vm_fds[3], F_SETFL, O_NONBLOCK) == 0);
		fd = x->vm_fds[1];
	} else {
		fd = open(x->vm_path, O_RDWR | O_CLOEXEC);
		CHECK(fd >= 0);
		x->vm_fds[1] = fd;
	}
	CHECK_EQ(xio_region_attach_fd(fd, 0, &x->r), 0);
	x->qp = xio_region_qp(x->r, 0);
	if (doorbell)
		xio_qp_set_kick_fd(x->qp, x->vm_fds[2]);
}

#if NSOCK
/*
 * The socket tenant, once the current xiod took it back: send it message
 * @n, wait until it has received it and its next RECV waits in xiod (in
 * io_uring: the tenant's inflight gauge), so that the stop finds it there.
 */
static void sock_round(struct tn *x, uint64_t n, uint64_t deadline)
{
	char msg[MSG_LEN] = {0};
	struct xio_admin *adm;

	snprintf(msg, sizeof(msg), "message %llu", (unsigned long long)n);
	CHECK_EQ(write(x->peer, msg, MSG_LEN), MSG_LEN);
	while (atomic_load(&x->msgs) < n) {
		CHECK(dt_now_ms() < deadline);
		usleep(100);
	}
	if (atomic_load(&stop))
		return;
	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	for (;;) {
		struct xio_tenant_stats st = {.sz = sizeof(st)};

		CHECK_EQ(xio_admin_stats(adm, x->name, 0, &st, 1, NULL), 1);
		if (st.inflight == 1)
			break;
		CHECK(dt_now_ms() < deadline);
		usleep(200);
	}
	xio_admin_close(adm);
}
#endif

/* @x as the current xiod lists it. */
static struct xio_tenant_info tenant_info(const struct tn *x)
{
	struct xio_tenant_info ti[NT];
	struct xio_admin *adm;
	int i, n;

	CHECK(xio_admin_open(d.sock, &adm) == 0);
	n = xio_admin_tenants(adm, ti, NT, NULL);
	xio_admin_close(adm);
	for (i = 0; i < n; i++)
		if (!strcmp(ti[i].name, x->name))
			return ti[i];
	fprintf(stderr, "FAIL: tenant %s not listed\n", x->name);
	exit(1);
}

/*
 * The doorbell tenant @x served by the k-th xiod: kicked (not polled), and
 * interrupted since @irqs (k > 0: the re-adoption owes the guest one), or
 * after the keeper died, polled.  Its kick count is added to *@kicks.
 */
static void doorbell_check(struct tn *x, int k, bool polled, uint64_t irqs,
			   uint64_t deadline, uint64_t *kicks)
{
	struct xio_tenant_info ti;

	for (;;) {
		if (!polled) {
			atomic_store(&x->probe, 1);
			while (atomic_load(&x->probe) && dt_now_ms() < deadline)
				usleep(100);
		}
		ti = tenant_info(x);
		if (polled != !!(ti.attach_flags & XIO_CLIENT_NO_DOORBELL)) {
			fprintf(stderr,
				"FAIL: kill %d: the doorbell tenant is %s\n", k,
				polled ? "not polled without its keeper" :
					 "polled (its eventfds were not kept)");
			exit(1);
		}
		if (polled)
			return;
		if (ti.kicks && (!k || atomic_load(&x->irqs) > irqs)) {
			*kicks += ti.kicks;
			return;
		}
		if (dt_now_ms() > deadline) {
			fprintf(stderr,
				"FAIL: kill %d: the doorbell tenant: %llu kicks, %llu interrupts since the restart\n",
				k, (unsigned long long)ti.kicks,
				(unsigned long long)(atomic_load(&x->irqs) -
						     irqs));
			exit(1);
		}
	}
}

/* SIGKILL the fd keeper of @dir; back once its socket refuses. */
static void keeper_kill(const char *dir)
{
	uint64_t deadline = dt_now_ms() + HANG_MS;
	pid_t pid = dt_keeper_pid(dir);

	CHECK(pid > 0);
	CHECK(kill(pid, SIGKILL) == 0);
	while (dt_keeper_pid(dir) > 0) {
		CHECK(dt_now_ms() < deadline);
		usleep(1000);
	}
	printf("fd keeper (pid %d) killed\n", (int)pid);
}

/* The library's "connecting ... refused" while xiod restarts: expected. */
static int quiet(enum xio_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int main(void)
{
	static struct tn tn[NT];
	struct xio_admin *adm;
	uint64_t *serve_us, seed = 0x1234567ULL ^ (uint64_t)getpid();
	uint64_t t0, total_ops = 0, mism = 0, dups = 0, db_kicks = 0, irqs = 0;
	int i, k, kills = KILLS_CI, keeper_at;
	struct tn *db = &tn[NLOCAL + 1];
	const char *env = getenv("XIO_RESTART_KILLS");

	if (env && atoi(env) >= 2)
		kills = atoi(env);
	/* The last few restarts without the keeper (not with the socket
	 * tenant, whose target only the keeper brings back). */
	keeper_at = NSOCK ? kills : kills > 10 ? kills - 5 : kills / 2;
	dt_state_dir(state_dir, sizeof(state_dir), "rs");
	dt_keeper_kill_at_exit(state_dir);
	xiod_start(&d, "--state-dir", state_dir, NULL);
	atomic_store(&spawned_ms, dt_now_ms());
	dt_xiod_argv(&d, xiod_args, 16, "--state-dir", state_dir, "--log-level",
		     "warning", NULL);
	CHECK(xio_admin_open(d.sock, &adm) == 0);
	for (i = 0; i < NT; i++) {
		struct xio_client_opts o = {.sz = sizeof(o)};
		struct tn *x = &tn[i];
		int fd;

		x->idx = i + 1;
		x->seed = seed + (uint64_t)i * 7919;
		snprintf(x->name, sizeof(x->name), "rs%d", i);
		/*
		 * Next to the logs, on tmpfs: a killed xiod is reaped only
		 * once its io_uring requests ended, and a buffered write to a
		 * disk file under writeback throttling (other tests' I/O) can
		 * take seconds -- restart latency that is not xiod's.
		 */
		snprintf(x->file, sizeof(x->file), "%s/t%d.img", state_dir, i);
		x->sock = i >= SOCK;
		fd = open(x->file, O_RDWR | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0);
		CHECK(ftruncate(fd, (off_t)NBLK * BS) == 0);
		close(fd);
		o.name = x->name;
		o.params.nr_qpairs = 1;
		o.params.sq_entries = 32;
		o.params.cq_entries = 64;
		o.params.buf_size = BS;
		o.params.nr_bufs = DEPTH;
		if (i < NLOCAL || x->sock) {
			CHECK(xio_client_attach(d.sock, &o, &x->t) == 0);
			x->qp = xio_tenant_qp(x->t, 0);
		} else {
			vm_setup(adm, x, &o.params, i == NLOCAL + 1);
		}
		if (x->sock) {
			int sp[2];

			/* Only a keeper carries it across (docs/daemon.md). */
			CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sp),
				 0);
			CHECK_EQ(xio_admin_target_add_fd(adm, x->name, sp[0], 0,
							 "recv"),
				 0);
			close(sp[0]);
			x->peer = sp[1];
			continue;
		}
		/* XIO_RESTART_DIRECT=1: O_DIRECT targets, whose rings the
		 * restart barrier waits for after a kill (docs/daemon.md). */
		CHECK(xio_admin_target_add(adm, x->name, x->file,
					   getenv("XIO_RESTART_DIRECT") ?
						   XIO_TARGET_DIRECT :
						   0) == 0);
	}
	/* A quota to see restored: tenant rs1, weight 300, 50 in flight. */
	{
		struct xio_quota q = {.sz = sizeof(q),
				      .flags = XIO_QUOTA_WEIGHT |
					       XIO_QUOTA_INFLIGHT,
				      .weight = 300,
				      .inflight_cap = 50};

		CHECK_EQ(xio_admin_quota_set(adm, "rs1", &q), 0);
	}
	xio_admin_close(adm);
	xio_set_print(quiet);
	for (i = 0; i < NT; i++)
		CHECK(pthread_create(&tn[i].th, NULL, tenant_main, &tn[i]) ==
		      0);
	serve_us = calloc(kills, sizeof(*serve_us));
	CHECK(serve_us);
	t0 = dt_now_ms();
	for (k = 0; k < kills; k++) {
		if (k >= KILLS_CI / 4 && !env && dt_now_ms() - t0 > BUDGET_MS &&
		    keeper_at > k) {
			/* Still the keeper-less restarts, if any. */
			int left = NSOCK ? 0 : 5;

			printf("time budget: stopping after %d of %d kills\n",
			       k + left, kills);
			kills = k + left;
			keeper_at = NSOCK ? kills : k;
			if (!left)
				break;
		}
		uint64_t start, deadline;
		struct timespec a, b;
		int st;

		clock_gettime(CLOCK_MONOTONIC, &a);
		start = dt_now_ms();
		deadline = start + HANG_MS;
		/*
		 * Serving again: every tenant is back with this xiod (its k-th
		 * reattach) and completed something since.
		 */
		for (i = 0; i < NT; i++) {
			while (atomic_load(&tn[i].reattaches) < (uint64_t)k ||
			       (!tn[i].sock &&
				atomic_load(&tn[i].done) ==
					atomic_load(&tn[i].done_at_reattach))) {
				if (waitpid(d.pid, &st, WNOHANG) == d.pid) {
					fprintf(stderr,
						"FAIL: kill %d: xiod died by itself (status 0x%x)\n",
						k, st);
					return 1;
				}
				if (dt_now_ms() > deadline) {
					fprintf(stderr,
						"FAIL: kill %d: tenant %d not served within %d ms of the restart\n",
						k, i, HANG_MS);
					kill(d.pid, SIGKILL);
					return 1;
				}
				usleep(100);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		serve_us[k] =
			(uint64_t)((int64_t)(b.tv_sec - a.tv_sec) * 1000000 +
				   (b.tv_nsec - a.tv_nsec) / 1000);
#if NSOCK
		/* Its RECV answered with what was sent after the restart. */
		sock_round(&tn[SOCK], (uint64_t)k + 1, deadline);
#endif
		doorbell_check(db, k, k > keeper_at, irqs, deadline, &db_kicks);
		usleep((useconds_t)(rnd(&seed) % 4000));
		CHECK(kill(d.pid, STOP_SIG) == 0);
		atomic_store(&spawned_ms, 0);
		{
			uint64_t r0 = dt_now_ms();

			CHECK(waitpid(d.pid, &st, 0) == d.pid);
			if (dt_now_ms() - r0 > reap_max_ms)
				reap_max_ms = dt_now_ms() - r0;
			if (STOP_SIG == SIGTERM &&
			    (!WIFEXITED(st) || WEXITSTATUS(st))) {
				fprintf(stderr,
					"FAIL: stop %d: xiod's status 0x%x, not exit 0\n",
					k, st);
				return 1;
			}
		}
		if (k == keeper_at)
			keeper_kill(state_dir);
		irqs = atomic_load(&db->irqs);
		/* VM tenants are back once the new xiod serves them. */
		for (i = NLOCAL; i < NLOCAL + NVM; i++) {
			atomic_store(&tn[i].done_at_reattach,
				     atomic_load(&tn[i].done));
			atomic_fetch_add(&tn[i].reattaches, 1);
		}
		dt_xiod_spawn(&d, xiod_args);
		atomic_store(&spawned_ms, dt_now_ms());
	}
	/* Let the last one be served, then drain and check. */
	atomic_store(&stop, true);
#if NSOCK
	/* The socket tenant's last RECV: answered by the last xiod. */
	while (atomic_load(&tn[SOCK].reattaches) < (uint64_t)kills)
		usleep(100);
	sock_round(&tn[SOCK], (uint64_t)kills + 1, dt_now_ms() + HANG_MS);
#endif
	for (i = 0; i < NT; i++) {
		pthread_join(tn[i].th, NULL);
		total_ops += atomic_load(&tn[i].done);
		mism += tn[i].mismatches;
		dups += tn[i].dups;
		printf("tenant %d: %llu completions (%llu writes, %llu reads, %llu nops), %llu reattaches, %llu mismatches, %llu duplicates\n",
		       tn[i].idx, (unsigned long long)atomic_load(&tn[i].done),
		       (unsigned long long)tn[i].ops[0],
		       (unsigned long long)tn[i].ops[1],
		       (unsigned long long)tn[i].ops[2],
		       (unsigned long long)atomic_load(&tn[i].reattaches),
		       (unsigned long long)tn[i].mismatches,
		       (unsigned long long)tn[i].dups);
	}
	/* serve_us[0] is the first start, not a restart. */
	qsort(serve_us + 1, kills - 1, sizeof(*serve_us), cmp_u64);
	printf("doorbell tenant: %llu kicks counted by %d xiods, %llu interrupts, polled after %d restarts without the keeper\n",
	       (unsigned long long)db_kicks,
	       keeper_at < kills ? keeper_at + 1 : kills,
	       (unsigned long long)atomic_load(&db->irqs),
	       keeper_at < kills ? kills - 1 - keeper_at : 0);
	printf("%d %s in %.1f s, %llu completions: restart -> serving again: p50 %.1f ms, p99 %.1f ms, max %.1f ms; longest reap of a stopped xiod %llu ms\n",
	       kills, STOP_SIG == SIGTERM ? "SIGTERMs" : "kills",
	       (double)(dt_now_ms() - t0) / 1000, (unsigned long long)total_ops,
	       (double)serve_us[1 + (kills - 1) / 2] / 1000,
	       (double)serve_us[1 + (kills - 1) * 99 / 100] / 1000,
	       (double)serve_us[kills - 1] / 1000,
	       (unsigned long long)reap_max_ms);
	CHECK_EQ(mism, 0);
	CHECK_EQ(dups, 0);
	for (i = 0; i < NT; i++) {
		CHECK_EQ(in_flight(&tn[i]), 0);
		/* Idle when the last xiod came: not back yet. */
		if (tn[i].t && xio_tenant_hung_up(tn[i].t) == 1)
			reattach(&tn[i]);
	}
	/* The last xiod knows them as the first did: id, target, quota. */
	xio_set_print(NULL);
	CHECK(xio_admin_open(d.sock, &adm) == 0);
	for (i = 0; i < NT; i++) {
		struct xio_tenant_stats st = {.sz = sizeof(st)};
		struct xio_target_info ti;

		CHECK_EQ(xio_admin_stats(adm, tn[i].name, 0, &st, 1, NULL), 1);
		/* A handover stores its counters last: none lost (a kill
		 * loses up to 100 ms of them). */
		if (STOP_SIG == SIGTERM)
			CHECK_EQ(st.completed, atomic_load(&tn[i].done));
		if (tn[i].t)
			CHECK_EQ(st.id, xio_tenant_id(tn[i].t));
		else
			CHECK_EQ(st.id, (uint32_t)(i + 1)); /* ids 1..NT */
		CHECK_EQ(st.weight, i == 1 ? 300 : XIO_QUOTA_WEIGHT_DEFAULT);
		if (i == 1)
			CHECK_EQ(st.inflight_cap, 50);
		CHECK_EQ(xio_admin_target_list(adm, tn[i].name, &ti, 1, NULL),
			 1);
		if (tn[i].sock) {
			/* Messages 1..kills+1, each received once, whole. */
			CHECK_EQ(atomic_load(&tn[i].msgs), (uint64_t)kills + 1);
			CHECK(ti.flags & XIO_TARGET_SOCKET);
			close(tn[i].peer);
			continue;
		}
		CHECK(!strcmp(ti.path, tn[i].file));
	}
	for (i = 0; i < NT; i++) {
		if (tn[i].t) {
			CHECK(xio_client_detach(tn[i].t) == 0);
		} else {
			/* Removed with its file or socket (and region file). */
			CHECK_EQ(xio_admin_tenant_detach(adm, tn[i].name), 0);
			CHECK(access(tn[i].vm_path, F_OK) < 0);
			xio_region_destroy(tn[i].r);
			for (k = 0; k < 4; k++)
				if (tn[i].vm_fds[k] >= 0)
					close(tn[i].vm_fds[k]);
		}
		unlink(tn[i].file);
	}
	xio_admin_close(adm);
	free(serve_us);
	xiod_stop(&d);
	/* A clean stop leaves no log behind. */
	CHECK(rmdir(state_dir) == 0);
	return 0;
}
