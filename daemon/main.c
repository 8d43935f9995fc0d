/* SPDX-License-Identifier: MIT */
/* xiod: options, logging, start-up. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fdkeep.h"
#include "libvirt.h"
#include "xiod.h"

int control_listen(void);

int xiod_log_level = LOG_INFO_;

struct xiod_config cfg = {
	.socket_path = XIO_DEFAULT_SOCKET,
	.socket_mode = 0660,
	.nr_pollers = 1,
	.idle_us = 50,
	.park_us = 1000,
	.budget_entries = 32,
	.budget_bytes = 512 * 1024,
	.inflight_cap = 256,
	.max_tenants = 1024,
	.max_guest_tenants = 16,
	.max_region_bytes = 256ULL << 20,
	.restart_wait = 60,
	.orphan_grace = 600,
	.stop_wait = 10,
};
int state_lock_fd = -1;
int rings_lock_fd = -1;

void xiod_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	char line[1024];
	va_list ap;
	int n;

	if (level > xiod_log_level)
		return;
	n = snprintf(line, sizeof(line), "xiod: %s: ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* One write per line: lines from several threads never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

#define LOG_BURST 20

bool log_ratelimit(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t window;
	static unsigned int used, suppressed;
	time_t now = time(NULL);
	unsigned int dropped = 0;
	bool ok;

	pthread_mutex_lock(&lock);
	if (now != window) {
		dropped = suppressed;
		window = now;
		used = 0;
		suppressed = 0;
	}
	ok = used < LOG_BURST;
	if (ok)
		used++;
	else
		suppressed++;
	pthread_mutex_unlock(&lock);
	if (dropped)
		xiod_log(LOG_WARN_, "%u more lines caused by peers not logged",
			 dropped);
	return ok;
}

/* libxio's diagnostics end up in the same log, as warnings. */
static int lib_print(enum xio_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (level == XIO_DEBUG && xiod_log_level < LOG_DEBUG_)
		return 0;
	/* The library speaks about peer input (headers, geometry). */
	if (!log_ratelimit())
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	xiod_log(level == XIO_WARN ? LOG_WARN_ : LOG_INFO_, "%s", line);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xiod [options]\n"
		"  -s, --socket PATH       control socket (default %s)\n"
		"  -m, --socket-mode MODE  socket permissions, octal (default 0660)\n"
		"  -p, --pollers N         poller threads (default 1)\n"
		"  -c, --cpus LIST         pin pollers to these CPUs, e.g. 2,3 or 2-5\n"
		"      --steer-cpus LIST   CPUs steered frames hop to, the first of each node\n"
		"                          (default: the node's first pinned poller's CPU)\n"
		"  -i, --idle-us N         spin this long without work before sleeping (default 50)\n"
		"      --park-us N         a tenant idle this long is only served on its kicks\n"
		"                          while others keep the poller busy (default 1000, 0: never)\n"
		"      --budget-entries N  SQEs per queue pair per visit (default 32)\n"
		"      --budget-bytes N    bytes per tenant per visit (default 524288)\n"
		"      --inflight-cap N    io_uring operations per tenant (default 256)\n"
		"      --max-tenants N     (default 1024)\n"
		"      --max-guest-tenants N  per non-admin user (default 16)\n"
		"      --max-region-mb N   largest tenant region (default 256)\n"
		"      --no-fixed-buffers  do not register tenant pools with io_uring\n"
		"      --metrics-listen ADDR:PORT  serve Prometheus metrics (HTTP, /metrics)\n"
		"      --libvirt-sync[=URI]  at start-up, re-adopt the VM tenants of running\n"
		"                          libvirt domains, drop the others (default qemu:///system)\n"
		"      --state-dir DIR     keep in-flight logs there: tenants survive a restart\n"
		"                          of xiod (kill -9 included) and reattach (tmpfs, e.g. /run/xiod)\n"
		"      --restart-wait SEC  wait this long for a killed xiod's threads and O_DIRECT\n"
		"                          requests to end before starting (default 60, 0: no limit)\n"
		"      --orphan-grace SEC  remove a log found at start-up whose tenant did not\n"
		"                          reattach in this time (default 600, 0: keep it)\n"
		"      --stop-wait SEC     with --state-dir, SIGTERM/SIGINT hand the tenants over\n"
		"                          to the next xiod: wait this long for the requests in\n"
		"                          flight (default 10)\n"
		"      --stop-detach       SIGTERM/SIGINT detach every tenant (and remove its\n"
		"                          log), as without --state-dir\n"
		"  -f, --foreground        do not detach from the terminal\n"
		"      --demo              run a self-contained demo on a temporary socket:\n"
		"                          two tenants with file targets, a checksummed workload\n"
		"  -l, --log-level LEVEL   error|warning|info|debug (default info)\n"
		"  -h, --help\n",
		XIO_DEFAULT_SOCKET);
}

