#!/usr/bin/python3
"""gen_tflite.py OUTDIR - hostile TFLite files (cases-tflite.txt).

Writes OUTDIR/tflite/: a good model (y = relu(x W^T + b), plus its input)
and broken variants: FlatBuffer structure (truncations, root/vtable/vector
offsets and lengths out of range, a string without its NUL) and TFLite
meaning (buffer, tensor, opcode and subgraph indices out of range, a buffer
offset/size past the end, constant sizes that do not match their shape,
rank 13, negative dims, bad quantization, unsupported types and ops, an IF
that contains itself, schema version 4). Deterministic; no network.
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tflite'))
from tfl_write import model, table, FLOAT32, INT32, INT8, BOOL  # noqa: E402

out = os.path.join(sys.argv[1], 'tflite')
os.makedirs(out, exist_ok=True)
STRING = 5
W = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
B = np.array([0.5, -1, 0], np.float32)


def fc(x_shape=(1, 4), w_shape=(3, 4), w_bytes=None, w_buffer=1, x_type=FLOAT32, code_index=0, codes=None,
       x_extra=None, op_inputs=(0, 1, 2), buffers=None, version=3, n_sub=1, x_name='x'):
    x = dict(name=x_name, shape=list(x_shape), type=x_type)
    if x_extra: x.update(x_extra)
    return model(
        tensors=[x, dict(name='w', shape=list(w_shape), type=FLOAT32, buffer=w_buffer),
                 dict(name='b', shape=[3], type=FLOAT32, buffer=2), dict(name='y', shape=[1, 3], type=FLOAT32)],
        ops=[dict(code=code_index, inputs=list(op_inputs), outputs=[3], opt_type=8,
                  opt=lambda b: table(b, [(0, 'i8', 1)]))],
        inputs=[0], outputs=[3], codes=codes or [dict(dep=9, builtin=9, version=1)],
        buffers=buffers or [None, W.tobytes() if w_bytes is None else w_bytes, B.tobytes()], version=version)


def save(name, data):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)


good = fc()
save('good.tflite', good)
save('tflite_named.onnx', good)  # the format comes from the "TFL3" identifier, not the name
np.save(os.path.join(out, 'x.npy'), np.array([[1, 2, 3, 4]], np.float32))
# structure
save('empty.tflite', b'')
save('ident_only.tflite', b'\0\0\0\0TFL3')
save('trunc_16.tflite', good[:16])
save('trunc_half.tflite', good[:len(good) // 2])
save('root_huge.tflite', struct.pack('<I', 0xFFFFFFF0) + good[4:])
root = struct.unpack_from('<I', good, 0)[0]
save('vtable_huge.tflite', good[:root] + struct.pack('<i', -0x7FFFFFF0) + good[root + 4:])
save('vtable_neg.tflite', good[:root] + struct.pack('<i', 0x7FFFFFF0) + good[root + 4:])
pat = struct.pack('<I', 2) + struct.pack('<2i', 3, 4)   # the shape vector of w: [3, 4]
i = good.find(pat)
assert i > 0
save('vector_len_huge.tflite', good[:i] + struct.pack('<I', 0x7FFFFFFF) + good[i + 4:])
xn = fc(x_name='xq_unique_name_for_patching')
j = xn.find(b'xq_unique_name_for_patching\0')
save('string_no_nul.tflite', xn[:j + 27] + b'A' + xn[j + 28:])
# meaning
save('buffer_index.tflite', fc(w_buffer=1000))
save('opcode_index.tflite', fc(code_index=7))
save('tensor_index.tflite', fc(op_inputs=(0, 999, 2)))
save('buffer_offset_past_end.tflite', fc(buffers=[None, ('at', 1 << 40, 48), B.tobytes()]))
save('buffer_size_past_end.tflite', fc(buffers=[None, ('at', 64, 1 << 62), B.tobytes()]))
save('const_size_mismatch.tflite', fc(w_bytes=W.tobytes()[:40]))
save('rank13.tflite', fc(x_shape=[1] * 13))
save('negative_dim.tflite', fc(x_shape=(1, -5)))
save('string_tensor.tflite', fc(x_type=STRING))
save('scale_negative.tflite', fc(x_type=INT8, x_extra=dict(scale=[-1.0], zp=[0])))
save('scale_count.tflite', fc(x_type=INT8, x_extra=dict(scale=[1.0, 2.0, 3.0], zp=[0, 0, 0], qdim=1)))
save('custom_op.tflite', model(
    tensors=[dict(name='x', shape=[2], type=FLOAT32), dict(name='y', shape=[2], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1])], inputs=[0], outputs=[1],
    codes=[dict(dep=32, builtin=32, version=1)], buffers=[None]))
save('unknown_code.tflite', model(
    tensors=[dict(name='x', shape=[2], type=FLOAT32), dict(name='y', shape=[2], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0], outputs=[1])], inputs=[0], outputs=[1],
    codes=[dict(dep=127, builtin=100000, version=1)], buffers=[None]))
save('if_recursive.tflite', model(
    tensors=[dict(name='c', shape=[1], type=BOOL), dict(name='x', shape=[2], type=FLOAT32),
             dict(name='y', shape=[2], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1], outputs=[2], opt_type=92,
              opt=lambda b: table(b, [(0, 'i32', 0), (1, 'i32', 0)]))],
    inputs=[0, 1], outputs=[2], codes=[dict(dep=118, builtin=118, version=1)], buffers=[None]))
save('if_branch_range.tflite', model(
    tensors=[dict(name='c', shape=[1], type=BOOL), dict(name='x', shape=[2], type=FLOAT32),
             dict(name='y', shape=[2], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1], outputs=[2], opt_type=92,
              opt=lambda b: table(b, [(0, 'i32', 5), (1, 'i32', -1)]))],
    inputs=[0, 1], outputs=[2], codes=[dict(dep=118, builtin=118, version=1)], buffers=[None]))
save('schema_v4.tflite', fc(version=4))
save('read_before_write.tflite', fc(op_inputs=(3, 1, 2)))

# IF fan-out: subgraph k calls subgraph k+1 from two IFs, each as both branches
# (the IFs pass the condition on as an operand too)
# (a small file asking for 4^14 subgraph imports): refused by the work cap
IF_OPT = lambda t: (lambda b: table(b, [(0, 'i32', t), (1, 'i32', t)]))
def if_level(target):
    return dict(tensors=[dict(name='c', shape=[1], type=BOOL), dict(name='x', shape=[2], type=FLOAT32),
                         dict(name='y1', shape=[2], type=FLOAT32), dict(name='y2', shape=[2], type=FLOAT32)],
                ops=[dict(code=0, inputs=[0, 0, 1], outputs=[2], opt_type=92, opt=IF_OPT(target)),
                     dict(code=0, inputs=[0, 0, 2], outputs=[3], opt_type=92, opt=IF_OPT(target))],
                inputs=[0, 1], outputs=[3])
leaf = dict(tensors=[dict(name='c', shape=[1], type=BOOL), dict(name='x', shape=[2], type=FLOAT32),
                     dict(name='y', shape=[2], type=FLOAT32)],
            ops=[dict(code=1, inputs=[1], outputs=[2])], inputs=[0, 1], outputs=[2])
levels = [if_level(k + 2) for k in range(13)] + [leaf]
save('if_fanout.tflite', model(
    tensors=[dict(name='c', shape=[1], type=BOOL), dict(name='x', shape=[2], type=FLOAT32),
             dict(name='y', shape=[2], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 0, 1], outputs=[2], opt_type=92, opt=IF_OPT(1))],
    inputs=[0, 1], outputs=[2], codes=[dict(dep=118, builtin=118, version=1), dict(dep=19, builtin=19, version=1)],
    buffers=[None], extra_subgraphs=levels))
# a legitimate IF: then = RELU, else = the identity (its output is its input)
save('if_ok.tflite', model(
    tensors=[dict(name='c', shape=[1], type=BOOL), dict(name='x', shape=[3], type=FLOAT32),
             dict(name='y', shape=[3], type=FLOAT32)],
    ops=[dict(code=0, inputs=[0, 1], outputs=[2], opt_type=92, opt=lambda b: table(b, [(0, 'i32', 1), (1, 'i32', 2)]))],
    inputs=[0, 1], outputs=[2], codes=[dict(dep=118, builtin=118, version=1), dict(dep=19, builtin=19, version=1)],
    buffers=[None], extra_subgraphs=[
        dict(tensors=[dict(name='x', shape=[3], type=FLOAT32), dict(name='r', shape=[3], type=FLOAT32)],
             ops=[dict(code=1, inputs=[0], outputs=[1])], inputs=[0], outputs=[1]),
        dict(tensors=[dict(name='x', shape=[3], type=FLOAT32)], ops=[], inputs=[0], outputs=[0])]))
np.save(os.path.join(out, 'c_true.npy'), np.array([True]))
np.save(os.path.join(out, 'c_false.npy'), np.array([False]))
np.save(os.path.join(out, 'x3.npy'), np.array([-1, 2, -3], np.float32))
np.save(os.path.join(out, 'x23.npy'), np.arange(6, dtype=np.float32).reshape(2, 3))


# one operator with bad operands or options: refused at load or at prepare, never a crash
def one_op(name, code, tensors, inputs, outputs, op_inputs, op_outputs, opt_type=None, opt=None, buffers=(None,),
           version=1):
    op = dict(code=0, inputs=op_inputs, outputs=op_outputs)
    if opt is not None:
        op.update(opt_type=opt_type, opt=opt)
    save(name, model(tensors=tensors, ops=[op], inputs=inputs, outputs=outputs,
                     codes=[dict(dep=min(code, 127), builtin=code, version=version)], buffers=list(buffers)))


F = lambda n, s, **kw: dict(name=n, shape=s, type=FLOAT32, **kw)
I = lambda n, s, **kw: dict(name=n, shape=s, type=INT32, **kw)
conv_opt = lambda pad, sw, sh: (lambda b: table(b, [(0, 'i8', pad), (1, 'i32', sw), (2, 'i32', sh), (3, 'i8', 0)]))
one_op('conv_filter_rank2.tflite', 3, [F('x', [1, 4, 4, 2]), F('w', [2, 2], buffer=1), F('y', [1, 4, 4, 2])],
       [0], [2], [0, 1], [2], 1, conv_opt(0, 1, 1), (None, np.ones(4, np.float32).tobytes()))
one_op('conv_stride0.tflite', 3, [F('x', [1, 4, 4, 2]), F('w', [2, 1, 1, 2], buffer=1), F('y', [1, 4, 4, 2])],
       [0], [2], [0, 1], [2], 1, conv_opt(0, 0, 1), (None, np.ones(4, np.float32).tobytes()))
one_op('conv_padding7.tflite', 3, [F('x', [1, 4, 4, 2]), F('w', [2, 1, 1, 2], buffer=1), F('y', [1, 4, 4, 2])],
       [0], [2], [0, 1], [2], 1, conv_opt(7, 1, 1), (None, np.ones(4, np.float32).tobytes()))
one_op('conv_channels.tflite', 3, [F('x', [1, 4, 4, 3]), F('w', [2, 1, 1, 2], buffer=1), F('y', [1, 4, 4, 2])],
       [0], [2], [0, 1], [2], 1, conv_opt(0, 1, 1), (None, np.ones(4, np.float32).tobytes()))
one_op('transpose_perm_bad.tflite', 39, [F('x', [2, 3]), I('p', [2], buffer=1), F('y', [3, 2])],
       [0], [2], [0, 1], [2], 26, lambda b: table(b, []), (None, np.array([0, 0], np.int32).tobytes()))
one_op('reshape_shape_bad.tflite', 22, [F('x', [2, 3]), I('s', [2], buffer=1), F('y', [4, 2])],
       [0], [2], [0, 1], [2], 17, lambda b: table(b, []), (None, np.array([4, 2], np.int32).tobytes()))
one_op('strided_slice_ellipsis.tflite', 45,
       [F('x', [2, 3]), I('b', [2], buffer=1), I('e', [2], buffer=1), I('s', [2], buffer=2), F('y', [2, 3])],
       [0], [4], [0, 1, 2, 3], [4], 32, lambda b: table(b, [(2, 'i32', 1)]),
       (None, np.array([0, 0], np.int32).tobytes(), np.array([1, 1], np.int32).tobytes()))
one_op('gather_batch_dims.tflite', 36, [F('x', [2, 3]), I('i', [2], buffer=1), F('y', [2, 2])],
       [0], [2], [0, 1], [2], 23, lambda b: table(b, [(0, 'i32', 1), (1, 'i32', 1)]),
       (None, np.array([0, 1], np.int32).tobytes()))
one_op('mean_axes_float.tflite', 40, [F('x', [2, 3]), F('a', [1], buffer=1), F('y', [2])],
       [0], [2], [0, 1], [2], 27, lambda b: table(b, []), (None, np.array([1], np.float32).tobytes()))
one_op('split_zero.tflite', 49, [I('a', [], buffer=1), F('x', [2, 4]), F('y', [2, 4])],
       [1], [2], [0, 1], [2], 35, lambda b: table(b, [(0, 'i32', 0)]), (None, np.array([1], np.int32).tobytes()))
one_op('missing_input.tflite', 0, [F('x', [2]), F('y', [2])], [0], [1], [0], [1], 11, lambda b: table(b, []))
one_op('fused_act_9.tflite', 0, [F('x', [2]), F('y', [2])], [0], [1], [0, 0], [1], 11,
       lambda b: table(b, [(0, 'i8', 9)]))

# WHILE(true): the loop runs until nnedge's iteration limit stops it
save('while_forever.tflite', model(
    tensors=[F('x', [2]), F('y', [2])],
    ops=[dict(code=0, inputs=[0], outputs=[1], opt_type=93, opt=lambda b: table(b, [(0, 'i32', 1), (1, 'i32', 2)]))],
    inputs=[0], outputs=[1], codes=[dict(dep=119, builtin=119, version=1), dict(dep=19, builtin=19, version=1)],
    buffers=[None, np.array([1], np.uint8).tobytes()],
    extra_subgraphs=[
        dict(tensors=[F('cx', [2]), dict(name='t', shape=[], type=BOOL, buffer=1)], ops=[], inputs=[0], outputs=[1]),
        dict(tensors=[F('bx', [2]), F('br', [2])], ops=[dict(code=1, inputs=[0], outputs=[1])], inputs=[0], outputs=[1])]))
np.save(os.path.join(out, 'x2.npy'), np.array([1, -2], np.float32))
