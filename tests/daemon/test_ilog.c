// SPDX-License-Identifier: MIT
/*
 * xiod's in-flight log (daemon/ilog.c) against torn and corrupted files:
 * every record case recovery must tell apart (resubmit, repost, already
 * seen, still in the SQ, corrupt, duplicate sequence number, an SQE that
 * fails validation), a static part that cannot be trusted (bad magic,
 * version, sizes, geometry, checksum, name, truncated or extended file,
 * random bytes: refused, the tenant failed cleanly), updates of the static
 * part torn by a kill (repaired), and random bytes over
 * the records (recovery never crashes and returns only consistent fixes).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ilog.h"
#include "xiod.h"
#include "xtest.h"

#ifdef XIO_TEST_SANITIZED
#define ROUNDS 200
#else
#define ROUNDS 2000
#endif

/* ilog.c logs through xiod's logger: quiet here. */
int xiod_log_level;
void xiod_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static char dir[64];
static struct xio_layout lay;

static void mk(struct ilog *lg)
{
	struct ilog_ident id = {.name = "t1",
				.tenant_id = 7,
				.uid = 0,
				.l = &lay,
				.region_size = 1 << 20};

	CHECK_EQ(ilog_create(dir, &id, lg), 0);
}

static void rec_set(struct ilog *lg, uint32_t qp, uint32_t i, uint32_t state,
		    uint64_t seq, uint32_t sq_idx, uint32_t cq_idx)
{
	struct ilog_rec *r = &ilog_qp_recs(lg, qp)[i];

	memset(r, 0, sizeof(*r));
	r->state = state;
	r->seq = seq;
	r->sq_idx = sq_idx;
	r->cq_idx = cq_idx;
	r->sqe.opcode = XIO_OP_NOP;
	r->sqe.user_data = seq;
}

static int reopen(struct ilog *lg)
{
	return ilog_open(dir, "t1", lg);
}

