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
 *  - hand-off: a frame read by poller A for a tenant of poller B is copied
 *    into the (A -> B) hand-off ring, which B drains on its loop and
 *    delivers exactly like its own frames.
 *
 * Threads: sockets and ports are made and unmade by the control thread
 * (steering.c); a socket is handed to its poller through the inbox and is
 * read by that poller only, which acknowledges its removal before the
 * control thread unmaps it.  The rings are single-producer/single-consumer
 * with the kernel: the poller is the only user-space reader of RX and the
 * only writer of the fill ring.  A hand-off ring is single-producer (A)
 * single-consumer (B), made by the control thread before A's first socket
 * and freed only after the pollers stopped.
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

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>

#include <xio/barrier.h>

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
#define HOP_SLOT_SZ XSK_FRAME_SIZE /* TPACKET_V2 frame slot (MTU 1500 + tag) */
#define HOP_NR_SLOTS 1024U	   /* 2 MiB of ring per packet socket */
#define HOP_BLK_SZ (1U << 16)	   /* the ring's allocation unit */
#define HOP_FRAME_MAX (HOP_SLOT_SZ + 4U) /* a frame + the tag put back */

_Static_assert((XSK_RING & (XSK_RING - 1)) == 0, "ring size power of two");
_Static_assert(XSK_NR_FRAMES <= XSK_RING, "a refill never overflows fill");
_Static_assert(sizeof(struct xio_steer_meta) == 8, "metadata layout");
_Static_assert(sizeof(((struct pkt_tx *)0)->hdr) == ETH_HLEN, "header copy");

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
	uint64_t foreign;  /* [A] no metadata, or a tenant served nowhere */
	uint64_t handed;   /* [A] to another poller's hand-off ring */
	/* A packet socket reading the frames hopped to a node's CPU instead
	 * ("after the CPU hop" below): umem is its TPACKET_V2 ring. */
	bool hop;      /* [C] */
	int node;      /* [C] hop: the node whose frames it takes */
	int cpu;       /* [C] hop: that node's target CPU */
	uint32_t slot; /* [P] hop: the next ring slot to read */
};

/* Per poller: its sockets and its tenants by id ([P]). */
struct pktio {
	struct xsk *xsks[PKT_MAX_XSKS];
	uint32_t nr_xsks;
	uint32_t asleep;  /* atomic: sleeping, wake me for hand-offs */
	uint64_t ho_lost; /* [A] handed frames whose tenant had left */
	struct tenant *by_id[XIO_STEER_MAX_TENANTS];
	uint8_t vbuf[HOP_FRAME_MAX]; /* a hopped frame with its tag put back */
};

/*
 * Hand-off ring from poller A (producer) to poller B (consumer): frames A's
 * sockets received for tenants B serves, copied out of A's UMEM into the
 * ring's own slots (see docs/steering.md for copy vs. passing the UMEM
 * chunk).  Free-running u32 indices, like xio's rings:
 *
 *  - A fills slot head & mask (descriptor and bytes), then store-releases
 *    head + 1; B load-acquires head, so it reads only completed slots.
 *  - B store-releases tail after it has copied the slots out; A
 *    load-acquires tail before it reuses a slot, so it never overwrites
 *    bytes B is still reading.  A re-reads tail only when its cached copy
 *    says full: one shared cache line touched per batch, not per frame.
 *  - Full: A drops the frame and counts it for the tenant (ho_drops); it
 *    never waits for B.
 *
 * head and tail sit on their own cache lines.  Waking B: pktio_sleep_
 * pending() / ho_wake() below.
 */
#define HO_SLOTS 256U /* frames per ring (power of two) */
#define HO_BATCH XSK_RX_BATCH

struct ho_desc {
	uint32_t tenant;
	uint32_t len;
};

struct handoff {
	uint32_t head __attribute__((aligned(64))); /* written by A */
	uint32_t tail_seen;			    /* [A] last tail read */
	uint32_t tail __attribute__((aligned(64))); /* written by B */
	struct ho_desc desc[HO_SLOTS] __attribute__((aligned(64)));
	uint8_t data[HO_SLOTS][XSK_FRAME_SIZE];
};

