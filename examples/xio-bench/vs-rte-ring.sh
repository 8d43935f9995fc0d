#!/bin/sh
# SPDX-License-Identifier: MIT
# Interleaved comparison of the xio SQ with DPDK's rte_ring (64-byte entries,
# bursts 1, 8, 32) on a machine shared with other work: ROUNDS short rounds,
# each running `xio-bench ring` and the peers' dpdk_ring back to back on the
# same two CPUs, so both see the same neighbours; prints the per-round
# figures, then per burst the median of the per-round ratios xio / rte_ring
# and the median and best of each.
#
# usage: vs-rte-ring.sh XIO_BENCH DPDK_RING [ROUNDS=10] [ITEMS=2000000]
#   XIO_BENCH  build/examples/xio-bench
#   DPDK_RING  the dpdk_ring binary built by ../shared/peers/run.sh OUTDIR
# env: CPU_A, CPU_B (default 0, 1), as for the peers.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 XIO_BENCH DPDK_RING [ROUNDS] [ITEMS]" >&2; exit 2; }
xb=$1 dr=$2 rounds=${3:-10} items=${4:-2000000}
a=${CPU_A:-0} b=${CPU_B:-1}
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	"$xb" --cpus "$a,$b" --runs 1 ring --items "$items" --iters 2000 2>/dev/null |
		awk -F'|' -v r="$i" '/^RESULT\|xio-bench\|ring\.sq_64B_burst/ {
			split($3, m, "burst"); split(m[2], n, ".");
			printf "round %s xio burst %s %s\n", r, n[1], $6 }'
	for burst in 1 8 32; do
		RING_ITEMS=$items "$dr" --no-huge --no-pci --no-telemetry -l "$a,$b" \
			-m 256 --log-level=0 -- 64 "$burst" 1 2>/dev/null |
			awk -F'|' -v r="$i" -v bu="$burst" '/^RESULT/ {
				printf "round %s rte_ring burst %s %s\n", r, bu, $6 }'
	done
done | awk '
	{ print; v[$3, $5, $2] = $6; rounds[$2] = 1 }
	function median(a, n,    i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		split("1 8 32", bursts, " ")
		printf "\n%-6s %10s %10s %10s %10s %14s\n", "burst", "xio med", "xio best",
		       "rte med", "rte best", "xio/rte med"
		for (k = 1; k <= 3; k++) {
			bu = bursts[k]; n = 0; bx = 0; br = 0
			for (r in rounds) {
				if (!((("xio", bu, r) in v) && (("rte_ring", bu, r) in v)))
					continue
				n++
				x[n] = v["xio", bu, r]; y[n] = v["rte_ring", bu, r]
				q[n] = y[n] > 0 ? x[n] / y[n] : 0
				if (x[n] > bx) bx = x[n]
				if (y[n] > br) br = y[n]
			}
			if (!n)
				continue
			printf "%-6s %10.1f %10.1f %10.1f %10.1f %14.2f   (%d rounds, Mops/s)\n",
			       bu, median(x, n), bx, median(y, n), br, median(q, n), n
		}
	}'
