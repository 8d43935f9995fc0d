/* SPDX-License-Identifier: MIT */
/*
 * xioctl: administer a running xiod.
 *
 *   xioctl [--socket PATH] tenants
 *   xioctl [--socket PATH] target add TENANT PATH [--ro] [--direct]
 *   xioctl [--socket PATH] target list TENANT
 *   xioctl [--socket PATH] tenant detach TENANT
 *   xioctl [--socket PATH] stats [TENANT] [--json] [--watch SECONDS]
 *                                [--count N] [--consume]
 *   xioctl [--socket PATH] stats reset [TENANT]
 *   xioctl [--socket PATH] quota TENANT [--weight W] [--ops-rate R]
 *                                [--bytes-rate B] [--inflight N]
 *   xioctl [--socket PATH] steer attach IFACE [--mode native|generic] [--no-xsk]
 *   xioctl [--socket PATH] steer detach IFACE
 *   xioctl [--socket PATH] steer add TENANT --mac M [--ip A]
 *   xioctl [--socket PATH] steer del TENANT [--mac M] [--ip A]
 *   xioctl [--socket PATH] steer show [--json]
 *   xioctl [--socket PATH] libvirt sync [--uri URI] [--dry-run]
 *                                [--timeout SECONDS] [--shm-dir DIR]
 *
 * Commands are rows of the table below: adding one is one function and one
 * row.  Exit status: 0 done, 1 the daemon (or the system) refused, 2 usage
 * (libvirt sync: also 3, libvirt unreachable).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xio/admin.h>
#include <xio/client.h>
#include <xio/xio.h>

#ifdef XIO_HAVE_LIBVIRT
#include "libvirt_sync.h"
#endif

#define XIO_MAX_POLLERS_SHOWN 256

static const char *sock_path;

static int die_err(const char *what, int err)
{
	const char *hint = "";

	if (err == -ENOENT && !strcmp(what, "connect"))
		hint = " (is xiod running? see --socket)";
	else if (err == -ENOENT)
		hint = " (no such tenant)";
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
		printf("%-5u %-20s %7d %5u %3u %7s %4u %12llu %12llu %8llu %10llu %10llu %s%s%s%s%s\n",
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
			       "",
		       (ti[i].attach_flags & XIO_TENANT_F_VM) ? ",vm" : "");
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

/*
 * vm add NAME PATH: a VM tenant (docs/vm.md).  Plain: xiod creates the
 * region file PATH for ivshmem-plain.  --doorbell: PATH is the socket
 * xiod listens on as the tenant's ivshmem server (ivshmem-doorbell).
 */
static int cmd_vm_add(int argc, char **argv)
{
	struct xio_vm_tenant_opts o;
	struct xio_admin *a;
	unsigned long long size = 1ULL << 20;
	unsigned int uid = geteuid(), gid = getegid(), mode = 0600;
	char what[96], *end;
	int i, id, node = -1;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--doorbell")) {
			o.flags |= XIO_VM_TENANT_DOORBELL;
			continue;
		}
		if (argv[i][0] != '-') {
			if (!o.name)
				o.name = argv[i];
			else if (!o.path)
				o.path = argv[i];
			else
				return 2;
			continue;
		}
		if (!v)
			return 2;
		i++;
		errno = 0;
		if (!strcmp(argv[i - 1], "--size"))
			size = strtoull(v, &end, 0);
		else if (!strcmp(argv[i - 1], "--node"))
			node = (int)strtol(v, &end, 0);
		else if (!strcmp(argv[i - 1], "--mode"))
			mode = (unsigned int)strtoul(v, &end, 8);
		else if (!strcmp(argv[i - 1], "--owner") &&
			 sscanf(v, "%u:%u", &uid, &gid) == 2)
			end = (char *)v + strlen(v);
		else
			return 2;
		if (errno || *end)
			return 2;
	}
	if (!o.name || !o.path || o.path[0] != '/')
		return 2;
	o.size = size;
	o.numa_node = node;
	o.uid = uid;
	o.gid = gid;
	o.mode = mode;
	xio_vm_tenant_geometry(size, &o);
	if (open_admin(&a))
		return 1;
	id = xio_admin_vm_tenant(a, &o);
	xio_admin_close(a);
	if (id < 0) {
		snprintf(what, sizeof(what), "vm add %s", o.name);
		return die_err(what, id);
	}
	printf("%d\n", id);
	return 0;
}

/* ---- stats ------------------------------------------------------------- */

struct sample {
	struct xio_tenant_stats *t;
	int nt;
	struct xio_poller_stats *p;
	int np; /* -1: not an administrator */
	double when;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sample_free(struct sample *s)
{
	free(s->t);
	free(s->p);
	memset(s, 0, sizeof(*s));
}

static int sample_take(struct xio_admin *a, const char *tenant, uint32_t flags,
		       struct sample *s)
{
	uint32_t total = 0, cap;
	int n;

