// SPDX-License-Identifier: MIT
/*
 * The libvirt hook's domain XML parser (see hook_parse.h): everything in the
 * XML is checked before the hook (or xioctl libvirt sync) acts on it; bad
 * input is refused with one line in dom.err, and everything libxml2
 * allocated is freed on every path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <numa.h>

#include "hook_parse.h"

static int __attribute__((format(printf, 2, 3)))
refuse(struct dom *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return -1;
}

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

static int parse_shmem(struct dom *d, xmlNode *sh)
{
	xmlChar *name = xmlGetProp(sh, (const xmlChar *)"name");
	const char *model = NULL, *n = (const char *)name;
	char server[sizeof(((struct shm *)0)->server)] = "";
	uint64_t size = 0, scale;
	struct shm *s;
	xmlNode *c;
	char *end;
	int rc = -1;

	if (!name || strncmp(n, PREFIX, strlen(PREFIX))) {
		xmlFree(name); /* not ours */
		return 0;
	}
	if (strlen(n) >= XIO_TENANT_NAME_MAX) {
		refuse(d, "shmem '%.80s...': name longer than %d bytes", n,
		       XIO_TENANT_NAME_MAX - 1);
		goto out;
	}
	for (c = sh->children; c; c = c->next) {
		if (is(c, "model")) {
			xmlChar *t = xmlGetProp(c, (const xmlChar *)"type");

			model = !t ? "other" :
				!strcmp((const char *)t, "ivshmem-plain") ?
				     "ivshmem-plain" :
				!strcmp((const char *)t, "ivshmem-doorbell") ?
				     "ivshmem-doorbell" :
				     "other";
			xmlFree(t);
		} else if (is(c, "server")) {
			xmlChar *p = xmlGetProp(c, (const xmlChar *)"path");

			if (p && (p[0] != '/' ||
				  strlen((const char *)p) >= sizeof(server))) {
				xmlFree(p);
				refuse(d,
				       "shmem '%s': <server path> must be absolute and shorter than %zu bytes",
				       n, sizeof(server));
				goto out;
			}
			/* libvirt's default when <server> names no path */
			if (p)
				snprintf(server, sizeof(server), "%s",
					 (const char *)p);
			else
				snprintf(server, sizeof(server),
					 "/var/lib/libvirt/shmem/%s-sock", n);
			xmlFree(p);
		} else if (is(c, "size")) {
			xmlChar *u = xmlGetProp(c, (const xmlChar *)"unit");
			char txt[32];

			copy_text(c, txt, sizeof(txt));
			scale = unit_scale((const char *)u);
			xmlFree(u);
			errno = 0;
			size = strtoull(txt, &end, 10);
			if (!scale || errno || end == txt || *end ||
			    size > (1ULL << 40) / scale) {
				refuse(d, "shmem '%s': bad <size>", n);
				goto out;
			}
			size *= scale;
		}
	}
	/* libvirt's default model is ivshmem-plain. */
	if (model && !strcmp(model, "other")) {
		refuse(d,
		       "shmem '%s': xio needs model ivshmem-plain or ivshmem-doorbell",
		       n);
		goto out;
	}
	if (model && !strcmp(model, "ivshmem-doorbell") && !server[0]) {
		refuse(d,
		       "shmem '%s': ivshmem-doorbell needs <server path='...'/>",
		       n);
		goto out;
	}
	if ((!model || strcmp(model, "ivshmem-doorbell")) && server[0]) {
		refuse(d,
		       "shmem '%s': <server> is only for model ivshmem-doorbell",
		       n);
		goto out;
	}
	if (!size)
		size = 4 * MIB; /* libvirt's default <size> */
	if (size < MIB || (size & (size - 1))) {
		refuse(d,
		       "shmem '%s': size %llu is not a power of two >= 1 MiB",
		       n, (unsigned long long)size);
		goto out;
	}
	if (d->nr_shm == MAX_SHM) {
		refuse(d, "more than %d xio shmem devices", MAX_SHM);
		goto out;
	}
	s = &d->shm[d->nr_shm++];
	snprintf(s->name, sizeof(s->name), "%s", n);
	s->size = size;
	s->doorbell = server[0] != '\0';
	memcpy(s->server, server, sizeof(s->server));
	rc = 0;
