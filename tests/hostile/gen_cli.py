#!/usr/bin/env python3
"""gen_cli.py OUTDIR - hostile inputs of the CLI area (tests/hostile/README.md):
sizes that overflow, eval's inputs, output names, JSON strings, lying
protobuf length fields, graph cycles, deep subgraphs, shape bombs,
out-of-range indices, zero-sized tensors and .npy header lies.

Everything goes to OUTDIR/cli/. Deterministic: no randomness, no clock.
"""
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

OUT = os.path.join(sys.argv[1], "cli")
os.makedirs(OUT, exist_ok=True)
F, I64 = TensorProto.FLOAT, TensorProto.INT64


def path(name):
    return os.path.join(OUT, name)


def save_model(graph, name, opset=13, check=False):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hostile")
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m)
    with open(path(name), "wb") as f:
        f.write(m.SerializeToString())
    return m


def save_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def npy(name, arr):
    np.save(path(name), arr, allow_pickle=False)


def npy_raw(name, header, data=b"", major=1):
    """A .npy file with a hand-written header dict (padded like numpy)."""
    h = header.encode("latin1")
    pre = 10 if major == 1 else 12
    pad = (64 - (pre + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    if major == 1:
        head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h))
    else:
        head = b"\x93NUMPY" + bytes([major, 0]) + struct.pack("<I", len(h))
    save_bytes(name, head + h + data)


def identity_model(name, dtype, shape, in_name="x", out_name="y"):
    g = helper.make_graph([helper.make_node("Identity", [in_name], [out_name])], "g",
                          [helper.make_tensor_value_info(in_name, dtype, shape)],
                          [helper.make_tensor_value_info(out_name, dtype, shape)])
    return save_model(g, name)


# ---------------------------------------------------------------- sizes --
# inputs whose byte size overflows 2^64 (the element count fits int64)
identity_model("huge_input.onnx", F, [4611686018427387904])
identity_model("huge_input_2d.onnx", F, [1 << 31, 1 << 31])
identity_model("huge_input_i64.onnx", I64, [1 << 61])
identity_model("huge_input_numel.onnx", F, [1 << 40, 1 << 40])   # count overflows int64
identity_model("sym_input.onnx", F, ["N", 3])                    # --shape picks the size
identity_model("sym2_input.onnx", F, ["N", "M"])
identity_model("zero_input.onnx", F, [0, 3])
g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g",
                      [helper.make_tensor_value_info("a", F, ["N", 10]), helper.make_tensor_value_info("b", F, ["N", 10])],
                      [helper.make_tensor_value_info("y", F, ["N", 10])])
save_model(g, "two_inputs.onnx")
# an initializer whose dims overflow, with no data
big_init = TensorProto(name="w", data_type=F, dims=[1 << 62, 4])
g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [1])],
                      [helper.make_tensor_value_info("y", F, None)], [big_init])
save_model(g, "init_dims_overflow.onnx")
# shape bombs: ConstantOfShape / Expand / Tile to 2^40 elements and more
for tag, shp in (("1e12", [1 << 20, 1 << 20]), ("2e18", [1 << 31, 1 << 31]), ("neg", [-1, 4])):
    g = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["s"], ["y"], value=helper.make_tensor("v", F, [1], [1.0]))], "g",
        [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("y", F, None)],
        [helper.make_tensor("s", I64, [len(shp)], shp)])
    save_model(g, "cos_%s.onnx" % tag)
g = helper.make_graph([helper.make_node("Expand", ["x", "s"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [1, 1])], [helper.make_tensor_value_info("y", F, None)],
                      [helper.make_tensor("s", I64, [2], [1 << 32, 1 << 32])])
save_model(g, "expand_bomb.onnx")
g = helper.make_graph([helper.make_node("Tile", ["x", "r"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [2, 2])], [helper.make_tensor_value_info("y", F, None)],
                      [helper.make_tensor("r", I64, [2], [1 << 40, 1 << 40])])
save_model(g, "tile_bomb.onnx")
g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [2, 2])], [helper.make_tensor_value_info("y", F, None)],
                      [helper.make_tensor("s", I64, [3], [1 << 62, 1 << 62, 0])])
save_model(g, "reshape_lie.onnx")
# Range with a limit of 2^62
g = helper.make_graph([helper.make_node("Range", ["a", "b", "c"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("y", I64, None)],
                      [helper.make_tensor("a", I64, [], [0]), helper.make_tensor("b", I64, [], [1 << 62]),
                       helper.make_tensor("c", I64, [], [1])])
save_model(g, "range_bomb.onnx")

# ---------------------------------------------------------- out of range --
def gather_model(name, idx, axis=0, op="Gather"):
    g = helper.make_graph([helper.make_node(op, ["x", "i"], ["y"], axis=axis)], "g",
                          [helper.make_tensor_value_info("x", F, [3, 4])],
                          [helper.make_tensor_value_info("y", F, None)],
                          [helper.make_tensor("i", I64, [len(idx)], idx)])
    save_model(g, name)


gather_model("gather_oob.onnx", [0, 3])
gather_model("gather_neg_oob.onnx", [-4])
gather_model("gather_i64max.onnx", [(1 << 63) - 1])
gather_model("gather_i64min.onnx", [-(1 << 63)])
gather_model("gather_axis_oob.onnx", [0], axis=5)
g = helper.make_graph([helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)], "g",
                      [helper.make_tensor_value_info("x", F, [2, 2])], [helper.make_tensor_value_info("y", F, None)],
                      [helper.make_tensor("i", I64, [2, 2], [0, 1, 1, 1 << 40])])
save_model(g, "gather_elements_oob.onnx")
g = helper.make_graph([helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=0)], "g",
                      [helper.make_tensor_value_info("x", F, [2, 2])], [helper.make_tensor_value_info("y", F, None)],
                      [helper.make_tensor("i", I64, [1, 2], [0, -3]), helper.make_tensor("u", F, [1, 2], [1, 2])])
