/* SPDX-License-Identifier: MIT */
/*
 * Fault injection in the in-flight log (docs/security.md, "Fault
 * injection"; needs -DXIO_FAULT_INJECT=ON, SKIP otherwise): site `ilog`,
 * the log file's open/ftruncate/mmap when a tenant attaches to an xiod
 * with --state-dir, and its open/mmap when a restarted xiod re-adopts it.
 *
 *  - attach: tenants attach one after another at ilog=0.3; each fault is
 *    that ATTACH refused with the injected errno, nothing else.  Injected
 *    == refused, exactly; no file left in the state directory; xiod back
 *    at its fd count.
 *  - recovery: a tenant's xiod is SIGKILLed; the next one, with ilog=1,
 *    refuses each REATTACH with -ENOMEM and stays at its fd count
 *    (injected == refused); the one after, without faults, re-adopts the
 *    tenant from its untouched log and serves it.
 *
 * Every xiod with faults exits cleanly (ASan: no leak).
 */
#ifndef XIO_FAULT_INJECT
#include <stdio.h>
#include <stdlib.h>

#include "xtest.h"

int main(void)
{
	SKIP("built without -DXIO_FAULT_INJECT=ON");
}
#else
#include <dirent.h>

#include "dtest.h"

static struct xiod d;
static char state_dir[64], report_path[96];

/* The "ilog" line of the fault report of the xiod that just exited. */
static unsigned long long ilog_injected(void)
{
	FILE *f = fopen(report_path, "r");
	unsigned long long a, b, c, inj = ~0ULL;
	char name[32];

	CHECK(f);
	while (fscanf(f, "%31s %llu %llu %llu", name, &a, &b, &c) == 4)
		if (!strcmp(name, "ilog")) {
			inj = a;
			CHECK_EQ(b, 0); /* nothing retried: all refused */
		}
	fclose(f);
	CHECK(inj != ~0ULL);
	unlink(report_path);
	return inj;
}

/* The in-flight logs (<name>.ilog) in @path: not xiod.lock, not steering. */
static unsigned int dir_logs(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	unsigned int n = 0;

	CHECK(dir);
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		n += len > 5 && !strcmp(de->d_name + len - 5, ".ilog");
	}
	closedir(dir);
	return n;
}

static int attach_one(const char *name, struct xio_tenant **t)
{
	struct xio_client_opts o = {.sz = sizeof(o)};

	o.name = name;
	o.params.sq_entries = 32;
	return xio_client_attach(d.sock, &o, t);
}

static void faults_on(const char *spec)
{
	setenv("XIO_FAULTS", spec, 1);
	setenv("XIO_FAULTS_REPORT", report_path, 1);
}

static void faults_off(void)
{
	unsetenv("XIO_FAULTS");
	unsetenv("XIO_FAULTS_REPORT");
}

static void attach_faults(void)
{
	unsigned int i, n = SCALE(200) < 40 ? 40 : SCALE(200), refused = 0;
	unsigned long long inj;
	char name[32];
	int fds, err;

	faults_on("ilog=0.3,seed=29");
	xiod_start(&d, "--state-dir", state_dir, NULL);
	faults_off();
	fds = fd_count(d.pid);
	for (i = 0; i < n; i++) {
		struct xio_tenant *t;

		snprintf(name, sizeof(name), "il-%u", i);
		err = attach_one(name, &t);
		if (err) {
			CHECK(err == -ENOSPC || err == -EMFILE ||
			      err == -ENOMEM);
			refused++;
			continue;
		}
		nop_roundtrip(xio_tenant_qp(t, 0), i);
		xio_client_close(t);
	}
	wait_fd_count(d.pid, fds);
	/* No log of a detached tenant, no half-made one. */
	CHECK_EQ(dir_logs(state_dir), 0);
	xiod_stop(&d);
	inj = ilog_injected();
	printf("attach: %u tenants, %u refused; ilog injected %llu == refused\n",
	       n, refused, inj);
	CHECK_EQ(inj, refused);
	CHECK(refused > 0 && refused < n);
}

static void recovery_faults(void)
{
	struct xio_tenant *t;
	unsigned int i, tries = 3;
	int st, fds;

	xiod_start(&d, "--state-dir", state_dir, NULL);
	CHECK_EQ(attach_one("il-rec", &t), 0);
	nop_roundtrip(xio_tenant_qp(t, 0), 1);
	CHECK_EQ(kill(d.pid, SIGKILL), 0);
	CHECK_EQ(waitpid(d.pid, &st, 0), d.pid);
	CHECK_EQ(dir_logs(state_dir), 1); /* its log survived */

	faults_on("ilog=1:ENOMEM");
	xiod_restart(&d, "--state-dir", state_dir, NULL);
	faults_off();
	fds = fd_count(d.pid);
	for (i = 0; i < tries; i++)
		CHECK_EQ(xio_tenant_reattach(t), -ENOMEM);
	wait_fd_count(d.pid, fds);
	xiod_stop(&d);
	/* +1: at startup xiod opens every log once to re-adopt VM tenants. */
	CHECK_EQ(ilog_injected(), tries + 1);
	CHECK_EQ(dir_logs(state_dir), 1); /* kept for the next try */

	xiod_restart(&d, "--state-dir", state_dir, NULL);
	CHECK_EQ(xio_tenant_reattach(t), 0);
	nop_roundtrip(xio_tenant_qp(t, 0), 2);
	/* Detached: a clean stop hands tenants over and keeps their logs. */
	CHECK_EQ(xio_client_detach(t), 0);
	xiod_stop(&d);
	printf("recovery: %u reattaches refused with -ENOMEM (ilog injected %u), then re-adopted and served\n",
	       tries, tries);
}

int main(void)
{
	/* tmpfs: the log is a MAP_SHARED file (docs/daemon.md). */
	snprintf(state_dir, sizeof(state_dir), "/dev/shm/xiod-fi-XXXXXX");
	if (!mkdtemp(state_dir)) {
		snprintf(state_dir, sizeof(state_dir), "/tmp/xiod-fi-XXXXXX");
		CHECK(mkdtemp(state_dir));
	}
	snprintf(report_path, sizeof(report_path), "%s.faults", state_dir);
	attach_faults();
	recovery_faults();
	CHECK(rmdir(state_dir) == 0); /* nothing left behind */
	printf("ok: every in-flight log fault a clean refusal\n");
	return 0;
}
#endif
