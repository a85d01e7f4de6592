#!/usr/bin/python3
"""Checks structured pruning of tests/train/res.onnx (torch_ref.py's Res):
channels that meet in a residual Add are removed alike in every branch, and
every consumer lost the matching input channels.

  /usr/bin/python3 tests/train/check_res_prune.py ORIGINAL.onnx PRUNED.onnx

The kept output channels of each layer are found by matching the pruned
weights against the original's; then: stem and a2 keep the same channels
(the first Add), b2 and short the same (the second Add); a1, b1 and short
read exactly the stem group's channels, a2 a1's, b2 b1's, fc the second
group's; each BatchNormalization keeps its conv's channels. Prints what
fails; exit 1 then."""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def inits(path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


o, p = inits(sys.argv[1]), inits(sys.argv[2])
fails = []


def kept_rows(name, cols=None):
    """Indices of the original's output channels (axis 0) kept in the pruned
    weight (its input channels restricted to cols first)."""
    w0, w1 = o[name], p[name]
    if cols is not None:
        w0 = w0[:, cols]
    idx = []
    for r in w1:
        hits = [i for i in range(len(w0)) if w0[i].shape == r.shape and np.array_equal(w0[i], r)]
        if len(hits) != 1:
            fails.append("%s: a pruned row matches %d original rows" % (name, len(hits)))
            return None
        idx.append(hits[0])
    return idx


# the stem's input channel is the image (kept whole)
ks = kept_rows("stem.weight")
# a1 reads the stem group's channels
ka1 = kept_rows("a1.weight", ks) if ks is not None else None
ka2 = kept_rows("a2.weight", ka1) if ka1 is not None else None
if ks is None or ka2 is None or ks != ka2:
    fails.append("first Add: stem keeps %s, a2 keeps %s" % (ks, ka2))
kb1 = kept_rows("b1.weight", ks) if ks is not None else None
kb2 = kept_rows("b2.weight", kb1) if kb1 is not None else None
ksh = kept_rows("short.weight", ks) if ks is not None else None
if kb2 is None or ksh is None or kb2 != ksh:
    fails.append("second Add: b2 keeps %s, short keeps %s" % (kb2, ksh))
if kb2 is not None and not np.array_equal(p["fc.weight"], o["fc.weight"][:, kb2]):
    fails.append("fc does not read exactly the second group's channels")
for bn, k in (("bn0", ks), ("abn1", ka1), ("abn2", ka2), ("bbn1", kb1), ("bbn2", kb2)):
    for part in ("weight", "bias", "running_mean", "running_var"):
        n = bn + "." + part
        if k is None or not np.array_equal(p[n], o[n][k]):
            fails.append("%s is not sliced like its conv" % n)
shrunk = all(p[n].size < o[n].size for n in ("stem.weight", "a1.weight", "a2.weight", "b1.weight", "b2.weight",
                                                "short.weight", "fc.weight"))
if not shrunk:
    fails.append("not every layer shrank")
for f in fails:
    print(f)
sys.exit(1 if fails else 0)
