/* SPDX-License-Identifier: MIT */
/*
 * Reconcile xiod's VM tenants with the domains libvirt runs: the code of
 * `xioctl libvirt sync` and of `xiod --libvirt-sync` (docs/libvirt.md).
 * Links libvirt (read-only connection) and the hook's XML parser.
 */
#ifndef XIO_LIBVIRT_SYNC_H
#define XIO_LIBVIRT_SYNC_H

#include <stdbool.h>

#define LV_SYNC_DEFAULT_URI "qemu:///system"
#define LV_SYNC_DEFAULT_TIMEOUT 30

/* lv_sync_run() results: exit codes of xioctl libvirt sync. */
#define LV_SYNC_OK 0	     /* in sync (or dry run done) */
#define LV_SYNC_FAILED 1     /* xiod unreachable, a domain or action refused */
#define LV_SYNC_USAGE 2	     /* (xioctl's usage errors) */
#define LV_SYNC_NO_LIBVIRT 3 /* libvirt unreachable or failing */

struct lv_sync_opts {
	const char *uri;	/* NULL: LV_SYNC_DEFAULT_URI */
	const char *socket;	/* xiod's socket; NULL: the library default */
	const char *shm_dir;	/* NULL: $XIO_HOOK_SHM_DIR, else /dev/shm */
	const char *prefix;	/* before every line ("" for xioctl) */
	bool dry_run;		/* say what would be done, change nothing */
	unsigned int timeout_s; /* whole run, alarm(); 0: the default */
};

/*
 * Connect to xiod and, read-only, to libvirt; for every running domain's
 * live XML, the xio <shmem> devices (hook_parse.c): a device without a
 * tenant is adopted (xio_admin_vm_tenant_adopt() on SHM_DIR/NAME, then the
 * domain's xio:target metadata), one with a tenant is kept; then xiod's VM
 * tenants named xio-* that no running domain has are detached (xiod keeps
 * their final accounting record) unless some domain's XML could not be
 * read.  One line per action on stdout, errors on stderr.  Installs a
 * SIGALRM handler: the run ends (exit 1) after timeout_s.  Returns an
 * LV_SYNC_* code.
 */
int lv_sync_run(const struct lv_sync_opts *o);

#endif /* XIO_LIBVIRT_SYNC_H */
