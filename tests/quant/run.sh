#!/usr/bin/env bash
# make test-quant: the int8 quantizer, fast (a subset of Fashion-MNIST).
#
#   NNEDGE=build-san/nnedge bash tests/quant/run.sh
#
# 1. nnedge quantize on the committed Fashion-MNIST models (200 calibration
#    images): every method; the QDQ file is <= 0.3x the float file; int8
#    top-1 on the first 1,000 test images within 0.5 pp of fp32 (the full
#    10,000-image table with the 0.3 pp target: make quant-accuracy); the
#    report is JSON with per-layer SQNR and ranges;
# 2. ONNX Runtime (tests/diff/node_modules, test-only) loads every QDQ file
#    written here and picks the same class as nnedge on >= 99% of the images
#    (skipped, and said so, when onnxruntime-node is not installed);
# 3. --dynamic, --per-tensor, --keep-float and the accuracy guard (--max-drop);
# 4. hostile input: wrong calibration shape or dtype, an empty calibration
#    set, NaN in the data, a model without float weights, bad options and
#    files: exit 2 with a message naming the problem, never a crash.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
NNEDGE=${NNEDGE:-$root/build/nnedge}
PY=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$root/build/test-quant}
S=0.00392156862745098
rm -rf "$OUT"; mkdir -p "$OUT"
# every method runs and ONNX Runtime agrees with it; the drop is checked for
# the default method only (entropy clips the MLP's activations too hard: the
# table in README shows it)
fails=0; passes=0
pass() { passes=$((passes + 1)); echo "PASS $*"; }
fail() { fails=$((fails + 1)); echo "FAIL $*"; }

"$PY" "$here/fashion_data.py" "$OUT" --calib 200 --test 1000 || { echo "test-quant: cannot make the data"; exit 1; }
"$PY" - "$OUT" <<'PYEOF' || exit 1
import sys, numpy as np
o = sys.argv[1]
x = np.load(o + "/test_x.npy")
np.save(o + "/test_f.npy", x.astype(np.float32) * np.float32(1 / 255))
c = np.load(o + "/calib_x.npy").astype(np.float32) / 255
np.save(o + "/bad_shape.npy", c[:, :, :, :27].copy())
np.save(o + "/bad_rank.npy", c[:, 0].copy())
np.save(o + "/bool.npy", c > 0.5)
np.save(o + "/empty.npy", c[:0])
n = c.copy(); n[7, 0, 3, 4] = np.nan; np.save(o + "/nan.npy", n)
i = c.copy(); i[2, 0, 0, 0] = np.inf; np.save(o + "/inf.npy", i)
np.save(o + "/labels_short.npy", np.load(o + "/test_y.npy")[:10])
np.save(o + "/chain_x.npy", np.random.default_rng(1).standard_normal((4, 256), dtype=np.float32))
np.save(o + "/f16_x.npy", np.ones((3, 2, 5, 5), np.float32))
open(o + "/garbage.npy", "wb").write(b"\x93NUMPY\x01\x00garbage")
PYEOF

if [ ! -d "$root/tests/diff/node_modules/onnxruntime-node" ] && command -v npm >/dev/null 2>&1; then
    echo "test-quant: installing the test packages (npm ci in tests/diff)"
    (cd "$root/tests/diff" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error) || true
fi
have_ort=0
if node -e "require('$root/tests/diff/node_modules/onnxruntime-node')" >/dev/null 2>&1; then have_ort=1
else echo "SKIP ONNX Runtime checks: onnxruntime-node is not installed (cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci)"; fi

# check_model NAME FLOAT.onnx QDQ.onnx QUANT_JSON [MAXDROP]: ratio, drop on
# 1,000 images (checked when MAXDROP is given), ORT agreement
check_model() {
    local name=$1 fm=$2 qm=$3 qj=$4 maxdrop=${5:-100}
    "$PY" - "$qj" "$name" <<'PYEOF' && pass "$name: file ratio <= 0.3" || fail "$name: file ratio"
import json, sys
j = json.loads(open(sys.argv[1]).read())
print("  %s: %d bytes, %.3fx of %d" % (sys.argv[2], j["bytes"], j["ratio"], j["float_bytes"]))
sys.exit(0 if j["ratio"] <= 0.3 else 1)
PYEOF
    local f q
    f=$("$NNEDGE" eval "$fm" --data "$OUT/test_x.npy" --labels "$OUT/test_y.npy" --scale $S --json) || { fail "$name: eval fp32"; return; }
    q=$("$NNEDGE" eval "$qm" --data "$OUT/test_x.npy" --labels "$OUT/test_y.npy" --scale $S --json) || { fail "$name: eval int8"; return; }
    "$PY" -c "
import json,sys
f=json.loads(sys.argv[1])['top1']; q=json.loads(sys.argv[2])['top1']
print('  $name: fp32 top-1 %.2f%%, int8 %.2f%%, drop %.2f pp (1,000 images)' % (100*f, 100*q, 100*(f-q)))
sys.exit(0 if 100*(f-q) <= $maxdrop else 1)" "$f" "$q" && pass "$name: int8 top-1 $([ "$maxdrop" = 100 ] && echo measured || echo "within $maxdrop pp")" || fail "$name: accuracy drop"
    if [ $have_ort = 1 ]; then
        rm -rf "$OUT/run"
        if "$NNEDGE" run "$qm" -i "input=$OUT/test_f.npy" -o "$OUT/run" >/dev/null &&
           node "$here/ort_run.mjs" "$qm" "$OUT/test_f.npy" "$OUT/ort.npy" --batch 500 >/dev/null; then
            "$PY" -c "
import numpy as np,sys
a=np.load('$OUT/run/logits.npy').argmax(1); b=np.load('$OUT/ort.npy').argmax(1)
print('  $name: ONNX Runtime agrees on %.2f%% of 1,000 images' % (100*(a==b).mean()))
sys.exit(0 if (a==b).mean() >= 0.99 else 1)" && pass "$name: ONNX Runtime agreement >= 99%" || fail "$name: ONNX Runtime agreement"
        else
            fail "$name: ONNX Runtime or nnedge could not run $qm"
        fi
    fi
}