static int parse_uint(const char *s, const char *what, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > max || s[0] == '-') {
		fprintf(stderr, "xiod: %s: '%s' is not a number in [0, %lu]\n",
			what, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* A CPU list @s of option @what into @out (at most XIOD_MAX_POLLERS). */
static int parse_cpus(const char *s, const char *what, int *out,
		      unsigned int *nr)
{
	char *dup = strdup(s), *tok, *save = NULL;
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	int rc = 0;

	if (!dup)
		return -1;
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long a, b;
		char *dash = strchr(tok, '-');

		if (dash)
			*dash = '\0';
		if (parse_uint(tok, what, (unsigned long)cpus - 1, &a) ||
		    parse_uint(dash ? dash + 1 : tok, what,
			       (unsigned long)cpus - 1, &b) ||
		    b < a) {
			rc = -1;
			break;
		}
		for (; a <= b; a++) {
			if (*nr == XIOD_MAX_POLLERS) {
				fprintf(stderr, "xiod: %s: at most %d CPUs\n",
					what, XIOD_MAX_POLLERS);
				rc = -1;
				break;
			}
			out[(*nr)++] = (int)a;
		}
		if (rc)
			break;
	}
	free(dup);
	return rc;
}

static int parse_level(const char *s)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	int i;

	for (i = 0; i < 4; i++)
		if (!strcmp(s, names[i]) || (s[0] == '0' + i && !s[1]))
			return i;
	if (!strcmp(s, "warn") || !strcmp(s, "err"))
		return s[0] == 'w' ? LOG_WARN_ : LOG_ERR_;
	fprintf(stderr,
		"xiod: --log-level: '%s' is not error|warning|info|debug\n", s);
	return -1;
}

static bool socket_set, level_set;

enum {
	OPT_BUDGET_ENTRIES = 256,
	OPT_PARK_US,
	OPT_BUDGET_BYTES,
	OPT_INFLIGHT,
	OPT_MAX_TENANTS,
	OPT_MAX_GUEST_TENANTS,
	OPT_MAX_REGION,
	OPT_NO_FIXED,
	OPT_DEMO,
	OPT_METRICS,
	OPT_LIBVIRT_SYNC,
	OPT_STATE_DIR,
	OPT_RESTART_WAIT,
	OPT_ORPHAN_GRACE,
	OPT_STEER_CPUS,
	OPT_STOP_WAIT,
	OPT_STOP_DETACH,
};

