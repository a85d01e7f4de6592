#!/usr/bin/python3
"""Writes the small models tests/cli/bad_input.sh runs (committed under tests/models/).

    /usr/bin/python3 scripts/gen_cli_test_models.py

passthrough_2x3.onnx  no nodes: output x is input x (float32 [2,3]); runs on any build
identity_2x3.onnx     y = Identity(x), float32 [2,3]
add_2x3.onnx          z = Add(x, y), float32 [2,3]
unsupported_op.onnx   y = com.nnedge.test:NoSuchOp(x): an op no build will ever have
external_huge.onnx    an initializer claiming 256 GiB of external data in a missing file
"""
import onnx
from onnx import TensorProto as T
from onnx import helper

OPSET = [helper.make_opsetid("", 13)]


def vi(name):
    return helper.make_tensor_value_info(name, T.FLOAT, [2, 3])


def save(graph, path, opsets=OPSET):
    m = helper.make_model(graph, opset_imports=opsets, producer_name="gen_cli_test_models")
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


save(helper.make_graph([], "passthrough", [vi("x")], [vi("x")]), "tests/models/passthrough_2x3.onnx")
save(helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="id")], "identity", [vi("x")], [vi("y")]),
     "tests/models/identity_2x3.onnx")
save(helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"], name="add")], "add", [vi("x"), vi("y")],
                       [vi("z")]), "tests/models/add_2x3.onnx")
save(helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"], name="custom", domain="com.nnedge.test")],
                       "unsupported", [vi("x")], [vi("y")]), "tests/models/unsupported_op.onnx",
     OPSET + [helper.make_opsetid("com.nnedge.test", 1)])

# An initializer that claims 256 GiB of external data (no file): must fail
# before anything is allocated.
big = T(name="w", data_type=T.FLOAT, dims=[1 << 18, 1 << 18])
big.data_location = T.EXTERNAL
e = big.external_data.add()
e.key, e.value = "location", "no-such-weights.bin"
g = helper.make_graph([], "external_huge", [vi("x")], [vi("x")], initializer=[big])
m = helper.make_model(g, opset_imports=OPSET, producer_name="gen_cli_test_models")
m.ir_version = 7
onnx.save(m, "tests/models/external_huge.onnx")
