// SPDX-License-Identifier: MIT
/*
 * Steering across a restart (issue 8, docs/steering.md "Restart"): the
 * interfaces attached and the rules added are in <state dir>/steering, so a
 * restarted xiod attaches the interfaces again (same ports) and gives each
 * tenant its rules back when it reattaches.
 *
 * In a network namespace, over a veth pair: xiod attaches xr0, tenant "sa"
 * gets a MAC and an IPv4 rule, "sb" a MAC; sa posts an RX buffer.  xiod is
 * SIGKILLed (its XDP link goes with it) and restarted with
 * --orphan-grace 2; sa reattaches.  Checked: xr0 has XDP again at port 0,
 * sa's two rules are back, its RX buffer (resubmitted from the in-flight
 * log) receives a frame sent to its MAC, a PKT_SEND out of port 0 works;
 * sb's rule waits for sb and is dropped with its log when the grace ends.
 * A second interface, xh0, attached with --no-xsk (every frame takes the
 * CPU hop and xiod's packet socket), comes back as it was, its reader
 * with it: a frame to sa's MAC through it reaches sa's next buffer.
 * A clean stop (SIGTERM, a handover) keeps the file; a damaged file is
 * ignored (a warning, nothing restored, xiod serves).
 *
 * Root only; SKIP without XDP or network namespaces.
 */
#include "steer_dtest.h"

#define BUFSZ 2048U

static char dir[64];
static const char *args[16];
static const uint8_t MAC_A[6] = {0x02, 0x78, 0x69, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0x78, 0x69, 0, 0, 0x0b};

static struct xio_tenant *tn_attach(const char *name)
{
	struct xio_client_opts o = {.sz = sizeof(o)};
	struct xio_tenant *t;

	o.name = name;
	o.params.sq_entries = 16;
	o.params.cq_entries = 16;
	o.params.nr_bufs = 4;
	o.params.buf_size = BUFSZ;
	CHECK_EQ(xio_client_attach(d.sock, &o, &t), 0);
	return t;
}

/* The rules of tenant @id in `steer show`, and the interfaces. */
static int rules_of(uint32_t id, struct xio_admin_steer_iface *ifs,
		    uint32_t *nr_ifs)
{
	struct xio_admin_steer_rule r[16];
	struct xio_admin *adm;
	int n, i, k = 0;

	CHECK_EQ(xio_admin_open(d.sock, &adm), 0);
	n = xio_admin_steer_show(adm, ifs, nr_ifs, r, 16, NULL);
	CHECK(n >= 0);
	for (i = 0; i < n; i++)
		k += r[i].tenant == id;
	xio_admin_close(adm);
	return k;
}

/* SIGKILL xiod; its XDP link goes with the process, soon (not at once). */
static void xiod_kill_unlinked(void)
{
	uint64_t t0;

	dt_xiod_kill(&d);
	t0 = dt_now_ms();
	while (has_xdp("xr0")) {
		CHECK(dt_now_ms() - t0 < 5000);
		usleep(10000);
	}
}

