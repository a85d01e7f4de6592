#!/bin/sh
# tests/abi/install.sh - `make install` into a temporary prefix, check the
# installed files, then build tests/abi/consumer.c against the installed
# nnedge with `pkg-config --cflags --libs nnedge`, linked with the shared
# library (run with LD_LIBRARY_PATH) and with the static one, and run both.
# Then the pre-processing API: tests/abi/consumer_io.c built with
# `pkg-config nnedge-io` (nnedge_image.h, nnedge_audio.h, libnnedge_io on
# libjpeg/libpng/libsndfile/libsamplerate), shared and static, decodes PNG and
# JPEG files, resizes and normalizes them and runs models/fashion_cnn.onnx,
# and decodes, resamples and log-mels a WAV file; tests/abi/io_data.py checks
# its logits against the installed `nnedge run` on numpy's preprocessing.
# Also checks that DESTDIR stages the files while nnedge.pc keeps PREFIX, and
# that make uninstall removes everything.
# Usage: sh tests/abi/install.sh   (MAKE=, CC= as usual)
set -eu
MAKE=${MAKE:-make}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install: $*" >&2; exit 1; }

prefix=$tmp/prefix
$MAKE --no-print-directory -j"${J:-2}" install PREFIX="$prefix" DESTDIR= > "$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log"; fail "make install PREFIX=$prefix failed"; }
for f in include/nnedge.h include/nnedge_image.h include/nnedge_audio.h lib/libnnedge.a lib/libnnedge.so \
         lib/libnnedge_io.a lib/libnnedge_io.so lib/pkgconfig/nnedge.pc lib/pkgconfig/nnedge-io.pc bin/nnedge; do
    [ -e "$prefix/$f" ] || fail "make install did not install $f"
done
[ -x "$prefix/bin/nnedge" ] || fail "bin/nnedge is not executable"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"   # only ours, not the system's
version=$(pkg-config --modversion nnedge) || fail "pkg-config does not find nnedge.pc"
"$prefix/bin/nnedge" --version | grep -qx "nnedge $version" \
    || fail "installed nnedge --version says '$("$prefix/bin/nnedge" --version)', nnedge.pc says $version"
[ "$(pkg-config --variable=prefix nnedge)" = "$prefix" ] || fail "nnedge.pc prefix is not $prefix"

# shared: the program must load the installed .so (not one from build/)
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_shared" tests/abi/consumer.c $(pkg-config --cflags --libs nnedge) \
    || fail "cannot build against the installed shared library"
LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/consumer_shared" | grep -q "$prefix/lib/libnnedge.so" \
    || fail "consumer_shared does not load $prefix/lib/libnnedge.so"
out=$(LD_LIBRARY_PATH="$prefix/lib" "$tmp/consumer_shared" tests/models/add_2x3.onnx) || fail "consumer_shared failed"
[ "$out" = "ok $version" ] || fail "consumer_shared printed '$out'"

# static: the archive, with the private libraries pkg-config --static adds
libs=$(pkg-config --static --libs nnedge | sed 's/-lnnedge/-l:libnnedge.a/')
# shellcheck disable=SC2046,SC2086
$CC -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_static" tests/abi/consumer.c $(pkg-config --cflags nnedge) $libs \
    || fail "cannot build against the installed static library"
if ldd "$tmp/consumer_static" | grep -q libnnedge; then fail "consumer_static loads libnnedge.so"; fi
out=$("$tmp/consumer_static" tests/models/add_2x3.onnx) || fail "consumer_static failed"
[ "$out" = "ok $version" ] || fail "consumer_static printed '$out'"

# the pre-processing API through nnedge-io.pc: decode, resize, normalize, run; audio
[ "$(pkg-config --modversion nnedge-io)" = "$version" ] || fail "nnedge-io.pc is not version $version"
/usr/bin/python3 tests/abi/io_data.py gen "$tmp/io" || fail "cannot make the image and audio inputs"
"$prefix/bin/nnedge" run models/fashion_cnn.onnx -i "input=$tmp/io/batch.npy" -o "$tmp/io/run" > /dev/null \
    || fail "nnedge run on the reference batch failed"
