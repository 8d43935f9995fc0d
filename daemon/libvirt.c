// SPDX-License-Identifier: MIT
/*
 * xiod --libvirt-sync: the code of `xioctl libvirt sync`
 * (tools/xio-libvirt-hook/libvirt_sync.c) run once at start-up, in a
 * process of its own so that nothing libvirt does can block xiod:
 *
 *  - forked before any thread exists, after the control socket listens; it
 *    closes xiod's fds and connects to that socket as an administrator
 *    (same uid), so xiod serves it like any xioctl once its control loop
 *    runs; xiod does not wait for it;
 *  - it ends by itself within LV_SYNC_DEFAULT_TIMEOUT seconds (alarm()),
 *    dies with xiod (PR_SET_PDEATHSIG), and a reaper thread logs how it
 *    ended; at exit xiod kills it if it still runs.
 *
 * Its lines go to xiod's stdout/stderr, prefixed "xiod: libvirt sync: ".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libvirt.h"
#include "xiod.h"

#ifdef XIO_HAVE_LIBVIRT
#include "libvirt_sync.h"

static pid_t child = -1;
static pthread_t reaper;
/*
 * The reaper waits for the child to exit without collecting it (WNOWAIT:
 * the pid stays the child's, a zombie), then, under the lock, marks it
 * gone and collects it.  libvirt_sync_stop() kills it under the same lock
 * only while it is not marked gone: never a pid that was reused.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool gone;

static void *reap(void *arg)
{
	siginfo_t si;
	int st = 0;

	(void)arg;
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT) < 0 &&
	       errno == EINTR)
		;
	pthread_mutex_lock(&lock);
	gone = true;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_unlock(&lock);
	if (WIFEXITED(st) && WEXITSTATUS(st) == LV_SYNC_OK)
		log_info("libvirt sync: done");
	else if (WIFEXITED(st))
		log_warn(
			"libvirt sync: ended with status %d (see its lines above)",
			WEXITSTATUS(st));
	else
		log_warn("libvirt sync: killed by signal %d",
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return NULL;
}

bool libvirt_sync_available(void)
{
	return true;
}

int libvirt_sync_start(const char *sock, const char *uri)
{
	struct lv_sync_opts o = {
		.uri = uri,
		.socket = sock,
		.prefix = "xiod: libvirt sync: ",
	};
	sigset_t m;
	int err;

	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child < 0)
		return -errno;
	if (child > 0) {
		err = pthread_create(&reaper, NULL, reap, NULL);
		if (err) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			child = -1;
			return -err;
		}
		return 0;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_range(3, ~0U, 0); /* nothing of xiod's */
	sigemptyset(&m); /* xiod blocked SIGINT/SIGTERM for its signalfd */
	sigprocmask(SIG_SETMASK, &m, NULL);
	_exit(lv_sync_run(&o));
}

void libvirt_sync_stop(void)
{
	if (child <= 0)
		return;
	pthread_mutex_lock(&lock);
	if (!gone)
		kill(child, SIGKILL);
	pthread_mutex_unlock(&lock);
	pthread_join(reaper, NULL);
	child = -1;
}

#else /* !XIO_HAVE_LIBVIRT */

bool libvirt_sync_available(void)
{
	return false;
}

int libvirt_sync_start(const char *sock, const char *uri)
{
	(void)sock;
	(void)uri;
	return -EOPNOTSUPP;
}

void libvirt_sync_stop(void)
{
}

#endif
