/* SPDX-License-Identifier: MIT */
/*
 * Packet I/O of tenants (docs/steering.md, "Delivery into RX rings"):
 *
 *  - receive: while steering is attached to an interface, one AF_XDP socket
 *    per receive queue, owned by a poller.  The XDP program redirects a
 *    classified frame into it with the tenant id in 8 bytes of metadata in
 *    front of the frame; the poller copies the frame into a buffer that
 *    tenant posted with XIO_OP_PKT_RECV and completes that SQE with the
 *    frame length.  No posted buffer: the frame is dropped and counted as
 *    the tenant's.  The poller never looks at the addresses: a frame goes
 *    to the tenant the classifier named, or nowhere.
 *  - transmit: XIO_OP_PKT_SEND goes through io_uring as a send on a packet
 *    socket bound to the interface (a "port"), like XIO_OP_SEND.
 *
 * Threads: sockets and ports are made and unmade by the control thread
 * (steering.c); a socket is handed to its poller through the inbox and is
 * read by that poller only, which acknowledges its removal before the
 * control thread unmaps it.  The rings are single-producer/single-consumer
 * with the kernel: the poller is the only user-space reader of RX and the
 * only writer of the fill ring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>

#include "fault.h"
#include "xio_steer_abi.h"
#include "xiod.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

#define XSK_FRAME_SIZE 2048U /* UMEM chunk: a 1500-byte MTU frame + headroom */
#define XSK_NR_FRAMES 4096U /* = ring size: every frame fits in the fill ring */
#define XSK_RING 4096U	    /* RX and fill ring entries (power of two) */
#define XSK_RX_BATCH 64U    /* frames per socket per poller iteration */
#define PKT_MAX_XSKS 64U    /* per poller */

_Static_assert((XSK_RING & (XSK_RING - 1)) == 0, "ring size power of two");
_Static_assert(XSK_NR_FRAMES <= XSK_RING, "a refill never overflows fill");
_Static_assert(sizeof(struct xio_steer_meta) == 8, "metadata layout");

/* One mapped AF_XDP ring.  The indices are free-running u32 like xio's. */
struct xring {
	uint32_t *producer;
	uint32_t *consumer;
	void *ring;
	uint32_t mask;
	void *map;
	size_t map_len;
};

struct xsk {
	int fd;
	int ifindex;
	uint32_t queue;
	struct poller *p;
	uint8_t *umem;
	size_t umem_len;
	struct xring rx, fill;
	void *comp_map; /* the completion ring: required by bind, unused */
	size_t comp_map_len;
	bool armed;	   /* [P] its one-shot poll is in the poller's ring */
	bool dying;	   /* [P] XSK_DEL seen: released at the poll's end */
	uint32_t released; /* atomic: the poller dropped it (XSK_DEL done) */
	uint64_t frames;   /* [A] read from the RX ring */
	uint64_t foreign;  /* [A] no metadata, or a tenant not served here */
};

/* Per poller: its sockets and its tenants by id ([P]). */
struct pktio {
	struct xsk *xsks[PKT_MAX_XSKS];
	uint32_t nr_xsks;
	struct tenant *by_id[XIO_STEER_MAX_TENANTS];
};

/* Transmit ports: a packet socket per attached interface slot. */
struct port {
	bool open; /* [C] fd created (closed by pktio_fini() only) */
	int fd;
	uint32_t max_len; /* store-release; 0: no interface bound */
	int ifindex;	  /* [C] */
};

static struct port ports[XIO_ADMIN_STEER_IFACES_MAX];

/* ---- per poller --------------------------------------------------------- */

int pktio_init(struct poller *p)
{
	p->pkt = calloc(1, sizeof(*p->pkt));
	return p->pkt ? 0 : -ENOMEM;
}

void pktio_poller_fini(struct poller *p)
{
	free(p->pkt);
	p->pkt = NULL;
}

bool pktio_has_xsks(const struct poller *p)
{
	return p->pkt && p->pkt->nr_xsks;
}

/*
 * Before the poller sleeps: a one-shot POLLIN in its io_uring on every
 * socket that has none, so the first frame wakes it (the poll fires at
 * once if frames are already there).  One-shot and armed only here: a busy
 * poller gets at most one poll completion per sleep, not one per flush of
 * the socket.  Returns false if a poll could not be armed (timed sleep).
 */
