#!/usr/bin/env bash
# End-to-end tests of `nnedge train` and `nnedge prune` (make test-train).
#
#   NNEDGE=build/nnedge OUT=build/test-train bash tests/train/run.sh
#
# Data: the first 2,000 Fashion-MNIST training images and 1,000 test images
# (Debian dataset-fashion-mnist, via tests/train/fashion_data.py). Models: the
# seed CNN (models/fashion_cnn.onnx), tests/train/student.onnx (a small
# CNN with BatchNormalization) and tests/train/fire.onnx (a Concat of two
# convolutions), made by tests/train/torch_ref.py export student|fire. ONNX Runtime (tests/diff/node_modules, installed as
# tests/diff/run.sh does) is the oracle for the written models.
# Prints PASS/FAIL per check and "N passed, M failed"; exit 1 on any failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
nn=${NNEDGE:-$root/build/nnedge}
out=${OUT:-$root/build/test-train}
py=/usr/bin/python3
S=0.00392156862745098
pass=0
fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else ko "$1"; fi; }

mkdir -p "$out"
D=$out/data
if [ ! -f "$D/small_x.npy" ]; then
  $py "$here/fashion_data.py" "$D" || exit 1
  $py - "$D" <<'EOF' || exit 1
import sys, numpy as np
d = sys.argv[1]
x = np.load(d + "/train_x.npy"); y = np.load(d + "/train_y.npy")
tx = np.load(d + "/test_x.npy"); ty = np.load(d + "/test_y.npy")
np.save(d + "/small_x.npy", x[:2000]); np.save(d + "/small_y.npy", y[:2000])
np.save(d + "/val_x.npy", tx[:1000]); np.save(d + "/val_y.npy", ty[:1000])
np.save(d + "/in16.npy", (tx[:16].astype(np.float32) / np.float32(255)).astype(np.float32))
# bad labels: wrong shape, out of range, one too few, floats
np.save(d + "/bad_shape_y.npy", np.stack([y[:2000], y[:2000]], 1))
z = y[:2000].copy(); z[17] = 10; np.save(d + "/bad_range_y.npy", z)
z = y[:2000].copy(); z[5] = -1; np.save(d + "/bad_neg_y.npy", z)
np.save(d + "/bad_count_y.npy", y[:1999])
np.save(d + "/bad_float_y.npy", y[:2000].astype(np.float32))
EOF
  rm -f "$D/train_x.npy" "$D/train_y.npy" "$D/test_x.npy" "$D/test_y.npy"
