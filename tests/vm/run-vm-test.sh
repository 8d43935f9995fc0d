#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The VM test (docs/vm.md): a real Linux guest drives an xio ring through an
# ivshmem PCI device.
#
#  1. builds an initramfs: Debian's busybox-static + the static guest program
#     (examples/vm/xio-guest-demo) + an /init that mounts sysfs, runs the
#     program and powers off;
#  2. starts the host side (vm_host; xiod later): it creates the region file
#     /dev/shm/xio-vmtest-PID before QEMU starts and serves the rings;
#  3. boots Debian's kernel under qemu-system-x86_64 with that file as the
#     memory of an ivshmem-plain device, serial console to a log, bounded by
#     timeout;
#  4. checks: the guest's summary line (0 mismatches, 0 errors, every
#     request completed, no doorbell kick), the host's counters (every SQE
#     taken, 0 invalid, not quarantined) and the host's own verification of
#     the blocks in the target file (same seed as the guest's).
#
# On any failure the serial log and the host's output are printed.
#
#   run-vm-test.sh --host PATH/vm_host --guest PATH/xio-guest-demo [--workdir DIR]
#                  [--expect-mismatch]
#   run-vm-test.sh --xiod PATH/xiod --xioctl PATH/xioctl --hook PATH/xio-libvirt-hook
#                  --verify PATH/vm_verify --guest PATH/xio-guest-demo [--workdir DIR]
#
# The second form serves the guest with the real xiod instead of vm_host:
# the libvirt hook (fed a domain XML with an xio <shmem>) has xiod create the
# region file, xioctl adds the target; afterwards the tenant's counters come
# from xioctl, the hook's release removes the tenant (and the file), and
# vm_verify checks the target file.
#
# --doorbell (second form only): the shmem is an ivshmem-doorbell device
# whose server is xiod itself (docs/vm.md): the hook has xiod listen on a
# socket instead of creating a file, QEMU gets the region (a memfd) and the
# eventfds from it, and xiod runs with its default idle/park times, so it
# sleeps and the guest (--doorbell --kicklat) must kick it through the
# Doorbell register.  Checked: xiod's kick count equals the guest's
# doorbell writes and the 20 timed NOPs after 20 ms idle each all kicked,
# the poller slept and never fell back to 1 ms timed sleeps.
#
# --expect-mismatch: vm_host corrupts the data of one READ on its way back:
# passes only if the guest reports exactly that one mismatch while the file
# still verifies on the host (the test proves it can fail).
#
# Environment: XIO_VM_ACCEL=tcg (default) | kvm | auto (probe KVM with a
# short boot first; nested KVM hangs on the development host),
# XIO_VM_TIMEOUT (seconds for the guest run, default 200), XIO_VM_KICKLAT
# (--doorbell: NOPs timed against a sleeping xiod, default 20), XIO_VM_KERNEL,
# XIO_VM_QEMU, XIO_VM_BUSYBOX, XIO_VM_NOPS, XIO_VM_BLOCKS, XIO_VM_KEEP=1
# (keep the work directory), XIO_VM_GUEST_ARGS (more xio-guest-demo options,
# e.g. --wc).
# Exit 0 pass, 1 fail, 77 skip (not root, or QEMU / kernel / busybox /
# cpio missing: the reason is printed).
set -uo pipefail

host_bin= guest_bin= workdir=
xiod_bin= xioctl_bin= hook_bin= verify_bin=
expect_mm=0 host_extra=() doorbell=0
while [ $# -gt 0 ]; do
	case $1 in
	--host) host_bin=$2; shift 2 ;;
	--guest) guest_bin=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--xiod) xiod_bin=$2; shift 2 ;;
	--xioctl) xioctl_bin=$2; shift 2 ;;
	--hook) hook_bin=$2; shift 2 ;;
	--verify) verify_bin=$2; shift 2 ;;
	--expect-mismatch) expect_mm=1; host_extra=(--corrupt-read 7); shift ;;
	--doorbell) doorbell=1; shift ;;
	*) echo "usage: $0 --host VM_HOST --guest XIO_GUEST_DEMO [--workdir DIR]" >&2; exit 2 ;;
	esac
