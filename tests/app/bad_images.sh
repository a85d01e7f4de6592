#!/bin/sh
# tests/app/bad_images.sh - bad image files given to `nnedge app ocr` and
# `nnedge app classify` must end with exit status 2 and one "nnedge: ..."
# line naming the problem (never a crash or a sanitizer report).
#
#   NNEDGE=build-san/nnedge OCR_MODELS=DIR CLASSIFIER=models/fashion_cnn.onnx sh tests/app/bad_images.sh WORKDIR
set -u
nnedge=${NNEDGE:-build/nnedge}
work=${1:-build/app-bad}
rm -rf "$work" && mkdir -p "$work"
py=/usr/bin/python3
$py - "$work" <<'PY'
import io, struct, sys, zlib
from PIL import Image
d = sys.argv[1]
def w(name, data):
    open(f"{d}/{name}", "wb").write(data)
good = io.BytesIO(); Image.new("RGB", (64, 48), (200, 10, 10)).save(good, "PNG"); png = good.getvalue()
good = io.BytesIO(); Image.new("RGB", (64, 48), (200, 10, 10)).save(good, "JPEG"); jpg = good.getvalue()
w("empty.png", b"")
w("text.jpg", b"this is not an image\n")
w("sig_only.png", png[:8])
w("truncated.png", png[: len(png) // 2])
bad = bytearray(png); i = bad.index(b"IDAT"); bad[i + 6] ^= 0xFF; w("bad_idat.png", bytes(bad))
w("truncated.jpg", jpg[: len(jpg) // 2])
w("soi_garbage.jpg", b"\xff\xd8\xff" + b"\x00" * 40)
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
w("huge.png", png[:8] + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b""))
ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)
w("zero_width.png", png[:8] + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
PY
fails=0
n=0
check() { # VERB... FILE
    n=$((n + 1))
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    lines=$(printf '%s\n' "$err" | grep -c .)
    if [ "$rc" != 2 ] || [ "$lines" != 1 ] || ! printf '%s' "$err" | grep -q '^nnedge: '; then
        echo "FAIL (exit $rc, $lines stderr lines): $*"
        printf '%s\n' "$err" | head -5
        fails=$((fails + 1))
    else
        echo "ok   exit 2: ${err#nnedge: }"
    fi
}
for f in "$work"/*.png "$work"/*.jpg "$work/missing.png"; do
    if [ -n "${OCR_MODELS:-}" ]; then check "$nnedge" app ocr --models "$OCR_MODELS" "$f"; fi
    if [ -n "${CLASSIFIER:-}" ]; then check "$nnedge" app classify "$CLASSIFIER" "$f"; fi
done
echo "bad_images: $n cases, $fails failed"
[ "$fails" = 0 ]
