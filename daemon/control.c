/* SPDX-License-Identifier: MIT */
/*
 * The control thread: one epoll loop over the listening socket, the
 * connections, a signalfd and the eventfd through which pollers hand back
 * drained tenants.  It parses every message strictly (libxio/proto.h),
 * creates tenants (region, eventfds), assigns them to pollers, opens
 * targets, and frees tenants once their poller has drained them.
 *
 * Nothing here blocks on a peer: sockets are non-blocking, a reply that
 * does not fit in the peer's socket buffer closes that connection, and
 * host paths are opened O_NONBLOCK (a FIFO cannot stall the loop).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "xiod.h"
#include "fdkeep.h"
#include "vm_doorbell.h"
#include "vm_tenant.h"

#define MAX_PROTO_ERRORS 8 /* malformed messages in a row: hang up */

struct conn {
	int fd;
	struct ucred cred;
	bool admin;
	bool dead;
	unsigned int errors;
	struct tenant *t;	/* attached through this connection */
	struct tenant *waiting; /* DETACH reply pending for this tenant */
	struct conn *next;
};

static int epfd = -1, listen_fd = -1, done_fd = -1, sig_fd = -1;
static struct conn *conns;
static struct tenant *tenants, **tenants_tail = &tenants;
static uint32_t nr_tenants, next_id = 1;
static bool quitting;
static bool handing_over; /* a clean stop with --state-dir: a handover */
/* Handed over with requests still in io_uring: never freed (their memory
 * must outlive them); xiod exits with its rings.  Reachable from here. */
static struct tenant *left_in_flight;
static bool listen_paused; /* out of fds: listen fd out of the epoll set */

/* Final records of detached tenants, oldest first (docs/accounting.md). */
#define MAX_FINALS 4096
struct final {
	struct xio_tenant_stats s;
	struct final *next;
};
static struct final *finals, **finals_tail = &finals;
static uint32_t nr_finals;
static uint64_t finals_dropped;

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tenant *done_list;

/* epoll tags for the fixed fds; connections use their struct conn. */
static char tag_listen, tag_done, tag_sig, tag_metrics, tag_doorbell;

static uint64_t mono_ns(void);

/* ---- tenants ------------------------------------------------------------ */

static void tenant_free(struct tenant *t)
{
	uint32_t i;

	if (!t)
		return;
	if (t->qps) {
		for (i = 0; i < t->nr_qpairs; i++) {
			if (t->qps[i].kick_fd >= 0)
				close(t->qps[i].kick_fd);
			if (t->qps[i].notify_fd >= 0)
				close(t->qps[i].notify_fd);
		}
	}
	for (i = 0; i < t->nr_targets; i++)
		close(t->targets[i].fd);
	vm_tenant_forget(t);
	vm_doorbell_forget(t);
	steering_tenant_gone(t);
	/* Gone for good: its in-flight log goes too (a reattach failure
	 * closed it first, keeping the file), and what the fd keeper has of
	 * it (doorbell eventfds, targets passed as fds). */
	if (t->log.fd >= 0)
		fdkeep_drop(t->name);
	ilog_close(&t->log, true);
	if (t->qps)
		free(t->qps[0].rfree);
	free(t->resub);
	xio_region_destroy(t->region);
	free(t->qps);
	free(t->ops);
	free(t->tx);
	free(t);
}

static bool name_ok(const char *n)
{
	bool digits = true;
	size_t i;

	if (!n[0])
		return false;
	for (i = 0; n[i]; i++) {
		if (!isalnum((unsigned char)n[i]) && n[i] != '.' &&
		    n[i] != '_' && n[i] != '-')
			return false;
		if (!isdigit((unsigned char)n[i]))
			digits = false;
	}
	return !digits; /* all digits would read as an id */
}

static struct tenant *tenant_find(const char *sel)
{
	struct tenant *t;
	char *end;
	unsigned long id;

	if (isdigit((unsigned char)sel[0])) {
		errno = 0;
		id = strtoul(sel, &end, 10);
		if (*end || errno || id > UINT32_MAX)
			return NULL;
		for (t = tenants; t; t = t->next)
			if (t->id == id)
				return t;
		return NULL;
	}
	for (t = tenants; t; t = t->next)
		if (!strcmp(t->name, sel))
			return t;
	return NULL;
}

/*
 * The records' free stacks: every record not FREE (recovered, still to be
 * resubmitted) stays taken.  One allocation for the tenant.
 */
static int tenant_log_init(struct tenant *t)
{
	uint32_t ce = t->log.hdr->cq_entries, i, j;
	uint32_t *a = malloc(2 * (size_t)ce * t->nr_qpairs * sizeof(*a));

	if (!a)
		return -ENOMEM;
	for (i = 0; i < t->nr_qpairs; i++) {
		struct xqp *q = &t->qps[i];

		q->recs = ilog_qp_recs(&t->log, i);
		q->rfree = a + 2 * (size_t)ce * i;
		q->pend = q->rfree + ce;
		q->nr_rfree = q->nr_pend = 0;
		for (j = ce; j-- > 0;)
			if (q->recs[j].state == ILOG_FREE)
				q->rfree[q->nr_rfree++] = j;
	}
	return 0;
}

/*
 * A tenant re-adopted after a restart: its id, and what a reattaching guest
 * brings (its region and eventfds; NULL for a VM tenant, whose region file
 * vm_tenant_region() adopts and whose eventfds are new).
 */
struct adopt {
	struct xio_region *region;
	const int *evfds; /* kick[i] = evfds[2i], notify[i] = evfds[2i + 1] */
	uint32_t id;
};

