#!/bin/sh
# Smoke test of xio-copy: a private xiod on a temporary socket copies a
# random file (not a multiple of the chunk size) and cmp(1) checks the copy
# independently of xio-copy's own checksums.
# usage: xio-copy-test.sh XIOD XIO-COPY
set -eu
xiod=$1 copy=$2
dir=$(mktemp -d /tmp/xio-copy-test.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
"$xiod" --foreground --socket "$dir/sock" --pollers 1 --log-level warn \
	2>"$dir/xiod.log" &
pid=$!
i=0
while [ ! -S "$dir/sock" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "FAIL: xiod did not start"; cat "$dir/xiod.log"; exit 1
	fi
	sleep 0.1
done
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$dir/src"
"$copy" --socket "$dir/sock" --depth 8 --chunk 65536 "$dir/src" "$dir/dst"
cmp "$dir/src" "$dir/dst"
: >"$dir/empty"
"$copy" --socket "$dir/sock" "$dir/empty" "$dir/empty.copy"
cmp "$dir/empty" "$dir/empty.copy"
# A missing source is a one-line error and a non-zero exit.
if "$copy" --socket "$dir/sock" "$dir/nope" "$dir/x" 2>"$dir/err"; then
	echo "FAIL: missing source accepted"; exit 1
fi
grep -q "xio-copy: " "$dir/err"
echo "PASS xio-copy"