bool pktio_sleep_prepare(struct poller *p)
{
	bool ok = true;
	uint32_t i;

	for (i = 0; p->pkt && i < p->pkt->nr_xsks; i++) {
		struct xsk *x = p->pkt->xsks[i];

		if (!x->armed)
			x->armed = poller_arm_xsk(p, x->fd, x);
		ok &= x->armed;
	}
	return ok;
}

void pktio_tenant_add(struct poller *p, struct tenant *t)
{
	t->rx_nr = 0;
	if (t->id < XIO_STEER_MAX_TENANTS)
		p->pkt->by_id[t->id] = t;
}

/* The tenant leaves the poller: no more frames; its posted buffers go. */
void pktio_tenant_del(struct poller *p, struct tenant *t)
{
	if (t->id < XIO_STEER_MAX_TENANTS && p->pkt->by_id[t->id] == t)
		p->pkt->by_id[t->id] = NULL;
	while (t->rx_nr) {
		struct op *op = &t->ops[t->rx_head];

		t->rx_head = op->next_free;
		t->rx_nr--;
		ctr_add(&t->st.inflight, -1);
		op_free(t, op);
	}
}

/* ---- receive buffers ---------------------------------------------------- */

/*
 * XIO_OP_PKT_RECV: queue the buffer, holding the SQE's in-flight slot and
 * its reserved CQ slot until a frame fills it.  The take loop admits no
 * more SQEs than there are free slots.
 */
void pktio_rx_post(struct poller *p, struct tenant *t, struct xqp *q,
		   const struct xio_sqe *s, uint32_t rec)
{
	struct op *op;
	uint32_t idx;
	void *buf;

	/* target: reserved (every steered interface fills the same buffers) */
	buf = s->target ?
		      NULL :
		      xio_host_buf(t->region, s->buf_index, s->buf_off, s->len);
	op = buf ? op_alloc(t) : NULL;
	if (!op) {
		post(p, q, rec, s->user_data, buf ? -EAGAIN : -EINVAL);
		return;
	}
	op->t = t;
	op->q = q;
	op->rec = rec;
	op->user_data = s->user_data;
	op->opcode = s->opcode;
	op->buf = buf;
	op->len = s->len;
	idx = (uint32_t)(op - t->ops);
	op->next_free = t->nr_ops;
	if (t->rx_nr)
		t->ops[t->rx_tail].next_free = idx;
	else
		t->rx_head = idx;
	t->rx_tail = idx;
	t->rx_nr++;
	ctr_add(&t->st.inflight, 1);
	if (t->st.inflight > t->st.inflight_max)
		ctr_add(&t->st.inflight_max,
			t->st.inflight - t->st.inflight_max);
}

/* One frame for @t: into its oldest posted buffer, or dropped. */
static void rx_deliver(struct poller *p, struct tenant *t, const void *frame,
		       uint32_t len)
{
	struct op *op;
	int res;

	/* fault builds: a buffer (or its CQ slot) not there: dropped */
	if (!t->rx_nr || xio__fault(XIO_FAULT_PKT_RX)) {
		ctr_add(&t->st.pkt_drops, 1); /* no buffer posted */
		return;
	}
	op = &t->ops[t->rx_head];
	t->rx_head = op->next_free;
	t->rx_nr--;
	if (len <= op->len) {
		memcpy(op->buf, frame, len);
		res = (int)len;
		ctr_add(&t->st.pkt_received, 1);
		ctr_add(&t->st.bytes_received, len);
	} else {
		res = -EMSGSIZE; /* the buffer is returned, the frame lost */
		ctr_add(&t->st.pkt_drops, 1);
	}
	/* The copy is published with the CQ tail (store-release). */
	post(p, op->q, op->rec, op->user_data, res);
	ctr_add(&t->st.inflight, -1);
	op_free(t, op);
}

/* ---- AF_XDP sockets: the poller's side ---------------------------------- */

/*
 * Drain up to XSK_RX_BATCH frames of @x and give their chunks back to the
 * fill ring.  The kernel publishes RX entries with a store-release of the
 * producer, read here with an acquire; our consumer store-release lets it
 * reuse the slots, and the fill producer store-release publishes the
 * addresses written before it.
 */
