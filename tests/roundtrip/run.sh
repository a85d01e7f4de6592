#!/usr/bin/env bash
# Round-trip test (issue 6): every model of ../shared/onnx-tests (node, simple,
# pytorch-converted, pytorch-operator, light) and every differential-test model
# (tests/diff) is written by `nnedge convert --optimize none`, then
#   1. rt_check (C): the written model loads and is the same graph, and runs in
#      nnedge with bit-identical outputs on the test data inputs (every data
#      set; light models: arange inputs; diff models: the seeded inputs of tests/diff);
#   2. rt_onnx_check.py: onnx.checker.check_model(full_check=True) passes on the
#      written model wherever it passes on the original;
#   3. rt_ort.mjs: ONNX Runtime loads and runs the written model wherever it
#      loads and runs the original, with the same outputs.
# Then the same with --optimize all (outputs within the differential tests'
# tolerance instead of bit-identical; graphs differ on purpose).
# One C, one Python and one node process do the checking; the converting is one
# `nnedge convert` per model, two at a time.
#
# Environment: NNEDGE (default build/nnedge), RT_CHECK (default build/rt_check),
# OUT (work folder, default build/roundtrip), SHARED (default ../shared),
# NNEDGE_MODELS (exported torchvision models, default build/models),
# PYTHON (default /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
nnedge=${NNEDGE:-build/nnedge}
rt_check=${RT_CHECK:-build/rt_check}
out=${OUT:-build/roundtrip}
shared=${SHARED:-../shared}
models=${NNEDGE_MODELS:-build/models}
python=${PYTHON:-/usr/bin/python3}
tests=$shared/onnx-tests

rm -rf "$out"
mkdir -p "$out/conv" "$out/npy"
# nothing here may write to the models it reads (they are shared test data)
marker=$out/start
touch "$marker"
list=$out/list.tsv
: > "$list"
for suite in node simple pytorch-converted pytorch-operator; do
  mkdir -p "$out/conv/$suite"
  for d in "$tests/$suite"/*/; do
    [ -f "$d/model.onnx" ] || continue
    n=$(basename "$d")
    printf '%s\t%s\tpb:%s\n' "$d/model.onnx" "$out/conv/$suite/$n.onnx" "${d%/}" >> "$list"
  done
done
mkdir -p "$out/conv/light"
for f in "$tests"/light/*.onnx; do
  printf '%s\t%s\tgen\n' "$f" "$out/conv/light/$(basename "$f")" >> "$list"
done
# models made for this test (metadata, functions, external data, subgraphs):
# written once inline and once with every initializer in external data
mkdir -p "$out/conv/own" "$out/conv/own_ext"
ext_list=$out/ext_list.tsv
: > "$ext_list"
for f in "$here"/models/*.onnx; do
  printf '%s\t%s\tgen\n' "$f" "$out/conv/own/$(basename "$f")" >> "$list"
  printf '%s\t%s\tgen\n' "$f" "$out/conv/own_ext/$(basename "$f")" >> "$ext_list"
done
# differential-test models with their seeded inputs (needs onnxruntime-node)
have_ort=0
if [ -d tests/diff/node_modules/onnxruntime-node ]; then
  have_ort=1
  mkdir -p "$out/conv/diff"
  NNEDGE_MODELS_DIR=$models node "$here/rt_ort.mjs" prep "$models" "$out/conv/diff" >> "$list"
else
  echo "roundtrip: tests/diff/node_modules is missing: differential models and the ONNX Runtime check are skipped" >&2
fi
echo "roundtrip: listed in ${SECONDS}s; converting $(wc -l < "$list") models with $nnedge convert --optimize none"
cut -f1,2 "$list" | tr '\t' '\n' | xargs -d '\n' -n2 -P2 sh -c '"$0" convert "$1" -o "$2" --optimize none 2>/dev/null || true' "$nnedge"
while IFS=$'\t' read -r orig conv _; do
  "$nnedge" convert "$orig" -o "$conv" --optimize none --external-data "$(basename "$conv").bin" \
    --external-threshold 1 || true
done < "$ext_list"
cat "$ext_list" >> "$list"
echo "roundtrip: converted in ${SECONDS}s"
rc=0
"$rt_check" "$list" "$out/npy" | tee "$out/rt_check.txt" | grep -v '^PASS' || rc=1
grep -q ' 0 failures$' "$out/rt_check.txt" || rc=1
echo "roundtrip: nnedge checks done at ${SECONDS}s"
"$python" "$here/rt_onnx_check.py" "$list" || rc=1
echo "roundtrip: onnx.checker done at ${SECONDS}s"
if [ "$have_ort" = 1 ]; then
  node "$here/rt_ort.mjs" check "$out/npy/manifest.tsv" || rc=1
fi
echo "roundtrip: ONNX Runtime done at ${SECONDS}s"
# the same models written with --optimize all: nnedge and ORT outputs within
# the differential tests' tolerance of the original's, checker as before
sed "s#\t$out/conv/#\t$out/conv_all/#" "$list" > "$out/list_all.tsv"
mkdir -p "$out/npy_all"
(cd "$out/conv" && find . -type d) | while read -r d; do mkdir -p "$out/conv_all/$d"; done
cut -f1,2 "$out/list_all.tsv" | tr '\t' '\n' | xargs -d '\n' -n2 -P2 sh -c '"$0" convert "$1" -o "$2" --optimize all 2>/dev/null || true' "$nnedge"
echo "roundtrip: --optimize all converted at ${SECONDS}s"
"$rt_check" -t "$out/list_all.tsv" "$out/npy_all" | tee "$out/rt_check_all.txt" | grep -v '^PASS' || rc=1
grep -q ' 0 failures$' "$out/rt_check_all.txt" || rc=1
"$python" "$here/rt_onnx_check.py" "$out/list_all.tsv" || rc=1
if [ "$have_ort" = 1 ]; then
  node "$here/rt_ort.mjs" check "$out/npy_all/manifest.tsv" || rc=1
fi
echo "roundtrip: --optimize all checked at ${SECONDS}s"
touched=0
while IFS=$'\t' read -r orig _; do
  if [ "$orig" -nt "$marker" ]; then echo "FAIL $orig was modified by the round-trip test"; touched=1; fi
done < "$list"
[ "$touched" = 0 ] || rc=1
exit $rc