/* Every record case, in one file. */
static void cases(void)
{
	struct ilog lg, lg2;
	struct ilog_pos pos[2] = {{10, 20}, {0, 0}};
	struct ilog_rstats st;
	struct ilog_fix *f;
	uint32_t n, i;

	mk(&lg);
	rec_set(&lg, 0, 0, ILOG_TAKEN, 5, 3, 0);	   /* resubmit, 2nd */
	rec_set(&lg, 0, 1, ILOG_TAKEN, 3, 1, 0);	   /* resubmit, 1st */
	rec_set(&lg, 0, 2, ILOG_TAKEN, 9, 10, 0);	   /* still in SQ */
	rec_set(&lg, 0, 3, ILOG_POSTING, 2, 0, 19);	   /* seen */
	rec_set(&lg, 0, 4, ILOG_POSTING, 4, 2, 21);	   /* repost, 2nd */
	rec_set(&lg, 0, 5, ILOG_POSTING, 6, 4, 20);	   /* repost, 1st */
	rec_set(&lg, 0, 6, ILOG_POSTING, 8, 5, 1000);	   /* corrupt */
	rec_set(&lg, 0, 7, 0x1234, 11, 5, 0);		   /* corrupt */
	rec_set(&lg, 0, 8, ILOG_TAKEN, 0, 5, 0);	   /* corrupt: seq 0 */
	rec_set(&lg, 1, 0, ILOG_TAKEN, 12, 0xfffffff0, 0); /* resubmit */
	rec_set(&lg, 1, 1, ILOG_TAKEN, 12, 0xfffffff1, 0); /* duplicate */
	rec_set(&lg, 1, 2, ILOG_TAKEN, 13, 0xfffffff2, 0); /* bad SQE */
	ilog_qp_recs(&lg, 1)[2].sqe.opcode = XIO_OP_READ;
	ilog_qp_recs(&lg, 1)[2].sqe.len = 64;
	ilog_qp_recs(&lg, 1)[2].sqe.buf_index = 99; /* beyond the pool */
	/* Issued to io_uring before the kill: a send is answered -EINTR, a
	 * READ (a damaged record: never marked so) is run again, and one
	 * still in the SQ is taken again (never submitted). */
	rec_set(&lg, 1, 3, ILOG_ISSUED, 14, 0xfffffff3, 0);
	ilog_qp_recs(&lg, 1)[3].sqe.opcode = XIO_OP_PKT_SEND;
	rec_set(&lg, 1, 4, ILOG_ISSUED, 15, 0xfffffff4, 0);
	ilog_qp_recs(&lg, 1)[4].sqe.opcode = XIO_OP_READ;
	ilog_qp_recs(&lg, 1)[4].sqe.len = 64;
	rec_set(&lg, 1, 5, ILOG_ISSUED, 16, 3, 0);
	ilog_qp_recs(&lg, 1)[5].sqe.opcode = XIO_OP_SEND;
	ilog_close(&lg, false);

	CHECK_EQ(reopen(&lg2), 0);
	CHECK_EQ(ilog_recover(&lg2, pos, &f, &n, &st), 0);
	CHECK_EQ(st.resubmit, 6);
	CHECK_EQ(st.repost, 2);
	CHECK_EQ(st.visible, 1);
	CHECK_EQ(st.retake, 2);
	CHECK_EQ(st.corrupt, 3);
	CHECK_EQ(st.dup, 1);
	CHECK_EQ(st.invalid, 1);
	CHECK_EQ(st.unsure, 1);
	CHECK_EQ(st.next_seq, 17);
	CHECK_EQ(n, 8);
	/* qp 0: reposts in CQ order, then resubmits in seq order. */
	CHECK(f[0].qp == 0 && f[0].repost && f[0].rec == 5);
	CHECK(f[1].qp == 0 && f[1].repost && f[1].rec == 4);
	CHECK(f[2].qp == 0 && !f[2].repost && f[2].rec == 1);
	CHECK(f[3].qp == 0 && !f[3].repost && f[3].rec == 0);
	CHECK(f[4].qp == 1 && !f[4].repost && f[4].rec == 0 && !f[4].status);
	CHECK(f[5].qp == 1 && !f[5].repost && f[5].status == -EINVAL);
	CHECK(f[6].qp == 1 && f[6].rec == 3 && f[6].status == -EINTR);
	CHECK(f[7].qp == 1 && f[7].rec == 4 && !f[7].status);
	CHECK_EQ(ilog_qp_recs(&lg2, 1)[5].state, ILOG_FREE);
	CHECK_EQ(f[2].sqe.user_data, 3);
	/* Dropped records are free; kept ones untouched. */
	for (i = 2; i <= 8; i++)
		if (i != 4 && i != 5)
			CHECK_EQ(ilog_qp_recs(&lg2, 0)[i].state, ILOG_FREE);
	CHECK_EQ(ilog_qp_recs(&lg2, 1)[1].state, ILOG_FREE);
	CHECK_EQ(ilog_qp_recs(&lg2, 0)[0].state, ILOG_TAKEN);
	free(f);
	ilog_close(&lg2, true);
}

/* Damage the static part of a fresh log one way; it must be refused. */
static void refused(const char *what, void (*damage)(struct ilog *, int))
{
	struct ilog lg, lg2;
	int fd, err;
	char path[128];

	mk(&lg);
	snprintf(path, sizeof(path), "%s", lg.path);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	damage(&lg, fd);
	close(fd);
	ilog_close(&lg, false);
	err = reopen(&lg2);
	if (err != -EBADMSG) {
		fprintf(stderr, "FAIL: %s: open gave %d, not -EBADMSG\n", what,
			err);
		exit(1);
	}
	CHECK(lg2.base == NULL && lg2.fd == -1);
	unlink(path);
}

static void d_magic(struct ilog *lg, int fd)
{
	(void)fd;
	lg->hdr->magic ^= 1;
}
static void d_version(struct ilog *lg, int fd)
{
	(void)fd;
	lg->hdr->version = ILOG_VERSION + 1;
	ilog_seal(lg); /* a consistent file of another version */
}
/* The VM part (a VM tenant re-adopted at startup): a relative region path,
 * an unknown kind, a world-accessible mode, each consistently sealed. */