save_model(g, "scatter_oob.onnx")
g = helper.make_graph([helper.make_node("GatherND", ["x", "i"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [2, 2])], [helper.make_tensor_value_info("y", F, None)],
                      [helper.make_tensor("i", I64, [1, 2], [1, 7])])
save_model(g, "gathernd_oob.onnx")
g = helper.make_graph([helper.make_node("OneHot", ["i", "d", "v"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("y", F, None)],
                      [helper.make_tensor("i", I64, [2], [0, 1]), helper.make_tensor("d", I64, [], [1 << 62]),
                       helper.make_tensor("v", F, [2], [0, 1])])
save_model(g, "onehot_depth_bomb.onnx")

# ------------------------------------------------------------- structure --
# a cycle: a = Relu(b), b = Relu(a)
g = helper.make_graph([helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
                       helper.make_node("Add", ["x", "a"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("y", F, [1])])
save_model(g, "cycle.onnx")
# a node that consumes its own output
g = helper.make_graph([helper.make_node("Add", ["x", "y"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("y", F, [1])])
save_model(g, "self_loop.onnx")
# an output nobody produces
g = helper.make_graph([helper.make_node("Relu", ["x"], ["z"])], "g",
                      [helper.make_tensor_value_info("x", F, [1])], [helper.make_tensor_value_info("y", F, [1])])
save_model(g, "dangling_output.onnx")


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ld(field, data):
    """A length-delimited protobuf field."""
    return varint(field << 3 | 2) + varint(len(data)) + data


def nested_if(depth):
    """A model of If nodes nested `depth` deep (then_branch holds the next
    level). Serialized by hand from the inside out: building nested protobuf
    messages level by level with the onnx API copies the subtree each time."""
    leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "leaf", [],
                             [helper.make_tensor_value_info("e", F, [1])]).SerializeToString()
    blob = leaf
    graph_attr_type = varint(20 << 3) + varint(5)  # AttributeProto.type = GRAPH
    for d in range(depth - 1, -1, -1):
        then_a = ld(1, b"then_branch") + ld(6, blob) + graph_attr_type
        else_a = ld(1, b"else_branch") + ld(6, leaf) + graph_attr_type
        out = b"o%d" % d
        node = ld(1, b"c") + ld(2, out) + ld(4, b"If") + ld(5, then_a) + ld(5, else_a)
        vi = helper.make_tensor_value_info(out.decode(), F, [1]).SerializeToString()
        if d:
            blob = ld(1, node) + ld(2, b"b%d" % d) + ld(12, vi)
        else:
            c = helper.make_tensor("c", TensorProto.BOOL, [], [1]).SerializeToString()
            xi = helper.make_tensor_value_info("x", F, [1]).SerializeToString()
            graph = ld(1, node) + ld(2, b"g") + ld(5, c) + ld(11, xi) + ld(12, vi)
    opset = varint(2 << 3) + varint(13)
    return varint(1 << 3) + varint(8) + ld(8, opset) + ld(7, graph)


save_bytes("if_depth3.onnx", nested_if(3))
save_bytes("if_depth200.onnx", nested_if(200))
save_bytes("if_depth3000.onnx", nested_if(3000))

# ------------------------------------------------------------- protobuf --
# ModelProto.graph (field 7, length-delimited) with a length far past the end
save_bytes("pb_graph_len_huge.onnx", b"\x08\x08" + b"\x3a" + varint((1 << 62)) + b"\x0a\x01n")
save_bytes("pb_graph_len_past_end.onnx", b"\x08\x08" + b"\x3a" + varint(1000) + b"\x0a\x01n")
# a varint of 11 bytes (no terminator within 10)
save_bytes("pb_varint_long.onnx", b"\x08" + b"\xff" * 11 + b"\x01")
# a length of 2^64-1
save_bytes("pb_len_u64max.onnx", b"\x08\x08\x3a" + varint((1 << 64) - 1))
# wire type 7 (invalid)
save_bytes("pb_bad_wiretype.onnx", b"\x08\x08\x3f\x00")
# field number 0
save_bytes("pb_field0.onnx", b"\x00\x01")
# every length-delimited field's length lies: inner field length +100
b = bytearray(open(path("gather_oob.onnx"), "rb").read())
save_bytes("pb_truncated_half.onnx", bytes(b[: len(b) // 2]))
# a tensor whose raw_data is shorter than its dims say
t = TensorProto(name="w", data_type=F, dims=[1000], raw_data=np.zeros(10, np.float32).tobytes())
g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, [1000])],
                      [helper.make_tensor_value_info("y", F, [1000])], [t])
save_model(g, "raw_data_short.onnx")
# an empty file and a file of zeros
save_bytes("empty.onnx", b"")
save_bytes("zeros.onnx", b"\x00" * 64)

# ------------------------------------------------------------ run names --
# outputs "a/b" and "a_b" (both sanitize to a_b), "A_B" (case-folds onto a_b),
# a 300-byte name, names with a quote, backslash, newline and invalid UTF-8,
# an empty name, "." and ".."
names = ["a/b", "a_b", "A_B", "n" * 300, 'q"uote\\back', "new\nline", "bad\xff\xfeutf8", "..",
         "\u00e9t\u00e9" * 60]
nodes, outs = [], []
for k, n in enumerate(names):
    nodes.append(helper.make_node("Mul", ["x", "c%d" % k], [n]))
    outs.append(helper.make_tensor_value_info(n, F, [2]))
inits = [helper.make_tensor("c%d" % k, F, [1], [float(k + 1)]) for k in range(len(names))]
g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [2])], outs, inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
data = m.SerializeToString()
# protobuf strings must be UTF-8 for the Python API: patch the placeholder bytes
data = data.replace("bad\xff\xfeutf8".encode("utf-8"), b"bad\xff\xfeutf8".ljust(len("bad\xff\xfeutf8".encode("utf-8")), b"8"))
save_bytes("names.onnx", data)
npy("x2.npy", np.array([1.0, 2.0], np.float32))
npy("x1.npy", np.array([1.0], np.float32))
npy("x2x2.npy", np.ones((2, 2), np.float32))
npy("x2x3.npy", np.eye(2, 3, dtype=np.float32))
npy("x0x3.npy", np.zeros((0, 3), np.float32))
npy("x3.npy", np.ones((1, 3), np.float32))
# a model path with a quote, a backslash and invalid UTF-8 (for --json)
odd_dir = os.path.join(OUT.encode(), b'odd"q\\b\xff')
os.makedirs(odd_dir, exist_ok=True)
with open(os.path.join(odd_dir, b"m.onnx"), "wb") as f:
    f.write(open(path("zero_input.onnx"), "rb").read())

# ------------------------------------------------------------------ eval --
rng = np.random.default_rng(5)  # fixed seed: deterministic
N, C = 10, 10
onehot = np.zeros((N, C), np.float32)
lab = np.arange(N) % C
onehot[np.arange(N), lab] = 1.0
npy("ev_x.npy", onehot)                         # Identity classifier: top1 = 1
npy("ev_x100.npy", np.tile(onehot, (10, 1)))    # 100 samples
npy("ev_y.npy", lab.astype(np.int64))
npy("ev_y100.npy", np.tile(lab, 10).astype(np.int64))
npy("ev_y_col.npy", lab.astype(np.int32).reshape(N, 1))
npy("ev_y_2d.npy", onehot.astype(np.int64))      # (N,10): must be refused
npy("ev_y_float.npy", lab.astype(np.float32))
npy("ev_y_bool.npy", (lab % 2).astype(bool))
npy("ev_y_short.npy", lab[:7].astype(np.int64))
npy("ev_y_scalar.npy", np.array(3, np.int64))
npy("ev_y_1000.npy", np.where(np.arange(N) == 4, 1000, lab).astype(np.int64))
npy("ev_y_neg.npy", np.where(np.arange(N) == 2, -1, lab).astype(np.int64))
npy("ev_y_u64max.npy", np.where(np.arange(N) == 6, np.uint64(2**64 - 1), lab.astype(np.uint64)).astype(np.uint64))
npy("ev_y_i64min.npy", np.where(np.arange(N) == 1, -(2**63), lab).astype(np.int64))
xn = onehot.copy()
xn[3, 0] = np.nan
npy("ev_x_nan.npy", xn)
xi = onehot.copy()
xi[5, 2] = np.inf
npy("ev_x_inf.npy", xi)
npy("ev_x_half.npy", onehot * 0.5)
npy("ev_x_i64.npy", onehot.astype(np.int64))
npy("ev_x_u8.npy", (onehot * 255).astype(np.uint8))
npy("ev_x_empty.npy", np.zeros((0, C), np.float32))
npy("ev_x_wrong.npy", np.zeros((N, 7), np.float32))
npy("ev_x_big.npy", onehot * 1e30)
identity_model("cls_sym.onnx", F, ["N", C])
identity_model("cls_fixed64.onnx", F, [64, C])
identity_model("cls_fixed4.onnx", F, [4, C])
identity_model("cls_fixed5.onnx", F, [5, C])
identity_model("cls_f16.onnx", TensorProto.FLOAT16, ["N", C])
identity_model("cls_u8.onnx", TensorProto.UINT8, ["N", C])
identity_model("cls_scalar.onnx", F, [])
# int64 input: y = Cast(x) to float
for dt, nm in ((I64, "cls_i64.onnx"), (TensorProto.INT32, "cls_i32.onnx"), (TensorProto.BOOL, "cls_bool.onnx")):
    g = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=F)], "g",
                          [helper.make_tensor_value_info("x", dt, ["N", C])],
                          [helper.make_tensor_value_info("y", F, ["N", C])])
    save_model(g, nm)
# a classifier whose scores are NaN: y = x * NaN
g = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, ["N", C])],
                      [helper.make_tensor_value_info("y", F, ["N", C])], [helper.make_tensor("k", F, [1], [np.nan])])
