#!/usr/bin/env python3
"""gen_train.py OUTDIR - hostile inputs of `nnedge train` and `nnedge prune`
(cases-train.txt, issue 8): a tiny classifier and its data, labels of the
wrong shape, dtype or range, data with NaN, a model without trainable
weights, a model whose backward pass meets an op without a gradient rule
(Sin), a teacher with other classes, a model with no logits of rank 2.
Files go to OUTDIR/train/."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(sys.argv[1], "train")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(8)


def save(name, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def w(name, shape):
    return numpy_helper.from_array((0.3 * rng.standard_normal(shape)).astype(np.float32), name)


X = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
# the classifier: y = Gemm(Relu(Gemm(x)))
save("cls", [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)], [X], [Y],
     [w("w1", [6, 4]), w("b1", [6]), w("w2", [3, 6]), w("b2", [3])])
# a teacher with 5 classes
save("teacher5", [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], [X],
     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], [w("w", [5, 4]), w("b", [5])])
# no weights at all: the logits are the input through a Relu
save("noweights", [helper.make_node("Relu", ["x"], ["y"])], [X],
     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
# an op without a gradient rule between the weights and the loss
save("nograd", [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1), helper.make_node("Sin", ["h"], ["y"])],
     [X], [Y], [w("w", [3, 4]), w("b", [3])])
# logits of rank 3
save("rank3", [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
               helper.make_node("Unsqueeze", ["h", "ax"], ["y"])], [X],
     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 3])],
     [w("w", [3, 4]), w("b", [3]), numpy_helper.from_array(np.array([1], np.int64), "ax")])

n = 32
x = rng.standard_normal((n, 4)).astype(np.float32)
y = rng.integers(0, 3, n).astype(np.int64)
np.save(os.path.join(OUT, "x.npy"), x)
np.save(os.path.join(OUT, "y.npy"), y)
np.save(os.path.join(OUT, "y_2d.npy"), np.stack([y, y], 1))
np.save(os.path.join(OUT, "y_n1.npy"), y[:, None])
np.save(os.path.join(OUT, "y_short.npy"), y[:-1])
np.save(os.path.join(OUT, "y_scalar.npy"), np.array(1, np.int64))
np.save(os.path.join(OUT, "y_float.npy"), y.astype(np.float32))
np.save(os.path.join(OUT, "y_bool.npy"), y.astype(bool))
z = y.copy(); z[7] = 3
np.save(os.path.join(OUT, "y_range.npy"), z)
z = y.copy(); z[0] = -1
np.save(os.path.join(OUT, "y_neg.npy"), z)
np.save(os.path.join(OUT, "y_huge.npy"), np.full(n, 2 ** 63 + 5, np.uint64))
np.save(os.path.join(OUT, "y_empty.npy"), np.zeros((0,), np.int64))
np.save(os.path.join(OUT, "x_empty.npy"), np.zeros((0, 4), np.float32))
xn = x.copy(); xn[3, 2] = np.nan
np.save(os.path.join(OUT, "x_nan.npy"), xn)
xi = x.copy(); xi[5, 0] = np.inf
np.save(os.path.join(OUT, "x_inf.npy"), xi)
np.save(os.path.join(OUT, "x_wide.npy"), rng.standard_normal((n, 5)).astype(np.float32))
np.save(os.path.join(OUT, "x_bool.npy"), x > 0)