# 1-2. each model with the default method; every method on the MLP and the CNN
for m in fashion_cnn fashion_mlp fashion_cnn_bn; do
    [ -f "$root/models/$m.onnx" ] || { fail "$m: models/$m.onnx missing"; continue; }
    if "$NNEDGE" quantize "$root/models/$m.onnx" -o "$OUT/$m.q.onnx" --calib "$OUT/calib_x.npy" --scale $S \
         --report "$OUT/$m.report.json" --json > "$OUT/$m.q.json"; then
        pass "$m: quantize"
        check_model "$m" "$root/models/$m.onnx" "$OUT/$m.q.onnx" "$OUT/$m.q.json" 0.5
        "$PY" - "$OUT/$m.report.json" <<'PYEOF' && pass "$m: report" || fail "$m: report"
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["layers"] and r["tensors"], "no layers/tensors"
for l in r["layers"]:
    assert l["quantized"] and l["sqnr_out_db"] is not None and l["sqnr_out_db"] > 15, l
    assert l["weight_scales"] >= 1 and l["bias_int32"] in (True, False)
for t in r["tensors"]:
    assert t["scale"] > 0 and 0 <= t["zero_point"] <= 255, t
    if "range" in t:
        assert t["min"] <= t["range"][0] + 1e-6 or t["range"][0] <= 0, t
PYEOF
    else
        fail "$m: quantize"
    fi
done
for method in minmax percentile entropy mse; do
    for m in fashion_mlp; do
        if "$NNEDGE" quantize "$root/models/$m.onnx" -o "$OUT/$m.$method.onnx" --calib "$OUT/calib_x.npy" --scale $S \
             --method $method --percentile 99.9 --json > "$OUT/$m.$method.json"; then
            check_model "$m/$method" "$root/models/$m.onnx" "$OUT/$m.$method.onnx" "$OUT/$m.$method.json"
        else
            fail "$m: --method $method"
        fi
    done
done

# 3. --dynamic, --per-tensor, --keep-float, the guard
if "$NNEDGE" quantize "$root/models/fashion_mlp.onnx" -o "$OUT/mlp.dyn.onnx" --dynamic --json > "$OUT/mlp.dyn.json"; then
    check_model "fashion_mlp/dynamic" "$root/models/fashion_mlp.onnx" "$OUT/mlp.dyn.onnx" "$OUT/mlp.dyn.json" 0.5
else fail "fashion_mlp: --dynamic"; fi
if "$NNEDGE" quantize "$root/models/fashion_cnn.onnx" -o "$OUT/cnn.pt.onnx" --calib "$OUT/calib_x.npy" --scale $S \
     --per-tensor --json > "$OUT/cnn.pt.json"; then
    check_model "fashion_cnn/per-tensor" "$root/models/fashion_cnn.onnx" "$OUT/cnn.pt.onnx" "$OUT/cnn.pt.json" 0.5
else fail "fashion_cnn: --per-tensor"; fi
"$NNEDGE" quantize "$root/models/fashion_cnn.onnx" -o "$OUT/cnn.keep.onnx" --calib "$OUT/calib_x.npy" --scale $S \
    --keep-float /fc2/Gemm --report "$OUT/cnn.keep.report.json" >/dev/null &&
"$PY" -c "
import json; r=json.load(open('$OUT/cnn.keep.report.json'))
q={l['node']: l['quantized'] for l in r['layers']}
assert q['/fc2/Gemm'] is False and q['/conv1/Conv'] is True, q" && pass "--keep-float keeps /fc2/Gemm in float" || fail "--keep-float"
# a guard with no budget: on 16 calibration images the int8 model loses some
# accuracy, so layers are kept in float until the drop is 0 (or none is left)
"$PY" -c "import numpy as np; np.save('$OUT/calib16.npy', np.load('$OUT/calib_x.npy')[:16])"
"$NNEDGE" quantize "$root/models/fashion_mlp.onnx" -o "$OUT/mlp.guard.onnx" --calib "$OUT/calib16.npy" --scale $S \
    --eval-data "$OUT/test_x.npy" --eval-labels "$OUT/test_y.npy" --max-drop 0 --report "$OUT/mlp.guard.json" >/dev/null
