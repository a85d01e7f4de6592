"""Generates Resize test cases (python3 stdlib only).

Usage: gen_resize_group.py OUTDIR -> OUTDIR/good/rs_<case> (must PASS).
Covers what the ONNX backend tests leave out: rank 3-5 tensors resized on
any subset of axes (including the leading ones, which the image fast path
does not take), shrinking and enlarging axes mixed, antialiased linear and
cubic downscales, exclude_outside, every coordinate_transformation_mode
(tf_crop_and_resize with coordinates outside the input) and nearest modes.
Expected values come from plain Python written from the operator's
definition (Operators.md, Resize-19): every output element is the sum over
the tensor product of its axes' taps, so nnedge's separable evaluation (one
axis at a time) is checked against the product form.
"""
import itertools, math, os, random, struct, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnxgen import *

OUT = sys.argv[1].rstrip('/') + '/'
random.seed(19)


def f32(v):
    return struct.unpack('<f', struct.pack('<f', v))[0]


def cubic_w(x, A):
    x = abs(x)
    if x <= 1: return ((A + 2) * x - (A + 3)) * x * x + 1
    if x < 2: return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
    return 0.0


def x_original(ct, x, n_in, n_out, scale, roi):
    out_f = n_in * scale  # the fractional output length, as the definition uses it
    if ct == 'half_pixel': return (x + 0.5) / scale - 0.5
    if ct == 'half_pixel_symmetric':
        adj = n_out / out_f
        return n_in / 2 * (1 - adj) + (x + 0.5) / scale - 0.5
    if ct == 'pytorch_half_pixel': return (x + 0.5) / scale - 0.5 if n_out > 1 else 0.0
    if ct == 'align_corners': return x * (n_in - 1) / (out_f - 1) if n_out > 1 else 0.0
    if ct == 'asymmetric': return x / scale
    r0, r1 = roi
    v = x * (r1 - r0) * (n_in - 1) / (out_f - 1) if n_out > 1 else (r1 - r0) * (n_in - 1) / 2
    return v + r0 * (n_in - 1)


def axis_taps(p, d, o):
    """[(index, weight)] for output coordinate o of axis d, or None when the
    coordinate lies outside the input (tf_crop_and_resize)."""
    n_in, n_out, scale = p['in'][d], p['out'][d], p['scale'][d]
    if n_in == n_out and scale == 1.0 and p['ct'] != 'tf_crop_and_resize':
        return [(o, 1.0)]
    x = x_original(p['ct'], o, n_in, n_out, scale, p['roi'][d])
    if p['ct'] == 'tf_crop_and_resize' and (x < 0 or x > n_in - 1):
        return None
    fl = math.floor(x)
    integral = x == fl
    ratio = 1.0 if integral else x - fl
    base = fl - 1 if integral else fl
    clamp = lambda i: min(max(i, 0), n_in - 1)
    if p['mode'] == 'nearest':
        nm = p['nearest_mode']
        if integral: i = fl
        elif nm == 'round_prefer_floor': i = base if ratio <= 0.5 else base + 1
        elif nm == 'round_prefer_ceil': i = base if ratio < 0.5 else base + 1
        elif nm == 'floor': i = base
        else: i = base + 1
        return [(clamp(i), 1.0)]
    aa = p['antialias'] and scale < 1.0
    s = min(scale, 1.0)
    if p['mode'] == 'linear':
        n = 2 - 2 * (math.floor(-1 / s) + 1) if aa else 2
    else:
        n = 2 - 2 * (math.floor(-2 / s) + 1) if aa else 4
    first = base - n // 2 + 1
    taps = []
    for t in range(n):
        i = first + t
        dist = i - x
        if p['mode'] == 'linear':
            w = max(0.0, 1 - abs(dist) * s) if aa else (1 - ratio if t == 0 else ratio)
        else:
            w = cubic_w(dist * s if aa else dist, p['a'])
        if p['exclude_outside'] and (i < 0 or i >= n_in): w = 0.0
        taps.append((clamp(i), w))
    if aa or p['exclude_outside']:
        tot = sum(w for _, w in taps)
        if tot != 0: taps = [(i, w / tot) for i, w in taps]
    return taps