static int tenant_create(const struct xio_msg_attach *m, const struct conn *c,
			 const struct xio_msg_vm_tenant *vm,
			 const struct adopt *ad, struct tenant **out)
{
	struct xio_region_opts ro = {.sz = sizeof(ro)};
	const struct xio_layout *l;
	struct tenant *t;
	uint64_t cq_total;
	uint32_t i;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fixed_slot = -1;
	t->log.fd = -1;
	REGION_OPTS_FROM_MSG(&ro, m);
	err = 0;
	if (vm)
		err = vm_tenant_region(vm, t, &t->region);
	else if (ad)
		t->region = ad->region;
	else
		err = xio_region_create(&ro, &t->region);
	if (err)
		goto fail;
	l = xio_region_layout(t->region);
	t->nr_qpairs = l->nr_qpairs;
	t->buf_size = l->buf_size;
	t->qps = calloc(t->nr_qpairs, sizeof(*t->qps));
	/* Before any failure: tenant_free() closes the fds >= 0. */
	for (i = 0; t->qps && i < t->nr_qpairs; i++) {
		t->qps[i].kick_fd = -1;
		t->qps[i].notify_fd = -1;
	}
	cq_total = (uint64_t)l->cq_entries * l->nr_qpairs;
	t->nr_ops = cfg.inflight_cap < cq_total ? cfg.inflight_cap :
						  (uint32_t)cq_total;
	t->ops = calloc(t->nr_ops, sizeof(*t->ops));
	if (!t->qps || !t->ops) {
		err = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < t->nr_ops; i++)
		t->ops[i].next_free = i + 1;
	t->free_head = 0;
	t->nr_free = t->nr_ops;
	for (i = 0; i < t->nr_qpairs; i++) {
		struct xqp *q = &t->qps[i];

		q->t = t;
		q->idx = i;
		/*
		 * Kick: the poller polls it through io_uring and drains it
		 * with RWF_NOWAIT reads, so its blocking mode (which the guest
		 * shares and may change) does not matter.  Notify: written
		 * only through io_uring, one write in flight at a time (see
		 * notify_guest()); non-blocking for the guest's reads.
		 */
		if (ad && ad->evfds) {
			q->kick_fd = ad->evfds[2 * i];
			q->notify_fd = ad->evfds[2 * i + 1];
			q->notify_owed = true; /* wake a guest that waits */
		} else {
			q->kick_fd = XIO_FAULT_SYSCALL(XIO_FAULT_EVENTFD,
						       eventfd(0, EFD_CLOEXEC));
			if (q->kick_fd >= 0)
				q->notify_fd = XIO_FAULT_SYSCALL(
					XIO_FAULT_EVENTFD,
					eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		}
		if (q->kick_fd < 0 || q->notify_fd < 0) {
			err = -errno;
			goto fail;
		}
		q->hq = xio_region_host_qp(t->region, i);
	}
	memcpy(t->name, m->name, sizeof(t->name));
	t->persist = m->flags & XIO_ATTACH_F_PERSIST;
	t->no_doorbell = m->flags & XIO_ATTACH_F_NO_DOORBELL;
	t->vm = vm != NULL;
	t->pid = c->cred.pid;
	t->uid = c->cred.uid;
	t->id = ad ? ad->id : next_id++;
	t->numa_node = m->numa_node;
	t->since_ns = mono_ns();
	t->q_weight = XIO_QUOTA_WEIGHT_DEFAULT;
	t->q_inflight = t->nr_ops;
	t->seq = 1;
	if (!ad) {
		struct ilog_ident li = {
			.name = t->name,
			.tenant_id = t->id,
			.uid = (uint32_t)t->uid,
			.attach_flags = m->flags,
			.l = l,
			.region_size = xio_region_size(t->region),
			.vm = vm,
		};

		err = ilog_create(cfg.state_dir, &li, &t->log);
		if (!err)
			err = tenant_log_init(t);
		/* A new tenant of a dead one's name: nothing of that one's
		 * in the fd keeper may ever pass for its own. */
		if (!err)
			fdkeep_drop(t->name);
		if (err) {
			log_warn("tenant '%s': in-flight log: %s", t->name,
				 strerror(-err));
			next_id--;
			goto fail;
		}
	}
	*out = t;
	return 0;
fail:
	/* The caller still owns what it brought. */
	if (ad && !vm)
		t->region = NULL;
	for (i = 0; ad && ad->evfds && t->qps && i < t->nr_qpairs; i++)
		t->qps[i].kick_fd = t->qps[i].notify_fd = -1;
	/* An adopted file is QEMU's memory still: never unlinked here. */
	if (vm && (vm->flags & XIO_VM_F_ADOPT))
		vm_tenant_keep_file(t);
	tenant_free(t);
	return err;
}

/*
 * The least-loaded poller, among those on @node when there are any (a
 * poller's node is its pinned CPU's; unpinned pollers are on node -1).
 */
static struct poller *least_loaded(int node)
{
	struct poller *best = NULL;
	unsigned int i;
	int pass;

	for (pass = 0; pass < 2 && !best; pass++) {
		for (i = 0; i < cfg.nr_pollers; i++) {
			struct poller *p = &pollers[i];

			if (pass == 0 && (node < 0 || p->node != node))
				continue;
			if (!best || p->nr_assigned < best->nr_assigned)
				best = p;
		}
	}
	return best;
}

/* A new tenant into the list, on the least-loaded poller (not told yet). */
static void tenant_enlist(struct tenant *t, int node)
{
	*tenants_tail = t;
	tenants_tail = &t->next;
	nr_tenants++;
	t->p = least_loaded(node);
	t->p->nr_assigned++;
}

/* Begin a tenant's teardown; the poller reports back when it drained. */
static void tenant_detach(struct tenant *t, struct conn *waiter, uint32_t seq,
			  uint32_t reply_type)
{
	const char *why = !waiter	    ? "connection closed" :
			  waiter == t->conn ? "requested" :
					      "by the administrator";

	if (t->state == T_DETACHING)
		return;
	t->state = T_DETACHING;
	t->waiter = waiter;
	t->waiter_seq = seq;
	t->waiter_type = reply_type;
	if (waiter)
		waiter->waiting = t;
	if (t->conn) {
		t->conn->t = NULL;
		/* Detached by someone else: the guest learns by a hang-up. */
		if (waiter && waiter != t->conn)
			t->conn->dead = true;
	}
	t->conn = NULL;
	log_info("tenant %u '%s': detaching (%s)", t->id, t->name, why);
	poller_send(t->p, XIO_PCMD_DEL, t);
}

void control_tenant_drained(struct tenant *t)
{
	uint64_t one = 1;

	pthread_mutex_lock(&done_lock);
	t->done_next = done_list;
	done_list = t;
	pthread_mutex_unlock(&done_lock);
	if (write(done_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("control wake: %s", strerror(errno));
}

/* ---- replies ------------------------------------------------------------ */

static void send_msg(struct conn *c, void *msg, const int *fds,
		     unsigned int nfds)
{
	struct xio_msg_hdr *h = msg;
	int err;

	if (c->dead)
		return;
	err = xio__msg_send(c->fd, msg, h->len, fds, nfds);
	if (err) {
		/* A peer that does not read its replies loses its connection. */
		log_info("conn pid %d: reply: %s: closing", (int)c->cred.pid,
			 strerror(-err));
		c->dead = true;
	}
}

static void reply_status(struct conn *c, uint32_t type, uint32_t seq,
			 int status)
{
	struct xio_msg_status r;

	memset(&r, 0, sizeof(r));
	xio__msg_hdr_init(&r.hdr, type, seq);
	r.status = status;
	send_msg(c, &r, NULL, 0);
}

/* ---- handlers ----------------------------------------------------------- */

static int do_attach(struct conn *c, const struct xio_msg_attach *m)
{
	struct xio_msg_attach_reply r;
	struct xio_params p = {0};
	struct xio_layout l;
	struct tenant *t = NULL, *o;
	int fds[XIO_MSG_MAX_FDS];
	uint32_t i, same_uid = 0;
	int err;

	if (c->t || c->waiting)
		return -EALREADY; /* one tenant per connection */
	if (quitting)
		return -ESHUTDOWN;
	if (!xio__str_ok(m->name, sizeof(m->name)) || !name_ok(m->name) ||
	    (m->flags & ~XIO_ATTACH_F_MASK) || m->resv ||
	    m->numa_node < XIO_ATTACH_NUMA_AUTO)
		return -EINVAL;
	/* Only the host decides that a tenant outlives its connection. */
	if ((m->flags & XIO_ATTACH_F_PERSIST) && !c->admin)
		return -EPERM;
	/* Geometry and size checked before anything is allocated. */
	p.nr_qpairs = m->nr_qpairs;
	p.sq_entries = m->sq_entries;
	p.cq_entries = m->cq_entries;
	p.buf_size = m->buf_size;
	p.nr_bufs = m->nr_bufs;
	err = xio_layout_compute(&p, &l);
	if (err)
		return err;
	if (l.min_region_size > cfg.max_region_bytes)
		return -E2BIG;
	if (nr_tenants >= cfg.max_tenants)
		return -EUSERS;
	for (o = tenants; o; o = o->next) {
		if (!strcmp(o->name, m->name))
			return -EEXIST;
		if (!c->admin && o->uid == c->cred.uid)
			same_uid++;
	}
	/* One guest user cannot take every tenant slot. */
	if (!c->admin && same_uid >= cfg.max_guest_tenants)
		return -EUSERS;
	err = tenant_create(m, c, NULL, NULL, &t);
	if (err)
		return err;

	memset(&r, 0, sizeof(r));
	xio__msg_hdr_init(&r.hdr, XIO_MSG_ATTACH | XIO_MSG_REPLY, m->hdr.seq);
	r.tenant_id = t->id;
	r.region_size = xio_region_size(t->region);
	r.nr_qpairs = t->nr_qpairs;
	r.nr_fds = 1 + 2 * t->nr_qpairs;
	fds[0] = xio_region_fd(t->region);
	for (i = 0; i < t->nr_qpairs; i++) {
		fds[1 + 2 * i] = t->qps[i].kick_fd;
		fds[2 + 2 * i] = t->qps[i].notify_fd;
	}
	send_msg(c, &r, fds, r.nr_fds);
	if (c->dead) {
		/* Never handed to a poller: free it right here. */
		next_id--;
		tenant_free(t);
		return 0;
	}
	t->conn = c;
	c->t = t;
	tenant_enlist(t, m->numa_node);
	log_info(
		"tenant %u '%s' attached: pid %d uid %u, %u qpair(s) of %u/%u entries, %u x %u B pool, region %zu KiB, poller %u",
		t->id, t->name, (int)t->pid, (unsigned)t->uid, t->nr_qpairs,
		l.sq_entries, l.cq_entries, l.nr_bufs, l.buf_size,
		xio_region_size(t->region) >> 10, t->p->idx);
	poller_send(t->p, XIO_PCMD_ADD, t);
	return 0;
}

/* What tenant_create() reads of an ATTACH, for VM tenant @m. */
static void vm_attach_msg(const struct xio_msg_vm_tenant *m,
			  struct xio_msg_attach *a)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->name, m->name, sizeof(a->name));
	a->nr_qpairs = m->nr_qpairs;
	a->sq_entries = m->sq_entries;
	a->cq_entries = m->cq_entries;
	a->buf_size = m->buf_size;
	a->nr_bufs = m->nr_bufs;
	a->numa_node = m->numa_node;
	a->flags = XIO_ATTACH_F_PERSIST;
	if (!(m->flags & XIO_VM_F_DOORBELL))
		a->flags |= XIO_ATTACH_F_NO_DOORBELL;
}

/*
 * Admin: a file-backed VM tenant (vm_tenant.c): persistent, no doorbell,
 * served by polling; TENANT_DETACH removes it and unlinks its file.  With
 * XIO_VM_F_DOORBELL: a memfd region handed to QEMU by xiod's ivshmem
 * server on m->path (vm_doorbell.c), kicked through the guest's doorbell.
 */
static int do_vm_tenant(struct conn *c, const struct xio_msg_vm_tenant *m)
{
	struct xio_msg_attach_reply r;
	struct xio_msg_attach a;
	struct tenant *t = NULL, *o;
	int err;

	if (!c->admin)
		return -EPERM;
	if (quitting)
		return -ESHUTDOWN;
	if (!xio__str_ok(m->name, sizeof(m->name)) || !name_ok(m->name) ||
	    m->numa_node < XIO_ATTACH_NUMA_AUTO || (m->flags & ~XIO_VM_F_MASK))
		return -EINVAL;
	/* A doorbell tenant is re-adopted by xiod itself from its log, at
	 * startup (vm_readopt()), never on request. */
	if ((m->flags & XIO_VM_F_ADOPT) && (m->flags & XIO_VM_F_DOORBELL))
		return -EINVAL;
	vm_attach_msg(m, &a);
	if (m->size > cfg.max_region_bytes)
		return -E2BIG;
	if (nr_tenants >= cfg.max_tenants)
		return -EUSERS;
	for (o = tenants; o; o = o->next)
		if (!strcmp(o->name, m->name))
			return -EEXIST;
	err = tenant_create(&a, c, m, NULL, &t);
	if (!err && (m->flags & XIO_VM_F_DOORBELL)) {
		err = vm_doorbell_listen(t, m);
		if (err) {
			next_id--; /* never listed */
			tenant_free(t);
		}
	}
	if (err)
		return err;
	memset(&r, 0, sizeof(r));
	xio__msg_hdr_init(&r.hdr, XIO_MSG_VM_TENANT | XIO_MSG_REPLY,
			  m->hdr.seq);
	r.tenant_id = t->id;
	r.region_size = xio_region_size(t->region);
	r.nr_qpairs = t->nr_qpairs;
	tenant_enlist(t, m->numa_node);
	log_info(
		"tenant %u '%s': VM tenant, %s %s (%zu KiB, %s), node %d, poller %u",
		t->id, t->name,
		t->no_doorbell ? "file" : "ivshmem-doorbell server", m->path,
		xio_region_size(t->region) >> 10,
		(m->flags & XIO_VM_F_ADOPT) ? "adopted" : "created",
		(int)m->numa_node, t->p->idx);
	poller_send(t->p, XIO_PCMD_ADD, t);
	send_msg(c, &r, NULL, 0);
	return 0;
}

/* Detach VM tenants whose file faulted, shrank or was replaced. */
static void vm_tenants_check(void)
{
	struct tenant *t;
	const char *why;

	for (t = tenants; t; t = t->next) {
		if (t->state != T_RUNNING || !vm_tenant_bad(t, &why))
			continue;
		log_warn("tenant %u '%s': quarantined: %s", t->id, t->name,
			 why);
		tenant_detach(t, NULL, 0, 0);
	}
}

static void wire_tenant(struct xio_wire_tenant *w, const struct tenant *t)
{
	memset(w, 0, sizeof(*w));
	w->id = t->id;
	w->nr_qpairs = t->nr_qpairs;
	memcpy(w->name, t->name, sizeof(w->name));
	w->pid = t->pid;
	w->uid = t->uid;
	w->poller = t->p->idx;
	w->nr_targets = t->nr_targets;
	w->state = t->state == T_DETACHING;
	w->broken = ctr_get(&t->st.broken);
	w->taken = ctr_get(&t->st.taken);
	w->completed = ctr_get(&t->st.completed);
	w->invalid = ctr_get(&t->st.invalid);
	w->inflight = ctr_get(&t->st.inflight);
	w->kicks = ctr_get(&t->st.kicks);
	w->wakeups = ctr_get(&t->st.wakeups);
	w->notifies = ctr_get(&t->st.notifies);
	w->poller_sleeps = ctr_get(&t->p->sleeps);
	w->region_size = xio_region_size(t->region);
	w->max_visit_entries = ctr_get(&t->st.max_visit_entries);
	w->max_visit_bytes = ctr_get(&t->st.max_visit_bytes);
	w->parks = ctr_get(&t->st.parks);
	w->attach_flags = (t->persist ? XIO_ATTACH_F_PERSIST : 0) |
			  (t->no_doorbell ? XIO_ATTACH_F_NO_DOORBELL : 0) |
			  (t->vm ? XIO_TENANT_F_VM : 0);
}

/* ---- accounting --------------------------------------------------------- */

static int tenant_for(struct conn *c, const char *sel, size_t len,
		      struct tenant **out);

/* The cumulative counters: what a reset rebases, and what the in-flight log
 * keeps across a restart (ilog.h). */
#define TSTATS_CUMULATIVE(X) ILOG_ACCT_FIELDS(X)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void tstats_raw(struct xio_tenant_stats *w, const struct tenant *t)
{
	memset(w, 0, sizeof(*w));
	w->sz = sizeof(*w);
	w->version = XIO_STATS_VERSION;
	w->id = t->id;
	w->poller = t->p->idx;
	memcpy(w->name, t->name, sizeof(w->name));
	w->state = t->state == T_DETACHING ? XIO_TSTATE_DETACHING :
					     XIO_TSTATE_RUNNING;
	w->taken = ctr_get(&t->st.taken);
	w->completed = ctr_get(&t->st.completed);
	w->errors = ctr_get(&t->st.errors);
	w->invalid = ctr_get(&t->st.invalid);
	w->bytes_read = ctr_get(&t->st.bytes_read);
	w->bytes_written = ctr_get(&t->st.bytes_written);
	w->bytes_sent = ctr_get(&t->st.bytes_sent);
	w->bytes_received = ctr_get(&t->st.bytes_received);
	w->kicks = ctr_get(&t->st.kicks);
	w->notifies = ctr_get(&t->st.notifies);
	w->wakeups = ctr_get(&t->st.wakeups);
	w->inflight = ctr_get(&t->st.inflight);
	w->inflight_max = ctr_get(&t->st.inflight_max);
	w->cpu_ns = acct_ns(ctr_get(&t->st.cycles));
	w->throttled = ctr_get(&t->st.throttled);
	w->weight = __atomic_load_n(&t->q_weight, __ATOMIC_RELAXED);
	w->ops_rate = __atomic_load_n(&t->q_ops_rate, __ATOMIC_RELAXED);
	w->bytes_rate = __atomic_load_n(&t->q_bytes_rate, __ATOMIC_RELAXED);
	w->inflight_cap = __atomic_load_n(&t->q_inflight, __ATOMIC_RELAXED);
	w->inflight_slots = t->nr_ops;
	w->elapsed_ns = mono_ns() - t->since_ns;
	/* Frames for it that found no posted buffer or a full hand-off ring
	 * between pollers (pktio.c). */
	w->steer_drops = ctr_get(&t->st.pkt_drops) + pktio_handoff_drops(t->id);
	w->pkt_received = ctr_get(&t->st.pkt_received);
	w->pkt_sent = ctr_get(&t->st.pkt_sent);
	w->pkt_tx_refused = ctr_get(&t->st.pkt_tx_refused);
	if (t->steered)
		steering_stats(w, t->id);
		/* What it had before xiod restarted (acct_restore()). */
#define X(f) w->f += t->carried.f;
	TSTATS_CUMULATIVE(X)
#undef X
}

/* A tenant's counters since its last reset. */
static void tstats_fill(struct xio_tenant_stats *w, const struct tenant *t)
{
	tstats_raw(w, t);
#define X(f) w->f -= t->base.f;
	TSTATS_CUMULATIVE(X)
#undef X
}

static void tstats_rebase(struct tenant *t)
{
	struct xio_tenant_stats now;

	tstats_raw(&now, t);
#define X(f) t->base.f = now.f;
	TSTATS_CUMULATIVE(X)
#undef X
	t->since_ns = mono_ns();
}

static void final_push(struct final *f);

/* ---- accounting across a restart (docs/accounting.md) ------------------- */

static uint64_t acct_due;

/* @t's counters into its log, for the next xiod. */
static void acct_store(struct tenant *t)
{
	struct xio_tenant_stats w;
	uint64_t vals[ILOG_ACCT_VALS];
	unsigned int n = 0;

	tstats_fill(&w, t);
#define X(f) vals[n++] = w.f;
	ILOG_ACCT_FIELDS(X)
#undef X
	ilog_acct_store(t->log.hdr, vals, n, w.elapsed_ns);
}

/* Every ILOG_ACCT_PERIOD_MS, each running tenant's counters into its log. */
static void acct_persist(void)
{
	uint64_t now = mono_ns();
	struct tenant *t;

	if (!cfg.state_dir || now < acct_due)
		return;
	acct_due = now + ILOG_ACCT_PERIOD_MS * 1000000ULL;
	for (t = tenants; t; t = t->next)
		if (t->state == T_RUNNING && t->log.hdr)
			acct_store(t);
}

/* Milliseconds until acct_persist() has work, or -1. */
static int acct_tick_ms(void)
{
	uint64_t now = mono_ns();

	if (!cfg.state_dir || !tenants)
		return -1;
	return now >= acct_due ? 0 : (int)((acct_due - now) / 1000000 + 1);
}

/* The snapshot in @h into @w's cumulative counters and elapsed time. */
static bool acct_load(const struct ilog_hdr *h, struct xio_tenant_stats *w)
{
	struct ilog_acct a = {0};
	unsigned int n = 0;

	if (!ilog_acct_load(h, &a))
		return false;
#define X(f) w->f = a.vals[n++];
	ILOG_ACCT_FIELDS(X)
#undef X
	w->elapsed_ns = a.elapsed_ns;
	return true;
}

/* A re-adopted tenant goes on from its last snapshot (up to a period of
 * counts before the kill are lost). */
static void acct_restore(struct tenant *t)
{
	uint64_t now = mono_ns();

	if (!acct_load(t->log.hdr, &t->carried))
		return;
	t->since_ns =
		t->carried.elapsed_ns < now ? now - t->carried.elapsed_ns : 0;
	t->carried.elapsed_ns = 0;
}

/* Keep @t's counters after it is freed, until read or reset. */
static void final_record(const struct tenant *t)
{
	struct final *f = calloc(1, sizeof(*f));

	if (!f) {
		log_warn("tenant %u '%s': no memory for its final record",
			 t->id, t->name);
		return;
	}
	tstats_fill(&f->s, t);
	final_push(f);
}

/* Append @f (state set here), dropping the oldest beyond MAX_FINALS. */
static void final_push(struct final *f)
{
	f->s.state = XIO_TSTATE_DETACHED;
	f->s.inflight = 0;
	if (nr_finals >= MAX_FINALS) {
		struct final *old = finals;

		finals = old->next;
		if (!finals)
			finals_tail = &finals;
		free(old);
		nr_finals--;
		if (!finals_dropped++ || log_ratelimit())
			log_warn(
				"more than %u final records unread: dropping the oldest (%llu so far)",
				MAX_FINALS, (unsigned long long)finals_dropped);
	}
	*finals_tail = f;
	finals_tail = &f->next;
	nr_finals++;
}

static void final_unlink(struct final **pp)
{
	struct final *f = *pp;

	*pp = f->next;
	if (finals_tail == &f->next)
		finals_tail = pp;
	free(f);
	nr_finals--;
}

/* Whether selector @sel ("" = all) names tenant @id / @name. */
static bool sel_match(const char *sel, uint32_t id, const char *name)
{
	char *end;
	unsigned long v;

	if (!sel[0])
		return true;
	if (!isdigit((unsigned char)sel[0]))
		return !strcmp(sel, name);
	errno = 0;
	v = strtoul(sel, &end, 10);
	return !*end && !errno && v == id;
}

static int do_stats(struct conn *c, const struct xio_msg_stats *m)
{
	struct xio_msg_stats_reply *r;
	struct final **pp;
	struct tenant *t;
	uint32_t idx = 0;
	bool consume = m->flags & XIO_STATS_F_CONSUME;

	if ((m->flags & ~XIO_STATS_F_CONSUME) ||
	    !xio__str_ok(m->tenant, sizeof(m->tenant)))
		return -EINVAL;
	if (!c->admin &&
	    (consume || (m->tenant[0] && !c->t) ||
	     (m->tenant[0] && !sel_match(m->tenant, c->t->id, c->t->name))))
		return -EPERM; /* a guest reads its own tenant only */
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	xio__msg_hdr_init(&r->hdr, XIO_MSG_STATS | XIO_MSG_REPLY, m->hdr.seq);
	for (t = tenants; t; t = t->next) {
		if ((!c->admin && t != c->t) ||
		    !sel_match(m->tenant, t->id, t->name))
			continue;
		if (idx >= m->start && r->count < XIO_STATS_CHUNK)
			tstats_fill(&r->t[r->count++], t);
		idx++;
	}
	for (pp = &finals; c->admin && *pp;) {
		struct final *f = *pp;

		if (!sel_match(m->tenant, f->s.id, f->s.name)) {
			pp = &f->next;
			continue;
		}
		if (idx >= m->start && r->count < XIO_STATS_CHUNK) {
			r->t[r->count++] = f->s;
			if (consume) {
				final_unlink(pp);
				idx++;
				continue;
			}
		}
		idx++;
		pp = &f->next;
	}
	r->total = idx;
	if (m->tenant[0] && !idx) {
		free(r);
		return -ENOENT;
	}
	send_msg(c, r, NULL, 0);
	free(r);
	return 0;
}

static int do_stats_reset(struct conn *c, const struct xio_msg_stats_reset *m)
{
	struct final **pp;
	struct tenant *t;
	bool found = false;

	if (!c->admin)
		return -EPERM;
	if (m->flags || m->resv || !xio__str_ok(m->tenant, sizeof(m->tenant)))
		return -EINVAL;
	for (t = tenants; t; t = t->next) {
		if (sel_match(m->tenant, t->id, t->name)) {
			tstats_rebase(t);
			found = true;
		}
	}
	for (pp = &finals; *pp;) {
		if (sel_match(m->tenant, (*pp)->s.id, (*pp)->s.name)) {
			final_unlink(pp);
			found = true;
		} else {
			pp = &(*pp)->next;
		}
	}
	if (m->tenant[0] && !found)
		return -ENOENT;
	reply_status(c, XIO_MSG_STATS_RESET | XIO_MSG_REPLY, m->hdr.seq, 0);
	return 0;
}

/* The quota goes into the in-flight log: a restarted xiod restores it. */
static void quota_persist(struct tenant *t)
{
	struct ilog_hdr *h = t->log.hdr;

	ilog_update_begin(&t->log);
	h->q_weight = t->q_weight;
	h->q_ops_rate = t->q_ops_rate;
	h->q_bytes_rate = t->q_bytes_rate;
	h->q_inflight = t->q_inflight;
	ilog_seal(&t->log);
}

static int do_quota(struct conn *c, const struct xio_msg_quota *m)
{
	const struct xio_quota *q = &m->q;
	struct tenant *t = NULL;
	int err;

	if (!c->admin)
		return -EPERM;
	if (q->sz != sizeof(*q) || (q->flags & ~XIO_QUOTA_MASK) || !q->flags)
		return -EINVAL;
	err = tenant_for(c, m->tenant, sizeof(m->tenant), &t);
	if (err)
		return err;
	if (t->state != T_RUNNING)
		return -ENOENT;
	/* All checked before anything changes. */
	if (((q->flags & XIO_QUOTA_WEIGHT) &&
	     (q->weight < 1 || q->weight > XIO_QUOTA_WEIGHT_MAX)) ||
	    ((q->flags & XIO_QUOTA_OPS_RATE) &&
	     q->ops_rate > XIO_QUOTA_OPS_RATE_MAX) ||
	    ((q->flags & XIO_QUOTA_BYTES_RATE) &&
	     q->bytes_rate > XIO_QUOTA_BYTES_RATE_MAX) ||
	    ((q->flags & XIO_QUOTA_INFLIGHT) &&
	     (q->inflight_cap < 1 || q->inflight_cap > t->nr_ops)))
		return -ERANGE;
	if (q->flags & XIO_QUOTA_WEIGHT)
		__atomic_store_n(&t->q_weight, q->weight, __ATOMIC_RELAXED);
	if (q->flags & XIO_QUOTA_OPS_RATE)
		__atomic_store_n(&t->q_ops_rate, q->ops_rate, __ATOMIC_RELAXED);
	if (q->flags & XIO_QUOTA_BYTES_RATE)
		__atomic_store_n(&t->q_bytes_rate, q->bytes_rate,
				 __ATOMIC_RELAXED);
	if (q->flags & XIO_QUOTA_INFLIGHT)
		__atomic_store_n(&t->q_inflight, (uint32_t)q->inflight_cap,
				 __ATOMIC_RELAXED);
	quota_persist(t);
	log_info(
		"tenant %u '%s': quota weight %llu, ops/s %llu, bytes/s %llu, in flight %u",
		t->id, t->name, (unsigned long long)t->q_weight,
		(unsigned long long)t->q_ops_rate,
		(unsigned long long)t->q_bytes_rate, t->q_inflight);
	reply_status(c, XIO_MSG_QUOTA | XIO_MSG_REPLY, m->hdr.seq, 0);
	return 0;
}

/* ---- Prometheus exposition (metrics.c serves it) ------------------------ */

static void prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

struct prom_metric {
	const char *name, *type, *help;
	size_t off;   /* in struct xio_tenant_stats */
	double scale; /* 1, or 1e-9 for ns -> seconds */
};

#define PM(n, t, field, sc, h)                                                 \
	{                                                                      \
		n, t, h, offsetof(struct xio_tenant_stats, field), sc          \
	}

static const struct prom_metric prom_tenant[] = {
	PM("xio_tenant_ops_total", "counter", taken, 1,
	   "SQEs accepted from the tenant's rings."),
	PM("xio_tenant_completions_total", "counter", completed, 1,
	   "CQEs posted to the tenant, refusals included."),
	PM("xio_tenant_errors_total", "counter", errors, 1,
	   "CQEs with a negative result (invalid SQEs excluded)."),
	PM("xio_tenant_invalid_total", "counter", invalid, 1,
	   "SQEs refused by validation."),
	PM("xio_tenant_read_bytes_total", "counter", bytes_read, 1,
	   "Bytes read by READ operations."),
	PM("xio_tenant_written_bytes_total", "counter", bytes_written, 1,
	   "Bytes written by WRITE operations."),
	PM("xio_tenant_sent_bytes_total", "counter", bytes_sent, 1,
	   "Bytes sent by SEND operations."),
	PM("xio_tenant_received_bytes_total", "counter", bytes_received, 1,
	   "Bytes received by RECV operations."),
	PM("xio_tenant_kicks_total", "counter", kicks, 1,
	   "Doorbells received from the tenant."),
	PM("xio_tenant_notifications_total", "counter", notifies, 1,
	   "Completion notifications sent to the tenant."),
	PM("xio_tenant_wakeups_total", "counter", wakeups, 1,
	   "Poller sleeps ended by this tenant's doorbell."),
	PM("xio_tenant_cpu_seconds_total", "counter", cpu_ns, 1e-9,
	   "Poller time attributed to the tenant."),
	PM("xio_tenant_throttled_total", "counter", throttled, 1,
	   "Visits cut short by the tenant's quota."),
	PM("xio_tenant_steer_packets_total", "counter", steer_packets, 1,
	   "Received frames the eBPF classifier steered to the tenant."),
	PM("xio_tenant_steer_bytes_total", "counter", steer_bytes, 1,
	   "Bytes of those frames."),
	PM("xio_tenant_steer_drops_total", "counter", steer_drops, 1,
	   "Steered frames dropped (no RX buffer posted, or no CPU queue)."),
	PM("xio_tenant_steer_passed_total", "counter", steer_passed, 1,
	   "Steered frames passed to the kernel stack (tenant not placed)."),
	PM("xio_tenant_steer_wrong_node_total", "counter", steer_wrong_node, 1,
	   "Steered frames processed off the tenant's NUMA node (must be 0)."),
	PM("xio_tenant_packets_received_total", "counter", pkt_received, 1,
	   "Frames delivered into the tenant's posted RX buffers."),
	PM("xio_tenant_packets_sent_total", "counter", pkt_sent, 1,
	   "Frames the tenant sent out of a steering port."),
	PM("xio_tenant_packets_tx_refused_total", "counter", pkt_tx_refused, 1,
	   "Frames refused: source MAC not one steered to the tenant."),
	PM("xio_tenant_inflight", "gauge", inflight, 1,
	   "Operations of the tenant in io_uring now."),
	PM("xio_tenant_inflight_max", "gauge", inflight_max, 1,
	   "High-water mark of the tenant's operations in io_uring."),
	PM("xio_tenant_quota_weight", "gauge", weight, 1,
	   "Share of poller time under contention (100 = default)."),
	PM("xio_tenant_quota_ops_per_second", "gauge", ops_rate, 1,
	   "ops/s limit, 0 = unlimited."),
	PM("xio_tenant_quota_bytes_per_second", "gauge", bytes_rate, 1,
	   "bytes/s limit, 0 = unlimited."),
	PM("xio_tenant_quota_inflight", "gauge", inflight_cap, 1,
	   "In-flight cap."),
};

#define PPM(n, t, field, sc, h)                                                \
	{                                                                      \
		n, t, h, offsetof(struct xio_poller_stats, field), sc          \
	}

static const struct prom_metric prom_poller[] = {
	PPM("xio_poller_attributed_seconds_total", "counter", attributed_ns,
	    1e-9, "Poller time charged to tenants."),
	PPM("xio_poller_idle_seconds_total", "counter", idle_ns, 1e-9,
	    "Poller time spinning or visiting empty rings."),
	PPM("xio_poller_overhead_seconds_total", "counter", overhead_ns, 1e-9,
	    "Poller time in busy loops not charged to a tenant."),
	PPM("xio_poller_thread_cpu_seconds_total", "counter", thread_cpu_ns,
	    1e-9, "CPU time of the poller thread."),
	PPM("xio_poller_sleep_seconds_total", "counter", sleep_ns, 1e-9,
	    "Wall time the poller slept."),
	PPM("xio_poller_sleeps_total", "counter", sleeps, 1,
	    "Times the poller slept."),
};

static void prom_value(FILE *f, uint64_t v, double scale)
{
	if (scale == 1)
		fprintf(f, " %llu\n", (unsigned long long)v);
	else
		fprintf(f, " %.9f\n", (double)v * scale);
}

static void pstats_fill(struct xio_poller_stats *w, struct poller *p);

static uint64_t field_at(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

char *control_metrics_text(size_t *len)
{
	struct xio_tenant_stats s;
	struct xio_poller_stats ps;
	struct tenant *t;
	struct final *fi;
	char *buf = NULL;
	size_t i, n;
	uint32_t k;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	for (i = 0; i < sizeof(prom_tenant) / sizeof(prom_tenant[0]); i++) {
		const struct prom_metric *m = &prom_tenant[i];

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
			m->name, m->type);
		for (t = tenants, fi = finals; t || fi;) {
			if (t) {
				tstats_fill(&s, t);
				t = t->next;
			} else {
				s = fi->s;
				fi = fi->next;
			}
			fprintf(f, "%s{tenant=\"", m->name);
			prom_label(f, s.name);
			fprintf(f, "\",id=\"%u\"}", s.id);
			prom_value(f, field_at(&s, m->off), m->scale);
		}
	}
	fprintf(f, "# HELP xio_tenant_detached Whether this is the final "
		   "record of a detached tenant.\n"
		   "# TYPE xio_tenant_detached gauge\n");
	for (t = tenants; t; t = t->next) {
		fprintf(f, "xio_tenant_detached{tenant=\"");
		prom_label(f, t->name);
		fprintf(f, "\",id=\"%u\"} 0\n", t->id);
	}
	for (fi = finals; fi; fi = fi->next) {
		fprintf(f, "xio_tenant_detached{tenant=\"");
		prom_label(f, fi->s.name);
		fprintf(f, "\",id=\"%u\"} 1\n", fi->s.id);
	}
	for (i = 0; i < sizeof(prom_poller) / sizeof(prom_poller[0]); i++) {
		const struct prom_metric *m = &prom_poller[i];

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
			m->name, m->type);
		for (k = 0; k < cfg.nr_pollers; k++) {
			pstats_fill(&ps, &pollers[k]);
			fprintf(f, "%s{poller=\"%u\"}", m->name, k);
			prom_value(f, field_at(&ps, m->off), m->scale);
		}
	}
	if (fclose(f) || !buf) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static void pstats_fill(struct xio_poller_stats *w, struct poller *p)
{
	clockid_t cid;
	struct timespec ts;

	memset(w, 0, sizeof(*w));
	w->sz = sizeof(*w);
	w->version = XIO_STATS_VERSION;
	w->idx = p->idx;
	w->cpu = p->cpu;
	w->nr_tenants = p->nr_assigned;
	w->attributed_ns = acct_ns(ctr_get(&p->cyc_attributed));
	w->idle_ns = acct_ns(ctr_get(&p->cyc_idle));
	w->overhead_ns = acct_ns(ctr_get(&p->cyc_overhead));
	w->sleep_ns = acct_ns(ctr_get(&p->cyc_sleep));
	w->sleeps = ctr_get(&p->sleeps);
	w->timed_sleeps = ctr_get(&p->timed_sleeps);
	if (p->started && !pthread_getcpuclockid(p->th, &cid) &&
	    !clock_gettime(cid, &ts))
		w->thread_cpu_ns = (uint64_t)ts.tv_sec * 1000000000ULL +
				   (uint64_t)ts.tv_nsec;
}

static int do_poller_stats(struct conn *c, const struct xio_msg_poller_stats *m)
{
	struct xio_msg_poller_stats_reply *r;
	uint32_t i;

	if (!c->admin)
		return -EPERM;
	if (m->resv)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	xio__msg_hdr_init(&r->hdr, XIO_MSG_POLLER_STATS | XIO_MSG_REPLY,
			  m->hdr.seq);
	r->total = cfg.nr_pollers;
	for (i = m->start; i < cfg.nr_pollers && r->count < XIO_LIST_CHUNK; i++)
		pstats_fill(&r->p[r->count++], &pollers[i]);
	send_msg(c, r, NULL, 0);
	free(r);
	return 0;
}

static int do_tenant_list(struct conn *c, const struct xio_msg_tenant_list *m)
{
	struct xio_msg_tenant_list_reply *r;
	struct tenant *t;
	uint32_t idx = 0;

	bool own = (m->flags & XIO_LIST_OWN) || !c->admin;

	if (m->flags & ~XIO_LIST_OWN)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	xio__msg_hdr_init(&r->hdr, XIO_MSG_TENANT_LIST | XIO_MSG_REPLY,
			  m->hdr.seq);
	for (t = tenants; t; t = t->next) {
		if (own && t != c->t)
			continue; /* a guest sees only its own tenant */
		if (idx >= m->start && r->count < XIO_LIST_CHUNK)
			wire_tenant(&r->t[r->count++], t);
		idx++;
	}
	r->total = idx;
	send_msg(c, r, NULL, 0);
	free(r);
	return 0;
}

/* Resolve @sel for @c: an admin reaches every tenant, a guest its own. */
static int tenant_for(struct conn *c, const char *sel, size_t len,
		      struct tenant **out)
{
	struct tenant *t;

	if (!xio__str_ok(sel, len) || !sel[0])
		return -EINVAL;
	t = tenant_find(sel);
	if (!c->admin && (!t || t != c->t))
		return -EPERM; /* do not reveal whether it exists */
	if (!t)
		return -ENOENT;
	*out = t;
	return 0;
}

/*
 * Append a target.  @kind says whether a restarted xiod can reopen it
 * (ILOG_T_PATH: @label is the path) or not (ILOG_T_FD); recorded in the
 * tenant's in-flight log before the entry is published.
 */
static int target_install(struct tenant *t, int fd, uint32_t flags,
			  uint64_t size, const char *label, uint32_t kind)
{
	uint32_t idx = t->nr_targets;
	struct ilog_target *lt;
	struct target *tg;

	if (idx >= XIO_MAX_TARGETS)
		return -ENOSPC;
	tg = &t->targets[idx];
	tg->fd = fd;
	tg->flags = flags;
	tg->size = size;
	/* Shown in listings only: keep the first bytes. */
	memcpy(tg->path, label, strnlen(label, sizeof(tg->path) - 1));
	lt = &t->log.targets[idx];
	ilog_update_begin(&t->log);
	lt->kind = kind;
	lt->flags = flags;
	snprintf(lt->path, sizeof(lt->path), "%s", label);
	t->log.hdr->nr_targets = idx + 1;
	ilog_seal(&t->log);
	/* Publishes the entry to the poller (acquire in dispatch()). */
	__atomic_store_n(&t->nr_targets, idx + 1, __ATOMIC_RELEASE);
	return (int)idx;
}

/* A file or block device fd: its size, or -errno. */
static int file_target_check(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return -errno;
		return 0;
	}
	return -EINVAL; /* directory, FIFO, character device, ... */
}

