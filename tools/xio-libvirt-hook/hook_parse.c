// SPDX-License-Identifier: MIT
/*
 * The libvirt hook's domain XML parser (see hook_parse.h): everything in the
 * XML is checked before the hook acts on it; bad input ends in fail().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <numa.h>

#include "hook_parse.h"

static bool is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       !strcmp((const char *)n->name, name);
}

static void copy_text(const xmlNode *n, char *dst, size_t len)
{
	xmlChar *s = xmlNodeGetContent(n);

	snprintf(dst, len, "%s", s ? (const char *)s : "");
	xmlFree(s);
}

static uint64_t unit_scale(const char *u)
{
	static const struct {
		const char *u;
		uint64_t s;
	} t[] = {{"b", 1},	 {"bytes", 1},	   {"KB", 1000},
		 {"k", 1024},	 {"KiB", 1024},	   {"MB", 1000000},
		 {"M", 1 << 20}, {"MiB", 1 << 20}, {"GB", 1000000000},
		 {"G", 1 << 30}, {"GiB", 1 << 30}};
	unsigned int i;

	if (!u)
		return 1 << 20; /* libvirt's default unit for <shmem><size> */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(u, t[i].u))
			return t[i].s;
	return 0;
}

static void parse_shmem(struct dom *d, xmlNode *sh)
{
	xmlChar *name = xmlGetProp(sh, (const xmlChar *)"name");
	const char *model = NULL;
	uint64_t size = 0, scale;
	struct shm *s;
	xmlNode *c;
	char *end;

	if (!name || strncmp((const char *)name, PREFIX, strlen(PREFIX))) {
		xmlFree(name); /* not ours */
		return;
	}
	if (strlen((const char *)name) >= XIO_TENANT_NAME_MAX)
		fail("shmem '%s': name longer than %d bytes", name,
		     XIO_TENANT_NAME_MAX - 1);
	for (c = sh->children; c; c = c->next) {
		if (is(c, "model")) {
			xmlChar *t = xmlGetProp(c, (const xmlChar *)"type");

			model = t && !strcmp((const char *)t, "ivshmem-plain") ?
					"ivshmem-plain" :
					"other";
			xmlFree(t);
		} else if (is(c, "size")) {
			xmlChar *u = xmlGetProp(c, (const xmlChar *)"unit");
			char txt[32];

			copy_text(c, txt, sizeof(txt));
			scale = unit_scale((const char *)u);
			xmlFree(u);
			errno = 0;
			size = strtoull(txt, &end, 10);
			if (!scale || errno || end == txt || *end ||
			    size > (1ULL << 40) / scale)
				fail("shmem '%s': bad <size>", name);
			size *= scale;
		}
	}
	/* libvirt's default model is ivshmem-plain. */
	if (model && strcmp(model, "ivshmem-plain"))
		fail("shmem '%s': xio needs model ivshmem-plain", name);
	if (!size)
		size = 4 * MIB; /* libvirt's default <size> */
	if (size < MIB || (size & (size - 1)))
		fail("shmem '%s': size %llu is not a power of two >= 1 MiB",
		     name, (unsigned long long)size);
	if (d->nr_shm == MAX_SHM)
		fail("more than %d xio shmem devices", MAX_SHM);
	s = &d->shm[d->nr_shm++];
	snprintf(s->name, sizeof(s->name), "%s", (const char *)name);
	s->size = size;
	xmlFree(name);
}

static bool ns_is(const xmlNode *n, const char *name)
{
	return is(n, name) && n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, XIO_NS);
}

/*
 * <metadata><xio:xio xmlns:xio="urn:xio:libvirt:1">
 *   <xio:target shmem="xio-NAME" path="/abs/file" [readonly="yes"]/>
 * </xio:xio></metadata>: targets xiod opens for the tenant at prepare.
 */
