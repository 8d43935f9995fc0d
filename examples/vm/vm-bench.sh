#!/bin/bash
# SPDX-License-Identifier: MIT
# The VM benchmark (docs/vm.md, docs/benchmarks.md): one QEMU boot of a
# Debian kernel + busybox initramfs whose guest program (xio-vm-bench)
# measures 4 KiB I/O to ONE host file through xio (ivshmem BAR, xiod polls
# the ring, io_uring O_DIRECT on the file) and through a virtio-blk disk
# QEMU backs with the same file (cache=none, aio=native: O_DIRECT too):
# round trips at depth 1 and throughput at --depth, same boot, same run.
#
#   vm-bench.sh --xiod XIOD --xioctl XIOCTL --hook XIO_LIBVIRT_HOOK
#               --bench XIO_VM_BENCH [--quick] [--workdir DIR] [--size-mb N]
#               [--sparse] [-- XIO_VM_BENCH_ARGS...]
#
# The region file is made by xiod through the libvirt hook (prepare), the
# target added with xioctl (--direct), as in production.  The guest's RESULT
# and ratio lines are printed with the accelerator: under TCG (software
# emulation, the default; XIO_VM_ACCEL=kvm where KVM works) every figure
# measures the emulator, not xio.  --quick: a smoke test (a few hundred
# requests; the figures mean nothing).  The file is filled with random data
# first, so every read reaches the host's disk; --sparse leaves it a hole
# (reads cost no device I/O: the transports alone).
# Exit 0 ok, 1 failure (the serial log is printed), 77 skip.
set -uo pipefail

xiod_bin= xioctl_bin= hook_bin= bench_bin= workdir= quick=0 size_mb=64 sparse=0
while [ $# -gt 0 ]; do
	case $1 in
	--xiod) xiod_bin=$2; shift 2 ;;
	--xioctl) xioctl_bin=$2; shift 2 ;;
	--hook) hook_bin=$2; shift 2 ;;
	--bench) bench_bin=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--size-mb) size_mb=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--sparse) sparse=1; shift ;;
	--) shift; break ;;
	*) echo "usage: $0 --xiod XIOD --xioctl XIOCTL --hook HOOK --bench XIO_VM_BENCH [--quick] [--workdir DIR] [--size-mb N] [-- ARGS]" >&2; exit 2 ;;
	esac
done
[ -n "$xiod_bin" ] && [ -n "$xioctl_bin" ] && [ -n "$hook_bin" ] && [ -n "$bench_bin" ] ||
	{ echo "usage: $0 --xiod XIOD --xioctl XIOCTL --hook HOOK --bench XIO_VM_BENCH ..." >&2; exit 2; }
guest_args=("$@")
[ "$quick" = 1 ] && guest_args=(--quick "${guest_args[@]}")

skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	[ -f "${serial:-}" ] && { echo "---- serial"; tr -d '\r' <"$serial" | grep -av '^\s*$' | tail -n 40; }
	[ -f "${hostlog:-}" ] && { echo "---- xiod"; tail -n 20 "$hostlog"; }
	exit 1
}
. "$(dirname "$0")/../../tests/vm/vmlib.sh"
vm_prereqs "$bench_bin"

accel=${XIO_VM_ACCEL:-tcg}
vm_timeout=${XIO_VM_TIMEOUT:-$([ "$quick" = 1 ] && echo 120 || echo 600)}
vm_workdir xio-vmbench
tname=xio-vmbench-$$
region=/dev/shm/$tname
disk=$workdir/disk.img
serial=$workdir/serial.log
hostlog=$workdir/xiod.log
initrd=$workdir/initramfs.cpio.gz
sock=$workdir/xiod.sock
xpid=
cleanup() {
	[ -n "$xpid" ] && kill -TERM "$xpid" 2>/dev/null && wait "$xpid" 2>/dev/null
	rm -f "$region"
	[ "${XIO_VM_KEEP:-0}" = 1 ] || rm -rf "$workdir"
}
trap cleanup EXIT

