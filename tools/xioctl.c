/* SPDX-License-Identifier: MIT */
/*
 * xioctl: administer a running xiod.
 *
 *   xioctl [--socket PATH] tenants
 *   xioctl [--socket PATH] target add TENANT PATH [--ro] [--direct]
 *   xioctl [--socket PATH] target list TENANT
 *   xioctl [--socket PATH] tenant detach TENANT
 *
 * Commands are rows of the table below: adding one is one function and one
 * row.  Exit status: 0 done, 1 the daemon (or the system) refused, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

static const char *sock_path;

static int die_err(const char *what, int err)
{
	const char *hint = "";

	if (err == -ENOENT && !strcmp(what, "connect"))
		hint = " (is xiod running? see --socket)";
	else if (err == -EPERM)
		hint = " (administration needs root or xiod's own uid)";
	else if (err == -EACCES && !strcmp(what, "connect"))
		hint = " (socket permissions: see xiod --socket-mode)";
	fprintf(stderr, "xioctl: %s: %s%s\n", what, xio_strerror(err), hint);
	return 1;
}

static int open_admin(struct xio_admin **a)
{
	int err = xio_admin_open(sock_path, a);

	return err ? die_err("connect", err) : 0;
}

static void human(char *buf, size_t n, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	double d = (double)v;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f%s" : "%.0f%s", d, unit[u]);
}

static int cmd_tenants(int argc, char **argv)
{
	struct xio_tenant_info *ti;
	struct xio_admin *a;
	uint32_t total = 0, i;
	int n, rc = 0;

	(void)argv;
	if (argc != 0)
		return 2;
	if (open_admin(&a))
		return 1;
	n = xio_admin_tenants(a, NULL, 0, &total);
	if (n < 0) {
		rc = die_err("tenants", n);
		goto out;
	}
	ti = calloc(total ? total : 1, sizeof(*ti));
	if (!ti) {
		rc = die_err("tenants", -ENOMEM);
		goto out;
	}
	n = xio_admin_tenants(a, ti, total, &total);
	if (n < 0) {
		rc = die_err("tenants", n);
		free(ti);
		goto out;
	}
	printf("%-5s %-20s %7s %5s %3s %7s %4s %12s %12s %8s %10s %10s %s\n",
	       "ID", "NAME", "PID", "UID", "QPS", "REGION", "TGTS", "OPS",
	       "INVALID", "INFLIGHT", "KICKS", "WAKEUPS", "STATE");
	for (i = 0; i < (uint32_t)n; i++) {
		char reg[16];

		human(reg, sizeof(reg), ti[i].region_size);
		printf("%-5u %-20s %7d %5u %3u %7s %4u %12llu %12llu %8llu %10llu %10llu %s%s%s%s\n",
		       ti[i].id, ti[i].name, ti[i].pid, ti[i].uid,
		       ti[i].nr_qpairs, reg, ti[i].nr_targets,
		       (unsigned long long)ti[i].taken,
		       (unsigned long long)ti[i].invalid,
		       (unsigned long long)ti[i].inflight,
		       (unsigned long long)ti[i].kicks,
		       (unsigned long long)ti[i].wakeups,
		       ti[i].state ? "detaching" : "running",
		       ti[i].broken ? ",quarantined" : "",
		       (ti[i].attach_flags & XIO_CLIENT_PERSIST) ?
			       ",persistent" :
			       "",
		       (ti[i].attach_flags & XIO_CLIENT_NO_DOORBELL) ?
			       ",no-doorbell" :
			       "");
	}
	free(ti);
out:
	xio_admin_close(a);
	return rc;
}

static int cmd_target_add(int argc, char **argv)
{
	struct xio_admin *a;
	uint32_t flags = 0;
	const char *tenant = NULL, *path = NULL;
	char what[80];
	int i, idx;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--ro"))
			flags |= XIO_TARGET_RDONLY;
		else if (!strcmp(argv[i], "--direct"))
			flags |= XIO_TARGET_DIRECT;
		else if (argv[i][0] == '-' && argv[i][1])
			return 2;
		else if (!tenant)
			tenant = argv[i];
		else if (!path)
			path = argv[i];
		else
			return 2;
	}
	if (!tenant || !path)
		return 2;
	if (path[0] != '/') {
		/* xiod opens it: it must not depend on our directory. */
		char *abs = realpath(path, NULL);

		if (!abs) {
			fprintf(stderr, "xioctl: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		path = abs; /* freed at exit */
	}
	if (open_admin(&a))
		return 1;
	idx = xio_admin_target_add(a, tenant, path, flags);
	xio_admin_close(a);
	if (idx < 0) {
		snprintf(what, sizeof(what), "target add %s", tenant);
		return die_err(what, idx);
	}
	printf("%d\n", idx);
	return 0;
}

