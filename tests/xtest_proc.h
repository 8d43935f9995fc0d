/* SPDX-License-Identifier: MIT */
/*
 * What /proc says about another process (xiod, in the daemon tests and
 * xio-soak): its open fds and a "Vm*:" line of its status, or -1 when the
 * process is gone.
 */
#ifndef XIO_XTEST_PROC_H
#define XIO_XTEST_PROC_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

static inline int proc_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* @field: "VmRSS", "VmPeak", ...; in KiB. */
static inline long proc_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':' &&
		    sscanf(line + len + 1, " %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

#endif
