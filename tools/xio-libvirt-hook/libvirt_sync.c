// SPDX-License-Identifier: MIT
/*
 * xioctl libvirt sync / xiod --libvirt-sync (see libvirt_sync.h and
 * docs/libvirt.md).
 *
 * Unlike the hook, this code runs outside libvirt's calls, so it may talk
 * to libvirt: read-only (virConnectOpenReadOnly), listing the running
 * domains and reading their live XML; it never changes anything there.
 *
 * Order matters for the races with domains starting and stopping meanwhile:
 * xiod's tenants are listed first, then libvirt's domains.  A domain is
 * active in libvirt before its prepare hook creates its tenants, so every
 * tenant in the snapshot whose domain still runs is in the listing, and
 * only tenants of the snapshot are ever dropped.  A tenant that appears
 * between the two (a prepare meanwhile) makes the adoption fail with
 * -EEXIST: it is then simply kept.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <xio/admin.h>
#include <xio/xio.h>

#include "hook_parse.h"
#include "libvirt_sync.h"

struct run {
	const struct lv_sync_opts *o;
	const char *uri, *shm_dir;
	struct xio_admin *a;
	struct xio_tenant_info *ti; /* xiod's tenants before the listing */
	int nr_ti;
	bool *wanted; /* per ti[]: a running domain has it */
	unsigned int domains, xio_domains, unreadable;
	unsigned int adopted, kept, dropped, failed;
	struct dom d; /* one domain at a time (it is large) */
};

/* Written before alarm() is armed: the handler only write()s it. */
static char alarm_msg[160];
static size_t alarm_len;

static void on_alarm(int sig)
{
	(void)sig;
	if (write(2, alarm_msg, alarm_len) < 0) {
		/* nothing more to do */
	}
	_exit(LV_SYNC_FAILED);
}

static void silent(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e; /* libvirt prints errors itself otherwise */
}

/* Errors: xiod's prefix, or xioctl's own. */
static const char *err_prefix(const struct lv_sync_opts *o)
{
	return o->prefix[0] ? o->prefix : "xioctl: libvirt sync: ";
}

