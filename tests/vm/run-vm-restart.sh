#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A VM guest across kill -9 of xiod (issue 8, docs/daemon.md "Restart"):
# a TCG guest (vmlib.sh) runs xio-guest-demo --seconds: passes of NOPs,
# checksummed WRITEs and READs that verify them, through an xio tenant the
# libvirt hook had xiod create (ivshmem-plain: a /dev/shm file; with
# --doorbell an ivshmem-doorbell device whose server is xiod, region in its
# state directory).  Meanwhile xiod, run with --state-dir on tmpfs, is
# killed with SIGKILL $XIO_VM_KILLS times (default 4), each time once it has
# served the guest since its start, and started again at once with the same
# arguments: it re-adopts the tenant from its in-flight log by itself (no
# hook, no libvirt), finishes what was in flight and goes on.  With --term,
# xiod is stopped with SIGTERM instead (a clean stop: a handover,
# docs/daemon.md "Clean stop") and must exit 0 each time.
#
# Checked: the guest's result line (0 mismatches, 0 errors: a lost
# completion is a 30 s timeout error, a duplicate an unexpected user_data,
# also after the last pass; every pass complete); one re-adoption per
# restart in xiod's log and no refused log; the hook's release removes the
# tenant, its file or socket, the region and log in the state directory;
# vm_verify checks the target file against the last pass's seed.  With
# --doorbell: every restart got the eventfds QEMU holds back from the
# fd keeper, and the last xiod was kicked (not polling the tenant).
#
#   run-vm-restart.sh --xiod XIOD --xioctl XIOCTL --hook HOOK --verify VM_VERIFY
#                     --guest XIO_GUEST_DEMO [--workdir DIR] [--doorbell] [--term]
#
# Environment: XIO_VM_KILLS, XIO_VM_SECONDS (guest load, default 10),
# XIO_VM_TIMEOUT (the whole guest run, default 200), XIO_VM_KEEP=1, and
# vmlib.sh's.  Exit 0 pass, 1 fail, 77 skip.
set -uo pipefail

xiod_bin= xioctl_bin= hook_bin= verify_bin= guest_bin= workdir= doorbell=0 sig=KILL lo= lk=
while [ $# -gt 0 ]; do
	case $1 in
	--xiod) xiod_bin=$2; shift 2 ;;
	--xioctl) xioctl_bin=$2; shift 2 ;;
	--hook) hook_bin=$2; shift 2 ;;
	--verify) verify_bin=$2; shift 2 ;;
	--guest) guest_bin=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--doorbell) doorbell=1; shift ;;
	--term) sig=TERM; shift ;;
	*) echo "usage: $0 --xiod X --xioctl X --hook X --verify X --guest X [--workdir D] [--doorbell]" >&2; exit 2 ;;
	esac
done
[ -n "$xiod_bin" ] && [ -n "$xioctl_bin" ] && [ -n "$hook_bin" ] &&
	[ -n "$verify_bin" ] && [ -n "$guest_bin" ] ||
	{ echo "usage: $0 --xiod X --xioctl X --hook X --verify X --guest X [--workdir D] [--doorbell]" >&2; exit 2; }

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ "$(type -t show_logs)" = function ] && show_logs; exit 1; }
. "$(dirname "$0")/vmlib.sh"
vm_prereqs "$guest_bin"

kills=${XIO_VM_KILLS:-4}
secs=${XIO_VM_SECONDS:-10}
vm_timeout=${XIO_VM_TIMEOUT:-200}
nops=200 blocks=256 bs=4096
vm_workdir xio-vmrs
tname=xio-vmrs-$$
region=/dev/shm/$tname
state=/dev/shm/$tname.state # tmpfs: the logs are MAP_SHARED files
sock=$workdir/xiod.sock
dbsock=$workdir/ivshmem.sock
target=$workdir/target.img
serial=$workdir/serial.log
hostlog=$workdir/host.log
xiod_pid= qemu_pid=