	memset(s, 0, sizeof(*s));
	s->when = now_s();
	n = xio_admin_stats(a, tenant, 0, NULL, 0, &total);
	if (n < 0)
		return n;
	cap = total + 16; /* room for tenants arriving meanwhile */
	s->t = calloc(cap, sizeof(*s->t));
	if (!s->t)
		return -ENOMEM;
	s->t[0].sz = sizeof(s->t[0]);
	n = xio_admin_stats(a, tenant, flags, s->t, cap, NULL);
	if (n < 0)
		return n;
	s->nt = n;
	s->p = calloc(XIO_MAX_POLLERS_SHOWN, sizeof(*s->p));
	if (!s->p)
		return -ENOMEM;
	s->p[0].sz = sizeof(s->p[0]);
	s->np = xio_admin_poller_stats(a, s->p, XIO_MAX_POLLERS_SHOWN, NULL);
	if (s->np == -EPERM)
		s->np = -1; /* a guest: no poller figures */
	else if (s->np < 0)
		return s->np;
	return 0;
}

/* The entry of @prev for the same tenant as @t (same id and state class). */
static const struct xio_tenant_stats *prev_of(const struct sample *prev,
					      const struct xio_tenant_stats *t)
{
	int i;

	if (!prev)
		return NULL;
	for (i = 0; i < prev->nt; i++)
		if (prev->t[i].id == t->id)
			return &prev->t[i];
	return NULL;
}

static const char *state_name(uint32_t st)
{
	return st == XIO_TSTATE_RUNNING	  ? "running" :
	       st == XIO_TSTATE_DETACHING ? "detaching" :
	       st == XIO_TSTATE_DETACHED  ? "detached" :
					    "unknown";
}

static uint64_t bytes_of(const struct xio_tenant_stats *t)
{
	return t->bytes_read + t->bytes_written + t->bytes_sent +
	       t->bytes_received;
}

/* Rates: over the watch interval when there is a previous sample, else
 * over the tenant's elapsed time. */
static void rates(const struct xio_tenant_stats *t,
		  const struct xio_tenant_stats *p, double dt, double *ops,
		  double *bps, double *cpu)
{
	double sec = p ? dt : (double)t->elapsed_ns / 1e9;
	uint64_t o = t->taken, b = bytes_of(t), c = t->cpu_ns;

	if (p && t->taken >= p->taken && bytes_of(t) >= bytes_of(p) &&
	    t->cpu_ns >= p->cpu_ns) {
		o -= p->taken;
		b -= bytes_of(p);
		c -= p->cpu_ns;
	}
	if (sec <= 0) {
		*ops = *bps = *cpu = 0;
		return;
	}
	*ops = (double)o / sec;
	*bps = (double)b / sec;
	*cpu = (double)c / 1e9 / sec * 100.0; /* % of one CPU */
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

#define JU(name, v) printf(",\"%s\":%llu", name, (unsigned long long)(v))

static void json_counters(const struct xio_tenant_stats *t)
{
	printf("\"ops\":%llu", (unsigned long long)t->taken);
	JU("completions", t->completed);
	JU("errors", t->errors);
	JU("invalid", t->invalid);
	JU("bytes_read", t->bytes_read);
	JU("bytes_written", t->bytes_written);
	JU("bytes_sent", t->bytes_sent);
	JU("bytes_received", t->bytes_received);
	JU("kicks", t->kicks);
	JU("notifies", t->notifies);
	JU("wakeups", t->wakeups);
	JU("inflight", t->inflight);
	JU("inflight_max", t->inflight_max);
	JU("cpu_ns", t->cpu_ns);
	JU("throttled", t->throttled);
	JU("steer_packets", t->steer_packets);
	JU("steer_bytes", t->steer_bytes);
	JU("steer_drops", t->steer_drops);
	JU("steer_passed", t->steer_passed);
	JU("steer_wrong_node", t->steer_wrong_node);
	JU("pkt_received", t->pkt_received);
	JU("pkt_sent", t->pkt_sent);
	JU("pkt_tx_refused", t->pkt_tx_refused);
}

static void totals_of(const struct sample *s, struct xio_tenant_stats *tot)
{
	int i;

	memset(tot, 0, sizeof(*tot));
	for (i = 0; i < s->nt; i++) {
		const struct xio_tenant_stats *t = &s->t[i];

		tot->taken += t->taken;
		tot->completed += t->completed;
		tot->errors += t->errors;
		tot->invalid += t->invalid;
		tot->bytes_read += t->bytes_read;
		tot->bytes_written += t->bytes_written;
		tot->bytes_sent += t->bytes_sent;
		tot->bytes_received += t->bytes_received;
		tot->kicks += t->kicks;
		tot->notifies += t->notifies;
		tot->wakeups += t->wakeups;
		tot->inflight += t->inflight;
		if (t->inflight_max > tot->inflight_max)
			tot->inflight_max = t->inflight_max;
		tot->cpu_ns += t->cpu_ns;
		tot->throttled += t->throttled;
		tot->steer_packets += t->steer_packets;
		tot->steer_bytes += t->steer_bytes;
		tot->steer_drops += t->steer_drops;
		tot->steer_passed += t->steer_passed;
		tot->steer_wrong_node += t->steer_wrong_node;
		tot->pkt_received += t->pkt_received;
		tot->pkt_sent += t->pkt_sent;
		tot->pkt_tx_refused += t->pkt_tx_refused;
	}
}

static void stats_json(const struct sample *s, const struct sample *prev)
{
	struct xio_tenant_stats tot;
	struct timespec rt;
	double dt = prev ? s->when - prev->when : 0, ops, bps, cpu;
	int i;

	clock_gettime(CLOCK_REALTIME, &rt);
	printf("{\"schema\":\"xio-stats\",\"version\":1,\"timestamp\":%.3f,",
	       (double)rt.tv_sec + (double)rt.tv_nsec / 1e9);
	if (prev)
		printf("\"interval_s\":%.3f,", dt);
	else
		printf("\"interval_s\":null,");
	printf("\"tenants\":[");
	for (i = 0; i < s->nt; i++) {
		const struct xio_tenant_stats *t = &s->t[i];

		rates(t, prev_of(prev, t), dt, &ops, &bps, &cpu);
		printf("%s{\"id\":%u,\"name\":", i ? "," : "", t->id);
		json_str(t->name);
		printf(",\"state\":\"%s\",\"poller\":%u,", state_name(t->state),
		       t->poller);
		json_counters(t);
		JU("elapsed_ns", t->elapsed_ns);
		printf(",\"rates\":{\"ops_per_s\":%.1f,\"bytes_per_s\":%.1f,"
		       "\"cpu_percent\":%.3f}",
		       ops, bps, cpu);
		printf(",\"quota\":{\"weight\":%llu,\"ops_rate\":%llu,"
		       "\"bytes_rate\":%llu,\"inflight_cap\":%llu}}",
		       (unsigned long long)t->weight,
		       (unsigned long long)t->ops_rate,
		       (unsigned long long)t->bytes_rate,
		       (unsigned long long)t->inflight_cap);
	}
	totals_of(s, &tot);
	printf("],\"totals\":{");
	json_counters(&tot);
	printf("},\"pollers\":");
	if (s->np < 0) {
		printf("null");
	} else {
		printf("[");
		for (i = 0; i < s->np; i++) {
			const struct xio_poller_stats *p = &s->p[i];
			uint64_t sum =
				p->attributed_ns + p->idle_ns + p->overhead_ns;

			printf("%s{\"idx\":%u,\"cpu\":%d,\"tenants\":%u",
			       i ? "," : "", p->idx, p->cpu, p->nr_tenants);
			JU("attributed_ns", p->attributed_ns);
			JU("idle_ns", p->idle_ns);
			JU("overhead_ns", p->overhead_ns);
			JU("thread_cpu_ns", p->thread_cpu_ns);
			JU("sleeps", p->sleeps);
			JU("sleep_ns", p->sleep_ns);
			JU("timed_sleeps", p->timed_sleeps);
			printf(",\"accounted_ratio\":%.4f}",
			       p->thread_cpu_ns ?
				       (double)sum / (double)p->thread_cpu_ns :
				       0.0);
		}
		printf("]");
	}
	printf("}\n");
}

static void stats_table(const struct sample *s, const struct sample *prev)
{
	struct xio_tenant_stats tot;
	double dt = prev ? s->when - prev->when : 0, ops, bps, cpu;
	double tops = 0, tbps = 0, tcpu = 0;
	char r[16], w[16], sn[16], rc[16], rate[16];
	int i;

	printf("%-5s %-16s %-9s %12s %8s %8s %9s %9s %9s %9s %6s %10s %10s %10s %7s\n",
	       "ID", "NAME", "STATE", "OPS", "ERRORS", "INVALID", "READ",
	       "WRITTEN", "SENT", "RECEIVED", "INFL^", "CPU-MS", "OPS/S",
	       "BYTES/S", "CPU%");
	for (i = 0; i < s->nt; i++) {
		const struct xio_tenant_stats *t = &s->t[i];

		rates(t, prev_of(prev, t), dt, &ops, &bps, &cpu);
		tops += ops;
		tbps += bps;
		tcpu += cpu;
		human(r, sizeof(r), t->bytes_read);
		human(w, sizeof(w), t->bytes_written);
		human(sn, sizeof(sn), t->bytes_sent);
		human(rc, sizeof(rc), t->bytes_received);
		human(rate, sizeof(rate), (uint64_t)bps);
		printf("%-5u %-16s %-9s %12llu %8llu %8llu %9s %9s %9s %9s %6llu %10.1f %10.0f %10s %7.2f\n",
		       t->id, t->name, state_name(t->state),
		       (unsigned long long)t->taken,
		       (unsigned long long)t->errors,
		       (unsigned long long)t->invalid, r, w, sn, rc,
		       (unsigned long long)t->inflight_max,
		       (double)t->cpu_ns / 1e6, ops, rate, cpu);
	}
	totals_of(s, &tot);
	human(r, sizeof(r), tot.bytes_read);
	human(w, sizeof(w), tot.bytes_written);
	human(sn, sizeof(sn), tot.bytes_sent);
	human(rc, sizeof(rc), tot.bytes_received);
	human(rate, sizeof(rate), (uint64_t)tbps);
	printf("%-5s %-16s %-9s %12llu %8llu %8llu %9s %9s %9s %9s %6llu %10.1f %10.0f %10s %7.2f\n",
	       "-", "TOTAL", "", (unsigned long long)tot.taken,
	       (unsigned long long)tot.errors, (unsigned long long)tot.invalid,
	       r, w, sn, rc, (unsigned long long)tot.inflight_max,
	       (double)tot.cpu_ns / 1e6, tops, rate, tcpu);
	for (i = 0; i < s->nt; i++) {
		const struct xio_tenant_stats *t = &s->t[i];

		if (!t->steer_packets && !t->pkt_sent && !t->pkt_tx_refused)
			continue;
		human(r, sizeof(r), t->steer_bytes);
		printf("steering %u '%s': %llu frames (%s), passed %llu, drops %llu, wrong node %llu; packets received %llu, sent %llu, refused %llu\n",
		       t->id, t->name, (unsigned long long)t->steer_packets, r,
		       (unsigned long long)t->steer_passed,
		       (unsigned long long)t->steer_drops,
		       (unsigned long long)t->steer_wrong_node,
		       (unsigned long long)t->pkt_received,
		       (unsigned long long)t->pkt_sent,
		       (unsigned long long)t->pkt_tx_refused);
	}
	for (i = 0; i < s->np; i++) {
		const struct xio_poller_stats *p = &s->p[i];
		uint64_t sum = p->attributed_ns + p->idle_ns + p->overhead_ns;

		printf("poller %u (cpu %d, %u tenants): attributed %.1f ms, idle %.1f ms, overhead %.1f ms, thread CPU %.1f ms (accounted %.1f%%), asleep %.1f ms in %llu sleeps\n",
		       p->idx, p->cpu, p->nr_tenants,
		       (double)p->attributed_ns / 1e6, (double)p->idle_ns / 1e6,
		       (double)p->overhead_ns / 1e6,
		       (double)p->thread_cpu_ns / 1e6,
		       p->thread_cpu_ns ?
			       100.0 * (double)sum / (double)p->thread_cpu_ns :
			       0.0,
		       (double)p->sleep_ns / 1e6,
		       (unsigned long long)p->sleeps);
	}
}

static int cmd_stats(int argc, char **argv)
{
	struct sample cur, prev;
	struct xio_admin *a;
	const char *tenant = NULL;
	double watch = 0;
	long count = 0, done = 0;
	uint32_t flags = 0;
	bool json = false, have_prev = false;
	char what[96];
	int i, err;

	for (i = 0; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--consume")) {
			flags |= XIO_STATS_F_CONSUME;
		} else if (!strcmp(argv[i], "--watch") && i + 1 < argc) {
			watch = strtod(argv[++i], &end);
			if (*end || end == argv[i] || !(watch >= 0.01) ||
			    watch > 86400) {
				fprintf(stderr,
					"xioctl: --watch %s: want seconds between 0.01 and 86400\n",
					argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			count = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || count < 1) {
				fprintf(stderr,
					"xioctl: --count %s: want a positive number\n",
					argv[i]);
				return 2;
			}
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return 2;
		} else if (!tenant) {
			tenant = argv[i];
		} else {
			return 2;
		}
	}
	if (count && !watch)
		return 2;
	if ((flags & XIO_STATS_F_CONSUME) && watch) {
		fprintf(stderr,
			"xioctl: --consume with --watch would lose records\n");
		return 2;
	}
	if (open_admin(&a))
		return 1;
	snprintf(what, sizeof(what), "stats%s%s", tenant ? " " : "",
		 tenant ? tenant : "");
	for (;;) {
		err = sample_take(a, tenant, flags, &cur);
		if (err) {
			sample_free(&cur);
			if (have_prev)
				sample_free(&prev);
			xio_admin_close(a);
			return die_err(what, err);
		}
		if (json)
			stats_json(&cur, have_prev ? &prev : NULL);
		else
			stats_table(&cur, have_prev ? &prev : NULL);
		fflush(stdout);
		if (have_prev)
			sample_free(&prev);
		prev = cur;
		have_prev = true;
		if (!watch || (count && ++done >= count))
			break;
		if (!json)
			printf("\n");
		usleep((useconds_t)(watch * 1e6));
	}
	sample_free(&prev);
	xio_admin_close(a);
	return 0;
}

static int cmd_stats_reset(int argc, char **argv)
{
	struct xio_admin *a;
	char what[96];
	int err;

	if (argc > 1)
		return 2;
	if (open_admin(&a))
		return 1;
	err = xio_admin_stats_reset(a, argc ? argv[0] : NULL);
	xio_admin_close(a);
	if (err) {
		snprintf(what, sizeof(what), "stats reset%s%s", argc ? " " : "",
			 argc ? argv[0] : "");
		return die_err(what, err);
	}
	return 0;
}

/* ---- quota ------------------------------------------------------------- */

/*
 * A non-negative integer; with @suffix 1 a K/M/G/T suffix (powers of 1024)
 * and "unlimited" (0) are allowed too.  One-line message and false on error.
 */
static bool parse_u64(const char *opt, const char *v, int suffix, uint64_t *out)
{
	unsigned long long n;
	char *end;
	int shift = 0;

	if (!strcmp(v, "unlimited") && suffix == 1) {
		*out = 0;
		return true;
	}
	while (*v == ' ')
		v++;
	if (*v == '-' || !(*v >= '0' && *v <= '9')) {
		fprintf(stderr, "xioctl: %s %s: want a non-negative integer\n",
			opt, v);
		return false;
	}
	errno = 0;
	n = strtoull(v, &end, 10);
	if (suffix == 1 && *end) {
		const char *u = strchr("KMGT", *end & ~0x20);

		if (u && !end[1]) {
			shift = 10 * (int)(u - "KMGT" + 1);
			end++;
		}
	}
	if (errno || *end || (shift && n > (UINT64_MAX >> shift))) {
		fprintf(stderr, "xioctl: %s %s: not a number in range\n", opt,
			v);
		return false;
	}
	*out = (uint64_t)n << shift;
	return true;
}

static int cmd_quota(int argc, char **argv)
{
	struct xio_quota q = {.sz = sizeof(q)};
	struct xio_tenant_stats st = {.sz = sizeof(st)};
	struct xio_admin *a;
	const char *tenant = NULL;
	char what[96];
	int i, err;

	for (i = 0; i < argc; i++) {
		const char *o = argv[i];
		bool ok = true;

		if (!strcmp(o, "--weight") && i + 1 < argc) {
			ok = parse_u64(o, argv[++i], 2, &q.weight);
			q.flags |= XIO_QUOTA_WEIGHT;
		} else if (!strcmp(o, "--ops-rate") && i + 1 < argc) {
			ok = parse_u64(o, argv[++i], 1, &q.ops_rate);
			q.flags |= XIO_QUOTA_OPS_RATE;
		} else if (!strcmp(o, "--bytes-rate") && i + 1 < argc) {
			ok = parse_u64(o, argv[++i], 1, &q.bytes_rate);
			q.flags |= XIO_QUOTA_BYTES_RATE;
		} else if (!strcmp(o, "--inflight") && i + 1 < argc) {
			ok = parse_u64(o, argv[++i], 2, &q.inflight_cap);
			q.flags |= XIO_QUOTA_INFLIGHT;
		} else if (o[0] == '-' && o[1]) {
			return 2;
		} else if (!tenant) {
			tenant = o;
		} else {
			return 2;
		}
		if (!ok)
			return 2;
	}
	if (!tenant)
		return 2;
	if ((q.flags & XIO_QUOTA_WEIGHT) &&
	    (q.weight < 1 || q.weight > XIO_QUOTA_WEIGHT_MAX)) {
		fprintf(stderr,
			"xioctl: --weight %llu: want 1..%u (100 is the default share)\n",
			(unsigned long long)q.weight, XIO_QUOTA_WEIGHT_MAX);
		return 2;
	}
	if (q.ops_rate > XIO_QUOTA_OPS_RATE_MAX) {
		fprintf(stderr,
			"xioctl: --ops-rate %llu: want 0 (unlimited)..%llu\n",
			(unsigned long long)q.ops_rate,
			(unsigned long long)XIO_QUOTA_OPS_RATE_MAX);
		return 2;
	}
	if (q.bytes_rate > XIO_QUOTA_BYTES_RATE_MAX) {
		fprintf(stderr,
			"xioctl: --bytes-rate %llu: want 0 (unlimited)..%llu (1T)\n",
			(unsigned long long)q.bytes_rate,
			(unsigned long long)XIO_QUOTA_BYTES_RATE_MAX);
		return 2;
	}
	if ((q.flags & XIO_QUOTA_INFLIGHT) && q.inflight_cap < 1) {
		fprintf(stderr, "xioctl: --inflight 0: want at least 1\n");
		return 2;
	}
	if (open_admin(&a))
		return 1;
	snprintf(what, sizeof(what), "quota %s", tenant);
	if (q.flags) {
		err = xio_admin_quota_set(a, tenant, &q);
		if (err == -ERANGE &&
		    xio_admin_stats(a, tenant, 0, &st, 1, NULL) == 1) {
			fprintf(stderr,
				"xioctl: %s: --inflight %llu: want 1..%llu (the tenant's in-flight slots)\n",
				what, (unsigned long long)q.inflight_cap,
				(unsigned long long)st.inflight_slots);
			xio_admin_close(a);
			return 1;
		}
		if (err) {
			xio_admin_close(a);
			return die_err(what, err);
		}
	}
	err = xio_admin_stats(a, tenant, 0, &st, 1, NULL);
	xio_admin_close(a);
	if (err < 0)
		return die_err(what, err);
	printf("tenant %u '%s': weight %llu, ops-rate %llu%s, bytes-rate %llu%s, inflight %llu of %llu\n",
	       st.id, st.name, (unsigned long long)st.weight,
	       (unsigned long long)st.ops_rate,
	       st.ops_rate ? "/s" : " (unlimited)",
	       (unsigned long long)st.bytes_rate,
	       st.bytes_rate ? "/s" : " (unlimited)",
	       (unsigned long long)st.inflight_cap,
	       (unsigned long long)st.inflight_slots);
	return 0;
}

/* ---- steering ------------------------------------------------------------ */

static int cmd_steer_attach(int argc, char **argv)
{
	struct xio_admin *a;
	uint32_t flags = 0;
	int i, err;

	if (argc < 1)
		return 2;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "generic"))
				flags |= XIO_ADMIN_STEER_GENERIC;
			else if (!strcmp(argv[i], "native"))
				flags &= ~XIO_ADMIN_STEER_GENERIC;
			else
				return 2;
		} else if (!strcmp(argv[i], "--no-xsk")) {
			flags |= XIO_ADMIN_STEER_NO_XSK;
		} else {
			return 2;
		}
	}
	if (open_admin(&a))
		return 1;
	err = xio_admin_steer_attach(a, argv[0], flags);
	xio_admin_close(a);
	if (err == -EBUSY) {
		fprintf(stderr,
			"xioctl: steer attach %s: an XDP program is already attached there (ip link show %s)\n",
			argv[0], argv[0]);
		return 1;
	}
	if (err == -EOPNOTSUPP) {
		fprintf(stderr,
			"xioctl: steer attach %s: no native XDP in this driver (try --mode generic)\n",
			argv[0]);
		return 1;
	}
	return err ? die_err("steer attach", err) : 0;
}

