#!/usr/bin/env bash
# The training engine's Done-when measurements (issue 8), one after the other;
# heavy (about an hour of CPU at 1 thread). Prints each command and its result;
# JSON lines of every step go to OUT/log.jsonl.
#
#   bash bench/train_results.sh [OUT]          (default build/train_results)
#
# Needs build/nnedge, /usr/bin/python3 with numpy and torch (python3-torch),
# and Debian's dataset-fashion-mnist. Steps:
#   seed     the seed CNN (models/fashion_cnn.onnx) trained from scratch by
#            nnedge train --reinit, Adam lr 1e-3, batch 64, 5 epochs, 1 thread
#   epoch    one epoch of that training, nnedge and torch alternately, EPOCH_ROUNDS=3 rounds
#            (bench/train_epoch_time.sh; wall and CPU time)
#   teacher  the teacher trained with torch (3 epochs, TEACHER_EPOCHS=), structured pruning
#            --sparsity 0.5, 2 epochs of nnedge fine-tuning; MACs, accuracy,
#            nnedge bench at batch 64 before and after
#   unstruct models/fashion_cnn.onnx pruned to 80% sparsity, 1 epoch fine-tuning
#   student-ce, kd  the student from the same initial weights, 5 epochs (STUDENT_EPOCHS=):
#            cross-entropy only, and distilled from the teacher (alpha 0.5, T 4)
#   sparse   nnedge bench of the 80%/90%-pruned seed CNN and MLP, dense vs sparse kernels
#            (bench/sparse_models.sh)
# Select steps with STEPS="teacher-train seed epoch sparse teacher unstruct student-ce kd".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/build/train_results}
py=/usr/bin/python3
nn=$root/build/nnedge
steps=${STEPS:-seed epoch sparse teacher unstruct student-ce kd}
mkdir -p "$out"
log=$out/log.jsonl
S=0.00392156862745098
[ -f "$out/data/train_x.npy" ] || $py "$root/tests/train/fashion_data.py" "$out/data"
D=$out/data
say() { echo "+ $*" >&2; }
run() { say "$@"; "$@"; }
evaljson() { "$nn" eval "$1" --data "$D/test_x.npy" --labels "$D/test_y.npy" --scale $S --json; }
note() { echo "$1" | tee -a "$log"; }

for step in $steps; do
case $step in
teacher-train)
  run $py "$root/tests/train/torch_ref.py" train teacher "$out/teacher.onnx" --data "$D" \
      --epochs ${TEACHER_EPOCHS:-3} --threads 1 | tee -a "$log"
  ;;
seed)
  run "$nn" train "$root/models/fashion_cnn.onnx" -o "$out/seed_scratch.onnx" --data "$D/train_x.npy" \
      --labels "$D/train_y.npy" --scale $S --reinit --optimizer adam --lr 1e-3 --batch 64 --epochs 5 --threads 1 \
      --seed 0 --json | tee -a "$log"
  note "{\"step\": \"seed\", \"eval\": $(evaljson "$out/seed_scratch.onnx")}"
  ;;
epoch)
  # one epoch each, nnedge and torch alternately, ROUNDS rounds (bench/train_epoch_time.sh)
  OUT="$out/epoch" bash "$root/bench/train_epoch_time.sh" "${EPOCH_ROUNDS:-3}" | tee -a "$log"
  ;;
sparse)
  # dense vs sparse kernels on the pruned seed CNN and MLP (bench/sparse_models.sh)
  OUT="$out/sparse" bash "$root/bench/sparse_models.sh" "${SPARSE_ROUNDS:-3}" | tee -a "$log"
  ;;
teacher)
  [ -f "$out/teacher.onnx" ] || run $py "$root/tests/train/torch_ref.py" train teacher "$out/teacher.onnx" --data "$D" \
      --epochs ${TEACHER_EPOCHS:-3} --threads 1 | tee -a "$log"
  note "{\"step\": \"teacher\", \"eval\": $(evaljson "$out/teacher.onnx")}"
  run "$nn" prune "$out/teacher.onnx" -o "$out/teacher_s50.onnx" --sparsity 0.5 --structured --json | tee -a "$log"
  note "{\"step\": \"teacher_s50_before_ft\", \"eval\": $(evaljson "$out/teacher_s50.onnx")}"
  run "$nn" train "$out/teacher_s50.onnx" -o "$out/teacher_s50_ft.onnx" --data "$D/train_x.npy" --labels "$D/train_y.npy" \
      --scale $S --optimizer adam --lr 5e-4 --batch 64 --epochs 2 --threads 1 --json | tee -a "$log"
  note "{\"step\": \"teacher_s50_ft\", \"eval\": $(evaljson "$out/teacher_s50_ft.onnx")}"
  for r in 1 2; do
    for m in teacher teacher_s50_ft; do
      note "{\"step\": \"bench\", \"model\": \"$m\", \"bench\": $("$nn" bench "$out/$m.onnx" --shape input=64x1x28x28 --threads 1 --runs 50 --warmup 5 --json)}"
    done
  done
  ;;
unstruct)
  note "{\"step\": \"seed_shipped\", \"eval\": $(evaljson "$root/models/fashion_cnn.onnx")}"
  run "$nn" prune "$root/models/fashion_cnn.onnx" -o "$out/seed_u80.onnx" --sparsity 0.8 --json | tee -a "$log"
  note "{\"step\": \"seed_u80_before_ft\", \"eval\": $(evaljson "$out/seed_u80.onnx")}"
  run "$nn" train "$out/seed_u80.onnx" -o "$out/seed_u80_ft.onnx" --data "$D/train_x.npy" --labels "$D/train_y.npy" \
      --scale $S --optimizer adam --lr 2e-4 --batch 64 --epochs 1 --threads 1 --json | tee -a "$log"
  note "{\"step\": \"seed_u80_ft\", \"eval\": $(evaljson "$out/seed_u80_ft.onnx"), \"info\": $("$nn" info "$out/seed_u80_ft.onnx" --json)}"
  ;;
student-ce)
  [ -f "$out/student_init.onnx" ] || run $py "$root/tests/train/torch_ref.py" export student "$out/student_init.onnx" --seed 0
  run "$nn" train "$out/student_init.onnx" -o "$out/student_ce.onnx" --data "$D/train_x.npy" --labels "$D/train_y.npy" \
      --scale $S --optimizer adam --lr 1e-3 --batch 64 --epochs ${STUDENT_EPOCHS:-5} --threads 1 --seed 0 --json | tee -a "$log"
  note "{\"step\": \"student_ce\", \"eval\": $(evaljson "$out/student_ce.onnx")}"
  ;;
kd)
  [ -f "$out/teacher.onnx" ] || { echo "kd needs the teacher step first" >&2; exit 2; }
  [ -f "$out/student_init.onnx" ] || run $py "$root/tests/train/torch_ref.py" export student "$out/student_init.onnx" --seed 0
  run "$nn" train "$out/student_init.onnx" -o "$out/student_kd.onnx" --data "$D/train_x.npy" --labels "$D/train_y.npy" \
      --scale $S --optimizer adam --lr 1e-3 --batch 64 --epochs ${STUDENT_EPOCHS:-5} --threads 1 --seed 0 \
      --teacher "$out/teacher.onnx" --kd-alpha 0.5 --kd-temperature 4 --json | tee -a "$log"
  note "{\"step\": \"student_kd\", \"eval\": $(evaljson "$out/student_kd.onnx")}"
  ;;
*) echo "unknown step $step" >&2; exit 2 ;;
esac
done
