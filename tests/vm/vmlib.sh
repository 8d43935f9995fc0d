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
