#!/usr/bin/python3
"""`nnedge app classify` end to end on the Fashion-MNIST classifier of
models/fashion_cnn.onnx (dataset-fashion-mnist's test images):

  A. 28x28 gray PNGs, --preprocess scale=1/255: top-1 and the top-3 scores
     must equal softmax(`nnedge run` on the same pixels / 255 prepared with
     numpy) within 1e-4, and labels come from --labels;
  B. the same images as 2x larger RGB JPEGs, --preprocess
     resize=28x28,interp=area,color=gray: accuracy within 5 points of A's
     (the decode/resize/gray path keeps what the model needs);
  C. a signed .nne package of the model made with `nnedge pack --preprocess
     SPEC --labels FILE` (SPEC adds mean/std, so it differs from A's): with
     no --preprocess or --labels, app classify takes both from the manifest
     and must give what the plain model gives with --preprocess SPEC
     --labels FILE, and scores unlike A's.

    /usr/bin/python3 tests/app/check_classify.py NNEDGE WORKDIR [N]
"""
import gzip
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    nnedge, work = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    model = "models/fashion_cnn.onnx"
    os.makedirs(work, exist_ok=True)
    x = idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))[:n]
    y = idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[:n]
    classes = json.load(open("models/fashion_cnn.json"))["classes"]
    labels = os.path.join(work, "labels.txt")
    open(labels, "w").write("\n".join(classes) + "\n")
    pngs, jpgs = [], []
    for i in range(n):
        p = os.path.join(work, "f%03d.png" % i)
        Image.fromarray(x[i], "L").save(p)
        pngs.append(p)
        q = os.path.join(work, "f%03d.jpg" % i)
        Image.fromarray(np.dstack([x[i]] * 3), "RGB").resize((56, 56), Image.NEAREST).save(q, quality=95)
        jpgs.append(q)
    # reference: numpy preprocessing + nnedge run, softmax in numpy
    np.save(os.path.join(work, "batch.npy"), (x.astype(np.float32) / 255)[:, None])
    outdir = os.path.join(work, "run")
    r = subprocess.run([nnedge, "run", model, "-i", "input=" + os.path.join(work, "batch.npy"), "-o", outdir],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit("check_classify: nnedge run failed: " + r.stderr)
    logits = np.load(os.path.join(outdir, "logits.npy")).astype(np.float64)
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    fails = []

    def classify(files, pre):
        r = subprocess.run([nnedge, "app", "classify", model] + files + ["--labels", labels, "--top", "3", "--json",
                                                                          "--preprocess", pre],
                           capture_output=True, text=True)
        if r.returncode:
            sys.exit("check_classify: app classify failed: " + r.stderr)
        return json.loads(r.stdout)["images"]

    a = classify(pngs, "scale=1/255")
    for i, im in enumerate(a):
        ref = np.argsort(-prob[i], kind="stable")[:3]
        got = [t["index"] for t in im["top"]]
        err = max(abs(t["score"] - prob[i][t["index"]]) for t in im["top"])
        if got[0] != ref[0] or err > 1e-4 or im["top"][0]["label"] != classes[got[0]]:
            fails.append("A %s: top %s scores err %.2g, reference top %s" % (im["file"], got, err, list(ref)))
    acc_a = np.mean([im["top"][0]["index"] == y[i] for i, im in enumerate(a)])
    b = classify(jpgs, "resize=28x28,interp=area,color=gray,scale=1/255")
    acc_b = np.mean([im["top"][0]["index"] == y[i] for i, im in enumerate(b)])
    if acc_b < acc_a - 0.05:
        fails.append("B: accuracy %.3f, more than 5 points below A's %.3f" % (acc_b, acc_a))
    spec = "scale=0.00392156862745098,mean=0.5,std=0.5,color=gray"
    d = classify(pngs, spec)
    key = os.path.join(work, "root")
    for ext in (".sec", ".pub"):
        if os.path.exists(key + ext):
            os.remove(key + ext)
    pkg = os.path.join(work, "fashion.nne")
    for cmd in ([nnedge, "keygen", "-o", key],
                [nnedge, "pack", model, "-o", pkg, "--labels", labels, "--preprocess", spec,
                 "--sign", key + ".sec"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            sys.exit("check_classify: %s failed: %s" % (cmd[1], r.stderr))
    r = subprocess.run([nnedge, "app", "classify", pkg] + pngs + ["--trust", key + ".pub", "--top", "3", "--json"],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit("check_classify: app classify on the package failed: " + r.stderr)
    c = json.loads(r.stdout)["images"]
    for id_, ic in zip(d, c):
        if [t["index"] for t in id_["top"]] != [t["index"] for t in ic["top"]] or \
           [t["label"] for t in id_["top"]] != [t["label"] for t in ic["top"]] or \
           max(abs(x["score"] - y["score"]) for x, y in zip(id_["top"], ic["top"])) > 1e-5:
            fails.append("C %s: package gives %s, the model with --preprocess gave %s" % (ic["file"], ic["top"], id_["top"]))
    if max(abs(x["top"][0]["score"] - y["top"][0]["score"]) for x, y in zip(a, c)) < 1e-3:
        fails.append("C: the package's scores equal A's: was its preprocessing spec ignored?")
    for f in fails:
        print("FAIL " + f)
    print("check_classify: %d images; A (PNG 28x28) accuracy %.3f, top-1 and scores equal to nnedge run + numpy softmax; "
          "B (JPEG 56x56 RGB, area resize, gray) accuracy %.3f; C (signed .nne: manifest spec and labels) as the model with that spec; %d failures" % (n, acc_a, acc_b, len(fails)))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
