#!/usr/bin/env python3
"""Generate the edge-case TFLite models of tests/tflite/models/ (committed;
rerun to regenerate: /usr/bin/python3 tests/tflite/gen_models.py tests/tflite/models).

Each NAME.tflite has NAME.json: the inputs to feed (shape, dtype, range) and
what to expect: "litert" (nnedge's outputs must match LiteRT's; `atol` adds
an absolute allowance, one quantization step for quantized outputs) or
{"exit": 2, "stderr": REGEX} (nnedge must refuse it with that message).
"""
import json, os, struct, sys
import numpy as np
from tfl_write import model, table, f32, i32, FLOAT32, FLOAT16, INT32, UINT8, INT64, BOOL, INT16, INT8

rng = np.random.default_rng(7)
out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)

def code(builtin, version=1):
    return dict(dep=min(builtin, 127), builtin=builtin, version=version)

def save(name, data, spec):
    with open(os.path.join(out_dir, name + '.tflite'), 'wb') as f:
        f.write(data)
    with open(os.path.join(out_dir, name + '.json'), 'w') as f:
        json.dump(spec, f, indent=1)
        f.write('\n')

def inp(shape, lo=-1.0, hi=1.0, batch_split=False):
    return dict(shape=shape, dtype='f4', lo=lo, hi=hi)

def quant_per_channel(w, axis):
    """int8 symmetric per-channel quantization of w along axis."""
    red = tuple(d for d in range(w.ndim) if d != axis)
    scale = np.abs(w).max(axis=red) / 127.0
    shp = [1] * w.ndim
    shp[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shp)), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)

def opt_conv(pad, sw, sh, act, dw=1, dh=1):
    return lambda b: table(b, [(0, 'i8', pad), (1, 'i32', sw), (2, 'i32', sh), (3, 'i8', act), (4, 'i32', dw),
                               (5, 'i32', dh)])
def opt_dw(pad, sw, sh, dm, act):
    return lambda b: table(b, [(0, 'i8', pad), (1, 'i32', sw), (2, 'i32', sh), (3, 'i32', dm), (4, 'i8', act),
                               (5, 'i32', 1), (6, 'i32', 1)])
def opt_pool(pad, sw, sh, fw, fh, act=0):
    return lambda b: table(b, [(0, 'i8', pad), (1, 'i32', sw), (2, 'i32', sh), (3, 'i32', fw), (4, 'i32', fh),
                               (5, 'i8', act)])
def opt_fc(act=0, keep=False):
    return lambda b: table(b, [(0, 'i8', act), (1, 'i8', 0), (2, 'bool', keep)])
def opt_empty():
    return lambda b: table(b, [])
def opt_act(act):
    return lambda b: table(b, [(0, 'i8', act)])

CONV, DW, FC, AVG, MAXP, ADD, MUL, SUB, DIV = 3, 4, 9, 1, 17, 0, 18, 41, 42
QUANT, DEQUANT, SOFTMAX, RESHAPE, PAD, MEAN, SUM, TRANSPOSE = 114, 6, 25, 22, 34, 40, 74, 39
RES_BI, RES_NN, SSLICE, SLICE, CONCAT, HSWISH, LRELU, LOGISTIC = 23, 97, 45, 65, 2, 117, 98, 14
BMM, GATHER, PACK, UNPACK, SPLIT, GELU, WHILE, SQUEEZE, EXPAND = 126, 36, 83, 88, 49, 150, 119, 43, 70
T_CONV, T_DW, T_POOL, T_FC, T_SOFTMAX, T_CONCAT, T_ADD, T_RESHAPE, T_MUL, T_PAD = 1, 2, 5, 8, 9, 10, 11, 17, 21, 22
T_GATHER, T_TRANSPOSE, T_REDUCER, T_SUB, T_DIV, T_SQUEEZE, T_SSLICE, T_SPLIT = 23, 26, 27, 28, 29, 30, 32, 35
T_DEQUANT, T_SLICE, T_PACK, T_UNPACK, T_RES_NN, T_LRELU, T_QUANT, T_HSWISH = 38, 48, 59, 64, 74, 75, 89, 91
T_WHILE, T_BMM, T_GELU, T_RES_BI = 93, 101, 116, 15

# 1. int8 CONV_2D with per-channel weights (SAME, stride 2, fused RELU)
x_s, x_zp, y_s, y_zp = 2.0 / 255, -1, 0.03, -20
w = rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32)
wq, ws = quant_per_channel(w, 0)
bias = rng.normal(0, 0.2, 4).astype(np.float32)
bs = (x_s * ws).astype(np.float32)
bq = np.round(bias / bs).astype(np.int32)
save('conv_int8_perchannel', model(
    tensors=[dict(name='x', shape=[1, 7, 7, 3], type=FLOAT32),
             dict(name='xq', shape=[1, 7, 7, 3], type=INT8, scale=[x_s], zp=[x_zp]),
             dict(name='w', shape=[4, 3, 3, 3], type=INT8, buffer=1, scale=list(ws), zp=[0] * 4, qdim=0),
             dict(name='b', shape=[4], type=INT32, buffer=2, scale=list(bs), zp=[0] * 4, qdim=0),
             dict(name='yq', shape=[1, 4, 4, 4], type=INT8, scale=[y_s], zp=[y_zp]),
             dict(name='y', shape=[1, 4, 4, 4], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=T_QUANT, opt=opt_empty()),
         dict(code=1, inputs=[1, 2, 3], outputs=[4], opt_type=T_CONV, opt=opt_conv(0, 2, 2, 1)),
         dict(code=2, inputs=[4], outputs=[5], opt_type=T_DEQUANT, opt=opt_empty())],
    inputs=[0], outputs=[5], codes=[code(QUANT, 1), code(CONV, 3), code(DEQUANT, 2)],
    buffers=[None, wq.tobytes(), bq.tobytes()]),
    dict(inputs=[inp([1, 7, 7, 3])], expect='litert', atol=y_s * 1.01))

