/* SPDX-License-Identifier: MIT */
/*
 * The in-flight log: file creation, validation and recovery (ilog.h).  The
 * hot-path stores (take, post, free) are inline in poller.c; everything
 * here runs on the control thread.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "ilog.h"
#include "xiod.h"

#define PAGE 4096ULL

static uint64_t page_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(PAGE - 1);
}

static uint64_t recs_off(void)
{
	return page_up(ILOG_TARGETS_OFF +
		       (uint64_t)XIO_MAX_TARGETS * sizeof(struct ilog_target));
}

static uint64_t file_size(uint32_t nr_qpairs, uint32_t cq_entries)
{
	return recs_off() + page_up((uint64_t)nr_qpairs * cq_entries *
				    sizeof(struct ilog_rec));
}

/* Checksum of the static part: the header with csum taken as 0, then the
 * target table.  Read from the (hostile) file: each byte once. */
static uint64_t static_csum(const struct ilog *lg)
{
	struct ilog_hdr h;
	uint64_t c = ILOG_FNV_INIT;

	memcpy(&h, lg->hdr, sizeof(h));
	h.csum = 0;
	h.upd_targets = 0;
	/* The accounting slots are not static (each has its own checksum);
	 * the bytes before them are what version 2 files always hashed. */
	c = ilog_fnv(c, &h, offsetof(struct ilog_hdr, acct));
	return ilog_fnv(c, lg->targets,
			(size_t)XIO_MAX_TARGETS * sizeof(struct ilog_target));
}

/*
 * Only a SIGKILL of xiod can tear an update (the file is on tmpfs: no power
 * loss to survive), and the stores a killed thread executed all land, so
 * program order is what matters: compiler fences keep the marker before
 * the first change and after the new checksum.
 */
void ilog_update_begin(struct ilog *lg)
{
	XIO_WRITE_ONCE(lg->hdr->upd_targets, lg->hdr->nr_targets + 1);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void ilog_seal(struct ilog *lg)
{
	lg->hdr->csum = static_csum(lg);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	XIO_WRITE_ONCE(lg->hdr->upd_targets, 0);
}

/*
 * The checksum does not match: if an update was in progress, the targets
 * up to the sealed count are what xiod acknowledged; drop the one being
 * added (its TARGET_ADD was never answered) and seal again.  The quota
 * fields may mix old and new values, each still range-checked on restore
 * (an unanswered QUOTA request: the administrator repeats it).  The rest of
 * the header is checked as before.  False: not a torn update.
 */
static bool torn_update_repair(struct ilog *lg)
{
	uint32_t upd = XIO_READ_ONCE(lg->hdr->upd_targets);

	if (!upd || upd - 1 > XIO_MAX_TARGETS)
		return false;
	lg->hdr->nr_targets = upd - 1;
	memset(&lg->targets[upd - 1], 0,
	       (size_t)(XIO_MAX_TARGETS - (upd - 1)) *
		       sizeof(struct ilog_target));
	ilog_seal(lg);
	return true;
}

static char *log_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s.ilog", dir, name) < 0)
		return NULL;
	return p;
}

static void set_views(struct ilog *lg)
{
	lg->hdr = lg->base;
	lg->targets =
		(struct ilog_target *)((char *)lg->base + ILOG_TARGETS_OFF);
	lg->recs = (struct ilog_rec *)((char *)lg->base + recs_off());
}

