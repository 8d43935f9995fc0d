/* SPDX-License-Identifier: MIT */
/*
 * The libvirt hook's domain XML parser (xio-libvirt-hook.c), in its own file
 * so that xioctl libvirt sync (libvirt_sync.c) and the fuzzer
 * (tests/fuzz/fuzz_hook_xml.c) run the same code.
 */
#ifndef XIO_HOOK_PARSE_H
#define XIO_HOOK_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xio/admin.h>

#define PREFIX "xio-"
#define XIO_NS "urn:xio:libvirt:1" /* <metadata><xio:xio xmlns:xio=...> */
#define MAX_SHM 16
#define MAX_TGT 64
#define MAX_PIN 64
#define MIB (1ULL << 20)

struct shm {
	char name[XIO_TENANT_NAME_MAX];
	uint64_t size;
	/* ivshmem-doorbell: xiod listens here as the ivshmem server */
	bool doorbell;
	char server[108]; /* a UNIX socket path */
};

struct dom {
	char name[256];
	char uuid[64];
	int node; /* -1: none */
	const char *node_from;
	struct {
		unsigned int vcpu;
		char cpuset[64];
	} pin[MAX_PIN];
	unsigned int nr_pin;
	struct shm shm[MAX_SHM];
	unsigned int nr_shm;
	struct {
		char shm[XIO_TENANT_NAME_MAX];
		char path[4096];
		bool ro;
	} tgt[MAX_TGT];
	unsigned int nr_tgt;
	char err[256]; /* why parse_domain() refused */
};

/*
 * Parse the domain XML in @xml (@len bytes) into @d: its name, uuid, NUMA
 * node, vCPU pins, xio shmem devices and xio:target metadata.  Returns 0, or
 * -1 with one line in d->err for bad input (nothing is left allocated).
 */
int parse_domain(const char *xml, size_t len, struct dom *d);

#endif /* XIO_HOOK_PARSE_H */