_Static_assert((HO_SLOTS & (HO_SLOTS - 1)) == 0, "ring size power of two");

/* ho[A][B]: made by the control thread (store-release), never freed while
 * the pollers run; ho_any: some ring exists (pollers then look). */
static struct handoff *ho[XIOD_MAX_POLLERS][XIOD_MAX_POLLERS];
static uint32_t ho_any;
/* Tenant id -> its poller's index + 1 (0: none), written by that poller
 * (relaxed: a hint, B checks its own table); drops on a full ring, per
 * tenant id (ids are not reused while xiod runs), any poller adds. */
static uint16_t ho_owner[XIO_STEER_MAX_TENANTS];
static uint64_t ho_drops[XIO_STEER_MAX_TENANTS];

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
	if (p->pkt && p->pkt->ho_lost)
		log_info(
			"pktio: poller %u: %llu handed frames for tenants gone",
			p->idx, (unsigned long long)p->pkt->ho_lost);
	free(p->pkt);
	p->pkt = NULL;
}

bool pktio_active(const struct poller *p)
{
	return p->pkt &&
	       (p->pkt->nr_xsks || __atomic_load_n(&ho_any, __ATOMIC_RELAXED));
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
	if (t->id < XIO_STEER_MAX_TENANTS) {
		p->pkt->by_id[t->id] = t;
		__atomic_store_n(&ho_owner[t->id], (uint16_t)(p->idx + 1),
				 __ATOMIC_RELAXED);
	}
}

