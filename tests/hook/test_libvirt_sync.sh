#!/bin/bash
# SPDX-License-Identifier: MIT
# xioctl libvirt sync and xiod --libvirt-sync against libvirt's in-process
# test driver (test:///FILE: the domains of FILE, all running; no libvirtd),
# with a private xiod.  Region files are made by the hook (prepare), as in
# production; the ring is driven by xio-guest-demo on the host through a
# fake sysfs whose BAR2 is the region file (XIO_SYSFS_ROOT).
#   test_libvirt_sync.sh HOOK XIOD XIOCTL GUEST_DEMO VM_VERIFY
# Exit 0 pass, 1 fail, 77 skip.
set -u
hook=$1 xiod=$2 xioctl=$3 guest=$4 verify=$5

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (region files are chowned to QEMU's user)"
	exit 77
fi
if "$xioctl" libvirt sync --uri test:///default --socket-none 2>&1 |
	grep -q "built without libvirt"; then
	echo "SKIP: xioctl built without libvirt (apt-get install libvirt-dev)"
	exit 77
fi

dir=$(mktemp -d /tmp/xio-sync-test.XXXXXX)
sock=$dir/xiod.sock
tag=s$$
xpid= mute=
cleanup() {
	[ -n "$mute" ] && kill "$mute" 2>/dev/null
	[ -n "$xpid" ] && kill -KILL "$xpid" 2>/dev/null && wait "$xpid" 2>/dev/null
	rm -f /dev/shm/xio-$tag-*
	[ "${XIO_TEST_KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- xiod log"; tail -n 40 "$dir/xiod.log"
	exit 1
}

# ---- libvirt's view: a test driver file with running domains --------------
domain() { # NAME DEVICES [EXTRA]
	cat <<XML
  <domain type='test'>
    <name>$1</name>
    <memory unit='MiB'>128</memory>
    <vcpu>2</vcpu>
    $3
    <os><type>hvm</type></os>
    <devices>$2</devices>
  </domain>
XML
}
shmem() { echo "<shmem name='$1'><model type='ivshmem-plain'/><size unit='M'>$2</size></shmem>"; }
meta="<cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='0-1'/></cputune>
    <numatune><memory mode='strict' nodeset='0'/></numatune>
    <metadata><xio:xio xmlns:xio='urn:xio:libvirt:1'>
      <xio:target shmem='xio-$tag-a' path='$dir/disk-a.img'/>
      <xio:target shmem='xio-$tag-a' path='$dir/ro-a.img' readonly='yes'/>
    </xio:xio></metadata>"
dom_a=$(domain "sync-$tag-a" "$(shmem "xio-$tag-a" 1) $(shmem "xio-$tag-b" 2) $(shmem "other-$tag" 1)" "$meta")
dom_k=$(domain "sync-$tag-k" "$(shmem "xio-$tag-k" 1)" "<cputune><vcpupin vcpu='0' cpuset='0'/></cputune>")
dom_n=$(domain "sync-$tag-n" "" "")
dom_s=$(domain "sync-$tag-s" "$(shmem "xio-$tag-s" 1)" "")
dom_d=$(domain "sync-$tag-d" "$(shmem "xio-$tag-d" 3)" "")
printf '<node>\n%s\n%s\n%s\n</node>\n' "$dom_a" "$dom_k" "$dom_n" >"$dir/node.xml"
printf '<node>\n%s\n%s\n%s\n%s\n</node>\n' "$dom_a" "$dom_k" "$dom_n" "$dom_d" >"$dir/bad.xml"
: >"$dir/disk-a.img"
: >"$dir/ro-a.img"
uri=test://$dir/node.xml

# The hook's prepare with the domain XML libvirt gives it.
export XIO_SOCKET=$sock XIO_HOOK_QEMU_USER=nobody
prepare() { # NAME XML
	printf '%s\n' "$2" | sed 's/^  //' | "$hook" "$1" prepare begin - >>"$dir/hook.log" 2>&1 ||
		fail "hook prepare $1: $(tail -n 3 "$dir/hook.log")"
}
start_xiod() {
	"$xiod" --foreground --socket "$sock" --pollers 1 --idle-us 60000000 "$@" \
		>>"$dir/xiod.log" 2>&1 &
	xpid=$!
	for _ in $(seq 100); do
		"$xioctl" --socket "$sock" tenants >/dev/null 2>&1 && return
		sleep 0.1
	done
	fail "xiod did not start"
}
kill9_xiod() { kill -KILL "$xpid"; wait "$xpid" 2>/dev/null; xpid=; rm -f "$sock"; }
tenants() { "$xioctl" --socket "$sock" tenants | awk 'NR > 1 { print $2 }' | sort | tr '\n' ' '; }
tid() { "$xioctl" --socket "$sock" tenants | awk -v n="$1" '$2 == n { print $1 }'; }
sync() { # EXPECTED_RC ARGS...: output in $dir/out, $dir/err
	local want=$1
	shift
	"$xioctl" --socket "$sock" libvirt sync "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ "$rc" -eq "$want" ] ||
		{ cat "$dir/out" "$dir/err"; fail "libvirt sync $*: exit $rc, want $want"; }
}
has() { grep -q -- "$2" "$dir/$1" || { cat "$dir/out" "$dir/err"; fail "$1 lacks '$2'"; }; }
# The guest program on the host: a fake sysfs whose BAR2 is the file.
guest_run() { # SHM SEED ('-' as GUEST_DEMO: sanitizer builds, not built)
	[ "$guest" = - ] && return
	local d=$dir/sys/bus/pci/devices/0000:00:0$((++ndev)).0
	mkdir -p "$d"
	echo 0x1af4 >"$d/vendor"
	echo 0x1110 >"$d/device"
	ln -sf "/dev/shm/$1" "$d/resource2"
	XIO_SYSFS_ROOT=$dir/sys timeout 60 "$guest" --pci "${d##*/}" --nops 300 --blocks 64 \
		--bs 4096 --seed "$2" --timeout-ms 20000 >"$dir/guest.out" 2>&1
	grep -q 'mismatches=0 errors=0 order_errors=0' "$dir/guest.out" ||
		fail "guest on $1: $(cat "$dir/guest.out")"
	v=$("$verify" "$dir/disk-a.img" 64 4096) || fail "target: $v"
	case $v in *"seed=$(printf '0x%x' "$2")") ;; *) fail "target seed: $v, want $2" ;; esac
}
ndev=0