# 2. int8 FULLY_CONNECTED with per-channel weights
w = rng.normal(0, 0.4, (5, 8)).astype(np.float32)
wq, ws = quant_per_channel(w, 0)
bias = rng.normal(0, 0.2, 5).astype(np.float32)
x_s, x_zp, y_s, y_zp = 2.0 / 255, 3, 0.02, 5
bs = (x_s * ws).astype(np.float32)
bq = np.round(bias / bs).astype(np.int32)
save('fc_int8_perchannel', model(
    tensors=[dict(name='x', shape=[2, 8], type=FLOAT32),
             dict(name='xq', shape=[2, 8], type=INT8, scale=[x_s], zp=[x_zp]),
             dict(name='w', shape=[5, 8], type=INT8, buffer=1, scale=list(ws), zp=[0] * 5, qdim=0),
             dict(name='b', shape=[5], type=INT32, buffer=2, scale=list(bs), zp=[0] * 5, qdim=0),
             dict(name='yq', shape=[2, 5], type=INT8, scale=[y_s], zp=[y_zp]),
             dict(name='y', shape=[2, 5], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=T_QUANT, opt=opt_empty()),
         dict(code=1, inputs=[1, 2, 3], outputs=[4], opt_type=T_FC, opt=opt_fc()),
         dict(code=2, inputs=[4], outputs=[5], opt_type=T_DEQUANT, opt=opt_empty())],
    inputs=[0], outputs=[5], codes=[code(QUANT, 1), code(FC, 5), code(DEQUANT, 2)],
    buffers=[None, wq.tobytes(), bq.tobytes()]),
    dict(inputs=[inp([2, 8])], expect='litert', atol=y_s * 1.01))

# 3. float DEPTHWISE_CONV_2D, depth multiplier 2, VALID, fused RELU6
w = rng.normal(0, 1, (1, 3, 3, 8)).astype(np.float32)
b = rng.normal(0, 0.5, 8).astype(np.float32)
save('depthwise_float', model(
    tensors=[dict(name='x', shape=[1, 6, 5, 4], type=FLOAT32), dict(name='w', shape=[1, 3, 3, 8], type=FLOAT32, buffer=1),
             dict(name='b', shape=[8], type=FLOAT32, buffer=2), dict(name='y', shape=[1, 4, 3, 8], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1, 2], outputs=[3], opt_type=T_DW, opt=opt_dw(1, 1, 1, 2, 3))],
    inputs=[0], outputs=[3], codes=[code(DW, 2)], buffers=[None, w.tobytes(), b.tobytes()]),
    dict(inputs=[inp([1, 6, 5, 4])], expect='litert'))

# 4. float CONV_2D SAME stride 2 on an odd size (fused RELU_N1_TO_1), MAX_POOL SAME, AVERAGE_POOL SAME
w = rng.normal(0, 0.5, (6, 3, 3, 2)).astype(np.float32)
b = rng.normal(0, 0.5, 6).astype(np.float32)
save('conv_pool_same', model(
    tensors=[dict(name='x', shape=[1, 9, 7, 2], type=FLOAT32), dict(name='w', shape=[6, 3, 3, 2], type=FLOAT32, buffer=1),
             dict(name='b', shape=[6], type=FLOAT32, buffer=2), dict(name='c', shape=[1, 5, 4, 6], type=FLOAT32),
             dict(name='m', shape=[1, 3, 2, 6], type=FLOAT32), dict(name='y', shape=[1, 2, 1, 6], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1, 2], outputs=[3], opt_type=T_CONV, opt=opt_conv(0, 2, 2, 2)),
         dict(code=1, inputs=[3], outputs=[4], opt_type=T_POOL, opt=opt_pool(0, 2, 2, 2, 2)),
         dict(code=2, inputs=[4], outputs=[5], opt_type=T_POOL, opt=opt_pool(0, 2, 2, 3, 3))],
    inputs=[0], outputs=[5], codes=[code(CONV, 1), code(MAXP, 1), code(AVG, 1)],
    buffers=[None, w.tobytes(), b.tobytes()]),
    dict(inputs=[inp([1, 9, 7, 2])], expect='litert'))

# 4b. a fused TANH: the schema allows it, TFLite's conv kernel ignores it; refused
save('conv_fused_tanh', model(
    tensors=[dict(name='x', shape=[1, 3, 3, 2], type=FLOAT32), dict(name='w', shape=[2, 1, 1, 2], type=FLOAT32, buffer=1),
             dict(name='y', shape=[1, 3, 3, 2], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1, -1], outputs=[2], opt_type=T_CONV, opt=opt_conv(1, 1, 1, 4))],
    inputs=[0], outputs=[2], codes=[code(CONV, 1)], buffers=[None, np.ones((2, 1, 1, 2), np.float32).tobytes()]),
    dict(inputs=[inp([1, 3, 3, 2])], expect=dict(exit=2, stderr=r'CONV_2D version 1.*fused activation TANH')))

# 5. an op code above 127: deprecated_builtin_code holds the placeholder 127, builtin_code GELU (150)
save('gelu_code150', model(
    tensors=[dict(name='x', shape=[2, 6], type=FLOAT32), dict(name='y', shape=[2, 6], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=T_GELU, opt=lambda b: table(b, [(0, 'bool', False)]))],
    inputs=[0], outputs=[1], codes=[dict(dep=127, builtin=GELU, version=1)], buffers=[None]),
    dict(inputs=[inp([2, 6], -3, 3)], expect='litert'))

