/* SPDX-License-Identifier: MIT */
/*
 * Self-checking blocks written by xio-guest-demo and verified by whoever
 * reads the target file afterwards (the guest itself, tests/vm/vm_host.c).
 * Block i of a run with seed S: a 40-byte header {magic, i, S, len, sum}
 * then a payload from an xorshift64 stream seeded by (S, i); sum is a
 * 64-bit FNV-1a over the header (sum = 0) and the payload.  A block read
 * from the wrong offset, a stale block of another run, a torn or zeroed
 * block: each fails a different check.
 */
#ifndef XIO_DEMO_BLOCKFMT_H
#define XIO_DEMO_BLOCKFMT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLK_MAGIC 0x31304b4c424f4958ULL /* "XIOBLK01" */
#define BLK_MIN_SIZE 64U

struct blk_hdr {
	uint64_t magic;
	uint64_t index;
	uint64_t seed;
	uint32_t len;
	uint32_t __pad;
	uint64_t sum;
};

enum blk_err {
	BLK_OK = 0,
	BLK_BAD_MAGIC,
	BLK_BAD_INDEX,
	BLK_BAD_SEED,
	BLK_BAD_LEN,
	BLK_BAD_SUM,
	BLK_BAD_DATA,
};

static inline const char *blk_strerror(int e)
{
	static const char *const s[] = {
		"ok",	      "bad magic",    "bad index",  "bad seed",
		"bad length", "bad checksum", "bad payload"};

	return e >= 0 && e <= BLK_BAD_DATA ? s[e] : "?";
}

static inline uint64_t blk_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--) {
		h ^= *c++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static inline uint64_t blk_stream_seed(uint64_t seed, uint64_t index)
{
	uint64_t x = seed ^ (index * 0x9e3779b97f4a7c15ULL);

	return x ? x : 1;
}

static inline uint64_t blk_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static inline uint64_t blk_sum(const struct blk_hdr *h, const unsigned char *b,
			       uint32_t len)
{
	struct blk_hdr z = *h;

	z.sum = 0;
	return blk_fnv(blk_fnv(0xcbf29ce484222325ULL, &z, sizeof(z)),
		       b + sizeof(z), len - sizeof(z));
}

/* Fill @b (@len bytes, >= BLK_MIN_SIZE, multiple of 8) as block @index. */
static inline void blk_fill(void *b, uint32_t len, uint64_t index,
			    uint64_t seed)
{
	struct blk_hdr h = {BLK_MAGIC, index, seed, len, 0, 0};
	uint64_t x = blk_stream_seed(seed, index), v;
	unsigned char *p = b;
	uint32_t off;

	for (off = sizeof(h); off < len; off += 8) {
		v = blk_next(&x);
		memcpy(p + off, &v, 8);
	}
	h.sum = blk_sum(&h, p, len);
	memcpy(p, &h, sizeof(h));
}

/*
 * Check @b as block @index of @len bytes; @seed: the run's seed, or NULL to
 * accept any seed.  Returns BLK_OK or the first check that failed.
 */
static inline int blk_check(const void *b, uint32_t len, uint64_t index,
			    const uint64_t *seed)
{
	const unsigned char *p = b;
	struct blk_hdr h;
	uint64_t x, v;
	uint32_t off;

	memcpy(&h, p, sizeof(h));
	if (h.magic != BLK_MAGIC)
		return BLK_BAD_MAGIC;
	if (h.index != index)
		return BLK_BAD_INDEX;
	if (seed && h.seed != *seed)
		return BLK_BAD_SEED;
	if (h.len != len)
		return BLK_BAD_LEN;
	if (h.sum != blk_sum(&h, p, len))
		return BLK_BAD_SUM;
	x = blk_stream_seed(h.seed, index);
	for (off = sizeof(h); off < len; off += 8) {
		memcpy(&v, p + off, 8);
		if (v != blk_next(&x))
			return BLK_BAD_DATA;
	}
	return BLK_OK;
}

/*
 * Check @blocks blocks of @bs bytes in file @fd, as the host does after a
 * run: the seed is taken from block 0, every block must verify.  The first
 * ten failures are reported on stderr prefixed with @who.  Returns the
 * number of bad blocks (all of them if no buffer could be allocated).
 */
static inline uint64_t blk_verify_file(int fd, uint64_t blocks, uint32_t bs,
				       uint64_t *seedp, const char *who)
{
	unsigned char *b = malloc(bs ? bs : 1);
	uint64_t i, bad = 0, seed = 0;
	int e;

	if (!b)
		return blocks;
	for (i = 0; i < blocks; i++) {
		if (pread(fd, b, bs, (off_t)(i * bs)) != (ssize_t)bs) {
			bad++;
			continue;
		}
		if (i == 0)
			memcpy(&seed, b + offsetof(struct blk_hdr, seed), 8);
		e = blk_check(b, bs, i, &seed);
		if (e) {
			if (bad < 10)
				fprintf(stderr, "%s: block %" PRIu64 ": %s\n",
					who, i, blk_strerror(e));
			bad++;
		}
	}
	free(b);
	*seedp = seed;
	return bad;
}

#endif /* XIO_DEMO_BLOCKFMT_H */
