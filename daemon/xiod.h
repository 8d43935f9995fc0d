/* SPDX-License-Identifier: MIT */
/*
 * xiod internals: the control thread (control.c) owns connections and the
 * life of every tenant; poller threads (poller.c) own their io_uring and
 * the host side of the rings of the tenants assigned to them.  See
 * docs/daemon.md for the threads, the protocol and the lifecycle.
 *
 * Ownership rules (what keeps this free of locks on the data path):
 *  - a tenant is allocated, filled and freed by the control thread only;
 *    between its hand-over to a poller (XIO_PCMD_ADD) and the poller's
 *    "drained" report, every field marked [P] is touched by the poller only;
 *  - fields marked [C] are the control thread's; [A] fields are single-
 *    writer counters read by the other thread with relaxed atomics;
 *  - targets are append-only: an entry is filled, then nr_targets is
 *    store-released; the poller load-acquires nr_targets.  Target fds are
 *    closed only when the tenant is freed, after the poller drained it.
 */
#ifndef XIOD_H
#define XIOD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <liburing.h>
#include <xio/admin.h>
#include <xio/xio.h>

#include "ilog.h"
#include "proto.h"

/* ---- logging ------------------------------------------------------------ */

enum {
	LOG_ERR_,
	LOG_WARN_,
	LOG_INFO_,
	LOG_DEBUG_
};
extern int xiod_log_level;
void xiod_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...) xiod_log(LOG_ERR_, __VA_ARGS__)
#define log_warn(...) xiod_log(LOG_WARN_, __VA_ARGS__)
#define log_info(...) xiod_log(LOG_INFO_, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (xiod_log_level >= LOG_DEBUG_)                              \
			xiod_log(LOG_DEBUG_, __VA_ARGS__);                     \
	} while (0)

/*
 * Whether a line a peer can trigger at will may be logged now: at most 20
 * per second, then one line with how many were suppressed.  Any thread.
 */
bool log_ratelimit(void);

/* Relaxed single-writer counters (the other thread only reads them). */
#define ctr_add(p, v) __atomic_store_n((p), *(p) + (v), __ATOMIC_RELAXED)
#define ctr_get(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* ---- configuration ------------------------------------------------------ */

#define XIOD_MAX_POLLERS 64
#define XIOD_MAX_TENANTS_PER_POLLER 1024 /* also the fixed-buffer table size */

struct xiod_config {
	const char *socket_path;
	unsigned int socket_mode;
	unsigned int nr_pollers;
	int cpus[XIOD_MAX_POLLERS];
	unsigned int nr_cpus;
	int steer_cpus[XIOD_MAX_POLLERS]; /* --steer-cpus: nodes' hop CPUs */
	unsigned int nr_steer_cpus;
	unsigned int idle_us;
	unsigned int
		park_us; /* per-tenant idle time before parking; 0: never */
	unsigned int budget_entries; /* per queue pair per visit */
	unsigned int budget_bytes;   /* per tenant per visit */
	unsigned int inflight_cap;   /* per tenant */
	unsigned int max_tenants;
	unsigned int max_guest_tenants; /* per non-admin uid */
	uint64_t max_region_bytes;
	const char *metrics_listen; /* ADDR:PORT or NULL */
	const char *state_dir;	    /* in-flight logs (ilog.h) or NULL */
	unsigned int restart_wait; /* s, for the killed xiod's rings; 0: ever */
	unsigned int orphan_grace; /* s for a found log's tenant; 0: keep it */
	unsigned int stop_wait;	   /* s a handover waits for requests */
	bool stop_detach; /* a clean stop detaches every tenant (as without
			   * --state-dir) instead of handing them over */
	bool foreground;
	bool no_fixed_bufs;
	bool demo;
};
extern struct xiod_config cfg;
/* The restart barrier (ilog_barrier()): the process lock, and the ring lock
 * registered in every poller's ring; -1 without a state directory. */
extern int state_lock_fd;
extern int rings_lock_fd;

/* An eventfd, by what the kernel names it (fstat says nothing useful): what
 * a guest or the fd keeper hands over is checked with it (fdkeep.c). */
bool xiod_is_eventfd(int fd);

/* ---- tenants ------------------------------------------------------------ */

/*
 * Region geometry, name and NUMA binding of a new tenant from its request:
 * an ATTACH or a VM_TENANT message (wire structs with the same field names).
 */
