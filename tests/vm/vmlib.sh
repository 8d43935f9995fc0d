# SPDX-License-Identifier: MIT
# Shared by the scripts that boot a guest (tests/vm/run-vm-test.sh,
# examples/vm/vm-bench.sh): source it, define skip() and fail(), then
#
#   vm_prereqs GUEST_BIN...      sets $qemu $kernel $busybox; skip() with the
#                                reason when something is missing, fail()
#                                when a guest program is not a static binary
#   vm_initramfs DIR OUT BIN...  packs busybox and the programs (as
#                                /BASENAME) with an /init that mounts proc,
#                                sysfs and devtmpfs, runs the shell lines read
#                                from stdin and powers off
#   vm_qemu ACCEL SECS APPEND ARGS...
#                                boots $kernel with $initrd, serial console
#                                to $serial, bounded by timeout
#   vm_workdir PREFIX            sets $workdir: a new /tmp/PREFIX.XXXXXX, or
#                                the given $workdir emptied
#   vm_hook_tenant DOMAIN TENANT [SERVER]
#                                the libvirt hook (fed a domain XML with one
#                                1 MiB xio <shmem>: ivshmem-plain, or
#                                ivshmem-doorbell with xiod serving on
#                                SERVER) has the xiod at $sock make TENANT,
#                                then xioctl adds $target (emptied) as its
#                                target 0; defines hook OP SUBOP, logs to
#                                $hostlog ($hook_bin, $xioctl_bin, $workdir)
#
# Environment: XIO_VM_QEMU, XIO_VM_KERNEL, XIO_VM_BUSYBOX (see run-vm-test.sh).

vm_prereqs() {
	local b t
	[ "$(id -u)" -eq 0 ] ||
		skip "not root (the VM test reads /boot/vmlinuz-* and creates /dev/shm files)"
	qemu=${XIO_VM_QEMU:-$(command -v qemu-system-x86_64 || true)}
	[ -n "$qemu" ] && [ -x "$qemu" ] ||
		skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
	kernel=${XIO_VM_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)}
	[ -n "$kernel" ] && [ -r "$kernel" ] ||
		skip "no kernel in /boot/vmlinuz-* (apt-get install linux-image-amd64)"
	busybox=${XIO_VM_BUSYBOX:-/bin/busybox}
	[ -x "$busybox" ] || skip "no $busybox (apt-get install busybox-static)"
	if readelf -l "$busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		skip "$busybox is dynamically linked (apt-get install busybox-static)"
	fi
	for t in cpio gzip timeout; do
		command -v $t >/dev/null 2>&1 ||
			skip "$t not found (apt-get install cpio gzip coreutils)"
	done
	[ -d /dev/shm ] && [ -w /dev/shm ] || skip "/dev/shm is not a writable tmpfs"
	for b; do
		[ -x "$b" ] || fail "$b not built"
		if readelf -l "$b" | grep -q 'Requesting program interpreter'; then
			fail "$b is not statically linked"
		fi
	done
}

vm_initramfs() {
	local root=$1 out=$2 f
	shift 2
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
	cp "$busybox" "$root/bin/busybox"
	for f; do
		cp "$f" "$root/${f##*/}"
	done
	{
		cat <<'EOF'
#!/bin/busybox sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
EOF
		cat
		printf 'poweroff -f\necho o >/proc/sysrq-trigger\n'
	} >"$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
}

# no_timer_check: under TCG on a loaded host the guest kernel's check of the
# IO-APIC timer can fail and panic the boot; the check is pointless here.
vm_qemu() {
	local a=$1 t=$2 app=$3
	shift 3
	timeout --kill-after=5 "$t" "$qemu" -accel "$a" -m 256M -smp 1 \
		-nodefaults -nographic -no-reboot -monitor none \
		-serial "file:$serial" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet no_timer_check $app" "$@" </dev/null
}

vm_workdir() {
	if [ -z "$workdir" ]; then
		workdir=$(mktemp -d "/tmp/$1.XXXXXX")
	else
		rm -rf "$workdir"
		mkdir -p "$workdir"
	fi
}

vm_hook_tenant() {
	local tn=$2 server=${3:-} model="<model type='ivshmem-plain'/>"
	vm_dom=$1 # global: hook() runs later too
	[ -z "$server" ] ||
		model="<model type='ivshmem-doorbell'/><server path='$server'/>"
	cat >"$workdir/domain.xml" <<XML
<domain type='qemu'>
  <name>$vm_dom</name>
  <uuid>00000000-0000-4000-8000-00000000$(printf %04x $(($$ % 65536)))</uuid>
  <devices>
    <shmem name='$tn'>$model<size unit='M'>1</size></shmem>
  </devices>
</domain>
XML
	hook() { XIO_SOCKET=$sock XIO_HOOK_QEMU_USER=root "$hook_bin" "$vm_dom" "$@" - \
		<"$workdir/domain.xml" >>"$hostlog" 2>&1; }
	hook prepare begin || fail "the hook's prepare failed"
	: >"$target"
	"$xioctl_bin" --socket "$sock" target add "$tn" "$target" >>"$hostlog" 2>&1 ||
		fail "xioctl target add"
}