static bool lv_sync;
static const char *lv_uri;

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"socket-mode", required_argument, NULL, 'm'},
		{"pollers", required_argument, NULL, 'p'},
		{"cpus", required_argument, NULL, 'c'},
		{"steer-cpus", required_argument, NULL, OPT_STEER_CPUS},
		{"idle-us", required_argument, NULL, 'i'},
		{"budget-entries", required_argument, NULL, OPT_BUDGET_ENTRIES},
		{"park-us", required_argument, NULL, OPT_PARK_US},
		{"budget-bytes", required_argument, NULL, OPT_BUDGET_BYTES},
		{"inflight-cap", required_argument, NULL, OPT_INFLIGHT},
		{"max-tenants", required_argument, NULL, OPT_MAX_TENANTS},
		{"max-guest-tenants", required_argument, NULL,
		 OPT_MAX_GUEST_TENANTS},
		{"max-region-mb", required_argument, NULL, OPT_MAX_REGION},
		{"no-fixed-buffers", no_argument, NULL, OPT_NO_FIXED},
		{"foreground", no_argument, NULL, 'f'},
		{"demo", no_argument, NULL, OPT_DEMO},
		{"metrics-listen", required_argument, NULL, OPT_METRICS},
		{"libvirt-sync", optional_argument, NULL, OPT_LIBVIRT_SYNC},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"restart-wait", required_argument, NULL, OPT_RESTART_WAIT},
		{"orphan-grace", required_argument, NULL, OPT_ORPHAN_GRACE},
		{"stop-wait", required_argument, NULL, OPT_STOP_WAIT},
		{"stop-detach", no_argument, NULL, OPT_STOP_DETACH},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c, lvl;

	socket_set = false;
	while ((c = getopt_long(argc, argv, "s:m:p:c:i:fl:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			cfg.socket_path = optarg;
			socket_set = true;
			break;
		case 'm':
			if (parse_uint(optarg, "--socket-mode", 0777, &v))
				return -1;
			cfg.socket_mode = (unsigned int)v;
			break;
		case 'p':
			if (parse_uint(optarg, "--pollers", XIOD_MAX_POLLERS,
				       &v) ||
			    !v)
				return -1;
			cfg.nr_pollers = (unsigned int)v;
			break;
		case 'c':
			if (parse_cpus(optarg, "--cpus", cfg.cpus,
				       &cfg.nr_cpus))
				return -1;
			break;
		case OPT_STEER_CPUS:
			if (parse_cpus(optarg, "--steer-cpus", cfg.steer_cpus,
				       &cfg.nr_steer_cpus))
				return -1;
			break;
		case 'i':
			if (parse_uint(optarg, "--idle-us", 60000000, &v))
				return -1;
			cfg.idle_us = (unsigned int)v;
			break;
		case OPT_PARK_US:
			if (parse_uint(optarg, "--park-us", 60000000, &v))
				return -1;
			cfg.park_us = (unsigned int)v;
			break;
		case OPT_BUDGET_ENTRIES:
			if (parse_uint(optarg, "--budget-entries", 65536, &v) ||
			    !v)
				return -1;
			cfg.budget_entries = (unsigned int)v;
			break;
		case OPT_BUDGET_BYTES:
			if (parse_uint(optarg, "--budget-bytes", 1U << 30,
				       &v) ||
			    !v)
				return -1;
			cfg.budget_bytes = (unsigned int)v;
			break;
		case OPT_INFLIGHT:
			if (parse_uint(optarg, "--inflight-cap", 65536, &v) ||
			    !v)
				return -1;
			cfg.inflight_cap = (unsigned int)v;
			break;
		case OPT_MAX_TENANTS:
			if (parse_uint(optarg, "--max-tenants", 1U << 20, &v) ||
			    !v)
				return -1;
			cfg.max_tenants = (unsigned int)v;
			break;
		case OPT_MAX_GUEST_TENANTS:
			if (parse_uint(optarg, "--max-guest-tenants", 1U << 20,
				       &v))
				return -1;
			cfg.max_guest_tenants = (unsigned int)v;
			break;
		case OPT_MAX_REGION:
			if (parse_uint(optarg, "--max-region-mb", 1U << 20,
				       &v) ||
			    !v)
				return -1;
			cfg.max_region_bytes = (uint64_t)v << 20;
			break;
		case OPT_NO_FIXED:
			cfg.no_fixed_bufs = true;
			break;
		case 'f':
			cfg.foreground = true;
			break;
		case OPT_DEMO:
			cfg.demo = true;
			break;
		case OPT_METRICS:
			cfg.metrics_listen = optarg;
			break;
		case OPT_LIBVIRT_SYNC:
			if (!libvirt_sync_available()) {
				fprintf(stderr,
					"xiod: --libvirt-sync: built without libvirt\n");
				return -1;
			}
			lv_sync = true;
			lv_uri = optarg && *optarg ? optarg : NULL;
			break;
		case OPT_STATE_DIR:
			if (optarg[0] != '/') {
				log_err("--state-dir: an absolute path");
				return -1;
			}
			cfg.state_dir = optarg;
			break;
		case OPT_RESTART_WAIT:
			if (parse_uint(optarg, "--restart-wait", 86400, &v))
				return -1;
			cfg.restart_wait = (unsigned int)v;
			break;
		case OPT_ORPHAN_GRACE:
			if (parse_uint(optarg, "--orphan-grace", 30 * 86400,
				       &v))
				return -1;
			cfg.orphan_grace = (unsigned int)v;
			break;
		case OPT_STOP_WAIT:
			if (parse_uint(optarg, "--stop-wait", 3600, &v))
				return -1;
			cfg.stop_wait = (unsigned int)v;
			break;
		case OPT_STOP_DETACH:
			cfg.stop_detach = true;
			break;
		case 'l':
			lvl = parse_level(optarg);
			if (lvl < 0)
				return -1;
			xiod_log_level = lvl;
			level_set = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xiod: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (cfg.max_tenants > cfg.nr_pollers * XIOD_MAX_TENANTS_PER_POLLER)
		cfg.max_tenants = cfg.nr_pollers * XIOD_MAX_TENANTS_PER_POLLER;
	return 0;
}

/* Each tenant holds 1 + 2 * nr_qpairs fds plus its targets: use them all. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("raising the fd limit: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	static char demo_dir[64], demo_sock[96];
	pid_t demo_pid = 0;
	sigset_t mask;
	int err, st;

	/* The fd keeper (fdkeep.c), exec'ed by xiod. */
	if (argc == 3 && !strcmp(argv[1], "--fd-keeper"))
		return fdkeep_main(argv[2]);
	if (parse_args(argc, argv))
		return 2;
	if (cfg.demo) {
		/* No configuration, no root-only path. */
		cfg.foreground = true;
		if (!level_set)
			xiod_log_level = LOG_WARN_;
		if (!socket_set) {
			snprintf(demo_dir, sizeof(demo_dir),
				 "/tmp/xiod-demo-XXXXXX");
			if (!mkdtemp(demo_dir)) {
				log_err("mkdtemp: %s", strerror(errno));
				return 1;
			}
			snprintf(demo_sock, sizeof(demo_sock), "%s/xiod.sock",
				 demo_dir);
			cfg.socket_path = demo_sock;
		}
	}
	xio_set_print(lib_print);
	signal(SIGPIPE, SIG_IGN);
	/* SIGINT/SIGTERM are read from a signalfd; block them in every thread. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	raise_fd_limit();
	err = control_listen();
	if (err)
		return 1;
	if (cfg.metrics_listen && metrics_listen(cfg.metrics_listen)) {
		unlink(cfg.socket_path);
		return 1;
	}
	if (cfg.demo) {
		demo_pid = demo_start(cfg.socket_path,
				      demo_dir[0] ? demo_dir : "/tmp");
		if (demo_pid < 0) {
			log_err("demo: fork: %s", strerror(errno));
			return 1;
		}
	}
	if (!cfg.foreground && daemon(0, 1) < 0) {
		log_err("daemon: %s", strerror(errno));
		return 1;
	}
	/* Before any thread: the sync runs in a child (libvirt.c). */
	if (lv_sync && (err = libvirt_sync_start(cfg.socket_path, lv_uri)))
		log_warn("libvirt sync not started: %s", strerror(-err));
	err = pollers_start();
	if (err) {
		log_err("starting pollers: %s", strerror(-err));
		unlink(cfg.socket_path);
		return 1;
	}
	err = control_run();
	libvirt_sync_stop();
	pollers_stop();
	control_close();
	/* Drained: no request of ours can land any more (docs/daemon.md);
	 * a handover that left some keeps the barrier for them. */
	if (!err && !control_left_in_flight())
		ilog_barrier_release(cfg.state_dir, state_lock_fd);
#ifdef XIO_FAULT_INJECT
	/* What was injected, for a test to account for (docs/security.md). */
	if (getenv("XIO_FAULTS_REPORT")) {
		int ferr = xio__fault_report(getenv("XIO_FAULTS_REPORT"));

		if (ferr)
			log_warn("fault report: %s", strerror(-ferr));
	}
#endif
	log_info("exiting%s", err ? " on error" : "");
	if (demo_pid > 0) {
		if (demo_dir[0])
			rmdir(demo_dir);
		if (waitpid(demo_pid, &st, 0) != demo_pid || !WIFEXITED(st))
			return 1;
		return WEXITSTATUS(st) || err ? 1 : 0;
	}
	return err ? 1 : 0;
}