save_model(g, "cls_nan.onnx")
g = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", F, ["N", C])],
                      [helper.make_tensor_value_info("y", F, ["N", C])], [helper.make_tensor("k", F, [1], [np.inf])])
save_model(g, "cls_inf.onnx")
# a string input: eval cannot fill it
g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.STRING, ["N", C])],
                      [helper.make_tensor_value_info("y", TensorProto.STRING, ["N", C])])
save_model(g, "cls_string.onnx")

# ------------------------------------------------------------------- npy --
ok_data = np.zeros(6, np.float32).tobytes()
npy_raw("npy_shape_lie.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }", ok_data)
npy_raw("npy_overflow.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", ok_data)
npy_raw("npy_overflow2.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824, 4294967296), }",
        ok_data)
npy_raw("npy_numel_overflow.npy",
        "{'descr': '<u1', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", ok_data)
npy_raw("npy_dim_too_big.npy",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", ok_data)
npy_raw("npy_negative.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", ok_data)
npy_raw("npy_13dims.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ("1, " * 13), ok_data)
npy_raw("npy_bad_descr.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (6,), }", ok_data)
npy_raw("npy_object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (6,), }", ok_data)
npy_raw("npy_bigendian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", ok_data)
npy_raw("npy_fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", ok_data)
npy_raw("npy_no_shape.npy", "{'descr': '<f4', 'fortran_order': False, }", ok_data)
npy_raw("npy_unterminated.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6, ", ok_data)
npy_raw("npy_v3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }", ok_data, major=3)
save_bytes("npy_hdrlen_lie.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{'descr'")
save_bytes("npy_version9.npy", b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16)
save_bytes("npy_magic.npy", b"\x93NUMPX\x01\x00\x10\x00" + b" " * 16)
save_bytes("npy_tiny.npy", b"\x93NUM")
npy("npy_zero.npy", np.zeros((0, 3), np.float32))
npy("npy_f64_2.npy", np.array([1.0, 2.0]))
npy("npy_i64_2.npy", np.array([1, 2], np.int64))

# ----------------------------------------- arithmetic extremes, empty tensors --
# One node each (x_*.onnx): Range/Pad/Resize/Slice/TopK/Tile/... with extreme
# or non-finite values, integer overflow and division by zero, ops on tensors
# with a zero dim. `bench` runs each: a clean refusal or a result, no UB.
F, I64 = TensorProto.FLOAT, TensorProto.INT64
T = TensorProto
def save_x(nodes, name, inits, ins=None, opset=13):
    ins = ins or [helper.make_tensor_value_info("x", F, [1])]
    g=helper.make_graph(nodes,"g",ins,[helper.make_tensor_value_info("y",T.UNDEFINED,None)],inits)
    m=helper.make_model(g,opset_imports=[helper.make_opsetid("",opset)]); m.ir_version=8
    open(path("x_%s.onnx" % name),"wb").write(m.SerializeToString())
R=lambda n,a,b,c,dt=F: save_x([helper.make_node("Range",["a","b","c"],["y"])],n,[helper.make_tensor("a",dt,[],[a]),helper.make_tensor("b",dt,[],[b]),helper.make_tensor("c",dt,[],[c])])
R("range_inf",0.0,float("inf"),1.0)
R("range_nan",0.0,float("nan"),1.0)
R("range_delta0",0.0,10.0,0.0)
R("range_i64_delta0",0,10,0,I64)
R("range_i64_wrap",-(2**63),2**63-1,1,I64)
R("range_tiny_delta",0.0,1.0,1e-30)
save_x([helper.make_node("Pad",["x","p"],["y"])],"pad_bomb",[helper.make_tensor("p",I64,[2],[2**62,2**62])])
save_x([helper.make_node("Pad",["x","p"],["y"])],"pad_neg",[helper.make_tensor("p",I64,[2],[-5,-(2**62)])])
save_x([helper.make_node("Resize",["x","","s"],["y"],mode="nearest")],"resize_bomb",[helper.make_tensor("s",F,[1],[1e30])])
save_x([helper.make_node("Resize",["x","","s"],["y"],mode="nearest")],"resize_nan",[helper.make_tensor("s",F,[1],[float("nan")])])
save_x([helper.make_node("Resize",["x","","s"],["y"],mode="linear")],"resize_inf",[helper.make_tensor("s",F,[1],[float("inf")])])
save_x([helper.make_node("Resize",["x","","","z"],["y"],mode="nearest")],"resize_sizes_bomb",[helper.make_tensor("z",I64,[1],[2**62])])
save_x([helper.make_node("Slice",["x","s","e"],["y"])],"slice_extreme",[helper.make_tensor("s",I64,[1],[-(2**63)]),helper.make_tensor("e",I64,[1],[2**63-1])])
save_x([helper.make_node("Slice",["x","s","e","a","st"],["y"])],"slice_step_min",[helper.make_tensor("s",I64,[1],[2**63-1]),helper.make_tensor("e",I64,[1],[-(2**63)]),helper.make_tensor("a",I64,[1],[0]),helper.make_tensor("st",I64,[1],[-(2**63)])])
save_x([helper.make_node("TopK",["x","k"],["y","i"])],"topk_k_big",[helper.make_tensor("k",I64,[1],[2**62])])
save_x([helper.make_node("TopK",["x","k"],["y","i"])],"topk_k_neg",[helper.make_tensor("k",I64,[1],[-1])])
save_x([helper.make_node("Reshape",["x","s"],["y"])],"reshape_neg1_zero",[helper.make_tensor("s",I64,[2],[-1,0])],[helper.make_tensor_value_info("x",F,[0,3])])
save_x([helper.make_node("Reshape",["x","s"],["y"])],"reshape_two_neg1",[helper.make_tensor("s",I64,[2],[-1,-1])])
save_x([helper.make_node("Tile",["x","r"],["y"])],"tile_neg",[helper.make_tensor("r",I64,[1],[-1])])
save_x([helper.make_node("Expand",["x","s"],["y"])],"expand_neg",[helper.make_tensor("s",I64,[1],[-2])])
save_x([helper.make_node("ReduceMax",["x"],["y"],axes=[0])],"reducemax_empty",[],[helper.make_tensor_value_info("x",F,[0,3])])
save_x([helper.make_node("ArgMax",["x"],["y"],axis=0)],"argmax_empty",[],[helper.make_tensor_value_info("x",F,[0,3])])
save_x([helper.make_node("Softmax",["x"],["y"],axis=0)],"softmax_empty",[],[helper.make_tensor_value_info("x",F,[0,3])])
save_x([helper.make_node("MatMul",["x","w"],["y"])],"matmul_k0",[helper.make_tensor("w",F,[0,4],[])],[helper.make_tensor_value_info("x",F,[3,0])])
save_x([helper.make_node("Conv",["x","w"],["y"])],"conv_batch0",[helper.make_tensor("w",F,[2,1,3,3],[0.0]*18)],[helper.make_tensor_value_info("x",F,[0,1,5,5])])
save_x([helper.make_node("Conv",["x","w"],["y"])],"conv_kernel_bigger",[helper.make_tensor("w",F,[2,1,9,9],[0.0]*162)],[helper.make_tensor_value_info("x",F,[1,1,5,5])])
save_x([helper.make_node("Split",["x","s"],["y","z"])],"split_neg",[helper.make_tensor("s",I64,[2],[-1,2])])
save_x([helper.make_node("ConstantOfShape",["s"],["y"])],"cos_empty_shape_neg",[helper.make_tensor("s",I64,[3],[0,-1,5])])
save_x([helper.make_node("OneHot",["i","d","v"],["y"])],"onehot_depth_neg",[helper.make_tensor("i",I64,[2],[0,1]),helper.make_tensor("d",I64,[],[-3]),helper.make_tensor("v",F,[2],[0,1])])
save_x([helper.make_node("Unique",["x"],["y"])],"unique_empty",[],[helper.make_tensor_value_info("x",F,[0])],opset=11)
save_x([helper.make_node("CumSum",["x","a"],["y"])],"cumsum_axis_big",[helper.make_tensor("a",I64,[],[2**62])])
save_x([helper.make_node("Trilu",["x","k"],["y"])],"trilu_k_min",[helper.make_tensor("k",I64,[],[-(2**63)])],[helper.make_tensor_value_info("x",F,[3,3])],opset=14)
save_x([helper.make_node("EyeLike",["x"],["y"],k=-(2**63))],"eyelike_kmin",[],[helper.make_tensor_value_info("x",F,[3,3])])
save_x([helper.make_node("Mod",["x","z"],["y"])],"mod_int_zero",[helper.make_tensor("z",I64,[1],[0])],[helper.make_tensor_value_info("x",I64,[2])])
save_x([helper.make_node("Div",["x","z"],["y"])],"div_int_zero",[helper.make_tensor("z",I64,[1],[0])],[helper.make_tensor_value_info("x",I64,[2])])
save_x([helper.make_node("Div",["x","z"],["y"])],"div_int_min_neg1",[helper.make_tensor("z",I64,[1],[-1]),helper.make_tensor("x",I64,[1],[-(2**63)])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("Neg",["x"],["y"])],"neg_int_min",[helper.make_tensor("x",I64,[1],[-(2**63)])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("Abs",["x"],["y"])],"abs_int_min",[helper.make_tensor("x",T.INT32,[1],[-(2**31)])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("Cast",["x"],["y"],to=I64)],"cast_f_nan_i64",[helper.make_tensor("x",F,[3],[float("nan"),float("inf"),-1e30])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("BitShift",["x","s"],["y"],direction="LEFT")],"bitshift_big",[helper.make_tensor("x",T.UINT64,[1],[1]),helper.make_tensor("s",T.UINT64,[1],[200])],[helper.make_tensor_value_info("q",F,[1])],opset=11)
save_x([helper.make_node("Pow",["x","e"],["y"])],"pow_int_neg",[helper.make_tensor("x",I64,[1],[2]),helper.make_tensor("e",I64,[1],[2**62])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("Sum",["x","x"],["y"])],"sum_int_overflow",[helper.make_tensor("x",I64,[1],[2**63-1])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("ReduceSum",["x"],["y"])],"reducesum_int_overflow",[helper.make_tensor("x",I64,[2],[2**63-1,2**63-1])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("ReduceProd",["x"],["y"])],"reduceprod_int_overflow",[helper.make_tensor("x",I64,[2],[2**62,2**62])],[helper.make_tensor_value_info("q",F,[1])])
save_x([helper.make_node("MatMulInteger",["a","b"],["y"])],"matmulint",[helper.make_tensor("a",T.UINT8,[1,2],[255,255]),helper.make_tensor("b",T.UINT8,[2,1],[255,255])],[helper.make_tensor_value_info("q",F,[1])],opset=10)
save_x([helper.make_node("CumSum",["x","a"],["y"])],"cumsum_int_overflow",[helper.make_tensor("x",I64,[2],[2**63-1,5]),helper.make_tensor("a",I64,[],[0])],[helper.make_tensor_value_info("q",F,[1])],opset=14)
save_x([helper.make_node("Gather",["x","i"],["y"])],"gather_from_empty",[helper.make_tensor("i",I64,[1],[0])],[helper.make_tensor_value_info("x",F,[0,2])])

# ------------------------------------------ declared shapes far past memory --
# big_*.onnx: inputs declared (not given) with shapes whose products or whose
# scratch (im2col, packing, LSTM gates...) overflow or exceed memory; `info`
# prepares with them and must report the MACs as unknown, cleanly.
def mk_big(name, nodes, ins, opset=13):
    g=helper.make_graph(nodes,"g",[helper.make_tensor_value_info(n,F,s) for n,s in ins],[helper.make_tensor_value_info("y",T.UNDEFINED,None)])
    m=helper.make_model(g,opset_imports=[helper.make_opsetid("",opset)]); m.ir_version=8
    open(path("big_%s.onnx" % name),"wb").write(m.SerializeToString())
mk_big("conv_im2col", [helper.make_node("Conv",["x","w"],["y"])], [("x",[1,1,2**30,2**30]),("w",[1,1,2**29,2**29])])
mk_big("conv_im2col_small_out", [helper.make_node("Conv",["x","w"],["y"])], [("x",[1,2**20,2**20,2**1]),("w",[1,2**20,2**19,1])])
mk_big("matmul_big", [helper.make_node("MatMul",["x","w"],["y"])], [("x",[2**31,2**31]),("w",[2**31,1])])
mk_big("gemm_big", [helper.make_node("Gemm",["x","w"],["y"])], [("x",[1,2**61]),("w",[2**61,1])])
mk_big("einsum_big", [helper.make_node("Einsum",["x","w"],["y"],equation="bij,bjk->bik")], [("x",[2**20,2**20,2**20]),("w",[2**20,2**20,1])])
mk_big("softmax_big", [helper.make_node("Softmax",["x"],["y"])], [("x",[1,2**61])])
mk_big("lstm_big", [helper.make_node("LSTM",["x","w","r"],["y"],hidden_size=2**20)], [("x",[2**20,1,1]),("w",[1,2**22,1]),("r",[1,2**22,2**20])])
mk_big("topk_big", [helper.make_node("TopK",["x","k"],["y","i"])], [("x",[2**61]),("k",[1])])
mk_big("dft_big", [helper.make_node("DFT",["x"],["y"])], [("x",[1,2**40,1])], opset=17)
mk_big("reduce_big", [helper.make_node("ReduceLogSumExp",["x"],["y"],axes=[1])], [("x",[2**31,2**29])])
mk_big("nms_big", [helper.make_node("NonMaxSuppression",["b","s"],["y"])], [("b",[2**20,2**20,4]),("s",[2**20,2**20,2**20])], opset=11)
mk_big("cumsum_big", [helper.make_node("CumSum",["x","a"],["y"])], [("x",[2**61]),("a",[])] ,opset=14)
mk_big("attention_big", [helper.make_node("Attention",["q","k","v"],["y"])], [("q",[1,1,2**30,8]),("k",[1,1,2**30,8]),("v",[1,1,2**30,8])], opset=23)


# ------------------------------------------------------- every length lies --
# pblie_<base>_<k>.onnx: a valid model with ONE length-delimited field's
# length changed (+1, -1, 2^31-1, 2^63), for every such field at every
# nesting depth the walker finds (a payload that parses as a message is
# descended into). tests/hostile/each.sh runs `info` on each.
def read_varint(b, i):
    v = s = 0
    while i < len(b):
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return v, i
        if s > 63:
            break
    raise ValueError("bad varint")


def length_fields(b, lo, hi, depth=0):
    """(offset of the length varint, its end, payload length) of every
    length-delimited field in b[lo:hi], recursively."""
    out, i = [], lo
    while i < hi:
        key, i = read_varint(b, i)
        wt = key & 7
        if key >> 3 == 0:
            raise ValueError("field 0")
        if wt == 0:
            _, i = read_varint(b, i)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        elif wt == 2:
            start = i
            n, i = read_varint(b, i)
            if i + n > hi:
                raise ValueError("overrun")
            out.append((start, i, n))
            if depth < 12:
                try:
                    out += length_fields(b, i, i + n, depth + 1)
                except ValueError:
                    pass
            i += n
        else:
            raise ValueError("wire type")
    if i != hi:
        raise ValueError("misaligned")
    return out


for base in ("gather_oob", "if_depth3", "x_matmulint"):
    b = open(path(base + ".onnx"), "rb").read()
    k = 0
    for start, end, n in length_fields(b, 0, len(b)):
        for new in (n + 1, n - 1, (1 << 31) - 1, 1 << 63):
            if new < 0:
                continue
            save_bytes("pblie_%s_%03d.onnx" % (base, k), b[:start] + varint(new) + b[end:])
            k += 1

# --------------------------------------------------------- npy shape family --
# npyfam_*.npy: headers whose dims are picked from hostile values, over
# dtypes and ranks, with 16 bytes of data: every one must be refused (size
# overflow or truncated data) or read (when the shape fits the data).
HOSTILE_DIMS = [0, 1, 4, 255, 2**31 - 1, 2**32, 2**62, 2**63 - 1, 2**64 + 5]
k = 0
for descr in ("<f4", "<f8", "|u1", "<i8", "|b1", "<f2"):
    for d0 in HOSTILE_DIMS:
        for d1 in (None, 0, 3, 2**31, 2**62):
            shape = "(%d,)" % d0 if d1 is None else "(%d, %d)" % (d0, d1)
            npy_raw("npyfam_%03d.npy" % k, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape),
                    bytes(range(16)))
            k += 1

# ---------------------------------------------------- input dtypes of all kinds --
# dtype_<n>.onnx: one input and output of element type n (every TensorProto
# type, unknown ones and 0), Identity in between. Every verb must run it or
# refuse it cleanly (bench once wrote 8-byte values into a 1-byte buffer for
# a string input).
for n in list(range(0, 28)) + [100, 2**31 - 1]:
    vi_in = onnx.ValueInfoProto(name="x")
    vi_in.type.tensor_type.elem_type = n
    for d in (2, 3):
        vi_in.type.tensor_type.shape.dim.add().dim_value = d
    vi_out = onnx.ValueInfoProto()
    vi_out.CopyFrom(vi_in)
    vi_out.name = "y"
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [vi_in], [vi_out])
    save_model(g, "dtype_%d.onnx" % n)

