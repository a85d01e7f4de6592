"""Generates test cases for the quantized ops (python3 stdlib only).

Usage: gen_quant_group.py OUTDIR -> OUTDIR/good/q_<case> (must PASS).
ConvInteger and QLinearConv with the weights as initializers (their
zero-point-shifted int32 form is computed once per plan through the weight
cache), including two nodes sharing one weight initializer with different
zero points (the cache must keep them apart), and per-axis
QuantizeLinear/DequantizeLinear with initializer scales. Expected values come
from plain Python.
"""
import os, random, struct, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnxgen import *

OUT = sys.argv[1].rstrip('/') + '/'
GOOD = OUT + 'good/q_'
random.seed(11)


def f32(v): return struct.unpack('<f', struct.pack('<f', v))[0]


def conv_int(x, xz, w, wz, C, H, W, M, K):
    """Valid 2-D convolution, stride 1, of (x - xz) and (w - wz[m]); N = 1."""
    oh, ow = H - K + 1, W - K + 1
    y = []
    for m in range(M):
        for i in range(oh):
            for j in range(ow):
                s = 0
                for c in range(C):
                    for a in range(K):
                        for b in range(K):
                            s += (x[(c * H + i + a) * W + j + b] - xz) * (w[((m * C + c) * K + a) * K + b] - wz[m])
                y.append(s)
    return y, [1, M, oh, ow]


C, H, W, M, K = 2, 4, 5, 3, 3
x = [random.randrange(0, 256) for _ in range(C * H * W)]
w = [random.randrange(-128, 128) for _ in range(M * C * K * K)]

# ConvInteger twice on one weight initializer, with different zero points
wz1, wz2 = [3, -2, 0], [-5, 7, 1]
y1, od = conv_int(x, 10, w, wz1, C, H, W, M, K)
y2, _ = conv_int(x, 10, w, wz2, C, H, W, M, K)
make_test(GOOD + 'convinteger_shared_w',
          [node('ConvInteger', ['x', 'w', 'xz', 'wz1'], ['y1']), node('ConvInteger', ['x', 'w', 'xz', 'wz2'], ['y2'])],
          [('x', UINT8, [1, C, H, W], x)], [('y1', INT32, od, y1), ('y2', INT32, od, y2)], opsets={'': 10},
          initializers=[('w', INT8, [M, C, K, K], w), ('xz', UINT8, [], [10]), ('wz1', INT8, [M], wz1),
                        ('wz2', INT8, [M], wz2)])

# QLinearConv with initializer weights and per-channel w_scale
xs, ys, yz = 0.05, 0.75, 128
ws = [0.02, 0.031, 0.017]
yi, od = conv_int(x, 10, w, wz1, C, H, W, M, K)
sp = od[2] * od[3]
bias = [100, -250, 7]
yq = []
for m in range(M):
    mult = f32(f32(xs) * f32(ws[m]) / f32(ys))
    for k in range(sp):
        v = f32(f32(yi[m * sp + k] + bias[m]) * mult)
        v = round(v) + yz  # Python rounds half to even
        yq.append(min(255, max(0, v)))
make_test(GOOD + 'qlinearconv_init_w',
          [node('QLinearConv', ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], ['y'])],
          [('x', UINT8, [1, C, H, W], x)], [('y', UINT8, od, yq)], opsets={'': 10},
          initializers=[('xs', FLOAT, [], [xs]), ('xz', UINT8, [], [10]), ('w', INT8, [M, C, K, K], w),
                        ('ws', FLOAT, [M], ws), ('wz', INT8, [M], wz1), ('ys', FLOAT, [], [ys]),
                        ('yz', UINT8, [], [yz]), ('b', INT32, [M], bias)])

# per-axis QuantizeLinear -> DequantizeLinear with initializer scales (axis 1)
sc = [0.1, 0.25, 0.5]
zp = [0, 10, -3]
xf = [round(random.uniform(-20, 20), 3) for _ in range(2 * 3 * 4)]
q, d = [], []
for n in range(2):
    for c in range(3):
        for k in range(4):
            v = xf[(n * 3 + c) * 4 + k]
            qq = round(f32(f32(v) / f32(sc[c]))) + zp[c]
            qq = min(127, max(-128, qq))
            q.append(qq)
            d.append(f32((qq - zp[c]) * f32(sc[c])))
make_test(GOOD + 'qdq_per_axis',
          [node('QuantizeLinear', ['x', 's', 'z'], ['q'], axis=1), node('DequantizeLinear', ['q', 's', 'z'], ['d'], axis=1)],
          [('x', FLOAT, [2, 3, 4], xf)], [('q', INT8, [2, 3, 4], q), ('d', FLOAT, [2, 3, 4], d)], opsets={'': 13},
          initializers=[('s', FLOAT, [3], sc), ('z', INT8, [3], zp)])
