"""Generates test cases for the quantized ops (python3 stdlib only).

Usage: gen_quant_group.py OUTDIR -> OUTDIR/good/q_<case> (must PASS).
ConvInteger and QLinearConv with the weights as initializers (their
zero-point-shifted int32 form is computed once per plan through the weight
cache), including two nodes sharing one weight initializer with different
zero points (the cache must keep them apart), and per-axis
QuantizeLinear/DequantizeLinear with initializer scales; MatMulInteger and
QLinearMatMul with initializer B (shifted once; two nodes sharing B with other
zero points; one matrix per batch) and constant or per-run parameters; and
ConvTranspose in float16 with initializer weights (converted once). Expected
values come from plain Python.
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

# ---- MatMulInteger / QLinearMatMul with initializer B and constant zero points
# and scales: B - b_zero_point is computed once per plan (weight cache, keyed
# by the zero points too), constant parameters are expanded once; parameters
# given as graph inputs are expanded on every run.
def matmul_int(a, az, b, bz, batch_a, M, K, N, b_batched):
    """(a - az[row]) @ (b - bz[col]) per batch; az: one value per global A row,
    bz: one value per global B column (b_batched: B has one matrix per batch)."""
    y = []
    for t in range(batch_a):
        bo = t if b_batched else 0
        for m in range(M):
            for n in range(N):
                s = 0
                for k in range(K):
                    s += (a[(t * M + m) * K + k] - az[t * M + m]) * (b[(bo * K + k) * N + n] - bz[bo * N + n])
                y.append(s)
    return y


BT, M, K, N = 2, 3, 4, 5
a = [random.randrange(0, 256) for _ in range(BT * M * K)]
b = [random.randrange(-128, 128) for _ in range(K * N)]
bz1, bz2 = [random.randrange(-20, 20) for _ in range(N)], [random.randrange(-20, 20) for _ in range(N)]
az = 7
y1 = matmul_int(a, [az] * (BT * M), b, bz1, BT, M, K, N, False)
y2 = matmul_int(a, [az] * (BT * M), b, bz2, BT, M, K, N, False)
make_test(GOOD + 'matmulinteger_shared_b',
          [node('MatMulInteger', ['a', 'b', 'az', 'bz1'], ['y1']), node('MatMulInteger', ['a', 'b', 'az', 'bz2'], ['y2'])],
          [('a', UINT8, [BT, M, K], a)], [('y1', INT32, [BT, M, N], y1), ('y2', INT32, [BT, M, N], y2)],
          opsets={'': 10},
          initializers=[('b', INT8, [K, N], b), ('az', UINT8, [], [az]), ('bz1', INT8, [N], bz1), ('bz2', INT8, [N], bz2)])

# B with one matrix per batch (initializer), its zero points [BT, 1, N] (initializer);
# A's zero points per row [BT, M, 1] given as a graph input (expanded per run)
bb = [random.randrange(0, 256) for _ in range(BT * K * N)]
bbz = [random.randrange(0, 256) for _ in range(BT * N)]
aaz = [random.randrange(0, 256) for _ in range(BT * M)]
yb = matmul_int(a, aaz, bb, bbz, BT, M, K, N, True)
make_test(GOOD + 'matmulinteger_batched_b',
          [node('MatMulInteger', ['a', 'b', 'az', 'bz'], ['y'])],
          [('a', UINT8, [BT, M, K], a), ('az', UINT8, [BT, M, 1], aaz)], [('y', INT32, [BT, M, N], yb)],
          opsets={'': 10}, initializers=[('b', UINT8, [BT, K, N], bb), ('bz', UINT8, [BT, 1, N], bbz)])

# QLinearMatMul: B, its per-column scales and zero points, a's scale and zero
# point and y's zero point as initializers; y_scale a graph input
a2 = [random.randrange(0, 256) for _ in range(M * K)]
b2 = [random.randrange(0, 256) for _ in range(K * N)]
a_s, a_z = f32(0.02), 120
b_s = [f32(random.uniform(0.005, 0.03)) for _ in range(N)]
b_z = [random.randrange(100, 156) for _ in range(N)]
y_s, y_z = f32(0.05), 128
acc = matmul_int(a2, [a_z] * M, b2, b_z, 1, M, K, N, False)
yq = []
for m in range(M):
    for n in range(N):
        mult = f32(f32(a_s * b_s[n]) / y_s)
        v = round(acc[m * N + n] * mult) + y_z  # half to even, like the kernel
        yq.append(min(255, max(0, v)))
make_test(GOOD + 'qlinearmatmul_init_b',
          [node('QLinearMatMul', ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], ['y'])],
          [('a', UINT8, [M, K], a2), ('ys', FLOAT, [], [y_s])], [('y', UINT8, [M, N], yq)], opsets={'': 10},
          initializers=[('as', FLOAT, [], [a_s]), ('az', UINT8, [], [a_z]), ('b', UINT8, [K, N], b2),
                        ('bs', FLOAT, [N], b_s), ('bz', UINT8, [N], b_z), ('yz', UINT8, [], [y_z])])

# ---- ConvTranspose in float16 with initializer weights (converted to float
# once per model at plan): small integers, so every result is exact in float16
C2, M2, HI, KK, S = 2, 3, 3, 2, 2
xt = [random.randrange(-3, 4) for _ in range(C2 * HI * HI)]
wt = [random.randrange(-3, 4) for _ in range(C2 * M2 * KK * KK)]
bt = [random.randrange(-3, 4) for _ in range(M2)]
pads = [1, 0, 0, 1]  # h begin, w begin, h end, w end
full = S * (HI - 1) + KK
oh, ow = full - pads[0] - pads[2], full - pads[1] - pads[3]
yt = []
for m in range(M2):
    for i in range(oh):
        for j in range(ow):
            s_ = bt[m]
            for c in range(C2):
                for ih in range(HI):
                    for iw in range(HI):
                        kh, kw = i + pads[0] - ih * S, j + pads[1] - iw * S
                        if 0 <= kh < KK and 0 <= kw < KK:
                            s_ += xt[(c * HI + ih) * HI + iw] * wt[((c * M2 + m) * KK + kh) * KK + kw]
            yt.append(s_)
make_test(GOOD + 'convtranspose_f16_init_w',
          [node('ConvTranspose', ['x', 'w', 'b'], ['y'], strides=[S, S], pads=pads)],
          [('x', FLOAT16, [1, C2, HI, HI], xt)], [('y', FLOAT16, [1, M2, oh, ow], yt)], opsets={'': 11},
          initializers=[('w', FLOAT16, [C2, M2, KK, KK], wt), ('b', FLOAT16, [M2], bt)])