# -------------------------------------------------- sequences and optionals --
F = TensorProto.FLOAT
T = TensorProto
x=helper.make_tensor_value_info("x",F,[2,3])
seq=helper.make_tensor_sequence_value_info("y",F,None)
g=helper.make_graph([helper.make_node("SequenceConstruct",["x","x"],["y"])],"g",[x],[seq])
m=helper.make_model(g,opset_imports=[helper.make_opsetid("",13)]); m.ir_version=8
open(path("seq_out.onnx"),"wb").write(m.SerializeToString())
opt=helper.make_optional_type_proto(helper.make_tensor_type_proto(F,[2,3]))
g=helper.make_graph([helper.make_node("Optional",["x"],["y"])],"g",[x],[helper.make_value_info("y",opt)])
m=helper.make_model(g,opset_imports=[helper.make_opsetid("",15)]); m.ir_version=8
open(path("opt_out.onnx"),"wb").write(m.SerializeToString())
# sequence input
g=helper.make_graph([helper.make_node("SequenceAt",["s","i"],["y"])],"g",[helper.make_tensor_sequence_value_info("s",F,[2,3])],[helper.make_tensor_value_info("y",F,None)],[helper.make_tensor("i",T.INT64,[],[0])])
m=helper.make_model(g,opset_imports=[helper.make_opsetid("",13)]); m.ir_version=8
open(path("seq_in.onnx"),"wb").write(m.SerializeToString())