#define REGION_OPTS_FROM_MSG(ro, m)                                            \
	do {                                                                   \
		(ro)->params.nr_qpairs = (m)->nr_qpairs;                       \
		(ro)->params.sq_entries = (m)->sq_entries;                     \
		(ro)->params.cq_entries = (m)->cq_entries;                     \
		(ro)->params.buf_size = (m)->buf_size;                         \
		(ro)->params.nr_bufs = (m)->nr_bufs;                           \
		(ro)->name = (m)->name;                                        \
		if ((m)->numa_node != XIO_ATTACH_NUMA_AUTO) {                  \
			(ro)->flags |= XIO_REGION_NUMA_BIND;                   \
			(ro)->numa_node = (m)->numa_node;                      \
		}                                                              \
	} while (0)

struct target {
	int fd;
	uint32_t flags; /* XIO_TARGET_* */
	uint64_t size;
	char path[XIO_TARGET_PATH_SHOWN];
};

struct tenant;

/* One queue pair as the poller sees it. */
struct xqp {
	struct xio_host_qp *hq; /* [P] */
	struct tenant *t;
	uint32_t idx;
	int kick_fd;	      /* eventfd: guest -> xiod (xiod owns it) */
	int notify_fd;	      /* eventfd: xiod -> guest (xiod owns it) */
	bool kick_armed;      /* [P] multishot poll on kick_fd pending */
	bool kick_paused;     /* [P] its poll cancelled while held by quota */
	bool dirty;	      /* [P] CQEs posted, not yet published */
	bool broken;	      /* [P] quarantined */
	bool cq_blocked;      /* [P] SQ pending but CQ full */
	bool notify_inflight; /* [P] an eventfd write to notify_fd pending */
	bool notify_owed;     /* [P] a notification could not be queued */
	bool notify_again;    /* [P] one was asked for while one was pending */
	/* in-flight log (ilog.h) [P] once added */
	struct ilog_rec *recs; /* cq_entries records in t->log */
	uint32_t *rfree;       /* free record indices (a stack) */
	uint32_t nr_rfree;
	uint32_t *pend; /* records of CQEs posted, not yet published */
	uint32_t nr_pend;
};

/* One io_uring operation of a tenant (its in-flight slot). */
struct op {
	struct tenant *t;
	struct xqp *q;
	uint64_t user_data;
	uint32_t next_free; /* free list; pktio.c: posted RX buffers */
	uint32_t rec;	    /* its in-flight log record in q->recs */
	uint8_t opcode;
	uint8_t in_use;
	uint32_t len; /* XIO_OP_PKT_RECV: the posted buffer */
	void *buf;
};

/* XIO_OP_PKT_SEND of one in-flight slot: sent as {hdr, the rest of the
 * frame in the pool}; hdr is the copy pktio_tx_check() checked. */
struct pkt_tx {
	struct msghdr msg;
	struct iovec iov[2];
	uint8_t hdr[14];
};

struct tenant_stats {
	uint64_t taken, completed, invalid, kicks, wakeups, notifies;
	uint64_t inflight;
	uint64_t max_visit_entries, max_visit_bytes;
	uint64_t parks;
	uint32_t broken;
	/* accounting (docs/accounting.md) */
	uint64_t errors;
	uint64_t bytes_read, bytes_written, bytes_sent, bytes_received;
	uint64_t inflight_max;
	uint64_t cycles; /* poller TSC cycles attributed */
	uint64_t throttled;
	/* packet I/O (pktio.c) */
	uint64_t pkt_received, pkt_sent;
	uint64_t pkt_drops;	 /* frames for it without a posted buffer */
	uint64_t pkt_tx_refused; /* PKT_SEND from a source MAC not its own */
};

/* ---- time accounting ---------------------------------------------------- */

/* A cheap timestamp: the TSC on x86-64, CLOCK_MONOTONIC ns elsewhere. */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t acct_now(void)
{
	return __rdtsc();
}
#else
#include <time.h>
static inline uint64_t acct_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
#endif
/* acct_now() units to ns (calibrated by pollers_start()). */
uint64_t acct_ns(uint64_t cycles);

enum tenant_state {
	T_RUNNING,
	T_DETACHING
};

struct conn;
struct poller;

struct tenant {
	uint32_t id;
	char name[XIO_NAME_MAX];
	pid_t pid;
	uid_t uid;
	struct xio_region *region;
	uint32_t nr_qpairs;
	uint32_t buf_size; /* pool slot size: the largest request */
	struct xqp *qps;

