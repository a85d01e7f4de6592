#!/usr/bin/python3
"""Test-only: the small QDQ models of tests/quant (committed; rerun to
remake them). A float model covering the int8 patterns of the qdq_fusion
pass is written with onnx.helper, then it and models/fashion_cnn.onnx are
turned into QDQ models by scripts/qdq_insert.py (needs build/nnedge for
calibration):

    /usr/bin/python3 tests/quant/gen_models.py [--nnedge build/nnedge]

ops_cnn: Conv 3x3 pad 1 + bias + Relu, depthwise 3x3 stride 2 + Clip(0, 6),
1x1 Conv, a residual Add, MaxPool, Concat of two branches with different
scales, a grouped dilated Conv, GlobalAveragePool, Flatten, Gemm (transB=1)
and a MatMul with a rank-3 A (a second output). Odd spatial sizes (17 x 19)
and channel counts that are not multiples of the kernel tiles. Variants:
uint8 and int8 activations, Relu/Clip kept (fused by the pass), and *_rr
with 7-bit weights (scripts/qdq_insert.py --reduce-range).
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def ops_cnn():
    rng = np.random.default_rng(5)
    inits = []

    def w(name, *shape, scale=0.3):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    nodes = [
        helper.make_node("Conv", ["x", w("c1w", 13, 3, 3, 3), w("c1b", 13)], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", w("dww", 13, 1, 3, 3), w("dwb", 13)], ["dw"], group=13, strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["dw", "zero", "six"], ["dwc"]),
        helper.make_node("Conv", ["dwc", w("p1w", 20, 13, 1, 1), w("p1b", 20)], ["p1"]),
        helper.make_node("Conv", ["dwc", w("p2w", 20, 13, 1, 1)], ["p2"]),
        helper.make_node("Add", ["p1", "p2"], ["s"]),
        helper.make_node("MaxPool", ["s"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["mp", w("e1w", 7, 20, 1, 1), w("e1b", 7)], ["e1"]),
        helper.make_node("Relu", ["e1"], ["e1r"]),
        helper.make_node("Conv", ["mp", w("e3w", 9, 20, 3, 3, scale=0.1), w("e3b", 9)], ["e3"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["e3"], ["e3r"]),
        helper.make_node("Concat", ["e1r", "e3r"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", w("gw", 10, 8, 3, 3, scale=0.1)], ["gc"], group=2, dilations=[2, 2],
                         pads=[2, 1, 2, 1]),
        helper.make_node("GlobalAveragePool", ["gc"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["fl"]),
        helper.make_node("Gemm", ["fl", w("fw", 6, 10), w("fb", 6)], ["logits"], transB=1),
        helper.make_node("Reshape", ["gc", "shp"], ["gcr"]),
        helper.make_node("MatMul", ["gcr", w("mw", 12, 5)], ["mm"]),
    ]
    inits += [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
              numpy_helper.from_array(np.array(6.0, np.float32), "six"),
              numpy_helper.from_array(np.array([1, 10, 12], np.int64), "shp")]
    g = helper.make_graph(nodes, "ops_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 17, 19])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 6]),
                           helper.make_tensor_value_info("mm", TensorProto.FLOAT, [1, 10, 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def qlinearmatmul():
    """ONNX QLinearMatMul with a constant int8 B, per-column scales, rank-3 A."""
    rng = np.random.default_rng(9)
    b = rng.integers(-127, 128, (7, 5)).astype(np.int8)
    inits = [numpy_helper.from_array(np.array(0.01, np.float32), "xs"),
             numpy_helper.from_array(np.array(3, np.uint8), "xz"),
             numpy_helper.from_array(b, "b"),
             numpy_helper.from_array((rng.random(5) * 0.02 + 0.001).astype(np.float32), "bs"),
             numpy_helper.from_array(np.zeros(5, np.int8), "bz"),
             numpy_helper.from_array(np.array(0.05, np.float32), "ys"),
             numpy_helper.from_array(np.array(128, np.uint8), "yz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearMatMul", ["xq", "xs", "xz", "b", "bs", "bz", "ys", "yz"], ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    g = helper.make_graph(nodes, "qlinearmatmul", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def convinteger():
    """QuantizeLinear then ONNX ConvInteger with constant uint8 weights and a
    weight zero point per channel, cast to float: the int32 output path."""
    rng = np.random.default_rng(11)
    w = rng.integers(0, 256, (6, 3, 3, 3)).astype(np.uint8)
    inits = [numpy_helper.from_array(np.array(0.01, np.float32), "xs"),
             numpy_helper.from_array(np.array(7, np.uint8), "xz"),
             numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(np.array(128, np.uint8), "wz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("ConvInteger", ["xq", "w", "xz", "wz"], ["yi"], pads=[1, 1, 1, 1], strides=[2, 1]),
             helper.make_node("Cast", ["yi"], ["y"], to=TensorProto.FLOAT)]
    g = helper.make_graph(nodes, "convinteger", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 11, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 6, 9])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnedge", default=os.path.join(ROOT, "build", "nnedge"))
    a = ap.parse_args()
    out = os.path.join(HERE, "models")
    os.makedirs(out, exist_ok=True)
    onnx.save(qlinearmatmul(), os.path.join(out, "qlinearmatmul.onnx"))
    onnx.save(convinteger(), os.path.join(out, "convinteger.onnx"))
    fp = os.path.join(out, "ops_cnn_f32.onnx")
    onnx.save(ops_cnn(), fp)
    ins = os.path.join(ROOT, "scripts", "qdq_insert.py")
    fc = os.path.join(ROOT, "models", "fashion_cnn.onnx")
    jobs = [
        (fp, "ops_cnn_u8.onnx", []),
        (fp, "ops_cnn_s8.onnx", ["--act", "int8"]),
        (fp, "ops_cnn_keepact.onnx", ["--keep-act"]),
        (fc, "fashion_cnn_u8.onnx", []),
        (fc, "fashion_cnn_s8.onnx", ["--act", "int8", "--keep-act"]),
        # 7-bit weights: ONNX Runtime's AVX2 int8 kernels (vpmaddubsw) do not
        # saturate on them, so its optimized run must agree too
        (fp, "ops_cnn_rr.onnx", ["--reduce-range"]),
        (fc, "fashion_cnn_rr.onnx", ["--reduce-range"]),
    ]
    for src, name, extra in jobs:
        subprocess.run([sys.executable, ins, src, os.path.join(out, name), "--nnedge", a.nnedge, "--samples", "3"]
                       + extra, check=True)


if __name__ == "__main__":
    main()
