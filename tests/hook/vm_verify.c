// SPDX-License-Identifier: MIT
/*
 * vm_verify FILE BLOCKS BS: check the self-checking blocks the VM guest
 * (examples/vm/xio-guest-demo) wrote to a target file through xiod.
 * Prints "XIO-HOST-VERIFY blocks=N mismatches=N seed=0x..." (the format
 * run-vm-test.sh reads); exit 0 when every block verifies.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../examples/vm/blockfmt.h"

int main(int argc, char **argv)
{
	uint64_t blocks, bad, seed = 0;
	uint32_t bs;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: vm_verify FILE BLOCKS BS\n");
		return 2;
	}
	blocks = strtoull(argv[2], NULL, 0);
	bs = (uint32_t)strtoul(argv[3], NULL, 0);
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || bs < sizeof(struct blk_hdr)) {
		perror("vm_verify");
		return 1;
	}
	bad = blk_verify_file(fd, blocks, bs, &seed, "vm_verify");
	printf("XIO-HOST-VERIFY blocks=%" PRIu64 " mismatches=%" PRIu64
	       " seed=0x%" PRIx64 "\n",
	       blocks, bad, seed);
	return bad ? 1 : 0;
}