# 6. an op version newer than nnedge knows
save('add_version99', model(
    tensors=[dict(name='a', shape=[3], type=FLOAT32), dict(name='b', shape=[3], type=FLOAT32),
             dict(name='y', shape=[3], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1], outputs=[2], opt_type=T_ADD, opt=opt_act(0))],
    inputs=[0, 1], outputs=[2], codes=[code(ADD, 99)], buffers=[None]),
    dict(inputs=[inp([3]), inp([3])], expect=dict(exit=2, stderr=r'ADD version 99 is not supported')))

# 7. weights stored past the FlatBuffer (Buffer.offset / Buffer.size), as in models over 2 GB
w = rng.normal(0, 0.5, (3, 4)).astype(np.float32)
b = rng.normal(0, 0.5, 3).astype(np.float32)
save('fc_buffer_offset', model(
    tensors=[dict(name='x', shape=[1, 4], type=FLOAT32), dict(name='w', shape=[3, 4], type=FLOAT32, buffer=1),
             dict(name='b', shape=[3], type=FLOAT32, buffer=2), dict(name='y', shape=[1, 3], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1, 2], outputs=[3], opt_type=T_FC, opt=opt_fc(1))],
    inputs=[0], outputs=[3], codes=[code(FC, 1)], buffers=[None, ('tail', w.tobytes()), ('tail', b.tobytes())]),
    dict(inputs=[inp([1, 4])], expect='litert'))

# 8. uint8 per-tensor: QUANTIZE -> AVERAGE_POOL_2D (uint8) -> DEQUANTIZE
q_s, q_zp = 2.0 / 255, 128
save('avgpool_uint8', model(
    tensors=[dict(name='x', shape=[1, 4, 6, 3], type=FLOAT32),
             dict(name='xq', shape=[1, 4, 6, 3], type=UINT8, scale=[q_s], zp=[q_zp]),
             dict(name='pq', shape=[1, 2, 3, 3], type=UINT8, scale=[q_s], zp=[q_zp]),
             dict(name='y', shape=[1, 2, 3, 3], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=T_QUANT, opt=opt_empty()),
         dict(code=1, inputs=[1], outputs=[2], opt_type=T_POOL, opt=opt_pool(1, 2, 2, 2, 2)),
         dict(code=2, inputs=[2], outputs=[3], opt_type=T_DEQUANT, opt=opt_empty())],
    inputs=[0], outputs=[3], codes=[code(QUANT, 1), code(AVG, 1), code(DEQUANT, 1)], buffers=[None]),
    dict(inputs=[inp([1, 4, 6, 3])], expect='litert', atol=q_s * 1.01))

# 9. float16 weights behind DEQUANTIZE (TFLite's float16 quantization)
w = rng.normal(0, 0.5, (4, 6)).astype(np.float16)
save('fc_float16_weights', model(
    tensors=[dict(name='x', shape=[2, 6], type=FLOAT32), dict(name='w16', shape=[4, 6], type=FLOAT16, buffer=1),
             dict(name='w', shape=[4, 6], type=FLOAT32), dict(name='y', shape=[2, 4], type=FLOAT32)],
    ops=[dict(code=0, inputs=[1], outputs=[2], opt_type=T_DEQUANT, opt=opt_empty()),
         dict(code=1, inputs=[0, 2, -1], outputs=[3], opt_type=T_FC, opt=opt_fc())],
    inputs=[0], outputs=[3], codes=[code(DEQUANT, 3), code(FC, 1)], buffers=[None, w.tobytes()]),
    dict(inputs=[inp([2, 6])], expect='litert'))

# 10. PAD + RESIZE_BILINEAR (half_pixel_centers) + RESIZE_NEAREST_NEIGHBOR (align_corners)
pads = np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32)
save('pad_resize', model(
    tensors=[dict(name='x', shape=[1, 3, 4, 2], type=FLOAT32), dict(name='pads', shape=[4, 2], type=INT32, buffer=1),
             dict(name='p', shape=[1, 6, 5, 2], type=FLOAT32), dict(name='size', shape=[2], type=INT32, buffer=2),
             dict(name='r', shape=[1, 9, 7, 2], type=FLOAT32), dict(name='size2', shape=[2], type=INT32, buffer=3),
             dict(name='y', shape=[1, 4, 11, 2], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1], outputs=[2], opt_type=T_PAD, opt=opt_empty()),
         dict(code=1, inputs=[2, 3], outputs=[4], opt_type=T_RES_BI,
              opt=lambda b: table(b, [(2, 'bool', False), (3, 'bool', True)])),
         dict(code=2, inputs=[4, 5], outputs=[6], opt_type=T_RES_NN,
              opt=lambda b: table(b, [(0, 'bool', True), (1, 'bool', False)]))],
    inputs=[0], outputs=[6], codes=[code(PAD, 1), code(RES_BI, 3), code(RES_NN, 1)],
    buffers=[None, pads.tobytes(), i32([9, 7]), i32([4, 11])]),
    dict(inputs=[inp([1, 3, 4, 2])], expect='litert'))

