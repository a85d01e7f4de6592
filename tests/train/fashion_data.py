#!/usr/bin/python3
"""Write Fashion-MNIST (Debian dataset-fashion-mnist) as .npy for nnedge train.

Usage: /usr/bin/python3 tests/train/fashion_data.py OUTDIR [--data-dir DIR]

Writes OUTDIR/{train,test}_{x,y}.npy: x uint8 (N,1,28,28), y int64 (N,).
"""
import argparse
import gzip
import os
import sys

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\0\0\x08":
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: size mismatch" % path)
    return arr.reshape(dims).copy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--data-dir", default=DATA_DIR)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = load_idx(os.path.join(a.data_dir, prefix + "-images-idx3-ubyte.gz")).reshape(-1, 1, 28, 28)
        y = load_idx(os.path.join(a.data_dir, prefix + "-labels-idx1-ubyte.gz")).astype(np.int64)
        np.save(os.path.join(a.outdir, split + "_x.npy"), np.ascontiguousarray(x, dtype=np.uint8))
        np.save(os.path.join(a.outdir, split + "_y.npy"), y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
