/* SPDX-License-Identifier: MIT */
/*
 * Which tenant a frame read after the CPU hop is for (docs/steering.md,
 * "Delivery after the CPU hop").  The packet socket that reads those frames
 * (pktio.c) sees the frame, not the XDP metadata that named its tenant, so
 * the reader classifies it again: with the XDP program's own classifier
 * (bpf/xio_steer_classify.h, the same source), over a copy of the rules
 * that steering.c writes after every change of the maps.
 *
 * The copy: open-addressing tables of one or three 64-bit words per rule,
 * rewritten whole by the control thread (rules change rarely; the maps hold
 * at most 4096 per kind), read by the pollers under a sequence lock: the
 * writer makes the sequence odd, rewrites, makes it even again; a reader
 * that saw it odd or changed classifies the frame again.  Every word is
 * read and written with atomic accesses, so a reader racing with the
 * writer reads stale or new words, never torn ones, and then retries.
 * Ordering without fences (TSan has none): the writer stores every word
 * with release, so a reader that loads a rewritten word (acquire) also sees
 * the odd sequence stored before it; the reader loads every word with
 * acquire, so its second load of the sequence comes after all of them.
 * On x86 both are plain moves.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>

#include <xio/barrier.h>
#include <xio/steer.h>

#include "xio_steer_abi.h"
#include "xiod.h"

#define RULE_SLOTS 8192U /* per table: twice the maps' capacity */
#define RULE_VALID (1ULL << 63)

_Static_assert((RULE_SLOTS & (RULE_SLOTS - 1)) == 0, "power of two");
_Static_assert(RULE_SLOTS >= 2 * XIO_STEER_MAX_MACS &&
		       RULE_SLOTS >= 2 * XIO_STEER_MAX_IPS,
	       "tables at most half full");

static uint32_t rules_seq;		/* odd: being rewritten */
static uint64_t mac_tab[RULE_SLOTS];	/* VALID | tenant << 48 | MAC */
static uint64_t ip4_tab[RULE_SLOTS];	/* VALID | tenant << 32 | address */
static uint64_t ip6_tab[RULE_SLOTS][3]; /* address (2 words), VALID | id */
static uint32_t rules_ip_mode;		/* XIO_STEER_IP_* */
static int32_t node_of[XIO_STEER_MAX_TENANTS]; /* -1: not placed */

static uint32_t slot_of(uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 40) &
	       (RULE_SLOTS - 1);
}

static uint64_t rd(const uint64_t *w)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static void wr(uint64_t *w, uint64_t v)
{
	__atomic_store_n(w, v, __ATOMIC_RELEASE);
}

static uint64_t mac48(const uint8_t *m)
{
	uint64_t k = 0;
	int i;

	for (i = 0; i < 6; i++)
		k = k << 8 | m[i];
	return k;
}

static uint64_t ip6_word(const uint8_t *a)
{
	uint64_t w;

	memcpy(&w, a, 8);
	return w;
}

/* ---- lookups for the classifier (poller threads) ------------------------ */

static inline int xio_cl_mac(const __u8 *mac)
{
	uint64_t k = mac48(mac), w;
	uint32_t s;

	for (s = slot_of(k); (w = rd(&mac_tab[s]));
	     s = (s + 1) & (RULE_SLOTS - 1))
		if ((w & 0xffffffffffffULL) == k)
			return (int)((w >> 48) & 0x7fff);
	return XIO_CL_UNKNOWN;
}

static inline int xio_cl_ip4(__u32 daddr)
{
	uint64_t w;
	uint32_t s;

	for (s = slot_of(daddr); (w = rd(&ip4_tab[s]));
	     s = (s + 1) & (RULE_SLOTS - 1))
		if ((uint32_t)w == daddr)
			return (int)((w >> 32) & 0x7fffffff);
	return XIO_CL_UNKNOWN;
}

static inline int xio_cl_ip6(const __u8 *daddr)
{
	uint64_t a = ip6_word(daddr), b = ip6_word(daddr + 8), w;
	uint32_t s;

	for (s = slot_of(a ^ b); (w = rd(&ip6_tab[s][2]));
	     s = (s + 1) & (RULE_SLOTS - 1))
		if (rd(&ip6_tab[s][0]) == a && rd(&ip6_tab[s][1]) == b)
			return (int)(w & 0x7fffffff);
	return XIO_CL_UNKNOWN;
}