fi
if [ ! -d "$root/tests/diff/node_modules/onnxruntime-node" ]; then
  (cd "$root/tests/diff" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
js() { $py -c "import json,sys; d=[json.loads(l) for l in open('$1') if l.startswith('{')]; print(eval(sys.argv[1]))" "$2"; }

# 1. the seed CNN from scratch learns: loss falls, accuracy above a bar
"$nn" train "$root/models/fashion_cnn.onnx" -o "$out/seed.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" \
  --scale $S --reinit --epochs 3 --batch 32 --seed 1 --val-data "$D/val_x.npy" --val-labels "$D/val_y.npy" --json \
  > "$out/seed.jsonl"
check "train seed: exit 0, 3 JSON lines" "[ \$? = 0 ] && [ \$(grep -c '^{' $out/seed.jsonl) = 3 ]"
check "train seed: loss falls each epoch" "[ \"\$(js $out/seed.jsonl 'd[0][\"loss\"] > d[1][\"loss\"] > d[2][\"loss\"]')\" = True ]"
check "train seed: val accuracy >= 0.75 on 1000 test images" "[ \"\$(js $out/seed.jsonl 'd[2][\"val_accuracy\"] >= 0.75')\" = True ]"
"$nn" eval "$out/seed.onnx" --data "$D/val_x.npy" --labels "$D/val_y.npy" --scale $S --json > "$out/seed_eval.json"
check "eval of the written model = the trainer's val accuracy" \
  "$py -c \"import json; e=json.load(open('$out/seed_eval.json')); d=[json.loads(l) for l in open('$out/seed.jsonl')]; exit(abs(e['top1']-d[2]['val_accuracy'])>0.0015)\""
# same seed, same result
"$nn" train "$root/models/fashion_cnn.onnx" -o "$out/seed2.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" \
  --scale $S --reinit --epochs 1 --batch 32 --seed 1 --json > "$out/seed2.jsonl"
"$nn" train "$root/models/fashion_cnn.onnx" -o "$out/seed3.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" \
  --scale $S --reinit --epochs 1 --batch 32 --seed 1 --threads 2 --json > "$out/seed3.jsonl"
check "--threads 2 gives the loss of 1 thread" "[ \"\$(js $out/seed3.jsonl 'd[0][\"loss\"]')\" = \"\$(js $out/seed.jsonl 'd[0][\"loss\"]')\" ]"
check "train is deterministic for a seed" "[ \"\$(js $out/seed2.jsonl 'd[0][\"loss\"]')\" = \"\$(js $out/seed.jsonl 'd[0][\"loss\"]')\" ]"

# 2. BatchNormalization model with SGD + cosine; ONNX Runtime agrees with nnedge on it
"$nn" train "$here/student.onnx" -o "$out/student.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" --scale $S \
  --epochs 2 --optimizer sgd --lr 0.05 --momentum 0.9 --weight-decay 1e-4 --lr-schedule cosine \
  --val-data "$D/val_x.npy" --val-labels "$D/val_y.npy" --json > "$out/student.jsonl"
check "train student (BN, SGD, cosine): val accuracy >= 0.65" "[ \"\$(js $out/student.jsonl 'd[1][\"val_accuracy\"] >= 0.65')\" = True ]"
check "cosine schedule: lr falls" "[ \"\$(js $out/student.jsonl 'd[1][\"lr\"] < d[0][\"lr\"] < 0.05')\" = True ]"
"$nn" run "$out/student.onnx" -i input="$D/in16.npy" -o "$out/student_out" > /dev/null
check "ORT runs the trained BN model and agrees" "node $here/ort_check.mjs $out/student.onnx $D/in16.npy $out/student_out/logits.npy"
"$nn" eval "$out/student.onnx" --data "$D/val_x.npy" --labels "$D/val_y.npy" --scale $S --json > "$out/student_eval.json"
check "eval of the BN model = the trainer's val accuracy (running statistics saved)" \
  "$py -c \"import json; e=json.load(open('$out/student_eval.json')); d=[json.loads(l) for l in open('$out/student.jsonl')]; exit(abs(e['top1']-d[1]['val_accuracy'])>0.0015)\""

# 3. distillation from the trained seed
"$nn" train "$here/student.onnx" -o "$out/student_kd.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" --scale $S \
  --epochs 1 --teacher "$out/seed.onnx" --kd-alpha 0.7 --kd-temperature 3 --json > "$out/kd.jsonl"
check "train --teacher: exit 0, finite loss" "[ \$? = 0 ] && [ \"\$(js $out/kd.jsonl 'd[0][\"loss\"] == d[0][\"loss\"]')\" = True ]"

# 4. pruning
"$nn" prune "$out/student.onnx" -o "$out/student_s50.onnx" --sparsity 0.5 --structured --json > "$out/prune_s.json"
check "structured prune: channels removed, MACs <= 50%" \
  "$py -c \"import json; p=json.load(open('$out/prune_s.json')); exit(not (p['channels_removed'] > 0 and p['macs_after'] <= 0.5 * p['macs_before'] and p['weights_after'] < p['weights_before']))\""
"$nn" run "$out/student_s50.onnx" -i input="$D/in16.npy" -o "$out/s50_out" > /dev/null
check "ORT runs the structurally pruned model and agrees" "node $here/ort_check.mjs $out/student_s50.onnx $D/in16.npy $out/s50_out/logits.npy"
"$nn" train "$out/student_s50.onnx" -o "$out/student_s50_ft.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" \
  --scale $S --epochs 1 --json > /dev/null
check "the pruned model trains" "[ \$? = 0 ]"
# a Concat of two expand convolutions (tests/train/fire.onnx): both are pruned, the consumer sliced at offsets
"$nn" train "$here/fire.onnx" -o "$out/fire.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" --scale $S \
  --epochs 2 --lr 0.01 --json > "$out/fire.jsonl"
check "train fire (Concat, GlobalAveragePool, BN): loss falls" "[ \"\$(js $out/fire.jsonl 'd[0][\"loss\"] > d[1][\"loss\"]')\" = True ]"
"$nn" prune "$out/fire.onnx" -o "$out/fire_s50.onnx" --sparsity 0.5 --structured --json > "$out/prune_f.json"
"$nn" run "$out/fire_s50.onnx" -i input="$D/in16.npy" -o "$out/fire_out" > /dev/null
check "structured prune through Concat: 4 layers, ORT agrees" \
  "$py -c \"import json; p=json.load(open('$out/prune_f.json')); exit(p['layers'] != 4)\" && node $here/ort_check.mjs $out/fire_s50.onnx $D/in16.npy $out/fire_out/logits.npy"
"$nn" prune "$out/seed.onnx" -o "$out/seed_u80.onnx" --sparsity 0.8 --json > "$out/prune_u.json"
check "unstructured prune: 80% of the weights zero" \
  "$py -c \"import json; p=json.load(open('$out/prune_u.json')); exit(not (abs(p['sparsity'] - 0.8) < 0.001 and p['macs_after'] == p['macs_before']))\""
"$nn" train "$out/seed_u80.onnx" -o "$out/seed_u80_ft.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" \
  --scale $S --epochs 1 --lr 1e-3 --json > /dev/null
"$nn" prune "$out/seed_u80_ft.onnx" -o "$out/seed_u80_check.onnx" --sparsity 0.0 --json > "$out/prune_u2.json"
check "train keeps pruned weights at zero" \
  "$py -c \"import json; p=json.load(open('$out/prune_u2.json')); exit(not p['zeros_before'] >= 0.8 * p['weights_before'] - 5)\""
"$nn" prune "$out/seed.onnx" -o "$out/seed_t.onnx" --threshold-ratio 0.2 --json > "$out/prune_t.json"
check "threshold-ratio prune zeroes weights" "$py -c \"import json; p=json.load(open('$out/prune_t.json')); exit(not p['zeros_after'] > 0)\""

# 4b. structured pruning through residual Adds (tests/train/res.onnx: stem + 2 ResNet blocks, one with a 1x1
# shortcut): the channels meeting in each Add are removed alike, every consumer shrinks
"$nn" prune "$here/res.onnx" -o "$out/res_s50.onnx" --sparsity 0.5 --structured --json > "$out/prune_r.json"
check "structured prune through residual Adds: all 6 layers, MACs <= 50%" \
  "$py -c \"import json; p=json.load(open('$out/prune_r.json')); exit(not (p['layers'] == 6 and p['macs_after'] <= 0.5 * p['macs_before'] and p['weights_after'] < 0.5 * p['weights_before']))\""
check "residual groups keep the same channels in every branch; every consumer sliced" \
  "$py $here/check_res_prune.py $here/res.onnx $out/res_s50.onnx"
"$nn" run "$out/res_s50.onnx" -i input="$D/in16.npy" -o "$out/res_out" > /dev/null
check "ORT runs the residual model pruned and agrees" "node $here/ort_check.mjs $out/res_s50.onnx $D/in16.npy $out/res_out/logits.npy"
"$nn" train "$out/res_s50.onnx" -o "$out/res_s50_ft.onnx" --data "$D/small_x.npy" --labels "$D/small_y.npy" \
  --scale $S --epochs 1 --json > "$out/res_ft.jsonl"
check "the pruned residual model trains" "[ \$? = 0 ] && [ \"\$(js $out/res_ft.jsonl 'd[0][\"loss\"] < 2.3')\" = True ]"

# 4c. info --json: macs for the given shapes and weight sparsity, against an independent count
for m in "$out/res_s50.onnx" "$out/student_s50.onnx" "$out/seed_u80.onnx" "$out/seed_t.onnx"; do
  "$nn" info "$m" --shape input=8x1x28x28 --json > "$out/info.json"
  check "info --json macs / params / sparsity of $(basename "$m")" "$py $here/check_info.py $m $out/info.json 8"
done

# 4d. sparse kernels (kernels/spmm.h) on pruned Gemm and 1x1 Conv models, at every ISA level (portable and
# the CPU's best; NNE_FORCE_REFERENCE has none), 1 and 2 threads, plain and fused graphs: NNE_SPARSE=force
# agrees with NNE_SPARSE=0 (dense) within float rounding, and the plan log (NNE_LOG=debug) shows the sparse
# kernel was chosen for the model's Gemm / 1x1 Conv nodes; the rule (NNE_SPARSE unset) picks sparse for 90%
# zeros at batch 64 and never for 50% zeros or an unpruned model
[ -f "$D/in64.npy" ] || $py -c "import numpy as np; x=np.load('$D/val_x.npy')[:64]; np.save('$D/in64.npy', (x.astype(np.float32) / np.float32(255)).reshape(64, 1, 28, 28))"
"$nn" prune "$root/models/fashion_mlp.onnx" -o "$out/mlp_u90.onnx" --sparsity 0.9 > /dev/null
"$nn" prune "$root/models/fashion_mlp.onnx" -o "$out/mlp_u50.onnx" --sparsity 0.5 > /dev/null
"$nn" prune "$out/seed.onnx" -o "$out/seed_u90.onnx" --sparsity 0.9 > /dev/null
"$nn" prune "$out/fire.onnx" -o "$out/fire_u90.onnx" --sparsity 0.9 > /dev/null
sp_run() { # env, model, input, outdir, threads: the number of sparse nodes planned -> $out/sp_n
  env NNE_LOG=debug $1 "$nn" run "$2" -i input="$3" -o "$4" --threads "${5:-1}" > /dev/null 2> "$out/sp_log.txt"
  local rc=$?
  grep -c "sparse weights" "$out/sp_log.txt" > "$out/sp_n"
  return $rc
}
sp_ok=0
for m in mlp_u90:3 seed_u90:2 fire_u90:2; do
  want=${m#*:}; m=${m%:*}
  for isa in portable native; do
    for t in 1 2; do
      for opt in none all; do
        e="NNE_OPTIMIZE=$opt"; [ $isa = native ] || e="$e NNE_MAX_ISA=$isa"
        for b in 16 64; do
          x="$D/in64.npy"; [ $b = 16 ] && x="$D/in16.npy"
          rm -rf "$out/sp_d" "$out/sp_f"
          sp_run "$e NNE_SPARSE=0" "$out/$m.onnx" "$x" "$out/sp_d" $t; rd=$?; nd=$(cat "$out/sp_n")
          sp_run "$e NNE_SPARSE=force" "$out/$m.onnx" "$x" "$out/sp_f" $t; rf=$?; nf=$(cat "$out/sp_n")
          if [ $rd != 0 ] || [ $rf != 0 ]; then
            ko "sparse $m $isa threads $t optimize $opt batch $b: exit $rd / $rf: $(grep -v 'log:' "$out/sp_log.txt" | head -c 300)"
          elif [ "$nd" != 0 ] || [ "$nf" != "$want" ]; then
            ko "sparse $m $isa threads $t optimize $opt batch $b: $nf sparse nodes forced (want $want), $nd with NNE_SPARSE=0"
          elif ! $py $here/sparse_check.py "$out/sp_d/logits.npy" "$out/sp_f/logits.npy" close > "$out/sp_err.txt" 2>&1; then
            ko "sparse $m $isa threads $t optimize $opt batch $b: $(head -c 200 "$out/sp_err.txt")"
          else sp_ok=$((sp_ok + 1)); fi
        done
      done
    done
  done
done
check "sparse = dense within rounding, every Gemm / 1x1 Conv sparse when forced: $sp_ok of 48 cases" "[ $sp_ok = 48 ]"
sp_run "NNE_SPARSE=force" "$out/mlp_u90.onnx" "$D/in64.npy" "$out/sp_a"
sp_want=$(grep -o '([0-9.]*% zeros' "$out/sp_log.txt" | tr -d '(%' | awk '$1 >= 80 { n++ } END { print n + 0 }')
sp_run "" "$out/mlp_u90.onnx" "$D/in64.npy" "$out/sp_a"
check "the rule picks sparse for the Gemm layers with >= 80% zeros at batch 64 ($sp_want)" \
  "[ $sp_want -ge 1 ] && [ \$(cat $out/sp_n) = $sp_want ]"
sp_run "" "$out/mlp_u50.onnx" "$D/in64.npy" "$out/sp_a"
check "the rule keeps dense weights for 50% zeros" "[ \$(cat $out/sp_n) = 0 ]"
sp_run "" "$root/models/fashion_mlp.onnx" "$D/in64.npy" "$out/sp_a"
check "the rule keeps an unpruned model dense" "[ \$(cat $out/sp_n) = 0 ]"
sp_run "" "$out/mlp_u90.onnx" "$D/in64.npy" "$out/sp_a"
check "ORT agrees with nnedge's sparse run" "node $here/ort_check.mjs $out/mlp_u90.onnx $D/in64.npy $out/sp_a/logits.npy"
sp_run "NNE_FORCE_REFERENCE=1 NNE_SPARSE=force" "$out/mlp_u90.onnx" "$D/in64.npy" "$out/sp_r"
check "NNE_FORCE_REFERENCE runs no sparse kernel (and agrees)" \
  "[ \$(cat $out/sp_n) = 0 ] && $py $here/sparse_check.py $out/sp_a/logits.npy $out/sp_r/logits.npy close"

# 5. bad input: exit 2 with one clear line
bad() { # name, expected message part, args...
  local name=$1 want=$2
  shift 2
  "$nn" "$@" > /dev/null 2> "$out/err.txt"
  local rc=$?
  if [ $rc = 2 ] && grep -q -- "$want" "$out/err.txt" && [ "$(wc -l < "$out/err.txt")" = 1 ]; then ok "$name"
  else ko "$name (exit $rc: $(head -c 300 "$out/err.txt"))"; fi
}
T=(train "$root/models/fashion_cnn.onnx" -o "$out/bad.onnx" --data "$D/small_x.npy" --scale $S)
bad "labels of shape (N, 2)" "labels must be integers of shape" "${T[@]}" --labels "$D/bad_shape_y.npy"
bad "label 10 of 10 classes" "outside the model's classes" "${T[@]}" --labels "$D/bad_range_y.npy"
bad "label -1" "outside the model's classes" "${T[@]}" --labels "$D/bad_neg_y.npy"
bad "one label too few" "labels must be integers of shape" "${T[@]}" --labels "$D/bad_count_y.npy"
bad "float labels" "labels must be integers" "${T[@]}" --labels "$D/bad_float_y.npy"
bad "diverging SGD (lr 1e4): NaN loss" "diverged" "${T[@]}" --labels "$D/small_y.npy" --optimizer sgd --lr 1e4 --epochs 2
bad "data that does not fit the input" "values; the model input takes" train "$root/models/fashion_cnn.onnx" -o "$out/bad.onnx" \
  --data "$D/small_y.npy" --labels "$D/small_y.npy"
bad "a teacher that is not a model" "prune_s.json" train "$here/student.onnx" -o "$out/bad.onnx" --data "$D/small_x.npy" \
  --labels "$D/small_y.npy" --scale $S --teacher "$out/prune_s.json"
bad "prune without a rate" "usage" prune "$root/models/fashion_cnn.onnx" -o "$out/bad.onnx"
bad "prune --sparsity 1" "expected a number in" prune "$root/models/fashion_cnn.onnx" -o "$out/bad.onnx" --sparsity 1
check "no output written after a failure" "[ ! -e $out/bad.onnx ]"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