static void d_vm(struct ilog *lg, int fd)
{
	static int n;

	(void)fd;
	lg->hdr->vm_kind = n == 1 ? ILOG_VM_DOORBELL + 1 : ILOG_VM_FILE;
	snprintf(lg->hdr->vm_path, sizeof(lg->hdr->vm_path), "%s",
		 n == 0 ? "dev/shm/x" : "/dev/shm/x");
	lg->hdr->vm_mode = n == 2 ? 0606 : 0600;
	n++;
	ilog_seal(lg);
}
static void d_recsize(struct ilog *lg, int fd)
{
	(void)fd;
	lg->hdr->rec_size = 128;
	ilog_seal(lg);
}
static void d_geometry(struct ilog *lg, int fd)
{
	(void)fd;
	lg->hdr->cq_entries = 3; /* not a power of two */
	ilog_seal(lg);
}
static void d_bigger_ring(struct ilog *lg, int fd)
{
	(void)fd;
	lg->hdr->cq_entries = 1024; /* valid, but not this file's size */
	ilog_seal(lg);
}
static void d_csum(struct ilog *lg, int fd)
{
	(void)fd;
	lg->targets[5].path[3] = 'x'; /* torn: static part, no new sum */
}
static void d_name(struct ilog *lg, int fd)
{
	(void)fd;
	strcpy(lg->hdr->name, "t2");
	ilog_seal(lg);
}
static void d_targets(struct ilog *lg, int fd)
{
	(void)fd;
	lg->hdr->nr_targets = 1;
	lg->targets[0].kind = ILOG_T_PATH;
	strcpy(lg->targets[0].path, "relative/path");
	ilog_seal(lg);
}
static void d_truncate(struct ilog *lg, int fd)
{
	CHECK(ftruncate(fd, (off_t)lg->size - 4096) == 0);
}
static void d_extend(struct ilog *lg, int fd)
{
	CHECK(ftruncate(fd, (off_t)lg->size + 4096) == 0);
}
static void d_tiny(struct ilog *lg, int fd)
{
	(void)lg;
	CHECK(ftruncate(fd, 100) == 0);
}
static void d_random(struct ilog *lg, int fd)
{
	unsigned char *p = (unsigned char *)lg->hdr;
	size_t i;

	(void)fd;
	for (i = 0; i < 512; i++)
		p[i] = (unsigned char)rand();
}

/* Random bytes over the records: no crash, only consistent fixes. */
static void fuzz(void)
{
	struct ilog lg;
	uint32_t r, n, i, j, ce = lay.cq_entries;
	struct ilog_rstats st;
	struct ilog_fix *f;

	mk(&lg);
	for (r = 0; r < ROUNDS; r++) {
		struct ilog_pos pos[2];
		unsigned char *p = (unsigned char *)lg.recs;
		size_t len = 2 * (size_t)ce * sizeof(struct ilog_rec);

		/* Plausible records, then random bytes over some. */
		for (i = 0; i < 2 * ce; i++)
			rec_set(&lg, i / ce, i % ce,
				(rand() % 3) == 0 ? ILOG_TAKEN :
				(rand() % 2) == 0 ? ILOG_ISSUED :
						    ILOG_POSTING,
				(uint64_t)(rand() % 40), (uint32_t)rand() % 64,
				(uint32_t)rand() % 64);
		for (i = 0; i < (uint32_t)(rand() % 200); i++)
			p[(size_t)rand() % len] = (unsigned char)rand();
		for (i = 0; i < 2; i++) {
			pos[i].sq_head = (uint32_t)rand() % 64;
			pos[i].cq_tail = (uint32_t)rand() % 64;
		}
		CHECK_EQ(ilog_recover(&lg, pos, &f, &n, &st), 0);
		CHECK_EQ(n, st.repost + st.resubmit);
		for (i = 0; i < n; i++) {
			struct ilog_rec *rec;

			CHECK(f[i].qp < 2 && f[i].rec < ce);
			rec = &ilog_qp_recs(&lg, f[i].qp)[f[i].rec];
			CHECK(f[i].repost ? rec->state == ILOG_POSTING :
					    rec->state == ILOG_TAKEN ||
						    rec->state == ILOG_ISSUED);
			/* Only an issued send/receive is answered EINTR. */
			if (f[i].status == -EINTR)
				CHECK(rec->state == ILOG_ISSUED &&
				      ilog_op_unsure(f[i].sqe.opcode));
			CHECK(!f[i].status || !f[i].repost);
			if (!f[i].repost && !f[i].status)
				CHECK_EQ(xio_sqe_validate(&lay, &f[i].sqe), 0);
			for (j = 0; j < i; j++)
				CHECK(ilog_qp_recs(&lg, f[j].qp)[f[j].rec]
					      .seq != rec->seq);
			/* Per queue pair, resubmits follow in seq order. */
			if (i && f[i].qp == f[i - 1].qp && !f[i].repost &&
			    !f[i - 1].repost)
				CHECK(ilog_qp_recs(&lg,
						   f[i - 1].qp)[f[i - 1].rec]
					      .seq < rec->seq);
			CHECK(!(i && f[i].qp == f[i - 1].qp && f[i].repost &&
				!f[i - 1].repost));
		}
		free(f);
	}
	ilog_close(&lg, true);
}