static int cmd_steer_detach(int argc, char **argv)
{
	struct xio_admin *a;
	int err;

	if (argc != 1)
		return 2;
	if (open_admin(&a))
		return 1;
	err = xio_admin_steer_detach(a, argv[0]);
	xio_admin_close(a);
	if (err == -ENOENT) {
		fprintf(stderr,
			"xioctl: steer detach %s: not attached by xiod\n",
			argv[0]);
		return 1;
	}
	return err ? die_err("steer detach", err) : 0;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6 ||
	    strlen(s) != 17)
		return false;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

/* TENANT [--mac M] [--ip A]: 0 parsed, 2 usage. */
static int parse_rule(int argc, char **argv, uint8_t mac[6], bool *has_mac,
		      int *family, uint8_t addr[16], bool *has_ip)
{
	int i;

	*has_mac = *has_ip = false;
	if (argc < 1)
		return 2;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mac") && i + 1 < argc) {
			if (!parse_mac(argv[++i], mac)) {
				fprintf(stderr,
					"xioctl: --mac %s: expected xx:xx:xx:xx:xx:xx\n",
					argv[i]);
				return 2;
			}
			*has_mac = true;
		} else if (!strcmp(argv[i], "--ip") && i + 1 < argc) {
			i++;
			if (inet_pton(AF_INET, argv[i], addr) == 1) {
				*family = AF_INET;
			} else if (inet_pton(AF_INET6, argv[i], addr) == 1) {
				*family = AF_INET6;
			} else {
				fprintf(stderr,
					"xioctl: --ip %s: not an IPv4 or IPv6 address\n",
					argv[i]);
				return 2;
			}
			*has_ip = true;
		} else {
			return 2;
		}
	}
	return 0;
}