# 11. STRIDED_SLICE (masks, shrink) + SLICE + CONCATENATION + activations + SOFTMAX(beta) + MEAN/SUM + TRANSPOSE
cst = rng.normal(0, 1, (1, 4)).astype(np.float32)
save('slice_concat_act', model(
    tensors=[dict(name='x', shape=[2, 3, 8], type=FLOAT32),
             dict(name='begin', shape=[3], type=INT32, buffer=1), dict(name='end', shape=[3], type=INT32, buffer=2),
             dict(name='strides', shape=[3], type=INT32, buffer=3), dict(name='ss', shape=[2, 4], type=FLOAT32),
             dict(name='sb', shape=[3], type=INT32, buffer=4), dict(name='sz', shape=[3], type=INT32, buffer=5),
             dict(name='sl', shape=[2, 1, 4], type=FLOAT32), dict(name='sh', shape=[2], type=INT32, buffer=6),
             dict(name='slr', shape=[2, 4], type=FLOAT32), dict(name='hs', shape=[2, 4], type=FLOAT32),
             dict(name='lr', shape=[2, 4], type=FLOAT32), dict(name='cat', shape=[2, 8], type=FLOAT32),
             dict(name='cst', shape=[1, 4], type=FLOAT32, buffer=7), dict(name='mul', shape=[2, 4], type=FLOAT32),
             dict(name='sm', shape=[2, 8], type=FLOAT32), dict(name='perm', shape=[2], type=INT32, buffer=8),
             dict(name='tr', shape=[8, 2], type=FLOAT32), dict(name='axes', shape=[1], type=INT32, buffer=9),
             dict(name='mean', shape=[8, 1], type=FLOAT32), dict(name='sum', shape=[2], type=FLOAT32),
             dict(name='sig', shape=[2, 4], type=FLOAT32), dict(name='sub', shape=[2, 4], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1, 2, 3], outputs=[4], opt_type=T_SSLICE,
              opt=lambda b: table(b, [(0, 'i32', 1), (1, 'i32', 0), (2, 'i32', 0), (3, 'i32', 0), (4, 'i32', 2)])),
         dict(code=1, inputs=[0, 5, 6], outputs=[7], opt_type=T_SLICE, opt=opt_empty()),
         dict(code=2, inputs=[7, 8], outputs=[9], opt_type=T_RESHAPE, opt=opt_empty()),
         dict(code=3, inputs=[4], outputs=[10], opt_type=T_HSWISH, opt=opt_empty()),
         dict(code=4, inputs=[9], outputs=[11], opt_type=T_LRELU, opt=lambda b: table(b, [(0, 'f32', 0.2)])),
         dict(code=5, inputs=[10, 11], outputs=[12], opt_type=T_CONCAT, opt=lambda b: table(b, [(0, 'i32', -1), (1, 'i8', 0)])),
         dict(code=6, inputs=[11, 13], outputs=[14], opt_type=T_MUL, opt=opt_act(3)),
         dict(code=7, inputs=[12], outputs=[15], opt_type=T_SOFTMAX, opt=lambda b: table(b, [(0, 'f32', 0.5)])),
         dict(code=8, inputs=[15, 16], outputs=[17], opt_type=T_TRANSPOSE, opt=opt_empty()),
         dict(code=9, inputs=[17, 18], outputs=[19], opt_type=T_REDUCER, opt=lambda b: table(b, [(0, 'bool', True)])),
         dict(code=10, inputs=[12, 18], outputs=[20], opt_type=T_REDUCER, opt=lambda b: table(b, [(0, 'bool', False)])),
         dict(code=11, inputs=[14], outputs=[21], opt_type=None),
         dict(code=12, inputs=[21, 10], outputs=[22], opt_type=T_SUB, opt=opt_act(2))],
    inputs=[0], outputs=[19, 20, 22],
    codes=[code(SSLICE, 1), code(SLICE, 1), code(RESHAPE, 1), code(HSWISH, 1), code(LRELU, 1), code(CONCAT, 1),
           code(MUL, 1), code(SOFTMAX, 1), code(TRANSPOSE, 1), code(MEAN, 1), code(SUM, 1), code(LOGISTIC, 1),
           code(SUB, 1)],
    buffers=[None, i32([0, 1, 0]), i32([2, 2, 8]), i32([1, 1, 2]), i32([0, 2, 1]), i32([2, 1, 4]), i32([2, 4]),
             cst.tobytes(), i32([1, 0]), i32([1])]),
    dict(inputs=[inp([2, 3, 8], -4, 4)], expect='litert'))

# 12. BATCH_MATMUL (adj_y) + GATHER + PACK + UNPACK + SPLIT
wb = rng.normal(0, 1, (5, 4)).astype(np.float32)
save('matmul_gather_pack', model(
    tensors=[dict(name='x', shape=[2, 3, 4], type=FLOAT32), dict(name='wb', shape=[5, 4], type=FLOAT32, buffer=1),
             dict(name='mm', shape=[2, 3, 5], type=FLOAT32), dict(name='idx', shape=[2], type=INT32, buffer=2),
             dict(name='g', shape=[2, 2, 5], type=FLOAT32), dict(name='u0', shape=[2, 5], type=FLOAT32),
             dict(name='u1', shape=[2, 5], type=FLOAT32), dict(name='pk', shape=[2, 2, 5], type=FLOAT32),
             dict(name='ax', shape=[], type=INT32, buffer=3), dict(name='s0', shape=[1, 2, 5], type=FLOAT32),
             dict(name='s1', shape=[1, 2, 5], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1], outputs=[2], opt_type=T_BMM, opt=lambda b: table(b, [(0, 'bool', False), (1, 'bool', True)])),
         dict(code=1, inputs=[2, 3], outputs=[4], opt_type=T_GATHER, opt=lambda b: table(b, [(0, 'i32', 1)])),
         dict(code=2, inputs=[4], outputs=[5, 6], opt_type=T_UNPACK, opt=lambda b: table(b, [(0, 'i32', 2), (1, 'i32', 1)])),
         dict(code=3, inputs=[6, 5], outputs=[7], opt_type=T_PACK, opt=lambda b: table(b, [(0, 'i32', 2), (1, 'i32', 2)])),
         dict(code=4, inputs=[8, 7], outputs=[9, 10], opt_type=T_SPLIT, opt=lambda b: table(b, [(0, 'i32', 2)]))],
    inputs=[0], outputs=[9, 10],
    codes=[code(BMM, 1), code(GATHER, 1), code(UNPACK, 1), code(PACK, 1), code(SPLIT, 1)],
    buffers=[None, wb.tobytes(), i32([2, 0]), i32([0])]),
    dict(inputs=[inp([2, 3, 4])], expect='litert'))

