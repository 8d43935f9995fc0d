#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Packaging test.  A DESTDIR-staged install first proves that everything
# lands under the prefix; then the built tree is installed into a temporary
# prefix (never /usr) and consumers are built and run against it alone:
#   (a) pkg-config: shared (-lxio) and static (libxio.a + --static deps);
#   (b) find_package(xio) in tests/install/CMakeLists.txt: xio::xio and
#       xio::xio_static; an unsatisfiable version request must fail;
#   (c) libxio.so.0: SONAME, exactly the symbols of libxio.map exported, all
#       named xio_* and versioned; libxio.a defines globals only in xio_*.
# Also: every installed header compiles alone as strict C11, and as C++.
#
# usage: test_install.sh SOURCE_DIR BUILD_DIR C_COMPILER [SANITIZER_FLAGS]
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu

src=$1
build=$2
cc=$3
san=${4:-}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() {
	echo "== $*"
}

for tool in pkg-config nm readelf cmake; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "SKIP: $tool not installed"
		exit 77
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xio-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
# Nothing from the build environment may leak into the consumers' view.
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR CMAKE_PREFIX_PATH LD_LIBRARY_PATH \
	CFLAGS LDFLAGS 2>/dev/null || true

# First a staged install (DESTDIR): it cannot write outside the stage even
# if a component installs to an absolute path, and it proves that none does,
# so that the --prefix install below cannot touch the system either.
step "DESTDIR staging"
cfg_prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
DESTDIR=$tmp/stage cmake --install "$build" >"$tmp/stage.log" 2>&1 ||
	{ cat "$tmp/stage.log" >&2; fail "DESTDIR=... cmake --install"; }
grep -- '-- Installing: \|-- Up-to-date: ' "$tmp/stage.log" |
	sed 's/^-- [A-Za-z-]*: //' >"$tmp/stage_files"