	struct target targets[XIO_MAX_TARGETS];
	uint32_t nr_targets; /* store-release by control, acquire by poller */

	/* in-flight slots [P] */
	struct op *ops;
	uint32_t nr_ops;
	uint32_t free_head; /* index of first free op, nr_ops = none */
	uint32_t nr_free;
	uint32_t uring_refs; /* io_uring requests naming this tenant */
	int fixed_slot;	     /* registered-buffer index or -1 */
	bool draining;	     /* [P] */
	bool persist;	     /* outlives its connection (admin's choice) */
	bool no_doorbell;    /* the guest cannot kick: never park/sleep long */
	bool vm;	     /* a VM tenant (XIO_MSG_VM_TENANT) */
	/* a clean stop hands it over (docs/daemon.md, "Clean stop"): [C] set
	 * before XIO_PCMD_HANDOVER; the rest [P] until handed back */
	bool handover;
	bool ho_cancelled;     /* [P] past --stop-wait: everything cancelled */
	bool handed;	       /* [P] handed back: its late CQEs are ignored */
	uint64_t ho_until;     /* [P] now_us() deadline of the current phase */
	uint32_t ho_left;      /* io_uring requests left at the hand-back */
	bool parked;	       /* [P] idle: not visited, NEED_WAKEUP armed */
	uint32_t pidx;	       /* [P] index in poller->parked[] while parked */
	uint64_t last_work_us; /* [P] last visit that took something */
	uint64_t w_cycles;     /* [P] charged in the current window */
	bool w_touched;	       /* [P] in poller->w_list */
	/* [P] buffers posted with XIO_OP_PKT_RECV: a FIFO of ops[] chained
	 * through next_free, oldest first (pktio.c) */
	uint32_t rx_head, rx_tail, rx_nr;
	/* PKT_SEND state per in-flight slot (nr_ops): made by the control
	 * thread with the tenant's first MAC rule (store-release, before the
	 * MAC is allowed), freed with the tenant; NULL: it cannot send */
	struct pkt_tx *tx;
	uint32_t sub_n; /* [P] its io_uring SQEs not yet submitted */
	/* weighted share of poller time [P] (poller.c round_robin()) */
	bool backlog;	    /* its last visit took something or was held */
	uint64_t vtime;	    /* attributed time / weight (virtual time) */
	uint64_t vt_mul;    /* vtime per cycle, << VT_SHIFT, from the weight */
	uint64_t vt_weight; /* the weight vt_mul was computed from */

	/* in-flight log: [C] the mapping; records [P] (ilog.h) */
	struct ilog log;
	uint64_t seq;		/* [P] next record sequence number */
	struct ilog_fix *resub; /* [P] recovered: to finish first, in order */
	uint32_t nr_resub, resub_pos;

	struct poller *p;
	int32_t numa_node;	 /* requested, or XIO_ATTACH_NUMA_AUTO */
	bool steered;		 /* [C] has steering rules (steering.c) */
	enum tenant_state state; /* [C] */
	struct conn *conn;	 /* [C] the attaching connection, or NULL */
	struct conn *waiter;	 /* [C] connection awaiting the DETACH reply */
	uint32_t waiter_seq;	 /* [C] */
	uint32_t waiter_type;	 /* [C] reply type for the waiter */
	struct tenant_stats st;	 /* [A] written by the poller */
	struct xio_tenant_stats base; /* [C] counters at the last reset */
	/* [C] counters before xiod restarted (its log's snapshot) */
	struct xio_tenant_stats carried;
	uint64_t since_ns; /* [C] CLOCK_MONOTONIC of attach or last reset */
	/* quota: [A] written by control, read by the poller each visit */
	uint64_t q_weight, q_ops_rate, q_bytes_rate;
	uint32_t q_inflight;
	/* token buckets [P] */
	uint64_t tb_ops_rate, tb_bytes_rate; /* rates the buckets run at */
	double tb_ops, tb_bytes;
	uint64_t tb_last;    /* acct_now() of the last refill */
	uint64_t tb_until;   /* [P] throttled until this acct_now(); 0: not */
	bool tb_held;	     /* [P] a bucket ran dry: wait for a batch */
	struct tenant *next; /* [C] control's list, by id */
	struct tenant *done_next; /* poller -> control hand-back */
};

/* ---- pollers ------------------------------------------------------------ */

