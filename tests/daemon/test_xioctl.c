/* SPDX-License-Identifier: MIT */
/* xioctl against a private xiod: tenants, target add/list, errors, usage. */
#include "dtest.h"

/* Run xioctl with @args; its stdout into @out; returns the exit status. */
static int xioctl(const struct xiod *d, char *out, size_t n, const char *args)
{
	char cmd[512];
	size_t got;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s 2>/dev/null", XIOCTL_PATH,
		 d->sock, args);
	f = popen(cmd, "r");
	CHECK(f);
	got = fread(out, 1, n - 1, f);
	out[got] = '\0';
	st = pclose(f);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

int main(void)
{
	struct xio_target_info ti[2];
	struct xio_admin *a;
	struct xio_tenant *t;
	char out[4096], args[256], path[64];
	struct xiod d;
	int fd;

	xiod_start(&d, NULL);
	t = attach(d.sock, "vm-one", 8, 4);
	snprintf(path, sizeof(path), "%s/disk", d.dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 8192), 0);
	close(fd);

	CHECK_EQ(xioctl(&d, out, sizeof(out), "tenants"), 0);
	CHECK(strstr(out, "vm-one"));
	CHECK(strstr(out, "running"));

	snprintf(args, sizeof(args), "target add vm-one %s --ro", path);
	CHECK_EQ(xioctl(&d, out, sizeof(out), args), 0);
	CHECK(!strcmp(out, "0\n"));
	snprintf(args, sizeof(args), "target add %u %s", xio_tenant_id(t),
		 path);
	CHECK_EQ(xioctl(&d, out, sizeof(out), args), 0);
	CHECK(!strcmp(out, "1\n"));
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target list vm-one"), 0);
	CHECK(strstr(out, path));
	CHECK(strstr(out, " ro "));
	CHECK(strstr(out, " rw "));
	CHECK_EQ(xio_admin_open(d.sock, &a), 0);
	CHECK_EQ(xio_admin_target_list(a, "vm-one", ti, 2, NULL), 2);
	CHECK_EQ(ti[0].flags, XIO_TARGET_RDONLY);
	xio_admin_close(a);

	/* Refusals: exit 1.  Usage errors: exit 2. */
	snprintf(args, sizeof(args), "target add nobody %s", path);
	CHECK_EQ(xioctl(&d, out, sizeof(out), args), 1);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target add vm-one /no/such"), 1);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target list nobody"), 1);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target add vm-one"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "target add a b c"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "frobnicate"), 2);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "tenants extra"), 2);

	CHECK_EQ(xio_client_detach(t), 0);
	CHECK_EQ(xioctl(&d, out, sizeof(out), "tenants"), 0);
	CHECK(!strstr(out, "vm-one"));
	unlink(path);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