/* The tenant leaves the poller: no more frames; its posted buffers go. */
void pktio_tenant_del(struct poller *p, struct tenant *t)
{
	if (t->id < XIO_STEER_MAX_TENANTS && p->pkt->by_id[t->id] == t) {
		p->pkt->by_id[t->id] = NULL;
		__atomic_store_n(&ho_owner[t->id], 0, __ATOMIC_RELAXED);
	}
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

/* ---- hand-off between pollers ------------------------------------------- */

/*
 * Poller @p (A) passes a frame for tenant @id to poller @b: copied into the
 * (A -> B) ring, or dropped and counted when it is full.  Sets bit @b of
 * *@woken: ho_wake() then wakes B if it sleeps.
 */
static void ho_push(struct poller *p, uint32_t b, uint32_t id,
		    const void *frame, uint32_t len, uint64_t *woken)
{
	struct handoff *h = __atomic_load_n(&ho[p->idx][b], __ATOMIC_ACQUIRE);
	uint32_t head, slot;

	if (h && h->head - h->tail_seen == HO_SLOTS)
		h->tail_seen = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
	/* fault builds: as if the ring were full */
	if (!h || h->head - h->tail_seen == HO_SLOTS || len > XSK_FRAME_SIZE ||
	    xio__fault(XIO_FAULT_HANDOFF)) {
		__atomic_fetch_add(&ho_drops[id], 1, __ATOMIC_RELAXED);
		return;
	}
	head = h->head;
	slot = head & (HO_SLOTS - 1);
	memcpy(h->data[slot], frame, len);
	h->desc[slot].tenant = id;
	h->desc[slot].len = len;
	/* Pairs with the acquire of head in ho_drain(). */
	__atomic_store_n(&h->head, head + 1, __ATOMIC_RELEASE);
	*woken |= 1ULL << b;
}

/*
 * After a batch of hand-offs: wake the pollers of @woken that are asleep
 * or about to be.  Dekker with pktio_sleep_pending(): B stores asleep = 1,
 * full barrier, then reads the heads; A has stored head, full barrier,
 * then reads asleep.  One of the two sees the other's store: either B sees
 * the frame and does not sleep, or A sees the flag and kicks B.  The
 * exchange makes one kick per sleep, not one per batch.
 */
static void ho_wake(uint64_t woken)
{
	uint32_t b;

	if (!woken)
		return;
	xio_smp_mb();
	for (b = 0; woken; b++, woken >>= 1) {
		struct pktio *pk = pollers[b].pkt;

		if ((woken & 1) &&
		    __atomic_load_n(&pk->asleep, __ATOMIC_RELAXED) &&
		    __atomic_exchange_n(&pk->asleep, 0, __ATOMIC_RELAXED))
			poller_kick(&pollers[b]);
	}
}

/* Where tenant @id's frame read by @p goes: 1 delivered or handed on, 0
 * served nowhere. */
static int rx_route(struct poller *p, uint32_t id, const void *frame,
		    uint32_t len, uint64_t *woken)
{
	struct tenant *t = p->pkt->by_id[id];
	uint32_t o;

	if (t) {
		if (t->draining)
			return 0;
		rx_deliver(p, t, frame, len);
		return 1;
	}
	o = __atomic_load_n(&ho_owner[id], __ATOMIC_RELAXED);
	if (!o || o - 1 == p->idx || o > cfg.nr_pollers)
		return 0;
	ho_push(p, o - 1, id, frame, len, woken);
	return 2;
}

/*
 * Poller @p (B) delivers up to HO_BATCH frames of each ring towards it to
 * their tenants, exactly as its own sockets' frames.  The descriptors were
 * written by xiod itself, bounded anyway.
 */
static uint32_t ho_drain(struct poller *p)
{
	uint32_t a, n = 0;

	for (a = 0; a < cfg.nr_pollers; a++) {
		struct handoff *h =
			__atomic_load_n(&ho[a][p->idx], __ATOMIC_ACQUIRE);
		uint32_t tail, head, i, cnt;

		if (!h)
			continue;
		tail = h->tail;
		head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
		cnt = head - tail < HO_BATCH ? head - tail : HO_BATCH;
		for (i = 0; i < cnt; i++) {
			uint32_t slot = (tail + i) & (HO_SLOTS - 1);
			const struct ho_desc *d = &h->desc[slot];
			struct tenant *t = d->tenant < XIO_STEER_MAX_TENANTS ?
						   p->pkt->by_id[d->tenant] :
						   NULL;

			if (t && !t->draining && d->len <= XSK_FRAME_SIZE)
				rx_deliver(p, t, h->data[slot], d->len);
			else
				ctr_add(&p->pkt->ho_lost, 1);
		}
		/* Pairs with the acquire of tail in ho_push(): the slots are
		 * copied out, A may reuse them. */
		if (cnt)
			__atomic_store_n(&h->tail, tail + cnt,
					 __ATOMIC_RELEASE);
		n += cnt;
	}
	return n;
}

/*
 * Before poller @p sleeps: whether hand-off frames are waiting (then it
 * must not sleep); otherwise it is marked asleep, so that a producer
 * wakes it (ho_wake()).
 */
bool pktio_sleep_pending(struct poller *p)
{
	uint32_t a;

	if (!p->pkt || !__atomic_load_n(&ho_any, __ATOMIC_RELAXED))
		return false;
	__atomic_store_n(&p->pkt->asleep, 1, __ATOMIC_RELAXED);
	xio_smp_mb();
	for (a = 0; a < cfg.nr_pollers; a++) {
		struct handoff *h =
			__atomic_load_n(&ho[a][p->idx], __ATOMIC_ACQUIRE);

		if (h &&
		    __atomic_load_n(&h->head, __ATOMIC_RELAXED) != h->tail) {
			__atomic_store_n(&p->pkt->asleep, 0, __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

/* Awake again: producers need not kick it. */
void pktio_sleep_done(struct poller *p)
{
	if (p->pkt)
		__atomic_store_n(&p->pkt->asleep, 0, __ATOMIC_RELAXED);
}

uint64_t pktio_handoff_drops(uint32_t id)
{
	return id < XIO_STEER_MAX_TENANTS ?
		       __atomic_load_n(&ho_drops[id], __ATOMIC_RELAXED) :
		       0;
}

/* Control thread, before poller @a gets its first socket: its rings
 * towards every other poller (untouched pages cost nothing).  A poller B
 * that went to sleep while no ring existed did not mark itself asleep
 * (pktio_sleep_pending()), so ho_wake() would never kick it: kick it once
 * here; its next sleep then marks itself. */
static int ho_open(uint32_t a)
{
	uint32_t b;

	for (b = 0; b < cfg.nr_pollers; b++) {
		void *m;

		if (b == a || ho[a][b])
			continue;
		m = mmap(NULL, sizeof(struct handoff), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return -ENOMEM;
		/* Pairs with the acquires in ho_push() and ho_drain(). */
		__atomic_store_n(&ho[a][b], m, __ATOMIC_RELEASE);
		__atomic_store_n(&ho_any, 1, __ATOMIC_RELAXED);
		poller_kick(&pollers[b]);
	}
	return 0;
}

/* After the pollers stopped. */
static void ho_fini(void)
{
	uint32_t a, b;

	for (a = 0; a < XIOD_MAX_POLLERS; a++)
		for (b = 0; b < XIOD_MAX_POLLERS; b++) {
			if (ho[a][b])
				munmap(ho[a][b], sizeof(struct handoff));
			ho[a][b] = NULL;
		}
	ho_any = 0;
}

/* ---- AF_XDP sockets: the poller's side ---------------------------------- */

/*
 * Drain up to XSK_RX_BATCH frames of @x and give their chunks back to the
 * fill ring.  The kernel publishes RX entries with a store-release of the
 * producer, read here with an acquire; our consumer store-release lets it
 * reuse the slots, and the fill producer store-release publishes the
 * addresses written before it.  A frame for a tenant of another poller is
 * copied into its hand-off ring, so its chunk goes back at once too.
 */
static uint32_t xsk_rx(struct poller *p, struct xsk *x)
{
	const struct xdp_desc *descs = x->rx.ring;
	uint64_t *fill = x->fill.ring, woken = 0;
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
		int r = 0;

		if (base < x->umem_len && d->len <= XSK_FRAME_SIZE &&
		    addr - base >= sizeof(meta) &&
		    addr - base + d->len <= XSK_FRAME_SIZE) {
			memcpy(&meta, x->umem + addr - sizeof(meta),
			       sizeof(meta));
			if (meta.magic == XIO_STEER_META_MAGIC &&
			    meta.tenant < XIO_STEER_MAX_TENANTS)
				r = rx_route(p, meta.tenant, x->umem + addr,
					     d->len, &woken);
		}
		if (!r)
			ctr_add(&x->foreign, 1);
		else if (r == 2)
			ctr_add(&x->handed, 1);
		fill[(fprod + i) & x->fill.mask] = base;
	}
	__atomic_store_n(x->rx.consumer, cons + n, __ATOMIC_RELEASE);
	__atomic_store_n(x->fill.producer, fprod + n, __ATOMIC_RELEASE);
	ctr_add(&x->frames, n);
	ho_wake(woken);
	return n;
}

/* ---- after the CPU hop: the packet socket, the poller's side ----------- */

/*
 * Frames the XDP program sent through the CPUMAP to node n's CPU become
 * skbs there and enter the stack on that CPU; the poller reading node n's
 * frames takes them with a packet socket on the ingress interface.  Why a
 * frame is delivered exactly once, and only a hopped one:
 *
 *  - The socket's classic BPF filter (hop_filter()) accepts only frames
 *    whose stack processing runs on node n's target CPU (SKF_AD_CPU; the
 *    CPUMAP kthread of that CPU builds the skb and delivers it to the
 *    packet taps itself) and that are not the host's own transmissions.
 *    Target CPUs of different nodes differ (steering.c), so no two
 *    readers of an interface take the same skb, and an skb is delivered to
 *    a packet socket once.
 *  - A frame that took the AF_XDP fast path never becomes an skb (native
 *    XDP: the driver hands it to the socket; generic XDP runs before the
 *    packet taps and consumes the skb on a redirect), so no packet socket
 *    sees it (tested: test_xiod_hop step 3, an XSK and a hop interface).
 *  - The socket cannot see the XDP metadata that named the tenant (it
 *    sits in front of the MAC header, out of the filter's and the ring's
 *    reach), so the frame is classified again with the program's own
 *    classifier over the same rules (pkthop.c), and taken only when the
 *    tenant's node is n.  Stage 1 passes a tenant's frame to the stack on
 *    the receiving CPU only when the tenant has no node or its node no
 *    target CPU; for a tenant of node n (which has one: this reader's) it
 *    redirects to an AF_XDP socket (no skb), to n's CPU (this reader), or
 *    drops.  So a frame of a tenant of n seen on n's CPU is one that
 *    hopped; unknown destinations, runts, stacked tags, other nodes'
 *    tenants and tenants without a node are not taken (counted foreign).
 *    A rule changing while a frame is between the program and the reader
 *    makes it decided by the old or the new rule, like a frame sent just
 *    before or after.
 *  - The skb goes on into the stack as before (a packet socket is a tap):
 *    frames for a tenant's MAC are another host's there and dropped.
 *
 * The kernel untags one 802.1Q/802.1ad tag into the skb before the taps;
 * the ring reports it (TP_STATUS_VLAN_VALID), and the tag is put back, so
 * the tenant receives the frame as it was on the wire, as on the AF_XDP
 * path (and the classifier sees it, stacked tags included).
 *
 * The ring is TPACKET_V2: fixed slots, each handed over by the kernel as
 * soon as its frame is in (status TP_STATUS_USER, published with a
 * release, read here with an acquire) and given back by the poller with a
 * store-release of TP_STATUS_KERNEL.  No system call per frame.  Not
 * TPACKET_V3: its blocks reach user space only when full or when the block
 * retire timer (1 ms at least) fires, so a lone frame waited ~1 ms there
 * against ~5 us on the AF_XDP path (docs/steering.md, measured).
 */
static void hop_frame(struct poller *p, struct xsk *x,
		      const struct tpacket2_hdr *h, const uint8_t *f,
		      uint64_t *woken)
{
	uint32_t len = h->tp_snaplen;
	int id, r = 0;

	if (len != h->tp_len || len < ETH_HLEN)
		goto out; /* cut short: not a whole frame */
	if (h->tp_status & TP_STATUS_VLAN_VALID) {
		uint16_t tpid = h->tp_status & TP_STATUS_VLAN_TPID_VALID ?
					h->tp_vlan_tpid :
					ETH_P_8021Q;
		uint8_t *v = p->pkt->vbuf;

		if (len + 4 > sizeof(p->pkt->vbuf))
			goto out;
		memcpy(v, f, 2 * ETH_ALEN);
		v[12] = (uint8_t)(tpid >> 8);
		v[13] = (uint8_t)tpid;
		v[14] = (uint8_t)(h->tp_vlan_tci >> 8);
		v[15] = (uint8_t)h->tp_vlan_tci;
		memcpy(v + 16, f + 2 * ETH_ALEN, len - 2 * ETH_ALEN);
		f = v;
		len += 4;
	}
	id = pkthop_tenant(f, len, x->node);
	if (id >= 0)
		r = rx_route(p, (uint32_t)id, f, len, woken);
out:
	if (!r)
		ctr_add(&x->foreign, 1);
	else if (r == 2)
		ctr_add(&x->handed, 1);
}

/* Read up to XSK_RX_BATCH frames of @x, giving each slot back. */
static uint32_t hop_rx(struct poller *p, struct xsk *x)
{
	uint64_t woken = 0;
	uint32_t n;

	for (n = 0; n < XSK_RX_BATCH; n++) {
		uint8_t *s = x->umem + (size_t)x->slot * HOP_SLOT_SZ;
		struct tpacket2_hdr *h = (void *)s;

		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) &
		      TP_STATUS_USER))
			break;
		/* the kernel's layout, bounded anyway */
		if (h->tp_mac >= sizeof(*h) &&
		    h->tp_mac + (uint64_t)h->tp_snaplen <= HOP_SLOT_SZ)
			hop_frame(p, x, h, s + h->tp_mac, &woken);
		else
			ctr_add(&x->foreign, 1);
		/* Pairs with the kernel's acquire of the status: the slot is
		 * read, it may fill it again. */
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		x->slot = (x->slot + 1) % HOP_NR_SLOTS;
	}
	ctr_add(&x->frames, n);
	ho_wake(woken);
	return n;
}

bool pktio_poll(struct poller *p)
{
	struct pktio *pk = p->pkt;
	uint32_t i, n = 0;

	for (i = 0; i < pk->nr_xsks; i++)
		n += pk->xsks[i]->hop ? hop_rx(p, pk->xsks[i]) :
					xsk_rx(p, pk->xsks[i]);
	if (__atomic_load_n(&ho_any, __ATOMIC_RELAXED))
		n += ho_drain(p);
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
/* A receive socket of poller @p on @ifindex, not made yet; *@err. */
static struct xsk *xsk_new(struct poller *p, int ifindex, int *err)
{
	struct xsk *x = calloc(1, sizeof(*x));

	*err = x ? ho_open(p->idx) : -ENOMEM;
	if (*err) {
		free(x);
		return NULL;
	}
	x->ifindex = ifindex;
	x->p = p;
	x->fd = -1;
	return x;
}

int pktio_xsk_open(int ifindex, uint32_t queue, bool copy, struct poller *p,
		   struct xsk **out, int *fd_out)
{
	int err;
	struct xsk *x = xsk_new(p, ifindex, &err);

	if (!x)
		return err;
	x->queue = queue;
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
 * The classic BPF filter of node @cpu's reader: frames whose stack
 * processing runs on @cpu, none the host sends.
 */
static int hop_filter(int fd, int cpu)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 2, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_CPU),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)cpu, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, UINT32_MAX),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]),
				  .filter = code};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog)) ?
		       -errno :
		       0;
}