static void d_torn_bogus(struct ilog *lg, int fd)
{
	(void)fd;
	lg->hdr->upd_targets = XIO_MAX_TARGETS + 2; /* no such count */
	lg->targets[5].path[3] = 'x';
}

/* Install target @i as control.c does, stopping before the seal if @torn. */
static void target_put(struct ilog *lg, uint32_t i, const char *path, bool torn)
{
	ilog_update_begin(lg);
	lg->targets[i].kind = ILOG_T_PATH;
	snprintf(lg->targets[i].path, sizeof(lg->targets[i].path), "%s", path);
	lg->hdr->nr_targets = i + 1;
	if (!torn)
		ilog_seal(lg);
}

/*
 * A kill between ilog_update_begin() and ilog_seal() (a TARGET_ADD or QUOTA
 * request being applied): the log is repaired, keeping what was sealed and
 * dropping the target whose addition was never answered.
 */
static void torn_updates(void)
{
	struct ilog lg, lg2;
	int i;

	for (i = 0; i < 3; i++) {
		mk(&lg);
		target_put(&lg, 0, "/srv/disk0", false);
		if (i == 0) {
			target_put(&lg, 1, "/srv/disk1", true);
		} else if (i == 1) {
			/* killed half-way through the path copy */
			ilog_update_begin(&lg);
			lg.targets[1].kind = ILOG_T_PATH;
			memcpy(lg.targets[1].path, "/sr", 3);
		} else {
			ilog_update_begin(&lg);
			lg.hdr->q_weight = 7; /* QUOTA, not sealed */
		}
		ilog_close(&lg, false);
		CHECK_EQ(reopen(&lg2), 0);
		CHECK_EQ(lg2.hdr->nr_targets, 1);
		CHECK_EQ(strcmp(lg2.targets[0].path, "/srv/disk0"), 0);
		CHECK_EQ(lg2.targets[1].kind, 0);
		CHECK_EQ(lg2.targets[1].path[0], 0);
		CHECK_EQ(lg2.hdr->upd_targets, 0);
		ilog_close(&lg2, false);
		CHECK_EQ(reopen(&lg2), 0); /* sealed again */
		ilog_close(&lg2, true);
	}
}

/* ---- the restart barrier ------------------------------------------------ */