static int cmd_steer_add(int argc, char **argv)
{
	uint8_t mac[6], addr[16];
	bool has_mac, has_ip;
	struct xio_admin *a;
	int family = 0, err;

	if (parse_rule(argc, argv, mac, &has_mac, &family, addr, &has_ip) ||
	    !has_mac)
		return 2;
	if (open_admin(&a))
		return 1;
	err = xio_admin_steer_add(a, argv[0], mac, family,
				  has_ip ? addr : NULL);
	xio_admin_close(a);
	if (err == -ERANGE) {
		fprintf(stderr,
			"xioctl: steer add %s: tenant ids above 1023 cannot be steered\n",
			argv[0]);
		return 1;
	}
	if (err == -EINVAL) {
		fprintf(stderr,
			"xioctl: steer add %s: refused (a group or all-zero MAC?)\n",
			argv[0]);
		return 1;
	}
	return err ? die_err("steer add", err) : 0;
}

static int cmd_steer_del(int argc, char **argv)
{
	uint8_t mac[6], addr[16];
	bool has_mac, has_ip;
	struct xio_admin *a;
	int family = 0, err;

	if (parse_rule(argc, argv, mac, &has_mac, &family, addr, &has_ip))
		return 2;
	if (open_admin(&a))
		return 1;
	err = xio_admin_steer_del(a, argv[0], has_mac ? mac : NULL, family,
				  has_ip ? addr : NULL);
	xio_admin_close(a);
	if (err == -ENOENT) {
		fprintf(stderr,
			"xioctl: steer del %s: no such tenant or rule (xioctl steer show)\n",
			argv[0]);
		return 1;
	}
	return err ? die_err("steer del", err) : 0;
}

