#!/usr/bin/python3
"""Regenerates the committed seed corpora under tests/fuzz/corpus/.

Run from the repository root with the system python (numpy, onnx):
    /usr/bin/python3 tests/fuzz/gen_seeds.py [ONNX_TESTS_DIR]
ONNX_TESTS_DIR defaults to ../shared/onnx-tests/node (or ../../shared/... from a
worktree). The corpus is a
starting point only; `make fuzz` grows its own copy in build-fuzz/corpus.
"""
import io
import os
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper

NODE = sys.argv[1] if len(sys.argv) > 1 else next(
    (d for d in ("../shared/onnx-tests/node", "../../shared/onnx-tests/node") if os.path.isdir(d)),
    "../shared/onnx-tests/node")
OUT = "tests/fuzz/corpus"

# Small node-test models (< 20 KB), chosen for variety: subgraphs (If, Loop,
# Scan), sequences and optionals, strings, expanded functions, ml domain.
MODELS = """if if_opt if_seq loop11 loop13_seq loop16_seq_none scan9_sum scan_sum scan9_multi_state
conv_with_strides_padding add_bcast relu identity constant constant_pad reshape_negative_dim gather_0
gemm_all_attributes cast_FLOAT_to_FLOAT16 batchnorm_epsilon maxpool_2d_pads lstm_defaults softmax_axis_1
slice concat_2d_axis_0 transpose_all_permutations_0 nonzero_example top_k resize_downsample_scales_linear
einsum_batch_matmul qlinearconv sequence_insert_at_back optional_get_element_sequence
strnormalizer_export_monday_casesensintive_lower range_float_type_positive_delta_expanded
layer_normalization_2d_axis0_expanded split_variable_parts_1d_opset13 unique_sorted_with_axis
expand_dim_changed where_example shape_start_1 constantofshape_int_zeros dequantizelinear cumsum_1d
onehot_with_axis scatter_elements_with_axis nllloss_NC_expanded bernoulli_seed gru_with_initial_bias
ai_onnx_ml_label_encoder_string_int""".split()

# TensorProto files of many dtypes/ranks (raw_data), incl. string, sequence, 4-bit, empty.
TENSORS = """abs/input_0 adagrad/input_0 adagrad/input_1 add_int16/input_0 add_uint64/input_0 add_uint8/input_0
and2d/input_0 ai_onnx_ml_tree_ensemble_single_tree/input_0 celu_float16/input_0 celu_bfloat16/input_0
ai_onnx_ml_label_encoder_string_int/input_0 cast_FLOAT16_to_INT4/output_0
constantofshape_int_shape_zero/output_0 add_uint32/input_0 identity_sequence/input_0
unsqueeze_three_axes/output_0 tril_zero/input_0""".split()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


def model_seeds():
    for t in MODELS:
        with open(f"{NODE}/test_{t}/model.onnx", "rb") as f:
            write(f"{OUT}/model/{t}.onnx", f.read())
    # Models that load and run with no ops at all (the session path).
    x = helper.make_tensor_value_info("x", T.FLOAT, ["N", 3])
    g = helper.make_graph([], "passthrough", [x], [x])
    write(f"{OUT}/model/passthrough_symbolic.onnx",
          helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    w = helper.make_tensor("w", T.FLOAT, [2, 2], [1, 2, 3, 4])
    wr = helper.make_tensor("wr", T.INT64, [3], np.array([1, 2, 3], np.int64).tobytes(), raw=True)
    d = helper.make_tensor("d", T.INT64, [1], [5])  # initializer that is also an input (a default)
    ins = [helper.make_tensor_value_info("a", T.INT32, [2, 0]),
           helper.make_tensor_value_info("d", T.INT64, [1]),
           helper.make_tensor_value_info("s", T.UINT8, [])]
    outs = [helper.make_tensor_value_info(n, tt, None) for n, tt in
            (("a", T.INT32), ("w", T.FLOAT), ("wr", T.INT64), ("d", T.INT64), ("s", T.UINT8))]
    g = helper.make_graph([], "consts", ins, outs, initializer=[w, wr, d],
                          value_info=[helper.make_tensor_value_info("w", T.FLOAT, [2, 2])])
    write(f"{OUT}/model/initializers_as_outputs.onnx",
          helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    # Unsupported custom-domain op (loads only with allow_unsupported).
    n = helper.make_node("NoSuchOp", ["x"], ["y"], domain="com.example", alpha=1.0, names=["a", "b"])
    g = helper.make_graph([n], "custom", [x], [helper.make_tensor_value_info("y", T.FLOAT, None)])
    write(f"{OUT}/model/custom_op.onnx",
          helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                              helper.make_opsetid("com.example", 1)]).SerializeToString())


