#!/bin/bash
# SPDX-License-Identifier: MIT
# Check that C sources agree with .clang-format, changing nothing.
#   tests/check_format.sh                 every C source and header of the tree
#   tests/check_format.sh FILE...         just those files
# Exit 0 clean, 1 if a file would be reformatted, 77 (skip) without
# clang-format.  CLANG_FORMAT=/path/to/clang-format overrides the binary.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null 2>&1; then
	echo "SKIP: $cf not found (apt-get install clang-format)"
	exit 77
fi
cd "$root"
if [ $# -eq 0 ]; then
	mapfile -t files < <(find include libxio daemon tools bpf examples tests \
		-name '*.[ch]' | sort)
else
	files=("$@")
fi
bad=0
for f in "${files[@]}"; do
	if ! "$cf" --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "needs formatting: $f (see: $cf $f | diff -u $f -)"
		bad=1
	fi
done
if [ "$bad" -ne 0 ]; then
	exit 1
fi
echo "format OK: ${#files[@]} files"