# -------------------------------------------------------- every varint lies --
# pbvar_<base>_<k>.onnx: one varint field (a dim, a data type, an attribute's
# int or type, an opset version, ...) at any depth replaced by a hostile value.
def varint_fields(b, lo, hi, depth=0):
    out, i = [], lo
    while i < hi:
        key, i = read_varint(b, i)
        wt = key & 7
        if wt == 0:
            start = i
            _, i = read_varint(b, i)
            out.append((start, i))
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        elif wt == 2:
            n, i = read_varint(b, i)
            if depth < 12:
                try:
                    out += varint_fields(b, i, i + n, depth + 1)
                except (ValueError, IndexError):
                    pass
            i += n
        else:
            raise ValueError("wire type")
    if i != hi:
        raise ValueError("misaligned")
    return out


for base in ("gather_oob", "x_matmulint", "x_conv_batch0", "dtype_7"):
    b = open(path(base + ".onnx"), "rb").read()
    k = 0
    for start, end in varint_fields(b, 0, len(b)):
        for new in (0, 2**31 - 1, 2**62, 2**63 - 1, 2**64 - 1):
            save_bytes("pbvar_%s_%03d.onnx" % (base, k), b[:start] + varint(new) + b[end:])
            k += 1

# ------------------------------------------- eval: every data x input dtype --
# evd_<code>.npy: (2, 3) samples of each .npy dtype, for eval on every
# dtype_<n>.onnx (Identity, so the scores are the converted data).
for code in ("<f4", "<f8", "<f2", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1"):
    a = np.array([[1, 0, 2], [0, 1, 0]]) if code[1] in "ub" else np.array([[1, 0, -1], [0, 1, 0]])
    npy("evd_%s.npy" % code[1:], a.astype(np.dtype(code)))
npy("evd_f4_frac.npy", np.array([[0.5, 0, -1e30], [np.nan, 1, np.inf]], np.float32))

# ------------------------------------------- group products that overflow --
# conv_group_*.onnx: group / offset_group attributes whose product with a
# channel count overflows int64 (with 0 channels any group divides them).
def conv_model(name, op, xs, ws, opset=13, extra=(), **attrs):
    ins = [helper.make_tensor_value_info("x", F, xs), helper.make_tensor_value_info("w", F, ws)]
    names = ["x", "w"]
    for n, dt, shp in extra:
        ins.append(helper.make_tensor_value_info(n, dt, shp))
        names.append(n)
    g = helper.make_graph([helper.make_node(op, names, ["y"], **attrs)], name, ins,
                          [helper.make_tensor_value_info("y", F, None)])
    save_model(g, name + ".onnx", opset=opset)


conv_model("conv_group_overflow", "Conv", [1, 2, 4, 4], [1, 33, 2, 2], group=2**62)
conv_model("conv_group_i64max_c0", "Conv", [1, 0, 4, 4], [1, 3, 2, 2], group=2**63 - 1)
conv_model("convt_group_overflow", "ConvTranspose", [1, 0, 4, 4], [0, 5, 2, 2], group=2**63 - 1)
conv_model("deform_offset_group_overflow", "DeformConv", [1, 0, 4, 4], [2, 0, 2, 2], opset=19,
           extra=[("off", F, [1, 8, 3, 3])], offset_group=2**62)
g = helper.make_graph([helper.make_node("ConvInteger", ["x", "w"], ["y"], group=2**62)], "ci",
                      [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 2, 4, 4]),
                       helper.make_tensor_value_info("w", TensorProto.UINT8, [1, 33, 2, 2])],
                      [helper.make_tensor_value_info("y", TensorProto.INT32, None)])