/* Open a path target (XIO_TARGET_RDONLY/DIRECT in @flags): fd or -errno. */
static int target_open(const char *path, uint32_t flags, uint64_t *size)
{
	int fd, err, fl;

	fl = ((flags & XIO_TARGET_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC |
	     O_NOCTTY | O_NONBLOCK;
	if (flags & XIO_TARGET_DIRECT) {
		/* Before its first request: the restart barrier waits for
		 * these rings then (ilog.c). */
		err = ilog_barrier_direct();
		if (err)
			return err;
		fl |= O_DIRECT;
	}
	fd = open(path, fl);
	if (fd < 0)
		return -errno;
	err = file_target_check(fd, size);
	if (err) {
		close(fd);
		return err;
	}
	/* O_NONBLOCK only guarded the open against FIFOs. */
	fcntl(fd, F_SETFL, (fl & O_DIRECT));
	return fd;
}

static int do_target_add(struct conn *c, const struct xio_msg_target_add *m,
			 int fd)
{
	struct xio_msg_target_add_reply r;
	struct tenant *t = NULL;
	uint64_t size = 0;
	uint32_t flags;
	int err, fl, idx;
	bool by_fd = m->hdr.type == XIO_MSG_TARGET_ADD_FD;

	if (!c->admin) {
		err = -EPERM;
		goto fail;
	}
	if ((m->flags & ~XIO_TARGET_ADD_MASK) || m->resv ||
	    !xio__str_ok(m->path, sizeof(m->path)) ||
	    (by_fd && (m->flags & XIO_TARGET_DIRECT)) ||
	    (!by_fd && m->path[0] != '/')) {
		err = -EINVAL;
		goto fail;
	}
	err = tenant_for(c, m->tenant, sizeof(m->tenant), &t);
	if (err)
		goto fail;
	if (t->state != T_RUNNING) {
		err = -ENOENT;
		goto fail;
	}
	if (t->nr_targets >= XIO_MAX_TARGETS) {
		err = -ENOSPC;
		goto fail;
	}
	flags = m->flags & XIO_TARGET_RDONLY;
	if (!by_fd) {
		fd = target_open(m->path, m->flags, &size);
		if (fd < 0) {
			err = fd;
			fd = -1;
			goto fail;
		}
		flags |= m->flags & XIO_TARGET_DIRECT;
	} else {
		struct stat st;
		int type;
		socklen_t sl = sizeof(type);

		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || (fl & O_PATH) || fstat(fd, &st) < 0) {
			err = -EBADF;
			goto fail;
		}
		if (S_ISSOCK(st.st_mode)) {
			struct sockaddr_storage ss;
			socklen_t al = sizeof(ss);

			if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) <
				    0 ||
			    (type != SOCK_STREAM && type != SOCK_SEQPACKET &&
			     type != SOCK_DGRAM)) {
				err = -EINVAL;
				goto fail;
			}
			if (getpeername(fd, (struct sockaddr *)&ss, &al) < 0) {
				err = -ENOTCONN;
				goto fail;
			}
			flags |= XIO_TARGET_SOCKET;
		} else {
			if ((fl & O_ACCMODE) == O_WRONLY) {
				err = -EINVAL; /* a disk must be readable */
				goto fail;
			}
			err = file_target_check(fd, &size);
			if (err)
				goto fail;
			/* Its sender shares the file description and can set
			 * O_DIRECT on it at any time (fcntl F_SETFL): taken as
			 * direct by the restart barrier (ilog.c). */
			err = ilog_barrier_direct();
			if (err)
				goto fail;
			if ((fl & O_ACCMODE) == O_RDONLY)
				flags |= XIO_TARGET_RDONLY;
		}
	}
	idx = target_install(t, fd, flags, size, m->path[0] ? m->path : "(fd)",
			     by_fd ? ILOG_T_FD : ILOG_T_PATH);
	if (idx < 0) {
		err = idx;
		goto fail;
	}
	/* Nobody could reopen it after a kill: the fd keeper holds it. */
	if (by_fd && cfg.state_dir) {
		int kerr = fdkeep_put_target(t->name, (uint32_t)idx, fd);

		if (kerr)
			log_warn(
				"tenant %u '%s': target %d (an fd) not kept (%s): EBADF after a restart of xiod",
				t->id, t->name, idx, strerror(-kerr));
	}
	log_info("tenant %u '%s': target %d = %s%s%s%s, %llu bytes", t->id,
		 t->name, idx, m->path[0] ? m->path : "(fd)",
		 (flags & XIO_TARGET_RDONLY) ? " ro" : " rw",
		 (flags & XIO_TARGET_DIRECT) ? " direct" : "",
		 (flags & XIO_TARGET_SOCKET) ? " socket" : "",
		 (unsigned long long)size);
	memset(&r, 0, sizeof(r));
	xio__msg_hdr_init(&r.hdr, m->hdr.type | XIO_MSG_REPLY, m->hdr.seq);
	r.index = (uint32_t)idx;
	send_msg(c, &r, NULL, 0);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return err;
}