/* Files in @d whose names start with @prefix. */
static int count_files(const char *d, const char *prefix)
{
	struct dirent *de;
	DIR *dd = opendir(d);
	int n = 0;

	CHECK(dd);
	while ((de = readdir(dd)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(dd);
	return n;
}

struct releaser {
	int fd;
	int released; /* atomic: the flock orders it, TSan does not see that */
};

/* Stands for the kernel freeing a dead xiod's ring 300 ms from now. */
static void *release_later(void *arg)
{
	struct releaser *r = arg;

	usleep(300000);
	__atomic_store_n(&r->released, 1, __ATOMIC_RELEASE);
	close(r->fd);
	return NULL;
}

/*
 * A generation is one xiod: its process lock fd (closed = all its threads
 * gone) and its ring lock fd (open = a ring the kernel still tears down).
 */
static void barrier(void)
{
	char bd[80];
	int lock_a, ring_a, lock_b, ring_b, lock_c, ring_c, held;
	struct releaser rel;
	pthread_t th;

	snprintf(bd, sizeof(bd), "%s/barrier", dir);
	/* A: first start. */
	lock_a = ilog_barrier(bd, 5, &ring_a);
	CHECK(lock_a >= 0 && ring_a >= 0);
	CHECK_EQ(count_files(bd, "xiod.rings."), 1);
	/* Another xiod while A lives: its process lock is held. */
	CHECK_EQ(ilog_barrier(bd, 1, &held), -ETIMEDOUT);
	/* A dies, its ring is still being torn down, it had no O_DIRECT
	 * target: B starts at once and leaves A's file. */
	close(lock_a);
	lock_b = ilog_barrier(bd, 5, &ring_b);
	CHECK(lock_b >= 0);
	CHECK_EQ(count_files(bd, "xiod.rings."), 2);
	/* B opens an O_DIRECT target, dies with its ring still held. */
	CHECK_EQ(ilog_barrier_direct(), 0);
	close(lock_b);
	/* C cannot start while B's ring may still complete requests... */
	CHECK_EQ(ilog_barrier(bd, 1, &held), -ETIMEDOUT);
	/* ...and starts once it is freed, not before. */
	rel.fd = ring_b;
	rel.released = 0;
	CHECK_EQ(pthread_create(&th, NULL, release_later, &rel), 0);
	lock_c = ilog_barrier(bd, 5, &ring_c);
	CHECK(lock_c >= 0);
	CHECK(__atomic_load_n(&rel.released, __ATOMIC_ACQUIRE));
	pthread_join(th, NULL);
	/* B's file was removed, A's (still held) kept, C's made. */
	CHECK_EQ(count_files(bd, "xiod.rings."), 2);
	/* A's ring ends; C stops cleanly: nothing left. */
	close(ring_a);
	ilog_barrier_release(bd, lock_c); /* closes ring_c too */
	CHECK_EQ(count_files(bd, ""), 2); /* . and .. */
	CHECK(rmdir(bd) == 0);
}

int main(void)
{
	struct xio_params p = {.nr_qpairs = 2,
			       .sq_entries = 8,
			       .cq_entries = 16,
			       .buf_size = 4096,
			       .nr_bufs = 4};
	struct ilog lg;

	srand(1234);
	xio_set_print(NULL);
	CHECK_EQ(xio_layout_compute(&p, &lay), 0);
	snprintf(dir, sizeof(dir), "/tmp/ilog-test-XXXXXX");
	CHECK(mkdtemp(dir));
	CHECK_EQ(ilog_open(dir, "t1", &lg), -ENOENT);
	cases();
	refused("magic", d_magic);
	refused("version", d_version);
	refused("record size", d_recsize);
	refused("geometry", d_geometry);
	refused("ring size vs file size", d_bigger_ring);
	refused("checksum (torn static part)", d_csum);
	refused("torn update with a bogus target count", d_torn_bogus);
	torn_updates();
	refused("name", d_name);
	refused("target path", d_targets);
	refused("VM region path", d_vm);
	refused("VM kind", d_vm);
	refused("VM mode", d_vm);
	refused("truncated", d_truncate);
	refused("extended", d_extend);
	refused("tiny", d_tiny);
	refused("random header", d_random);
	fuzz();
	barrier();
	CHECK(rmdir(dir) == 0);
	printf("in-flight log: every case sorted, 16 damaged headers refused, 3 torn updates repaired, %d fuzz rounds; restart barrier: O_DIRECT rings waited for, others not\n",
	       ROUNDS);
	return 0;
}