# 13. a WHILE whose condition and body are the main subgraph itself: refused (it would recurse)
save('while_loop', model(
    tensors=[dict(name='x', shape=[1], type=FLOAT32), dict(name='y', shape=[1], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=T_WHILE, opt=lambda b: table(b, [(0, 'i32', 0), (1, 'i32', 0)]))],
    inputs=[0], outputs=[1], codes=[code(WHILE, 1)], buffers=[None]),
    dict(inputs=[inp([1])], expect=dict(exit=2, stderr=r'subgraph 0 contains itself')))

# 14. a dynamic batch (shape_signature -1): nnedge runs batch 3, LiteRT each row alone
w = rng.normal(0, 0.5, (3, 8)).astype(np.float32)
save('fc_dynamic_batch', model(
    tensors=[dict(name='x', shape=[1, 8], sig=[-1, 8], type=FLOAT32), dict(name='w', shape=[3, 8], type=FLOAT32, buffer=1),
             dict(name='y', shape=[1, 3], sig=[-1, 3], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1, -1], outputs=[2], opt_type=T_FC, opt=opt_fc(0))],
    inputs=[0], outputs=[2], codes=[code(FC, 1)], buffers=[None, w.tobytes()],
    signatures=[dict(key='serving_default', inputs=[('input', 0)], outputs=[('output', 2)])]),
    dict(inputs=[inp([3, 8])], expect='litert', split_batch=True))
# 15. uint8 input and output (a fully quantized model's interface; LiteRT.js has no int8 I/O):
#     FULLY_CONNECTED on uint8 directly, per-tensor uint8 weights
w = rng.normal(0, 0.4, (4, 6)).astype(np.float32)
w_s = float(np.abs(w).max() / 127)
wq = np.clip(np.round(w / w_s) + 128, 0, 255).astype(np.uint8)
x_s, x_zp, y_s, y_zp = 0.05, 120, 0.04, 130
save('fc_uint8_io', model(
    tensors=[dict(name='xq', shape=[2, 6], type=UINT8, scale=[x_s], zp=[x_zp]),
             dict(name='w', shape=[4, 6], type=UINT8, buffer=1, scale=[w_s], zp=[128]),
             dict(name='yq', shape=[2, 4], type=UINT8, scale=[y_s], zp=[y_zp])],
    ops=[dict(code=0, inputs=[0, 1, -1], outputs=[2], opt_type=T_FC, opt=opt_fc(1))],
    inputs=[0], outputs=[2], codes=[code(FC, 1)], buffers=[None, wq.tobytes()]),
    dict(inputs=[dict(shape=[2, 6], dtype='u1', lo=0, hi=255)], expect='litert', atol=1.01))
# 16. an int8 pipeline as converters write it: QUANTIZE -> per-channel int8 DEPTHWISE_CONV_2D (RELU6)
#     -> int8 ADD (residual, other scale) -> int8 AVERAGE_POOL_2D -> int8 CONCATENATION -> DEQUANTIZE
x_s, x_zp = 2.0 / 255, 0
w = rng.normal(0, 0.5, (1, 3, 3, 4)).astype(np.float32)
wq, ws = quant_per_channel(w, 3)
bias = rng.normal(0, 0.1, 4).astype(np.float32)
bs = (x_s * ws).astype(np.float32)
bq = np.round(bias / bs).astype(np.int32)
d_s, d_zp, a_s, a_zp, p_s, p_zp = 6.0 / 255, -128, 0.03, -10, 0.03, -10
save('int8_pipeline', model(
    tensors=[dict(name='x', shape=[1, 6, 6, 4], type=FLOAT32),
             dict(name='xq', shape=[1, 6, 6, 4], type=INT8, scale=[x_s], zp=[x_zp]),
             dict(name='w', shape=[1, 3, 3, 4], type=INT8, buffer=1, scale=list(ws), zp=[0] * 4, qdim=3),
             dict(name='b', shape=[4], type=INT32, buffer=2, scale=list(bs), zp=[0] * 4, qdim=0),
             dict(name='dq', shape=[1, 6, 6, 4], type=INT8, scale=[d_s], zp=[d_zp]),
             dict(name='aq', shape=[1, 6, 6, 4], type=INT8, scale=[a_s], zp=[a_zp]),
             dict(name='pq', shape=[1, 3, 3, 4], type=INT8, scale=[p_s], zp=[p_zp]),
             dict(name='cq', shape=[1, 3, 3, 8], type=INT8, scale=[p_s], zp=[p_zp]),
             dict(name='y', shape=[1, 3, 3, 8], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=T_QUANT, opt=opt_empty()),
         dict(code=1, inputs=[1, 2, 3], outputs=[4], opt_type=T_DW, opt=opt_dw(0, 1, 1, 1, 3)),
         dict(code=2, inputs=[4, 1], outputs=[5], opt_type=T_ADD, opt=opt_act(0)),
         dict(code=3, inputs=[5], outputs=[6], opt_type=T_POOL, opt=opt_pool(1, 2, 2, 2, 2)),
         dict(code=4, inputs=[6, 6], outputs=[7], opt_type=T_CONCAT, opt=lambda b: table(b, [(0, 'i32', 3), (1, 'i8', 0)])),
         dict(code=5, inputs=[7], outputs=[8], opt_type=T_DEQUANT, opt=opt_empty())],
    inputs=[0], outputs=[8], codes=[code(QUANT, 1), code(DW, 3), code(ADD, 2), code(AVG, 2), code(CONCAT, 2),
                                    code(DEQUANT, 2)],
    buffers=[None, wq.tobytes(), bq.tobytes()]),
    dict(inputs=[inp([1, 6, 6, 4], 0, 2)], expect='litert', atol=p_s * 2.01))

