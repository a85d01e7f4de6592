#!/usr/bin/env bash
# Dense vs sparse kernels on unstructured-pruned models (issue 8, item 5):
# `nnedge bench` of each model with NNE_SPARSE=0 (dense SGEMM), with the
# plan's own choice (NNE_SPARSE unset: sparse where nne_spmm_pays says so)
# and with NNE_SPARSE=force (every Gemm / 1x1 Conv sparse), alternately, ROUNDS rounds, batch 1 and 64, 1 thread. Models: the seed CNN
# (models/fashion_cnn.onnx: three 3x3 convs, which stay dense, and two
# Gemm) and the MLP (models/fashion_mlp.onnx: three Gemm), each pruned to
# 80% and 90% zeros, and unpruned (the rule must leave those dense: same
# time). Prints per case the median over rounds of the bench's median
# latency (wall) and of the CPU time per run (the process's CPU time for N
# runs minus that for 1: steadier on a shared machine), and their ratios to
# dense.
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
        runs=2000; case $m:$b in fashion_cnn*:64) runs=100 ;; esac
        j=$(NNE_SPARSE=$mode "$nn" bench "$out/$m.onnx" --shape input=${b}x1x28x28 --threads 1 --runs $runs --warmup 10 --json)
        # CPU time per run, less sensitive to other load than wall time: the
        # process's CPU for `runs` runs minus that for 1 (load, prepare)
        cpu=$(NNE_SPARSE=$mode $py - "$nn" "$out/$m.onnx" $b $runs <<'PYEOF'
import resource, subprocess, sys
nn, model, b, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def cpu(n):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([nn, "bench", model, "--shape", "input=%sx1x28x28" % b, "--threads", "1", "--runs", str(n),
                    "--warmup", "0"], stdout=subprocess.DEVNULL, check=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
print("%.6f" % ((cpu(runs) - cpu(1)) * 1000 / (runs - 1)))
PYEOF
)
        echo "{\"round\": $r, \"model\": \"$m\", \"batch\": $b, \"mode\": \"$mode\", \"cpu_ms\": $cpu, \"bench\": $j}" >> "$log"
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
print("%-16s %5s %9s %9s %9s %7s %7s | %9s %9s %9s %7s %7s" % ("model", "batch", "dense ms", "rule ms", "force ms",
      "rule/d", "force/d", "dense cpu", "rule cpu", "force cpu", "rule/d", "force/d"))
for m, b in keys:
    def med(mode, f):
        return statistics.median(f(d) for d in rows if d["model"] == m and d["batch"] == b and d["mode"] == mode)
    t = {mode: med(mode, lambda d: d["bench"]["median_ms"]) for mode in ("0", "auto", "force")}
    c = {mode: med(mode, lambda d: d["cpu_ms"]) for mode in ("0", "auto", "force")}
    print("%-16s %5d %9.4f %9.4f %9.4f %7.3f %7.3f | %9.4f %9.4f %9.4f %7.3f %7.3f" % (
        m, b, t["0"], t["auto"], t["force"], t["auto"] / t["0"], t["force"] / t["0"],
        c["0"], c["auto"], c["force"], c["auto"] / c["0"], c["force"] / c["0"]))
EOF
