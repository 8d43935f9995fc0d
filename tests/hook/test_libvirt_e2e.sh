#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end with a real libvirtd (qemu driver): a domain with an xio
# <shmem> starts, the hook fires (prepare: xiod creates the region file,
# owned by QEMU's user), the guest (busybox initramfs + xio-guest-demo)
# drives its ring through xiod, the domain is destroyed, the hook removes
# the tenant and the file; the target file verifies.
#   test_libvirt_e2e.sh HOOK XIOD XIOCTL GUEST_DEMO VM_VERIFY
# Starts its own virtlogd and libvirtd (and stops them); skips (77) when one
# already runs (its hooks could not be changed without restarting it), when
# /etc/libvirt/hooks/qemu exists, or when anything is missing.
set -u
hook=$1 xiod=$2 xioctl=$3 guest=$4 verify=$5
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root"
for b in libvirtd virtlogd virsh qemu-system-x86_64 cpio gzip; do
	command -v $b >/dev/null 2>&1 ||
		skip "$b not found (apt-get install libvirt-daemon-system libvirt-clients qemu-system-x86 cpio)"
done
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)
[ -n "$kernel" ] || skip "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
[ -x /bin/busybox ] && ! readelf -l /bin/busybox | grep -q interpreter ||
	skip "no static /bin/busybox (apt-get install busybox-static)"
id libvirt-qemu >/dev/null 2>&1 || skip "no libvirt-qemu user"
# Zombies do not count (init here may be slow to reap them).
running() { ps -eo stat=,comm= | awk -v c="$1" '$2 == c && $1 !~ /^Z/' | grep -q .; }
running libvirtd && skip "a libvirtd already runs"
running virtlogd && skip "a virtlogd already runs"
[ -e /etc/libvirt/hooks/qemu ] && skip "/etc/libvirt/hooks/qemu exists (not ours to replace)"

tag=$$
dom=xio-e2e-$tag
shm=xio-e2e-$tag
dir=$(mktemp -d /tmp/xio-libvirt-e2e.XXXXXX)
chmod 755 "$dir"
sock=$dir/xiod.sock
xpid= 
cleanup() {
	virsh -c qemu:///system destroy "$dom" >/dev/null 2>&1
	virsh -c qemu:///system undefine "$dom" >/dev/null 2>&1
	rm -f /etc/libvirt/hooks/qemu
	local p
	for p in libvirtd virtlogd; do
		[ -s "$dir/$p.pid" ] || continue
		p=$(cat "$dir/$p.pid")
		kill "$p" 2>/dev/null
		# Gone before the next test looks for a running libvirtd.
		for _ in $(seq 100); do
			case $(ps -o stat= -p "$p" 2>/dev/null) in "" | Z*) break ;; esac
			sleep 0.1
		done
	done
	[ -n "$xpid" ] && kill -TERM "$xpid" 2>/dev/null && wait "$xpid" 2>/dev/null
	rm -f "/dev/shm/$shm"
	[ "${XIO_VM_KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in calls.log hook-err.log sync.log xiod.log serial.log; do
		echo "--- $f"; tr -d '\r' <"$dir/$f" 2>/dev/null | grep -av '^\s*$' | tail -n 40
	done
	exit 1
}

# Guest: busybox + the demo, packed by tests/vm's builder.
busybox=/bin/busybox
. "$(dirname "$0")/../vm/vmlib.sh"
vm_initramfs "$dir/initramfs" "$dir/initrd.gz" "$guest" <<'INIT' || fail "initramfs"
/xio-guest-demo --nops 1000 --blocks 256 --bs 4096
echo "XIO-GUEST-EXIT rc=$?"
INIT
cp "$kernel" "$dir/vmlinuz"
: >"$dir/target.img"

"$xiod" --foreground --socket "$sock" --pollers 1 >"$dir/xiod.log" 2>&1 &
xpid=$!
for _ in $(seq 100); do "$xioctl" --socket "$sock" tenants >/dev/null 2>&1 && break; sleep 0.1; done

