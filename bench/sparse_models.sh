#!/usr/bin/env bash
# Dense vs sparse kernels on unstructured-pruned models (issue 8, item 5):
# `nnedge bench` of each model with NNE_SPARSE=0 (dense SGEMM), with the
# plan's own choice (NNE_SPARSE unset: sparse where nne_spmm_pays says so)
# and with NNE_SPARSE=force (every Gemm / 1x1 Conv sparse), alternately, ROUNDS rounds, batch 1 and 64, 1 thread. Models: the seed CNN
# (models/fashion_cnn.onnx: three 3x3 convs, which stay dense, and two
# Gemm) and the MLP (models/fashion_mlp.onnx: three Gemm), each pruned to
# 80% and 90% zeros, and unpruned (the rule must leave those dense: same
# time). Prints the median of the rounds' medians per case and the ratios
# to dense.
#
#   bash bench/sparse_models.sh [ROUNDS]      (default 3; OUT=build/sparse_models)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
out=${OUT:-$root/build/sparse_models}
nn=${NNEDGE:-$root/build/nnedge}
py=/usr/bin/python3
mkdir -p "$out"
models=""
for base in fashion_cnn fashion_mlp; do
  cp "$root/models/$base.onnx" "$out/${base}_u0.onnx"
  models="$models ${base}_u0"
  for s in 80 90; do
    "$nn" prune "$root/models/$base.onnx" -o "$out/${base}_u$s.onnx" --sparsity 0.$s > /dev/null
    models="$models ${base}_u$s"
  done
done
log=$out/bench.jsonl
: > "$log"
echo "dense vs sparse, 1 thread, $rounds rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  for m in $models; do
    for b in 1 64; do
      for mode in 0 auto force; do
        j=$(NNE_SPARSE=$mode "$nn" bench "$out/$m.onnx" --shape input=${b}x1x28x28 --threads 1 --runs 200 --warmup 20 --json)
        echo "{\"round\": $r, \"model\": \"$m\", \"batch\": $b, \"mode\": \"$mode\", \"bench\": $j}" >> "$log"
      done
    done
  done
done
$py - "$log" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = []
for d in rows:
    k = (d["model"], d["batch"])
    if k not in keys:
        keys.append(k)
print("%-16s %5s %10s %10s %10s %8s %8s" % ("model", "batch", "dense ms", "rule ms", "force ms", "rule/d", "force/d"))
for m, b in keys:
    t = {mode: statistics.median(d["bench"]["median_ms"] for d in rows
                                 if d["model"] == m and d["batch"] == b and d["mode"] == mode)
         for mode in ("0", "auto", "force")}
    print("%-16s %5d %10.4f %10.4f %10.4f %8.3f %8.3f" % (m, b, t["0"], t["auto"], t["force"], t["auto"] / t["0"],
                                                          t["force"] / t["0"]))
EOF
