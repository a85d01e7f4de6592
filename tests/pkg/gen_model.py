#!/usr/bin/env python3
"""Writes the small model the package tests use (tests/pkg/small_mlp.onnx) and
its golden input (small_mlp_x.npy): MatMul 64x48 + Add + Relu + MatMul 48x10,
random weights with a fixed seed, so the weights segment is ~15 KB of bytes
that cannot be guessed (the plaintext-on-disk check searches for them).
Usage: /usr/bin/python3 tests/pkg/gen_model.py tests/pkg"""
import sys, os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(9)
w1 = rng.standard_normal((64, 48)).astype(np.float32)
b1 = rng.standard_normal((48,)).astype(np.float32)
w2 = rng.standard_normal((48, 10)).astype(np.float32)
nodes = [
    helper.make_node("MatMul", ["x", "w1"], ["h"]),
    helper.make_node("Add", ["h", "b1"], ["hb"]),
    helper.make_node("Relu", ["hb"], ["r"]),
    helper.make_node("MatMul", ["r", "w2"], ["y"]),
]
g = helper.make_graph(nodes, "small_mlp",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
                      [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
                       numpy_helper.from_array(w2, "w2")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="tests/pkg/gen_model.py")
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, os.path.join(out, "small_mlp.onnx"))
np.save(os.path.join(out, "small_mlp_x.npy"), rng.standard_normal((3, 64)).astype(np.float32))