int ilog_create(const char *dir, const struct ilog_ident *id, struct ilog *lg)
{
	const struct xio_layout *l = id->l;
	uint64_t size = file_size(l->nr_qpairs, l->cq_entries);
	struct ilog_hdr *h;
	char *tmp = NULL;
	int err;

	memset(lg, 0, sizeof(*lg));
	lg->fd = -1;
	lg->size = (size_t)size;
	if (dir) {
		lg->path = log_path(dir, id->name);
		if (!lg->path || asprintf(&tmp, "%s.new", lg->path) < 0) {
			err = -ENOMEM;
			goto fail;
		}
		/* Built aside and renamed: a half-made file is never seen
		 * under the tenant's name. */
		lg->fd = XIO_FAULT_SYSCALL(XIO_FAULT_ILOG,
					   open(tmp,
						O_RDWR | O_CREAT | O_TRUNC |
							O_CLOEXEC | O_NOFOLLOW,
						0600));
		if (lg->fd < 0 ||
		    XIO_FAULT_SYSCALL(XIO_FAULT_ILOG,
				      ftruncate(lg->fd, (off_t)size)) < 0) {
			err = -errno;
			goto fail;
		}
		lg->base = XIO_FAULT_MMAP_AT(XIO_FAULT_ILOG,
					     mmap(NULL, lg->size,
						  PROT_READ | PROT_WRITE,
						  MAP_SHARED, lg->fd, 0));
		if (lg->base == MAP_FAILED) {
			lg->base = NULL;
			err = -errno;
			goto fail;
		}
	} else {
		/* Nothing to survive: plain (zeroed) process memory. */
		lg->base = calloc(1, lg->size);
		if (!lg->base) {
			err = -ENOMEM;
			goto fail;
		}
	}
	set_views(lg);
	h = lg->hdr;
	h->magic = ILOG_MAGIC;
	h->version = ILOG_VERSION;
	h->hdr_size = ILOG_HDR_SIZE;
	h->rec_size = sizeof(struct ilog_rec);
	h->tgt_size = sizeof(struct ilog_target);
	h->file_size = size;
	h->recs_off = recs_off();
	h->tenant_id = id->tenant_id;
	h->uid = id->uid;
	h->attach_flags = id->attach_flags;
	h->nr_qpairs = l->nr_qpairs;
	h->sq_entries = l->sq_entries;
	h->cq_entries = l->cq_entries;
	h->buf_size = l->buf_size;
	h->nr_bufs = l->nr_bufs;
	h->region_size = id->region_size;
	h->q_weight = XIO_QUOTA_WEIGHT_DEFAULT;
	snprintf(h->name, sizeof(h->name), "%s", id->name);
	if (id->vm) {
		h->vm_kind = (id->vm->flags & XIO_VM_F_DOORBELL) ?
				     ILOG_VM_DOORBELL :
				     ILOG_VM_FILE;
		h->vm_uid = id->vm->uid;
		h->vm_gid = id->vm->gid;
		h->vm_mode = id->vm->mode ? id->vm->mode : 0600;
		h->vm_node = id->vm->numa_node;
		snprintf(h->vm_path, sizeof(h->vm_path), "%s", id->vm->path);
	}
	ilog_seal(lg);
	if (tmp && rename(tmp, lg->path) < 0) {
		err = -errno;
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (tmp)
		unlink(tmp);
	free(tmp);
	ilog_close(lg, false);
	return err;
}

void ilog_close(struct ilog *lg, bool remove)
{
	if (lg->base && lg->fd < 0)
		free(lg->base); /* anonymous */
	else if (lg->base)
		munmap(lg->base, lg->size);
	if (lg->fd >= 0)
		close(lg->fd);
	if (remove && lg->path)
		unlink(lg->path);
	free(lg->path);
	memset(lg, 0, sizeof(*lg));
	lg->fd = -1;
}

/* The static part, checked like guest input.  0 or a reason. */
static const char *hdr_check(const struct ilog *lg, const char *name,
			     uint64_t st_size)
{
	const struct ilog_hdr *h = lg->hdr;
	struct xio_params p = {0};
	struct xio_layout l;
	uint32_t i;

	if (h->magic != ILOG_MAGIC)
		return "bad magic";
	if (h->version != ILOG_VERSION)
		return "unknown version";
	if (h->hdr_size != ILOG_HDR_SIZE ||
	    h->rec_size != sizeof(struct ilog_rec) ||
	    h->tgt_size != sizeof(struct ilog_target) ||
	    h->recs_off != recs_off())
		return "record sizes";
	p.nr_qpairs = h->nr_qpairs;
	p.sq_entries = h->sq_entries;
	p.cq_entries = h->cq_entries;
	p.buf_size = h->buf_size;
	p.nr_bufs = h->nr_bufs;
	if (xio_layout_compute(&p, &l) || l.nr_qpairs != h->nr_qpairs ||
	    l.sq_entries != h->sq_entries || l.cq_entries != h->cq_entries ||
	    l.buf_size != h->buf_size || l.nr_bufs != h->nr_bufs)
		return "geometry";
	if (h->file_size != file_size(h->nr_qpairs, h->cq_entries) ||
	    h->file_size != st_size)
		return "file size";
	if (static_csum(lg) != h->csum)
		return "checksum";
	if (!memchr(h->name, 0, sizeof(h->name)) || strcmp(h->name, name))
		return "name";
	if (h->nr_targets > XIO_MAX_TARGETS ||
	    (h->attach_flags & ~XIO_ATTACH_F_MASK))
		return "target count or flags";
	if (h->vm_kind > ILOG_VM_DOORBELL ||
	    (h->vm_kind && (!memchr(h->vm_path, 0, sizeof(h->vm_path)) ||
			    h->vm_path[0] != '/' || (h->vm_mode & ~0770U) ||
			    h->vm_node < XIO_ATTACH_NUMA_AUTO)))
		return "VM part";
	for (i = 0; i < h->nr_targets; i++) {
		const struct ilog_target *tg = &lg->targets[i];

		if (tg->kind != ILOG_T_PATH && tg->kind != ILOG_T_FD)
			return "target kind";
		if (!memchr(tg->path, 0, sizeof(tg->path)) ||
		    (tg->kind == ILOG_T_PATH && tg->path[0] != '/'))
			return "target path";
	}
	return NULL;
}

int ilog_open(const char *dir, const char *name, struct ilog *lg)
{
	const char *why;
	struct stat st;
	int err;

	memset(lg, 0, sizeof(*lg));
	lg->fd = -1;
	lg->path = log_path(dir, name);
	if (!lg->path)
		return -ENOMEM;
	lg->fd = XIO_FAULT_SYSCALL(
		XIO_FAULT_ILOG,
		open(lg->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW));
	if (lg->fd < 0) {
		err = -errno;
		goto fail;
	}
	if (fstat(lg->fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)recs_off() ||
	    (uint64_t)st.st_size >
		    file_size(XIO_MAX_QPAIRS, XIO_MAX_RING_ENTRIES)) {
		log_warn("in-flight log %s: size %lld: not trusted", lg->path,
			 (long long)st.st_size);
		err = -EBADMSG;
		goto fail;
	}
	lg->size = (size_t)st.st_size;
	lg->base = XIO_FAULT_MMAP_AT(
		XIO_FAULT_ILOG, mmap(NULL, lg->size, PROT_READ | PROT_WRITE,
				     MAP_SHARED, lg->fd, 0));
	if (lg->base == MAP_FAILED) {
		lg->base = NULL;
		err = -errno;
		goto fail;
	}
	set_views(lg);
	why = hdr_check(lg, name, (uint64_t)st.st_size);
	if (why && !strcmp(why, "checksum") && torn_update_repair(lg)) {
		log_warn(
			"in-flight log %s: an update torn by the kill: repaired (%u targets kept)",
			lg->path, lg->hdr->nr_targets);
		why = hdr_check(lg, name, (uint64_t)st.st_size);
	}
	if (why) {
		log_warn("in-flight log %s: %s: not trusted", lg->path, why);
		err = -EBADMSG;
		goto fail;
	}
	return 0;
fail:
	ilog_close(lg, false);
	return err;
}

int ilog_peek(const char *path, uint32_t *tenant_id)
{
	struct ilog_hdr h;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || h.magic != ILOG_MAGIC)
		return -EBADMSG;
	*tenant_id = h.tenant_id;
	return 0;
}

