#!/usr/bin/python3
"""The int8 accuracy table: every Fashion-MNIST test model x every calibration
method, measured with nnedge and ONNX Runtime (test-only oracle).

Usage: /usr/bin/python3 tests/quant/accuracy.py [--nnedge build/nnedge] [--out build/quant-acc]
                                               [--models a.onnx,b.onnx] [--methods minmax,...] [--test N]

For each model: fp32 top-1 (nnedge eval); for each method: `nnedge quantize`
with the first 1,000 training images as calibration data, int8 top-1 (nnedge,
the QDQ model run by nnedge), drop in percentage points, file size ratio,
ONNX Runtime's top-1 on the same QDQ file and the share of test images on
which ONNX Runtime and nnedge pick the same class. Prints a Markdown table and
writes OUT/accuracy.json. Exit 1 when a row misses the targets (drop <= 0.3 pp,
ratio <= 0.3, agreement >= 99%) for the default method.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCALE = "0.00392156862745098"


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-500:]))
    return r.stdout


def nnedge_logits(nnedge, model, xf_path, n, outdir, chunk=2500):
    """nnedge's output 0 for every test image (run in chunks)."""
    xf = np.load(xf_path, mmap_mode="r")
    outs = []
    for i in range(0, n, chunk):
        p = os.path.join(outdir, "chunk.npy")
        np.save(p, np.ascontiguousarray(xf[i:i + chunk]))
        d = os.path.join(outdir, "run")
        sh([nnedge, "run", model, "-i", "input=" + p, "-o", d, "--json"])
        outs.append(np.load(os.path.join(d, "logits.npy")))
    return np.concatenate(outs)


def ort_logits(model, xf_path, outdir):
    p = os.path.join(outdir, "ort.npy")
    sh(["node", os.path.join(ROOT, "tests/quant/ort_run.mjs"), model, xf_path, p, "--batch", "500"])
    return np.load(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnedge", default=os.path.join(ROOT, "build/nnedge"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build/quant-acc"))
    ap.add_argument("--models", default="models/fashion_cnn.onnx,models/fashion_cnn_bn.onnx,models/fashion_mlp.onnx")
    ap.add_argument("--methods", default="minmax,percentile,entropy,mse")
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--extra", default="", help="extra quantize options, space separated")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sh([sys.executable, os.path.join(ROOT, "tests/quant/fashion_data.py"), args.out, "--test", str(args.test)])
    x = np.load(os.path.join(args.out, "test_x.npy"))
    y = np.load(os.path.join(args.out, "test_y.npy"))
    xf_path = os.path.join(args.out, "test_f.npy")
    np.save(xf_path, x.astype(np.float32) * np.float32(float(SCALE)))
    calib = os.path.join(args.out, "calib_x.npy")
    rows = []
    for model in args.models.split(","):
        mpath = os.path.join(ROOT, model) if not os.path.isabs(model) else model
        name = os.path.splitext(os.path.basename(model))[0]
        ev = json.loads(sh([args.nnedge, "eval", mpath, "--data", os.path.join(args.out, "test_x.npy"), "--labels",
                            os.path.join(args.out, "test_y.npy"), "--scale", SCALE, "--json"]))
        fp32 = ev["top1"]
        for method in args.methods.split(","):
            q = os.path.join(args.out, "%s_%s.onnx" % (name, method))
            rep = os.path.join(args.out, "%s_%s.json" % (name, method))
            t0 = time.time()
            qj = json.loads(sh([args.nnedge, "quantize", mpath, "-o", q, "--calib", calib, "--scale", SCALE,
                                "--method", method, "--report", rep, "--json"] + args.extra.split()))
            tq = time.time() - t0
            nl = nnedge_logits(args.nnedge, q, xf_path, len(y), args.out)
            ol = ort_logits(q, xf_path, args.out)
            pn, po = nl.argmax(1), ol.argmax(1)
            row = {"model": name, "method": method, "fp32_top1": fp32, "int8_top1": float((pn == y).mean()),
                   "ort_top1": float((po == y).mean()), "agreement": float((pn == po).mean()),
                   "ratio": qj["ratio"], "bytes": qj["bytes"], "float_bytes": qj["float_bytes"],
                   "quantize_s": round(tq, 1), "n": int(len(y))}
            row["drop_pp"] = 100 * (row["fp32_top1"] - row["int8_top1"])
            rows.append(row)
            print("%-16s %-10s fp32 %.2f%%  int8 %.2f%%  drop %+.2f pp  ort %.2f%%  agree %.2f%%  ratio %.3f"
                  % (name, method, 100 * fp32, 100 * row["int8_top1"], row["drop_pp"], 100 * row["ort_top1"],
                     100 * row["agreement"], row["ratio"]), flush=True)
    with open(os.path.join(args.out, "accuracy.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print("\n| model | method | fp32 top-1 | int8 top-1 | drop (pp) | ORT int8 top-1 | ORT agreement | file ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %.2f%% | %.2f%% | %.2f | %.2f%% | %.2f%% | %.3f |"
              % (r["model"], r["method"], 100 * r["fp32_top1"], 100 * r["int8_top1"], r["drop_pp"],
                 100 * r["ort_top1"], 100 * r["agreement"], r["ratio"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