def reference(p, xs):
    rank = len(p['in'])
    strides = [1] * rank
    for d in range(rank - 2, -1, -1): strides[d] = strides[d + 1] * p['in'][d + 1]
    per_axis = [[axis_taps(p, d, o) for o in range(p['out'][d])] for d in range(rank)]
    y = []
    for oc in itertools.product(*[range(n) for n in p['out']]):
        lists = [per_axis[d][oc[d]] for d in range(rank)]
        if any(l is None for l in lists):
            y.append(p['extrap'])
            continue
        acc = 0.0
        for combo in itertools.product(*lists):
            w, off = 1.0, 0
            for d, (i, wt) in enumerate(combo):
                w *= wt
                off += i * strides[d]
            acc += w * xs[off]
        y.append(acc)
    return y


def cost(p):
    """tap products the reference evaluates (to keep the cases small)."""
    c = 1
    for d in range(len(p['in'])):
        n = 1
        if p['in'][d] != p['out'][d] or p['ct'] == 'tf_crop_and_resize':
            s = min(p['out'][d] / p['in'][d], 1.0)
            n = 1 if p['mode'] == 'nearest' else (2 if p['mode'] == 'linear' else 4) * (math.ceil(1 / s) if p['antialias'] else 1) + 2
        c *= p['out'][d] * n
    return c


def make_case(k):
    rank = random.choice([3, 4, 4, 5])
    ins = [random.randint(1, 4 if rank == 5 else 6) for _ in range(rank)]
    outs = list(ins)
    resized = [d for d in range(rank) if random.random() < 0.6] or [random.randrange(rank)]
    for d in resized:
        # shrink by up to 4x or grow by up to 3x (antialiasing needs the former)
        outs[d] = max(1, random.choice([ins[d] // random.randint(2, 4), ins[d] * random.randint(2, 3),
                                        ins[d] + random.randint(-2, 3)]))
    mode = random.choice(['linear', 'linear', 'cubic', 'cubic', 'nearest'])
    ct = random.choice(['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric',
                        'tf_crop_and_resize'])
    if ct == 'pytorch_half_pixel':
        outs = [max(o, 2) if o != i else o for o, i in zip(outs, ins)]
    p = {'in': ins, 'out': outs, 'mode': mode, 'ct': ct, 'antialias': int(mode != 'nearest' and random.random() < 0.5),
         'exclude_outside': int(mode == 'cubic' and random.random() < 0.4), 'a': random.choice([-0.75, -0.5]),
         'nearest_mode': random.choice(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']),
         'extrap': 10.0}
    p['scale'] = [o / i for o, i in zip(outs, ins)]
    p['roi'] = []
    for d in range(rank):
        a, b = sorted(f32(random.uniform(-0.3, 1.3)) for _ in range(2))
        p['roi'].append((a, b) if ct == 'tf_crop_and_resize' else (0.0, 1.0))
    return p


written = 0
k = 0
while written < 40:
    k += 1
    p = make_case(k)
    if cost(p) > 150000 or all(i == o for i, o in zip(p['in'], p['out'])) and p['ct'] != 'tf_crop_and_resize':
        continue
    n = 1
    for d in p['in']: n *= d
    xs = [f32(random.uniform(-4, 4)) for _ in range(n)]
    y = reference(p, xs)
    rank = len(p['in'])
    attrs = {'mode': p['mode'], 'coordinate_transformation_mode': p['ct']}
    if p['mode'] == 'nearest':
        attrs['nearest_mode'] = p['nearest_mode']
    else:
        attrs['antialias'] = p['antialias']
    if p['mode'] == 'cubic':
        attrs['cubic_coeff_a'] = p['a']
        attrs['exclude_outside'] = p['exclude_outside']
    if p['ct'] == 'tf_crop_and_resize':
        attrs['extrapolation_value'] = p['extrap']
    inits = [('roi', FLOAT, [2 * rank], [r[0] for r in p['roi']] + [r[1] for r in p['roi']]),
             ('sizes', INT64, [rank], p['out'])]
    name = 'rs_%02d_%s_%s%s_r%d' % (written, p['mode'], p['ct'], '_aa' if attrs.get('antialias') else '', rank)
    make_test(OUT + 'good/' + name, [node('Resize', ['x', 'roi', '', 'sizes'], ['y'], **attrs)],
              [('x', FLOAT, p['in'], xs)], [('y', FLOAT, p['out'], y)], opsets={'': 19}, initializers=inits)
    written += 1