save_model(g, "convinteger_group_overflow.onnx", opset=10)
# DepthToSpace / SpaceToDepth: an empty input leaves the other dims free, so
# dim * blocksize (or * blocksize^2) can overflow
for name, op, shape in (("d2s_empty_overflow", "DepthToSpace", [1, 0, 2**50, 1]),
                        ("s2d_empty_overflow", "SpaceToDepth", [1, 2**50, 0, 0])):
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"], blocksize=2**20)], name,
                          [helper.make_tensor_value_info("x", F, shape)], [helper.make_tensor_value_info("y", F, None)])
    save_model(g, name + ".onnx")

# -------------------------------------------- attribute extremes, op by op --
# attr2_*.onnx: pads/strides/dilations/output_padding/hidden_size/axes/groups
# at INT64_MAX or negative, and empty inputs with huge other dims.
F = TensorProto.FLOAT
T = TensorProto
M=2**63-1
def mk_attr(name, op, shapes, opset=13, **a):
    ins=[helper.make_tensor_value_info("i%d"%k,F,s) for k,s in enumerate(shapes)]
    g=helper.make_graph([helper.make_node(op,[i.name for i in ins],["y"],**a)],"g",ins,[helper.make_tensor_value_info("y",F,None)])
    m=helper.make_model(g,opset_imports=[helper.make_opsetid("",opset)]); m.ir_version=8
    open(path("attr2_%s.onnx" % name),"wb").write(m.SerializeToString())
