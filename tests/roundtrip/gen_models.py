#!/usr/bin/python3
"""gen_models.py - round-trip test models with the fields a writer easily loses.

Writes tests/roundtrip/models/:
  features.onnx       metadata_props, doc strings (model, graph, node, value),
                      producer name/version, domain, model_version, value_info,
                      an If with subgraphs, a sequence-typed value_info, a
                      second opset domain
  function.onnx       a model-local function (FunctionProto) called by a node
  external.onnx       initializers in external.bin (location/offset/length), one
                      at an unaligned offset, one aligned
Each has input x float[2,3]; run.sh feeds them arange inputs ("gen").
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
os.makedirs(here, exist_ok=True)

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])


def features():
    w = numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    then_g = helper.make_graph([helper.make_node("Add", ["h", "w"], ["t_out"], name="then_add")], "then",
                               [], [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Sub", ["h", "w"], ["e_out"], name="else_sub")], "else",
                               [], [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)])
    nodes = [
        helper.make_node("Mul", ["x", "w"], ["h"], name="mul", doc_string="scales x"),
        helper.make_node("ReduceSum", ["x"], ["s"], name="sum", keepdims=0),
        helper.make_node("Greater", ["s", "one"], ["c"], name="cmp"),
        helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
        helper.make_node("SequenceConstruct", ["x", "h"], ["seq"], name="seq"),
        helper.make_node("SequenceLength", ["seq"], ["n"], name="len"),
    ]
    n_out = helper.make_tensor_value_info("n", TensorProto.INT64, [])
    g = helper.make_graph(nodes, "features", [X], [Y, n_out], [w, one], doc_string="a graph with everything")
    h_vi = helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", 3], doc_string="x times w")
    seq_vi = helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None)
    g.value_info.extend([h_vi, seq_vi])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
                          producer_name="gen_models.py", producer_version="1.0", domain="org.nnedge.test",
                          model_version=7, doc_string="round-trip features")
    m.ir_version = 8
    helper.set_model_props(m, {"author": "nnedge", "license": "MIT", "empty": ""})
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(here, "features.onnx"))


def function():
    f = helper.make_function("org.nnedge.local", "AddTwice", ["a", "b"], ["c"],
                             [helper.make_node("Add", ["a", "b"], ["t"]), helper.make_node("Add", ["t", "b"], ["c"])],
                             [helper.make_opsetid("", 17)], doc_string="a + 2b")
    w = numpy_helper.from_array(np.ones(3, dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("AddTwice", ["x", "w"], ["y"], domain="org.nnedge.local", name="call")],
                          "function", [X], [Y], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("org.nnedge.local", 1)],
                          functions=[f])
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(here, "function.onnx"))


def external():
    a = np.arange(3, dtype=np.float32) + 0.5
    b = np.arange(6, dtype=np.float32).reshape(2, 3) * 0.25
    blob = b"\0" * 3 + a.tobytes() + b"\0" * 1 + b.tobytes()   # a at 3 (unaligned), b at 16 (aligned)
    with open(os.path.join(here, "external.bin"), "wb") as f:
        f.write(blob)
    tensors = []
    for name, arr, off in (("a", a, 3), ("b", b, 16)):
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(arr.shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "external.bin"), ("offset", str(off)), ("length", str(arr.nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        tensors.append(t)
    g = helper.make_graph([helper.make_node("Add", ["x", "a"], ["t"]), helper.make_node("Mul", ["t", "b"], ["y"])],
                          "external", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], tensors)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    with open(os.path.join(here, "external.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    onnx.checker.check_model(os.path.join(here, "external.onnx"), full_check=True)


features()
function()
external()
