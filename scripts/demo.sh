#!/bin/sh
# `make demo`: classify a few Fashion-MNIST test images with nnedge and
# evaluate the whole test set, next to torch's accuracy for the same model.
#
# Assumes build/nnedge and models/fashion_cnn.onnx exist (models/ is made by
# scripts/train_demo.py). Needs python3 with numpy and the Debian package
# dataset-fashion-mnist. Run from the repository root.
# Overrides: NNEDGE (default build/nnedge), PYTHON (default: the first of
#            /usr/bin/python3 and python3 that has numpy),
#            DEMO_DIR (default build/demo), MODEL (default models/fashion_cnn.onnx).
set -eu

NNEDGE=${NNEDGE:-build/nnedge}
if [ -z "${PYTHON:-}" ]; then
    for p in /usr/bin/python3 python3; do
        if "$p" -c 'import numpy' >/dev/null 2>&1; then PYTHON=$p; break; fi
    done
fi
if [ -z "${PYTHON:-}" ]; then
    echo "demo: needs python3 with numpy (Debian: apt-get install python3-numpy)" >&2
    exit 2
fi
DEMO_DIR=${DEMO_DIR:-build/demo}
MODEL=${MODEL:-models/fashion_cnn.onnx}
MODEL_JSON=${MODEL%.onnx}.json

if [ ! -x "$NNEDGE" ]; then
    echo "demo: $NNEDGE not found; run make first" >&2
    exit 2
fi
if [ ! -f "$MODEL" ]; then
    echo "demo: $MODEL not found; run /usr/bin/python3 scripts/train_demo.py" >&2
    exit 2
fi

"$PYTHON" scripts/fashion_npy.py "$DEMO_DIR"

echo "== nnedge run $MODEL on the first 8 Fashion-MNIST test images =="
while read -r k label _name; do
    out="$DEMO_DIR/out_$k"
    rm -rf "$out"
    if ! "$NNEDGE" run "$MODEL" -i "input=$DEMO_DIR/img_$k.npy" -o "$out" >/dev/null; then
        echo "demo: nnedge run failed on image $k" >&2
        exit 1
    fi
    "$PYTHON" - "$k" "$label" "$out/logits.npy" <<'EOF'
import sys
import numpy as np
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
k, label, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
z = np.load(path).astype(np.float64).reshape(-1)
p = np.exp(z - z.max())
p /= p.sum()
c = int(p.argmax())
print("image %s: %s (%.1f%%), true: %s" % (k, CLASSES[c], 100.0 * p[c], CLASSES[label]))
EOF
done < "$DEMO_DIR/img_labels.txt"

echo
echo "== nnedge eval $MODEL on the 10,000 Fashion-MNIST test images =="
"$NNEDGE" eval "$MODEL" --data "$DEMO_DIR/fashion_test_x.npy" \
    --labels "$DEMO_DIR/fashion_test_y.npy" --scale 0.00392156862745098
if [ -f "$MODEL_JSON" ]; then
    "$PYTHON" - "$MODEL_JSON" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["torch_test"]
print("torch (same model, pixels/255): top-1 %.2f%%  top-5 %.2f%%  n=%d"
      % (100 * t["top1"], 100 * t["top5"], t["n"]))
EOF
fi