# 17. more float ops: PRELU, RELU, RELU6, TANH, EXP, RSQRT, DIV, ADD, MAXIMUM, MINIMUM,
#     SQUARED_DIFFERENCE, EXPAND_DIMS, SQUEEZE, SPLIT_V, RESIZE_NEAREST_NEIGHBOR (half_pixel_centers)
PRELU, RELU, RELU6, TANH, EXP, RSQRT, MAXI, MINI, SQD, SPLITV = 54, 19, 21, 28, 47, 76, 55, 57, 99, 102
alpha = rng.uniform(0.05, 0.5, (1, 1, 3)).astype(np.float32)
save('float_ops', model(
    tensors=[dict(name='x', shape=[1, 4, 5, 3], type=FLOAT32), dict(name='alpha', shape=[1, 1, 3], type=FLOAT32, buffer=1),
             dict(name='pr', shape=[1, 4, 5, 3], type=FLOAT32), dict(name='r', shape=[1, 4, 5, 3], type=FLOAT32),
             dict(name='r6', shape=[1, 4, 5, 3], type=FLOAT32), dict(name='th', shape=[1, 4, 5, 3], type=FLOAT32),
             dict(name='ex', shape=[1, 4, 5, 3], type=FLOAT32), dict(name='rs', shape=[1, 4, 5, 3], type=FLOAT32),
             dict(name='dv', shape=[1, 4, 5, 3], type=FLOAT32), dict(name='ad', shape=[1, 4, 5, 3], type=FLOAT32),
             dict(name='mx', shape=[1, 4, 5, 3], type=FLOAT32), dict(name='mn', shape=[1, 4, 5, 3], type=FLOAT32),
             dict(name='sd', shape=[1, 4, 5, 3], type=FLOAT32), dict(name='ax', shape=[1], type=INT32, buffer=2),
             dict(name='ed', shape=[1, 4, 5, 3, 1], type=FLOAT32), dict(name='sq', shape=[4, 5, 3], type=FLOAT32),
             dict(name='sizes', shape=[2], type=INT32, buffer=3), dict(name='sax', shape=[], type=INT32, buffer=4),
             dict(name='s0', shape=[4, 1, 3], type=FLOAT32), dict(name='s1', shape=[4, 4, 3], type=FLOAT32),
             dict(name='nsize', shape=[2], type=INT32, buffer=5), dict(name='nn', shape=[1, 7, 9, 3], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1], outputs=[2]), dict(code=1, inputs=[0], outputs=[3]),
         dict(code=2, inputs=[0], outputs=[4]), dict(code=3, inputs=[0], outputs=[5]),
         dict(code=4, inputs=[5], outputs=[6]), dict(code=5, inputs=[6], outputs=[7]),
         dict(code=6, inputs=[2, 6], outputs=[8], opt_type=T_DIV, opt=opt_act(0)),
         dict(code=7, inputs=[8, 4], outputs=[9], opt_type=T_ADD, opt=opt_act(1)),
         dict(code=8, inputs=[9, 3], outputs=[10]), dict(code=9, inputs=[10, 7], outputs=[11]),
         dict(code=10, inputs=[11, 2], outputs=[12]),
         dict(code=11, inputs=[12, 13], outputs=[14]),
         dict(code=12, inputs=[14], outputs=[15], opt_type=T_SQUEEZE,
              opt=lambda b: table(b, [(0, 'off', __import__('tfl_write')._ivec(b, [0, 4]))])),
         dict(code=13, inputs=[15, 16, 17], outputs=[18, 19], opt_type=79, opt=lambda b: table(b, [(0, 'i32', 2)])),
         dict(code=14, inputs=[0, 20], outputs=[21], opt_type=T_RES_NN,
              opt=lambda b: table(b, [(0, 'bool', False), (1, 'bool', True)]))],
    inputs=[0], outputs=[18, 19, 21],
    codes=[code(PRELU), code(RELU), code(RELU6), code(TANH), code(EXP), code(RSQRT), code(DIV), code(ADD),
           code(MAXI), code(MINI), code(SQD), code(EXPAND), code(SQUEEZE), code(SPLITV), code(RES_NN, 3)],
    buffers=[None, alpha.tobytes(), i32([4]), i32([1, -1]), i32([1]), i32([7, 9])]),
    dict(inputs=[inp([1, 4, 5, 3], -2, 2)], expect='litert'))
