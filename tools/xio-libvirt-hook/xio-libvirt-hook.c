// SPDX-License-Identifier: MIT
/*
 * xio-libvirt-hook: libvirt's qemu hook for xio (docs/libvirt.md,
 * xio-libvirt-hook(8)).
 *
 *   qemu DOMAIN OPERATION SUB-OPERATION EXTRA   < domain XML
 *
 * prepare: every <shmem name='xio-...'> (model ivshmem-plain) of the domain
 * becomes a file-backed xiod tenant of that name, its region file created
 * by xiod at SHM_DIR/NAME (libvirt's backing path, /dev/shm/NAME) with the
 * <size> of the XML, owned by QEMU's user, on the domain's NUMA node
 * (<numatune><memory nodeset>, else the node of the first vcpupin CPU).
 * stopped, release: those tenants are removed (xiod unlinks the files).
 * migrate, restore: refused when the domain has xio devices (the region is
 * host memory that QEMU does not carry); otherwise the XML is kept (nothing
 * printed).  reconnect: the tenants must still exist in xiod (re-adopted
 * as they are); a missing one is reported, not recreated.  Anything else:
 * exit 0, nothing done (libvirt's convention for unknown operations).
 *
 * Never calls libvirt (a hook that does deadlocks libvirtd).  Every xiod
 * exchange has the library's socket timeouts (10 s); the whole run is
 * bounded by XIO_HOOK_TIMEOUT seconds (default 30) with alarm().
 *
 * Exit: 0 done (or nothing to do), 1 refused or failed (one line on
 * stderr; libvirt aborts the operation and logs it), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <numa.h>

#include <xio/admin.h>
#include <xio/xio.h>

#define PREFIX "xio-"
#define XIO_NS "urn:xio:libvirt:1" /* <metadata><xio:xio xmlns:xio=...> */
#define MAX_SHM 16
#define MAX_TGT 64
#define MAX_PIN 64
#define MIB (1ULL << 20)

struct shm {
	char name[XIO_TENANT_NAME_MAX];
	uint64_t size;
};

struct dom {
	char name[256];
	char uuid[64];
	int node; /* -1: none */
	const char *node_from;
	struct {
		unsigned int vcpu;
		char cpuset[64];
	} pin[MAX_PIN];
	unsigned int nr_pin;
	struct shm shm[MAX_SHM];
	unsigned int nr_shm;
	struct {
		char shm[XIO_TENANT_NAME_MAX];
		char path[4096];
		bool ro;
	} tgt[MAX_TGT];
	unsigned int nr_tgt;
};

static const char *dom_arg = "?";

static void __attribute__((format(printf, 1, 2), noreturn))
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xio-libvirt-hook: %s: ", dom_arg);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void on_alarm(int sig)
{
	static const char m[] =
		"xio-libvirt-hook: timed out (XIO_HOOK_TIMEOUT)\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(1);
}

