#!/bin/bash
# SPDX-License-Identifier: MIT
# xio-libvirt-hook against a private xiod, fed domain XML produced by
# libvirt itself (virsh, test driver: no libvirtd needed).
#   test_hook.sh HOOK XIOD XIOCTL
# Exit 0 pass, 1 fail, 77 skip.
set -u
hook=$1 xiod=$2 xioctl=$3

command -v virsh >/dev/null 2>&1 ||
	{ echo "SKIP: virsh not found (apt-get install libvirt-clients)"; exit 77; }
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (region files are chowned to QEMU's user)"
	exit 77
fi

dir=$(mktemp -d /tmp/xio-hook-test.XXXXXX)
sock=$dir/xiod.sock
tag=t$$
xpid=
cleanup() {
	[ -n "$xpid" ] && kill -TERM "$xpid" 2>/dev/null && wait "$xpid" 2>/dev/null
	rm -f /dev/shm/xio-$tag-*
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- xiod log"; cat "$dir/xiod.log"
	exit 1
}

# ---- domain XML, as libvirt writes it ------------------------------------
cat >"$dir/a.xml" <<XML
<domain type='test'>
  <name>hook-$tag-a</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='0-1'/></cputune>
  <numatune><memory mode='strict' nodeset='0'/></numatune>
  <metadata>
    <xio:xio xmlns:xio="urn:xio:libvirt:1">
      <xio:target shmem="xio-$tag-a" path="$dir/disk-a.img"/>
      <xio:target shmem="xio-$tag-a" path="$dir/ro-a.img" readonly="yes"/>
    </xio:xio>
  </metadata>
  <os><type>hvm</type></os>
  <devices>
    <shmem name='xio-$tag-a'><model type='ivshmem-plain'/><size unit='M'>2</size></shmem>
    <shmem name='xio-$tag-b'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>
    <shmem name='not-xio-$tag'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>
  </devices>
</domain>
XML
cat >"$dir/b.xml" <<XML
<domain type='test'>
  <name>hook-$tag-b</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='0'/></cputune>
  <os><type>hvm</type></os>
  <devices>
    <shmem name='xio-$tag-c'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>
  </devices>
</domain>
XML
cat >"$dir/c.xml" <<XML
<domain type='test'>
  <name>hook-$tag-c</name>
  <memory unit='MiB'>128</memory>
  <os><type>hvm</type></os>
  <devices>
    <shmem name='plain-$tag'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>
  </devices>
</domain>
XML
cat >"$dir/d.xml" <<XML
<domain type='test'>
  <name>hook-$tag-d</name>
  <memory unit='MiB'>128</memory>
  <os><type>hvm</type></os>
  <devices>
    <shmem name='xio-$tag-d'><model type='ivshmem-plain'/><size unit='M'>3</size></shmem>
  </devices>
</domain>
XML
# A target xiod cannot open (prepare fails, nothing stays), one naming a
# shmem that is not the domain's (refused before anything is done).
cat >"$dir/e.xml" <<XML
<domain type='test'>
  <name>hook-$tag-e</name>
  <memory unit='MiB'>128</memory>
  <metadata>
    <xio:xio xmlns:xio="urn:xio:libvirt:1">
      <xio:target shmem="xio-$tag-e" path="$dir/missing/nope.img"/>
    </xio:xio>
  </metadata>
  <os><type>hvm</type></os>
  <devices>
    <shmem name='xio-$tag-e'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>
  </devices>
</domain>
XML
sed "s/hook-$tag-e/hook-$tag-f/; s/shmem=\"xio-$tag-e\"/shmem=\"xio-$tag-zz\"/" "$dir/e.xml" >"$dir/f.xml"
# ivshmem-doorbell: xiod is the server on <server path>; no /dev/shm file.
cat >"$dir/g.xml" <<XML
<domain type='test'>
  <name>hook-$tag-g</name>
  <memory unit='MiB'>128</memory>
  <os><type>hvm</type></os>
  <devices>
    <shmem name='xio-$tag-g'><model type='ivshmem-doorbell'/><server path='$dir/g.sock'/><size unit='M'>2</size><msi vectors='1' ioeventfd='on'/></shmem>
  </devices>
</domain>
XML
: >"$dir/disk-a.img"; : >"$dir/ro-a.img"
for d in a b c d e f g; do
	virsh -q -c test:///default "define $dir/$d.xml; dumpxml hook-$tag-$d" \
		>"$dir/$d.out" 2>&1 || { cat "$dir/$d.out"; fail "virsh define $d"; }
	sed -n '/^<domain/,$p' "$dir/$d.out" >"$dir/$d.dump"
	grep -q '<uuid>' "$dir/$d.dump" || fail "no libvirt XML for $d"
done
grep -q "nodeset='0'" "$dir/a.dump" || fail "libvirt dropped numatune"
grep -q "vcpupin" "$dir/a.dump" || fail "libvirt dropped vcpupin"
grep -q "urn:xio:libvirt:1" "$dir/a.dump" || fail "libvirt dropped the xio metadata"

# ---- a private xiod -------------------------------------------------------
"$xiod" --foreground --socket "$sock" --pollers 1 >"$dir/xiod.log" 2>&1 &
xpid=$!
for _ in $(seq 100); do
	"$xioctl" --socket "$sock" tenants >/dev/null 2>&1 && break
	sleep 0.1
done
tenants() { "$xioctl" --socket "$sock" tenants | awk 'NR > 1 { print $2 }' | sort | tr '\n' ' '; }
export XIO_SOCKET=$sock XIO_HOOK_QEMU_USER=nobody
run() { # run EXPECTED_RC DOMAIN OP SUB < xml; stdout/stderr in $dir/out, err
	local want=$1; shift
	"$hook" "$@" - >"$dir/out" 2>"$dir/err"
	rc=$?
	[ "$rc" -eq "$want" ] || { cat "$dir/out" "$dir/err"; fail "$*: exit $rc, want $want"; }
}
one_line() {
	[ "$(wc -l <"$dir/err")" -eq 1 ] || { cat "$dir/err"; fail "$1: want one line on stderr"; }
	grep -q "$2" "$dir/err" || { cat "$dir/err"; fail "$1: message lacks '$2'"; }
}
empty=$(tenants)
[ -z "$empty" ] || fail "fresh xiod has tenants: $empty"

# prepare: two xio tenants, not the third shmem; files, owner, size, node.
run 0 "hook-$tag-a" prepare begin <"$dir/a.dump"
[ "$(tenants)" = "xio-$tag-a xio-$tag-b " ] || fail "tenants after prepare: $(tenants)"
grep -q "node 0 (numatune)" "$dir/out" || fail "numatune node not used: $(cat "$dir/out")"
grep -q "vcpu 1 pinned to 0-1" "$dir/out" || fail "vcpupin not parsed"
for n in a:2097152 b:1048576; do
	f=/dev/shm/xio-$tag-${n%%:*}
	[ "$(stat -c '%s %U %a' "$f")" = "${n#*:} nobody 600" ] ||
		fail "$f: $(stat -c '%s %U %a' "$f")"
	grep -q "bind:0 file=$f " /proc/$xpid/numa_maps || fail "$f not bound to node 0"
done
"$xioctl" --socket "$sock" tenants | grep "xio-$tag-a" | grep -q "2.0MiB.*persistent,no-doorbell" ||
	fail "tenant shape: $("$xioctl" --socket "$sock" tenants)"
[ ! -e "/dev/shm/not-xio-$tag" ] || fail "a non-xio shmem got a file"
tl=$("$xioctl" --socket "$sock" target list "xio-$tag-a")
echo "$tl" | grep -Eq "^0 +rw .*/disk-a.img$" && echo "$tl" | grep -Eq "^1 +ro .*/ro-a.img$" ||
	fail "targets from the metadata: $tl"
before=$(tenants)

# Again: refused, one line, nothing changes (the files stay xiod's).
run 1 "hook-$tag-a" prepare begin <"$dir/a.dump"
one_line "second prepare" "exists"
[ "$(tenants)" = "$before" ] || fail "second prepare changed tenants"

# Unknown and no-op operations: exit 0, nothing read, nothing changed.
run 0 "hook-$tag-a" frobnicate begin </dev/null
run 0 "hook-$tag-a" start begin </dev/null
run 0 "hook-$tag-a" started begin </dev/null
[ "$(tenants)" = "$before" ] || fail "no-op operations changed tenants"

# Filters: refused with xio devices; no output (XML kept) without.
run 1 "hook-$tag-a" migrate begin <"$dir/a.dump"
one_line migrate "migrate refused"
run 1 "hook-$tag-a" restore begin <"$dir/a.dump"
one_line restore "restore refused"
run 0 "hook-$tag-c" migrate begin <"$dir/c.dump"
[ ! -s "$dir/out" ] || fail "migrate filter printed something"
run 0 "hook-$tag-c" prepare begin <"$dir/c.dump"
[ "$(tenants)" = "$before" ] || fail "a domain without xio shmem changed tenants"

# Malformed XML, bad size, missing daemon: one line, exit 1, no change.
printf '<domain><name>x</name><devices><shmem name="xio-%s-z">' "$tag" >"$dir/bad.xml"
run 1 "hook-$tag-z" prepare begin <"$dir/bad.xml"
one_line "malformed XML" "malformed domain XML"
run 1 "hook-$tag-d" prepare begin <"$dir/d.dump"
one_line "bad size" "power of two"
run 1 "hook-$tag-e" prepare begin <"$dir/e.dump"
one_line "bad target" "refused target"
[ ! -e "/dev/shm/xio-$tag-e" ] || fail "failed prepare left its file"
run 1 "hook-$tag-f" prepare begin <"$dir/f.dump"
one_line "target of another shmem" "not an xio shmem device"
XIO_SOCKET=$dir/nope run 1 "hook-$tag-b" prepare begin <"$dir/b.dump"
one_line "missing daemon" "cannot reach xiod"
[ "$(tenants)" = "$before" ] || fail "failed runs changed tenants: $(tenants)"
"$hook" >/dev/null 2>&1; [ $? -eq 2 ] || fail "usage: want exit 2"
# A daemon that accepts but never answers: the hook gives up in time.
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); s.listen(8)
time.sleep(30)' "$dir/mute.sock" &
	mute=$!
	for _ in $(seq 50); do [ -S "$dir/mute.sock" ] && break; sleep 0.1; done
	XIO_SOCKET=$dir/mute.sock XIO_HOOK_TIMEOUT=2 run 1 "hook-$tag-b" prepare begin <"$dir/b.dump"
	one_line "mute daemon" "timed out"
	kill "$mute" 2>/dev/null; wait "$mute" 2>/dev/null