cleanup() {
	[ -z "$qemu_pid" ] || kill -KILL "$qemu_pid" 2>/dev/null
	if [ -n "$xiod_pid" ] && kill -0 "$xiod_pid" 2>/dev/null; then
		kill -TERM "$xiod_pid" 2>/dev/null
		wait "$xiod_pid" 2>/dev/null
	fi
	rm -rf "$region" "$dbsock" "$state"
	[ "${XIO_VM_KEEP:-0}" = 1 ] || rm -rf "$workdir/initramfs" "$target"
}
trap cleanup EXIT

show_logs() {
	echo "---- serial console ($serial) ----"
	[ -f "$serial" ] && tr -d '\r' <"$serial" |
		sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' | tail -n 40
	echo
	echo "---- xiod and hook ($hostlog) ----"
	[ -f "$hostlog" ] && grep -v ' ivshmem client ' "$hostlog" | tail -n 60
	echo "----"
}

initrd=$workdir/initramfs.cpio.gz
db_arg=
[ "$doorbell" = 0 ] || db_arg=--doorbell
vm_initramfs "$workdir/initramfs" "$initrd" "$guest_bin" <<EOF ||
echo "XIO-GUEST-BOOTED uptime=\$(cut -d' ' -f1 /proc/uptime)"
/${guest_bin##*/} --nops $nops --blocks $blocks --bs $bs --seconds $secs --timeout-ms 30000 $db_arg
echo "XIO-GUEST-EXIT rc=\$?"
EOF
	fail "building the initramfs"

# ---- xiod, the tenant (through the hook), the target ------------------------
: >"$hostlog"
xiod_args=(--foreground --socket "$sock" --pollers 1 --state-dir "$state")
# ivshmem-plain cannot kick: keep the poller awake; doorbell: free to sleep.
[ "$doorbell" = 1 ] || xiod_args+=(--idle-us 60000000)
xiod_start() {
	"$xiod_bin" "${xiod_args[@]}" >>"$hostlog" 2>&1 &
	xiod_pid=$!
	for _ in $(seq 100); do
		"$xioctl_bin" --socket "$sock" tenants >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "xiod does not answer on $sock"
}
xiod_start
server=
[ "$doorbell" = 0 ] || server=$dbsock
vm_hook_tenant xio-vmrs "$tname" $server
if [ "$doorbell" = 1 ]; then
	dev=(-chardev "socket,path=$dbsock,id=xioc" -device ivshmem-doorbell,chardev=xioc,vectors=1)
else
	dev=(-object "memory-backend-file,id=xioshm,mem-path=$region,size=$(stat -c %s "$region"),share=on"
		-device ivshmem-plain,memdev=xioshm)
fi

# ---- the guest, and the kills -------------------------------------------------
t0=$(date +%s.%N)
vm_qemu tcg "$vm_timeout" "" "${dev[@]}" >"$workdir/qemu.out" 2>&1 &
qemu_pid=$!
# OPS (column 8 of `xioctl tenants`) of this xiod: counters restart at 0.
ops() { "$xioctl_bin" --socket "$sock" tenants 2>/dev/null | awk -v n="$tname" '$2 == n { print $8 }'; }
done_kills=0
for k in $(seq "$kills"); do
	# Served since it started (the guest booted: no limit but QEMU's
	# timeout, a loaded machine boots slowly; or was re-adopted: 60 s).
	served=0 w0=$SECONDS
	while [ "$k" = 1 ] || [ $((SECONDS - w0)) -lt 60 ]; do
		kill -0 "$qemu_pid" 2>/dev/null || break
		o=$(ops)
		[ -n "$o" ] && [ "$o" -gt 0 ] && { served=1; break; }
		sleep 0.1
	done
	kill -0 "$qemu_pid" 2>/dev/null || break # the guest is done
	[ "$served" = 1 ] || fail "xiod (start $k) did not serve the guest within 60 s"
	sleep "0.$((RANDOM % 9 + 1))"
	kill -$sig "$xiod_pid"
	wait "$xiod_pid" 2>/dev/null
	st=$?
	[ "$sig" = KILL ] || [ "$st" = 0 ] || fail "xiod exited with status $st on SIGTERM (stop $k)"
	echo "run-vm-restart: kill $k: xiod $xiod_pid SIG$sig'ed with $o ops served" >>"$hostlog"
	xiod_start
	done_kills=$k
done
wait "$qemu_pid"
qrc=$?
qemu_pid=
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
[ "$qrc" -eq 0 ] || { cat "$workdir/qemu.out"; fail "qemu exited with $qrc after ${wall}s (124: timeout ${vm_timeout}s)"; }
[ "$done_kills" -ge 2 ] || fail "the guest ended after $done_kills kills (XIO_VM_SECONDS too short for this machine?)"

# ---- checks -------------------------------------------------------------------
if [ "$doorbell" = 1 ]; then
	# The fd keeper (docs/vm.md) gave every restarted xiod the
	# eventfds QEMU holds: the tenant was kicked, not polled, after each.
	nkept=$(grep -c "its eventfds from the fd keeper: kicked" "$hostlog")
	[ "$nkept" = "$done_kills" ] || fail "the doorbell was kept in $nkept of $done_kills restarts"
	row=$("$xioctl_bin" --socket "$sock" tenants 2>/dev/null | awk -v n="$tname" '$2 == n')
	lk=$(printf '%s\n' "$row" | awk '{ print $11 }')
	lo=$(printf '%s\n' "$row" | awk '{ print $8 }')
	case $row in *no-doorbell*) fail "the last xiod polls the tenant: $row" ;; esac
	[ -z "$lo" ] || [ "$lo" = 0 ] || [ "${lk:-0}" -gt 0 ] ||
		fail "the last xiod served $lo ops and got no kick: $row"
