#!/usr/bin/python3
"""Compares two nnedge output files for the sparse-kernel checks of
tests/train/run.sh.

  sparse_check.py A.npy B.npy close|same

close: within 1e-5 x max|A| + 1e-6 (float sums in another order);
same: bit for bit."""
import sys

import numpy as np

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
close = a.shape == b.shape and float(np.abs(a - b).max()) <= 1e-5 * float(np.abs(a).max()) + 1e-6
same = a.shape == b.shape and a.tobytes() == b.tobytes()
mode = sys.argv[3]
ok = {"close": close, "same": same}[mode]
if not ok:
    print("%s: max |diff| %g, max |a| %g, bitwise %s" % (mode, float(np.abs(a - b).max()) if a.shape == b.shape else -1,
                                                        float(np.abs(a).max()), same))
sys.exit(0 if ok else 1)