fi

# reconnect: re-adopts (nothing to do while xiod has them).
run 0 "hook-$tag-a" reconnect begin <"$dir/a.dump"
[ ! -s "$dir/err" ] || fail "reconnect complained: $(cat "$dir/err")"

# No numatune: the node of the first pinned CPU.
run 0 "hook-$tag-b" prepare begin <"$dir/b.dump"
grep -q "node 0 (vcpupin)" "$dir/out" || fail "vcpupin node not used: $(cat "$dir/out")"
grep -q "bind:0 file=/dev/shm/xio-$tag-c " /proc/$xpid/numa_maps || fail "c not on node 0"

# ivshmem-doorbell as libvirt writes it: a socket, not a file, and a tenant
# that can be kicked (not no-doorbell); release removes the socket.
grep -q "<server path='$dir/g.sock'/>" "$dir/g.dump" || fail "libvirt dropped <server>: $(cat "$dir/g.dump")"
run 0 "hook-$tag-g" prepare begin <"$dir/g.dump"
grep -q "server $dir/g.sock" "$dir/out" || fail "doorbell prepare: $(cat "$dir/out")"
[ -S "$dir/g.sock" ] && [ "$(stat -c '%U %a' "$dir/g.sock")" = "nobody 600" ] ||
	fail "server socket: $(stat -c '%F %U %a' "$dir/g.sock" 2>&1)"