/* ---- accounting snapshots ----------------------------------------------- */

void ilog_acct_store(struct ilog_hdr *h, const uint64_t *vals, unsigned int n,
		     uint64_t elapsed_ns)
{
	uint64_t s0 = XIO_READ_ONCE(h->acct[0].seq);
	uint64_t s1 = XIO_READ_ONCE(h->acct[1].seq);
	struct ilog_acct a = {.elapsed_ns = elapsed_ns};
	struct ilog_acct *dst = &h->acct[s0 <= s1 ? 0 : 1]; /* the older */

	a.seq = (s0 > s1 ? s0 : s1) + 1;
	if (!a.seq) { /* a forged seq at the top: start again */
		XIO_WRITE_ONCE(h->acct[0].seq, 0);
		XIO_WRITE_ONCE(h->acct[1].seq, 0);
		a.seq = 1;
	}
	memcpy(a.vals, vals,
	       (n < ILOG_ACCT_VALS ? n : ILOG_ACCT_VALS) * sizeof(*vals));
	a.csum = ilog_acct_csum(&a);
	/*
	 * Unpublished while written: a kill in the middle leaves it seq 0 and
	 * the other slot (the newer) in force.  Only a later process reads it
	 * (this one died at an instruction boundary) or a reader that checks
	 * the checksum: compiler ordering is what matters, as for L3.
	 */
	XIO_WRITE_ONCE(dst->seq, 0);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	dst->elapsed_ns = a.elapsed_ns;
	memcpy(dst->vals, a.vals, sizeof(a.vals));
	dst->csum = a.csum;
	__atomic_store_n(&dst->seq, a.seq, __ATOMIC_RELEASE);
}

