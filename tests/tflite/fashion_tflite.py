#!/usr/bin/env python3
"""Write the repository's demo CNN (models/fashion_cnn.onnx) as a Keras-style
TFLite model: NHWC input [N, 28, 28, 1], OHWI filters, fused RELUs, VALID
padding, MAX_POOL_2D, RESHAPE (flatten in HWC order, so fc1's columns are
reordered from ONNX's CHW order), FULLY_CONNECTED, SOFTMAX - what
`tf.lite.TFLiteConverter` makes of the equivalent Keras model.

usage: fashion_tflite.py MODEL.onnx OUT.tflite
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

from tfl_write import FLOAT32, INT32, model, table, i32

src, dst = sys.argv[1], sys.argv[2]
g = onnx.load(src).graph
W = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in g.initializer}
ops_seen = [n.op_type for n in g.node]
if ops_seen != ['Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'Flatten', 'Gemm', 'Relu', 'Gemm']:
    sys.exit('fashion_tflite.py: unexpected graph %s' % ops_seen)

tensors, buffers, ops = [], [None], []


def tensor(name, shape, data=None, sig=None, type_=FLOAT32):
    t = dict(name=name, shape=list(shape), type=type_)
    if sig is not None: t['sig'] = sig
    if data is not None:
        t['buffer'] = len(buffers)
        buffers.append(np.ascontiguousarray(data).tobytes())
    tensors.append(t)
    return len(tensors) - 1


CONV, MAXP, RESHAPE, FC, SOFTMAX = 3, 17, 22, 9, 25
codes = [dict(dep=c, builtin=c, version=1) for c in (CONV, MAXP, RESHAPE, FC, SOFTMAX)]
x = tensor('serving_default_conv2d_input:0', [1, 28, 28, 1], sig=[-1, 28, 28, 1])
h, c = 28, 1
for k, name in enumerate(['conv1', 'conv2', 'conv3']):
    w = W[name + '.weight'].transpose(0, 2, 3, 1)  # OIHW -> OHWI
    wt = tensor('sequential/%s/Conv2D' % name, w.shape, w)
    bt = tensor('sequential/%s/BiasAdd' % name, [w.shape[0]], W[name + '.bias'])
    h, c = h - 2, w.shape[0]
    y = tensor('sequential/%s/Relu' % name, [1, h, h, c], sig=[-1, h, h, c])
    ops.append(dict(code=0, inputs=[x, wt, bt], outputs=[y], opt_type=1,
                    opt=lambda b: table(b, [(0, 'i8', 1), (1, 'i32', 1), (2, 'i32', 1), (3, 'i8', 1)])))
    x = y
    if k < 2:
        h //= 2
        y = tensor('sequential/max_pooling2d_%d/MaxPool' % k, [1, h, h, c], sig=[-1, h, h, c])
        ops.append(dict(code=1, inputs=[x], outputs=[y], opt_type=5,
                        opt=lambda b: table(b, [(0, 'i8', 1), (1, 'i32', 2), (2, 'i32', 2), (3, 'i32', 2),
                                                (4, 'i32', 2), (5, 'i8', 0)])))
        x = y
shp = tensor('sequential/flatten/Const', [2], np.array([-1, h * h * c], np.int32), type_=INT32)
y = tensor('sequential/flatten/Reshape', [1, h * h * c], sig=[-1, h * h * c])
ops.append(dict(code=2, inputs=[x, shp], outputs=[y], opt_type=17, opt=lambda b: table(b, [])))
x = y
# fc1 columns: ONNX flattens C,H,W; the NHWC tensor flattens H,W,C
w1 = W['fc1.weight'].reshape(-1, c, h, h).transpose(0, 2, 3, 1).reshape(-1, h * h * c)
for name, w, act in (('dense', w1, 1), ('dense_1', W['fc2.weight'], 0)):
    wt = tensor('sequential/%s/MatMul' % name, w.shape, w)
    bt = tensor('sequential/%s/BiasAdd/ReadVariableOp' % name, [w.shape[0]],
                W[('fc1' if name == 'dense' else 'fc2') + '.bias'])
    y = tensor('sequential/%s/%s' % (name, 'Relu' if act else 'BiasAdd'), [1, w.shape[0]], sig=[-1, w.shape[0]])
    ops.append(dict(code=3, inputs=[x, wt, bt], outputs=[y], opt_type=8,
                    opt=lambda b, act=act: table(b, [(0, 'i8', act), (1, 'i8', 0), (2, 'bool', False)])))
    x = y
y = tensor('StatefulPartitionedCall:0', [1, 10], sig=[-1, 10])
ops.append(dict(code=4, inputs=[x], outputs=[y], opt_type=9, opt=lambda b: table(b, [(0, 'f32', 1.0)])))
data = model(tensors=tensors, ops=ops, inputs=[0], outputs=[y], codes=codes, buffers=buffers,
             signatures=[dict(key='serving_default', inputs=[('conv2d_input', 0)], outputs=[('dense_2', y)])])
with open(dst, 'wb') as f:
    f.write(data)
