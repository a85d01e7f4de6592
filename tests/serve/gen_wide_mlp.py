#!/usr/bin/python3
"""Writes the model on which tests/serve/bench.sh measures dynamic batching:
an MNIST-input MLP, Flatten -> Gemm 784x1024 -> Relu -> Gemm 1024x1024 ->
Relu -> Gemm 1024x10 (1.86 M float weights, 7.4 MB, seeded He-normal; the
values do not matter for timing). A batch of one is a chain of
matrix-vector products that read every weight once per row, bound by memory
bandwidth (the weights live in L3, not L2); a batch of 16 reads them once
for 16 rows in a cache-blocked GEMM, so a row costs several times less. This
is the kind of model dynamic batching is for; a small CNN such as
models/fashion_cnn.onnx costs about the same per row at any batch size.
Generated rather than committed (7.4 MB of random floats).
Usage: gen_wide_mlp.py OUT.onnx [HIDDEN [LAYERS]]"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out, hidden=1024, layers=2):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Flatten", ["input"], ["h0"], axis=1)]
    inits = []
    d = 784
    for i in range(layers):
        w = (rng.standard_normal([d, hidden]) * np.sqrt(2.0 / d)).astype(np.float32)
        inits += [numpy_helper.from_array(w, "w%d" % i), numpy_helper.from_array(np.zeros([hidden], np.float32), "b%d" % i)]
        nodes.append(helper.make_node("Gemm", ["h%d" % i, "w%d" % i, "b%d" % i], ["g%d" % i]))
        nodes.append(helper.make_node("Relu", ["g%d" % i], ["h%d" % (i + 1)]))
        d = hidden
    w = (rng.standard_normal([d, 10]) * np.sqrt(1.0 / d)).astype(np.float32)
    inits += [numpy_helper.from_array(w, "wo"), numpy_helper.from_array(np.zeros([10], np.float32), "bo")]
    nodes.append(helper.make_node("Gemm", ["h%d" % layers, "wo", "bo"], ["logits"]))
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])
    m = helper.make_model(helper.make_graph(nodes, "wide_mlp", [x], [y], inits),
                          opset_imports=[helper.make_opsetid("", 17)], producer_name="gen_wide_mlp")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, out)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], int(a[1]) if len(a) > 1 else 1024, int(a[2]) if len(a) > 2 else 2)
