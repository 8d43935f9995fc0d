/* SPDX-License-Identifier: MIT */
/*
 * File-backed (ivshmem) VM tenants: the region file, its owner, and the
 * SIGBUS guard (see vm_tenant.c and docs/daemon.md).  Control thread only,
 * except the signal handler.
 */
#ifndef XIOD_VM_TENANT_H
#define XIOD_VM_TENANT_H

#include <stdbool.h>

#include "xiod.h"

/* Install the SIGBUS handler (once, before the pollers start serving). */
int vm_tenant_init(void);
/*
 * Validate @m (everything but the name), create the region file and chown
 * it, or adopt the existing one (XIO_VM_F_ADOPT), and register its mapping
 * (ivshmem-doorbell: the file is <state dir>/<name>.region, or without a
 * state directory a memfd, not registered)
 * with the guard.  On success *@r is the region and
 * the file is remembered for @t (vm_tenant_forget() undoes it all).
 */
int vm_tenant_region(const struct xio_msg_vm_tenant *m, struct tenant *t,
		     struct xio_region **r);
/* A re-adoption that failed: vm_tenant_forget() must not unlink the file
 * (QEMU still maps it, and the next xiod may adopt it). */
void vm_tenant_keep_file(struct tenant *t);
/* Before the region is destroyed: unregister, unlink the file if ours. */
void vm_tenant_forget(struct tenant *t);
/* Whether @t is a VM tenant whose file faulted, shrank or was replaced. */
bool vm_tenant_bad(struct tenant *t, const char **why);
/* epoll timeout for the control loop: a tick while VM tenants exist. */
int vm_tenant_tick_ms(void);
/* Count of SIGBUS faults turned into quarantines (all tenants). */
unsigned long vm_tenant_faults(void);

#endif