[ ! -e "/dev/shm/xio-$tag-g" ] || fail "a doorbell shmem got a file"
"$xioctl" --socket "$sock" tenants | grep "xio-$tag-g" | grep -v no-doorbell | grep -q "2.0MiB.*persistent" ||
	fail "doorbell tenant shape: $("$xioctl" --socket "$sock" tenants)"
run 1 "hook-$tag-g" prepare begin <"$dir/g.dump"
one_line "second doorbell prepare" "exists"
run 0 "hook-$tag-g" release end <"$dir/g.dump"
[ ! -e "$dir/g.sock" ] || fail "release left the server socket"
sed "s|<server path='$dir/g.sock'/>||" "$dir/g.dump" >"$dir/g2.dump"
run 1 "hook-$tag-g" prepare begin <"$dir/g2.dump"
one_line "doorbell without server" "needs <server"

# stopped + release: tenants gone, files unlinked; twice is fine.
run 0 "hook-$tag-a" stopped end <"$dir/a.dump"
run 0 "hook-$tag-a" release end <"$dir/a.dump"
[ "$(tenants)" = "xio-$tag-c " ] || fail "after release: $(tenants)"
[ ! -e "/dev/shm/xio-$tag-a" ] && [ ! -e "/dev/shm/xio-$tag-b" ] || fail "files left"
# xiod keeps the final accounting record of a removed tenant.
"$xioctl" --socket "$sock" stats | grep -Eq "^[0-9]+ +xio-$tag-a +detached " ||
	fail "no final record: $("$xioctl" --socket "$sock" stats)"
run 0 "hook-$tag-b" release end <"$dir/b.dump"
[ -z "$(tenants)" ] || fail "tenants left: $(tenants)"

# reconnect with the tenant and its file gone: cannot be adopted again,
# reported, exit 0 (adopting after an xiod restart: test_libvirt_sync).
run 0 "hook-$tag-b" reconnect begin <"$dir/b.dump"
one_line "reconnect without tenant" "not in xiod"

kill -TERM "$xpid"; wait "$xpid"; st=$?; xpid=
[ "$st" -eq 0 ] || fail "xiod exit $st"
echo "ok"