# The hook as installed, with xiod's socket; it logs its calls and the
# region file as QEMU will find it.
cat >/etc/libvirt/hooks/qemu <<HOOK
#!/bin/sh
echo "\$*" >>$dir/calls.log
XIO_SOCKET=$sock "$hook" "\$@" 2>>$dir/hook-err.log || exit \$?
[ "\$2" = prepare ] && stat -c '%U %a %s' /dev/shm/$shm >>$dir/calls.log
exit 0
HOOK
chmod 755 /etc/libvirt/hooks/qemu
virtlogd -d -p "$dir/virtlogd.pid" || fail "virtlogd"
libvirtd -d -p "$dir/libvirtd.pid" || fail "libvirtd"
for _ in $(seq 100); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$dir/dom.xml" <<XML
<domain type='qemu'>
  <name>$dom</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <numatune><memory mode='strict' nodeset='0'/></numatune>
  <metadata>
    <xio:xio xmlns:xio="urn:xio:libvirt:1">
      <xio:target shmem="$shm" path="$dir/target.img"/>
    </xio:xio>
  </metadata>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$dir/vmlinuz</kernel>
    <initrd>$dir/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='file'><source path='$dir/serial.log'/><target port='0'/></serial>
    <shmem name='$shm'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>
    <memballoon model='none'/>
  </devices>
</domain>
XML
virsh -q -c qemu:///system define "$dir/dom.xml" >/dev/null || fail "define"
virsh -q -c qemu:///system start "$dom" >"$dir/start.out" 2>&1 || { cat "$dir/start.out"; fail "start"; }
grep -q "^$dom prepare begin" "$dir/calls.log" || fail "prepare hook did not fire"
grep -q "^libvirt-qemu 600 1048576" "$dir/calls.log" || fail "region file not as expected at prepare"
"$xioctl" --socket "$sock" tenants | grep -q "^[0-9]* *$shm .*running,persistent,no-doorbell" ||
	fail "no running tenant"
# xioctl libvirt sync against this libvirtd (read-only): the running
# domain's tenant is kept (unless the short guest run has already ended).
if "$xioctl" --socket "$sock" libvirt sync --uri qemu:///system --timeout 20 \
	>"$dir/sync.log" 2>&1; then
	grep -q "^keep $shm (domain $dom): tenant" "$dir/sync.log" ||
		[ "$(virsh -c qemu:///system domstate "$dom" 2>/dev/null)" != running ] ||
		fail "libvirt sync: $(cat "$dir/sync.log")"
elif ! grep -q "built without libvirt" "$dir/sync.log"; then
	fail "libvirt sync: $(cat "$dir/sync.log")"
fi

for _ in $(seq 1200); do
	tr -d '\r' <"$dir/serial.log" 2>/dev/null | grep -aq 'XIO-GUEST-EXIT' && break
	sleep 0.1
done
res=$(tr -d '\r' <"$dir/serial.log" | grep -ao 'XIO-GUEST-RESULT .*')
[ -n "$res" ] || fail "no guest result"
case "$res" in *" mismatches=0 errors=0 order_errors=0 "*) ;; *) fail "guest: $res" ;; esac
ops=$("$xioctl" --socket "$sock" tenants | awk -v n="$shm" '$2 == n { print $8 }')
[ "$ops" = $((1000 + 2 * 256)) ] || fail "xiod took $ops ops"
virsh -q -c qemu:///system destroy "$dom" >/dev/null 2>&1
for _ in $(seq 100); do grep -q "^$dom release end" "$dir/calls.log" && break; sleep 0.1; done
grep -q "^$dom stopped end" "$dir/calls.log" || fail "stopped hook did not fire"
grep -q "^$dom release end" "$dir/calls.log" || fail "release hook did not fire"
[ ! -e "/dev/shm/$shm" ] || fail "region file left"
[ -z "$("$xioctl" --socket "$sock" tenants | awk 'NR > 1')" ] || fail "tenant left"
fin=$("$xioctl" --socket "$sock" stats | awk -v n="$shm" '$2 == n && $3 == "detached" { print $4 }')
[ "$fin" = "$ops" ] || fail "final record: ops '$fin', want $ops"
[ ! -s "$dir/hook-err.log" ] || fail "hook complained"
v=$("$verify" "$dir/target.img" 256 4096) || fail "target: $v"
[ "${v##*seed=}" = "$(printf '%s\n' "$res" | sed -n 's/.*seed=\([^ ]*\).*/\1/p')" ] || fail "seed: $v / $res"
echo "$res"
echo "$v"
cat "$dir/sync.log"
echo "ok: libvirt started the domain, the hook fired (prepare, stopped, release), xiod served $ops ops"
