#!/usr/bin/env python3
"""Writes a Loop benchmark model: an RNN-like loop of TRIPS iterations with
static shapes, h <- Tanh(MatMul(h, W) + b) (W an outer-scope initializer, b a
body initializer), the hidden state also stacked as a scan output.

Used to measure how much a body run per iteration costs (subgraph plans,
issue 6): compare `nnedge bench` with and without NNE_SUBGRAPH_PLANS=0.
Usage: gen_loop_rnn.py OUT.onnx [TRIPS [HIDDEN]]
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    out = sys.argv[1]
    trips = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    hidden = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    b = (rng.standard_normal((1, hidden)) * 0.1).astype(np.float32)
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="cond"),
            helper.make_node("MatMul", ["h", "W"], ["hw"], name="matmul"),
            helper.make_node("Add", ["hw", "b"], ["hb"], name="add"),
            helper.make_node("Tanh", ["hb"], ["h_next"], name="tanh"),
            helper.make_node("Identity", ["h_next"], ["h_scan"], name="scan"),
        ],
        "body",
        [
            helper.make_tensor_value_info("iter", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, hidden]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h_next", TensorProto.FLOAT, [1, hidden]),
            helper.make_tensor_value_info("h_scan", TensorProto.FLOAT, [1, hidden]),
        ],
        [numpy_helper.from_array(b, "b")],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "h0"], ["h_last", "hs"], name="loop", body=body)],
        "loop_rnn",
        [helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, hidden])],
        [
            helper.make_tensor_value_info("h_last", TensorProto.FLOAT, [1, hidden]),
            helper.make_tensor_value_info("hs", TensorProto.FLOAT, [trips, 1, hidden]),
        ],
        [
            numpy_helper.from_array(np.array(trips, dtype=np.int64), "M"),
            numpy_helper.from_array(np.array(True), "cond"),
            numpy_helper.from_array(W, "W"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