I64_MAX, I64_MIN, I32_MAX = 2**63 - 1, -2**63, 2**31 - 1
NAN, INF = float("nan"), float("inf")

# (name, op, input shapes, attributes, opset): one node on float inputs, with
# attribute values an attacker would pick. Ops whose hostile values are known
# open hangs (pool windows of 2^31-1, TfIdf skips, Loop trip counts) stay out
# until they are fixed: fuzz-smoke replays every seed.
HOSTILE_ATTRS = [
    ("gather_axis_i64max", "Gather", [[3, 4], None], {"axis": I64_MAX}, 13),
    ("concat_axis_i64min", "Concat", [[2, 2], [2, 2]], {"axis": I64_MIN}, 13),
    ("softmax_axis_i32max", "Softmax", [[2, 3]], {"axis": I32_MAX}, 13),
    ("flatten_axis_neg", "Flatten", [[2, 3]], {"axis": -I64_MAX}, 13),
    ("transpose_perm_huge", "Transpose", [[2, 3]], {"perm": [I64_MAX, 0]}, 13),
    ("transpose_perm_long", "Transpose", [[2, 3]], {"perm": list(range(4096))}, 13),
    ("conv_dilations_i64max", "Conv", [[1, 1, 4, 4], [1, 1, 2, 2]], {"dilations": [I64_MAX, 1]}, 13),
    ("conv_strides_neg", "Conv", [[1, 1, 4, 4], [1, 1, 2, 2]], {"strides": [-1, -1]}, 13),
    ("conv_pads_i32max", "Conv", [[1, 1, 4, 4], [1, 1, 2, 2]], {"pads": [I32_MAX] * 4}, 13),
    ("conv_group_zero", "Conv", [[1, 2, 4, 4], [2, 1, 2, 2]], {"group": 0}, 13),
    ("conv_group_i64max", "Conv", [[1, 2, 4, 4], [2, 1, 2, 2]], {"group": I64_MAX}, 13),
    ("depthtospace_i64max", "DepthToSpace", [[1, 4, 2, 2]], {"blocksize": I64_MAX}, 13),
    ("spacetodepth_zero", "SpaceToDepth", [[1, 1, 4, 4]], {"blocksize": 0}, 13),
    ("lrn_size_i64max", "LRN", [[1, 2, 3, 3]], {"size": I64_MAX}, 13),
    ("leakyrelu_alpha_nan", "LeakyRelu", [[4]], {"alpha": NAN}, 13),
    ("elu_alpha_inf", "Elu", [[4]], {"alpha": INF}, 13),
    ("gemm_alpha_inf", "Gemm", [[2, 2], [2, 2]], {"alpha": INF, "beta": NAN}, 13),
    ("batchnorm_eps_nan", "BatchNormalization", [[1, 2, 2], [2], [2], [2], [2]], {"epsilon": NAN}, 15),
    ("unsqueeze_axes_i64max", "Unsqueeze", [[2]], {"axes": [I64_MAX]}, 11),
    ("squeeze_axes_long", "Squeeze", [[1, 1]], {"axes": [0] * 100000}, 11),
    ("split_long", "Split", [[4]], {"split": [1] * 50000}, 11),
    ("reducesum_keepdims_big", "ReduceMean", [[2, 3]], {"keepdims": I32_MAX, "axes": [-I64_MAX]}, 13),
    ("cumsum_exclusive_neg", "CumSum", [[3], None], {"exclusive": -1, "reverse": I64_MAX}, 14),
    ("topk_axis_i64max", "TopK", [[3], None], {"axis": I64_MAX}, 11),
    ("cast_to_i64max", "Cast", [[3]], {"to": I64_MAX}, 13),
    ("cast_to_neg", "Cast", [[3]], {"to": -1}, 13),
    ("eyelike_k_i64max", "EyeLike", [[3, 3]], {"k": I64_MAX}, 9),
    ("eyelike_k_i64min", "EyeLike", [[3, 3]], {"k": I64_MIN}, 9),
    ("onehot_axis_i64min", "OneHot", [[2], None, [2]], {"axis": I64_MIN}, 11),
    ("hardmax_axis_neg", "Hardmax", [[2, 2]], {"axis": -I32_MAX}, 13),
    ("argmax_axis_big", "ArgMax", [[2, 2]], {"axis": I32_MAX, "keepdims": -5}, 13),
    ("trilu_upper_big", "Trilu", [[3, 3]], {"upper": I64_MAX}, 14),
    ("constant_floats_long", "Constant", [], {"value_floats": [1.0] * 100000}, 13),
    ("constant_ints_minmax", "Constant", [], {"value_ints": [I64_MAX, I64_MIN, -1]}, 13),
]
# inputs given as None are int64 constants chosen per op
INT_INPUTS = {"Gather": [5], "TopK": [I64_MAX], "CumSum": [0], "OneHot": [I64_MAX]}


