/* SPDX-License-Identifier: MIT */
/*
 * Target fds across a clean stop (handover.c; docs/daemon.md, "Clean stop:
 * a handover").  Control thread only, but handover_spawn() (main, after
 * the pollers stopped) and handover_keeper() (the keeper process).
 */
#ifndef XIOD_HANDOVER_H
#define XIOD_HANDOVER_H

#include <stdint.h>

/* Remember target @target (flags @flags) of tenant @id/@name, fd @fd (now
 * the table's).  0 or -errno (the caller keeps @fd). */
int handover_keep(uint32_t id, const char *name, uint32_t target,
		  uint32_t flags, int fd);
/* Start the keeper with what handover_keep() was given, if anything; it
 * waits @wait_s seconds (0: no limit) for the next xiod.  Closes the
 * table's fds. */
void handover_spawn(const char *dir, unsigned int wait_s);
/* `xiod --fd-keeper SEC`: the keeper process's main. */
int handover_keeper(const char *secs);
/* At startup: take what a keeper in @dir holds.  0 (also: no keeper) or
 * -errno. */
int handover_collect(const char *dir);
/* The fd handed over for that target, or -ENOENT (none), -ESTALE (not of
 * the kind the log says: closed). */
int handover_take(uint32_t id, const char *name, uint32_t target,
		  uint32_t flags);
/* Close whatever no tenant took. */
void handover_drop_all(void);

#endif