#include "xio_steer_classify.h"

/* Bytes the classifier may read: 802.1Q tag + IPv4 with IHL 15 = 78. */
#define HDR_COPY 128U

/*
 * The tenant of frame @f (@len bytes), if the XDP program sent it to node
 * @node's CPU: classified to a tenant whose node is @node.  Otherwise -1:
 * no tenant (unknown, runt, malformed, stacked tags), or a tenant of
 * another node or of none (stage 1 passed it on the CPU that received it:
 * not a hop; see pktio.c for the whole argument).
 */
int pkthop_tenant(const uint8_t *f, uint32_t len, int node)
{
	/* the copy starts at 2 mod 4: the IP header is aligned */
	uint32_t buf[HDR_COPY / 4 + 1];
	uint8_t *h = (uint8_t *)buf + 2;
	uint32_t n = len < HDR_COPY ? len : HDR_COPY, seq;
	int cl = -1, nd = -1;

	memcpy(h, f, n);
	do {
		/* Pairs with the store-release that ends a rewrite. */
		seq = __atomic_load_n(&rules_seq, __ATOMIC_ACQUIRE);
		if (seq & 1) {
			xio_cpu_relax();
			continue;
		}
		cl = xio_steer_classify(
			h, h + n,
			__atomic_load_n(&rules_ip_mode, __ATOMIC_ACQUIRE));
		nd = cl >= 0 && cl < (int)XIO_STEER_MAX_TENANTS ?
			     __atomic_load_n(&node_of[cl], __ATOMIC_ACQUIRE) :
			     -1;
	} while ((seq & 1) ||
		 __atomic_load_n(&rules_seq, __ATOMIC_RELAXED) != seq);
	return cl >= 0 && nd == node ? cl : -1;
}

/* ---- the copy of the rules (control thread) ----------------------------- */

void pkthop_rules_set(const struct xio_steer_rule *r, uint32_t n,
		      const int32_t *tenant_node, uint32_t mode)
{
	uint32_t seq = __atomic_load_n(&rules_seq, __ATOMIC_RELAXED), i, s;

	/* Seen by any reader that loads a word stored below (release). */
	__atomic_store_n(&rules_seq, seq + 1, __ATOMIC_RELAXED);
	for (s = 0; s < RULE_SLOTS; s++) {
		wr(&mac_tab[s], 0);
		wr(&ip4_tab[s], 0);
		wr(&ip6_tab[s][2], 0);
	}
	for (i = 0; i < XIO_STEER_MAX_TENANTS; i++)
		__atomic_store_n(&node_of[i], tenant_node[i], __ATOMIC_RELEASE);
	__atomic_store_n(&rules_ip_mode, mode, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		uint64_t id = r[i].tenant & 0x7fff, k;

		if (r[i].family == AF_PACKET) {
			k = mac48(r[i].addr);
			for (s = slot_of(k); rd(&mac_tab[s]);
			     s = (s + 1) & (RULE_SLOTS - 1))
				;
			wr(&mac_tab[s], RULE_VALID | id << 48 | k);
		} else if (r[i].family == AF_INET) {
			uint32_t a;

			memcpy(&a, r[i].addr, 4);
			for (s = slot_of(a); rd(&ip4_tab[s]);
			     s = (s + 1) & (RULE_SLOTS - 1))
				;
			wr(&ip4_tab[s], RULE_VALID | id << 32 | a);
		} else if (r[i].family == AF_INET6) {
			uint64_t a = ip6_word(r[i].addr),
				 b = ip6_word(r[i].addr + 8);

			for (s = slot_of(a ^ b); rd(&ip6_tab[s][2]);
			     s = (s + 1) & (RULE_SLOTS - 1))
				;
			wr(&ip6_tab[s][0], a);
			wr(&ip6_tab[s][1], b);
			wr(&ip6_tab[s][2], RULE_VALID | id);
		}
	}
	/* Pairs with the acquire in pkthop_tenant(). */
	__atomic_store_n(&rules_seq, seq + 2, __ATOMIC_RELEASE);
}