static void __attribute__((format(printf, 2, 3)))
say(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	fputs(r->o->prefix, stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void __attribute__((format(printf, 2, 3)))
complain(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(err_prefix(r->o), stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *lv_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m && *m ? m : "unknown error";
}

static int tenant_index(const struct run *r, const char *name)
{
	int i;

	for (i = 0; i < r->nr_ti; i++)
		if (!strcmp(r->ti[i].name, name))
			return i;
	return -1;
}

static int list_tenants(struct run *r)
{
	uint32_t total = 0;
	int n;

	n = xio_admin_tenants(r->a, NULL, 0, &total);
	if (n >= 0) {
		r->ti = calloc(total + 1, sizeof(*r->ti));
		r->wanted = calloc(total + 1, sizeof(*r->wanted));
		if (!r->ti || !r->wanted)
			return -ENOMEM;
		n = xio_admin_tenants(r->a, r->ti, total, NULL);
	}
	if (n < 0)
		return n;
	r->nr_ti = n;
	return 0;
}

/* The domain's targets of shmem @s, in order, on the adopted tenant. */
static void add_targets(struct run *r, const struct shm *s)
{
	const struct dom *d = &r->d;
	unsigned int i;
	int idx;

	for (i = 0; i < d->nr_tgt; i++) {
		if (strcmp(d->tgt[i].shm, s->name))
			continue;
		idx = xio_admin_target_add(r->a, s->name, d->tgt[i].path,
					   d->tgt[i].ro ? XIO_TARGET_RDONLY :
							  0);
		if (idx < 0) {
			complain(r, "domain %s: tenant %s: target %s: %s",
				 d->name, s->name, d->tgt[i].path,
				 xio_strerror(idx));
			r->failed++;
			continue;
		}
		say(r, "  target %d = %s%s", idx, d->tgt[i].path,
		    d->tgt[i].ro ? " (read-only)" : "");
	}
}

static unsigned int targets_of(const struct dom *d, const struct shm *s)
{
	unsigned int i, n = 0;

	for (i = 0; i < d->nr_tgt; i++)
		n += !strcmp(d->tgt[i].shm, s->name);
	return n;
}

static const char *adopt_hint(int err)
{
	switch (err) {
	case -ENOENT:
		return " (no region file: the domain is starting, or was started without the hook)";
	case -EPROTO:
		return " (the file holds no xio region: started without the hook?)";
	case -EINVAL:
		return " (not a regular file of the XML's <size>, or accessible to others)";
	default:
		return "";
	}
}

static void adopt(struct run *r, const struct shm *s)
{
	const struct dom *d = &r->d;
	struct xio_vm_tenant_opts vo;
	char path[4096];
	int id;

	if (s->doorbell) {
		/* Only xiod re-adopts one, at startup, from its state
		 * directory; without one its region died with the old xiod. */
		complain(
			r,
			"domain %s: %s is ivshmem-doorbell and xiod did not re-adopt it (no --state-dir, or its log was refused: see xiod's log); restart the domain",
			d->name, s->name);
		r->failed++;
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", r->shm_dir, s->name);
	if (r->o->dry_run) {
		say(r,
		    "would adopt %s (domain %s): %s, %llu KiB, node %d, %u targets",
		    s->name, d->name, path, (unsigned long long)(s->size >> 10),
		    d->node, targets_of(d, s));
		r->adopted++;
		return;
	}
	memset(&vo, 0, sizeof(vo));
	vo.name = s->name;
	vo.path = path;
	vo.size = s->size;
	vo.numa_node = d->node;
	id = xio_admin_vm_tenant_adopt(r->a, &vo);
	if (id == -EEXIST) {
		say(r, "keep %s (domain %s): created meanwhile", s->name,
		    d->name);
		r->kept++;
		return;
	}
	if (id < 0) {
		complain(r, "domain %s: adopting %s (%s): %s%s", d->name,
			 s->name, path, xio_strerror(id), adopt_hint(id));
		r->failed++;
		return;
	}
	say(r,
	    "adopt %s (domain %s): tenant %d, %s, %llu KiB, node %d, %u targets",
	    s->name, d->name, id, path, (unsigned long long)(s->size >> 10),
	    d->node, targets_of(d, s));
	r->adopted++;
	add_targets(r, s);
}

/* One running domain: adopt or keep each of its xio shmem devices. */
static void sync_domain(struct run *r, virDomainPtr dom)
{
	const char *name = virDomainGetName(dom);
	struct dom *d = &r->d;
	unsigned int i;
	char *xml;
	int k;

	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			return; /* stopped meanwhile: its tenants are gone */
		complain(r, "domain %s: reading its XML: %s (skipped)",
			 name ? name : "?", lv_error());
		r->unreadable++;
		return;
	}
	k = parse_domain(xml, strlen(xml), d);
	free(xml);
	if (k) {
		complain(r, "domain %s: %s (skipped)", name ? name : "?",
			 d->err);
		r->unreadable++;
		return;
	}
	if (!d->nr_shm)
		return;
	r->xio_domains++;
	for (i = 0; i < d->nr_shm; i++) {
		const struct shm *s = &d->shm[i];

		k = tenant_index(r, s->name);
		if (k < 0) {
			adopt(r, s);
			continue;
		}
		r->wanted[k] = true;
		if (!(r->ti[k].attach_flags & XIO_TENANT_F_VM)) {
			complain(
				r,
				"domain %s: shmem %s: xiod's tenant %u of that name is not a VM tenant",
				d->name, s->name, r->ti[k].id);
			r->failed++;
			continue;
		}
		say(r, "keep %s (domain %s): tenant %u", s->name, d->name,
		    r->ti[k].id);
		r->kept++;
	}
}

/* xiod's VM tenants named xio-* that no running domain has. */
static void drop_stale(struct run *r)
{
	unsigned int stale = 0;
	int i, err;

	for (i = 0; i < r->nr_ti; i++) {
		const struct xio_tenant_info *t = &r->ti[i];

		if (r->wanted[i] || !(t->attach_flags & XIO_TENANT_F_VM) ||
		    t->state != XIO_TSTATE_RUNNING ||
		    strncmp(t->name, PREFIX, strlen(PREFIX)))
			continue;
		if (r->unreadable) {
			stale++;
			continue;
		}
		if (r->o->dry_run) {
			say(r,
			    "would drop %s: tenant %u (no running domain has it)",
			    t->name, t->id);
			r->dropped++;
			continue;
		}
		err = xio_admin_tenant_detach(r->a, t->name);
		if (err == -ENOENT)
			continue; /* removed meanwhile (the domain's release) */
		if (err) {
			complain(r, "dropping %s (tenant %u): %s", t->name,
				 t->id, xio_strerror(err));
			r->failed++;
			continue;
		}
		say(r,
		    "drop %s: tenant %u (no running domain has it; final record kept)",
		    t->name, t->id);
		r->dropped++;
	}
	if (stale)
		complain(
			r,
			"not dropping %u tenant%s without a domain: %u domain%s could not be read",
			stale, stale == 1 ? "" : "s", r->unreadable,
			r->unreadable == 1 ? "" : "s");
}

int lv_sync_run(const struct lv_sync_opts *o)
{
	struct run *r = calloc(1, sizeof(*r));
	virConnectPtr conn = NULL;
	virDomainPtr *doms = NULL;
	const char *env;
	unsigned int secs;
	int n = 0, i, rc = LV_SYNC_FAILED, err;

	if (!r) {
		fprintf(stderr, "%sout of memory\n", err_prefix(o));
		return LV_SYNC_FAILED;
	}
	r->o = o;
	r->uri = o->uri ? o->uri : LV_SYNC_DEFAULT_URI;
	env = getenv("XIO_HOOK_SHM_DIR");
	r->shm_dir = o->shm_dir ? o->shm_dir : env && *env ? env : "/dev/shm";
	secs = o->timeout_s ? o->timeout_s : LV_SYNC_DEFAULT_TIMEOUT;
	n = snprintf(alarm_msg, sizeof(alarm_msg),
		     "%stimed out after %u s (libvirt or xiod not answering)\n",
		     err_prefix(o), secs);
	alarm_len = n < 0			  ? 0 :
		    (size_t)n < sizeof(alarm_msg) ? (size_t)n :
						    sizeof(alarm_msg) - 1;
	n = 0;
	signal(SIGALRM, on_alarm);
	alarm(secs);

	err = xio_admin_open(o->socket, &r->a);
	if (!err)
		err = list_tenants(r);
	if (err) {
		complain(r, "cannot reach xiod at %s: %s (is xiod running?)",
			 o->socket	      ? o->socket :
			 getenv("XIO_SOCKET") ? getenv("XIO_SOCKET") :
						"/run/xio/xiod.sock",
			 xio_strerror(err));
		goto out;
	}
	virSetErrorFunc(NULL, silent);
	conn = virConnectOpenReadOnly(r->uri);
	if (!conn) {
		complain(r, "cannot connect to libvirt at %s: %s", r->uri,
			 lv_error());
		rc = LV_SYNC_NO_LIBVIRT;
		goto out;
	}
	n = virConnectListAllDomains(conn, &doms,
				     VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		complain(r, "listing libvirt's running domains: %s",
			 lv_error());
		rc = LV_SYNC_NO_LIBVIRT;
		n = 0;
		goto out;
	}
	r->domains = (unsigned int)n;
	for (i = 0; i < n; i++)
		sync_domain(r, doms[i]);
	drop_stale(r);
	say(r,
	    "%s%s%u running domains (%u with xio devices): %u %sadopted, %u kept, %u %sdropped, %u failed, %u unreadable",
	    o->prefix[0] ? "" : "libvirt sync: ",
	    o->dry_run ? "dry run, nothing changed: " : "", r->domains,
	    r->xio_domains, r->adopted, o->dry_run ? "to be " : "", r->kept,
	    r->dropped, o->dry_run ? "to be " : "", r->failed, r->unreadable);
	rc = r->failed || r->unreadable ? LV_SYNC_FAILED : LV_SYNC_OK;
out:
	alarm(0);
	for (i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
	if (conn)
		virConnectClose(conn);
	xio_admin_close(r->a);
	free(r->ti);
	free(r->wanted);
	free(r);
	return rc;
}
