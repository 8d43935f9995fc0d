/* SPDX-License-Identifier: MIT */
/*
 * xiod --libvirt-sync[=URI]: reconcile the VM tenants with libvirt once at
 * start-up, in a child process (libvirt.c, docs/libvirt.md).
 */
#ifndef XIOD_LIBVIRT_H
#define XIOD_LIBVIRT_H

#include <stdbool.h>

/* Whether this xiod was built with libvirt (the option is refused if not). */
bool libvirt_sync_available(void);
/*
 * Fork the sync (before any thread exists; the socket listens already): it
 * talks to xiod at @sock like `xioctl libvirt sync --uri @uri` (NULL: the
 * default URI) and ends by itself within its timeout.  0 or -errno.
 */
int libvirt_sync_start(const char *sock, const char *uri);
/* At exit: kill the sync if it still runs, and reap it. */
void libvirt_sync_stop(void);

#endif
