"""Generates test cases for the element-wise op group (python3 stdlib only).

Usage: gen_elemwise_group.py OUTDIR -> OUTDIR/good/ew_<case> (must PASS) and
OUTDIR/bad/ew_<case> (must FAIL cleanly: an error message, no crash).
Covers what the ONNX backend tests leave out: old opsets (legacy
broadcast/axis attributes, Clip attributes, per-channel PRelu, Cast-1's string
`to`), integer edge cases (overflow wraps, division by zero gives 0, Python vs
C modulo, shifts past the width), broadcasting shapes that exercise every
iterator path (zero-size, scalar, interleaved broadcast axes), 3-way Where and
variadic ops with broadcasting. Expected values come from plain Python.
"""
import math, os, random, struct, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnxgen import *

OUT = sys.argv[1].rstrip('/') + '/'
GOOD, BAD = OUT + 'good/ew_', OUT + 'bad/ew_'
NAN, INF = float('nan'), float('inf')
I64MIN, I64MAX = -(1 << 63), (1 << 63) - 1
random.seed(7)


def numel(s):
    n = 1
    for d in s: n *= d
    return n


def bshape(*shapes):
    n = max(len(s) for s in shapes)
    out = []
    for i in range(n):
        ds = [s[i - (n - len(s))] if i >= n - len(s) else 1 for s in shapes]
        m = max([d for d in ds if d != 1] or [1])
        assert all(d in (1, m) for d in ds)
        out.append(m)
    return out


def bidx(shape, oshape, flat):
    """Flat index into `shape` of output element `flat` (numpy broadcasting)."""
    coords = []
    for d in reversed(oshape):
        coords.append(flat % d); flat //= d
    coords.reverse()
    off, r = len(oshape) - len(shape), 0
    for i, d in enumerate(shape):
        r = r * d + (coords[i + off] if d != 1 else 0)
    return r


def wrap(v, bits, signed=True):
    v &= (1 << bits) - 1
    if signed and v >= 1 << (bits - 1): v -= 1 << bits
    return v


def f32(v): return struct.unpack('<f', struct.pack('<f', v))[0]


def case(name, op, opset, ins, outs, bad=False, **attrs):
    """ins/outs: lists of (dtype, dims, values); None in ins = omitted optional input."""
    names = ['x%d' % i if t is not None else '' for i, t in enumerate(ins)]
    feed = [('x%d' % i, t[0], t[1], t[2]) for i, t in enumerate(ins) if t is not None]
    onames = ['y%d' % i for i in range(len(outs))]
    make_test((BAD if bad else GOOD) + name, [node(op, names, onames, **attrs)], feed,
              [(onames[i], t[0], t[1], t[2]) for i, t in enumerate(outs)], opsets={'': opset})


def binary(name, op, opset, dt, sa, va, sb, vb, f, odt=None, dtb=None, **attrs):
    so = bshape(sa, sb)
    vo = [f(va[bidx(sa, so, i)], vb[bidx(sb, so, i)]) for i in range(numel(so))]
    case(name, op, opset, [(dt, sa, va), (dtb or dt, sb, vb)], [(odt or dt, so, vo)], **attrs)


def tdiv(x, y):  # C division, truncating toward zero
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y > 0) else -q