static void parse_metadata(struct dom *d, xmlNode *md)
{
	xmlNode *x, *t;

	for (x = md->children; x; x = x->next) {
		if (!ns_is(x, "xio"))
			continue;
		for (t = x->children; t; t = t->next) {
			xmlChar *sh, *path, *ro;

			if (!ns_is(t, "target"))
				continue;
			if (d->nr_tgt == MAX_TGT)
				fail("more than %d xio targets", MAX_TGT);
			sh = xmlGetProp(t, (const xmlChar *)"shmem");
			path = xmlGetProp(t, (const xmlChar *)"path");
			ro = xmlGetProp(t, (const xmlChar *)"readonly");
			if (!sh || !path || path[0] != '/' ||
			    strlen((const char *)sh) >= XIO_TENANT_NAME_MAX ||
			    strlen((const char *)path) >= 4096)
				fail("xio:target needs shmem='xio-...' and an absolute path");
			snprintf(d->tgt[d->nr_tgt].shm, sizeof(d->tgt[0].shm),
				 "%s", (const char *)sh);
			snprintf(d->tgt[d->nr_tgt].path, sizeof(d->tgt[0].path),
				 "%s", (const char *)path);
			d->tgt[d->nr_tgt].ro =
				ro && (!strcmp((const char *)ro, "yes") ||
				       !strcmp((const char *)ro, "on"));
			d->nr_tgt++;
			xmlFree(sh);
			xmlFree(path);
			xmlFree(ro);
		}
	}
}

static int first_number(const char *set)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(set, &end, 10);
	if (errno || end == set || v < 0 || v > 4095)
		return -1;
	return (int)v;
}

void parse_domain(const char *xml, size_t len, struct dom *d)
{
	xmlDoc *doc;
	xmlNode *root, *n, *c;

	memset(d, 0, sizeof(*d));
	d->node = -1;
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();

		fail("malformed domain XML on stdin: %s",
		     e && e->message ? strtok(e->message, "\n") :
				       "parse error");
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !is(root, "domain"))
		fail("stdin is not a <domain> XML document");
	for (n = root->children; n; n = n->next) {
		if (is(n, "name")) {
			copy_text(n, d->name, sizeof(d->name));
		} else if (is(n, "uuid")) {
			copy_text(n, d->uuid, sizeof(d->uuid));
		} else if (is(n, "numatune")) {
			for (c = n->children; c; c = c->next) {
				xmlChar *ns;

				if (!is(c, "memory"))
					continue;
				ns = xmlGetProp(c, (const xmlChar *)"nodeset");
				if (ns) {
					d->node =
						first_number((const char *)ns);
					if (d->node < 0)
						fail("bad numatune nodeset '%s'",
						     ns);
					d->node_from = "numatune";
				}
				xmlFree(ns);
			}
		} else if (is(n, "cputune")) {
			for (c = n->children; c; c = c->next) {
				xmlChar *v, *cs;

				if (!is(c, "vcpupin") || d->nr_pin == MAX_PIN)
					continue;
				v = xmlGetProp(c, (const xmlChar *)"vcpu");
				cs = xmlGetProp(c, (const xmlChar *)"cpuset");
				if (v && cs) {
					d->pin[d->nr_pin].vcpu =
						(unsigned)atoi((const char *)v);
					snprintf(d->pin[d->nr_pin].cpuset,
						 sizeof(d->pin[0].cpuset), "%s",
						 (const char *)cs);
					d->nr_pin++;
				}
				xmlFree(v);
				xmlFree(cs);
			}
		} else if (is(n, "metadata")) {
			parse_metadata(d, n);
		} else if (is(n, "devices")) {
			for (c = n->children; c; c = c->next)
				if (is(c, "shmem"))
					parse_shmem(d, c);
		}
	}
	xmlFreeDoc(doc);
	if (!d->name[0])
		fail("domain XML without <name>");
	for (unsigned int i = 0; i < d->nr_tgt; i++) {
		unsigned int j;

		for (j = 0; j < d->nr_shm; j++)
			if (!strcmp(d->tgt[i].shm, d->shm[j].name))
				break;
		if (j == d->nr_shm)
			fail("xio:target names shmem '%s', which is not an xio shmem device of the domain",
			     d->tgt[i].shm);
	}
	/* No numatune: the node of the first pinned vCPU's first CPU. */
	if (d->node < 0 && d->nr_pin) {
		int cpu = first_number(d->pin[0].cpuset);

		if (cpu >= 0 && numa_available() >= 0) {
			d->node = numa_node_of_cpu(cpu);
			d->node_from = "vcpupin";
		}
	}
}