io_args="models/fashion_cnn.onnx $tmp/io/tone.wav tests/models/add_2x3.onnx $(ls "$tmp"/io/f*.png) $(ls "$tmp"/io/f*.jpg)"
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_io_shared" tests/abi/consumer_io.c \
    $(pkg-config --cflags --libs nnedge-io) -lm || fail "cannot build against the installed libnnedge_io.so"
for l in libnnedge_io.so libnnedge.so; do
    LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/consumer_io_shared" | grep -q "$prefix/lib/$l" \
        || fail "consumer_io_shared does not load $prefix/lib/$l"
done
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$prefix/lib" "$tmp/consumer_io_shared" $io_args > "$tmp/io/shared.txt" || fail "consumer_io_shared failed"
/usr/bin/python3 tests/abi/io_data.py check "$tmp/io" "$tmp/io/shared.txt" "$tmp/io/run" \
    || fail "consumer_io_shared's results differ from the reference"
libs=$(pkg-config --static --libs nnedge-io | sed -e 's/-lnnedge_io/-l:libnnedge_io.a/' -e 's/-lnnedge\( \|$\)/-l:libnnedge.a /')
# shellcheck disable=SC2046,SC2086
$CC -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer_io_static" tests/abi/consumer_io.c \
    $(pkg-config --cflags nnedge-io) $libs -lm || fail "cannot build against the installed libnnedge_io.a"
if ldd "$tmp/consumer_io_static" | grep -q libnnedge; then fail "consumer_io_static loads a libnnedge*.so"; fi
# shellcheck disable=SC2086
"$tmp/consumer_io_static" $io_args > "$tmp/io/static.txt" || fail "consumer_io_static failed"
cmp -s "$tmp/io/shared.txt" "$tmp/io/static.txt" || fail "consumer_io static and shared printed different results"

# the installed header from C++ (extern "C", the inline option defaults), warning-free
if command -v c++ >/dev/null 2>&1; then
    printf '#include <nnedge.h>\n#include <nnedge_image.h>\n#include <nnedge_audio.h>\nint main() { nne_session_options o = nne_session_options_default();\n%s\n' \
        '  nne_model_options m = nne_model_options_default(); return (int)(o.struct_size + m.struct_size) == 0; }' \
        > "$tmp/hdr.cpp"
    # shellcheck disable=SC2046
    c++ -Wall -Wextra -Werror -o "$tmp/hdr_cpp" "$tmp/hdr.cpp" $(pkg-config --cflags --libs nnedge) \
        || fail "the installed headers do not compile as C++ without warnings"
fi

# DESTDIR: files go under it, nnedge.pc still says PREFIX
$MAKE --no-print-directory install PREFIX=/opt/nnedge-test DESTDIR="$tmp/stage" > "$tmp/install2.log" 2>&1 \
    || { cat "$tmp/install2.log"; fail "make install DESTDIR=... failed"; }
for f in include/nnedge.h include/nnedge_image.h include/nnedge_audio.h lib/libnnedge.a lib/libnnedge.so \
         lib/libnnedge_io.a lib/libnnedge_io.so lib/pkgconfig/nnedge.pc lib/pkgconfig/nnedge-io.pc bin/nnedge; do
    [ -e "$tmp/stage/opt/nnedge-test/$f" ] || fail "make install DESTDIR= did not stage $f"
done
grep -qx "prefix=/opt/nnedge-test" "$tmp/stage/opt/nnedge-test/lib/pkgconfig/nnedge.pc" \
    || fail "staged nnedge.pc does not say prefix=/opt/nnedge-test"
[ ! -e /opt/nnedge-test ] || fail "make install with DESTDIR wrote outside it"

# uninstall removes every installed file
$MAKE --no-print-directory uninstall PREFIX="$prefix" DESTDIR= > "$tmp/uninstall.log" 2>&1 \
    || { cat "$tmp/uninstall.log"; fail "make uninstall failed"; }
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install: nnedge $version installed, built and ran against with pkg-config (shared and static; nnedge and nnedge-io:" \
     "images decoded, resized, normalized and run, audio resampled and log-mel'd), DESTDIR staging and uninstall ok"
