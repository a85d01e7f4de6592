#!/usr/bin/env bash
# Weights used in place (issue 6 item 6): loading a ~100 MB model adds at most
# 5 MB of private memory (Private_Dirty / Anonymous) before prepare. Written
# by nnedge convert (inline: raw_data at offsets aligned for its type; or
# with --external-data: 64-byte aligned offsets), creating a session on it
# adds at most 5 MB too: no weight is copied. (The torch export itself holds
# most tensors at unaligned offsets: those are copied at session creation.)
# Uses build/models/resnet50.onnx (exported by tests/diff/run.sh); skipped
# with a note when it is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
models=${NNEDGE_MODELS:-build/models}
bin=${BUILD:-build}
m=$models/resnet50.onnx
if [ ! -f "$m" ]; then
  echo "mem: $m is missing (run tests/diff/run.sh to export it); skipped" >&2
  exit 0
fi
out=$bin/mem
mkdir -p "$out"
"$bin/load_rss" "$m" 5
# contexts on one shared plan own only their arena and scratch (issue 6 item 5)
"$bin/contexts_rss" "$m" 16
"$bin/nnedge" convert "$m" -o "$out/resnet50_inline.onnx"
"$bin/nnedge" convert "$m" -o "$out/resnet50_ext.onnx" --external-data resnet50_ext.bin
# written pages still dirty in the page cache would count as Private_Dirty
sync
for f in "$out/resnet50_inline.onnx" "$out/resnet50_ext.onnx"; do
  line=$("$bin/load_rss" "$f" 5)
  echo "$line"
  # session create must not copy aligned weights either
  kb=$(echo "$line" | sed -n 's/.*session create: +\([0-9]*\) KiB private dirty.*/\1/p')
  if [ -z "$kb" ] || [ "$kb" -gt 5120 ]; then
    echo "mem: creating a session on $f added ${kb:-?} KiB of private memory (max 5120)" >&2
    exit 1
  fi
done
rm -rf "$out"
