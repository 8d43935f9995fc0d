// SPDX-License-Identifier: MIT
/*
 * File-backed VM tenants (XIO_MSG_VM_TENANT): the region is a named file
 * (normally /dev/shm/NAME) that QEMU maps as an ivshmem-plain BAR.
 *
 * A named file cannot be sealed, so QEMU's user can ftruncate() it, and a
 * poller touching a page past the new end gets SIGBUS.  The guard:
 *
 *  - every VM tenant's mapping is registered in a fixed table the signal
 *    handler reads (base published last, with a release store);
 *  - the SIGBUS handler looks up the faulting address; inside a registered
 *    mapping it replaces the WHOLE mapping, in place, with private
 *    anonymous zero pages (mmap MAP_FIXED: one syscall, async-signal-safe
 *    in practice on Linux), marks the tenant faulted and returns: the
 *    faulting instruction is restarted and reads zeros.  From then on the
 *    poller sees a ring whose indices make no sense (quarantined like any
 *    hostile ring) and the guest no longer shares anything with xiod;
 *  - a fault anywhere else is a real bug: the default action is restored
 *    and the fault re-raised (core dump);
 *  - the control thread ticks every VM_TICK_MS while VM tenants exist and
 *    detaches a tenant that faulted, whose file shrank
 *    (xio_region_file_check) or whose path now names another file.
 *
 * The file is unlinked when the tenant is freed, only if the path still
 * names our file (same device and inode).
 *
 * XIO_VM_F_ADOPT (xioctl libvirt sync after an xiod restart): the file
 * exists and QEMU maps it; it is opened (no symlink, regular, exactly the
 * size libvirt's XML says, not world-accessible), its header validated
 * like guest input (xio_region_attach_fd) and it is then guarded and
 * served like a file xiod created.  The slot keeps that fd for the size
 * checks (an attached region does not own one).
 *
 * ivshmem-doorbell tenants, when xiod has a state directory, have their
 * region in a file there too (<state dir>/<name>.region, 0600, xiod's):
 * QEMU gets it as an fd, so it can ftruncate() it like a /dev/shm file
 * (the same guard applies), and it outlives xiod, so that a restarted
 * xiod re-adopts the tenant from its in-flight log (control.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xio/ivshmem.h>

#include "vm_tenant.h"

#define VM_MAX 256
#define VM_TICK_MS 100

struct vm_slot {
	uintptr_t base; /* 0: free; atomic (the handler reads it) */
	size_t len;
	int faulted; /* atomic, set by the handler */
	/* control thread only */
	struct tenant *t;
	int fd; /* adopted files: ours for the size checks; else -1 */
	dev_t dev;
	ino_t ino;
	uint64_t next_check_ms; /* file checks at most every VM_TICK_MS */
	char path[XIO_PATH_MAX];
};

static struct vm_slot slots[VM_MAX];
static unsigned int nr_vm;
static unsigned long faults; /* atomic */

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	unsigned int i;

	(void)uc;
	for (i = 0; i < VM_MAX; i++) {
		uintptr_t b = __atomic_load_n(&slots[i].base, __ATOMIC_ACQUIRE);
		size_t len = slots[i].len;

		if (!b || a < b || a - b >= len)
			continue;
		if (mmap((void *)b, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			break;
		__atomic_store_n(&slots[i].faulted, 1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&faults, 1, __ATOMIC_RELAXED);
		return; /* the access is restarted on the zero pages */
	}
	/* Not a VM tenant's memory: a real fault. */
	signal(sig, SIG_DFL);
}

int vm_tenant_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) < 0 ? -errno : 0;
}

static struct vm_slot *slot_of(const struct tenant *t)
{
	unsigned int i;

	for (i = 0; i < VM_MAX; i++)
		if (slots[i].t == t)
			return &slots[i];
	return NULL;
}

/*
 * The new file @path of a fresh VM tenant, geometry and size as @m says.
 * ivshmem-doorbell (XIO_VM_F_DOORBELL): @path NULL (no state directory) is
 * a sealed memfd (@st unused); else the file in the state directory, which
 * outlives xiod so that a restarted one re-adopts it (QEMU gets an fd).
 */
static int create_file(const struct xio_msg_vm_tenant *m, const char *path,
		       struct xio_region **r, struct stat *st)
{
	struct xio_region_opts ro = {.sz = sizeof(ro)};
	bool db = m->flags & XIO_VM_F_DOORBELL;
	struct xio_layout l;
	uint64_t sz;
	int err, fd;

	REGION_OPTS_FROM_MSG(&ro, m);
	/* The file is exactly what QEMU is told (libvirt's <size>). */
	err = xio_layout_compute(&ro.params, &l);
	if (err)
		return err;
	for (sz = 1U << 20; sz < l.min_region_size && sz < (1ULL << 40);)
		sz <<= 1;
	if (sz != m->size)
		return -EINVAL;
	/*
	 * ivshmem-doorbell: the memory travels as an fd over xiod's server
	 * socket (vm_doorbell.c), sized as a BAR.  A memfd is sealed (nobody
	 * can shrink it, no SIGBUS guard) but dies with xiod.
	 */
	if (db && !path) {
		ro.flags |= XIO_REGION_POW2;
		return xio_region_create(&ro, r);
	}
	/* The name is free (no tenant has it): a file left there is a dead
	 * tenant's that was not re-adopted. */
	if (db)
		unlink(path);
	err = xio_region_create_file(
		path, db ? 0600 : (m->mode ? m->mode : 0600), &ro, r);
	if (err)
		return err;
	fd = xio_region_fd(*r);
	if ((!db && fchown(fd, m->uid, m->gid) < 0) || fstat(fd, st) < 0) {
		err = -errno;
		unlink(path);
		xio_region_destroy(*r);
		*r = NULL;
		return err;
	}
	return 0;
}