fi
res=$(tr -d '\r' <"$serial" | grep -o 'XIO-GUEST-RESULT .*' | tail -n1)
[ -n "$res" ] || fail "no XIO-GUEST-RESULT line on the serial console"
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
passes=$(field "$res" passes)
[ -n "$passes" ] && [ "$passes" -ge 1 ] || fail "guest: no passes in: $res"
for kv in mismatches=0 errors=0 nops=$((passes * nops)) writes=$((passes * blocks)) \
	reads=$((passes * blocks)); do
	k=${kv%%=*}
	[ "$(field "$res" "$k")" = "${kv#*=}" ] || fail "guest: $k is $(field "$res" "$k"), expected ${kv#*=}"
done
nre=$(grep -c "VM tenant re-adopted" "$hostlog")
[ "$nre" = "$done_kills" ] || fail "xiod re-adopted the tenant $nre times in $done_kills restarts"
grep -q "not re-adopted\|not trusted" "$hostlog" && fail "xiod refused a log: $(grep "not re-adopted\|not trusted" "$hostlog" | head -n1)"
# What recovery did, summed over the restarts (for the record).
rec=$(grep "in-flight log: .* reposted" "$hostlog" | sed 's/.*in-flight log: //' |
	awk '{ rp += $1; rs += $3 } END { printf "%d reposted, %d resubmitted", rp, rs }')
hook release end || fail "the hook's release failed"
[ ! -e "$region" ] && [ ! -e "$dbsock" ] || fail "release left the region file or socket"
# (xiod.lock and xiod.rings.*, the restart barrier, are xiod's until it
# stops: its own, and killed xiods' whose rings were still being torn down;
# so is xiod.fdkeep, the fd keeper's socket.)
left=$(ls -A "$state" 2>/dev/null | grep -v -e '^xiod\.lock$' -e '^xiod\.rings\.' -e '^xiod\.fdkeep$')
[ -z "$left" ] || fail "release left $left in the state directory"
"$verify_bin" "$target" "$blocks" "$bs" >>"$hostlog" 2>&1
hver=$(grep '^XIO-HOST-VERIFY' "$hostlog" | tail -n1)
[ "$(field "$hver" mismatches)" = 0 ] || fail "host: $hver"
[ "$(field "$hver" seed)" = "$(field "$res" seed)" ] ||
	fail "host: the target holds seed $(field "$hver" seed), the guest's last pass wrote $(field "$res" seed)"
echo "$res"
echo "vm_restart: PASS: $([ "$doorbell" = 1 ] && echo "ivshmem-doorbell (last xiod: $lo ops, $lk kicks)" || echo ivshmem-plain), $done_kills SIG${sig}s of xiod under load, $nre re-adoptions ($rec), $passes passes, qemu wall ${wall}s"
exit 0
