#!/usr/bin/python3
"""Convert the Fashion-MNIST test set (IDX gz) to .npy files for nnedge.

Usage: python3 scripts/fashion_npy.py OUTDIR [--data-dir DIR]

Writes (numpy only):
  OUTDIR/fashion_test_x.npy   uint8 [10000,1,28,28]
  OUTDIR/fashion_test_y.npy   int64 [10000]
  OUTDIR/img_0.npy .. img_7.npy  float32 [1,1,28,28], pixels/255 (first 8 test images)
  OUTDIR/img_labels.txt       one line per image: "<k> <label> <class name>"
"""
import argparse
import gzip
import os
import sys

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
N_IMAGES = 8


def load_idx(path):
    """Read an unsigned-byte IDX gz file into a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: size mismatch" % path)
    return arr.reshape(dims).copy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--data-dir", default=DATA_DIR)
    args = ap.parse_args()

    x = load_idx(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"))
    y = load_idx(os.path.join(args.data_dir, "t10k-labels-idx1-ubyte.gz"))
    x = np.ascontiguousarray(x.reshape(-1, 1, 28, 28), dtype=np.uint8)
    y = y.astype(np.int64)
    if len(x) != len(y):
        print("error: %d images but %d labels" % (len(x), len(y)), file=sys.stderr)
        return 2

    os.makedirs(args.outdir, exist_ok=True)
    np.save(os.path.join(args.outdir, "fashion_test_x.npy"), x)
    np.save(os.path.join(args.outdir, "fashion_test_y.npy"), y)
    with open(os.path.join(args.outdir, "img_labels.txt"), "w") as f:
        for k in range(N_IMAGES):
            img = (x[k:k + 1].astype(np.float32) / np.float32(255.0)).astype(np.float32)
            np.save(os.path.join(args.outdir, "img_%d.npy" % k), img)
            f.write("%d %d %s\n" % (k, int(y[k]), CLASSES[int(y[k])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