/* ---- the restart barrier ------------------------------------------------ */

/*
 * What can still land after a killed xiod (checked in the io_uring source):
 * io_uring tears a dead process's ring down asynchronously, in
 * io_ring_exit_work(), which cancels what can be cancelled and then waits,
 * with no time limit, for the ring's reference count to drop to zero.  Under
 * CPU contention that takes seconds even with nothing left that could land
 * (measured with the workqueue tracepoints: 0.05-6.6 s, also for a ring
 * whose every request had completed before the kill), so waiting for it on
 * every restart is what made restarts slow.  What really can land late:
 *
 *  - whatever a thread of the process executes -- inline issue, an io-wq
 *    worker's buffered READ/WRITE copying to or from a guest buffer, task
 *    work.  Those threads are gone once the process's file table is freed:
 *    every thread, io-wq workers included (CLONE_FILES), holds it until its
 *    own exit, after exit_mm().  Task work queued to a dead task runs from a
 *    kworker, and io_uring fails such requests instead of issuing them
 *    (io_should_terminate_tw()).  So a flock held by an fd in the file
 *    table only (@dir/xiod.lock) is free once nothing of the process can
 *    touch a guest buffer -- the process lock, always waited for.
 *  - a request already in a device: an O_DIRECT bio DMAs into or out of
 *    the pinned guest page whenever the device completes it, process or
 *    not.  Only the ring's end says it is over: a flock on a file
 *    registered in every poller's ring (IORING_REGISTER_FILES) is released
 *    by io_ring_ctx_free() (io_sqe_files_unregister(): the last fput), after
 *    the last request of the ring was freed.  Each xiod has its own such
 *    file, @dir/xiod.rings.XXXXXX, and marks it (one byte, 'D') before it
 *    opens its first O_DIRECT target.  The next xiod waits for the rings of
 *    a generation only if it was marked; an unmarked one still held is left
 *    for a later start to remove.
 */
#define RINGS_PREFIX "xiod.rings."

static int rings_fd = -1;
static char *rings_path;
static bool rings_direct;

/* ms since @t0. */
static unsigned int ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (unsigned int)((t1.tv_sec - t0->tv_sec) * 1000 +
			      (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * flock(LOCK_EX) on @fd (@path, what it waits for in @what), polled: bounded
 * by @wait_s from @t0 (0: no bound), and SIGTERM/SIGINT (blocked in xiod,
 * read from a signalfd later) still end the wait -- at a start; at a stop
 * (@stopping) neither warns nor fails loudly.  Every 1 ms for the first
 * 100 ms, then every 10 ms; a warning at 1 s and every 10 s.
 */
static int lock_wait(int fd, const char *path, const char *what,
		     const struct timespec *t0, unsigned int wait_s,
		     bool stopping)
{
	unsigned int ms = 0, start = ms_since(t0);
	sigset_t set;

	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		unsigned int last = ms;

		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (!stopping && !sigpending(&set) &&
		    (sigismember(&set, SIGTERM) || sigismember(&set, SIGINT)))
			return -EINTR;
		if (wait_s && start + ms >= wait_s * 1000U) {
			if (stopping) {
				log_info(
					"%s: %s still running: left for the next start to remove",
					path, what);
				return -ETIMEDOUT;
			}
			log_err("%s: %s did not end in %u s (a stuck device?): not starting, or one could complete into a buffer after it was redone (--restart-wait)",
				path, what, wait_s);
			return -ETIMEDOUT;
		}
		usleep(ms < 100 ? 1000 : 10000);
		ms = ms_since(t0) - start;
		if (stopping)
			continue;
		if ((last < 1000 && ms >= 1000) || last / 10000 != ms / 10000)
			log_warn("%s: waiting for %s to end (%u s)", path, what,
				 ms / 1000);
	}
	if (ms && !stopping)
		xiod_log(ms >= 1000 ? LOG_WARN_ : LOG_INFO_,
			 "%s: %s ended after %u ms", path, what, ms);
	return 0;
}

/*
 * The previous generations' ring files: a free one is removed; one still
 * held is waited for if its xiod had O_DIRECT targets, else left -- at a
 * start.  At a clean stop (@stopping) every one is waited for, within
 * @wait_s, so that a stop leaves no file behind.
 */
static int rings_collect(const char *dir, const struct timespec *t0,
			 unsigned int wait_s, bool stopping)
{
	struct dirent *de;
	int err = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		char *path, mark = 0;
		int fd;

		if (strncmp(de->d_name, RINGS_PREFIX, strlen(RINGS_PREFIX)))
			continue;
		if (rings_path &&
		    !strcmp(strrchr(rings_path, '/') + 1, de->d_name))
			continue; /* ours */
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			err = -ENOMEM;
			break;
		}
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			log_warn("%s: %s", path, strerror(errno));
			free(path);
			continue;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (!stopping &&
			    (pread(fd, &mark, 1, 0) != 1 || mark != 'D')) {
				log_info(
					"%s: the previous xiod's rings had no O_DIRECT target: not waited for",
					path);
				goto next;
			}
			err = lock_wait(
				fd, path,
				stopping ?
					"a previous xiod's ring teardown" :
					"the previous xiod's O_DIRECT requests",
				t0, wait_s, stopping);
		}
		if (!err)
			unlink(path);