static int do_target_list(struct conn *c, const struct xio_msg_target_list *m)
{
	struct xio_msg_target_list_reply *r;
	struct tenant *t = NULL;
	uint32_t i;
	int err;

	if (m->resv)
		return -EINVAL;
	err = tenant_for(c, m->tenant, sizeof(m->tenant), &t);
	if (err)
		return err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	xio__msg_hdr_init(&r->hdr, XIO_MSG_TARGET_LIST | XIO_MSG_REPLY,
			  m->hdr.seq);
	r->total = t->nr_targets;
	for (i = m->start; i < t->nr_targets && r->count < XIO_LIST_CHUNK;
	     i++) {
		struct xio_wire_target *w = &r->t[r->count++];

		w->index = i;
		w->flags = t->targets[i].flags;
		w->size = t->targets[i].size;
		memcpy(w->path, t->targets[i].path, sizeof(w->path));
	}
	send_msg(c, r, NULL, 0);
	free(r);
	return 0;
}

/* Admin: tear a tenant down; the reply waits for the drain. */
static int do_tenant_detach(struct conn *c,
			    const struct xio_msg_tenant_detach *m)
{
	struct tenant *t = NULL;
	int err;

	if (!c->admin)
		return -EPERM;
	if (m->flags || m->resv)
		return -EINVAL;
	err = tenant_for(c, m->tenant, sizeof(m->tenant), &t);
	if (err)
		return err;
	if (t->state != T_RUNNING)
		return -ENOENT;
	if (c->waiting || c->t == t)
		return -EBUSY; /* one wait per connection; own: use DETACH */
	tenant_detach(t, c, m->hdr.seq, XIO_MSG_TENANT_DETACH | XIO_MSG_REPLY);
	return 0;
}

