#!/usr/bin/env python3
"""gen_runtime.py OUTDIR - hostile models for the runtime (cases-runtime.txt):
windowed ops with huge kernels, attribute values that drive loops (TfIdf
skips, Loop trip counts), allocations driven by a number in the file
(ConstantOfShape, Loop scan outputs), huge graphs (prepare time), and models
that must be refused (opset 0, wrong attribute types, no outputs, overflowing
attribute arithmetic). Files go to OUTDIR/runtime/."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(sys.argv[1], "runtime")
os.makedirs(OUT, exist_ok=True)
BIG = 2**31 - 1


def save(name, nodes, inputs, outputs, inits=(), opset=17, ir=8, extra_opsets=()):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + list(extra_opsets))
    m.ir_version = ir
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


rng = np.random.default_rng(7)
np.save(os.path.join(OUT, "x32.npy"), rng.standard_normal((1, 2, 32, 32)).astype(np.float32))
np.save(os.path.join(OUT, "x8.npy"), rng.standard_normal((1, 1, 8, 8, 8)).astype(np.float32))
np.save(os.path.join(OUT, "eval_x.npy"), rng.standard_normal((4, 1000)).astype(np.float32))
np.save(os.path.join(OUT, "eval_y.npy"), np.arange(4, dtype=np.int64))
np.save(os.path.join(OUT, "tokens.npy"), rng.integers(0, 50, (2, 2000)).astype(np.int64))

# ---- pools whose kernel covers 2^31-1 positions per axis (item 5)
for op, extra in [("MaxPool", {}), ("AveragePool", {"count_include_pad": 1}), ("AveragePool", {}),
                  ("LpPool", {"p": 2})]:
    tag = op.lower() + ("_cip" if extra.get("count_include_pad") else "")
    save("pool_huge_" + tag,
         [helper.make_node(op, ["x"], ["y"], kernel_shape=[BIG, BIG], auto_pad="SAME_UPPER", **extra)],
         [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)])
save("pool_huge_maxpool_3d",
     [helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[BIG, BIG, BIG], auto_pad="SAME_LOWER",
                       strides=[3, 1, 2])],
     [vi("x", TensorProto.FLOAT, [1, 1, 8, 8, 8])],
     [vi("y", TensorProto.FLOAT, None), vi("i", TensorProto.INT64, None)])
save("pool_huge_avg_dilated",
     [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[BIG, 3], dilations=[BIG, BIG],
                       auto_pad="SAME_UPPER", count_include_pad=1)],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)], opset=19)
# huge explicit pads: the output would have 2^32 positions per axis
save("pool_huge_pads",
     [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], pads=[2**31, 2**31, 2**31, 2**31])],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)])
# a zero-sized batch with a huge spatial axis: the geometry must not overflow
save("pool_zero_batch_huge_axis",
     [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[BIG], strides=[BIG], auto_pad="SAME_UPPER")],
     # 2^60: the non-zero dims of even an empty tensor must have a representable byte count (numpy's rule)
     [vi("x", TensorProto.FLOAT, [0, 1, 2**60])], [vi("y", TensorProto.FLOAT, None)])

# ---- TfIdfVectorizer with a skip count of 2^62 (item 5)
save("tfidf_huge_skip",
     [helper.make_node("TfIdfVectorizer", ["x"], ["y"], mode="TF", min_gram_length=2, max_gram_length=3,
                       max_skip_count=2**62, ngram_counts=[0, 4, 8], ngram_indexes=[0, 1, 2, 3, 4, 5, 6, 7],
                       pool_int64s=[1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6])],
     [vi("x", TensorProto.INT64, [2, 2000])], [vi("y", TensorProto.FLOAT, None)], opset=9)


# ---- Loops (item 5): trip count 10^12 with a condition that stays true
def loop_model(name, trip, scan_elems=0):
    body_nodes = [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                  helper.make_node("Add", ["acc_in", "one"], ["acc_out"])]
    body_outs = [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", TensorProto.FLOAT, [1])]
    if scan_elems:
        body_nodes.append(helper.make_node("ConstantOfShape", ["shp"], ["scan"],
                                           value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])))
        body_outs.append(vi("scan", TensorProto.FLOAT, [scan_elems]))
    body = helper.make_graph(body_nodes, "body",
                             [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
                              vi("acc_in", TensorProto.FLOAT, [1])], body_outs,
                             initializer=[numpy_helper.from_array(np.ones(1, np.float32), "one"),
                                          numpy_helper.from_array(np.array([scan_elems], np.int64), "shp")])
    outs = [vi("acc", TensorProto.FLOAT, [1])] + ([vi("stacked", TensorProto.FLOAT, None)] if scan_elems else [])
    save(name, [helper.make_node("Loop", ["M", "c", "a0"], [o.name for o in outs], body=body)], [], outs,
         inits=[numpy_helper.from_array(np.array(trip, np.int64), "M"),
                numpy_helper.from_array(np.array(True), "c"),
                numpy_helper.from_array(np.zeros(1, np.float32), "a0")], opset=13)


loop_model("loop_trip_1e12", 10**12)


# Loops nested in a Loop: a cap per Loop node would allow cap^2 iterations
def nested_loop_model(name, trip):
    one = numpy_helper.from_array(np.ones(1, np.float32), "one")
    inner_body = helper.make_graph(
        [helper.make_node("Identity", ["ci"], ["co"]), helper.make_node("Add", ["ai", "one"], ["ao"])], "inner",
        [vi("j", TensorProto.INT64, []), vi("ci", TensorProto.BOOL, []), vi("ai", TensorProto.FLOAT, [1])],
        [vi("co", TensorProto.BOOL, []), vi("ao", TensorProto.FLOAT, [1])], initializer=[one])
    outer_body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Loop", ["Mi", "cond_in", "acc_in"], ["acc_out"], body=inner_body)], "outer",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("acc_in", TensorProto.FLOAT, [1])],
        [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", TensorProto.FLOAT, [1])],
        initializer=[numpy_helper.from_array(np.array(trip, np.int64), "Mi")])
    save(name, [helper.make_node("Loop", ["M", "c", "a0"], ["acc"], body=outer_body)], [],
         [vi("acc", TensorProto.FLOAT, [1])],
         inits=[numpy_helper.from_array(np.array(trip, np.int64), "M"), numpy_helper.from_array(np.array(True), "c"),
                numpy_helper.from_array(np.zeros(1, np.float32), "a0")], opset=13)


nested_loop_model("loop_nested_1e12", 10**12)
nested_loop_model("loop_nested_300", 300)
loop_model("loop_small", 5000)
loop_model("loop_scan_growing", 10**12, scan_elems=1 << 18)  # 1 MiB more per iteration

# ---- allocation driven by a number in the file (item 9): 4e8 floats from 180 bytes
save("const_of_shape_4e8",
     [helper.make_node("ConstantOfShape", ["s"], ["y"],
                       value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))],
     [], [vi("y", TensorProto.FLOAT, None)], inits=[numpy_helper.from_array(np.array([400000000], np.int64), "s")])
# a data-shaped output (Expand to a shape read at run time) over the limit
save("expand_runtime_shape",
     [helper.make_node("Expand", ["x", "s"], ["y"])],
     [vi("x", TensorProto.FLOAT, [1]), vi("s", TensorProto.INT64, [1])], [vi("y", TensorProto.FLOAT, None)])
np.save(os.path.join(OUT, "one.npy"), np.ones(1, np.float32))
np.save(os.path.join(OUT, "shape_1e8.npy"), np.array([100000000], np.int64))
# a plain model with a big input, for the CLI's own buffers
save("relu_any", [helper.make_node("Relu", ["x"], ["y"])],
     [vi("x", TensorProto.FLOAT, ["N", 1000])], [vi("y", TensorProto.FLOAT, None)])

# ---- large graphs (item 6): chains of 100,000 and 200,000 nodes
for n in (100000, 200000):
    save("chain_%d" % n,
         [helper.make_node("Relu" if i % 2 else "Neg", ["v%d" % i], ["v%d" % (i + 1)]) for i in range(n)],
         [vi("v0", TensorProto.FLOAT, [1, 64])], [vi("v%d" % n, TensorProto.FLOAT, [1, 64])])
# the same chain with its nodes written in reverse (the loader must sort it)
n = 100000
save("chain_rev_%d" % n,
     [helper.make_node("Relu" if i % 2 else "Neg", ["v%d" % i], ["v%d" % (i + 1)]) for i in reversed(range(n))],
     [vi("v0", TensorProto.FLOAT, [1, 64])], [vi("v%d" % n, TensorProto.FLOAT, [1, 64])])
# a wide graph: 20,000 values all live to the end (every one a graph output)
n = 20000
save("wide_outputs_%d" % n, [helper.make_node("Relu", ["x"], ["w%d" % i]) for i in range(n)],
     [vi("x", TensorProto.FLOAT, [1, 16])], [vi("w%d" % i, TensorProto.FLOAT, [1, 16]) for i in range(n)])

# ---- models to refuse (item 8)
relu = [helper.make_node("Relu", ["x"], ["y"])]
save("opset_0", relu, [vi("x", TensorProto.FLOAT, [2])], [vi("y", TensorProto.FLOAT, [2])], opset=0)
save("no_outputs", relu, [vi("x", TensorProto.FLOAT, [2])], [])
n_ks = helper.make_node("MaxPool", ["x"], ["y"])
n_ks.attribute.append(helper.make_attribute("kernel_shape", [2.0, 2.0]))  # FLOATS
save("kernel_shape_floats", [n_ks], [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)])
n_ax = helper.make_node("Softmax", ["x"], ["y"])
n_ax.attribute.append(helper.make_attribute("axis", "1"))  # STRING where INT is expected
save("axis_string", [n_ax], [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)])
n_al = helper.make_node("LeakyRelu", ["x"], ["y"])
n_al.attribute.append(helper.make_attribute("alpha", [0.1, 0.2]))  # FLOATS where FLOAT is expected
save("alpha_floats", [n_al], [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)])
save("dequant_block_int64max",
     [helper.make_node("DequantizeLinear", ["x", "s"], ["y"], axis=1, block_size=2**63 - 1)],
     [vi("x", TensorProto.INT8, [2, 4])], [vi("y", TensorProto.FLOAT, None)],
     inits=[numpy_helper.from_array(np.ones((2, 1), np.float32), "s")], opset=21, ir=10)
save("depth_to_space_zero_batch_huge",
     [helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=1 << 20)],
     # zero channels (divisible by any blocksize^2) leave H free; the non-zero dims' bytes must fit (numpy's rule)
     [vi("x", TensorProto.FLOAT, [0, 0, 2**60, 1])], [vi("y", TensorProto.FLOAT, None)], opset=13)

# ---- other windowed ops with huge geometry attributes: must finish at once
w33 = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
save("conv_huge_dilation_same",
     [helper.make_node("Conv", ["x", "w"], ["y"], dilations=[BIG, BIG], auto_pad="SAME_UPPER")],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)], inits=[w33])
save("conv_huge_stride_pads",
     [helper.make_node("Conv", ["x", "w"], ["y"], strides=[BIG, BIG], pads=[2**31, 2**31, 2**31, 2**31])],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)], inits=[w33])
save("convtranspose_huge_stride",
     [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[BIG, BIG], dilations=[BIG, BIG])],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)], inits=[w33])
save("convtranspose_huge_output_padding",
     [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_padding=[2**62, 2**62],
                       output_shape=[2**62, 2**62])],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)], inits=[w33])
save("col2im_huge_dilation",
     [helper.make_node("Col2Im", ["x", "isz", "bsz"], ["y"], dilations=[BIG, BIG], pads=[2**31] * 4,
                       strides=[BIG, BIG])],
     [vi("x", TensorProto.FLOAT, [1, 4, 4])], [vi("y", TensorProto.FLOAT, None)], opset=18,
     inits=[numpy_helper.from_array(np.array([2**40, 2**40], np.int64), "isz"),
            numpy_helper.from_array(np.array([2, 2], np.int64), "bsz")])
save("maxunpool_huge_stride",
     [helper.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[BIG, BIG], strides=[BIG, BIG])],
     [vi("x", TensorProto.FLOAT, [1, 1, 2, 2]), vi("i", TensorProto.INT64, [1, 1, 2, 2])],
     [vi("y", TensorProto.FLOAT, None)], opset=11)
save("resize_huge_scale",
     [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)], opset=13,
     inits=[numpy_helper.from_array(np.array([1, 1, 1e30, 1e30], np.float32), "sc")])
save("lrn_huge_size",
     [helper.make_node("LRN", ["x"], ["y"], size=2**62 - 1)],
     [vi("x", TensorProto.FLOAT, [1, 2, 32, 32])], [vi("y", TensorProto.FLOAT, None)])