static uint32_t xsk_rx(struct poller *p, struct xsk *x)
{
	const struct xdp_desc *descs = x->rx.ring;
	uint64_t *fill = x->fill.ring;
	uint32_t cons = *x->rx.consumer, prod, n, i, fprod;

	prod = __atomic_load_n(x->rx.producer, __ATOMIC_ACQUIRE);
	n = prod - cons;
	if (!n)
		return 0;
	if (n > XSK_RX_BATCH)
		n = XSK_RX_BATCH;
	/* Fault builds: no refill now; the batch stays in RX for the next
	 * turn (a real refill cannot fail: every frame fits in fill). */
	if (xio__fault(XIO_FAULT_XSK_FILL)) {
		xio__fault_retried(XIO_FAULT_XSK_FILL);
		return 0;
	}
	fprod = *x->fill.producer;
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = &descs[(cons + i) & x->rx.mask];
		uint64_t addr = d->addr, base = addr & ~(XSK_FRAME_SIZE - 1ULL);
		struct xio_steer_meta meta = {0, 0};
		struct tenant *t = NULL;

		if (base < x->umem_len && d->len <= XSK_FRAME_SIZE &&
		    addr - base >= sizeof(meta) &&
		    addr - base + d->len <= XSK_FRAME_SIZE) {
			memcpy(&meta, x->umem + addr - sizeof(meta),
			       sizeof(meta));
			if (meta.magic == XIO_STEER_META_MAGIC &&
			    meta.tenant < XIO_STEER_MAX_TENANTS)
				t = p->pkt->by_id[meta.tenant];
		}
		if (t && !t->draining)
			rx_deliver(p, t, x->umem + addr, d->len);
		else
			ctr_add(&x->foreign, 1);
		fill[(fprod + i) & x->fill.mask] = base;
	}
	__atomic_store_n(x->rx.consumer, cons + n, __ATOMIC_RELEASE);
	__atomic_store_n(x->fill.producer, fprod + n, __ATOMIC_RELEASE);
	ctr_add(&x->frames, n);
	return n;
}

bool pktio_poll(struct poller *p)
{
	struct pktio *pk = p->pkt;
	uint32_t i, n = 0;

	for (i = 0; i < pk->nr_xsks; i++)
		n += xsk_rx(p, pk->xsks[i]);
	return n != 0;
}

void pktio_xsk_add(struct poller *p, struct xsk *x)
{
	struct pktio *pk = p->pkt;

	if (pk->nr_xsks == PKT_MAX_XSKS) {
		/* steering.c never hands over more; refuse it visibly */
		__atomic_store_n(&x->released, 2, __ATOMIC_RELEASE);
		return;
	}
	pk->xsks[pk->nr_xsks++] = x;
}

/* Pairs with the acquire in pktio_xsk_close(): the poller is done with it
 * (out of its list, no poll left in its io_uring naming it). */
static void xsk_release(struct xsk *x)
{
	__atomic_store_n(&x->released, 1, __ATOMIC_RELEASE);
}

/* The poll fired (a wake-up: pktio_poll() reads the ring anyway) or was
 * cancelled; pktio_sleep_prepare() arms the next one. */
void pktio_xsk_cqe(struct xsk *x, int res)
{
	x->armed = false;
	if (x->dying)
		xsk_release(x);
	else if (res < 0 && res != -ECANCELED && log_ratelimit())
		log_warn("pktio: AF_XDP socket poll: %s", strerror(-res));
}

void pktio_xsk_del(struct poller *p, struct xsk *x)
{
	struct pktio *pk = p->pkt;
	uint32_t i;

	for (i = 0; i < pk->nr_xsks; i++) {
		if (pk->xsks[i] == x) {
			pk->xsks[i] = pk->xsks[--pk->nr_xsks];
			break;
		}
	}
	x->dying = true;
	if (x->armed)
		poller_cancel_xsk(p, x); /* released by its last CQE */
	else
		xsk_release(x);
}

/* ---- AF_XDP sockets: the control thread's side -------------------------- */

static int xring_map(int fd, const struct xdp_ring_offset *o, size_t desc,
		     uint64_t pgoff, struct xring *r)
{
	size_t len = o->desc + XSK_RING * desc;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, (off_t)pgoff);

	if (m == MAP_FAILED)
		return -errno;
	r->map = m;
	r->map_len = len;
	r->producer = (uint32_t *)((char *)m + o->producer);
	r->consumer = (uint32_t *)((char *)m + o->consumer);
	r->ring = (char *)m + o->desc;
	r->mask = XSK_RING - 1;
	return 0;
}