# ---- xiod #1: the domain starts (hook), the guest runs, xiod is killed ----
start_xiod
prepare "sync-$tag-a" "$dom_a"
[ "$(tenants)" = "xio-$tag-a xio-$tag-b " ] || fail "after prepare: $(tenants)"
guest_run "xio-$tag-a" 11
kill9_xiod
[ -e "/dev/shm/xio-$tag-a" ] && [ -e "/dev/shm/xio-$tag-b" ] || fail "files gone with xiod"

# ---- xiod #2: k started since, s is stale (its domain is not running) ----
start_xiod
prepare "sync-$tag-k" "$dom_k"
prepare "sync-$tag-s" "$dom_s"
kid=$(tid "xio-$tag-k")
before=$(tenants)

sync 0 --uri "$uri" --dry-run
has out "would adopt xio-$tag-a (domain sync-$tag-a): /dev/shm/xio-$tag-a, 1024 KiB, node 0, 2 targets"
has out "would adopt xio-$tag-b (domain sync-$tag-a)"
has out "keep xio-$tag-k (domain sync-$tag-k): tenant $kid"
has out "would drop xio-$tag-s"
has out "dry run, nothing changed: 3 running domains (2 with xio devices)"
[ "$(tenants)" = "$before" ] || fail "dry run changed tenants: $(tenants)"

sync 0 --uri "$uri"
has out "adopt xio-$tag-a (domain sync-$tag-a): tenant [0-9]*, /dev/shm/xio-$tag-a"
has out "  target 0 = $dir/disk-a.img$"
has out "  target 1 = $dir/ro-a.img (read-only)"
has out "adopt xio-$tag-b (domain sync-$tag-a): tenant [0-9]*, /dev/shm/xio-$tag-b, 2048 KiB"
has out "keep xio-$tag-k (domain sync-$tag-k): tenant $kid"
has out "drop xio-$tag-s: tenant"
has out "libvirt sync: 3 running domains (2 with xio devices): 2 adopted, 1 kept, 1 dropped, 0 failed, 0 unreadable"
[ ! -s "$dir/err" ] || fail "sync complained: $(cat "$dir/err")"
[ "$(tenants)" = "xio-$tag-a xio-$tag-b xio-$tag-k " ] || fail "after sync: $(tenants)"
[ "$(tid "xio-$tag-k")" = "$kid" ] || fail "kept tenant was replaced"
"$xioctl" --socket "$sock" tenants | grep "xio-$tag-b" | grep -q "2.0MiB.*running,persistent,no-doorbell,vm" ||
	fail "adopted tenant: $("$xioctl" --socket "$sock" tenants)"
tl=$("$xioctl" --socket "$sock" target list "xio-$tag-a")
echo "$tl" | grep -Eq "^0 +rw .*/disk-a.img$" && echo "$tl" | grep -Eq "^1 +ro .*/ro-a.img$" ||
	fail "targets of the adopted tenant: $tl"
# The stale one is gone, its file unlinked, its final record kept.
[ ! -e "/dev/shm/xio-$tag-s" ] || fail "dropped tenant's file left"
json=$("$xioctl" --socket "$sock" stats --json)
echo "$json" | grep -q "\"name\":\"xio-$tag-s\",\"state\":\"detached\"" ||
	fail "no final record of the dropped tenant: $json"
for n in a k; do
	echo "$json" | grep -q "\"name\":\"xio-$tag-$n\",\"state\":\"running\"" ||
		fail "xio-$tag-$n not running: $json"