#define STEER_RULES_SHOWN 4096

static void rule_addr(const struct xio_admin_steer_rule *r, char *buf, size_t n)
{
	const uint8_t *m = r->addr;

	if (r->family == AF_INET || r->family == AF_INET6) {
		if (!inet_ntop(r->family, m, buf, (socklen_t)n))
			snprintf(buf, n, "?");
	} else {
		snprintf(buf, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
			 m[2], m[3], m[4], m[5]);
	}
}

static const char *rule_kind(const struct xio_admin_steer_rule *r)
{
	return r->family == AF_INET  ? "ipv4" :
	       r->family == AF_INET6 ? "ipv6" :
				       "mac";
}

/* {"schema":"xio-steer","version":1,"interfaces":[{"name","mode"}],
 *  "rules":[{"tenant","kind","address","node","cpu"}],"total":N} */
static void steer_show_json(const struct xio_admin_steer_iface *ifs,
			    uint32_t nr_ifs,
			    const struct xio_admin_steer_rule *r, uint32_t n,
			    uint32_t total)
{
	char buf[INET6_ADDRSTRLEN];
	uint32_t i;

	printf("{\"schema\":\"xio-steer\",\"version\":1,\"interfaces\":[");
	for (i = 0; i < nr_ifs; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(ifs[i].name);
		printf(",\"mode\":\"%s\",\"port\":%u,\"xsk\":%s}",
		       ifs[i].flags & XIO_ADMIN_STEER_GENERIC ? "generic" :
								"native",
		       ifs[i].port,
		       ifs[i].flags & XIO_ADMIN_STEER_NO_XSK ? "false" :
							       "true");
	}
	printf("],\"rules\":[");
	for (i = 0; i < n; i++) {
		rule_addr(&r[i], buf, sizeof(buf));
		printf("%s{\"tenant\":%u,\"kind\":\"%s\",\"address\":\"%s\","
		       "\"node\":%d,\"cpu\":%d}",
		       i ? "," : "", r[i].tenant, rule_kind(&r[i]), buf,
		       r[i].node, r[i].cpu);
	}
	printf("],\"total\":%u}\n", total);
}

