/* SPDX-License-Identifier: MIT */
/*
 * ivshmem-doorbell VM tenants: xiod as the ivshmem server of one tenant
 * (vm_doorbell.c, docs/vm.md).  Control thread only.
 */
#ifndef XIOD_VM_DOORBELL_H
#define XIOD_VM_DOORBELL_H

#include "xiod.h"

/* An epoll fd for the control loop (created on first call), or -errno. */
int vm_doorbell_fd(void);
/* The epoll tag of the fd keeper's connection in that epoll fd
 * (fdkeep_open()). */
#define VM_DOORBELL_TAG_KEEPER 2UL
/* Handle what that epoll fd reports (accepts, hang-ups, hostile peers). */
void vm_doorbell_events(void);
/*
 * Listen on @m->path as @t's ivshmem server (@t's region, kick and notify
 * eventfds exist already).  0 or -errno (-EEXIST: the path exists).
 */
int vm_doorbell_listen(struct tenant *t, const struct xio_msg_vm_tenant *m);
/* Close @t's server and its client, unlink the socket if still ours. */
void vm_doorbell_forget(struct tenant *t);

#endif