X=[1,1,4,4]; W=[1,1,2,2]
mk_attr("conv_pads_max","Conv",[X,W],pads=[M,0,M,0])
mk_attr("conv_pads_neg","Conv",[X,W],pads=[-M,0,0,0])
mk_attr("conv_dil_big","Conv",[X,W],dilations=[2**31,1])
mk_attr("convt_outpad_max","ConvTranspose",[X,W],output_padding=[M,0])
mk_attr("convt_stride_big","ConvTranspose",[X,W],strides=[2**31,1])
mk_attr("convt_outshape_max","ConvTranspose",[X,W],output_shape=[M,M])
mk_attr("convt_pads_max","ConvTranspose",[X,W],pads=[M,M,M,M])
mk_attr("convt_empty_big","ConvTranspose",[[1,1,0,2**40],[1,1,2,2]],strides=[2**20,2**20])
mk_attr("maxpool_pads_max","MaxPool",[X],kernel_shape=[2,2],pads=[M,0,0,0])
mk_attr("avgpool_stride_max","AveragePool",[X],kernel_shape=[2,2],strides=[M,M])
mk_attr("maxpool_dil_max","MaxPool",[X],kernel_shape=[2,2],dilations=[M,M],opset=12)
mk_attr("lppool_p_max","LpPool",[X],kernel_shape=[2,2],p=M)
mk_attr("maxpool_empty_big","MaxPool",[[1,0,2**40,2**40]],kernel_shape=[1,1],strides=[1,1])
mk_attr("globalpool_empty","GlobalAveragePool",[[1,3,0,0]])
mk_attr("col2im_big","Col2Im",[[1,4,4]],opset=18)
mk_attr("lrn_empty_big","LRN",[[0,2**40,2**20,1]],size=2**31-1)
mk_attr("instnorm_empty","InstanceNormalization",[[0,3,4],[3],[3]])
mk_attr("flatten_empty_big","Flatten",[[0,2**40,2**40]],axis=2)
mk_attr("reshape_empty","Reshape",[[0,2**40]],opset=13)
mk_attr("gru_hidden_big","GRU",[[1,1,1],[1,3*2**20,1],[1,3*2**20,2**20]],hidden_size=2**20)
mk_attr("rnn_hidden_neg","RNN",[[1,1,1],[1,4,1],[1,4,4]],hidden_size=-4)
mk_attr("lstm_hidden_max","LSTM",[[1,1,1],[1,4,1],[1,4,1]],hidden_size=M)
mk_attr("stft_frame_max","STFT",[[1,16,1]],opset=17)
mk_attr("shrink_nan","Shrink",[[4]],lambd=float("nan"),bias=float("inf"))
mk_attr("mvn_axes_max","MeanVarianceNormalization",[[2,3]],axes=[M])
mk_attr("ln_axis_min","LayerNormalization",[[2,3],[3]],axis=-M,opset=17)
mk_attr("gn_groups_max","GroupNormalization",[[1,4,2],[4],[4]],num_groups=M,opset=21)
mk_attr("gn_groups_zero","GroupNormalization",[[1,4,2],[4],[4]],num_groups=0,opset=21)
mk_attr("splittoseq_empty","SplitToSequence",[[0,2**40]],axis=1,keepdims=1,opset=11)
mk_attr("compress_axis","Compress",[[2,2],[2]],axis=M,opset=11)
mk_attr("reversesequence_axis","ReverseSequence",[[2,2],[2]],batch_axis=M,time_axis=0,opset=10)
mk_attr("mod_fmod_big","Mod",[[2],[2]],fmod=M,opset=13)