/* Ring, filter and binding of a reader (the filter before the binding:
 * the socket never holds a frame it would not take). */
static int hop_setup(struct xsk *x)
{
	struct tpacket_req req;
	struct sockaddr_ll sll;
	int v = TPACKET_V2, one = 1, err;

	memset(&req, 0, sizeof(req));
	req.tp_block_size = HOP_BLK_SZ;
	req.tp_block_nr = HOP_SLOT_SZ * HOP_NR_SLOTS / HOP_BLK_SZ;
	req.tp_frame_size = HOP_SLOT_SZ;
	req.tp_frame_nr = HOP_NR_SLOTS;
	if (setsockopt(x->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(x->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		return -errno;
	err = hop_filter(x->fd, x->cpu);
	if (err)
		return err;
	/* Also in the filter; here it saves the filter run (4.20+). */
	(void)setsockopt(x->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
			 sizeof(one));
	x->umem_len = (size_t)HOP_SLOT_SZ * HOP_NR_SLOTS;
	x->umem = XIO_FAULT_MMAP_AT(
		XIO_FAULT_HOP, mmap(NULL, x->umem_len, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_POPULATE, x->fd, 0));
	if (x->umem == MAP_FAILED) {
		x->umem = NULL;
		return -ENOMEM;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = x->ifindex;
	if (bind(x->fd, (struct sockaddr *)&sll, sizeof(sll)))
		return -errno;
	return 0;
}

/*
 * The reader of the frames the XDP program hops to node @node's CPU @cpu
 * on @ifindex: a packet socket handed to poller @p (as an AF_XDP socket
 * is; closed with pktio_xsk_close()).
 */
int pktio_hop_open(int ifindex, int node, int cpu, struct poller *p,
		   struct xsk **out)
{
	int err;
	struct xsk *x = xsk_new(p, ifindex, &err);

	if (!x)
		return err;
	x->hop = true;
	x->node = node;
	x->cpu = cpu;
	x->fd = XIO_FAULT_SYSCALL(
		XIO_FAULT_HOP, socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
	err = x->fd < 0 ? -errno : hop_setup(x);
	if (err) {
		xsk_free(x);
		return err;
	}
	poller_send_arg(p, XIO_PCMD_XSK_ADD, x);
	*out = x;
	return 0;
}

/* At close: what the socket read and what the kernel dropped. */
static void xsk_log(struct xsk *x)
{
	struct xdp_statistics xs;
	struct tpacket_stats ts;
	socklen_t l = sizeof(xs), tl = sizeof(ts);

	memset(&xs, 0, sizeof(xs));
	memset(&ts, 0, sizeof(ts));
	if (x->hop &&
	    getsockopt(x->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &tl) == 0)
		log_info(
			"pktio: ifindex %d, node %d's packet socket (CPU %d): %llu frames, %llu handed from poller %u to others, %llu not hopped there, kernel drops %u (ring full)",
			x->ifindex, x->node, x->cpu,
			(unsigned long long)ctr_get(&x->frames),
			(unsigned long long)ctr_get(&x->handed), x->p->idx,
			(unsigned long long)ctr_get(&x->foreign), ts.tp_drops);
	else if (!x->hop &&
		 getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &xs, &l) == 0)
		log_info(
			"pktio: ifindex %d queue %u: %llu frames, %llu handed from poller %u to others, %llu for no tenant, kernel drops %llu (rx ring full %llu, no fill %llu)",
			x->ifindex, x->queue,
			(unsigned long long)ctr_get(&x->frames),
			(unsigned long long)ctr_get(&x->handed), x->p->idx,
			(unsigned long long)ctr_get(&x->foreign),
			(unsigned long long)xs.rx_dropped,
			(unsigned long long)xs.rx_ring_full,
			(unsigned long long)xs.rx_fill_ring_empty_descs);
}

/*
 * Take the socket back from its poller, then free it.  The XSKMAP entry
 * must be gone first (steering.c clears it).  A poller that does not answer
 * within 5 s keeps the socket: leaked rather than unmapped under it.
 */
void pktio_xsk_close(struct xsk *x)
{
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
		log_warn("pktio: poller %u did not release its %s socket",
			 x->p->idx, x->hop ? "packet" : "AF_XDP");
		return;
	}
	xsk_log(x);
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

/* ---- transmit: source address check ------------------------------------ */

/*
 * The source MACs a tenant may send from are the MACs steered to it
 * (`steer add --mac`): a tenant cannot put frames on the wire in another
 * host's or tenant's name.  One word per MAC, TX_MAC_VALID | the 48 bits,
 * written by the control thread (steering.c keeps it in step with the
 * mac_tenant map) with relaxed atomic stores and read by the pollers with
 * relaxed loads: a word is never torn, and a send racing with a change of
 * the rules is decided by the old or the new set, like one made just
 * before or after it.
 */
#define TX_MAC_VALID (1ULL << 63)
static uint64_t tx_macs[XIO_STEER_MAX_TENANTS][PKTIO_TX_MACS];

static uint64_t mac_word(const uint8_t m[6])
{
	uint64_t w = TX_MAC_VALID;
	int i;

	for (i = 0; i < 6; i++)
		w |= (uint64_t)m[i] << (40 - 8 * i);
	return w;
}

/* The slot of @w in tenant @id's row, or -1. */
static int tx_mac_find(uint32_t id, uint64_t w)
{
	int i;

	for (i = 0; i < PKTIO_TX_MACS; i++)
		if (__atomic_load_n(&tx_macs[id][i], __ATOMIC_RELAXED) == w)
			return i;
	return -1;
}

/* Whether tenant @id can be given @mac (it has it, or a free slot). */
bool pktio_tx_mac_room(uint32_t id, const uint8_t mac[6])
{
	return id < XIO_STEER_MAX_TENANTS &&
	       (tx_mac_find(id, mac_word(mac)) >= 0 || tx_mac_find(id, 0) >= 0);
}

/* @mac is tenant @id's from now on (-1 or no room: nobody's). */
void pktio_tx_mac_set(const uint8_t mac[6], int64_t id)
{
	uint64_t w = mac_word(mac);
	uint32_t t;
	int i;

	for (t = 0; t < XIO_STEER_MAX_TENANTS; t++) {
		if (t == id)
			continue;
		i = tx_mac_find(t, w);
		if (i >= 0)
			__atomic_store_n(&tx_macs[t][i], 0, __ATOMIC_RELAXED);
	}
	if (id < 0 || id >= XIO_STEER_MAX_TENANTS ||
	    tx_mac_find((uint32_t)id, w) >= 0)
		return;
	i = tx_mac_find((uint32_t)id, 0);
	if (i >= 0)
		__atomic_store_n(&tx_macs[id][i], w, __ATOMIC_RELAXED);
}

void pktio_tx_mac_clear(uint32_t id)
{
	int i;

	for (i = 0; id < XIO_STEER_MAX_TENANTS && i < PKTIO_TX_MACS; i++)
		__atomic_store_n(&tx_macs[id][i], 0, __ATOMIC_RELAXED);
}

/*
 * XIO_OP_PKT_SEND of @frame (at least ETH_HLEN bytes in @t's pool, which
 * the guest can write at any time): copy its Ethernet header once into
 * @hdr, host memory, and check the source address of that copy.  The
 * frame is then sent with this copy as its header (pktio_tx_prep()), so
 * what was checked is what the kernel puts on the wire, whatever the
 * guest writes meanwhile.  -EPERM (counted): not one of @t's MACs.
 */
int pktio_tx_check(struct tenant *t, const void *frame, uint8_t hdr[ETH_HLEN])
{
	memcpy(hdr, frame, ETH_HLEN);
	/* Pairs with the store-release in pktio_tx_alloc(). */
	if (t->id < XIO_STEER_MAX_TENANTS &&
	    __atomic_load_n(&t->tx, __ATOMIC_ACQUIRE) &&
	    tx_mac_find(t->id, mac_word(hdr + ETH_ALEN)) >= 0)
		return 0;
	ctr_add(&t->st.pkt_tx_refused, 1);
	return -EPERM;
}

/*
 * The message of @op's send (after pktio_tx_check() passed): the checked
 * header, kept in @op's slot of t->tx until the completion (the kernel may
 * read it as late as the send runs), then the rest of the frame from the
 * pool.
 */
struct msghdr *pktio_tx_prep(struct tenant *t, struct op *op,
			     const uint8_t hdr[ETH_HLEN], void *frame,
			     uint32_t len)
{
	struct pkt_tx *x = &t->tx[op - t->ops];

	memcpy(x->hdr, hdr, ETH_HLEN);
	x->iov[0].iov_base = x->hdr;
	x->iov[0].iov_len = ETH_HLEN;
	x->iov[1].iov_base = (uint8_t *)frame + ETH_HLEN;
	x->iov[1].iov_len = len - ETH_HLEN;
	memset(&x->msg, 0, sizeof(x->msg));
	x->msg.msg_iov = x->iov;
	x->msg.msg_iovlen = 2;
	return &x->msg;
}

/* Control thread: @t's send state, once (only tenants with a MAC rule pay
 * for it); freed with the tenant (control.c tenant_free()). */
int pktio_tx_alloc(struct tenant *t)
{
	struct pkt_tx *x;

	if (t->tx)
		return 0;
	x = calloc(t->nr_ops, sizeof(*x));
	if (!x)
		return -ENOMEM;
	__atomic_store_n(&t->tx, x, __ATOMIC_RELEASE);
	return 0;
}

/* After the pollers stopped: nobody submits on the ports any more. */
void pktio_fini(void)
{
	uint32_t i;

	ho_fini();
	for (i = 0; i < XIO_ADMIN_STEER_IFACES_MAX; i++) {
		if (ports[i].open)
			close(ports[i].fd);
		ports[i].open = false;
	}
}