static void xsk_free(struct xsk *x)
{
	if (x->rx.map)
		munmap(x->rx.map, x->rx.map_len);
	if (x->fill.map)
		munmap(x->fill.map, x->fill.map_len);
	if (x->comp_map)
		munmap(x->comp_map, x->comp_map_len);
	if (x->fd >= 0)
		close(x->fd);
	if (x->umem)
		munmap(x->umem, x->umem_len);
	free(x);
}

static int xsk_setup(struct xsk *x, bool copy)
{
	struct xdp_umem_reg reg;
	struct xdp_mmap_offsets off;
	struct sockaddr_xdp sa;
	socklen_t ol = sizeof(off);
	uint32_t ring = XSK_RING, i;
	uint64_t *fill;
	int err;

	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)x->umem;
	reg.len = x->umem_len;
	reg.chunk_size = XSK_FRAME_SIZE;
	if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) ||
	    setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &ring,
		       sizeof(ring)) ||
	    setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring,
		       sizeof(ring)) ||
	    setsockopt(x->fd, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring)) ||
	    getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol))
		return -errno;
	err = xring_map(x->fd, &off.rx, sizeof(struct xdp_desc),
			XDP_PGOFF_RX_RING, &x->rx);
	if (!err)
		err = xring_map(x->fd, &off.fr, sizeof(uint64_t),
				XDP_UMEM_PGOFF_FILL_RING, &x->fill);
	if (err)
		return err;
	x->comp_map_len = off.cr.desc + XSK_RING * sizeof(uint64_t);
	x->comp_map =
		mmap(NULL, x->comp_map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     x->fd, (off_t)XDP_UMEM_PGOFF_COMPLETION_RING);
	if (x->comp_map == MAP_FAILED) {
		x->comp_map = NULL;
		return -errno;
	}
	/* Every frame into the fill ring before the socket can receive. */
	fill = x->fill.ring;
	for (i = 0; i < XSK_NR_FRAMES; i++)
		fill[i & x->fill.mask] = (uint64_t)i * XSK_FRAME_SIZE;
	__atomic_store_n(x->fill.producer, XSK_NR_FRAMES, __ATOMIC_RELEASE);
	memset(&sa, 0, sizeof(sa));
	sa.sxdp_family = AF_XDP;
	sa.sxdp_ifindex = (uint32_t)x->ifindex;
	sa.sxdp_queue_id = x->queue;
	sa.sxdp_flags = copy ? XDP_COPY : 0; /* 0: zero-copy where it can */
	if (bind(x->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	return 0;
}

/*
 * An AF_XDP socket on @ifindex's receive queue @queue, handed to poller @p
 * (which starts reading it at its next inbox pass).  @copy: copy mode (a
 * generic XDP attachment needs it).  *@fd_out: the socket for the XSKMAP.
 */
int pktio_xsk_open(int ifindex, uint32_t queue, bool copy, struct poller *p,
		   struct xsk **out, int *fd_out)
{
	struct xsk *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return -ENOMEM;
	x->ifindex = ifindex;
	x->queue = queue;
	x->p = p;
	x->umem_len = (size_t)XSK_NR_FRAMES * XSK_FRAME_SIZE;
	x->umem = XIO_FAULT_MMAP_AT(
		XIO_FAULT_XSK,
		mmap(NULL, x->umem_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
	if (x->umem == MAP_FAILED) {
		x->umem = NULL;
		x->fd = -1;
		xsk_free(x);
		return -ENOMEM;
	}
	x->fd = XIO_FAULT_SYSCALL(XIO_FAULT_XSK,
				  socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0));
	err = x->fd < 0 ? -errno : xsk_setup(x, copy);
	if (err) {
		xsk_free(x);
		return err;
	}
	poller_send_arg(p, XIO_PCMD_XSK_ADD, x);
	*out = x;
	*fd_out = x->fd;
	return 0;
}

/*
 * Take the socket back from its poller, then free it.  The XSKMAP entry
 * must be gone first (steering.c clears it).  A poller that does not answer
 * within 5 s keeps the socket: leaked rather than unmapped under it.
 */
void pktio_xsk_close(struct xsk *x)
{
	struct xdp_statistics xs;
	socklen_t l = sizeof(xs);
	int i;

	if (!x)
		return;
	poller_send_arg(x->p, XIO_PCMD_XSK_DEL, x);
	for (i = 0; i < 5000; i++) {
		if (__atomic_load_n(&x->released, __ATOMIC_ACQUIRE))
			break;
		usleep(1000);
	}
	if (!__atomic_load_n(&x->released, __ATOMIC_ACQUIRE)) {
		log_warn("pktio: poller %u did not release its AF_XDP socket",
			 x->p->idx);
		return;
	}
	memset(&xs, 0, sizeof(xs));
	if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &xs, &l) == 0)
		log_info(
			"pktio: ifindex %d queue %u: %llu frames, %llu not for a tenant of poller %u, kernel drops %llu (rx ring full %llu, no fill %llu)",
			x->ifindex, x->queue,
			(unsigned long long)ctr_get(&x->frames),
			(unsigned long long)ctr_get(&x->foreign), x->p->idx,
			(unsigned long long)xs.rx_dropped,
			(unsigned long long)xs.rx_ring_full,
			(unsigned long long)xs.rx_fill_ring_empty_descs);
	xsk_free(x);
}

