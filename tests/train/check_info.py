#!/usr/bin/python3
"""Checks `nnedge info --json` against an independent count (issue 8: macs
and weight sparsity must stay right for pruned models).

  /usr/bin/python3 tests/train/check_info.py MODEL.onnx INFO.json BATCH

params and sparsity: every initializer element, zeros counted with numpy
(sparsity = zeros / params, as `info` defines it); macs for the input's
batch set to BATCH: onnx shape inference, then Conv = output elements x
input channels per group x kernel taps, Gemm = M x N x K, MatMul = output
elements x K. Prints what differs; exit 1 then."""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

model = onnx.load(sys.argv[1])
info = json.load(open(sys.argv[2]))
batch = int(sys.argv[3])
g = model.graph
init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
params = sum(a.size for a in init.values())
zeros = sum(int(np.count_nonzero(a == 0)) for a in init.values())
for i in g.input:
    if i.name not in init:
        i.type.tensor_type.shape.dim[0].ClearField("dim_param")
        i.type.tensor_type.shape.dim[0].dim_value = batch
inf = shape_inference.infer_shapes(model)
shape = {}
for v in list(inf.graph.value_info) + list(inf.graph.input) + list(inf.graph.output):
    shape[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
for k, a in init.items():
    shape[k] = list(a.shape)
macs = 0
for n in g.node:
    if n.op_type == "Conv":
        w = shape[n.input[1]]
        macs += int(np.prod(shape[n.output[0]])) * int(np.prod(w[1:]))
    elif n.op_type == "Gemm":
        ta = next((a.i for a in n.attribute if a.name == "transA"), 0)
        a = shape[n.input[0]]
        macs += int(np.prod(shape[n.output[0]])) * (a[0] if ta else a[1])
    elif n.op_type == "MatMul":
        macs += int(np.prod(shape[n.output[0]])) * shape[n.input[0]][-1]
fails = []
if info["params"] != params:
    fails.append("params: info %d, counted %d" % (info["params"], params))
if abs(info["sparsity"] - zeros / params) > 1e-6:
    fails.append("sparsity: info %.6f, counted %.6f (%d zeros)" % (info["sparsity"], zeros / params, zeros))
if info["macs"] != macs:
    fails.append("macs: info %d, counted %d" % (info["macs"], macs))
for f in fails:
    print(f)
sys.exit(1 if fails else 0)
