#!/bin/bash
# SPDX-License-Identifier: MIT
#
# First command on a fresh Debian 12 machine: install what xio needs, build it
# into build/ and run the main demo.  Run it as root, or as a user with sudo.
#
#   ./setup.sh                  apt-get install + build + demo
#   XIO_SKIP_APT=1 ./setup.sh   skip the package step (dependencies are there)
#   XIO_SKIP_DEMO=1 ./setup.sh  build only
#
# Then ./test.sh runs every test.
set -euo pipefail

cd "$(dirname "$0")"

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

# Debian 12 (bookworm) packages, one per line: name and why.  All of them are
# checked to exist in bookworm; an unknown one (another release) is reported
# and skipped rather than failing the whole step.
PACKAGES=(
	build-essential    # gcc, make, libc headers
	cmake              # build system (3.25 in bookworm)
	pkg-config         # dependency lookup, xio.pc tests
	liburing-dev       # io_uring execution (libxio, xiod)
	libnuma-dev        # NUMA placement of regions
	numactl            # inspecting placement by hand
	clang              # BPF programs (-target bpf), fuzzers
	llvm               # llvm-strip/llvm-objdump for BPF objects
	lld                # clang links for fuzzers
	libclang-rt-14-dev # sanitizer and libFuzzer runtimes for clang
	libbpf-dev         # XDP steering loader
	bpftool            # BPF skeleton generation
	libxdp-dev         # XDP program attach helpers
	iproute2           # ip netns / veth for the BPF tests
	libxml2-dev        # libvirt hook: domain XML parsing
	libvirt-dev        # libvirt reconciliation
	libvirt-clients    # hook tests: virsh (test driver) writes the domain XML
	libvirt-daemon-system # hook end-to-end test: a real libvirtd + qemu driver
	prometheus         # promtool, checks the metrics exposition (on a
	                   # systemd machine this also enables a local
	                   # prometheus service: systemctl disable --now it)
	curl               # metrics endpoint test: a real HTTP client
	libdpdk-dev        # rte_ring baseline for the ring benchmark
	clang-format       # style check (tests/check_format.sh)
	groff-base         # man page lint test
	man-db             # man(1) for the installed pages
	qemu-system-x86    # VM test (tests/vm): the guest runs under QEMU
	busybox-static     # VM test: the guest's initramfs userland
	linux-image-amd64  # VM test: the guest kernel (/boot/vmlinuz-*)
	cpio               # VM test: packs the initramfs
	git
)

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "not root and no sudo: run as root, or set XIO_SKIP_APT=1 once the packages are installed"
	fi
}

install_packages() {
	local missing=() p
	# Already everything there (a re-run, or a CI machine that kept its
	# packages): no need to touch the network.
	for p in "${PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "all ${#PACKAGES[@]} packages already installed"
		return
	fi
	say "installing ${#missing[@]} packages: ${missing[*]}"
	# env: sudo does not pass the caller's environment through.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	local avail=()
	for p in "${missing[@]}"; do
		if apt-cache show "$p" >/dev/null 2>&1; then
			avail+=("$p")
		else
			printf 'setup.sh: package %s not available here, skipped\n' "$p" >&2
		fi
	done
	if [ ${#avail[@]} -gt 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends "${avail[@]}"
	fi
}

start=$(date +%s)
if [ "${XIO_SKIP_APT:-0}" = 1 ]; then
	say "XIO_SKIP_APT=1: not installing packages"
else
	command -v apt-get >/dev/null 2>&1 ||
		die "apt-get not found: this script targets Debian 12; install the packages listed in it by hand and re-run with XIO_SKIP_APT=1"
	install_packages
fi

jobs=$(nproc 2>/dev/null || echo 2)
say "configuring build/ (warnings are errors)"
cmake -S . -B build -DXIO_WERROR=ON -DXIO_SANITIZE=
say "building with -j$jobs"
cmake --build build -j"$jobs"

# The main demo (issue 4): xiod in the foreground on a temporary socket, two
# tenant processes with a file target each, a short checksummed mixed
# workload, per-tenant results and the daemon's view.  No root-only paths.
if [ "${XIO_SKIP_DEMO:-0}" != 1 ]; then
	say "demo: build/daemon/xiod --demo"
	build/daemon/xiod --demo
	say "and the rings alone: build/examples/xio-bench --quick ring"
	build/examples/xio-bench --quick ring
fi

say "setup done in $(($(date +%s) - start)) s; next: ./test.sh"