next:
		close(fd);
		free(path);
	}
	closedir(d);
	return err;
}

/* This xiod's ring file, locked: the fd the pollers register. */
static int rings_create(const char *dir)
{
	int fd, err;

	if (asprintf(&rings_path, "%s/" RINGS_PREFIX "XXXXXX", dir) < 0) {
		rings_path = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(rings_path, O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = -errno;
		if (fd >= 0) {
			unlink(rings_path);
			close(fd);
		}
		free(rings_path);
		rings_path = NULL;
		return err;
	}
	return fd;
}

int ilog_barrier(const char *dir, unsigned int wait_s, int *ringsp)
{
	struct timespec t0;
	char *path;
	int fd, err;

	/* A new generation (a second call, in tests: the previous ring fd
	 * stays with its caller, standing for a ring still torn down). */
	free(rings_path);
	rings_path = NULL;
	rings_fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (asprintf(&path, "%s/%s", dir, ILOG_LOCK_NAME) < 0)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = lock_wait(fd, path, "the previous xiod's threads", &t0, wait_s,
			false);
	if (!err)
		err = rings_collect(dir, &t0, wait_s, false);
	if (!err) {
		rings_fd = rings_create(dir);
		err = rings_fd < 0 ? rings_fd : 0;
	}
	if (err) {
		close(fd);
		goto out;
	}
	*ringsp = rings_fd;
	rings_direct = false;
	free(path);
	return fd;
out:
	free(path);
	return err;
}

int ilog_barrier_direct(void)
{
	if (rings_fd < 0 || rings_direct)
		return 0;
	if (pwrite(rings_fd, "D", 1, 0) != 1)
		return errno ? -errno : -EIO;
	rings_direct = true;
	return 0;
}

/* At most this long, a clean stop waits for previous generations' rings. */
#define STOP_COLLECT_S 10

void ilog_barrier_release(const char *dir, int fd)
{
	struct timespec t0;
	char *path;

	if (fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rings_collect(dir, &t0, STOP_COLLECT_S, true);
	if (rings_fd >= 0) {
		unlink(rings_path);
		close(rings_fd);
		free(rings_path);
		rings_fd = -1;
		rings_path = NULL;
	}
	if (asprintf(&path, "%s/%s", dir, ILOG_LOCK_NAME) >= 0) {
		unlink(path);
		free(path);
	}
	close(fd);
}

/* ---- recovery ----------------------------------------------------------- */

struct cand {
	uint64_t key; /* repost: CQ distance from the tail; resubmit: seq */
	uint64_t seq;
	uint32_t qp, rec;
	bool repost, issued;
};

static int cand_by_seq(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	/* Equal seqs: a stable, deterministic survivor (lowest slot). */
	if (x->qp != y->qp)
		return x->qp < y->qp ? -1 : 1;
	return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* Per queue pair: reposts (CQ order) before resubmits (seq order). */
static int cand_by_order(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->qp != y->qp)
		return x->qp < y->qp ? -1 : 1;
	if (x->repost != y->repost)
		return x->repost ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return 0;
}

static void rec_drop(struct ilog_rec *r)
{
	memset(r, 0, sizeof(*r)); /* FREE */
}

int ilog_recover(struct ilog *lg, const struct ilog_pos *pos,
		 struct ilog_fix **fixes, uint32_t *nr, struct ilog_rstats *st)
{
	const struct ilog_hdr *h = lg->hdr;
	uint32_t nq = h->nr_qpairs, ce = h->cq_entries, se = h->sq_entries;
	struct xio_params p = {0};
	struct xio_layout l;
	struct cand *c;
	uint32_t q, i, n = 0, k;

	memset(st, 0, sizeof(*st));
	st->next_seq = 1;
	*fixes = NULL;
	*nr = 0;
	/* Geometry was checked by ilog_open(): this cannot fail. */
	p.nr_qpairs = nq;
	p.sq_entries = se;
	p.cq_entries = ce;
	p.buf_size = h->buf_size;
	p.nr_bufs = h->nr_bufs;
	if (xio_layout_compute(&p, &l))
		return -EINVAL;
	c = calloc((size_t)nq * ce, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (q = 0; q < nq; q++) {
		struct ilog_rec *recs = ilog_qp_recs(lg, q);

		for (i = 0; i < ce; i++) {
			struct ilog_rec *r = &recs[i];
			/* Each field read once: the file is not trusted. */
			uint32_t state = XIO_READ_ONCE(r->state);
			uint64_t seq = XIO_READ_ONCE(r->seq);
			uint32_t sq_idx = XIO_READ_ONCE(r->sq_idx);
			uint32_t cq_idx = XIO_READ_ONCE(r->cq_idx);

			if (state == ILOG_FREE)
				continue;
			if ((state != ILOG_TAKEN && state != ILOG_ISSUED &&
			     state != ILOG_POSTING) ||
			    !seq || seq >= (1ULL << 62)) {
				st->corrupt++;
				rec_drop(r);
				continue;
			}
			if (seq >= st->next_seq)
				st->next_seq = seq + 1;
			/* Still inside the SQ: the head that consumes it was
			 * never published, the next take sees it again. */
			if ((uint32_t)(sq_idx - pos[q].sq_head) < se) {
				st->retake++;
				rec_drop(r);
				continue;
			}
			c[n].qp = q;
			c[n].rec = i;
			c[n].seq = seq;
			/* Even ISSUED: the poller submits to io_uring only
			 * after publishing the head, so this one never went. */
			if (state != ILOG_POSTING) {
				c[n].key = seq;
				c[n].issued = state == ILOG_ISSUED;
				n++;
				continue;
			}
			/* POSTING: below the published tail the guest saw it;
			 * at or above (within one ring) it did not. */
			if ((uint32_t)(pos[q].cq_tail - cq_idx) - 1 < ce) {
				st->visible++;
				rec_drop(r);
				continue;
			}
			if ((uint32_t)(cq_idx - pos[q].cq_tail) >= ce) {
				st->corrupt++;
				rec_drop(r);
				continue;
			}
			c[n].repost = true;
			c[n].key = (uint32_t)(cq_idx - pos[q].cq_tail);
			n++;
		}
	}
	/* One sequence number, one request: keep the first of equals. */
	qsort(c, n, sizeof(*c), cand_by_seq);
	for (i = 0, k = 0; i < n; i++) {
		if (k && c[k - 1].seq == c[i].seq) {
			st->dup++;
			rec_drop(&ilog_qp_recs(lg, c[i].qp)[c[i].rec]);
			continue;
		}
		c[k++] = c[i];
	}
	n = k;
	for (i = 0; i < n; i++) {
		if (c[i].repost)
			st->repost++;
		else
			st->resubmit++;
	}
	qsort(c, n, sizeof(*c), cand_by_order);
	if (n) {
		*fixes = calloc(n, sizeof(**fixes));
		if (!*fixes) {
			free(c);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		struct ilog_fix *f = &(*fixes)[i];

		f->qp = c[i].qp;
		f->rec = c[i].rec;
		f->repost = c[i].repost;
		/* A resubmit is fresh guest input: the copy that will be
		 * executed is validated; a bad one is answered -EINVAL in
		 * its turn, never executed. */
		memcpy(&f->sqe, &ilog_qp_recs(lg, f->qp)[f->rec].sqe,
		       sizeof(f->sqe));
		if (f->repost)
			continue;
		if (c[i].issued && ilog_op_unsure(f->sqe.opcode)) {
			f->status = -EINTR;
			st->unsure++;
		} else if (xio_sqe_validate(&l, &f->sqe)) {
			f->status = -EINVAL;
			st->invalid++;
		}
	}
	*nr = n;
	free(c);
	return 0;
}