static int quiet(enum xio_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static char *slurp_stdin(size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);
	ssize_t r;

	if (!b)
		fail("out of memory");
	while ((r = read(0, b + n, cap - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fail("reading the domain XML: %s", strerror(errno));
		}
		n += (size_t)r;
		if (n == cap) {
			if (cap >= (64U << 20))
				fail("domain XML larger than 64 MiB");
			cap *= 2;
			b = realloc(b, cap);
			if (!b)
				fail("out of memory");
		}
	}
	*len = n;
	return b;
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

static void parse_domain(const char *xml, size_t len, struct dom *d)
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

/*
 * Queue geometry for a region file of exactly @size: one queue pair of 256
 * entries, 4 KiB buffers, as many as fit (ivshmem sizes are powers of two).
 */
static void geometry(uint64_t size, struct xio_vm_tenant_opts *o)
{
	struct xio_params p = {0};
	struct xio_layout l;
	uint32_t lo = 1, hi, mid;

	p.nr_qpairs = 1;
	p.sq_entries = 256;
	p.cq_entries = 256;
	p.buf_size = 4096;
	hi = size / p.buf_size > 65536 ? 65536 : (uint32_t)(size / p.buf_size);
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		p.nr_bufs = mid;
		if (xio_layout_compute(&p, &l) == 0 &&
		    l.min_region_size <= size)
			lo = mid;
		else
			hi = mid - 1;
	}
	o->nr_qpairs = p.nr_qpairs;
	o->sq_entries = p.sq_entries;
	o->cq_entries = p.cq_entries;
	o->buf_size = p.buf_size;
	o->nr_bufs = lo;
}

static struct xio_admin *admin(void)
{
	struct xio_admin *a = NULL;
	int err = xio_admin_open(getenv("XIO_SOCKET"), &a);

	if (err)
		fail("cannot reach xiod at %s: %s (is xiod running?)",
		     env_or("XIO_SOCKET", "/run/xio/xiod.sock"),
		     strerror(-err));
	return a;
}

static void qemu_owner(uid_t *uid, gid_t *gid)
{
	const char *u = env_or("XIO_HOOK_QEMU_USER", "libvirt-qemu");
	const char *g = getenv("XIO_HOOK_QEMU_GROUP");
	struct passwd *pw = getpwnam(u);
	struct group *gr;

	if (!pw)
		fail("QEMU user '%s' does not exist (set XIO_HOOK_QEMU_USER)",
		     u);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (g && *g) {
		gr = getgrnam(g);
		if (!gr)
			fail("QEMU group '%s' does not exist", g);
		*gid = gr->gr_gid;
	}
}

static int detach_all(struct xio_admin *a, const struct dom *d, unsigned int n,
		      bool quiet)
{
	unsigned int i;
	int err, rc = 0;

	for (i = 0; i < n; i++) {
		err = xio_admin_tenant_detach(a, d->shm[i].name);
		if (err && err != -ENOENT) {
			if (!quiet)
				fprintf(stderr,
					"xio-libvirt-hook: %s: removing tenant %s: %s\n",
					d->name, d->shm[i].name,
					strerror(-err));
			rc = 1;
		}
	}
	return rc;
}

static int do_prepare(const struct dom *d)
{
	const char *dir = env_or("XIO_HOOK_SHM_DIR", "/dev/shm");
	struct xio_vm_tenant_opts o;
	struct xio_admin *a;
	char path[4096];
	unsigned int i;
	uid_t uid;
	gid_t gid;
	int id;

	if (!d->nr_shm)
		return 0;
	qemu_owner(&uid, &gid);
	a = admin();
	for (i = 0; i < d->nr_shm; i++) {
		memset(&o, 0, sizeof(o));
		snprintf(path, sizeof(path), "%s/%s", dir, d->shm[i].name);
		o.name = d->shm[i].name;
		o.path = path;
		o.size = d->shm[i].size;
		o.numa_node = d->node;
		o.uid = uid;
		o.gid = gid;
		o.mode = 0600;
		geometry(o.size, &o);
		id = xio_admin_vm_tenant(a, &o);
		if (id < 0) {
			detach_all(a, d, i, true); /* undo this run's */
			xio_admin_close(a);
			fail("xiod refused tenant %s (%s, %llu bytes, node %d): %s",
			     o.name, path, (unsigned long long)o.size, d->node,
			     id == -EEXIST ? "tenant or file exists" :
					     strerror(-id));
		}
		printf("xio-libvirt-hook: %s (%s): tenant %d %s file %s %llu KiB node %d (%s) qpairs %u entries %u bufs %u\n",
		       d->name, d->uuid, id, o.name, path,
		       (unsigned long long)(o.size >> 10), d->node,
		       d->node_from ? d->node_from : "none", o.nr_qpairs,
		       o.sq_entries, o.nr_bufs);
	}
	for (i = 0; i < d->nr_tgt; i++) {
		id = xio_admin_target_add(a, d->tgt[i].shm, d->tgt[i].path,
					  d->tgt[i].ro ? XIO_TARGET_RDONLY : 0);
		if (id < 0) {
			detach_all(a, d, d->nr_shm, true);
			xio_admin_close(a);
			fail("xiod refused target %s for %s: %s",
			     d->tgt[i].path, d->tgt[i].shm, strerror(-id));
		}
		printf("xio-libvirt-hook: %s: tenant %s target %d = %s%s\n",
		       d->name, d->tgt[i].shm, id, d->tgt[i].path,
		       d->tgt[i].ro ? " (read-only)" : "");
	}
	for (i = 0; i < d->nr_pin; i++)
		printf("xio-libvirt-hook: %s: vcpu %u pinned to %s\n", d->name,
		       d->pin[i].vcpu, d->pin[i].cpuset);
	xio_admin_close(a);
	return 0;
}

static int do_release(const struct dom *d)
{
	struct xio_admin *a;
	int rc;

	if (!d->nr_shm)
		return 0;
	a = admin();
	rc = detach_all(a, d, d->nr_shm, false);
	xio_admin_close(a);
	return rc;
}

static int do_reconnect(const struct dom *d)
{
	struct xio_tenant_info ti[256];
	struct xio_admin *a;
	unsigned int i;
	int n, j;

	if (!d->nr_shm)
		return 0;
	a = admin();
	n = xio_admin_tenants(a, ti, 256, NULL);
	xio_admin_close(a);
	if (n < 0)
		fail("listing xiod tenants: %s", strerror(-n));
	for (i = 0; i < d->nr_shm; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(ti[j].name, d->shm[i].name))
				break;
		if (j == n) {
			fprintf(stderr,
				"xio-libvirt-hook: %s: tenant %s is not in xiod (xiod restarted?): the guest's xio device is dead until the domain restarts\n",
				d->name, d->shm[i].name);
		}
	}
	return 0; /* reconnect failures must not kill a running domain */
}

int main(int argc, char **argv)
{
	const char *op, *sub;
	unsigned int secs;
	struct dom d;
	size_t len;
	char *xml;

	if (argc < 4) {
		fprintf(stderr,
			"usage: %s DOMAIN OPERATION SUB-OPERATION [EXTRA] < domain.xml\n",
			argv[0]);
		return 2;
	}
	dom_arg = argv[1];
	op = argv[2];
	sub = argv[3];
	if (strcmp(op, "prepare") && strcmp(op, "stopped") &&
	    strcmp(op, "release") && strcmp(op, "migrate") &&
	    strcmp(op, "restore") && strcmp(op, "reconnect"))
		return 0; /* start, started, attach, unknown: nothing to do */
	secs = (unsigned)atoi(env_or("XIO_HOOK_TIMEOUT", "30"));
	signal(SIGALRM, on_alarm);
	alarm(secs ? secs : 30);
	xio_set_print(quiet); /* one line of our own on failure */
	xml = slurp_stdin(&len);
	parse_domain(xml, len, &d);
	free(xml);
	(void)sub;
	if (!strcmp(op, "prepare"))
		return do_prepare(&d);
	if (!strcmp(op, "stopped") || !strcmp(op, "release"))
		return do_release(&d);
	if (!strcmp(op, "reconnect"))
		return do_reconnect(&d);
	/* migrate, restore: XML filters; printing nothing keeps the XML. */
	if (d.nr_shm)
		fail("%s refused: shmem '%s' is an xio region (host memory, not carried by QEMU); detach it first",
		     op, d.shm[0].name);
	return 0;
}
