#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run every test, in three builds, warnings as errors, then the fuzzers:
#   plain  build/       the build ./setup.sh made
#   asan   build-asan/  -DXIO_SANITIZE=address (ASan + UBSan) and
#                       -DXIO_FAULT_INJECT=ON (the fault tests run only here)
#   tsan   build-tsan/  -DXIO_SANITIZE=thread  (TSan)
#   fuzz   build-fuzz/  CC=clang -DXIO_FUZZ=ON, runs only `ctest -L fuzz`
#                       (each libFuzzer target 20 s; skipped without clang;
#                       docs/fuzzing.md)
# Each build is configured (if needed) and built, then ctest runs the whole
# suite there.  Exit status is non-zero if anything failed to configure, to
# build, or to pass.
#
#   ./test.sh                         everything
#   ./test.sh -L unit                 arguments go to ctest (here: label unit)
#   XIO_TEST_BUILDS="plain asan" ./test.sh    a subset of the builds
#   XIO_TEST_BUILDS=fuzz ./test.sh            just the fuzzers
#   XIO_TEST_JOBS=4 ./test.sh         ctest parallelism (default 2)
#
# Labels: unit integration bpf vm fuzz fault sanitizer bench lint (see README.md).
set -euo pipefail

cd "$(dirname "$0")"

builds=${XIO_TEST_BUILDS:-plain asan tsan fuzz}
test_jobs=${XIO_TEST_JOBS:-2}
build_jobs=$(nproc 2>/dev/null || echo 2)

# Sanitizer reports are failures, with a stack; the caller may override.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

say() { printf '==> %s\n' "$*"; }

declare -A result
total_pass=0
total_fail=0
total_skip=0
status=0
start=$(date +%s)

# run_build NAME DIR SANITIZE [CMAKE ARGS...]
run_build() {
	local name=$1 dir=$2 san=$3 log rc t0 line pass fail skip
	shift 3
	t0=$(date +%s)
	say "[$name] configure $dir (XIO_SANITIZE=${san:-none}, XIO_WERROR=ON $*)"
	mkdir -p "$dir"
	if ! cmake -S . -B "$dir" -DXIO_WERROR=ON -DXIO_SANITIZE="$san" "$@" \
		>"$dir/configure.log" 2>&1; then
		cat "$dir/configure.log"
		result[$name]="FAILED to configure"
		return 1
	fi
	say "[$name] build -j$build_jobs"
	if ! cmake --build "$dir" -j"$build_jobs"; then
		result[$name]="FAILED to build"
		return 1
	fi
	say "[$name] ctest -j$test_jobs ${ctest_args[*]}"
	log=$(mktemp)
	set +e
	ctest --test-dir "$dir" --output-on-failure --no-tests=error \
		-j"$test_jobs" "${ctest_args[@]}" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	# "100% tests passed, 0 tests failed out of 12"; skips are listed
	# below it as "NAME (Skipped)" and counted among the passed.
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
	skip=$(grep -c '(Skipped)$' "$log" || true)
	rm -f "$log"
	if [ -n "$line" ]; then
		fail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
		pass=$(($(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line") - fail - skip))
	else
		pass=0 fail=0
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	result[$name]="$pass passed, $fail failed, $skip skipped ($(($(date +%s) - t0)) s)"
	if [ "$rc" -ne 0 ]; then
		[ -n "$line" ] || result[$name]="FAILED: ctest exit $rc (no tests run?)"
		return 1
	fi
	return 0
}

user_args=("$@")
for b in $builds; do
	extra=()
	ctest_args=("${user_args[@]}")
	case $b in
	plain) dir=build san= ;;
	asan)
		# Fault injection runs here, under ASan+UBSan (label fault).
		dir=build-asan san=address
		extra=(-DXIO_FAULT_INJECT=ON)
		;;
	tsan) dir=build-tsan san=thread ;;
	fuzz)
		dir=build-fuzz san=
		if ! command -v clang >/dev/null 2>&1; then
			say "[fuzz] skipped: clang not found (apt-get install clang)"
			result[$b]="skipped (no clang)"
			continue
		fi
		extra=(-DCMAKE_C_COMPILER=clang -DXIO_FUZZ=ON)
		ctest_args=(-L fuzz)
		;;
	*)
		echo "test.sh: unknown build '$b' in XIO_TEST_BUILDS (plain, asan, tsan, fuzz)" >&2
		exit 2
		;;
	esac
	if ! run_build "$b" "$dir" "$san" "${extra[@]}"; then
		status=1
	fi
done

echo
echo "==================== test.sh summary ===================="
for b in $builds; do
	printf '  %-6s %s\n' "$b" "${result[$b]:-not run}"
done
echo "  elapsed: $(($(date +%s) - start)) s"
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
if [ "$status" -ne 0 ]; then
	echo "test.sh: FAILED"
else
	echo "test.sh: all builds passed"
fi
exit "$status"
