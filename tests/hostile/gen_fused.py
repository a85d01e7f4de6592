#!/usr/bin/env python3
"""gen_fused.py OUTDIR - hostile models for the fused ops of src/ops/nn_fused.c
and the passes that make them (cases-fused.txt): unknown activations, wrong
activation_params counts, an ORT-domain node with an nnedge-only activation,
a residual Z of the wrong shape, a FusedMatMul bias of the wrong length, a
Transpose chain with a bad perm, and a BatchNormalization whose parameters
do not match the Conv (the pass must leave it for the op to report). Files
go to OUTDIR/fused/."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(sys.argv[1], "fused")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(3)


def save(name, nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1),
                                            helper.make_opsetid("ai.nnedge", 1)])
    m.ir_version = 8
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def w(name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


X = vi("x", [1, 2, 4, 4])
Y = vi("y", None)
W = w("w", [3, 2, 1, 1])
np.save(os.path.join(OUT, "x.npy"), rng.standard_normal((1, 2, 4, 4)).astype(np.float32))
np.save(os.path.join(OUT, "z_bad.npy"), rng.standard_normal((1, 3, 4, 1)).astype(np.float32))
np.save(os.path.join(OUT, "a.npy"), rng.standard_normal((2, 3, 5)).astype(np.float32))

conv = lambda dom, **kw: helper.make_node("FusedConv", ["x", "w"], ["y"], domain=dom, **kw)
save("act_unknown", [conv("ai.nnedge", activation="Sparkle")], [X], [Y], [W])
save("act_params_missing", [conv("com.microsoft", activation="LeakyRelu")], [X], [Y], [W])
save("act_params_extra", [conv("com.microsoft", activation="Clip", activation_params=[0.0, 6.0, 1.0])], [X], [Y], [W])
save("ort_domain_silu", [conv("com.microsoft", activation="Silu")], [X], [Y], [W])
save("act_not_string", [conv("ai.nnedge", activation=3)], [X], [Y], [W])
save("z_wrong_shape", [helper.make_node("FusedConv", ["x", "w", "", "z"], ["y"], domain="ai.nnedge")],
     [X, vi("z", [1, 3, 4, 1])], [Y], [W])
save("matmul_bias_len", [helper.make_node("FusedMatMul", ["a", "b", "bias"], ["y"], domain="ai.nnedge")],
     [vi("a", [2, 3, 5])], [Y], [w("b", [5, 4]), w("bias", [7])])
save("fused_int_input", [helper.make_node("FusedConv", ["xi", "wi"], ["y"], domain="ai.nnedge")],
     [helper.make_tensor_value_info("xi", TensorProto.INT32, [1, 2, 4, 4])], [Y],
     [numpy_helper.from_array(np.ones((3, 2, 1, 1), np.int32), "wi")])
# passes: a Transpose pair with an invalid perm, BN with parameters of the wrong length
save("transpose_bad_perm", [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 1, 2, 2]),
                            helper.make_node("Transpose", ["t"], ["y"], perm=[0, 1, 3, 2])], [X], [Y])
save("bn_wrong_len", [helper.make_node("Conv", ["x", "w"], ["c"]),
                      helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"])], [X], [Y],
     [W, w("s", [5]), w("b", [5]), w("m", [5]), numpy_helper.from_array(np.ones(5, np.float32), "v")])
np.save(os.path.join(OUT, "xi.npy"), np.ones((1, 2, 4, 4), np.int32))