static int cmd_steer_show(int argc, char **argv)
{
	struct xio_admin_steer_iface ifs[XIO_ADMIN_STEER_IFACES_MAX];
	struct xio_admin_steer_rule *r;
	uint32_t nr_ifs = 0, total = 0, i;
	struct xio_admin *a;
	char buf[INET6_ADDRSTRLEN];
	bool json = false;
	int n;

	if (argc == 1 && !strcmp(argv[0], "--json"))
		json = true;
	else if (argc)
		return 2;
	r = calloc(STEER_RULES_SHOWN, sizeof(*r));
	if (!r)
		return die_err("steer show", -ENOMEM);
	if (open_admin(&a)) {
		free(r);
		return 1;
	}
	n = xio_admin_steer_show(a, ifs, &nr_ifs, r, STEER_RULES_SHOWN, &total);
	xio_admin_close(a);
	if (n < 0) {
		free(r);
		return die_err("steer show", n);
	}
	if (json) {
		steer_show_json(ifs, nr_ifs, r, (uint32_t)n, total);
		free(r);
		return 0;
	}
	printf("interfaces:");
	for (i = 0; i < nr_ifs; i++)
		printf(" %s (%s%s, port %u)", ifs[i].name,
		       ifs[i].flags & XIO_ADMIN_STEER_GENERIC ? "generic" :
								"native",
		       ifs[i].flags & XIO_ADMIN_STEER_NO_XSK ? ", no AF_XDP" :
							       "",
		       ifs[i].port);
	printf("%s\n", nr_ifs ? "" : " none");
	printf("%-7s %-6s %-40s %5s %5s\n", "TENANT", "KIND", "ADDRESS", "NODE",
	       "CPU");
	for (i = 0; i < (uint32_t)n; i++) {
		rule_addr(&r[i], buf, sizeof(buf));
		printf("%-7u %-6s %-40s %5d %5d\n", r[i].tenant,
		       rule_kind(&r[i]), buf, r[i].node, r[i].cpu);
	}
	if (total > (uint32_t)n)
		printf("(%u more rules not shown)\n", total - (uint32_t)n);
	free(r);
	return 0;
}