# 18. SPACE_TO_DEPTH, DEPTH_TO_SPACE, ARG_MAX (int32), LOG_SOFTMAX, TILE, SHAPE, CAST, GREATER + SELECT_V2
S2D, D2S, ARGMAX, LOGSM, TILE, SHAPE, CAST, GREATER, SELV2 = 26, 5, 56, 50, 69, 77, 53, 61, 123
save('layout_int_ops', model(
    tensors=[dict(name='x', shape=[1, 4, 4, 8], type=FLOAT32), dict(name='s2d', shape=[1, 2, 2, 32], type=FLOAT32),
             dict(name='d2s', shape=[1, 8, 8, 2], type=FLOAT32), dict(name='ax', shape=[1], type=INT32, buffer=1),
             dict(name='am', shape=[1, 4, 4], type=INT32), dict(name='ls', shape=[1, 4, 4, 8], type=FLOAT32),
             dict(name='mult', shape=[4], type=INT32, buffer=2), dict(name='tl', shape=[1, 4, 8, 8], type=FLOAT32),
             dict(name='sh', shape=[4], type=INT32), dict(name='amf', shape=[1, 4, 4], type=FLOAT32),
             dict(name='zero', shape=[], type=FLOAT32, buffer=3), dict(name='gt', shape=[1, 4, 4, 8], type=BOOL),
             dict(name='neg', shape=[1], type=FLOAT32, buffer=4), dict(name='sel', shape=[1, 4, 4, 8], type=FLOAT32),
             dict(name='shf', shape=[4], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=19, opt=lambda b: table(b, [(0, 'i32', 2)])),
         dict(code=1, inputs=[0], outputs=[2], opt_type=94, opt=lambda b: table(b, [(0, 'i32', 2)])),
         dict(code=2, inputs=[0, 3], outputs=[4], opt_type=40, opt=lambda b: table(b, [(0, 'i8', INT32)])),
         dict(code=3, inputs=[0], outputs=[5], opt_type=36, opt=opt_empty()),
         dict(code=4, inputs=[0, 6], outputs=[7], opt_type=51, opt=opt_empty()),
         dict(code=5, inputs=[0], outputs=[8], opt_type=55, opt=lambda b: table(b, [(0, 'i8', INT32)])),
         dict(code=6, inputs=[4], outputs=[9], opt_type=37, opt=lambda b: table(b, [(0, 'i8', INT32), (1, 'i8', FLOAT32)])),
         dict(code=7, inputs=[0, 10], outputs=[11], opt_type=44, opt=opt_empty()),
         dict(code=8, inputs=[11, 0, 12], outputs=[13], opt_type=98, opt=opt_empty()),
         dict(code=6, inputs=[8], outputs=[14], opt_type=37, opt=lambda b: table(b, [(0, 'i8', INT32), (1, 'i8', FLOAT32)]))],
    # SHAPE's int32 output itself comes back from LiteRT.js as garbage: compared through a CAST
    inputs=[0], outputs=[1, 2, 4, 5, 7, 9, 13, 14],
    codes=[code(S2D), code(D2S), code(ARGMAX, 2), code(LOGSM), code(TILE), code(SHAPE), code(CAST), code(GREATER),
           code(SELV2)],
    buffers=[None, i32([3]), i32([1, 1, 2, 1]), f32([0.0]), f32([-1.0])]),
    dict(inputs=[inp([1, 4, 4, 8], -3, 3)], expect='litert'))

# 19. TRANSPOSE_CONV (with bias), SAME and VALID, stride 2
TCONV = 67
w = rng.normal(0, 0.5, (4, 3, 3, 2)).astype(np.float32)
bias = rng.normal(0, 0.5, 4).astype(np.float32)
def opt_tconv(pad, act=0):
    return lambda b: table(b, [(0, 'i8', pad), (1, 'i32', 2), (2, 'i32', 2), (3, 'i8', act)])
save('transpose_conv', model(
    tensors=[dict(name='x', shape=[1, 3, 4, 2], type=FLOAT32), dict(name='w', shape=[4, 3, 3, 2], type=FLOAT32, buffer=1),
             dict(name='b', shape=[4], type=FLOAT32, buffer=2), dict(name='os_same', shape=[4], type=INT32, buffer=3),
             dict(name='ys', shape=[1, 6, 8, 4], type=FLOAT32), dict(name='os_valid', shape=[4], type=INT32, buffer=4),
             dict(name='yv', shape=[1, 7, 9, 4], type=FLOAT32)],
    ops=[dict(code=0, inputs=[3, 1, 0, 2], outputs=[4], opt_type=49, opt=opt_tconv(0, 1)),
         dict(code=0, inputs=[5, 1, 0, 2], outputs=[6], opt_type=49, opt=opt_tconv(1, 1))],
    inputs=[0], outputs=[4, 6], codes=[code(TCONV, 4)],
    buffers=[None, w.tobytes(), bias.tobytes(), i32([1, 6, 8, 4]), i32([1, 7, 9, 4])]),
    dict(inputs=[inp([1, 3, 4, 2])], expect='litert'))