out:
	xmlFree(name);
	return rc;
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
static int parse_metadata(struct dom *d, xmlNode *md)
{
	xmlNode *x, *t;

	for (x = md->children; x; x = x->next) {
		if (!ns_is(x, "xio"))
			continue;
		for (t = x->children; t; t = t->next) {
			xmlChar *sh, *path, *ro;
			bool bad;

			if (!ns_is(t, "target"))
				continue;
			if (d->nr_tgt == MAX_TGT)
				return refuse(d, "more than %d xio targets",
					      MAX_TGT);
			sh = xmlGetProp(t, (const xmlChar *)"shmem");
			path = xmlGetProp(t, (const xmlChar *)"path");
			ro = xmlGetProp(t, (const xmlChar *)"readonly");
			bad = !sh || !path || path[0] != '/' ||
			      strlen((const char *)sh) >= XIO_TENANT_NAME_MAX ||
			      strlen((const char *)path) >= 4096;
			if (!bad) {
				snprintf(d->tgt[d->nr_tgt].shm,
					 sizeof(d->tgt[0].shm), "%s",
					 (const char *)sh);
				snprintf(d->tgt[d->nr_tgt].path,
					 sizeof(d->tgt[0].path), "%s",
					 (const char *)path);
				d->tgt[d->nr_tgt].ro =
					ro &&
					(!strcmp((const char *)ro, "yes") ||
					 !strcmp((const char *)ro, "on"));
				d->nr_tgt++;
			}
			xmlFree(sh);
			xmlFree(path);
			xmlFree(ro);
			if (bad)
				return refuse(
					d,
					"xio:target needs shmem='xio-...' and an absolute path");
		}
	}
	return 0;
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

/* The document's top-level elements; 0 or -1 (d->err says why). */
static int parse_root(struct dom *d, xmlNode *root)
{
	xmlNode *n, *c;

	for (n = root->children; n; n = n->next) {
		if (is(n, "name")) {
			copy_text(n, d->name, sizeof(d->name));
		} else if (is(n, "uuid")) {
			copy_text(n, d->uuid, sizeof(d->uuid));
		} else if (is(n, "numatune")) {
			for (c = n->children; c; c = c->next) {
				xmlChar *ns;
				bool bad = false;

				if (!is(c, "memory"))
					continue;
				ns = xmlGetProp(c, (const xmlChar *)"nodeset");
				if (ns) {
					d->node =
						first_number((const char *)ns);
					d->node_from = "numatune";
					bad = d->node < 0;
					if (bad)
						refuse(d,
						       "bad numatune nodeset '%.64s'",
						       ns);
				}
				xmlFree(ns);
				if (bad)
					return -1;
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
			if (parse_metadata(d, n))
				return -1;
		} else if (is(n, "devices")) {
			for (c = n->children; c; c = c->next)
				if (is(c, "shmem") && parse_shmem(d, c))
					return -1;
		}
	}
	return 0;
}

int parse_domain(const char *xml, size_t len, struct dom *d)
{
	xmlDoc *doc;
	xmlNode *root;
	int rc;

	memset(d, 0, sizeof(*d));
	d->node = -1;
	if (len > INT32_MAX)
		return refuse(d, "domain XML larger than 2 GiB");
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();

		refuse(d, "malformed domain XML: %s",
		       e && e->message ? strtok(e->message, "\n") :
					 "parse error");
		xmlResetLastError();
		return -1;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !is(root, "domain"))
		rc = refuse(d, "not a <domain> XML document");
	else
		rc = parse_root(d, root);
	xmlFreeDoc(doc);
	if (rc)
		return rc;
	if (!d->name[0])
		return refuse(d, "domain XML without <name>");
	for (unsigned int i = 0; i < d->nr_tgt; i++) {
		unsigned int j;

		for (j = 0; j < d->nr_shm; j++)
			if (!strcmp(d->tgt[i].shm, d->shm[j].name))
				break;
		if (j == d->nr_shm)
			return refuse(
				d,
				"xio:target names shmem '%s', which is not an xio shmem device of the domain",
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
	return 0;
}