static bool file_exists(const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

int main(void)
{
	struct xio_admin_steer_iface ifs[XIO_ADMIN_STEER_IFACES_MAX];
	struct xio_tenant *sa, *sb;
	struct xio_sqe *s;
	struct xio_cqe c;
	uint32_t nr_ifs, a_id, b_id, fl, sq;
	uint64_t t0;
	int st, tx, fd;

	if (geteuid() != 0)
		SKIP("needs root (XDP, network namespaces)");
	ns_enter_or_skip("xiodrst", 60);
	veth_create("xr0", "xr1");
	veth_create("xh0", "xh1");
	dt_state_dir(dir, sizeof(dir), "rst");
	xiod_start(&d, "--cpus", "0", "--state-dir", dir, NULL);
	dt_xiod_argv(&d, args, 16, "--cpus", "0", "--state-dir", dir,
		     "--orphan-grace", "2", NULL);
	sa = tn_attach("sa");
	sb = tn_attach("sb");
	a_id = xio_tenant_id(sa);
	b_id = xio_tenant_id(sb);
	st = xioctl("steer attach xr0");
	if (!st)
		st = xioctl("steer attach xh0 --no-xsk");
	if (st) {
		xiod_stop(&d);
		SKIP("xiod cannot attach XDP to a veth here (exit %d)", st);
	}
	CHECK_EQ(xioctl("steer add sa --mac 02:78:69:00:00:0a --ip 10.9.0.10"),
		 0);
	CHECK_EQ(xioctl("steer add sb --mac 02:78:69:00:00:0b"), 0);
	CHECK(file_exists("steering"));
	/* An RX buffer in flight at the kill. */
	s = xio_get_sqe(xio_tenant_qp(sa, 0));
	CHECK(s);
	xio_prep_pkt_recv(s, 0, 0, BUFSZ, 5);
	CHECK_EQ(xio_submit(xio_tenant_qp(sa, 0)), 1);
	nop_roundtrip(xio_tenant_qp(sa, 0), 1000);

	xiod_kill_unlinked();
	xio_set_print(NULL);
	dt_xiod_spawn(&d, args);
	dt_reattach(sa);
	CHECK(has_xdp("xr0"));
	CHECK_EQ(rules_of(a_id, ifs, &nr_ifs), 2);
	CHECK_EQ(nr_ifs, 2);
	CHECK(!strcmp(ifs[0].name, "xr0") && ifs[0].port == 0);
	CHECK(!strcmp(ifs[1].name, "xh0") && ifs[1].port == 1 &&
	      ifs[1].flags == XIO_ADMIN_STEER_NO_XSK);
	CHECK_EQ(rules_of(b_id, NULL, NULL), 0); /* waits for sb */
	/* The buffer posted before the kill receives sa's frame. */
	tx = raw_socket("xr1", 0);
	nop_roundtrip(xio_tenant_qp(sa, 0), 1001);
	tf_send(tx, MAC_A, 1, 1);
	CHECK(get_cqe(xio_tenant_qp(sa, 0), &c, 10000));
	CHECK_EQ(c.user_data, 5);
	CHECK_EQ(c.res, TF_LEN);
	CHECK(tf_parse(xio_buf_ptr(xio_tenant_region(sa), 0), c.res, &fl,
		       &sq) &&
	      fl == 1 && sq == 1);
	wait_stat("sa", "pkt_received", 1); /* counted since the restart */
	/* The hop through xh0: the reader came back too. */
	{
		int txh = raw_socket("xh1", 0);

		s = xio_get_sqe(xio_tenant_qp(sa, 0));
		CHECK(s);
		xio_prep_pkt_recv(s, 2, 0, BUFSZ, 6);
		CHECK_EQ(xio_submit(xio_tenant_qp(sa, 0)), 1);
		nop_roundtrip(xio_tenant_qp(sa, 0), 1002);
		tf_send(txh, MAC_A, 1, 2);
		CHECK(get_cqe(xio_tenant_qp(sa, 0), &c, 10000));
		CHECK_EQ(c.user_data, 6);
		CHECK_EQ(c.res, TF_LEN);
		CHECK(tf_parse(xio_buf_ptr(xio_tenant_region(sa), 2), c.res,
			       &fl, &sq) &&
		      fl == 1 && sq == 2);
		close(txh);
	}
	/* Port 0 is xr0 again. */
	{
		struct xio_qp *qp = xio_tenant_qp(sa, 0);
		uint8_t *b = xio_buf_ptr(xio_tenant_region(sa), 1);

		memset(b, 0, 64);
		memcpy(b, MAC_B, 6);
		memcpy(b + 6, MAC_A, 6);
		b[12] = 0x88;
		b[13] = 0xb5;
		s = xio_get_sqe(qp);
		CHECK(s);
		xio_prep_pkt_send(s, 0, 1, 0, 64, 77);
		CHECK_EQ(xio_submit(qp), 1);
		CHECK(get_cqe(qp, &c, 10000));
		CHECK_EQ(c.user_data, 77);
		CHECK_EQ(c.res, 64);
	}
	close(tx);
	/* sb does not come back: its rule goes with its log. */
	t0 = dt_now_ms();
	while (file_exists("sb.ilog")) {
		CHECK(dt_now_ms() - t0 < 10000);
		usleep(10000);
	}
	{
		/* The file no longer holds sb's rule: a second restart shows
		 * it (sa's rules, xr0 again, nothing of sb). */
		xiod_kill_unlinked();
		dt_xiod_spawn(&d, args);
		dt_reattach(sa);
		CHECK_EQ(rules_of(a_id, NULL, NULL), 2);
		CHECK_EQ(rules_of(b_id, NULL, NULL), 0);
	}
	CHECK_EQ(xio_client_detach(sa), 0);
	xio_client_close(sb);
	xiod_stop(&d);
	/* A clean stop with --state-dir hands over: the interfaces are the
	 * next xiod's to attach again (docs/daemon.md, "Clean stop"). */
	CHECK(file_exists("steering"));

	/* A damaged file: ignored, xiod serves. */
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/steering", dir);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0);
		CHECK_EQ(write(fd, "XIOSTEER garbage, not a state file", 34),
			 34);
		close(fd);
		dt_xiod_spawn(&d, args);
		t0 = dt_now_ms();
		while ((fd = dt_connect(d.sock)) < 0) {
			CHECK(dt_now_ms() - t0 < 10000);
			usleep(10000);
		}
		close(fd);
		CHECK_EQ(rules_of(a_id, ifs, &nr_ifs), 0);
		CHECK_EQ(nr_ifs, 0);
		CHECK(!has_xdp("xr0"));
		xiod_stop(&d);
		unlink(p);
	}
	CHECK_EQ(rmdir(dir), 0);
	printf("ok: xr0, xh0 (--no-xsk) and sa's rules restored after SIGKILL (frames received through AF_XDP and the hop, port 0 sends); sb's rule dropped with its log; damaged file ignored\n");
	return 0;
}
