#!/usr/bin/env bash
# Issue 8's epoch-time item: one training epoch of the seed CNN
# (models/fashion_cnn.onnx, fresh weights) with `nnedge train` and with
# python3-torch, 1 thread each, batch 64, Adam lr 1e-3, on the Fashion-MNIST
# training set, alternately (nnedge, torch, nnedge, torch, ...) so that the
# machine's load falls on both alike. Prints one line per run and a summary:
# median wall and CPU seconds per epoch of each and their ratios
# (nnedge / torch; <= 1 means nnedge is as fast or faster). Both time the
# epoch loop only (data loaded and, for torch, converted to float before).
#
#   bash bench/train_epoch_time.sh [ROUNDS]      (default 3 rounds)
#   SAMPLES=2000 bash bench/train_epoch_time.sh 1   a quick smoke run on the first 2000 images
#
# Env: OUT (work directory, default build/train_epoch), NNEDGE (default
# build/nnedge), SAMPLES (default: all 60,000). JSON lines go to OUT/epoch.jsonl.
# Needs /usr/bin/python3 with numpy and torch (python3-torch) and Debian's
# dataset-fashion-mnist. Run it on a quiet machine: under load wall times
# mostly measure the other processes (CPU times less so).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
out=${OUT:-$root/build/train_epoch}
nn=${NNEDGE:-$root/build/nnedge}
py=/usr/bin/python3
S=0.00392156862745098
mkdir -p "$out"
[ -f "$out/full/train_x.npy" ] || $py "$root/tests/train/fashion_data.py" "$out/full" > /dev/null
D=$out/full
if [ -n "${SAMPLES:-}" ]; then
  D=$out/n$SAMPLES
  [ -f "$D/train_x.npy" ] || $py - "$out/full" "$D" "$SAMPLES" <<'EOF'
import os, sys, numpy as np
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
for part in ("train_x", "train_y", "test_x", "test_y"):
    np.save(os.path.join(dst, part + ".npy"), np.load(os.path.join(src, part + ".npy"))[:n])
EOF
fi
log=$out/epoch.jsonl
: > "$log"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "epoch time, seed CNN, batch 64, Adam, 1 thread, $(( $($py -c "import numpy as np; print(len(np.load('$D/train_y.npy')))") )) images, $rounds rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  "$nn" train "$root/models/fashion_cnn.onnx" -o "$out/e.onnx" --data "$D/train_x.npy" --labels "$D/train_y.npy" \
      --scale $S --reinit --seed "$r" --optimizer adam --lr 1e-3 --epochs 1 --batch 64 --threads 1 --json |
    sed "s/^{/{\"framework\": \"nnedge\", \"round\": $r, /" >> "$log"
  $py "$root/tests/train/torch_ref.py" epoch-time seed --data "$D" --threads 1 --epochs 1 --seed "$r" |
    sed "s/^{/{\"round\": $r, /" >> "$log"
  $py - "$log" "$r" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for d in rows:
    if d.get("round") == int(sys.argv[2]):
        print("round %s %-6s wall %7.2f s  cpu %7.2f s  loss %.4f" % (d["round"], d["framework"], d["seconds"],
                                                                    d["cpu_seconds"], d["loss"]))
EOF
done
$py - "$log" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
med = {}
for fw in ("nnedge", "torch"):
    r = [d for d in rows if d["framework"] == fw]
    med[fw] = (statistics.median(d["seconds"] for d in r), statistics.median(d["cpu_seconds"] for d in r))
n, t = med["nnedge"], med["torch"]
print("median  nnedge wall %.2f s cpu %.2f s | torch wall %.2f s cpu %.2f s | nnedge/torch wall %.3f cpu %.3f"
      % (n[0], n[1], t[0], t[1], n[0] / t[0], n[1] / t[1]))
print(json.dumps({"step": "epoch_time", "nnedge_wall_s": n[0], "nnedge_cpu_s": n[1], "torch_wall_s": t[0],
                  "torch_cpu_s": t[1], "ratio_wall": round(n[0] / t[0], 4), "ratio_cpu": round(n[1] / t[1], 4)}))
EOF
