/* SPDX-License-Identifier: MIT */
/*
 * The VM path without a VM (docs/vm.md):
 *  - xio_region_create_file(): a named region file of a power-of-two size
 *    >= 1 MiB with the exact mode, attachable from another fd and sharing the
 *    rings; EEXIST leaves the existing file alone; bad paths, flags and
 *    geometry fail and leave no file; xio_region_file_check() sees a
 *    truncation;
 *  - xio_ivshmem_attach() against a fake sysfs tree ($XIO_SYSFS_ROOT): the
 *    scan skips other devices and ivshmem devices without a region, picks
 *    resource2, or resource2_wc with XIO_IVSHMEM_WC when present, and explicit
 *    addresses give the documented errors.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xio/ivshmem.h>
#include <xio/xio.h>

#include "xtest.h"
#include "xtest_print.h"

static char dir[PATH_MAX];

static struct xio_region_opts opts_for(uint32_t nr_bufs)
{
	struct xio_region_opts o = {.sz = sizeof(o)};

	o.params.sq_entries = 16;
	o.params.nr_bufs = nr_bufs;
	o.name = "vmtest";
	return o;
}

static off_t file_size(const char *path)
{
	struct stat st;

	CHECK(stat(path, &st) == 0);
	return st.st_size;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* One NOP through the guest view of @g, taken through the host view of @h. */
static void check_shared(struct xio_region *g, struct xio_region *h,
			 uint64_t ud)
{
	struct xio_qp *qp = xio_region_qp(g, 0);
	struct xio_host_qp *hq = xio_region_host_qp(h, 0);
	struct xio_sqe in;
	struct xio_cqe *cqe;
	struct xio_sqe *sqe;

	CHECK(qp && hq);
	sqe = xio_get_sqe(qp);
	CHECK(sqe);
	xio_prep_nop(sqe, ud);
	CHECK_EQ(xio_submit(qp), 1);
	CHECK_EQ(xio_host_sq_take(hq, &in, 1), 1);
	CHECK_EQ(in.user_data, ud);
	CHECK_EQ(xio_host_cq_post(hq, ud, 7, 0), 0);
	xio_host_cq_publish(hq);
	CHECK_EQ(xio_peek_cqe(qp, &cqe), 0);
	CHECK_EQ(cqe->user_data, ud);
	CHECK_EQ(cqe->res, 7);
	xio_cqe_seen(qp, cqe);
}

