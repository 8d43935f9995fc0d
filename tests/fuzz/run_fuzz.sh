#!/bin/sh
# SPDX-License-Identifier: MIT
# run_fuzz.sh FUZZER CORPUS WORKDIR [libFuzzer flags...]
# Run FUZZER for a bounded time over a scratch copy of the seed corpus
# CORPUS (new inputs go to WORKDIR/corpus, crashes to WORKDIR/crash-*).
# Exit status: the fuzzer's (non-zero on any crash, leak or sanitizer report).
set -eu
fuzzer=$1 seeds=$2 work=$3
shift 3
rm -rf "$work"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/" 2>/dev/null || true
cd "$work"
exec "$fuzzer" -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/corpus"