/* ---- restart: re-adoption (docs/daemon.md, "Restart") ------------------ */

/*
 * Target @i of @t, passed as an fd (ILOG_T_FD): back from the fd keeper,
 * checked to be of the kind logged (@flags: a socket stays a socket, a
 * file or device gets its size).  The fd or -1 (its requests then fail
 * with EBADF).
 */
static int target_kept(struct tenant *t, uint32_t i, uint32_t flags,
		       uint64_t *size)
{
	int fd = fdkeep_get_target(t->name, i), err;
	struct stat st;

	if (fd >= 0) {
		err = fstat(fd, &st) < 0 ? -errno : 0;
		if (!err &&
		    !!S_ISSOCK(st.st_mode) != !!(flags & XIO_TARGET_SOCKET))
			err = -ESTALE;
		if (!err && !(flags & XIO_TARGET_SOCKET))
			err = file_target_check(fd, size);
		if (err) {
			close(fd);
			fd = err;
		}
	}
	if (fd < 0) {
		log_warn(
			"tenant %u '%s': target %u was passed as an fd: not kept (%s), its requests fail with EBADF",
			t->id, t->name, i,
			fd == -ENOTCONN ? "no fd keeper" : strerror(-fd));
		return -1;
	}
	log_info("tenant %u '%s': target %u (an fd) back from the fd keeper",
		 t->id, t->name, i);
	return fd;
}

/* Targets and quota of a re-adopted tenant, from its log. */
static void tenant_restore(struct tenant *t, const struct ilog_hdr *h)
{
	uint32_t i, n = h->nr_targets;

	for (i = 0; i < n; i++) {
		struct ilog_target lt = t->log.targets[i];
		uint64_t size = 0;
		int fd = -1;

		/* A target that cannot be reopened keeps its index; its ops
		 * complete with -EBADF (io_uring on fd -1), never silently. */
		if (lt.kind == ILOG_T_PATH) {
			fd = target_open(lt.path, lt.flags, &size);
			if (fd < 0)
				log_warn(
					"tenant %u '%s': target %u %s: reopen: %s: its requests fail with EBADF",
					t->id, t->name, i, lt.path,
					strerror(-fd));
		} else {
			fd = target_kept(t, i, lt.flags, &size);
		}
		target_install(t, fd < 0 ? -1 : fd,
			       lt.flags &
				       (XIO_TARGET_RDONLY | XIO_TARGET_DIRECT |
					XIO_TARGET_SOCKET),
			       size, lt.path, lt.kind);
	}
	if (h->q_weight >= 1 && h->q_weight <= XIO_QUOTA_WEIGHT_MAX)
		t->q_weight = h->q_weight;
	if (h->q_ops_rate <= XIO_QUOTA_OPS_RATE_MAX)
		t->q_ops_rate = h->q_ops_rate;
	if (h->q_bytes_rate <= XIO_QUOTA_BYTES_RATE_MAX)
		t->q_bytes_rate = h->q_bytes_rate;
	if (h->q_inflight >= 1 && h->q_inflight <= t->nr_ops)
		t->q_inflight = h->q_inflight;
	quota_persist(t);
}

/*
 * Finish what the log says was in flight: CQEs the guest has not seen are
 * posted again (in CQ order) and published; requests never completed go to
 * the poller, to run first, in sequence order.  Crash-safe like the poller:
 * a record is rewritten before its CQE, freed after the tail.
 */