rc=$?
"$PY" - "$OUT/mlp.guard.json" $rc <<'PYEOF' && pass "--max-drop 0: the guard meets the budget or says it cannot" || fail "--max-drop guard"
import json, sys
r = json.load(open(sys.argv[1])); rc = int(sys.argv[2])
print("  guard: fp32 %.4f int8 %.4f after %d attempt(s), kept in float: %s, exit %d"
      % (r["fp32_top1"], r["int8_top1"], len(r["attempts"]), r["kept_float"], rc))
assert len(r["attempts"]) == len(r["kept_float"]) + 1
assert (rc == 0 and r["guard_met"] and r["drop_pp"] <= 0) or (rc == 2 and not r["guard_met"])
assert sum(not l["quantized"] for l in r["layers"]) == len(r["kept_float"])
PYEOF

# 4. hostile input: exit 2, a message, no crash
expect2() { # DESCRIPTION PATTERN ARGS...
    local what=$1 pat=$2; shift 2
    local err rc
    err=$("$NNEDGE" quantize "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 2 ] && printf '%s' "$err" | grep -qiE -- "$pat"; then pass "bad input: $what (exit 2)"
    else fail "bad input: $what: exit $rc, message: $err"; fi
}
M="$root/models/fashion_cnn.onnx"
expect2 "calibration data of the wrong shape" "shape.*\(200, 1, 28, 27\)" "$M" -o "$OUT/x.onnx" --calib "$OUT/bad_shape.npy"
expect2 "calibration data of the wrong rank" "shape" "$M" -o "$OUT/x.onnx" --calib "$OUT/bad_rank.npy"
expect2 "bool calibration data" "bool" "$M" -o "$OUT/x.onnx" --calib "$OUT/bool.npy"
expect2 "uint8 calibration data without --scale" "uint8.*--scale" "$M" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy"
expect2 "an empty calibration set" "empty|no samples" "$M" -o "$OUT/x.onnx" --calib "$OUT/empty.npy"
expect2 "NaN in the calibration data" "NaN.*sample 7" "$M" -o "$OUT/x.onnx" --calib "$OUT/nan.npy"
expect2 "Inf in the calibration data" "infinity" "$M" -o "$OUT/x.onnx" --calib "$OUT/inf.npy"
expect2 "a model without float weights (already quantized)" "nothing to quantize" "$OUT/fashion_cnn.q.onnx" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S
expect2 "a model without any weights" "nothing to quantize" "$root/tests/models/chain.onnx" -o "$OUT/x.onnx" --calib "$OUT/chain_x.npy"
expect2 "a float16 model (float32 data)" "float16" "$root/tests/models/conv_f16.onnx" -o "$OUT/x.onnx" --calib "$OUT/f16_x.npy"
expect2 "--dynamic on a model without MatMul/Gemm weights" "nothing to quantize" "$OUT/mlp.dyn.onnx" -o "$OUT/x.onnx" --dynamic
expect2 "a garbage .npy" "npy|header|corrupt|truncated" "$M" -o "$OUT/x.onnx" --calib "$OUT/garbage.npy"
expect2 "a missing calibration file" "no such|cannot|open" "$M" -o "$OUT/x.onnx" --calib "$OUT/none.npy"
expect2 "an unknown method" "method" "$M" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S --method kl
expect2 "a percentile outside (50, 100]" "percentile" "$M" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S --percentile 20
expect2 "--max-drop without evaluation data" "max-drop" "$M" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S --max-drop 0.3
expect2 "a negative --max-drop" "max-drop" "$M" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S --eval-data "$OUT/test_x.npy" --eval-labels "$OUT/test_y.npy" --max-drop -1
expect2 "labels that do not match the evaluation data" "labels" "$M" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S --eval-data "$OUT/test_x.npy" --eval-labels "$OUT/labels_short.npy"
expect2 "evaluation data of the wrong shape" "shape" "$M" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S --eval-data "$OUT/bad_shape.npy" --eval-labels "$OUT/test_y.npy"
expect2 "a missing -o" "usage" "$M" --calib "$OUT/calib_x.npy"
expect2 "an unwritable output" "nnedge" "$M" -o "$OUT/no/such/dir/x.onnx" --calib "$OUT/calib_x.npy" --scale $S
expect2 "a missing model" "no such|cannot|open" "$OUT/none.onnx" -o "$OUT/x.onnx" --calib "$OUT/calib_x.npy" --scale $S
[ -e "$OUT/x.onnx" ] && fail "a failed quantize left $OUT/x.onnx behind" || pass "no output file after a failure"

echo "test-quant: $passes passed, $fails failed"
[ $fails -eq 0 ]