done
if [ -n "$xiod_bin" ]; then
	[ -n "$xioctl_bin" ] && [ -n "$hook_bin" ] && [ -n "$verify_bin" ] &&
		[ "$expect_mm" = 0 ] ||
		{ echo "usage: $0 --xiod XIOD --xioctl XIOCTL --hook HOOK --verify VM_VERIFY --guest DEMO" >&2; exit 2; }
	host_bin=$xiod_bin
fi
[ "$doorbell" = 0 ] || [ -n "$xiod_bin" ] || { echo "usage: --doorbell needs the --xiod form" >&2; exit 2; }
[ -n "$host_bin" ] && [ -n "$guest_bin" ] || { echo "usage: $0 --host VM_HOST --guest XIO_GUEST_DEMO [--workdir DIR]" >&2; exit 2; }

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ "$(type -t show_logs)" = function ] && show_logs; exit 1; }
. "$(dirname "$0")/vmlib.sh"

# ---- prerequisites ---------------------------------------------------------
vm_prereqs "$guest_bin"
[ -x "$host_bin" ] || { echo "FAIL: $host_bin not built"; exit 1; }

nops=${XIO_VM_NOPS:-2000}
blocks=${XIO_VM_BLOCKS:-512}
bs=4096
vm_timeout=${XIO_VM_TIMEOUT:-200}
accel=${XIO_VM_ACCEL:-tcg}
guest_args=${XIO_VM_GUEST_ARGS:-}
kicklat=${XIO_VM_KICKLAT:-20}
[ "$doorbell" = 0 ] || guest_args="--doorbell --kicklat $kicklat $guest_args"

vm_workdir xio-vmtest
region=/dev/shm/xio-vmtest-$$
target=$workdir/target.img
serial=$workdir/serial.log
hostlog=$workdir/host.log
host_pid=

cleanup() {
	if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
		kill -TERM "$host_pid" 2>/dev/null
		wait "$host_pid" 2>/dev/null
	fi
	rm -f "$region" "$workdir/ivshmem.sock"
	[ "${XIO_VM_KEEP:-0}" = 1 ] || rm -rf "$workdir/initramfs" "$target"
}
trap cleanup EXIT

show_logs() {
	echo "---- serial console ($serial) ----"
	# Without the terminal resets SeaBIOS and the kernel send.
	[ -f "$serial" ] && tr -d '\r' <"$serial" |
		sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g'
	echo
	echo "---- host ($hostlog) ----"
	[ -f "$hostlog" ] && cat "$hostlog"
	echo "----"
}

# ---- initramfs (vmlib.sh) --------------------------------------------------
initrd=$workdir/initramfs.cpio.gz
vm_initramfs "$workdir/initramfs" "$initrd" "$guest_bin" <<EOF ||
if grep -q xio.probe /proc/cmdline; then
	echo XIO-GUEST-PROBE-OK