# 20. the long tail: ADD_N, L2_NORMALIZATION, LOCAL_RESPONSE_NORMALIZATION, FLOOR_DIV/FLOOR_MOD (float and
#     int), MIRROR_PAD (REFLECT), FILL, BROADCAST_TO, RANGE, GATHER_ND, REVERSE_V2, CUMSUM (reverse)
ADDN, L2N, LRN, FDIV, FMOD, MPAD, FILL, BCAST, RANGE, GND, REV, CUMSUM = 106, 11, 13, 90, 95, 100, 94, 130, 96, 107, 105, 128
row = rng.normal(0, 1, (6,)).astype(np.float32)
X = [1, 3, 4, 6]
T = lambda name, shape, type_=FLOAT32, **kw: dict(name=name, shape=shape, type=type_, **kw)
save('long_tail_ops', model(
    tensors=[T('x', X), T('an', X), T('l2', X), T('lrn', X), T('c07', [], buffer=1), T('fd', X), T('fm', X),
             T('mpads', [4, 2], INT32, buffer=2), T('mp', [1, 5, 6, 6]), T('fdims', [2], INT32, buffer=3),
             T('fval', [], buffer=4), T('fill', [2, 3]), T('row', [6], buffer=5), T('bshape', [2], INT32, buffer=6),
             T('bt', [2, 6]), T('r0', [], INT32, buffer=7), T('r1', [], INT32, buffer=8), T('r2', [], INT32, buffer=9),
             T('rg', [3], INT32), T('gidx', [2, 2], INT32, buffer=10), T('gnd', [2, 4, 6]),
             T('raxis', [1], INT32, buffer=11), T('rv', X), T('caxis', [], INT32, buffer=12), T('cs', X),
             T('ia', [4], INT32, buffer=13), T('ib', [4], INT32, buffer=14), T('ifd', [4], INT32), T('ifm', [4], INT32),
             T('rgf', [3])],
    ops=[dict(code=0, inputs=[0, 0, 0], outputs=[1], opt_type=82, opt=opt_empty()),
         dict(code=1, inputs=[0], outputs=[2], opt_type=12, opt=opt_act(0)),
         dict(code=2, inputs=[0], outputs=[3], opt_type=13,
              opt=lambda b: table(b, [(0, 'i32', 2), (1, 'f32', 1.0), (2, 'f32', 0.1), (3, 'f32', 0.75)])),
         dict(code=3, inputs=[0, 4], outputs=[5], opt_type=65, opt=opt_empty()),
         dict(code=4, inputs=[0, 4], outputs=[6], opt_type=72, opt=opt_empty()),
         dict(code=5, inputs=[0, 7], outputs=[8], opt_type=77, opt=lambda b: table(b, [(0, 'i8', 0)])),
         dict(code=6, inputs=[9, 10], outputs=[11], opt_type=68, opt=opt_empty()),
         dict(code=7, inputs=[12, 13], outputs=[14], opt_type=104, opt=opt_empty()),
         dict(code=8, inputs=[15, 16, 17], outputs=[18], opt_type=73, opt=opt_empty()),
         dict(code=9, inputs=[0, 19], outputs=[20], opt_type=83, opt=opt_empty()),
         dict(code=10, inputs=[0, 21], outputs=[22], opt_type=81, opt=opt_empty()),
         dict(code=11, inputs=[0, 23], outputs=[24], opt_type=102, opt=lambda b: table(b, [(0, 'bool', False), (1, 'bool', True)])),
         dict(code=3, inputs=[25, 26], outputs=[27], opt_type=65, opt=opt_empty()),
         dict(code=4, inputs=[25, 26], outputs=[28], opt_type=72, opt=opt_empty()),
         dict(code=12, inputs=[18], outputs=[29], opt_type=37, opt=lambda b: table(b, [(0, 'i8', INT32), (1, 'i8', FLOAT32)]))],
    # RANGE's int32 output (computed at prepare from constants) comes back from LiteRT.js as garbage, as
    # SHAPE's does: compared through a CAST; LiteRT's REVERSE_V2 takes one axis
    inputs=[0], outputs=[1, 2, 3, 5, 6, 8, 11, 14, 29, 20, 22, 24, 27, 28],
    codes=[code(ADDN), code(L2N), code(LRN), code(FDIV, 2), code(FMOD, 2), code(MPAD), code(FILL), code(BCAST, 2),
           code(RANGE), code(GND), code(REV, 2), code(CUMSUM), code(CAST)],
    buffers=[None, f32([0.7]), np.array([[0, 0], [1, 1], [2, 0], [0, 0]], np.int32).tobytes(), i32([2, 3]), f32([1.5]),
             row.tobytes(), i32([2, 6]), i32([2]), i32([11]), i32([3]), i32([0, 1, 0, 2]), i32([2]), i32([2]),
             i32([-7, 7, -8, 9]), i32([2, -2, 3, 4])]),
    dict(inputs=[inp(X, -3, 3)], expect='litert'))

# 21. WHILE -> Loop: (i, x) -> while i < n: (i + 1, x * 1.5 + 1); n is a second input
LESS = 58
save('while_count', model(
    tensors=[dict(name='i0', shape=[], type=INT32, buffer=1), dict(name='x', shape=[3], type=FLOAT32),
             dict(name='n', shape=[], type=FLOAT32), dict(name='i', shape=[], type=INT32),
             dict(name='y', shape=[3], type=FLOAT32), dict(name='nn', shape=[], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1, 2], outputs=[3, 4, 5], opt_type=T_WHILE,
              opt=lambda b: table(b, [(0, 'i32', 1), (1, 'i32', 2)]))],
    inputs=[1, 2], outputs=[4, 3],
    codes=[code(WHILE), code(LESS), code(ADD), code(MUL), dict(dep=53, builtin=53, version=1)],
    buffers=[None, i32([0]), i32([1]), f32([1.5]), f32([1.0])],
    extra_subgraphs=[
        # cond(i, x, n): float(i) < n
        dict(tensors=[dict(name='ci', shape=[], type=INT32), dict(name='cx', shape=[3], type=FLOAT32),
                      dict(name='cn', shape=[], type=FLOAT32), dict(name='cif', shape=[], type=FLOAT32),
                      dict(name='c', shape=[], type=BOOL)],
             ops=[dict(code=4, inputs=[0], outputs=[3], opt_type=37,
                       opt=lambda b: table(b, [(0, 'i8', INT32), (1, 'i8', FLOAT32)])),
                  dict(code=1, inputs=[3, 2], outputs=[4], opt_type=41, opt=opt_empty())],
             inputs=[0, 1, 2], outputs=[4]),
        # body(i, x, n): (i + 1, x * 1.5 + 1, n)
        dict(tensors=[dict(name='bi', shape=[], type=INT32), dict(name='bx', shape=[3], type=FLOAT32),
                      dict(name='bn', shape=[], type=FLOAT32), dict(name='one', shape=[], type=INT32, buffer=2),
                      dict(name='k', shape=[], type=FLOAT32, buffer=3), dict(name='onef', shape=[], type=FLOAT32, buffer=4),
                      dict(name='bi1', shape=[], type=INT32), dict(name='bxk', shape=[3], type=FLOAT32),
                      dict(name='bx1', shape=[3], type=FLOAT32)],
             ops=[dict(code=2, inputs=[0, 3], outputs=[6], opt_type=T_ADD, opt=opt_act(0)),
                  dict(code=3, inputs=[1, 4], outputs=[7], opt_type=T_MUL, opt=opt_act(0)),
                  dict(code=2, inputs=[7, 5], outputs=[8], opt_type=T_ADD, opt=opt_act(0))],
             inputs=[0, 1, 2], outputs=[6, 8, 2])]),
    dict(inputs=[inp([3]), dict(shape=[], dtype='f4', lo=3, hi=6)], expect='litert'))

print('wrote', len([f for f in os.listdir(out_dir) if f.endswith('.tflite')]), 'models to', out_dir)
