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
 * printed).  reconnect: the tenants still in xiod are kept; a missing one
 * (xiod restarted) is adopted again on its file.  Anything else:
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

#include "hook_parse.h"

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

/*
 * Tenant options for the domain's xio shmem @i: its file SHM_DIR/NAME, or
 * for ivshmem-doorbell its <server path> (xiod is the server: no file).
 */
static void shm_opts(const struct dom *d, unsigned int i, char *path,
		     size_t len, struct xio_vm_tenant_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(path, len, "%s/%s", env_or("XIO_HOOK_SHM_DIR", "/dev/shm"),
		 d->shm[i].name);
	if (d->shm[i].doorbell) {
		snprintf(path, len, "%s", d->shm[i].server);
		o->flags = XIO_VM_TENANT_DOORBELL;
	}
	o->name = d->shm[i].name;
	o->path = path;
	o->size = d->shm[i].size;
	o->numa_node = d->node;
}

/*
 * The domain's xio:target metadata of shmem @shm (NULL: of every shmem), in
 * order.  0, or the -errno of the first refusal (*@bad: its index).
 */
static int add_targets(struct xio_admin *a, const struct dom *d,
		       const char *shm, unsigned int *bad)
{
	unsigned int i;
	int id;

	for (i = 0; i < d->nr_tgt; i++) {
		if (shm && strcmp(d->tgt[i].shm, shm))
			continue;
		id = xio_admin_target_add(a, d->tgt[i].shm, d->tgt[i].path,
					  d->tgt[i].ro ? XIO_TARGET_RDONLY : 0);
		if (id < 0) {
			*bad = i;
			return id;
		}
		printf("xio-libvirt-hook: %s: tenant %s target %d = %s%s\n",
		       d->name, d->tgt[i].shm, id, d->tgt[i].path,
		       d->tgt[i].ro ? " (read-only)" : "");
	}
	return 0;
}

static int do_prepare(const struct dom *d)
{
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
		shm_opts(d, i, path, sizeof(path), &o);
		o.uid = uid;
		o.gid = gid;
		o.mode = 0600;
		xio_vm_tenant_geometry(o.size, &o);
		id = xio_admin_vm_tenant(a, &o);
		if (id < 0) {
			detach_all(a, d, i, true); /* undo this run's */
			xio_admin_close(a);
			fail("xiod refused tenant %s (%s, %llu bytes, node %d): %s",
			     o.name, path, (unsigned long long)o.size, d->node,
			     id == -EEXIST ? "tenant or file exists" :
					     strerror(-id));
		}
		printf("xio-libvirt-hook: %s (%s): tenant %d %s %s %s %llu KiB node %d (%s) qpairs %u entries %u bufs %u\n",
		       d->name, d->uuid, id, o.name,
		       d->shm[i].doorbell ? "server" : "file", path,
		       (unsigned long long)(o.size >> 10), d->node,
		       d->node_from ? d->node_from : "none", o.nr_qpairs,
		       o.sq_entries, o.nr_bufs);
	}
	id = add_targets(a, d, NULL, &i);
	if (id < 0) {
		detach_all(a, d, d->nr_shm, true);
		xio_admin_close(a);
		fail("xiod refused target %s for %s: %s", d->tgt[i].path,
		     d->tgt[i].shm, strerror(-id));
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

/*
 * libvirtd restarted: the domain's tenants are normally still xiod's.  One
 * missing (xiod restarted meanwhile) is adopted again on the region file
 * QEMU still maps (xio_admin_vm_tenant_adopt), with its targets; what
 * cannot be adopted is reported.  Exit 0 always: a reconnect failure must
 * not kill a running domain.
 */
static int do_reconnect(const struct dom *d)
{
	struct xio_tenant_info ti[256];
	struct xio_vm_tenant_opts o;
	struct xio_admin *a;
	char path[4096];
	unsigned int i, bad;
	int n, j, id;

	if (!d->nr_shm)
		return 0;
	a = admin();
	n = xio_admin_tenants(a, ti, 256, NULL);
	if (n < 0) {
		xio_admin_close(a);
		fail("listing xiod tenants: %s", strerror(-n));
	}
	for (i = 0; i < d->nr_shm; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(ti[j].name, d->shm[i].name))
				break;
		if (j < n)
			continue;
		if (d->shm[i].doorbell) {
			/* Only xiod re-adopts one, from its state dir. */
			fprintf(stderr,
				"xio-libvirt-hook: %s: tenant %s is not in xiod (xiod restarted without --state-dir, or refused its log?) and is ivshmem-doorbell: restart the domain\n",
				d->name, d->shm[i].name);
			continue;
		}
		shm_opts(d, i, path, sizeof(path), &o);
		id = xio_admin_vm_tenant_adopt(a, &o);
		if (id >= 0) {
			printf("xio-libvirt-hook: %s: tenant %d %s adopted again (file %s)\n",
			       d->name, id, o.name, path);
			id = add_targets(a, d, o.name, &bad);
		}
		if (id < 0)
			fprintf(stderr,
				"xio-libvirt-hook: %s: tenant %s is not in xiod (xiod restarted?) and could not be adopted again: %s\n",
				d->name, d->shm[i].name, strerror(-id));
	}
	xio_admin_close(a);
	return 0;
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
	if (parse_domain(xml, len, &d))
		fail("%s", d.err);
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