[ -s "$tmp/stage_files" ] || fail "nothing staged"
while read -r f; do
	case $f in
	"$tmp/stage$cfg_prefix"/*) ;;
	*) fail "installed outside the prefix (absolute DESTINATION?): $f" ;;
	esac
done <"$tmp/stage_files"
spc=$(find "$tmp/stage" -name xio.pc -path '*/pkgconfig/*' | head -n1)
grep -q "^prefix=$cfg_prefix\$" "$spc" ||
	fail "staged xio.pc does not name the configured prefix $cfg_prefix"

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install"; }
grep -- '-- Installing: \|-- Up-to-date: ' "$tmp/install.log" |
	sed 's/^-- [A-Za-z-]*: //' >"$tmp/files"
[ -s "$tmp/files" ] || fail "nothing installed"
while read -r f; do
	case $f in
	"$prefix"/*) ;;
	*) fail "installed outside the prefix: $f" ;;
	esac
done <"$tmp/files"

pc=$(find "$prefix" -name xio.pc -path '*/pkgconfig/*' | head -n1)
[ -n "$pc" ] || fail "xio.pc not installed"
libdir=$(dirname "$(dirname "$pc")")
incdir=$prefix/include
for f in "$incdir/xio/xio.h" "$incdir/xio/abi.h" "$incdir/xio/barrier.h" \
	"$libdir/libxio.so.0" "$libdir/libxio.so" "$libdir/libxio.a" \
	"$libdir/cmake/xio/xioConfig.cmake" \
	"$libdir/cmake/xio/xioConfigVersion.cmake" \
	"$libdir/cmake/xio/xioTargets.cmake"; do
	[ -e "$f" ] || fail "missing after install: $f"
done
[ "$(readlink "$libdir/libxio.so")" = libxio.so.0 ] ||
	fail "libxio.so does not link to libxio.so.0"
[ ! -e "$incdir/xio/internal.h" ] || fail "private header installed"

cflags_strict="-std=c11 -pedantic -Wall -Wextra -Werror"

step "headers compile alone (C11, C++)"
cxx=
for c in c++ g++ clang++; do
	if command -v "$c" >/dev/null 2>&1; then
		cxx=$c
		break
	fi
done
for h in "$incdir"/xio/*.h; do
	name=xio/$(basename "$h")
	printf '#include <%s>\nint xio_header_test_dummy;\n' "$name" >"$tmp/h.c"
	# shellcheck disable=SC2086
	$cc $cflags_strict -I"$incdir" -c "$tmp/h.c" -o "$tmp/h.o" ||
		fail "$name does not compile alone as C11"
	if [ -n "$cxx" ]; then
		$cxx -std=c++11 -pedantic -Wall -Wextra -Werror -I"$incdir" \
			-x c++ -c "$tmp/h.c" -o "$tmp/h.o" ||
			fail "$name does not compile as C++"
	fi
done

export PKG_CONFIG_PATH="$libdir/pkgconfig"

step "pkg-config metadata"
[ "$(pkg-config --variable=prefix xio)" = "$prefix" ] ||
	fail "xio.pc prefix is $(pkg-config --variable=prefix xio), not $prefix"
pkg-config --cflags xio | grep -q -- "-I$incdir" ||
	fail "pkg-config --cflags: $(pkg-config --cflags xio)"
pkg-config --libs xio | grep -q -- "-L$libdir" ||
	fail "pkg-config --libs: $(pkg-config --libs xio)"
ver=$(pkg-config --modversion xio)
echo "xio $ver: $(pkg-config --cflags --libs xio)"

step "(a) pkg-config, shared"
# shellcheck disable=SC2046,SC2086
$cc $cflags_strict $san $(pkg-config --cflags xio) -o "$tmp/consumer_dyn" \
	"$src/tests/install/consumer.c" $(pkg-config --libs xio) ||
	fail "building the consumer with pkg-config --cflags --libs xio"
readelf -d "$tmp/consumer_dyn" | grep -q 'NEEDED.*\[libxio\.so\.0\]' ||
	fail "consumer_dyn does not need libxio.so.0"
LD_LIBRARY_PATH=$libdir ldd "$tmp/consumer_dyn" | grep -q "$libdir/libxio.so.0" ||
	fail "consumer_dyn does not resolve libxio.so.0 in $libdir"
LD_LIBRARY_PATH=$libdir "$tmp/consumer_dyn" || fail "consumer_dyn failed"

step "(a) pkg-config --static, libxio.a"
# -l:libxio.a picks the archive even though libxio.so sits beside it.
libs=$(pkg-config --static --libs xio | sed 's/-lxio\b/-l:libxio.a/')
echo "static libs: $libs"
# shellcheck disable=SC2046,SC2086
$cc $cflags_strict $san $(pkg-config --cflags xio) -o "$tmp/consumer_static" \
	"$src/tests/install/consumer.c" $libs ||
	fail "building the consumer with pkg-config --static --libs xio"
if readelf -d "$tmp/consumer_static" | grep -q 'NEEDED.*libxio'; then
	fail "consumer_static still needs libxio.so"
fi
"$tmp/consumer_static" || fail "consumer_static failed"

step "(b) find_package(xio)"
cmake -S "$src/tests/install" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$san" \
	-DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_BUILD_TYPE=Debug \
	>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "configuring the find_package consumer"; }
grep -q "xio_DIR:PATH=$libdir/cmake/xio" "$tmp/cmake/CMakeCache.txt" ||
	fail "find_package(xio) did not find the installed package: $(grep xio_DIR "$tmp/cmake/CMakeCache.txt")"
cmake --build "$tmp/cmake" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log" >&2; fail "building the find_package consumer"; }
readelf -d "$tmp/cmake/consumer_shared" | grep -q 'NEEDED.*\[libxio\.so\.0\]' ||
	fail "consumer_shared does not need libxio.so.0"
# No LD_LIBRARY_PATH: CMake's build RPATH must find the installed library.
"$tmp/cmake/consumer_shared" || fail "consumer_shared (xio::xio) failed"
if readelf -d "$tmp/cmake/consumer_static" | grep -q 'NEEDED.*libxio'; then
	fail "consumer_static (xio::xio_static) needs libxio.so"
fi
"$tmp/cmake/consumer_static" || fail "consumer_static (xio::xio_static) failed"
if cmake -S "$src/tests/install" -B "$tmp/cmake-v" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DXIO_WANT_VERSION=99.0 >"$tmp/cmake-v.log" 2>&1; then
	fail "find_package(xio 99.0) succeeded against xio $ver"
fi

step "(c) libxio.so.0: SONAME and exported symbols"
so=$libdir/libxio.so.0
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libxio.so.0 ] || fail "SONAME is '$soname', want libxio.so.0"
# Defined dynamic symbols, minus the version-definition entries (XIO_x.y).
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' | sort >"$tmp/syms"
nm -D --defined-only "$so" | awk '$2 == "A" { print $3 }' >"$tmp/vers"
[ -s "$tmp/syms" ] || fail "no symbols exported"
if grep -v '^xio_[A-Za-z0-9_]*@@*XIO_[0-9.]*$' "$tmp/syms"; then
	fail "symbols above are not xio_* or not versioned XIO_*"
fi
if grep -v '^XIO_[0-9.]*$' "$tmp/vers"; then
	fail "unexpected absolute symbols above"
fi
# Exactly the functions the version script lists: none missing, none extra.
sed 's/@.*//' "$tmp/syms" | sort -u >"$tmp/exported"
sed -n 's/^[[:space:]]*\(xio_[A-Za-z0-9_]*\);.*/\1/p' "$src/libxio/libxio.map" |
	sort -u >"$tmp/mapped"
if ! cmp -s "$tmp/exported" "$tmp/mapped"; then
	echo "exported (<) vs libxio.map (>):" >&2
	diff "$tmp/exported" "$tmp/mapped" >&2 || true
	fail "exported symbols differ from libxio.map"
fi
echo "$(wc -l <"$tmp/exported") symbols exported, all xio_*, versioned; SONAME $soname"

step "(c) libxio.a: every global symbol is in the xio_ namespace"
# A static consumer links these into its own namespace.
nm -g --defined-only "$libdir/libxio.a" | awk 'NF == 3 { print $3 }' |
	sort -u >"$tmp/static_syms"
[ -s "$tmp/static_syms" ] || fail "no symbols in libxio.a"
if grep -v '^xio_' "$tmp/static_syms"; then
	fail "libxio.a defines the global symbols above outside xio_*"
fi

echo "ok"