done
[ "$(stat -c '%U %a' "/dev/shm/xio-$tag-a")" = "nobody 600" ] || fail "adopted file owner/mode changed"
# The adopted ring serves the same guest memory, from where it was.
guest_run "xio-$tag-a" 22
ops=$("$xioctl" --socket "$sock" tenants | awk -v n="xio-$tag-a" '$2 == n { print $8 }')
[ "$guest" = - ] || [ "$ops" = $((300 + 2 * 64)) ] || fail "adopted tenant took $ops ops"

# Again: nothing to do.
sync 0 --uri "$uri"
has out "0 adopted, 3 kept, 0 dropped, 0 failed"

# ---- errors: a clear line, the documented exit code, xiod unchanged -------
prepare "sync-$tag-s" "$dom_s"
before=$(tenants)
sync 1 --uri "test://$dir/bad.xml"
has err "domain sync-$tag-d: shmem 'xio-$tag-d': size 3145728 is not a power of two >= 1 MiB (skipped)"
has err "not dropping 1 tenant without a domain: 1 domain could not be read"
has out "0 adopted, 3 kept, 0 dropped, 0 failed, 1 unreadable"
sync 3 --uri "test://$dir/missing.xml"
has err "xioctl: libvirt sync: cannot connect to libvirt at test://$dir/missing.xml: "
sync 3 --uri "qemu:///system?socket=$dir/nope.sock"
has err "cannot connect to libvirt at qemu:///system"
"$xioctl" --socket "$dir/nope" libvirt sync --uri "$uri" >"$dir/out" 2>"$dir/err"
[ $? -eq 1 ] || fail "xiod down: want exit 1"
has err "cannot reach xiod at $dir/nope"
"$xioctl" --socket "$sock" libvirt sync --frobnicate >/dev/null 2>"$dir/err"
[ $? -eq 2 ] || fail "usage: want exit 2"
has err "usage: xioctl libvirt sync"
# A libvirtd that accepts but never answers: bounded by --timeout.
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(8)
time.sleep(60)' "$dir/mute.sock" &
	mute=$!
	for _ in $(seq 50); do [ -S "$dir/mute.sock" ] && break; sleep 0.1; done
	sync 1 --uri "qemu:///system?socket=$dir/mute.sock" --timeout 2
	has err "timed out after 2 s"
fi
[ "$(tenants)" = "$before" ] || fail "failed runs changed tenants: $(tenants)"

# ---- xiod --libvirt-sync: at start-up, without blocking xiod --------------
kill9_xiod
if [ -n "$mute" ]; then
	# libvirt hangs: xiod serves anyway, and stops at once.
	start_xiod "--libvirt-sync=qemu:///system?socket=$dir/mute.sock"
	[ -z "$(tenants)" ] || fail "xiod with a hung sync: $(tenants)"
	kill -TERM "$xpid"
	wait "$xpid"
	st=$?
	xpid=
	[ "$st" -eq 0 ] || fail "xiod with a hung sync: exit $st"
fi
start_xiod "--libvirt-sync=$uri"
for _ in $(seq 100); do
	[ "$(tenants)" = "xio-$tag-a xio-$tag-b xio-$tag-k " ] && break
	sleep 0.1
done
[ "$(tenants)" = "xio-$tag-a xio-$tag-b xio-$tag-k " ] || fail "xiod --libvirt-sync: $(tenants)"
for _ in $(seq 100); do grep -q "libvirt sync: done" "$dir/xiod.log" && break; sleep 0.1; done
grep -q "xiod: libvirt sync: adopt xio-$tag-k (domain sync-$tag-k)" "$dir/xiod.log" ||
	fail "xiod's sync lines"
grep -q "libvirt sync: done" "$dir/xiod.log" || fail "xiod did not report the sync"
guest_run "xio-$tag-a" 33

# ---- the hook's reconnect (libvirtd restarted) after xiod restarted -------
kill9_xiod
start_xiod
printf '%s\n' "$dom_a" | sed 's/^  //' |
	"$hook" "sync-$tag-a" reconnect begin - >"$dir/out" 2>"$dir/err" ||
	fail "reconnect: exit $?: $(cat "$dir/err")"
[ ! -s "$dir/err" ] || fail "reconnect complained: $(cat "$dir/err")"
has out "tenant [0-9]* xio-$tag-a adopted again (file /dev/shm/xio-$tag-a)"
has out "tenant xio-$tag-a target 1 = $dir/ro-a.img (read-only)"
[ "$(tenants)" = "xio-$tag-a xio-$tag-b " ] || fail "after reconnect: $(tenants)"
guest_run "xio-$tag-a" 44
kill -TERM "$xpid"
wait "$xpid"
st=$?
xpid=
[ "$st" -eq 0 ] || fail "xiod exit $st"
[ ! -e "/dev/shm/xio-$tag-a" ] || fail "adopted file not removed at exit"
echo "ok"