def hostile_attr_seeds():
    for name, op, shapes, attrs, opset in HOSTILE_ATTRS:
        ins, inits, names = [], [], []
        for k, shp in enumerate(shapes):
            n = "i%d" % k
            names.append(n)
            if shp is None:
                vals = INT_INPUTS[op]
                inits.append(helper.make_tensor(n, T.INT64, [len(vals)] if op != "CumSum" else [], vals))
            else:
                ins.append(helper.make_tensor_value_info(n, T.FLOAT, shp))
        node = helper.make_node(op, names, ["y"] if op != "TopK" else ["y", "yi"], **attrs)
        outs = [helper.make_tensor_value_info(o, T.UNDEFINED, None) for o in node.output]
        if not ins:
            ins = [helper.make_tensor_value_info("x", T.FLOAT, [1])]
        g = helper.make_graph([node], name, ins, outs, initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        write(f"{OUT}/model/hostile_{name}.onnx", m.SerializeToString())


def tensor_seeds():
    for t in TENSORS:
        test, name = t.split("/")
        with open(f"{NODE}/test_{test}/test_data_set_0/{name}.pb", "rb") as f:
            write(f"{OUT}/tensor/{test}_{name}.pb", f.read())
    typed = [
        ("float", T.FLOAT, [2, 3], [1.5, -2, 0, 3, 4e10, -0.0]),
        ("double", T.DOUBLE, [3], [1.0, -1e300, 2.5]),
        ("int64", T.INT64, [2, 2], [1, -1, 2**62, -2**63]),
        ("int32", T.INT32, [4], [1, -1, 2**31 - 1, -2**31]),
        ("uint64", T.UINT64, [2], [0, 2**64 - 1]),
        ("uint32", T.UINT32, [2], [0, 2**32 - 1]),
        ("int8", T.INT8, [3], [-128, 0, 127]),
        ("uint16", T.UINT16, [2], [0, 65535]),
        ("bool", T.BOOL, [3], [True, False, True]),
        ("float16", T.FLOAT16, [2], np.array([1.0, -2.0], np.float16).view(np.uint16).tolist()),
        ("scalar", T.FLOAT, [], [7.0]),
        ("empty", T.INT64, [0, 3], []),
    ]
    for name, dt, dims, vals in typed:
        write(f"{OUT}/tensor/typed_{name}.pb", helper.make_tensor(name, dt, dims, vals).SerializeToString())
    # Unpacked repeated int64_data (proto3 writers pack; old writers did not):
    # dims=2, data_type=INT64, int64_data=5, int64_data=127, name="u".
    write(f"{OUT}/tensor/unpacked_int64.pb", bytes([0x08, 0x02, 0x10, 0x07, 0x38, 0x05, 0x38, 0x7F, 0x42, 0x01, 0x75]))
    ext = helper.make_tensor("x", T.FLOAT, [4], [0.0] * 4)
    ext.ClearField("float_data")
    ext.data_location = T.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", "16")):
        e = ext.external_data.add()
        e.key, e.value = k, v
    write(f"{OUT}/tensor/external.pb", ext.SerializeToString())


def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def npy_seeds():
    rng = np.random.default_rng(0)
    for code in ["<f4", "<f8", "<f2", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1"]:
        a = (rng.standard_normal((2, 3)) * 10).astype(np.dtype(code))
        write(f"{OUT}/npy/{code[1:]}_2x3.npy", npy_bytes(a))
    write(f"{OUT}/npy/scalar_f4.npy", npy_bytes(np.array(3.5, np.float32)))
    write(f"{OUT}/npy/empty_0x4.npy", npy_bytes(np.zeros((0, 4), np.float32)))
    write(f"{OUT}/npy/empty_1d_i8.npy", npy_bytes(np.zeros((0,), np.int64)))
    write(f"{OUT}/npy/rank5_u1.npy", npy_bytes(np.arange(32, dtype=np.uint8).reshape(2, 2, 2, 2, 2)))
    write(f"{OUT}/npy/v2_f4.npy", npy_bytes(np.arange(6, dtype=np.float32).reshape(3, 2), version=(2, 0)))
    write(f"{OUT}/npy/v3_i4.npy", npy_bytes(np.arange(4, dtype=np.int32), version=(3, 0)))
    write(f"{OUT}/npy/fortran_f4.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), np.float32))))
    write(f"{OUT}/npy/bigendian_f4.npy", npy_bytes(np.ones((2,), ">f4")))
    write(f"{OUT}/npy/bigendian_i2.npy", npy_bytes(np.ones((2,), ">i2")))
    write(f"{OUT}/npy/complex.npy", npy_bytes(np.ones((2,), np.complex64)))
    write(f"{OUT}/npy/bool_native.npy", npy_bytes(np.array([True, False])))
    # Hand-written headers: double quotes, extra spaces, keys out of order, v1 with a long header.
    hdr = b"{\"shape\" : ( 2 , ) , \"fortran_order\": False, \"descr\": \"<i8\"}"
    hdr += b" " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + b"\n"
    write(f"{OUT}/npy/handwritten_v1.npy",
          b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + np.array([1, 2], np.int64).tobytes())
    # Shapes whose byte count (or element count) overflows: refused before allocating.
    for name, shape in (("overflow_bytes", "(4611686018427387904,)"), ("overflow_2d", "(1073741824, 4294967296)"),
                        ("overflow_numel", "(4294967296, 4294967296, 4294967296)"), ("zero_times_huge", "(0, 9223372036854775807)")):
        hdr = ("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape).encode()
        hdr += b" " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + b"\n"
        write(f"{OUT}/npy/{name}.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b"\0" * 16)
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }\n"
    write(f"{OUT}/npy/too_many_dims.npy",
          b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b"\0\0\0\0")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    model_seeds()
    hostile_attr_seeds()
    tensor_seeds()
    npy_seeds()
    for h in ("model", "npy", "tensor"):
        print(h, len(os.listdir(f"{OUT}/{h}")), "files")


if __name__ == "__main__":
    main()