static int cmd_target_list(int argc, char **argv)
{
	struct xio_target_info ti[64];
	struct xio_admin *a;
	uint32_t total = 0;
	int n, i;

	if (argc != 1)
		return 2;
	if (open_admin(&a))
		return 1;
	n = xio_admin_target_list(a, argv[0], ti, 64, &total);
	xio_admin_close(a);
	if (n < 0)
		return die_err("target list", n);
	printf("%-5s %-6s %10s %s\n", "INDEX", "MODE", "SIZE", "PATH");
	for (i = 0; i < n; i++) {
		char sz[16];

		human(sz, sizeof(sz), ti[i].size);
		printf("%-5u %-6s %10s %s%s\n", ti[i].index,
		       (ti[i].flags & XIO_TARGET_SOCKET) ? "socket" :
		       (ti[i].flags & XIO_TARGET_RDONLY) ? "ro" :
							   "rw",
		       (ti[i].flags & XIO_TARGET_SOCKET) ? "-" : sz, ti[i].path,
		       (ti[i].flags & XIO_TARGET_DIRECT) ? " (O_DIRECT)" : "");
	}
	return 0;
}

static int cmd_tenant_detach(int argc, char **argv)
{
	struct xio_admin *a;
	char what[96];
	int err;

	if (argc != 1)
		return 2;
	if (open_admin(&a))
		return 1;
	err = xio_admin_tenant_detach(a, argv[0]);
	xio_admin_close(a);
	if (err) {
		snprintf(what, sizeof(what), "tenant detach %s", argv[0]);
		return die_err(what, err);
	}
	return 0;
}

struct command {
	const char *words[2]; /* one or two words */
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{{"tenants", NULL}, cmd_tenants, "tenants"},
	{{"tenant", "detach"}, cmd_tenant_detach, "tenant detach TENANT"},
	{{"target", "add"},
	 cmd_target_add,
	 "target add TENANT PATH [--ro] [--direct]"},
	{{"target", "list"}, cmd_target_list, "target list TENANT"},
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: xioctl [--socket PATH] COMMAND\n"
		"  -s, --socket PATH  xiod's socket (default $XIO_SOCKET, else /run/xio/xiod.sock)\n"
		"commands (TENANT: a name or an id):\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  xioctl %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	size_t i;
	int c, rc;

	/* "+": options after the command belong to the command. */
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	xio_set_print(NULL); /* xioctl prints its own one-line errors */
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NR_COMMANDS; i++) {
		const struct command *cm = &commands[i];
		int nw = cm->words[1] ? 2 : 1;

		if (argc < nw || strcmp(argv[0], cm->words[0]) ||
		    (nw == 2 && strcmp(argv[1], cm->words[1])))
			continue;
		rc = cm->fn(argc - nw, argv + nw);
		if (rc == 2)
			fprintf(stderr, "usage: xioctl %s\n", cm->usage);
		return rc;
	}
	fprintf(stderr, "xioctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
