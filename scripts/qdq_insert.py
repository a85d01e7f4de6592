#!/usr/bin/python3
"""Test-only: turn a float ONNX model into a standard QDQ model the way ONNX
Runtime's static quantizer lays one out, so nnedge's int8 runtime (the
qdq_fusion pass and the int8 kernels) can be tested and benchmarked on
QDQ files that do not depend on nnedge's own quantizer.

    /usr/bin/python3 scripts/qdq_insert.py IN.onnx OUT.onnx [--nnedge build/nnedge]
        [--calib X.npy | --samples N] [--seed S] [--act uint8|int8] [--keep-act]

Layout (ORT's QDQ format, per-channel weights, minmax calibration):
  * weights of Conv (axis 0), Gemm (transB=1: axis 0, else 1) and MatMul
    (axis 1) become DequantizeLinear(int8 initializer, per-channel scale,
    zero point 0): symmetric int8 in [-127, 127];
  * biases of Conv/Gemm become DequantizeLinear(int32, x_scale * w_scale);
  * every float activation read or written by a quantized op gets a
    QuantizeLinear -> DequantizeLinear pair after its producer, with a
    min-max range (always including 0) over the calibration samples:
    uint8 with a zero point (default) or int8 (--act int8);
  * MaxPool, Flatten, Reshape, Transpose keep their input's parameters;
  * a Relu or Clip that is the only reader of a Conv/Gemm/Add output is
    removed (its range becomes the output's range), as ORT's quantizer does,
    unless --keep-act (then it stays, between the op and its Q, with no Q/DQ
    between the op and the activation).
Calibration runs the float model with `nnedge run --dump` on random inputs
(uniform [0, 1), seeded) or the samples of --calib (axis 0).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

QUANT_OPS = {"Conv", "Gemm", "MatMul", "Add", "Mul", "Concat", "MaxPool", "AveragePool",
             "GlobalAveragePool", "Flatten", "Reshape", "Transpose", "Relu", "Clip"}
SAME_PARAMS = {"MaxPool", "Flatten", "Reshape", "Transpose"}
WEIGHT_OPS = {"Conv", "Gemm", "MatMul"}


def np_dtype(elem):
    return {TensorProto.FLOAT: np.float32, TensorProto.INT64: np.int64, TensorProto.INT32: np.int32,
            TensorProto.UINT8: np.uint8, TensorProto.INT8: np.int8}[elem]


def calibrate(model_path, model, nnedge, samples, seed, calib):
    """min/max of every value over the samples, from nnedge run --dump."""
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    ranges = {}
    n = samples if calib is None else calib.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(n):
            args = [nnedge, "run", model_path, "-o", os.path.join(tmp, "out"), "--dump", os.path.join(tmp, "dump"),
                    "--json"]
            for inp in inputs:
                tt = inp.type.tensor_type
                dims = [d.dim_value if d.dim_value > 0 else 1 for d in tt.shape.dim]
                if calib is not None:
                    x = calib[s:s + 1].astype(np_dtype(tt.elem_type)).reshape(dims)
                else:
                    x = rng.random(dims, dtype=np.float32).astype(np_dtype(tt.elem_type))
                path = os.path.join(tmp, f"in{len(args)}.npy")
                np.save(path, x)
                args += ["-i", f"{inp.name}={path}"]
                lo, hi = float(x.min()), float(x.max())
                r = ranges.get(inp.name, (lo, hi))
                ranges[inp.name] = (min(r[0], lo), max(r[1], hi))
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(tmp, "dump", "index.json")) as f:
                index = json.load(f)
            for name, fname in value_files(index):
                a = np.load(os.path.join(tmp, "dump", fname))
                if a.dtype != np.float32 or a.size == 0:
                    continue
                lo, hi = float(a.min()), float(a.max())
                r = ranges.get(name, (lo, hi))
                ranges[name] = (min(r[0], lo), max(r[1], hi))
    return ranges


def value_files(index):
    """(value name, file) pairs of a --dump index.json."""
    out = []
    nodes = index.get("nodes", index) if isinstance(index, dict) else index
    for node in nodes:
        outs = node.get("outputs", {})
        if isinstance(outs, dict):
            out += list(outs.items())
    return out


def act_params(lo, hi, act):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if act == "uint8":
        qmin, qmax = 0, 255
    else:
        qmin, qmax = -128, 127
    scale = (hi - lo) / (qmax - qmin)
    if scale == 0.0:
        scale = 1.0
    zp = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return np.float32(scale), zp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--nnedge", default="build/nnedge")
    ap.add_argument("--calib")
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--act", choices=["uint8", "int8"], default="uint8")
    ap.add_argument("--keep-act", action="store_true")
    ap.add_argument("--reduce-range", action="store_true",
                    help="7-bit weights in [-63, 63] (ORT's reduce_range: no vpmaddubsw saturation)")
    a = ap.parse_args()

    model = onnx.load(a.inp)
    calib = np.load(a.calib) if a.calib else None
    ranges = calibrate(a.inp, model, a.nnedge, a.samples, a.seed, calib)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    readers = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in g.output}
    act_dt = TensorProto.UINT8 if a.act == "uint8" else TensorProto.INT8

    # 1. Relu/Clip that alone read a Conv/Gemm output: removed (range taken over)
    removed = set()
    if not a.keep_act:
        for n in list(g.node):
            if n.op_type not in ("Relu", "Clip") or n.input[0] not in producers:
                continue
            p = producers[n.input[0]]
            if p.op_type not in ("Conv", "Gemm", "Add") or len(readers.get(n.input[0], [])) != 1 or \
                    n.input[0] in graph_outputs:
                continue
            if n.op_type == "Clip":
                bounds = [inits[i] for i in n.input[1:] if i]
                if len(bounds) != len(n.input[1:]) or any(b.data_type != TensorProto.FLOAT for b in bounds):
                    continue
                lo = float(numpy_helper.to_array(bounds[0])) if len(n.input) > 1 and n.input[1] else -np.inf
                if lo < 0:  # Clip must clamp at 0 or above: its range has to start at >= 0
                    continue
            p.output[0] = n.output[0]
            removed.add(id(n))
        nodes = [n for n in g.node if id(n) not in removed]
        del g.node[:]
        g.node.extend(nodes)
        producers = {o: n for n in g.node for o in n.output}
        readers = {}
        for n in g.node:
            for i in n.input:
                readers.setdefault(i, []).append(n)

    # 2. which activations get Q/DQ, and their parameters. With --keep-act the
    # value between a Conv/Gemm and the Relu/Clip that alone reads it gets none
    # (the op, its activation, then Q: the fused-activation pattern).
    no_q = set()
    if a.keep_act:
        for n in g.node:
            if n.op_type in ("Relu", "Clip") and n.input[0] in producers and \
                    producers[n.input[0]].op_type in ("Conv", "Gemm") and len(readers.get(n.input[0], [])) == 1:
                no_q.add(n.input[0])
    quantized = {}  # value -> (scale, zp)
    order = []
    for n in g.node:
        if n.op_type not in QUANT_OPS:
            continue
        ins = [n.input[0]] if n.op_type in WEIGHT_OPS else [i for i in n.input if i]
        if n.op_type == "Clip" or n.op_type == "Reshape":
            ins = [n.input[0]]
        for i in ins:
            if i in inits or i in quantized or i not in ranges or i in no_q:
                continue
            quantized[i] = act_params(*ranges[i], a.act)
            order.append(i)
        for o in n.output:
            if o in ranges and o not in quantized and o not in no_q:
                if n.op_type in SAME_PARAMS and n.input[0] in quantized:
                    quantized[o] = quantized[n.input[0]]
                else:
                    quantized[o] = act_params(*ranges[o], a.act)
                order.append(o)

    new_inits = []
    rename = {}  # value -> its DQ output, for readers
    qdq_nodes = {}  # value -> [Q, DQ] to insert after its producer
    for v in order:
        scale, zp = quantized[v]
        sn, zn = v + "_scale", v + "_zp"
        new_inits.append(numpy_helper.from_array(np.array(scale, np.float32), sn))
        new_inits.append(numpy_helper.from_array(np.array(zp, np_dtype(act_dt)), zn))
        q = helper.make_node("QuantizeLinear", [v, sn, zn], [v + "_q"], name=v + "_Q")
        dq = helper.make_node("DequantizeLinear", [v + "_q", sn, zn], [v + "_dq"], name=v + "_DQ")
        qdq_nodes[v] = [q, dq]
        rename[v] = v + "_dq"

    # 3. weights and biases
    for ni, n in enumerate(g.node):
        if n.op_type not in WEIGHT_OPS or len(n.input) < 2 or n.input[1] not in inits or \
                n.input[0] not in quantized:
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        if n.op_type == "Conv":
            axis = 0
        elif n.op_type == "Gemm":
            tb = next((at.i for at in n.attribute if at.name == "transB"), 0)
            axis = 0 if tb else 1
        else:
            if w.ndim != 2:
                continue
            axis = 1
        red = tuple(d for d in range(w.ndim) if d != axis)
        amax = np.max(np.abs(w), axis=red)
        wmax = 63.0 if a.reduce_range else 127.0
        ws = np.where(amax > 0, amax / wmax, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        wq = np.clip(np.rint(w / ws.reshape(shape)), -wmax, wmax).astype(np.int8)
        base = f"{n.input[1]}_{ni}"
        new_inits += [numpy_helper.from_array(wq, base + "_wq"), numpy_helper.from_array(ws, base + "_wscale"),
                      numpy_helper.from_array(np.zeros(ws.shape, np.int8), base + "_wzp")]
        dq = helper.make_node("DequantizeLinear", [base + "_wq", base + "_wscale", base + "_wzp"],
                              [base + "_wdq"], name=base + "_DQw", axis=axis)
        qdq_nodes.setdefault("__weights__", []).append(dq)
        n.input[1] = base + "_wdq"
        if len(n.input) > 2 and n.input[2] in inits:
            b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32)
            xs = quantized[n.input[0]][0]
            bs = (np.float32(xs) * ws).astype(np.float32)
            if b.shape == bs.shape:
                bq = np.rint(b / bs).astype(np.int64)
                bq = np.clip(bq, -2**31 + 1, 2**31 - 1).astype(np.int32)
                bb = f"{n.input[2]}_{ni}"
                new_inits += [numpy_helper.from_array(bq, bb + "_bq"), numpy_helper.from_array(bs, bb + "_bscale"),
                              numpy_helper.from_array(np.zeros(bs.shape, np.int32), bb + "_bzp")]
                bdq = helper.make_node("DequantizeLinear", [bb + "_bq", bb + "_bscale", bb + "_bzp"], [bb + "_bdq"],
                                       name=bb + "_DQb", axis=0)
                qdq_nodes["__weights__"].append(bdq)
                n.input[2] = bb + "_bdq"

    # 4. graph outputs keep their names: the producer writes NAME_f, the DQ
    # writes NAME; then rewire readers and rebuild the node list in order
    outs = {o.name for o in g.output}
    for v in order:
        if v in outs:
            q, dq = qdq_nodes[v]
            q.input[0] = v + "_f"
            dq.output[0] = v
            rename[v] = v
            for n in g.node:
                for k, o in enumerate(n.output):
                    if o == v:
                        n.output[k] = v + "_f"
    for n in g.node:
        for k, i in enumerate(n.input):
            if i in rename:
                n.input[k] = rename[i]
    out_nodes = list(qdq_nodes.get("__weights__", []))
    inputs = {i.name for i in g.input}
    for v in order:
        if v in inputs:
            out_nodes += qdq_nodes[v]
    for n in g.node:
        out_nodes.append(n)
        for o in n.output:
            key = o[:-2] if o.endswith("_f") and o[:-2] in outs else o
            if key in qdq_nodes:
                out_nodes += qdq_nodes[key]
    del g.node[:]
    g.node.extend(out_nodes)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    del g.value_info[:]
    if not any(o.domain in ("", "ai.onnx") and o.version >= 13 for o in model.opset_import):
        sys.exit("qdq_insert: the model's opset is below 13 (per-axis DequantizeLinear needs 13)")
    onnx.checker.check_model(model)
    onnx.save(model, a.out)
    print(f"{a.out}: {len(order)} activations quantized, "
          f"{sum(1 for n in g.node if n.op_type == 'DequantizeLinear')} DequantizeLinear nodes")


if __name__ == "__main__":
    sys.exit(main())
