#!/usr/bin/python3
"""Writes the model repository the serve tests use into OUTDIR:
  id_<DT>/1     Identity of a [N,3] tensor, one per protocol datatype
  add/1, add/2  two inputs a, b [N,4] float; outputs sum = a+b, prod = a*b
                (version 2 computes sum = a+b+1: a swap is visible in outputs)
  fixed/1       input x [2,3] (no batch dim), y = Relu(x)
  slow/1        y = x @ W repeated (a model that takes a few ms: queue tests)
  fashion/1     models/fashion_cnn.onnx (copied by the test script)
Usage: gen_models.py OUTDIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DT = {
    "BOOL": TensorProto.BOOL, "UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32, "UINT64": TensorProto.UINT64, "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16, "INT32": TensorProto.INT32, "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16, "FP32": TensorProto.FLOAT, "FP64": TensorProto.DOUBLE,
    "BF16": TensorProto.BFLOAT16,
}


def save(model, out, name, version):
    d = os.path.join(out, name, str(version))
    os.makedirs(d, exist_ok=True)
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))


def mk(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="gen_serve")


def main(out):
    for name, dt in DT.items():
        x = helper.make_tensor_value_info("x", dt, ["N", 3])
        y = helper.make_tensor_value_info("y", dt, ["N", 3])
        save(mk([helper.make_node("Identity", ["x"], ["y"])], [x], [y]), out, "id_" + name, 1)
    for ver in (1, 2):
        a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4])
        b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 4])
        s = helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N", 4])
        p = helper.make_tensor_value_info("prod", TensorProto.FLOAT, ["N", 4])
        nodes = [helper.make_node("Add", ["a", "b"], ["s0"]), helper.make_node("Mul", ["a", "b"], ["prod"])]
        inits = []
        if ver == 2:
            inits = [numpy_helper.from_array(np.ones([1], np.float32), "one")]
            nodes.append(helper.make_node("Add", ["s0", "one"], ["sum"]))
        else:
            nodes.append(helper.make_node("Identity", ["s0"], ["sum"]))
        save(mk(nodes, [a, b], [s, p], inits), out, "add", ver)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    save(mk([helper.make_node("Relu", ["x"], ["y"])], [x], [y]), out, "fixed", 1)
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal([256, 256]) / 16).astype(np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 256])
    nodes, prev = [], "x"
    for i in range(24):
        nodes.append(helper.make_node("MatMul", [prev, "w"], ["m%d" % i]))
        nodes.append(helper.make_node("Tanh", ["m%d" % i], ["t%d" % i if i < 23 else "y"]))
        prev = "t%d" % i
    save(mk(nodes, [x], [y], [w]), out, "slow", 1)


if __name__ == "__main__":
    main(sys.argv[1])