else
	echo "XIO-GUEST-BOOTED uptime=\$(cut -d' ' -f1 /proc/uptime)"
	/${guest_bin##*/} --nops $nops --blocks $blocks --bs $bs --strict-order --maptest $guest_args
	echo "XIO-GUEST-EXIT rc=\$? uptime=\$(cut -d' ' -f1 /proc/uptime)"
fi
EOF
	fail "building the initramfs"
qemu_run() { vm_qemu "$@"; } # accel, timeout, extra append, extra args...

if [ "$accel" = auto ]; then
	accel=tcg
	if [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
		qemu_run kvm 20 xio.probe >/dev/null 2>&1 &&
		grep -q XIO-GUEST-PROBE-OK "$serial"; then
		accel=kvm
	fi
	echo "vm_ivshmem: accel auto -> $accel"
fi

# ---- host side, then the guest ----------------------------------------------
rm -f "$region" "$workdir/ready"
if [ -n "$xiod_bin" ]; then
	# xiod, with the region made through the libvirt hook.
	sock=$workdir/xiod.sock
	tname=${region#/dev/shm/}
	# Appending: the hook and this script write to the same log.
	: >"$hostlog"
	# Awake for good (no doorbell to wake it), or free to sleep.
	idle=(--idle-us 60000000)
	[ "$doorbell" = 0 ] || idle=()
	"$xiod_bin" --foreground --socket "$sock" --pollers 1 "${idle[@]}" \
		>>"$hostlog" 2>&1 &
	host_pid=$!
	for _ in $(seq 100); do
		"$xioctl_bin" --socket "$sock" tenants >/dev/null 2>&1 && break
		sleep 0.1
	done
	server=
	[ "$doorbell" = 0 ] || server=$workdir/ivshmem.sock
	vm_hook_tenant xio-vmtest "$tname" $server
	touch "$workdir/ready"
else
"$host_bin" --region "$region" --target "$target" --ready "$workdir/ready" \
	--verify-blocks "$blocks" --bs "$bs" --max-seconds $((vm_timeout + 30)) \
	"${host_extra[@]}" \
	>"$hostlog" 2>&1 &
host_pid=$!
fi
for _ in $(seq 100); do
	[ -e "$workdir/ready" ] && break
	kill -0 "$host_pid" 2>/dev/null || break
	sleep 0.1
done
[ -e "$workdir/ready" ] || fail "vm_host did not create the region"
if [ "$doorbell" = 1 ]; then
	# xiod is the ivshmem server: QEMU gets memory and eventfds from it.
	[ -S "$workdir/ivshmem.sock" ] || fail "xiod does not listen on $workdir/ivshmem.sock"
	dev=(-chardev "socket,path=$workdir/ivshmem.sock,id=xioc"
		-device ivshmem-doorbell,chardev=xioc,vectors=1)
else
	size=$(stat -c %s "$region") || fail "no region file $region"
	dev=(-object "memory-backend-file,id=xioshm,mem-path=$region,size=$size,share=on"
		-device ivshmem-plain,memdev=xioshm)
fi

t0=$(date +%s.%N)
qemu_run "$accel" "$vm_timeout" "" "${dev[@]}" >"$workdir/qemu.out" 2>&1
qrc=$?
t1=$(date +%s.%N)
if [ -n "$xiod_bin" ]; then
	# The tenant's accounting, then the hook's release, then the file.
	tl=$("$xioctl_bin" --socket "$sock" tenants | awk -v n="$tname" '$2 == n')
	echo "xioctl tenants: $tl" >>"$hostlog"
	if [ "$doorbell" = 1 ]; then
		pstats=$("$xioctl_bin" --socket "$sock" stats --json)
		echo "xioctl stats: $pstats" >>"$hostlog"
	fi
	hook release end || fail "the hook's release failed"
	[ ! -e "$region" ] || fail "release left $region"
	[ ! -e "$workdir/ivshmem.sock" ] || fail "release left the ivshmem socket"
	"$xioctl_bin" --socket "$sock" tenants | awk 'NR > 1' | grep -q . &&
		fail "release left a tenant"
	set -- $tl
	hres="XIO-HOST-RESULT taken=${8:-} invalid=${9:-} broken=$(case "${13:-}" in *quarantined*) echo 1 ;; *) echo 0 ;; esac) io_errors=0 nops=$nops writes=$blocks reads=$blocks kicks=${11:-}"
	echo "$hres" >>"$hostlog"
	if [ "$doorbell" = 0 ]; then
		[ "${11:-}" = 0 ] || fail "xiod counted ${11:-?} kicks"
	else
		case "${13:-}" in *no-doorbell*) fail "the doorbell tenant is marked no-doorbell: ${13:-}" ;; esac
		jnum() { printf '%s' "$pstats" | grep -o "\"$1\":[0-9]*" | head -n1 | sed 's/.*://'; }
		[ "$(jnum sleeps)" -gt 0 ] 2>/dev/null || fail "the poller never slept: $pstats"
		[ "$(jnum timed_sleeps)" = 0 ] || fail "the poller fell back to $(jnum timed_sleeps) timed (1 ms) sleeps"
	fi
	"$verify_bin" "$target" "$blocks" "$bs" >>"$hostlog" 2>&1
fi
kill -TERM "$host_pid" 2>/dev/null
wait "$host_pid"
hrc=$?
host_pid=
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

[ "$qrc" -eq 0 ] || { cat "$workdir/qemu.out"; fail "qemu exited with $qrc after ${wall}s (124: timeout ${vm_timeout}s)"; }

# ---- checks ------------------------------------------------------------------
res=$(tr -d '\r' <"$serial" | grep -o 'XIO-GUEST-RESULT .*' | tail -n1)
[ -n "$res" ] || fail "no XIO-GUEST-RESULT line on the serial console"
field() { # line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
gkicks=0
[ "$doorbell" = 0 ] || gkicks=$(field "$res" kicks)
for kv in mismatches=$expect_mm errors=0 order_errors=0 kicks=$gkicks nops=$nops writes=$blocks reads=$blocks; do
	k=${kv%%=*}
	[ "$(field "$res" "$k")" = "${kv#*=}" ] || fail "guest: $k is $(field "$res" "$k"), expected ${kv#*=}"
done
hres=$(grep '^XIO-HOST-RESULT' "$hostlog" | tail -n1)
hver=$(grep '^XIO-HOST-VERIFY' "$hostlog" | tail -n1)
[ -n "$hres" ] && [ -n "$hver" ] || fail "vm_host printed no result (exit $hrc)"
# The latency NOPs (--kicklat, also through XIO_VM_GUEST_ARGS) count too.
kl=$(tr -d '\r' <"$serial" | grep -o 'XIO-GUEST-KICKLAT .*' | tail -n1)
kln=0
[ -z "$kl" ] || kln=$(field "$kl" n)
ntaken=$((nops + 2 * blocks + kln))
if [ "$doorbell" = 1 ]; then
	# Every doorbell write the guest made is one kick xiod counted, and
	# the NOPs after 20 ms of idleness each found xiod asleep.
	[ -n "$kl" ] || fail "no XIO-GUEST-KICKLAT line on the serial console"
	[ "$(field "$kl" n)" = "$kicklat" ] && [ "$(field "$kl" kicks)" = "$kicklat" ] ||
		fail "guest: $kl: expected $kicklat NOPs each with a doorbell kick"
	[ "$(field "$res" kicks)" -ge "$kicklat" ] || fail "guest: $(field "$res" kicks) kicks"
	[ "$(field "$hres" kicks)" = "$(field "$res" kicks)" ] ||
		fail "xiod counted $(field "$hres" kicks) kicks, the guest rang the doorbell $(field "$res" kicks) times"
fi
for kv in invalid=0 broken=0 io_errors=0 taken=$ntaken nops=$nops \
	writes=$blocks reads=$blocks; do
	k=${kv%%=*}
	[ "$(field "$hres" "$k")" = "${kv#*=}" ] || fail "host: $k is $(field "$hres" "$k"), expected ${kv#*=}"
done
[ "$(field "$hver" mismatches)" = 0 ] || fail "host: $(field "$hver" mismatches) blocks of the target file do not verify"
[ "$(field "$hver" seed)" = "$(field "$res" seed)" ] ||
	fail "host: the target file holds seed $(field "$hver" seed), the guest wrote $(field "$res" seed)"
[ "$(stat -c %s "$target")" -eq $((blocks * bs)) ] || fail "target file size $(stat -c %s "$target"), expected $((blocks * bs))"
[ "$hrc" -eq 0 ] || fail "vm_host exited with $hrc"

booted=$(tr -d '\r' <"$serial" | grep -o 'XIO-GUEST-BOOTED uptime=[0-9.]*' | sed 's/.*=//')
tr -d '\r' <"$serial" | grep -E '^(xio-guest-demo:|XIO-GUEST-MAPTEST|XIO-GUEST-KICKLAT)'
echo "$res"
echo "$hres"
echo "$hver"
echo "vm_ivshmem: PASS: accel $accel, qemu wall ${wall}s, guest uptime at start ${booted}s, demo $(field "$res" usec) us"
exit 0