# virtio-blk is a module in Debian's kernel: the initramfs carries it and
# what it needs, loaded in dependency order.
kver=${kernel##*/vmlinuz-}
mods=()
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev \
	virtio/virtio_pci_modern_dev virtio/virtio_pci block/virtio_blk; do
	f=/lib/modules/$kver/kernel/drivers/$m.ko
	[ -r "$f" ] || skip "$f not found (the virtio-blk baseline needs the guest kernel's modules)"
	mods+=("$f")
done
insmods=$(printf 'insmod /%s; ' "${mods[@]##*/}")
vm_initramfs "$workdir/initramfs" "$initrd" "$bench_bin" "${mods[@]}" <<EOF ||
$insmods
for i in \$(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
echo "XIO-VM-BENCH booted uptime=\$(cut -d' ' -f1 /proc/uptime)"
/${bench_bin##*/} ${guest_args[*]}
echo "XIO-VM-BENCH-EXIT rc=\$?"
EOF
	fail "building the initramfs"

# The host file both paths use; xiod with the region made by the hook.
if [ "$sparse" = 1 ] || [ "$quick" = 1 ]; then
	truncate -s "${size_mb}M" "$disk"
else
	# Written back and allocated before either path touches it (an
	# O_DIRECT access to dirty pages would first flush them).
	head -c "${size_mb}M" /dev/urandom >"$disk" && sync "$disk"
fi || fail "creating $disk"
"$xiod_bin" --foreground --socket "$sock" --pollers 1 --idle-us 60000000 \
	>"$hostlog" 2>&1 &
xpid=$!
for _ in $(seq 100); do
	"$xioctl_bin" --socket "$sock" tenants >/dev/null 2>&1 && break
	sleep 0.1
done
printf "<domain><name>xio-vmbench</name><devices><shmem name='%s'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem></devices></domain>" \
	"$tname" | XIO_SOCKET=$sock XIO_HOOK_QEMU_USER=root "$hook_bin" xio-vmbench prepare begin - \
	>>"$hostlog" 2>&1 || fail "the hook's prepare"
"$xioctl_bin" --socket "$sock" target add "$tname" "$disk" --direct >>"$hostlog" 2>&1 ||
	fail "xioctl target add --direct"

t0=$(date +%s)
vm_qemu "$accel" "$vm_timeout" "" \
	-object "memory-backend-file,id=xioshm,mem-path=$region,size=$(stat -c %s "$region"),share=on" \
	-device ivshmem-plain,memdev=xioshm \
	-drive "file=$disk,format=raw,if=virtio,cache=none,aio=native" -cpu max \
	>"$workdir/qemu.out" 2>&1
qrc=$?
wall=$(($(date +%s) - t0))
[ "$qrc" -eq 0 ] || { cat "$workdir/qemu.out"; fail "qemu exited with $qrc after ${wall}s (124: timeout)"; }
out=$(tr -d '\r' <"$serial")
done_line=$(grep -ao 'XIO-VM-BENCH done .*' <<<"$out")
[ -n "$done_line" ] || fail "no result from the guest"
grep -aq 'XIO-VM-BENCH-EXIT rc=0' <<<"$out" || fail "guest: $done_line"
ops=$("$xioctl_bin" --socket "$sock" tenants | awk -v n="$tname" '$2 == n { print $8 }')

echo "xio-vm-bench: accel $accel$([ "$accel" = tcg ] && echo " (TCG: software emulation, the figures measure the emulator)"), qemu $("$qemu" --version | head -n1 | awk '{ print $4 }'), kernel ${kernel##*/}, $(nproc) host CPUs"
echo "xio: ivshmem-plain, xiod --pollers 1 --idle-us 60000000, target O_DIRECT;" \
	"virtio-blk: cache=none aio=native; the same ${size_mb} MiB file ($([ "$sparse" = 1 ] && echo "sparse: no device reads" || echo "filled: reads reach the host disk")," \
	"$(df -T "$workdir" | awk 'NR == 2 { print $2 }')); qemu wall ${wall}s; xiod took $ops SQEs"
grep -ao 'XIO-VM-BENCH start .*' <<<"$out"
grep -aoE 'RESULT\|[^ ]*' <<<"$out"
grep -ao 'XIO-VM-BENCH ratio .*' <<<"$out"
echo "$done_line"
exit 0
