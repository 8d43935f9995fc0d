#!/bin/sh
# Smoke test: run `xio-bench --quick <subcommand>`; pass if it exits 0 and
# prints at least <min> well-formed RESULT lines for that subcommand; exit 77
# (skip) when it does.
# usage: smoke-test.sh <xio-bench binary> <subcommand> <min RESULT lines>
#                      [subcommand options...]
set -u
bin=$1 sub=$2 min=$3
shift 3
out=$("$bin" --quick "$sub" "$@")
st=$?
if [ "$st" -eq 77 ]; then
	printf '%s\n' "$out" # SKIP: the reason
	exit 77
fi
[ "$st" -eq 0 ] || { echo "xio-bench --quick $sub failed"; exit 1; }
printf '%s\n' "$out"
re="^RESULT|xio-bench|$sub\\.[A-Za-z0-9_.]*|[A-Za-z/]*|-\\{0,1\\}[0-9.]*|-\\{0,1\\}[0-9.]*|-\\{0,1\\}[0-9.]*|[0-9]*\$"
n=$(printf '%s\n' "$out" | grep -c "$re")
if [ "$n" -lt "$min" ]; then
	echo "expected >= $min RESULT lines for $sub, got $n"
	exit 1
fi
echo "ok: $n RESULT lines"
