#!/usr/bin/python3
"""Quantize the torchvision CNNs of the benchmark (random weights, exported as
`make bench` does into build/models) with random calibration data, and check
that ONNX Runtime (test-only oracle) loads and runs every QDQ file and agrees
with nnedge on it.

Usage: /usr/bin/python3 tests/quant/cnn_models.py [--nnedge build/nnedge] [--models DIR]
                                                  [--names resnet18,mobilenet_v2,squeezenet1_1]
                                                  [--calib N] [--test N]

Writes DIR/<name>.int8.onnx (what the int8 speed benchmark times) next to the
float model, and prints per model: file ratio, and over N random test inputs
(seeded, N(0,1) like the benchmark's inputs): the largest |nnedge - ORT| of
the output relative to max |output|, and on how many inputs both pick the
same class. Exit 1 when ORT cannot load or run a file or its output differs
from nnedge's by more than 5% of the output's range (random weights leave
near-ties between classes, so the class itself may flip on a rounding step).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-400:]))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnedge", default=os.path.join(ROOT, "build/nnedge"))
    ap.add_argument("--models", default=os.path.join(ROOT, "build/models"))
    ap.add_argument("--names", default="resnet18,mobilenet_v2,squeezenet1_1")
    ap.add_argument("--calib", type=int, default=16)
    ap.add_argument("--test", type=int, default=16)
    args = ap.parse_args()
    missing = [n for n in args.names.split(",") if not os.path.exists(os.path.join(args.models, n + ".onnx"))]
    if missing:
        sh([sys.executable, os.path.join(ROOT, "scripts/export_torchvision.py"), args.models] + missing)
    rng = np.random.default_rng(20240601)
    work = os.path.join(args.models, "quant-work")
    os.makedirs(work, exist_ok=True)
    bad = 0
    for name in args.names.split(","):
        fm = os.path.join(args.models, name + ".onnx")
        qm = os.path.join(args.models, name + ".int8.onnx")
        calib = os.path.join(work, name + "_calib.npy")
        test = os.path.join(work, name + "_test.npy")
        np.save(calib, rng.standard_normal((args.calib, 3, 224, 224), dtype=np.float32))
        xt = rng.standard_normal((args.test, 3, 224, 224), dtype=np.float32)
        np.save(test, xt)
        q = json.loads(sh([args.nnedge, "quantize", fm, "-o", qm, "--calib", calib, "--json",
                           "--report", os.path.join(work, name + "_report.json")]))
        # nnedge: one input at a time (the export has a fixed batch of 1)
        outs = []
        for i in range(args.test):
            p = os.path.join(work, "one.npy")
            np.save(p, xt[i:i + 1])
            d = os.path.join(work, "run")
            r = json.loads(sh([args.nnedge, "run", qm, "-i", sh_input_name(args.nnedge, qm) + "=" + p, "-o", d,
                               "--json"]))
            outs.append(np.load(r["outputs"][0]["file"]).reshape(1, -1))
        ne = np.concatenate(outs)
        ort_out = os.path.join(work, name + "_ort.npy")
        try:
            sh(["node", os.path.join(ROOT, "tests/quant/ort_run.mjs"), qm, test, ort_out])
        except RuntimeError as e:
            print("%s: ONNX Runtime failed: %s" % (name, e))
            bad += 1
            continue
        oo = np.load(ort_out).reshape(args.test, -1)
        rel = float(np.abs(ne - oo).max() / max(1e-12, np.abs(oo).max()))
        agree = float((ne.argmax(1) == oo.argmax(1)).mean())
        print("%-14s int8 file %d bytes (%.3fx); %d layers int8; ORT vs nnedge on %d random inputs: "
              "max |diff| / max |out| %.4f, same class %.1f%%"
              % (name, q["bytes"], q["ratio"], q["weights_int8"], args.test, rel, 100 * agree), flush=True)
        # random weights give near-ties between classes, so the class can flip
        # on a rounding step: the check is on the outputs themselves
        bad += rel > 0.05
    return 1 if bad else 0


_names = {}


def sh_input_name(nnedge, model):
    if model not in _names:
        info = json.loads(sh([nnedge, "info", model, "--json"]))
        _names[model] = info["inputs"][0]["name"]
    return _names[model]


if __name__ == "__main__":
    sys.exit(main())
