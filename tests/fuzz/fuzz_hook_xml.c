/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the libvirt hook's domain XML parser
 * (tools/xio-libvirt-hook/hook_parse.c, the code the hook and xioctl
 * libvirt sync run) on the fuzzer's bytes.  Checked: no crash, no
 * out-of-bounds access, a refusal comes with its one-line reason, and an
 * accepted domain is consistent: a name, counts within their arrays,
 * terminated strings, xio shmem names with the prefix and power-of-two sizes
 * of at least 1 MiB, every target naming one of the domain's xio shmems by
 * an absolute path.
 *
 * xioctl libvirt sync parses many domains in one process, so a refusal must
 * not leave libxml2's document or strings behind: libxml2 allocates through
 * xmlMemSetup() hooks here that keep every block of the current input on a
 * list, which must be empty after every input, accepted or refused.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "hook_parse.h"
#include "fuzz.h"

/* libxml2's allocations: a header links every live block of this input. */
struct blk {
	struct blk *prev, *next;
	size_t size;
	size_t __pad;
};
static struct blk live = {&live, &live, 0, 0};
static int in_input;

static void *blk_add(struct blk *b, size_t size)
{
	b->size = size;
	if (in_input) {
		b->next = live.next;
		b->prev = &live;
		live.next->prev = b;
		live.next = b;
	} else {
		b->next = b->prev = NULL; /* libxml2's own globals: kept */
	}
	return b + 1;
}

static void blk_del(struct blk *b)
{
	if (b->next) {
		b->prev->next = b->next;
		b->next->prev = b->prev;
	}
}

static void *x_malloc(size_t size)
{
	struct blk *b = malloc(sizeof(*b) + size);

	return b ? blk_add(b, size) : NULL;
}

static void x_free(void *p)
{
	struct blk *b;

	if (!p)
		return;
	b = (struct blk *)p - 1;
	blk_del(b);
	free(b);
}

static void *x_realloc(void *p, size_t size)
{
	struct blk *b, *n;

	if (!p)
		return x_malloc(size);
	b = (struct blk *)p - 1;
	n = x_malloc(size);
	if (!n)
		return NULL;
	memcpy(n, p, b->size < size ? b->size : size);
	x_free(p);
	return n;
}

static char *x_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = x_malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

static void terminated(const char *s, size_t n)
{
	if (!memchr(s, 0, n))
		die("string not terminated");
}

static void ignore(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dom d;
	unsigned int i, j;
	int rc;

	static int ready;

	if (!ready) {
		if (xmlMemSetup(x_free, x_malloc, x_realloc, x_strdup))
			die("xmlMemSetup");
		xmlInitParser();
		xmlSetGenericErrorFunc(NULL, ignore);
		ready = 1;
	}
	if (size > (1U << 20))
		return 0;
	in_input = 1;
	rc = parse_domain((const char *)data, size, &d);
	in_input = 0;
	xmlResetLastError();
	if (live.next != &live)
		die(rc ? "libxml2 blocks left after a refusal" :
			 "libxml2 blocks left after an accepted domain");
	if (rc) {
		terminated(d.err, sizeof(d.err));
		if (!d.err[0])
			die("refused without a reason");
		return 0;
	}
	if (!d.name[0])
		die("accepted a domain without a name");
	terminated(d.name, sizeof(d.name));
	terminated(d.uuid, sizeof(d.uuid));
	if (d.nr_shm > MAX_SHM || d.nr_tgt > MAX_TGT || d.nr_pin > MAX_PIN)
		die("count beyond its array");
	if (d.node < -1)
		die("bad node");
	for (i = 0; i < d.nr_pin; i++)
		terminated(d.pin[i].cpuset, sizeof(d.pin[i].cpuset));
	for (i = 0; i < d.nr_shm; i++) {
		terminated(d.shm[i].name, sizeof(d.shm[i].name));
		if (strncmp(d.shm[i].name, PREFIX, strlen(PREFIX)))
			die("shmem without the xio- prefix");
		if (d.shm[i].size < MIB ||
		    (d.shm[i].size & (d.shm[i].size - 1)))
			die("shmem size not a power of two >= 1 MiB");
	}
	for (i = 0; i < d.nr_tgt; i++) {
		terminated(d.tgt[i].shm, sizeof(d.tgt[i].shm));
		terminated(d.tgt[i].path, sizeof(d.tgt[i].path));
		if (d.tgt[i].path[0] != '/')
			die("target path not absolute");
		for (j = 0; j < d.nr_shm; j++)
			if (!strcmp(d.tgt[i].shm, d.shm[j].name))
				break;
		if (j == d.nr_shm)
			die("target names no shmem of the domain");
	}
	return 0;
}
