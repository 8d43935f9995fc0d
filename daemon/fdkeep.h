/* SPDX-License-Identifier: MIT */
/*
 * The eventfds of ivshmem-doorbell VM tenants, kept alive across xiod's
 * death by a keeper process (fdkeep.c; docs/vm.md, "xiod restarted under a
 * running VM").  xiod's side is the control thread's only.
 */
#ifndef XIOD_FDKEEP_H
#define XIOD_FDKEEP_H

#include <stdbool.h>
#include <stdint.h>

/* Startup (with a state directory): connect to the keeper a killed xiod
 * left running, if any.  Its connection is then watched in @epfd with
 * @tag (every later connection too): see fdkeep_event(). */
void fdkeep_open(int epfd, uint64_t tag);
/*
 * Keep @t_name's eventfds: @fds[2i] is queue pair i's kick, @fds[2i + 1]
 * its notify eventfd, @nr_qpairs pairs.  Starts the keeper if none runs.
 * Never waits for it.  0 or -errno (the doorbell then does not survive a
 * restart of xiod).
 */
int fdkeep_put(const char *name, const int *fds, uint32_t nr_qpairs);
/*
 * Re-adoption: the eventfds kept for @name, into @fds as fdkeep_put()
 * sent them (close-on-exec, the caller's), checked: exactly 2 * @nr_qpairs
 * eventfds.  Waits for the keeper 2 s at most.  0 or -errno (-ENOENT:
 * none kept, -ENOTCONN: no keeper, -EPROTO: something else came).
 */
int fdkeep_get(const char *name, int *fds, uint32_t nr_qpairs);
/* Keep target @idx of tenant @name, passed as @fd (a file, device or
 * socket: a restarted xiod could not reopen it).  As fdkeep_put(). */
int fdkeep_put_target(const char *name, uint32_t idx, int fd);
/* Re-adoption: that target's fd (close-on-exec, the caller's), or -errno
 * as fdkeep_get() (the caller checks it is of the kind logged). */
int fdkeep_get_target(const char *name, uint32_t idx);
/* The tenant is gone for good: the keeper closes all it had. */
void fdkeep_drop(const char *name);
/* After the startup re-adoptions: the keeper closes the doorbell eventfds
 * nobody took (targets wait for their guests' REATTACH). */
void fdkeep_sweep(void);
/* The connection reported something (the keeper never writes first):
 * true if the keeper is gone (connection closed; watch it again after a
 * new fdkeep_put()). */
bool fdkeep_event(void);
/* A clean stop: unless @keep (tenants handed to the next xiod), the keeper
 * closes everything and exits (its socket removed); with @keep, it closes
 * what no in-flight log names any more and exits if that is all. */
void fdkeep_close(bool keep);
/* `xiod --fd-keeper DIR`: the keeper process's main (fd 3: its
 * socket, bound; fd 4: the connection of the xiod that started it). */
int fdkeep_main(const char *dir);

#endif