# ------------------------------------------------------- integer semantics
a64 = [I64MIN, 5, -7, 7, I64MAX, -1]
b64 = [-1, 0, 2, -2, 1, 3]
binary('div_i64_edge', 'Div', 14, INT64, [6], a64, [6], b64, lambda x, y: 0 if y == 0 else wrap(tdiv(x, y), 64))
binary('add_i64_wrap', 'Add', 14, INT64, [6], a64, [6], b64, lambda x, y: wrap(x + y, 64))
binary('mul_i64_wrap', 'Mul', 14, INT64, [6], a64, [6], b64, lambda x, y: wrap(x * y, 64))
binary('sub_i8_wrap', 'Sub', 14, INT8, [4], [-128, 127, 0, 5], [1], [1], lambda x, y: wrap(x - y, 8))
binary('div_i32_min', 'Div', 14, INT32, [2], [-(1 << 31), 9], [2], [-1, 0], lambda x, y: 0 if y == 0 else wrap(tdiv(x, y), 32))
binary('div_u8_zero', 'Div', 14, UINT8, [3], [7, 8, 9], [3], [0, 3, 2], lambda x, y: 0 if y == 0 else x // y)
binary('mul_u16_wrap', 'Mul', 14, UINT16, [2], [300, 65535], [2], [300, 2], lambda x, y: (x * y) & 0xffff)
ma, mb = [-7, 7, -7, 7, 5, -3, I64MIN], [3, -3, -3, 3, 0, -1, -1]
binary('mod_i64_python', 'Mod', 13, INT64, [7], ma, [7], mb, lambda x, y: 0 if y == 0 else x % y)
binary('mod_i64_fmod', 'Mod', 13, INT64, [7], ma, [7], mb, lambda x, y: 0 if y == 0 else x - y * tdiv(x, y), fmod=1)
binary('mod_u32', 'Mod', 13, UINT32, [3], [7, 8, 4000000000], [3], [0, 3, 7], lambda x, y: 0 if y == 0 else x % y)
binary('mod_f32_python', 'Mod', 13, FLOAT, [4], [-7.5, 7.5, -7.5, 7.5], [4], [2.0, -2.0, -2.0, 2.0],
       lambda x, y: x - y * math.floor(x / y))
binary('mod_f64_fmod', 'Mod', 13, DOUBLE, [4], [-7.5, 7.5, -7.5, 7.5], [4], [2.0, -2.0, -2.0, 2.0], math.fmod, fmod=1)
binary('shl_u8_wide', 'BitShift', 11, UINT8, [4], [255, 1, 3, 128], [4], [1, 7, 8, 200],
       lambda x, y: (x << y) & 255 if y < 64 else 0, direction='LEFT')
binary('shr_u64_wide', 'BitShift', 11, UINT64, [3], [(1 << 64) - 1, 16, 5], [3], [63, 64, 1],
       lambda x, y: x >> y if y < 64 else 0, direction='RIGHT')
binary('band_i16_bcast', 'BitwiseAnd', 18, INT16, [2, 2], [-1, -2, 3, 4], [2], [0x0f0f, -16], lambda x, y: x & y)
binary('bxor_u64', 'BitwiseXor', 18, UINT64, [2], [(1 << 64) - 1, 5], [1], [(1 << 63) + 1], lambda x, y: x ^ y)
binary('pow_i64_negexp', 'Pow', 15, INT64, [6], [2, -1, -1, 1, 0, 3], [6], [-1, -3, -4, -5, -1, 41],
       lambda x, y: (1 if x == 1 else ((-1) ** (-y) if x == -1 else 0)) if y < 0 else wrap(x ** y, 64))
binary('pow_f32_i64', 'Pow', 15, FLOAT, [3], [2.0, 0.5, -3.0], [3], [3, -2, 3], lambda x, y: x ** y, dtb=INT64)
binary('pow_i32_f32', 'Pow', 15, INT32, [3], [2, 9, 3], [3], [0.5, 0.5, 2.0], lambda x, y: int(x ** y), dtb=FLOAT)
binary('pow_f64_u8', 'Pow', 15, DOUBLE, [2], [1.5, -2.0], [1], [3], lambda x, y: x ** y, dtb=UINT8)

# ----------------------------------------------- broadcasting: iterator paths
SHAPES = [([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([1], [2, 3]), ([], [2, 3]), ([2, 3], []),
          ([2, 3, 1, 5], [1, 3, 4, 1]), ([0, 3], [3]), ([2, 0], [1]), ([5, 1], [1, 5]),
          ([3, 1, 1], [1, 2, 2]), ([1, 1, 7], [7]), ([2, 2, 2, 2, 2], [2, 1, 2, 1, 2])]
for i, (sa, sb) in enumerate(SHAPES):
    va = [random.randint(-9, 9) for _ in range(numel(sa))]
    vb = [random.randint(-9, 9) for _ in range(numel(sb))]
    fa, fb = [float(v) for v in va], [float(v) for v in vb]
    binary('bcast%d_sub_f32' % i, 'Sub', 14, FLOAT, sa, fa, sb, fb, lambda x, y: x - y)
    binary('bcast%d_mul_i32' % i, 'Mul', 14, INT32, sa, va, sb, vb, lambda x, y: x * y)
    binary('bcast%d_gt_i32' % i, 'Greater', 13, INT32, sa, va, sb, vb, lambda x, y: x > y, odt=BOOL)
    binary('bcast%d_le_f32' % i, 'LessOrEqual', 16, FLOAT, sa, fa, sb, fb, lambda x, y: x <= y, odt=BOOL)
    binary('bcast%d_max_f64' % i, 'Max', 13, DOUBLE, sa, fa, sb, fb, max)
    binary('bcast%d_add_f16' % i, 'Add', 14, FLOAT16, sa, [v / 4 for v in fa], sb, [v / 4 for v in fb],
           lambda x, y: x + y)

# ------------------------------------------------- legacy broadcast (< 7)
va = [float(v) for v in range(24)]
case('legacy_add_axis1', 'Add', 6, [(FLOAT, [2, 3, 4], va), (FLOAT, [3], [100.0, 200.0, 300.0])],
     [(FLOAT, [2, 3, 4], [va[i] + [100.0, 200.0, 300.0][(i // 4) % 3] for i in range(24)])], broadcast=1, axis=1)
case('legacy_mul_suffix', 'Mul', 1, [(FLOAT, [2, 3, 4], va), (FLOAT, [3, 4], [float(v) for v in range(12)])],
     [(FLOAT, [2, 3, 4], [va[i] * (i % 12) for i in range(24)])], broadcast=1)
case('legacy_sub_one_elem', 'Sub', 6, [(FLOAT, [2, 3], va[:6]), (FLOAT, [1, 1], [1.0])],
     [(FLOAT, [2, 3], [v - 1 for v in va[:6]])], broadcast=1)
case('legacy_div_axis0', 'Div', 6, [(DOUBLE, [2, 3], va[:6]), (DOUBLE, [2], [1.0, 2.0])],
     [(DOUBLE, [2, 3], [0.0, 1.0, 2.0, 1.5, 2.0, 2.5])], broadcast=1, axis=0)
case('legacy_pow_axis', 'Pow', 1, [(FLOAT, [2, 2], [2.0, 3.0, 4.0, 5.0]), (FLOAT, [2], [2.0, 0.5])],
     [(FLOAT, [2, 2], [4.0, 9.0, 2.0, math.sqrt(5.0)])], broadcast=1, axis=0)
case('legacy_equal', 'Equal', 1, [(INT32, [2, 2], [1, 2, 3, 2]), (INT32, [2], [1, 2])],
     [(BOOL, [2, 2], [1, 1, 0, 1])], broadcast=1)
case('legacy_and_axis', 'And', 1, [(BOOL, [2, 2], [1, 1, 0, 1]), (BOOL, [2], [1, 0])],
     [(BOOL, [2, 2], [1, 1, 0, 0])], broadcast=1, axis=0)
case('legacy_same_shape', 'Add', 6, [(FLOAT, [2], [1.0, 2.0]), (FLOAT, [2], [3.0, 4.0])], [(FLOAT, [2], [4.0, 6.0])])

# ---------------------------------------------------------------- Clip
xs = [-5.0, -1.0, 0.0, 2.0, 9.0]
case('clip6_attrs', 'Clip', 6, [(FLOAT, [5], xs)], [(FLOAT, [5], [min(max(x, -1.5), 3.0) for x in xs])], min=-1.5, max=3.0)
case('clip1_min_only', 'Clip', 1, [(DOUBLE, [5], xs)], [(DOUBLE, [5], [max(x, 0.0) for x in xs])], min=0.0)
case('clip13_i64_max_only', 'Clip', 13, [(INT64, [5], [-5, -1, 0, 2, I64MAX]), None, (INT64, [], [1])],
     [(INT64, [5], [-5, -1, 0, 1, 1])])
case('clip13_u8', 'Clip', 13, [(UINT8, [4], [0, 10, 200, 255]), (UINT8, [], [5]), (UINT8, [], [250])],
     [(UINT8, [4], [5, 10, 200, 250])])
case('clip13_nan_minmax_swap', 'Clip', 13, [(FLOAT, [3], [NAN, -3.0, 3.0]), (FLOAT, [], [2.0]), (FLOAT, [], [1.0])],
     [(FLOAT, [3], [NAN, 1.0, 1.0])])

# ---------------------------------------------------------------- PRelu
xv = [float(v - 12) for v in range(24)]
sl = [0.1, 0.2, 0.3]
case('prelu6_per_channel', 'PRelu', 6, [(FLOAT, [2, 3, 2, 2], xv), (FLOAT, [3], sl)],
     [(FLOAT, [2, 3, 2, 2], [x if x >= 0 else x * sl[(i // 4) % 3] for i, x in enumerate(xv)])])
case('prelu1_scalar', 'PRelu', 1, [(FLOAT, [2, 2], [-1.0, 2.0, -3.0, 4.0]), (FLOAT, [1, 1], [0.5])],
     [(FLOAT, [2, 2], [-0.5, 2.0, -1.5, 4.0])])
case('prelu9_i32', 'PRelu', 9, [(INT32, [4], [-3, 4, -5, 0]), (INT32, [1], [2])], [(INT32, [4], [-6, 4, -10, 0])])
case('prelu16_bcast', 'PRelu', 16, [(FLOAT, [2, 3], [-1.0, -2.0, -3.0, 1.0, 2.0, -4.0]), (FLOAT, [2, 1], [0.5, 2.0])],
     [(FLOAT, [2, 3], [-0.5, -1.0, -1.5, 1.0, 2.0, -8.0])])

# ---------------------------------------------------------------- Cast
case('cast1_string_to', 'Cast', 1, [(FLOAT, [3], [1.7, -2.5, 3.0])], [(INT32, [3], [1, -2, 3])], to='INT32')
case('cast6_f64_to_f16', 'Cast', 6, [(DOUBLE, [3], [1.0, 65504.0, 1e6])], [(FLOAT16, [3], [1.0, 65504.0, INF])], to=FLOAT16)
case('cast_f32_i8_oor', 'Cast', 13, [(FLOAT, [4], [300.0, -1.0, NAN, -3.9])], [(INT8, [4], [wrap(300, 8), -1, 0, -3])], to=INT8)
case('cast_f64_u64', 'Cast', 13, [(DOUBLE, [3], [1.5e19, 3.9, 0.0])], [(UINT64, [3], [15000000000000000000, 3, 0])], to=UINT64)
case('cast_i64_bool', 'Cast', 13, [(INT64, [3], [0, 256, -1])], [(BOOL, [3], [0, 1, 1])], to=BOOL)
case('cast_f32_bool_nan', 'Cast', 13, [(FLOAT, [3], [0.0, -0.0, NAN])], [(BOOL, [3], [0, 0, 1])], to=BOOL)
case('cast_i16_i8_wrap', 'Cast', 13, [(INT16, [3], [200, -129, 5])], [(INT8, [3], [-56, 127, 5])], to=INT8)
case('cast_i8_u32', 'Cast', 13, [(INT8, [2], [-1, 7])], [(UINT32, [2], [0xffffffff, 7])], to=UINT32)
case('cast_u64_f64', 'Cast', 13, [(UINT64, [2], [(1 << 64) - 1, 5])], [(DOUBLE, [2], [float(1 << 64), 5.0])], to=DOUBLE)
case('cast_bool_f16', 'Cast', 13, [(BOOL, [2], [1, 0])], [(FLOAT16, [2], [1.0, 0.0])], to=FLOAT16)
case('cast_same', 'Cast', 19, [(INT32, [2], [3, 4])], [(INT32, [2], [3, 4])], to=INT32)
case('castlike_i32_f64', 'CastLike', 15, [(INT32, [2], [-3, 4]), (DOUBLE, [1], [0.0])], [(DOUBLE, [2], [-3.0, 4.0])])

# ----------------------------------------------------- Where and variadic
c3, X3, Y3 = [1, 0, 1], [1.0, 2.0], [5.0, 6.0, 7.0]
case('where_3way', 'Where', 16, [(BOOL, [1, 3], c3), (FLOAT, [2, 1], X3), (FLOAT, [3], Y3)],
     [(FLOAT, [2, 3], [X3[i // 3] if c3[i % 3] else Y3[i % 3] for i in range(6)])])
case('where_i64_scalar', 'Where', 16, [(BOOL, [2, 2], [1, 0, 0, 1]), (INT64, [], [7]), (INT64, [2, 2], [1, 2, 3, 4])],
     [(INT64, [2, 2], [7, 2, 3, 7])])
case('where_bool_vals', 'Where', 9, [(BOOL, [3], [1, 0, 1]), (BOOL, [3], [0, 0, 0]), (BOOL, [1], [1])],
     [(BOOL, [3], [0, 1, 0])])
case('where_empty', 'Where', 16, [(BOOL, [0, 2], []), (FLOAT, [2], [1.0, 2.0]), (FLOAT, [1], [0.0])], [(FLOAT, [0, 2], [])])
case('sum3_bcast', 'Sum', 13, [(FLOAT, [2, 1], [1.0, 2.0]), (FLOAT, [3], [10.0, 20.0, 30.0]), (FLOAT, [], [100.0])],
     [(FLOAT, [2, 3], [111.0, 121.0, 131.0, 112.0, 122.0, 132.0])])
case('sum1_identity', 'Sum', 8, [(DOUBLE, [2], [1.5, 2.5])], [(DOUBLE, [2], [1.5, 2.5])])
case('sum6_same_shape', 'Sum', 6, [(FLOAT, [2], [1.0, 2.0]), (FLOAT, [2], [3.0, 4.0])], [(FLOAT, [2], [4.0, 6.0])])
case('mean3_f64', 'Mean', 13, [(DOUBLE, [2], [1.0, 2.0]), (DOUBLE, [2], [3.0, 4.0]), (DOUBLE, [1], [5.0])],
     [(DOUBLE, [2], [3.0, 11 / 3])])
case('max_nan', 'Max', 13, [(FLOAT, [3], [1.0, NAN, 3.0]), (FLOAT, [3], [2.0, 1.0, NAN])], [(FLOAT, [3], [2.0, NAN, NAN])])
case('min4_u64', 'Min', 13, [(UINT64, [2], [5, (1 << 64) - 1]), (UINT64, [1], [7]), (UINT64, [2], [9, 1 << 63]), (UINT64, [], [6])],
     [(UINT64, [2], [5, 6])])
case('max1_i8', 'Max', 13, [(INT8, [3], [1, -2, 3])], [(INT8, [3], [1, -2, 3])])

# ---------------------------------------------------------------- unary
case('abs_i8_min', 'Abs', 13, [(INT8, [3], [-128, -5, 5])], [(INT8, [3], [-128, 5, 5])])
case('neg_i64_min', 'Neg', 13, [(INT64, [2], [I64MIN, 5])], [(INT64, [2], [I64MIN, -5])])
case('relu_i32', 'Relu', 14, [(INT32, [3], [-1, 0, 5])], [(INT32, [3], [0, 0, 5])])
case('relu_f32_special', 'Relu', 14, [(FLOAT, [3], [-INF, NAN, 2.0])], [(FLOAT, [3], [0.0, NAN, 2.0])])
case('sign_u8', 'Sign', 13, [(UINT8, [3], [0, 1, 200])], [(UINT8, [3], [0, 1, 1])])
case('sign_f32', 'Sign', 13, [(FLOAT, [4], [-2.5, 0.0, 3.0, NAN])], [(FLOAT, [4], [-1.0, 0.0, 1.0, NAN])])
case('round_half_even', 'Round', 11, [(FLOAT, [7], [0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6])],
     [(FLOAT, [7], [0.0, 2.0, 2.0, -0.0, -2.0, 2.0, -3.0])])
case('bitnot_u16', 'BitwiseNot', 18, [(UINT16, [2], [0, 0xff00])], [(UINT16, [2], [0xffff, 0x00ff])])
case('bitnot_i32', 'BitwiseNot', 18, [(INT32, [2], [0, -5])], [(INT32, [2], [-1, 4])])
case('shrink_i32', 'Shrink', 9, [(INT32, [4], [-5, 0, 1, 5])], [(INT32, [4], [-3, 0, 0, 3])], lambd=1.5, bias=2.0)
case('isinf_neg_only', 'IsInf', 20, [(DOUBLE, [3], [INF, -INF, 1.0])], [(BOOL, [3], [0, 1, 0])], detect_positive=0)
case('isnan_f16', 'IsNaN', 20, [(FLOAT16, [2], [NAN, 1.0])], [(BOOL, [2], [1, 0])])
case('exp_empty', 'Exp', 13, [(FLOAT, [0, 3], [])], [(FLOAT, [0, 3], [])])
case('erf_i32', 'Erf', 13, [(INT32, [3], [-3, 0, 3])], [(INT32, [3], [0, 0, 0])])
case('not_scalar', 'Not', 1, [(BOOL, [], [1])], [(BOOL, [], [0])])
case('selu1_defaults', 'Selu', 1, [(FLOAT, [2], [-1.0, 1.0])],
     [(FLOAT, [2], [f32(1.0507) * f32(1.6732) * (math.exp(-1) - 1), f32(1.0507)])])
case('elu6_f64', 'Elu', 6, [(DOUBLE, [2], [-1.0, 2.0])], [(DOUBLE, [2], [0.5 * (math.exp(-1) - 1), 2.0])], alpha=0.5)
case('hardsigmoid_f16', 'HardSigmoid', 6, [(FLOAT16, [3], [-10.0, 0.0, 10.0])], [(FLOAT16, [3], [0.0, 0.5, 1.0])])
case('leakyrelu1', 'LeakyRelu', 1, [(FLOAT, [2], [-10.0, 3.0])], [(FLOAT, [2], [-0.1, 3.0])])
case('thresholdedrelu_f64', 'ThresholdedRelu', 10, [(DOUBLE, [3], [0.5, 1.0, 1.5])], [(DOUBLE, [3], [0.0, 0.0, 1.5])])
case('softplus_large', 'Softplus', 1, [(FLOAT, [3], [100.0, -100.0, 0.0])], [(FLOAT, [3], [100.0, math.exp(-100), math.log(2)])])
case('sigmoid_f64_large', 'Sigmoid', 13, [(DOUBLE, [2], [-800.0, 800.0])], [(DOUBLE, [2], [0.0, 1.0])])
case('swish_alpha', 'Swish', 24, [(FLOAT, [2], [1.0, -2.0])],
     [(FLOAT, [2], [1 / (1 + math.exp(-2.0)), -2.0 / (1 + math.exp(4.0))])], alpha=2.0)
case('gelu_tanh_f64', 'Gelu', 20, [(DOUBLE, [2], [1.0, -0.5])],
     [(DOUBLE, [2], [0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))) for x in [1.0, -0.5]])],
     approximate='tanh')

# ---------------------------------------------------- bad inputs (must fail)
case('add_shape_mismatch', 'Add', 14, [(FLOAT, [2, 3], [0.0] * 6), (FLOAT, [4], [0.0] * 4)], [(FLOAT, [1], [0.0])], bad=True)
case('add_dtype_mismatch', 'Add', 14, [(FLOAT, [2], [0.0] * 2), (INT32, [2], [0] * 2)], [(FLOAT, [2], [0.0] * 2)], bad=True)
case('shift_bad_direction', 'BitShift', 11, [(UINT8, [1], [1]), (UINT8, [1], [1])], [(UINT8, [1], [0])], bad=True, direction='UP')
case('shift_signed', 'BitShift', 11, [(INT8, [1], [1]), (INT8, [1], [1])], [(INT8, [1], [0])], bad=True, direction='LEFT')
case('mod_bad_fmod', 'Mod', 13, [(INT32, [1], [1]), (INT32, [1], [1])], [(INT32, [1], [0])], bad=True, fmod=2)
case('gelu_bad_approx', 'Gelu', 20, [(FLOAT, [1], [1.0])], [(FLOAT, [1], [0.0])], bad=True, approximate='fast')
case('clip_vector_min', 'Clip', 13, [(FLOAT, [2], [1.0, 2.0]), (FLOAT, [2], [0.0, 0.0])], [(FLOAT, [2], [0.0] * 2)], bad=True)
case('cast_to_string', 'Cast', 13, [(FLOAT, [1], [1.0])], [(FLOAT, [1], [1.0])], bad=True, to=8)
case('cast_to_float8', 'Cast', 19, [(FLOAT, [1], [1.0])], [(FLOAT, [1], [1.0])], bad=True, to=17)
case('cast_to_unknown', 'Cast', 13, [(FLOAT, [1], [1.0])], [(FLOAT, [1], [1.0])], bad=True, to=99)
case('cast1_bad_name', 'Cast', 1, [(FLOAT, [1], [1.0])], [(FLOAT, [1], [1.0])], bad=True, to='FLOAT99')
case('prelu_bad_slope', 'PRelu', 16, [(FLOAT, [2, 3], [0.0] * 6), (FLOAT, [4], [0.0] * 4)], [(FLOAT, [2, 3], [0.0] * 6)], bad=True)
case('prelu_slope_grows', 'PRelu', 16, [(FLOAT, [3], [0.0] * 3), (FLOAT, [2, 3], [0.0] * 6)], [(FLOAT, [2, 3], [0.0] * 6)], bad=True)
case('legacy_bad_axis', 'Add', 6, [(FLOAT, [2, 3], [0.0] * 6), (FLOAT, [3], [0.0] * 3)], [(FLOAT, [2, 3], [0.0] * 6)],
     bad=True, broadcast=1, axis=0)
case('legacy_axis_past_rank', 'Add', 6, [(FLOAT, [2, 3], [0.0] * 6), (FLOAT, [3], [0.0] * 3)], [(FLOAT, [2, 3], [0.0] * 6)],
     bad=True, broadcast=1, axis=2)
case('where_int_cond', 'Where', 16, [(INT32, [2], [1, 0]), (FLOAT, [2], [1.0, 2.0]), (FLOAT, [2], [3.0, 4.0])],
     [(FLOAT, [2], [0.0] * 2)], bad=True)
case('sqrt_int', 'Sqrt', 13, [(INT32, [2], [4, 9])], [(INT32, [2], [2, 3])], bad=True)
case('not_float', 'Not', 1, [(FLOAT, [1], [1.0])], [(FLOAT, [1], [0.0])], bad=True)
case('celu_zero_alpha', 'Celu', 12, [(FLOAT, [1], [1.0])], [(FLOAT, [1], [1.0])], bad=True, alpha=0.0)
case('sum_mismatch', 'Sum', 13, [(FLOAT, [2], [0.0] * 2), (FLOAT, [3], [0.0] * 3)], [(FLOAT, [2], [0.0] * 2)], bad=True)
case('mean_int', 'Mean', 13, [(INT32, [2], [1, 2]), (INT32, [2], [3, 4])], [(INT32, [2], [2, 3])], bad=True)
