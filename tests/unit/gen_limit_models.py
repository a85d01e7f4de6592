#!/usr/bin/python3
"""Generates the models of tests/unit/test_limits.c into tests/models/
(limits_*.onnx). Run: /usr/bin/python3 tests/unit/gen_limit_models.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


def save(nodes, name, inputs, outputs, inits=(), opset=13, check=False):
    m = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, list(inits)),
                          opset_imports=[helper.make_opsetid("", opset)])
    if check:
        onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


# Loop: M iterations (input), condition true; carries acc += 1 and stacks acc.
body = helper.make_graph(
    [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Add", ["a_in", "one"], ["a_out"]),
     helper.make_node("Identity", ["a_out"], ["scan"])],
    "body", [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("a_in", TensorProto.FLOAT, [1])],
    [vi("c_out", TensorProto.BOOL, []), vi("a_out", TensorProto.FLOAT, [1]), vi("scan", TensorProto.FLOAT, [1])],
    [numpy_helper.from_array(np.ones(1, np.float32), "one")])
save([helper.make_node("Loop", ["M", "c", "a0"], ["acc", "stacked"], body=body)], "limits_loop",
     [vi("M", TensorProto.INT64, [])], [vi("acc", TensorProto.FLOAT, [1]), vi("stacked", TensorProto.FLOAT, None)],
     [numpy_helper.from_array(np.array(True), "c"), numpy_helper.from_array(np.zeros(1, np.float32), "a0")])

# A random DAG of 400 nodes with tensors of varied sizes and long-lived skips.
rng = np.random.default_rng(3)
nodes, vals = [], [("x", 1)]
for i in range(400):
    a = vals[len(vals) - 1 - min(int(rng.exponential(6)), len(vals) - 1)]
    if rng.random() < 0.5:
        b = vals[len(vals) - 1 - min(int(rng.exponential(20)), len(vals) - 1)]
        out = ("v%d" % i, max(a[1], b[1]))
        nodes.append(helper.make_node("Add", [a[0], b[0]], [out[0]]))  # broadcasts [1,w] with [1,w']? keep w equal
        if a[1] != b[1]:
            nodes[-1] = helper.make_node("Relu", [a[0]], [out[0]])
            out = (out[0], a[1])
    elif rng.random() < 0.5:
        reps = int(rng.integers(1, 5))
        nodes.append(helper.make_node("Tile", [a[0], "rep%d" % reps], ["v%d" % i]))
        out = ("v%d" % i, a[1] * reps)
    else:
        nodes.append(helper.make_node("Neg", [a[0]], ["v%d" % i]))
        out = ("v%d" % i, a[1])
    if out[1] > 4096:  # keep sizes bounded
        nodes[-1] = helper.make_node("Neg", [a[0]], [out[0]])
        out = (out[0], a[1])
    vals.append(out)
inits = [numpy_helper.from_array(np.array([1, r], np.int64), "rep%d" % r) for r in range(1, 5)]
save(nodes, "limits_dag", [vi("x", TensorProto.FLOAT, [1, 16])],
     [vi(vals[-1][0], TensorProto.FLOAT, None), vi(vals[200][0], TensorProto.FLOAT, None)], inits)

# 1500 tensors alive at once (all graph outputs): more than the planner sorts.
n = 1500
save([helper.make_node("Relu" if i % 3 else "Neg", ["x"], ["w%d" % i]) for i in range(n)], "limits_wide",
     [vi("x", TensorProto.FLOAT, [1, 8])], [vi("w%d" % i, TensorProto.FLOAT, None) for i in range(n)])

# MaxPool whose kernel_shape is FLOATS (must be refused, not ignored).
node = helper.make_node("MaxPool", ["x"], ["y"])
node.attribute.append(helper.make_attribute("kernel_shape", [2.0, 2.0]))
save([node], "limits_attr_type", [vi("x", TensorProto.FLOAT, [1, 1, 4, 4])], [vi("y", TensorProto.FLOAT, None)],
     check=False)
