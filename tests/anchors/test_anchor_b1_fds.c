/* SPDX-License-Identifier: MIT */
/*
 * Reliability anchor B1 at the anchor's scale: setup messages with too few,
 * too many or the wrong kind of fds, 1e6 of them (1e5 under a sanitizer):
 * TARGET_ADD_FD with no fd, with two, with a directory, an O_PATH fd, an
 * eventfd, both ends of a pipe, an unconnected socket and a write-only
 * file; TENANT_LIST and DETACH (which take none) with 1 and 3 fds.  Each
 * gets an error reply; after a warm-up, xiod's fd count is back exactly at
 * its baseline after every 1e5, its /proc/PID/maps line count does not
 * change and its RSS grows by less than 1 MiB (under a sanitizer, whose
 * allocator maps and keeps memory of its own: maps + 8, RSS not checked),
 * and the tenant named in the
 * messages still completes NOPs.  tests/daemon/test_xiod_ctl.c has the
 * same kinds at a smaller count plus framing and privilege abuse.
 */
#include "daemon/dtest.h"

#include <sys/eventfd.h>

#ifdef XIO_TEST_SANITIZED
#define TOTAL 100000
#else
#define TOTAL 1000000
#endif
#define CHUNK 100000

int main(void)
{
	struct xio_msg_target_add *m = calloc(1, sizeof(*m));
	struct xio_msg_tenant_list tl;
	struct xio_msg_detach dm;
	int bad[8], nbad = 0, p[2], fd, base, maps = 0, sent = 0;
	struct xio_tenant *victim;
	char path[64];
	struct xiod d;
	long rss = 0;

	CHECK(m);
	xiod_start(&d, NULL);
	victim = attach(d.sock, "victim", 8, 2);
	nop_roundtrip(xio_tenant_qp(victim, 0), 1);
	bad[nbad++] = open(d.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bad[nbad++] = open(d.dir, O_PATH | O_CLOEXEC);
	bad[nbad++] = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	bad[nbad++] = p[0];
	bad[nbad++] = p[1];
	bad[nbad++] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(path, sizeof(path), "%s/wo", d.dir);
	bad[nbad++] = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	for (int i = 0; i < nbad; i++)
		CHECK(bad[i] >= 0);
	xio__msg_hdr_init(&m->hdr, XIO_MSG_TARGET_ADD_FD, 1);
	snprintf(m->tenant, sizeof(m->tenant), "victim");
	memset(&tl, 0, sizeof(tl));
	xio__msg_hdr_init(&tl.hdr, XIO_MSG_TENANT_LIST, 2);
	memset(&dm, 0, sizeof(dm));
	xio__msg_hdr_init(&dm.hdr, XIO_MSG_DETACH, 3);

	fd = dt_connect(d.sock);
	CHECK(fd >= 0);
	CHECK(xio__admin_tenants_fd(fd, 0, NULL, 0, NULL) >= 0);
	base = fd_count(d.pid);
	for (int chunk = 0; sent < TOTAL + CHUNK; chunk++) {
		for (int k = 0; k < CHUNK; k++, sent++) {
			const void *msg = m;
			size_t len = sizeof(*m);
			const int *fds = bad;
			unsigned int nfds = 1;
			int v = sent % (nbad + 6), st;

			if (v < nbad) {
				fds = &bad[v];
			} else if (v == nbad) {
				nfds = 0;
			} else if (v == nbad + 1) {
				nfds = 2;
			} else {
				msg = v < nbad + 4 ? (const void *)&tl :
						     (const void *)&dm;
				len = v < nbad + 4 ? sizeof(tl) : sizeof(dm);
				nfds = v % 2 ? 1 : 3;
			}
			CHECK_EQ(raw_send(fd, msg, len, fds, nfds), 0);
			st = raw_reply(fd, NULL);
			if (st <= -1000) { /* hung up: fine, go on anew */
				close(fd);
				fd = dt_connect(d.sock);
				CHECK(fd >= 0);
				continue;
			}
			CHECK(st < 0);
		}
		wait_fd_count(d.pid, base);
		if (chunk == 0) { /* warm-up */
			maps = maps_count(d.pid);
			rss = rss_kib(d.pid);
			continue;
		}
#ifdef XIO_TEST_SANITIZED
		CHECK(maps_count(d.pid) <= maps + 8); /* its allocator maps */
#else
		CHECK_EQ(maps_count(d.pid), maps);
		CHECK(rss_kib(d.pid) - rss < 1024);
#endif
	}
	printf("%d bad-fd messages after a %d warm-up: fds at baseline %d, "
	       "maps %d, RSS %ld -> %ld KiB\n",
	       TOTAL, CHUNK, base, maps, rss, rss_kib(d.pid));
	nop_roundtrip(xio_tenant_qp(victim, 0), 2);
	for (int i = 0; i < nbad; i++)
		close(bad[i]);
	close(fd);
	unlink(path);
	free(m);
	CHECK_EQ(xio_client_detach(victim), 0);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