/* ---- transmit ports ----------------------------------------------------- */

/* Bind port @port's packet socket to @ifindex; frames up to MTU + 18. */
int pktio_port_open(uint32_t port, int ifindex)
{
	struct port *pt;
	struct sockaddr_ll sll;
	struct ifreq ifr;
	int sfd;

	if (port >= XIO_ADMIN_STEER_IFACES_MAX)
		return -EINVAL;
	pt = &ports[port];
	if (!pt->open) {
		pt->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (pt->fd < 0)
			return -errno;
		pt->open = true;
	}
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -ENODEV;
	sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sfd < 0)
		return -errno;
	if (ioctl(sfd, SIOCGIFMTU, &ifr)) {
		close(sfd);
		return -errno;
	}
	close(sfd);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex; /* protocol 0: it receives nothing */
	if (bind(pt->fd, (struct sockaddr *)&sll, sizeof(sll)))
		return -errno;
	pt->ifindex = ifindex;
	/* Pairs with the acquire in pktio_tx_fd(): bound before used. */
	__atomic_store_n(&pt->max_len, (uint32_t)ifr.ifr_mtu + ETH_HLEN + 4,
			 __ATOMIC_RELEASE);
	return 0;
}

/*
 * Unbind: later sends on the port are refused by the poller (-ENXIO), one
 * racing with this by the kernel.  The socket stays open (a poller may be
 * submitting on it), to be bound again by the next attach.
 */
void pktio_port_close(uint32_t port)
{
	struct port *pt;
	struct sockaddr_ll sll;

	if (port >= XIO_ADMIN_STEER_IFACES_MAX || !ports[port].open)
		return;
	pt = &ports[port];
	__atomic_store_n(&pt->max_len, 0, __ATOMIC_RELEASE);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	if (bind(pt->fd, (struct sockaddr *)&sll, sizeof(sll)))
		log_warn("pktio: unbinding port %u: %s", port, strerror(errno));
	pt->ifindex = 0;
}

/*
 * XIO_OP_PKT_SEND of @len bytes out of port @port (any poller): the packet
 * socket, or -ENXIO (no interface), -EMSGSIZE (longer than MTU + Ethernet
 * header + one VLAN tag), -EINVAL (shorter than an Ethernet header).
 */
int pktio_tx_fd(uint32_t port, uint32_t len)
{
	uint32_t max;
	int fault;

	if (port >= XIO_ADMIN_STEER_IFACES_MAX)
		return -ENXIO;
	max = __atomic_load_n(&ports[port].max_len, __ATOMIC_ACQUIRE);
	if (!max)
		return -ENXIO;
	if (len < ETH_HLEN)
		return -EINVAL;
	if (len > max)
		return -EMSGSIZE;
	fault = xio__fault(XIO_FAULT_PKT_TX); /* fault builds: refused */
	return fault < 0 ? fault : ports[port].fd;
}

/* After the pollers stopped: nobody submits on the ports any more. */
void pktio_fini(void)
{
	uint32_t i;

	for (i = 0; i < XIO_ADMIN_STEER_IFACES_MAX; i++) {
		if (ports[i].open)
			close(ports[i].fd);
		ports[i].open = false;
	}
}