enum pcmd_type {
	XIO_PCMD_ADD,
	XIO_PCMD_DEL,
	XIO_PCMD_HANDOVER, /* DEL for a clean stop: see tenant_del() */
	XIO_PCMD_STOP,
	XIO_PCMD_XSK_ADD, /* arg: struct xsk * (pktio.c) */
	XIO_PCMD_XSK_DEL
};

struct pcmd {
	enum pcmd_type type;
	struct tenant *t;
	void *arg;
	struct pcmd *next;
};

struct poller {
	unsigned int idx;
	int cpu;  /* -1: not pinned */
	int node; /* NUMA node of cpu, or -1 */
	pthread_t th;
	struct io_uring ring;
	int wake_fd; /* eventfd: control -> poller */
	bool wake_armed;
	bool fixed_ok;
	bool started;

	pthread_mutex_t lock; /* protects inbox */
	struct pcmd *inbox, **inbox_tail;
	uint32_t inbox_pending; /* atomic flag */

	/* [P] */
	struct tenant *tenants[XIOD_MAX_TENANTS_PER_POLLER]; /* active */
	uint32_t nr_tenants;
	struct tenant *parked[XIOD_MAX_TENANTS_PER_POLLER]; /* not scanned */
	uint32_t nr_parked;
	struct tenant *draining[XIOD_MAX_TENANTS_PER_POLLER];
	uint32_t nr_draining;
	uint8_t slot_used[XIOD_MAX_TENANTS_PER_POLLER];
	struct xqp **dirty;
	uint32_t nr_dirty, dirty_cap;
	uint32_t rr;
	uint64_t vclock;     /* least vtime of the backlogged tenants */
	uint64_t vt_quantum; /* lead over vclock a tenant may take */
	uint64_t vt_lag;     /* lag behind vclock a held tenant may keep */
	bool woke;
	struct tenant
		*waker; /* [P] whose kick ended the sleep, this iteration */
	bool stop;

	uint32_t nr_assigned;  /* [C] tenants handed over, not yet returned */
	uint64_t sleeps;       /* [A] */
	uint64_t timed_sleeps; /* [A] */
	/* [A] time split in acct_now() units (docs/accounting.md) */
	uint64_t cyc_attributed, cyc_idle, cyc_overhead, cyc_sleep;
	uint64_t acct_iter; /* [P] charged to tenants this loop iteration */
	uint64_t enter_cyc; /* [P] a bare io_uring_enter() (submit_charged()) */
	uint64_t acct_empty; /* [P] empty visits this loop iteration */
	uint64_t visit_cyc;  /* [P] an empty visit, average (visit_charged()) */
	/* [P] the current accounting window (poller.c win_close()) */
	uint64_t w_tsc0, w_cpu0; /* its start: acct_now(), thread CPU ns */
	uint64_t w_attr, w_idle, w_over; /* acct_now() units split so far */
	uint64_t w_shared;	/* fixed costs in it, shared out by work */
	uint64_t w_max;		/* its longest single interval */
	struct tenant *w_max_t; /* whose it was: a tenant, or NULL and */
	uint64_t *w_max_acc;	/* &w_idle or &w_over */
	uint32_t nr_w;
	struct tenant *w_list[2 * XIOD_MAX_TENANTS_PER_POLLER]; /* charged */
	struct pktio *pkt; /* [P] AF_XDP sockets, tenants by id (pktio.c) */
	/* [P] tenants with SQEs queued since the last io_uring submit */
	uint32_t nr_sub;
	struct tenant *sub_list[2 * XIOD_MAX_TENANTS_PER_POLLER];
};

extern struct poller *pollers;

int pollers_start(void);
void pollers_stop(void);
void poller_send(struct poller *p, enum pcmd_type type, struct tenant *t);
void poller_send_arg(struct poller *p, enum pcmd_type type, void *arg);
/* Wake @p if it sleeps, for work that is not in its inbox (any thread). */
void poller_kick(struct poller *p);
/* The completion path, for pktio.c (poller thread only). */
struct op *op_alloc(struct tenant *t);
void op_free(struct tenant *t, struct op *op);
/* Post a CQE for the request of in-flight log record @rec (ilog.h). */
void post(struct poller *p, struct xqp *q, uint32_t rec, uint64_t user_data,
	  int res);

