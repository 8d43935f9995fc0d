#!/bin/bash
# SPDX-License-Identifier: MIT
# Lint the man pages under man/.
#   tests/check_man.sh lint       every page renders without a groff warning,
#                                 has its sections; every .so link resolves and
#                                 is named in its target's NAME line
#   tests/check_man.sh coverage   every function declared in the covered
#                                 headers (below) has a page; other exports
#                                 without one are listed
# Exit 0 pass, 1 fail, 77 skip (no groff, for lint).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-lint}
cd "$root/man"
fail=0
err() { echo "FAIL: $*"; fail=1; }

lint() {
	local f out target name
	if ! command -v groff >/dev/null 2>&1; then
		echo "SKIP: groff not found (apt-get install groff-base)"
		exit 77
	fi
	shopt -s nullglob
	local pages=(man3/*.3 man7/*.7)
	[ ${#pages[@]} -gt 0 ] || { err "no pages under man/"; return; }
	for f in "${pages[@]}"; do
		if head -n1 "$f" | grep -q '^\.so '; then
			# A link page: one line naming a page that exists and
			# that lists this name in its NAME section.
			[ "$(wc -l <"$f")" -eq 1 ] || err "$f: a .so page has exactly one line"
			target=$(sed -n 's/^\.so //p' "$f")
			if [ ! -f "$target" ]; then
				err "$f: .so target $target does not exist"
				continue
			fi
			name=$(basename "$f" | sed 's/\.[0-9]$//')
			sed -n '/^\.SH NAME/{n;p}' "$target" | grep -qw -- "$name" ||
				err "$f: $name is not in the NAME line of $target"
			continue
		fi
		out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$f" 2>&1) ||
			err "$f: groff failed"
		[ -z "$out" ] || err "$f: groff warnings: $out"
		for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
			grep -q "^\.SH \"\?$s\"\?\$" "$f" || err "$f: no $s section"
		done
		case $f in
		man3/*)
			for s in "RETURN VALUE" ERRORS; do
				grep -q "^\.SH $s\$" "$f" || err "$f: no $s section"
			done
			;;
		esac
		head -n2 "$f" | grep -q '^\.TH ' || err "$f: no .TH in the first two lines"
	done
	[ $fail -eq 0 ] && echo "man lint OK: ${#pages[@]} pages"
}

# Headers whose every function must have a page.  A header joins this list
# when its pages land (the core API first; steer.h, client.h, admin.h ... as
# their authors document them).
covered=${XIO_MAN_HEADERS:-xio.h}

# Function names declared at top level in a header (prototypes and static
# inlines; internal xio__* helpers excluded).
declared() {
	grep -hoE '^[a-z][^;{]*[ *]xio_[a-z0-9_]+\(' "$@" |
		grep -oE 'xio_[a-z0-9_]+\($' | tr -d '(' | grep -v '^xio__' | sort -u
}

coverage() {
	local fn h n=0 hdrs=() missing=()
	for h in $covered; do
		hdrs+=("$root/include/xio/$h")
	done
	mapfile -t fns < <(declared "${hdrs[@]}")
	for fn in "${fns[@]}"; do
		n=$((n + 1))
		[ -f "man3/$fn.3" ] ||
			err "$fn has no man page: add man/man3/$fn.3 (or a one-line '.so man3/PAGE.3' to the page documenting it)"
	done
	[ $n -gt 0 ] || err "found no functions in $covered"
	# Exports declared elsewhere: reported, not (yet) enforced.
	while read -r fn; do
		[ -f "man3/$fn.3" ] || missing+=("$fn")
	done < <(sed -n '/global:/,/local:/p' "$root/libxio/libxio.map" |
		grep -oE '^[[:space:]]*xio_[a-z0-9_]+;' | tr -d ' \t;' |
		grep -v '^xio__' | sort -u | comm -23 - <(printf '%s\n' "${fns[@]}"))
	if [ ${#missing[@]} -gt 0 ]; then
		echo "note: ${#missing[@]} exported functions outside $covered have no page yet: ${missing[*]}"
	fi
	[ $fail -eq 0 ] && echo "man coverage OK: $n functions of $covered"
}

case $mode in
lint) lint ;;
coverage) coverage ;;
*) echo "usage: $0 lint|coverage" >&2; exit 2 ;;
esac
exit $fail