static void test_create_file(void)
{
	struct xio_region_opts o = opts_for(16);
	struct xio_region *r, *a, *x = NULL;
	char path[PATH_MAX + 32], path2[PATH_MAX + 32];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/small", dir);
	CHECK_EQ(xio_region_create_file(path, 0, &o, &r), 0);
	/* Small geometry: rounded up to ivshmem's 1 MiB minimum. */
	CHECK_EQ(file_size(path), 1 << 20);
	CHECK_EQ(xio_region_size(r), 1 << 20);
	CHECK(stat(path, &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK(xio_region_fd(r) >= 0);
	CHECK_EQ(xio_region_file_check(r), 0);
	CHECK_EQ(((struct xio_region_hdr *)xio_region_base(r))->region_size,
		 1 << 20);

	/* Another process's view: attach through a fresh fd. */
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(xio_region_attach_fd(fd, 0, &a), 0);
	close(fd);
	CHECK_EQ(xio_region_size(a), 1 << 20);
	CHECK(strcmp(xio_region_name(a), "vmtest") == 0);
	CHECK_EQ(xio_region_layout(a)->sq_entries, 16);
	CHECK_EQ(xio_region_layout(a)->pool_off,
		 xio_region_layout(r)->pool_off);
	check_shared(a, r, 0x1234);
	/* Sealing is impossible on a named file: the attach says so. */
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	xt_capture_start();
	CHECK_EQ(xio_region_attach_fd(fd, XIO_ATTACH_REQUIRE_SEALS, &x),
		 -EPERM);
	xio_set_print(NULL);
	close(fd);
	CHECK(x == NULL);

	/* EEXIST: the existing file is neither truncated nor removed. */
	CHECK_EQ(xio_region_create_file(path, 0, &o, &x), -EEXIST);
	CHECK(x == NULL);
	CHECK_EQ(file_size(path), 1 << 20);
	check_shared(a, r, 0x9abc);
	xio_region_destroy(a);

	/* A truncation is seen (the mapping is not touched afterwards). */
	CHECK(truncate(path, 4096) == 0);
	CHECK_EQ(xio_region_file_check(r), -ESTALE);
	xio_region_destroy(r);
	CHECK(exists(path)); /* destroy never unlinks */
	CHECK(unlink(path) == 0);

	/* Rounding: 300 slots of 4 KiB need more than 1 MiB -> 2 MiB. */
	o = opts_for(300);
	snprintf(path2, sizeof(path2), "%s/big", dir);
	CHECK_EQ(xio_region_create_file(path2, 0640, &o, &r), 0);
	CHECK_EQ(file_size(path2), 2 << 20);
	CHECK(stat(path2, &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK(xio_region_layout(r)->min_region_size > (1 << 20));
	xio_region_destroy(r);
	CHECK(unlink(path2) == 0);

	/* Bad arguments: an error, no file left behind. */
	xt_capture_start();
	o = opts_for(16);
	CHECK_EQ(xio_region_create_file(NULL, 0, &o, &r), -EINVAL);
	CHECK_EQ(xio_region_create_file("", 0, &o, &r), -EINVAL);
	CHECK_EQ(xio_region_create_file(path, 0, &o, NULL), -EINVAL);
	CHECK_EQ(xio_region_create_file(path, 010000, &o, &r), -EINVAL);
	CHECK_EQ(xio_region_create_file(path, 0, NULL, &r), -EINVAL);
	CHECK_EQ(xio_region_create_file("/nonexistent-xio-dir/r", 0, &o, &r),
		 -ENOENT);
	CHECK(strstr(xt_log, "/nonexistent-xio-dir/r"));
	o.flags = XIO_REGION_HUGETLB;
	CHECK_EQ(xio_region_create_file(path, 0, &o, &r), -EINVAL);
	o = opts_for(16);
	o.params.sq_entries = 3; /* not a power of two */
	CHECK_EQ(xio_region_create_file(path, 0, &o, &r), -EINVAL);
	CHECK(!exists(path));
	/* A symlink at the path is refused, not followed. */
	CHECK(symlink(path2, path) == 0);
	o = opts_for(16);
	CHECK_EQ(xio_region_create_file(path, 0, &o, &r), -EEXIST);
	CHECK(!exists(path2));
	CHECK(unlink(path) == 0);
	xio_set_print(NULL);
	CHECK_EQ(xio_region_file_check(NULL), -EINVAL);
}

/* ---- fake sysfs ---------------------------------------------------------- */

static char sysroot[PATH_MAX + 32];

static void mkdir_p(const char *path)
{
	char tmp[PATH_MAX + 256], *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	CHECK(mkdir(tmp, 0755) == 0 || errno == EEXIST);
}

static void write_file(const char *dev, const char *attr, const char *text)
{
	char path[PATH_MAX + 128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s", sysroot, dev,
		 attr);
	f = fopen(path, "w");
	CHECK(f);
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

static void fake_dev(const char *dev, const char *vendor, const char *device)
{
	char path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysroot, dev);
	mkdir_p(path);
	write_file(dev, "vendor", vendor);
	write_file(dev, "device", device);
}

static void bar_path(char *buf, size_t len, const char *dev, const char *res)
{
	snprintf(buf, len, "%s/bus/pci/devices/%s/%s", sysroot, dev, res);
}

static void check_info(struct xio_region *g, const char *dev, const char *res)
{
	struct xio_ivshmem_info info;

	CHECK_EQ(xio_ivshmem_info(g, &info), 0);
	CHECK(strcmp(info.pci_addr, dev) == 0);
	CHECK(strcmp(info.resource, res) == 0);
	CHECK_EQ(info.bar_size, 1 << 20);
}

static void test_sysfs(void)
{
	struct xio_region_opts o = opts_for(16);
	struct xio_ivshmem_info info;
	struct xio_region *h, *g = NULL;
	char bar[PATH_MAX + 128], wc[PATH_MAX + 128];
	int fd;

	snprintf(sysroot, sizeof(sysroot), "%s/sys", dir);
	CHECK(setenv("XIO_SYSFS_ROOT", sysroot, 1) == 0);
	xt_capture_start();

	/* No bus/pci/devices at all. */
	CHECK_EQ(xio_ivshmem_attach(NULL, 0, &g), -ENOENT);
	CHECK(strstr(xt_log, "sysfs mounted"));

	/* A host bridge, an ivshmem with a zeroed BAR, one with no BAR2. */
	fake_dev("0000:00:00.0", "0x8086\n", "0x1237\n");
	fake_dev("0000:00:03.0", "0x1af4\n", "0x1110\n");
	bar_path(bar, sizeof(bar), "0000:00:03.0", "resource2");
	fd = open(bar, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 1 << 20) == 0);
	close(fd);
	fake_dev("0000:00:05.0", "0x1af4\n", "0x1110\n");
	xt_log_clear();
	CHECK_EQ(xio_ivshmem_attach(NULL, 0, &g), -ENOENT);
	CHECK(strstr(xt_log, "none of"));

	/* The host creates the region as the BAR file of 00:04.0. */
	fake_dev("0000:00:04.0", "0x1af4\n", "0x1110\n");
	bar_path(bar, sizeof(bar), "0000:00:04.0", "resource2");
	CHECK_EQ(xio_region_create_file(bar, 0, &o, &h), 0);

	/* Scan: skips 00:00.0 (not ivshmem), 00:03.0 (no region). */
	CHECK_EQ(xio_ivshmem_attach(NULL, 0, &g), 0);
	check_info(g, "0000:00:04.0", "resource2");
	CHECK_EQ(xio_region_layout(g)->sq_entries, 16);
	CHECK(strcmp(xio_region_name(g), "vmtest") == 0);
	check_shared(g, h, 1);
	check_shared(g, h, 2);
	xio_region_destroy(g);

	/* XIO_IVSHMEM_WC without resource2_wc: falls back to resource2. */
	CHECK_EQ(xio_ivshmem_attach("0000:00:04.0", XIO_IVSHMEM_WC, &g), 0);
	check_info(g, "0000:00:04.0", "resource2");
	xio_region_destroy(g);
	/* With it: resource2_wc only when asked for. */
	bar_path(wc, sizeof(wc), "0000:00:04.0", "resource2_wc");
	CHECK(link(bar, wc) == 0);
	CHECK_EQ(xio_ivshmem_attach("0000:00:04.0", XIO_IVSHMEM_WC, &g), 0);
	check_info(g, "0000:00:04.0", "resource2_wc");
	check_shared(g, h, 3);
	xio_region_destroy(g);
	CHECK_EQ(xio_ivshmem_attach(NULL, 0, &g), 0);
	check_info(g, "0000:00:04.0", "resource2");
	check_shared(g, h, 4);
	xio_region_destroy(g);

	/* Explicit addresses. */
	g = NULL;
	xt_log_clear();
	CHECK_EQ(xio_ivshmem_attach("0000:00:00.0", 0, &g), -ENODEV);
	CHECK(strstr(xt_log, "not ivshmem"));
	CHECK_EQ(xio_ivshmem_attach("0000:00:05.0", 0, &g), -ENODEV);
	CHECK_EQ(xio_ivshmem_attach("0000:00:09.0", 0, &g), -ENOENT);
	CHECK_EQ(xio_ivshmem_attach("0000:00:03.0", 0, &g), -EPROTO);
	CHECK(strstr(xt_log, "bad magic"));
	CHECK_EQ(xio_ivshmem_attach("../../etc", 0, &g), -EINVAL);
	CHECK_EQ(xio_ivshmem_attach("", 0, &g), -EINVAL);
	CHECK_EQ(xio_ivshmem_attach(NULL, 1U << 7, &g), -EINVAL);
	CHECK_EQ(xio_ivshmem_attach(NULL, 0, NULL), -EINVAL);
	CHECK(g == NULL);
	/* A region not from ivshmem has no info. */
	CHECK_EQ(xio_ivshmem_info(h, &info), -EINVAL);
	CHECK_EQ(xio_ivshmem_info(NULL, &info), -EINVAL);
	xio_set_print(NULL);

	xio_region_destroy(h);
	CHECK(unsetenv("XIO_SYSFS_ROOT") == 0);
}

static int rm_tree(const char *path)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

int main(void)
{
	const char *base = exists("/dev/shm") ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/xio-test-ivshmem-XXXXXX", base);
	CHECK(mkdtemp(dir));
	test_create_file();
	test_sysfs();
	CHECK_EQ(rm_tree(dir), 0);
	printf("test_ivshmem_file: OK\n");
	return 0;
}