/* pktio.c: tenants' packet I/O (docs/steering.md). */
struct xsk;
int pktio_init(struct poller *p);
void pktio_poller_fini(struct poller *p);
bool pktio_active(const struct poller *p);  /* pktio_poll() has work */
bool pktio_sleep_prepare(struct poller *p); /* false: sleep timed */
bool pktio_sleep_pending(struct poller *p); /* true: do not sleep */
void pktio_sleep_done(struct poller *p);
void pktio_xsk_cqe(struct xsk *x, int res);
bool poller_arm_xsk(struct poller *p, int fd, struct xsk *x);
void poller_cancel_xsk(struct poller *p, struct xsk *x);
void pktio_tenant_add(struct poller *p, struct tenant *t);
void pktio_tenant_del(struct poller *p, struct tenant *t);
void pktio_rx_post(struct poller *p, struct tenant *t, struct xqp *q,
		   const struct xio_sqe *s, uint32_t rec);
bool pktio_poll(struct poller *p);
void pktio_xsk_add(struct poller *p, struct xsk *x);
void pktio_xsk_del(struct poller *p, struct xsk *x);
int pktio_tx_fd(uint32_t port, uint32_t len);
int pktio_tx_check(struct tenant *t, const void *frame, uint8_t hdr[14]);
struct msghdr *pktio_tx_prep(struct tenant *t, struct op *op,
			     const uint8_t hdr[14], void *frame, uint32_t len);
/* control thread */
int pktio_xsk_open(int ifindex, uint32_t queue, bool copy, struct poller *p,
		   struct xsk **out, int *fd_out);
void pktio_xsk_close(struct xsk *x);
/* The reader of the frames hopped to @node's CPU @cpu (docs/steering.md). */
int pktio_hop_open(int ifindex, int node, int cpu, struct poller *p,
		   struct xsk **out);
int pktio_port_open(uint32_t port, int ifindex);
void pktio_port_close(uint32_t port);
void pktio_fini(void); /* after the pollers stopped */
/* Source MACs tenants may send from: the MACs steered to them. */
#define PKTIO_TX_MACS 8 /* per tenant */
bool pktio_tx_mac_room(uint32_t id, const uint8_t mac[6]);
int pktio_tx_alloc(struct tenant *t); /* before its first MAC */
void pktio_tx_mac_set(const uint8_t mac[6], int64_t id); /* -1: nobody's */
void pktio_tx_mac_clear(uint32_t id);
/* Frames for tenant @id dropped on a full hand-off ring (any thread). */
uint64_t pktio_handoff_drops(uint32_t id);

/* control.c: the poller hands a drained tenant back (any thread). */
void control_tenant_drained(struct tenant *t);
int control_run(void);
/* After pollers_stop(): what the pollers could still use. */
void control_close(void);
/* After control_run(): a handover left requests in io_uring (the restart
 * barrier must stay). */
bool control_left_in_flight(void);

#ifdef XIOD_FUZZ
void control_fuzz_session(int fd, uid_t uid, unsigned int nmsgs);
#endif

/* metrics.c: --metrics-listen (control thread only). */
int metrics_listen(const char *spec);
int metrics_fd(void); /* an epoll fd to watch, or -1 */
void metrics_events(void);
void metrics_close(void);
/* control.c: the exposition text (malloc'ed, *len bytes) or NULL. */
char *control_metrics_text(size_t *len);

/* pkthop.c: the tenant of a frame read after the CPU hop (any poller), from
 * a copy of the rules steering.c writes after every change. */
struct xio_steer_rule;
int pkthop_tenant(const uint8_t *f, uint32_t len, int node);
void pkthop_rules_set(const struct xio_steer_rule *r, uint32_t n,
		      const int32_t *tenant_node, uint32_t ip_mode);

/* steering.c: xiod's eBPF steering program (control thread only). */
int steering_request(const struct xio_msg_steer *m, struct tenant *t,
		     struct xio_msg_steer_reply *r);
int steering_node(const struct tenant *t); /* the tenant's node or -1 */
void steering_tenant_gone(struct tenant *t);
/* Fill @w's steer_* fields from tenant @id's counters (zero when none). */
void steering_stats(struct xio_tenant_stats *w, uint32_t id);
void steering_close(void); /* detach everything, unload */
/* With a state directory (docs/steering.md, "Restart"): at start, attach the
 * interfaces of the killed xiod again and keep its rules until their
 * tenants are back; give a reattached tenant its rules; drop those of one
 * that will not come back; a clean stop removes the file. */
void steering_restore(void);
void steering_tenant_back(struct tenant *t);
void steering_forget(uint32_t id);
void steering_state_remove(void);

/* demo.c: fork the --demo driver (before any thread exists). */
pid_t demo_start(const char *sock, const char *dir);

#endif /* XIOD_H */