static int tenant_recover(struct tenant *t)
{
	struct ilog_pos pos[XIO_MAX_QPAIRS];
	struct ilog_rstats st;
	struct ilog_fix *f;
	uint32_t i, n, k, *cnt;
	int err;

	for (i = 0; i < t->nr_qpairs; i++)
		xio_host_qp_indices(t->qps[i].hq, &pos[i].sq_head,
				    &pos[i].cq_tail);
	err = ilog_recover(&t->log, pos, &f, &n, &st);
	if (err)
		return err;
	/* The records recovery dropped are FREE now. */
	err = tenant_log_init(t);
	if (err) {
		free(f);
		return err;
	}
	cnt = calloc(t->nr_qpairs, sizeof(*cnt));
	if (!cnt) {
		free(f);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		cnt[f[i].qp]++;
	for (i = 0; i < t->nr_qpairs && !err; i++)
		if (cnt[i])
			err = xio_host_cq_reserve(t->qps[i].hq, cnt[i]);
	free(cnt);
	if (err) {
		/* More than the guest's CQ can hold: not a log we wrote. */
		log_warn(
			"tenant %u '%s': in-flight log: %u requests do not fit the CQ: not trusted",
			t->id, t->name, n);
		free(f);
		return -EBADMSG;
	}
	for (i = 0, k = 0; i < n; i++) {
		struct xqp *q = &t->qps[f[i].qp];
		struct ilog_rec *r = &q->recs[f[i].rec];
		uint32_t cq_idx;

		if (!f[i].repost) {
			f[k++] = f[i];
			continue;
		}
		xio_host_qp_indices(q->hq, NULL, &cq_idx);
		r->cq_idx = cq_idx;
		r->cqe_flags &= XIO_CQE_F_INVALID;
		xio_host_cq_post(q->hq, f[i].sqe.user_data, r->res,
				 r->cqe_flags);
		q->pend[q->nr_pend++] = f[i].rec;
	}
	for (i = 0; i < t->nr_qpairs; i++) {
		struct xqp *q = &t->qps[i];

		xio_host_cq_publish(q->hq);
		__atomic_signal_fence(
			__ATOMIC_SEQ_CST); /* L3, see qp_publish */
		for (; q->nr_pend; q->nr_pend--) {
			q->recs[q->pend[q->nr_pend - 1]].state = ILOG_FREE;
			q->rfree[q->nr_rfree++] = q->pend[q->nr_pend - 1];
		}
	}
	t->seq = st.next_seq;
	t->resub = k ? f : NULL;
	t->nr_resub = k;
	if (!k)
		free(f);
	log_info(
		"tenant %u '%s': in-flight log: %u reposted, %u resubmitted (%u invalid, %u sends/receives answered EINTR), %u already seen, %u retaken; dropped %u corrupt, %u duplicate",
		t->id, t->name, st.repost, st.resubmit, st.invalid, st.unsure,
		st.visible, st.retake, st.corrupt, st.dup);
	return 0;
}

/* @lg (checked by ilog_open()) becomes @t's; its targets, quota and
 * requests in flight are restored. */
static int tenant_adopt_log(struct tenant *t, struct ilog *lg)
{
	t->log = *lg;
	lg->base = NULL; /* moved */
	lg->fd = -1;
	lg->path = NULL;
	tenant_restore(t, t->log.hdr);
	acct_restore(t);
	return tenant_recover(t);
}

/*
 * REATTACH: a guest whose xiod died re-sends its region and eventfds; the
 * tenant is rebuilt from its in-flight log.  Everything the guest sends
 * and everything in the log is checked before it is used.
 */
static int do_reattach(struct conn *c, const struct xio_msg_reattach *m,
		       int *fds, unsigned int nfds)
{
	struct xio_msg_attach_reply r;
	struct xio_msg_attach a;
	struct xio_region *region = NULL;
	const struct xio_layout *l;
	struct ilog lg = {.fd = -1};
	const struct ilog_hdr *h;
	struct adopt ad;
	struct tenant *t = NULL, *o;
	uint32_t i, same_uid = 0;
	int err;

	if (c->t || c->waiting)
		err = -EALREADY;
	else if (quitting)
		err = -ESHUTDOWN;
	else if (!cfg.state_dir)
		err = -EOPNOTSUPP; /* nothing was logged to recover from */
	else if (!xio__str_ok(m->name, sizeof(m->name)) || !name_ok(m->name) ||
		 m->flags || m->resv || !m->nr_qpairs ||
		 m->nr_qpairs > XIO_MAX_QPAIRS)
		err = -EINVAL;
	else if (nfds != 1 + 2 * m->nr_qpairs)
		err = -EBADF;
	else if (nr_tenants >= cfg.max_tenants)
		err = -EUSERS;
	else
		err = 0;
	for (o = tenants; o && !err; o = o->next) {
		if (!strcmp(o->name, m->name) || o->id == m->tenant_id)
			err = -EEXIST;
		if (!c->admin && o->uid == c->cred.uid)
			same_uid++;
	}
	/* Logs left by earlier crashes do not lift the per-user cap. */
	if (!err && !c->admin && same_uid >= cfg.max_guest_tenants)
		err = -EUSERS;
	for (i = 1; i < nfds && !err; i++)
		if (!xiod_is_eventfd(fds[i])) /* else a poll could stall */
			err = -EINVAL;
	if (err)
		goto out;
	err = ilog_open(cfg.state_dir, m->name, &lg);
	if (err)
		goto out;
	h = lg.hdr;
	/* Only its own user (or an admin) re-adopts a tenant. */
	if (!c->admin && h->uid != c->cred.uid) {
		err = -EPERM;
		goto out;
	}
	if (h->tenant_id != m->tenant_id || h->nr_qpairs != m->nr_qpairs) {
		err = -ESTALE;
		goto out;
	}
	/* Validated like any peer's region, then held to the log's
	 * geometry. */
	err = xio_region_attach_fd(fds[0], XIO_ATTACH_REQUIRE_SEALS, &region);
	if (err)
		goto out;
	l = xio_region_layout(region);
	if (l->nr_qpairs != h->nr_qpairs || l->sq_entries != h->sq_entries ||
	    l->cq_entries != h->cq_entries || l->buf_size != h->buf_size ||
	    l->nr_bufs != h->nr_bufs ||
	    xio_region_size(region) != h->region_size) {
		err = -ESTALE;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	memcpy(a.name, m->name, sizeof(a.name));
	a.numa_node = XIO_ATTACH_NUMA_AUTO;
	a.flags = h->attach_flags & XIO_ATTACH_F_MASK;
	ad.region = region;
	ad.evfds = fds + 1;
	ad.id = h->tenant_id;
	err = tenant_create(&a, c, NULL, &ad, &t);
	if (err)
		goto out;
	/* Now the tenant's: closed with it. */
	region = NULL;
	for (i = 1; i < nfds; i++)
		fds[i] = -1;
	err = tenant_adopt_log(t, &lg);
	if (err)
		goto drop;
	memset(&r, 0, sizeof(r));
	xio__msg_hdr_init(&r.hdr, XIO_MSG_REATTACH | XIO_MSG_REPLY, m->hdr.seq);
	r.tenant_id = t->id;
	r.region_size = xio_region_size(t->region);
	r.nr_qpairs = t->nr_qpairs;
	send_msg(c, &r, NULL, 0);
	if (c->dead && !t->persist)
		goto drop; /* the log stays for the next try */
	if (t->id >= next_id)
		next_id = t->id + 1;
	if (!t->persist) {
		t->conn = c;
		c->t = t;
	}
	tenant_enlist(t, XIO_ATTACH_NUMA_AUTO);
	log_info("tenant %u '%s' reattached: pid %d uid %u, poller %u", t->id,
		 t->name, (int)c->cred.pid, (unsigned)c->cred.uid, t->p->idx);
	steering_tenant_back(t);
	poller_send(t->p, XIO_PCMD_ADD, t);
	err = 0;
	goto out;
drop:
	ilog_close(&t->log, false);
	tenant_free(t);
out:
	ilog_close(&lg, false);
	xio_region_destroy(region);
	for (i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

/*
 * Logs found at startup, whose tenants have --orphan-grace seconds to
 * reattach (docs/daemon.md, "Orphaned logs").
 */
struct orphan {
	char name[XIO_NAME_MAX];
	struct orphan *next;
};
static struct orphan *orphans;
static uint64_t orphans_due; /* mono_ns() */

static void orphan_add(const char *file)
{
	size_t n = strlen(file) - 5; /* ".ilog" */
	struct orphan *o;

	if (!cfg.orphan_grace || n >= XIO_NAME_MAX)
		return;
	o = calloc(1, sizeof(*o));
	if (!o)
		return;
	memcpy(o->name, file, n);
	o->next = orphans;
	orphans = o;
	orphans_due = mono_ns() + (uint64_t)cfg.orphan_grace * 1000000000ULL;
}

/*
 * The grace is over: a log whose tenant is not back (no live tenant of that
 * name: a reattached one, or a new one whose log replaced it) is removed,
 * with a final record as a detach leaves (its counters died with the
 * killed xiod: zero).  What it still held in flight is lost, and said so.
 */
static void orphans_check(void)
{
	struct orphan *o;

	if (!orphans || mono_ns() < orphans_due)
		return;
	while ((o = orphans)) {
		struct ilog lg = {.fd = -1};
		struct tenant *t;
		int err = 0;

		orphans = o->next;
		for (t = tenants; t && strcmp(t->name, o->name); t = t->next)
			;
		if (!t)
			err = ilog_open(cfg.state_dir, o->name, &lg);
		if (!t && !err) {
			const struct ilog_hdr *h = lg.hdr;
			uint64_t i, live = 0,
				    nr = (uint64_t)h->nr_qpairs * h->cq_entries;
			struct final *f = calloc(1, sizeof(*f));

			for (i = 0; i < nr; i++)
				live += XIO_READ_ONCE(lg.recs[i].state) !=
					ILOG_FREE;
			if (f) {
				/* Its counters as of the last snapshot. */
				acct_load(h, &f->s);
				f->s.sz = sizeof(f->s);
				f->s.version = XIO_STATS_VERSION;
				f->s.id = h->tenant_id;
				memcpy(f->s.name, h->name, sizeof(f->s.name));
				f->s.weight = h->q_weight;
				f->s.ops_rate = h->q_ops_rate;
				f->s.bytes_rate = h->q_bytes_rate;
				f->s.inflight_cap = h->q_inflight;
				final_push(f);
			}
			log_warn(
				"tenant %u '%s': not reattached within %u s of the restart: its in-flight log removed (%llu requests in it lost)",
				h->tenant_id, o->name, cfg.orphan_grace,
				(unsigned long long)live);
			steering_forget(h->tenant_id);
			fdkeep_drop(o->name);
			ilog_close(&lg, true);
		} else if (err == -EBADMSG) {
			char *path;

			log_warn(
				"in-flight log of '%s': not trusted, not reattached within %u s: removed",
				o->name, cfg.orphan_grace);
			if (asprintf(&path, "%s/%s.ilog", cfg.state_dir,
				     o->name) >= 0) {
				unlink(path);
				free(path);
			}
		}
		free(o);
	}
}

/* Milliseconds until orphans_check() has work, or -1. */
static int orphans_tick_ms(void)
{
	uint64_t now = mono_ns();

	if (!orphans)
		return -1;
	return now >= orphans_due ? 0 :
				    (int)((orphans_due - now) / 1000000 + 1);
}

/*
 * At startup, a VM tenant whose in-flight log is in the state directory is
 * re-adopted by xiod itself: nobody would send a REATTACH for it (QEMU does
 * not speak xio), and no libvirt round-trip is needed.  The region file
 * QEMU still maps (ivshmem-plain: the log's path; ivshmem-doorbell:
 * <state dir>/<name>.region, and xiod listens on its socket again) is
 * checked like guest input and held to the log's geometry, then the
 * tenant gets the restore and recovery of a REATTACH.  1: not a VM
 * tenant's log (its guest reattaches); 0; or -errno, the log and the file
 * left as they are.
 */
static int vm_readopt(const char *name)
{
	struct xio_msg_vm_tenant m;
	struct xio_msg_attach a;
	const struct xio_layout *l;
	const struct ilog_hdr *h;
	struct conn self;
	struct ilog lg;
	int kfds[2 * XIO_MAX_QPAIRS];
	struct adopt ad = {0};
	struct tenant *t = NULL, *o;
	uint32_t i;
	int err;

	err = ilog_open(cfg.state_dir, name, &lg);
	if (err)
		return err;
	h = lg.hdr;
	if (!h->vm_kind) {
		ilog_close(&lg, false);
		return 1;
	}
	err = nr_tenants >= cfg.max_tenants ? -EUSERS : 0;
	for (o = tenants; o && !err; o = o->next)
		if (!strcmp(o->name, name) || o->id == h->tenant_id)
			err = -EEXIST;
	if (err)
		goto out;
	/* Everything from the log: checked by ilog_open(), and again by
	 * vm_tenant_region() as if an administrator had sent it. */
	memset(&m, 0, sizeof(m));
	memcpy(m.name, h->name, sizeof(m.name));
	memcpy(m.path, h->vm_path, sizeof(m.path));
	m.size = h->region_size;
	m.nr_qpairs = h->nr_qpairs;
	m.sq_entries = h->sq_entries;
	m.cq_entries = h->cq_entries;
	m.buf_size = h->buf_size;
	m.nr_bufs = h->nr_bufs;
	m.numa_node = h->vm_node;
	m.uid = h->vm_uid;
	m.gid = h->vm_gid;
	m.mode = h->vm_mode;
	m.flags = XIO_VM_F_ADOPT;
	if (h->vm_kind == ILOG_VM_DOORBELL)
		m.flags |= XIO_VM_F_DOORBELL;
	vm_attach_msg(&m, &a);
	/*
	 * ivshmem-doorbell: QEMU keeps the eventfds of the xiod that died and
	 * does not take new ones from a server (docs/vm.md).  The doorbell
	 * keeper has them (fdkeep.c): served on its kicks as before.  If not,
	 * the guest's kicks are lost from now on: the tenant is polled.
	 */
	if (m.flags & XIO_VM_F_DOORBELL) {
		err = fdkeep_get(name, kfds, h->nr_qpairs);
		if (!err)
			ad.evfds = kfds;
		else
			log_warn(
				"tenant '%s': ivshmem-doorbell eventfds not kept (%s): polled from now on",
				name,
				err == -ENOTCONN ? "no fd keeper" :
						   strerror(-err));
	}
	if (!ad.evfds)
		a.flags |= XIO_ATTACH_F_NO_DOORBELL;
	memset(&self, 0, sizeof(self));
	self.cred.uid = h->uid;
	ad.id = h->tenant_id;
	err = tenant_create(&a, &self, &m, &ad, &t);
	if (err) {
		/* Still ours (tenant_create() took nothing). */
		for (i = 0; ad.evfds && i < 2 * h->nr_qpairs; i++)
			close(kfds[i]);
		goto out;
	}
	/* The file is the tenant's: its name (xiod wrote it at creation; a
	 * guest that changed it only fails its own re-adoption), geometry
	 * and size as logged. */
	l = xio_region_layout(t->region);
	if (strcmp(xio_region_name(t->region), name) ||
	    l->nr_qpairs != h->nr_qpairs || l->sq_entries != h->sq_entries ||
	    l->cq_entries != h->cq_entries || l->buf_size != h->buf_size ||
	    l->nr_bufs != h->nr_bufs ||
	    xio_region_size(t->region) != h->region_size) {
		err = -ESTALE;
		goto drop;
	}
	err = tenant_adopt_log(t, &lg);
	if (!err && (m.flags & XIO_VM_F_DOORBELL))
		err = vm_doorbell_listen(t, &m);
	if (err)
		goto drop;
	if (t->id >= next_id)
		next_id = t->id + 1;
	tenant_enlist(t, m.numa_node);
	log_info("tenant %u '%s': VM tenant re-adopted: %s %s, poller %u%s",
		 t->id, t->name,
		 (m.flags & XIO_VM_F_DOORBELL) ? "ivshmem-doorbell server" :
						 "file",
		 m.path, t->p->idx,
		 !(m.flags & XIO_VM_F_DOORBELL) ? "" :
		 ad.evfds ? " (its eventfds from the fd keeper: kicked)" :
			    " (polled from now on)");
	steering_tenant_back(t);
	poller_send(t->p, XIO_PCMD_ADD, t);
	return 0;
drop:
	vm_tenant_keep_file(t);
	ilog_close(&t->log, false);
	tenant_free(t);
out:
	ilog_close(&lg, false);
	return err;
}

/* Every VM tenant logged in the state directory, at startup. */
static void vm_readopt_all(void)
{
	struct dirent *de;
	DIR *d;

	if (!cfg.state_dir)
		return;
	d = opendir(cfg.state_dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char name[XIO_NAME_MAX];
		int err;

		if (n < 6 || n - 5 >= sizeof(name) ||
		    strcmp(de->d_name + n - 5, ".ilog"))
			continue;
		memcpy(name, de->d_name, n - 5);
		name[n - 5] = '\0';
		if (!name_ok(name))
			continue;
		/* Opened to learn its kind: a local tenant's log fails here
		 * too, and is tried again when its guest reattaches. */
		err = vm_readopt(name);
		if (err < 0)
			log_warn(
				"tenant '%s': in-flight log not re-adopted at startup: %s (it stays: a local tenant may still reattach, a VM tenant's is an orphan)",
				name, strerror(-err));
	}
	closedir(d);
}

/* Ids in the state directory stay reserved for their tenants' return. */
static void state_dir_scan(void)
{
	struct dirent *de;
	DIR *d;

	if (!cfg.state_dir)
		return;
	if (mkdir(cfg.state_dir, 0700) < 0 && errno != EEXIST)
		log_warn("state directory %s: %s", cfg.state_dir,
			 strerror(errno));
	d = opendir(cfg.state_dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		uint32_t id;
		char *path;

		if (n < 6 || strcmp(de->d_name + n - 5, ".ilog"))
			continue;
		if (asprintf(&path, "%s/%s", cfg.state_dir, de->d_name) < 0)
			continue;
		if (!ilog_peek(path, &id)) {
			if (id >= next_id && id < UINT32_MAX)
				next_id = id + 1;
			orphan_add(de->d_name);
		}
		free(path);
	}
	closedir(d);
}

/* ---- connections -------------------------------------------------------- */

static void conn_close(struct conn *c)
{
	struct conn **pp;

	if (c->t && c->t->persist) {
		/* Lives on until TENANT_DETACH (a VM's region, say). */
		log_info("tenant %u '%s': connection closed, tenant persists",
			 c->t->id, c->t->name);
		c->t->conn = NULL;
		c->t = NULL;
	}
	if (c->t)
		tenant_detach(c->t, NULL, 0, 0);
	if (c->waiting)
		c->waiting->waiter = NULL;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	for (pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	log_debug("conn pid %d closed", (int)c->cred.pid);
	free(c);
}

static void listen_resume(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};

	if (!listen_paused || listen_fd < 0)
		return;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) == 0)
		listen_paused = false;
}

static void close_dead(void)
{
	struct conn *c = conns, *next;
	bool closed = false;

	for (; c; c = next) {
		next = c->next;
		if (c->dead) {
			conn_close(c);
			closed = true;
		}
	}
	if (closed)
		listen_resume();
}

static const char *reason(int err)
{
	switch (err) {
	case -EBADMSG:
		return "malformed (size, magic or length)";
	case -EPROTONOSUPPORT:
		return "unsupported protocol version";
	case -EOPNOTSUPP:
		return "unknown message type";
	case -EMSGSIZE:
		return "oversized message or too many fds";
	case -EBADF:
		return "wrong number of fds";
	default:
		return strerror(-err);
	}
}

/*
 * Strict framing: exact size for the type, header fields, fd count.  On
 * success the message is a request of a known type carrying exactly the
 * fds it should.
 */
static int parse(const struct xio_msg_hdr *h, long n, unsigned int nfds,
		 int flags)
{
	size_t want;

	if (flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	if ((size_t)n < sizeof(*h) || h->magic != XIO_PROTO_MAGIC)
		return -EBADMSG;
	if (h->version != XIO_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->type == 0 || h->type >= XIO_MSG_REPLY || !xio_msg_size(h->type))
		return -EOPNOTSUPP;
	want = xio_msg_size(h->type);
	if ((size_t)n != want || h->len != want)
		return -EBADMSG;
	if (!xio_msg_fds_ok(h->type, nfds))
		return -EBADF;
	return 0;
}

static int do_steer(struct conn *c, const struct xio_msg_steer *m);

/* REATTACH's fds, and room to see (and refuse) a few extra ones. */
#define RECV_FDS (XIO_MSG_MAX_FDS + 4)

static void conn_readable(struct conn *c)
{
	union {
		struct xio_msg_hdr h;
		struct xio_msg_attach attach;
		struct xio_msg_tenant_list tl;
		struct xio_msg_target_add ta;
		struct xio_msg_target_list tg;
		struct xio_msg_tenant_detach td;
		struct xio_msg_stats st;
		struct xio_msg_stats_reset sr;
		struct xio_msg_poller_stats ps;
		struct xio_msg_quota qu;
		struct xio_msg_vm_tenant vm;
		struct xio_msg_steer se;
		struct xio_msg_reattach ra;
		char b[XIO_MSG_MAX_SIZE + 1];
	} * m;
	int fds[RECV_FDS];
	unsigned int nfds, i;
	int flags, err;
	long n;

	m = malloc(sizeof(*m));
	if (!m)
		return; /* level-triggered: retried */
	n = xio__msg_recv(c->fd, m, sizeof(*m), fds, RECV_FDS, &nfds, &flags);
	if (n == -EAGAIN || n == -EINTR)
		goto out;
	/* 0 bytes is a hang-up or an empty message, which may carry fds. */
	err = n <= 0 ? -ECONNRESET : parse(&m->h, n, nfds, flags);
	if (err) {
		uint32_t seq;

		for (i = 0; i < nfds && i < RECV_FDS; i++)
			close(fds[i]);
		if (n <= 0) {
			c->dead = true;
			goto out;
		}
		seq = (size_t)n >= sizeof(m->h) ? m->h.seq : 0;
		if (log_ratelimit())
			log_warn(
				"conn pid %d uid %u: refused message (%ld bytes, %u fds): %s",
				(int)c->cred.pid, (unsigned)c->cred.uid, n,
				nfds, reason(err));
		reply_status(c, XIO_MSG_ERROR, seq, err);
		/* Only a run of framing errors ends the connection. */
		if (++c->errors >= MAX_PROTO_ERRORS) {
			log_warn("conn pid %d: too many bad messages: closing",
				 (int)c->cred.pid);
			c->dead = true;
		}
		goto out;
	}
	c->errors = 0;
	switch (m->h.type) {
	case XIO_MSG_ATTACH:
		err = do_attach(c, &m->attach);
		break;
	case XIO_MSG_DETACH:
		if (!c->t) {
			err = -ENOENT;
			break;
		}
		/* Replied when drained. */
		tenant_detach(c->t, c, m->h.seq,
			      XIO_MSG_DETACH | XIO_MSG_REPLY);
		err = 0;
		break;
	case XIO_MSG_TENANT_LIST:
		err = do_tenant_list(c, &m->tl);
		break;
	case XIO_MSG_TARGET_ADD:
		err = do_target_add(c, &m->ta, -1);
		break;
	case XIO_MSG_TARGET_ADD_FD:
		err = do_target_add(c, &m->ta, fds[0]);
		break;
	case XIO_MSG_TARGET_LIST:
		err = do_target_list(c, &m->tg);
		break;
	case XIO_MSG_TENANT_DETACH:
		err = do_tenant_detach(c, &m->td);
		break;
	case XIO_MSG_STATS:
		err = do_stats(c, &m->st);
		break;
	case XIO_MSG_STATS_RESET:
		err = do_stats_reset(c, &m->sr);
		break;
	case XIO_MSG_POLLER_STATS:
		err = do_poller_stats(c, &m->ps);
		break;
	case XIO_MSG_QUOTA:
		err = do_quota(c, &m->qu);
		break;
	case XIO_MSG_VM_TENANT:
		err = do_vm_tenant(c, &m->vm);
		break;
	case XIO_MSG_REATTACH:
		err = do_reattach(c, &m->ra, fds, nfds);
		break;
	case XIO_MSG_STEER:
		err = do_steer(c, &m->se);
		break;
	default:
		err = -EOPNOTSUPP; /* not reached: parse() checked */
		break;
	}
	if (err && log_ratelimit()) {
		log_info("conn pid %d uid %u: request type %u: %s",
			 (int)c->cred.pid, (unsigned)c->cred.uid, m->h.type,
			 strerror(-err));
	}
	if (err) {
		/* Refusals share one shape: XIO_MSG_ERROR with the status. */
		reply_status(c, XIO_MSG_ERROR, m->h.seq, err);
	}
out:
	free(m);
}

static int do_steer(struct conn *c, const struct xio_msg_steer *m)
{
	struct xio_msg_steer_reply *r;
	struct tenant *t = NULL;
	int err;

	if (!c->admin)
		return -EPERM;
	if (m->op == XIO_STEER_OP_ADD || m->op == XIO_STEER_OP_DEL) {
		err = tenant_for(c, m->tenant, sizeof(m->tenant), &t);
		if (err)
			return err;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = steering_request(m, t, r);
	if (!err) {
		xio__msg_hdr_init(&r->hdr, XIO_MSG_STEER | XIO_MSG_REPLY,
				  m->hdr.seq);
		send_msg(c, r, NULL, 0);
	}
	free(r);
	return err;
}

static void accept_conns(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	socklen_t len;
	struct conn *c;
	int fd;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/*
				 * Out of fds: the pending connection would
				 * wake a level-triggered epoll forever.  Stop
				 * listening until something is freed.
				 */
				log_warn(
					"accept: %s: not accepting until a connection or tenant goes away",
					strerror(errno));
				epoll_ctl(epfd, EPOLL_CTL_DEL, listen_fd, NULL);
				listen_paused = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		len = sizeof(struct ucred);
		if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred,
				     &len) < 0) {
			log_warn("accept: no peer credentials: closing");
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		/* uid 0 or our own uid: administrator.  Others: guests. */
		c->admin = c->cred.uid == 0 || c->cred.uid == geteuid();
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("epoll: %s", strerror(errno));
			free(c);
			close(fd);
			continue;
		}
		c->next = conns;
		conns = c;
		log_debug("conn pid %d uid %u (%s)", (int)c->cred.pid,
			  (unsigned)c->cred.uid, c->admin ? "admin" : "guest");
	}
}

/*
 * A tenant drained for a handover: what the next xiod re-adopts stays --
 * its in-flight log (with its counters as they are now), a VM tenant's
 * region file, its steering rules (the file: steering_close() ran first)
 * -- and what the fd keeper holds of it (targets passed as fds, doorbell
 * eventfds: fdkeep.c) stays there.  No final record: the tenant lives on.
 */
static void tenant_hand_over(struct tenant *t)
{
	acct_store(t); /* its final counters: the next xiod goes on */
	log_info("tenant %u '%s': handed over to the next xiod%s", t->id,
		 t->name,
		 t->ho_left ?
			 " with requests still in flight (restart barrier)" :
			 "");
	if (t->ho_left) {
		t->next = left_in_flight;
		left_in_flight = t;
		return;
	}
	ilog_close(&t->log, false);
	vm_tenant_keep_file(t);
	tenant_free(t);
}

bool control_left_in_flight(void)
{
	return left_in_flight != NULL;
}

static void reap_drained(void)
{
	struct tenant *t, *next, **pp;
	uint64_t v;

	if (read(done_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("control: %s", strerror(errno));
	pthread_mutex_lock(&done_lock);
	t = done_list;
	done_list = NULL;
	pthread_mutex_unlock(&done_lock);
	for (; t; t = next) {
		struct conn *w = t->waiter;
		uint32_t w_type = t->waiter_type, w_seq = t->waiter_seq;

		next = t->done_next;
		for (pp = &tenants; *pp; pp = &(*pp)->next) {
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		}
		tenants_tail = &tenants;
		while (*tenants_tail)
			tenants_tail = &(*tenants_tail)->next;
		nr_tenants--;
		t->p->nr_assigned--;
		if (t->handover) {
			tenant_hand_over(t);
			continue;
		}
		log_info(
			"tenant %u '%s' detached: %llu ops, %llu invalid, %llu kicks",
			t->id, t->name,
			(unsigned long long)ctr_get(&t->st.taken),
			(unsigned long long)ctr_get(&t->st.invalid),
			(unsigned long long)ctr_get(&t->st.kicks));
		final_record(t);
		/* Answer after tenant_free(): a detach reported done has
		 * removed the VM region file and the ivshmem socket too. */
		tenant_free(t);
		if (w) {
			w->waiting = NULL;
			reply_status(w, w_type, w_seq, 0);
		}
	}
	listen_resume();
}

#ifdef XIOD_FUZZ
/*
 * tests/fuzz/fuzz_control.c: the request handling without the loop.  Serve
 * @nmsgs messages waiting on @fd (a non-blocking socket) as from a peer of
 * uid @uid, reaping what a detach drained after each (the fuzzer's
 * poller_send() drains at once), then hang up and tear down everything the
 * messages made, persistent tenants included.
 */
void control_fuzz_session(int fd, uid_t uid, unsigned int nmsgs)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct tenant *t;

	if (done_fd < 0)
		done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!c || done_fd < 0)
		abort();
	c->fd = fd;
	c->cred.pid = getpid();
	c->cred.uid = uid;
	c->admin = uid == 0 || uid == geteuid();
	c->next = conns;
	conns = c;
	while (nmsgs-- && !c->dead) {
		conn_readable(c);
		reap_drained();
	}
	c->dead = true;
	close_dead();
	for (t = tenants; t; t = t->next)
		tenant_detach(t, NULL, 0, 0);
	reap_drained();
}
#endif

static void start_quit(void)
{
	struct tenant *t;

	if (quitting)
		return;
	quitting = true;
	handing_over = cfg.state_dir && !cfg.stop_detach;
	log_info("shutting down: %s %u tenant(s)",
		 handing_over ? "handing over" : "detaching", nr_tenants);
	if (!listen_paused)
		epoll_ctl(epfd, EPOLL_CTL_DEL, listen_fd, NULL);
	close(listen_fd);
	listen_fd = -1;
	unlink(cfg.socket_path);
	steering_close(); /* interfaces back as they were, at once */
	/*
	 * A handover (docs/daemon.md, "Clean stop"): each tenant not already
	 * detaching is drained for the next xiod, which re-adopts it; its
	 * guest's connection closes (the guest reattaches).
	 */
	for (t = tenants; t && handing_over; t = t->next) {
		if (t->state != T_RUNNING)
			continue;
		t->state = T_DETACHING;
		t->handover = true;
		if (t->conn)
			t->conn->t = NULL;
		t->conn = NULL;
		poller_send(t->p, XIO_PCMD_HANDOVER, t);
	}
	while (conns)
		conn_close(conns);
	for (t = tenants; t; t = t->next)
		tenant_detach(t, NULL, 0, 0);
}

/* ---- setup and loop ----------------------------------------------------- */

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *s;

	snprintf(dir, sizeof(dir), "%s", path);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return 0;
	*s = '\0';
	for (s = dir + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int control_listen(void);

int control_listen(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int err, probe;

	if (strlen(cfg.socket_path) >= sizeof(sa.sun_path)) {
		log_err("socket path %s: longer than %zu bytes",
			cfg.socket_path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, cfg.socket_path);
	err = mkdir_parent(cfg.socket_path);
	if (err) {
		log_err("creating the directory of %s: %s", cfg.socket_path,
			strerror(-err));
		return err;
	}
	/* A socket file nobody listens on is stale: replace it. */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 &&
	    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		log_err("%s: another xiod is listening there", cfg.socket_path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	/* Nothing recovered (nor the socket taken) before the killed xiod's
	 * threads, and its O_DIRECT requests, are gone: ilog.c, "the restart
	 * barrier". */
	if (cfg.state_dir) {
		state_lock_fd = ilog_barrier(cfg.state_dir, cfg.restart_wait,
					     &rings_lock_fd);
		if (state_lock_fd < 0) {
			err = state_lock_fd;
			state_lock_fd = -1;
			if (err != -ETIMEDOUT)
				log_err("state directory %s: %s", cfg.state_dir,
					strerror(-err));
			return err;
		}
	}
	unlink(cfg.socket_path);
	listen_fd = socket(AF_UNIX,
			   SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listen_fd < 0)
		return -errno;
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(cfg.socket_path, cfg.socket_mode) < 0 ||
	    listen(listen_fd, 64) < 0) {
		err = -errno;
		log_err("listening on %s: %s", cfg.socket_path, strerror(-err));
		return err;
	}
	return 0;
}

int control_run(void)
{
	struct epoll_event ev = {.events = EPOLLIN}, evs[32];
	sigset_t mask;
	int i, n;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm_tenant_init() < 0)
		return -errno;
	state_dir_scan();
	steering_restore();
	fdkeep_open(vm_doorbell_fd(), VM_DOORBELL_TAG_KEEPER);
	vm_readopt_all();
	fdkeep_sweep(); /* what no re-adopted tenant took */
	done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sig_fd < 0 || done_fd < 0 || epfd < 0)
		return -errno;
	ev.data.ptr = &tag_listen;
	epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev);
	ev.data.ptr = &tag_done;
	epoll_ctl(epfd, EPOLL_CTL_ADD, done_fd, &ev);
	ev.data.ptr = &tag_sig;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sig_fd, &ev);
	if (metrics_fd() >= 0) {
		ev.data.ptr = &tag_metrics;
		epoll_ctl(epfd, EPOLL_CTL_ADD, metrics_fd(), &ev);
	}
	if (vm_doorbell_fd() >= 0) {
		ev.data.ptr = &tag_doorbell;
		epoll_ctl(epfd, EPOLL_CTL_ADD, vm_doorbell_fd(), &ev);
	}
	log_info("listening on %s (mode %04o), %u poller(s)", cfg.socket_path,
		 cfg.socket_mode, cfg.nr_pollers);

	while (!quitting || tenants) {
		int tick = vm_tenant_tick_ms(), o = orphans_tick_ms();
		int ac = acct_tick_ms();

		if (o >= 0 && (tick < 0 || o < tick))
			tick = o;
		if (ac >= 0 && (tick < 0 || ac < tick))
			tick = ac;
		n = epoll_wait(epfd, evs, 32, tick);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &tag_listen) {
				accept_conns();
			} else if (p == &tag_done) {
				reap_drained();
			} else if (p == &tag_metrics) {
				metrics_events();
			} else if (p == &tag_doorbell) {
				vm_doorbell_events();
			} else if (p == &tag_sig) {
				struct signalfd_siginfo si;

				if (read(sig_fd, &si, sizeof(si)) > 0)
					log_info("signal %u", si.ssi_signo);
				start_quit();
				break; /* the events array may name freed conns */
			} else {
				struct conn *c = p;

				if (c->dead)
					continue;
				if (evs[i].events & EPOLLIN)
					conn_readable(c);
				else
					c->dead = true;
			}
		}
		/* Closed only here: evs[] may still name a conn marked dead. */
		close_dead();
		vm_tenants_check();
		orphans_check();
		acct_persist();
	}
	while (finals)
		final_unlink(&finals);
	while (orphans) {
		struct orphan *o = orphans;

		orphans = o->next;
		free(o);
	}
	steering_close();
	/* A clean stop: nothing to restore, but for a handover, whose
	 * tenants' fds the keeper keeps for the next xiod. */
	if (!handing_over)
		steering_state_remove();
	fdkeep_close(handing_over);
	metrics_close();
	close(epfd);
	close(sig_fd);
	/* done_fd stays: pollers still draining a tenant write it until
	 * pollers_stop() (control_close()). */
	return 0;
}

void control_close(void)
{
	if (done_fd >= 0)
		close(done_fd);
	done_fd = -1;
}
