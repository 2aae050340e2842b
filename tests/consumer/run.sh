#!/usr/bin/env bash
# Installs the build in BUILD_DIR into a temporary prefix and builds and runs
# tests/consumer against it three ways: find_package(skein) with skein::skein
# (shared) and skein::skein_static, and a one-line pkg-config build. All three
# must print the same version and logits. The README's C example is built
# with pkg-config as C. Also checks the installed files, the CLI, the shared
# library's exported symbols and the Python module.
# Usage: run.sh SOURCE_DIR BUILD_DIR MODEL_DIR
set -euo pipefail
src=$1 build=$2 model=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "consumer: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name skein.pc) || true
[ -n "$pc" ] || fail "no skein.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in include/skein/skein.h include/skein/skein_c.h include/skein/export.h bin/skein; do
  [ -e "$prefix/$f" ] || fail "missing $prefix/$f"
done
for f in libskein.a libskein.so libskein.so.0 cmake/skein/skeinConfig.cmake cmake/skein/skeinConfigVersion.cmake; do
  [ -e "$libdir/$f" ] || fail "missing $libdir/$f"
done
readelf -d "$libdir/libskein.so" | grep -q 'SONAME.*\[libskein\.so\.0\]' || fail "libskein.so has no SONAME libskein.so.0"
# Only the public API is exported: C++ symbols in namespace skein (and the
# type_info/vtable of skein::Error), C symbols skein_*.
leaked=$(nm -D --defined-only "$libdir/libskein.so" | c++filt | awk '{ $1 = ""; $2 = ""; print }' |
  sed 's/^ *//' | grep -v -E '^(skein::|typeinfo for skein::|typeinfo name for skein::|vtable for skein::|skein_|SKEIN_0$)' || true)
[ -z "$leaked" ] || fail "libskein.so exports non-API symbols: $(echo "$leaked" | head -5)"
internal=$(nm -D --defined-only "$libdir/libskein.so" | c++filt | grep -E 'skein::(make_attention|SafetensorsFile|Arena)' || true)
[ -z "$internal" ] || fail "libskein.so exports internal symbols: $internal"

version=$("$prefix/bin/skein" --version)

cmake -S "$src/tests/consumer" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/build" -j2 >/dev/null
shared_out=$("$tmp/build/consumer" "$model")
static_out=$("$tmp/build/consumer_static" "$model")

# The one-line pkg-config build of the same source.
PKG_CONFIG_PATH=$libdir/pkgconfig c++ -std=c++20 "$src/tests/consumer/consumer.cpp" -o "$tmp/consumer_pc" \
  $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs skein)
pc_out=$(LD_LIBRARY_PATH=$libdir "$tmp/consumer_pc" "$model")
# The README's C example, built as C the same way and run next to models/code-lang.
PKG_CONFIG_PATH=$libdir/pkgconfig cc -std=c11 "$src/tests/examples/readme_example.c" -o "$tmp/c_example" \
  $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs skein)
c_out=$(cd "$src" && LD_LIBRARY_PATH=$libdir "$tmp/c_example")
grep -q '^label ' <<<"$c_out" || fail "the C example (pkg-config) printed no label: $c_out"

echo "$shared_out"
[ "$(head -1 <<<"$shared_out")" = "$version" ] || fail "consumer reports '$(head -1 <<<"$shared_out")', CLI '$version'"
[ "$shared_out" = "$static_out" ] || fail "skein::skein_static consumer differs: $static_out"
[ "$shared_out" = "$pc_out" ] || fail "pkg-config consumer differs: $pc_out"
grep -q '^caught skein::Error$' <<<"$shared_out" || fail "skein::Error not caught across libskein.so"

if [ -d "$libdir/python3/dist-packages" ]; then
  PYTHONPATH=$libdir/python3/dist-packages /usr/bin/python3 -c \
    "import skein, sys; m = skein.Model(sys.argv[1]); print('python', skein.__version__, m.session(threads=1).run([[1, 2, 3]])[0])" "$model"
fi
echo "consumer: ok (install, find_package shared + static, pkg-config C++ and C)"
