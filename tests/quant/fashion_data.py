#!/usr/bin/python3
"""Fashion-MNIST .npy files for the quantizer tests and the accuracy table.

Usage: /usr/bin/python3 tests/quant/fashion_data.py OUTDIR [--calib N] [--test N]

Writes (numpy only; Debian dataset-fashion-mnist):
  OUTDIR/calib_x.npy   uint8 [N,1,28,28]  the first N (default 1000) training images
  OUTDIR/test_x.npy    uint8 [M,1,28,28]  the first M (default 10000) test images
  OUTDIR/test_y.npy    int64 [M]
Pixels stay uint8: nnedge quantize/eval take --scale 0.00392156862745098 (1/255).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from fashion_npy import DATA_DIR, load_idx  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--calib", type=int, default=1000)
    ap.add_argument("--test", type=int, default=10000)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    tr = load_idx(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz")).reshape(-1, 1, 28, 28)
    te = load_idx(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz")).reshape(-1, 1, 28, 28)
    ty = load_idx(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    np.save(os.path.join(args.outdir, "calib_x.npy"), np.ascontiguousarray(tr[:args.calib]))
    np.save(os.path.join(args.outdir, "test_x.npy"), np.ascontiguousarray(te[:args.test]))
    np.save(os.path.join(args.outdir, "test_y.npy"), ty[:args.test])
    return 0


if __name__ == "__main__":
    sys.exit(main())