/* ---- libvirt ------------------------------------------------------------ */

static int cmd_libvirt_sync(int argc, char **argv)
{
#ifdef XIO_HAVE_LIBVIRT
	struct lv_sync_opts o = {.socket = sock_path, .prefix = ""};
	uint64_t secs;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--uri") && i + 1 < argc) {
			o.uri = argv[++i];
		} else if (!strcmp(argv[i], "--shm-dir") && i + 1 < argc) {
			o.shm_dir = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (!parse_u64("--timeout", argv[++i], 0, &secs) ||
			    !secs || secs > 3600)
				return 2;
			o.timeout_s = (unsigned int)secs;
		} else if (!strcmp(argv[i], "--dry-run")) {
			o.dry_run = true;
		} else {
			return 2;
		}
	}
	return lv_sync_run(&o);
#else
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"xioctl: libvirt sync: built without libvirt (install libvirt-dev and libxml2-dev, rebuild)\n");
	return 1;
#endif
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
	{{"vm", "add"},
	 cmd_vm_add,
	 "vm add NAME PATH [--doorbell] [--size BYTES] [--node N] "
	 "[--owner UID:GID] [--mode OCTAL]"},
	/* Before "stats": a tenant named "reset" is reached by its id. */
	{{"stats", "reset"}, cmd_stats_reset, "stats reset [TENANT]"},
	{{"quota", NULL},
	 cmd_quota,
	 "quota TENANT [--weight W] [--ops-rate R] [--bytes-rate B[K|M|G|T]] "
	 "[--inflight N]"},
	{{"steer", "attach"},
	 cmd_steer_attach,
	 "steer attach IFACE [--mode native|generic] [--no-xsk]"},
	{{"steer", "detach"}, cmd_steer_detach, "steer detach IFACE"},
	{{"steer", "add"}, cmd_steer_add, "steer add TENANT --mac M [--ip A]"},
	{{"steer", "del"},
	 cmd_steer_del,
	 "steer del TENANT [--mac M] [--ip A]"},
	{{"steer", "show"}, cmd_steer_show, "steer show [--json]"},
	{{"libvirt", "sync"},
	 cmd_libvirt_sync,
	 "libvirt sync [--uri URI] [--dry-run] [--timeout SECONDS] [--shm-dir DIR]"},
	{{"stats", NULL},
	 cmd_stats,
	 "stats [TENANT] [--json] [--watch SECONDS [--count N]] [--consume]"},
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
	/* A known first word ("steer", "target", ...): its forms only. */
	for (i = 0, rc = 0; i < NR_COMMANDS; i++) {
		if (!commands[i].words[1] ||
		    strcmp(argv[0], commands[i].words[0]))
			continue;
		if (!rc++)
			fprintf(stderr,
				"xioctl: %s: unknown or missing subcommand\n",
				argv[0]);
		fprintf(stderr, "usage: xioctl %s\n", commands[i].usage);
	}
	if (rc)
		return 2;
	fprintf(stderr, "xioctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