/* The existing file @path of a VM tenant xiod lost; returns the fd kept. */
static int adopt_file(const char *path, uint64_t size, struct xio_region **r,
		      struct stat *st)
{
	int err, fd;

	fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, st) < 0) {
		err = -errno;
		goto fail;
	}
	err = -EINVAL;
	if (!S_ISREG(st->st_mode) || (uint64_t)st->st_size != size ||
	    (st->st_mode & 0007))
		goto fail;
	err = xio_region_attach_fd(fd, 0, r);
	if (err)
		goto fail;
	return fd;
fail:
	close(fd);
	return err;
}

int vm_tenant_region(const struct xio_msg_vm_tenant *m, struct tenant *t,
		     struct xio_region **r)
{
	bool db = m->flags & XIO_VM_F_DOORBELL;
	char rpath[XIO_PATH_MAX];
	const char *path = m->path;
	struct vm_slot *s = NULL;
	struct stat st;
	unsigned int i;
	int err, fd = -1;

	if (!xio__str_ok(m->path, sizeof(m->path)) || m->path[0] != '/' ||
	    (m->flags & ~XIO_VM_F_MASK) || (m->mode & ~0777U) ||
	    (m->mode & 0007))
		return -EINVAL; /* never world-accessible */
	if (db) {
		/* No state directory: a memfd, nothing to guard, nothing to
		 * adopt (it died with the xiod that made it). */
		if (!cfg.state_dir)
			return (m->flags & XIO_VM_F_ADOPT) ?
				       -EINVAL :
				       create_file(m, NULL, r, &st);
		if (snprintf(rpath, sizeof(rpath), "%s/%s.region",
			     cfg.state_dir, m->name) >= (int)sizeof(rpath))
			return -ENAMETOOLONG;
		path = rpath;
	}
	for (i = 0; i < VM_MAX && !s; i++)
		if (!slots[i].t &&
		    !__atomic_load_n(&slots[i].base, __ATOMIC_RELAXED))
			s = &slots[i];
	if (!s)
		return -EUSERS;
	if (m->flags & XIO_VM_F_ADOPT) {
		fd = adopt_file(path, m->size, r, &st);
		err = fd < 0 ? fd : 0;
	} else {
		err = create_file(m, path, r, &st);
	}
	if (err)
		return err;
	s->t = t;
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->len = xio_region_size(*r);
	s->next_check_ms = 0;
	__atomic_store_n(&s->faulted, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->base, (uintptr_t)xio_region_base(*r),
			 __ATOMIC_RELEASE);
	nr_vm++;
	return 0;
}

void vm_tenant_keep_file(struct tenant *t)
{
	struct vm_slot *s = slot_of(t);

	if (s)
		s->ino = 0; /* never an inode: vm_tenant_forget() keeps it */
}

void vm_tenant_forget(struct tenant *t)
{
	struct vm_slot *s = slot_of(t);
	struct stat st;

	if (!s)
		return;
	/* Only our own file: the path may name another one by now. */
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino && unlink(s->path) < 0)
		log_warn("tenant %u '%s': unlink %s: %s", t->id, t->name,
			 s->path, strerror(errno));
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	__atomic_store_n(&s->base, 0, __ATOMIC_RELEASE);
	s->len = 0;
	s->t = NULL;
	nr_vm--;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool vm_tenant_bad(struct tenant *t, const char **why)
{
	struct vm_slot *s;
	struct stat st;
	uint64_t now;

	if (!nr_vm)
		return false;
	s = slot_of(t);
	if (!s)
		return false;
	if (__atomic_load_n(&s->faulted, __ATOMIC_ACQUIRE)) {
		*why = "SIGBUS on its region file (truncated?)";
		return true;
	}
	/* The control loop runs on every event: syscalls only per tick. */
	now = now_ms();
	if (now < s->next_check_ms)
		return false;
	s->next_check_ms = now + VM_TICK_MS;
	if (s->fd >= 0 ?
		    fstat(s->fd, &st) < 0 || (uint64_t)st.st_size < s->len :
		    xio_region_file_check(t->region) != 0) {
		*why = "region file shrank";
		return true;
	}
	if (lstat(s->path, &st) < 0 || st.st_dev != s->dev ||
	    st.st_ino != s->ino) {
		*why = "region file removed or replaced";
		return true;
	}
	return false;
}

int vm_tenant_tick_ms(void)
{
	return nr_vm ? VM_TICK_MS : -1;
}

unsigned long vm_tenant_faults(void)
{
	return __atomic_load_n(&faults, __ATOMIC_RELAXED);
}
