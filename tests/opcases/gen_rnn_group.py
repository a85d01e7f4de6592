"""Generates test cases for the RNN/signal/ML/NMS op group (python3 stdlib only).

Usage: gen_rnn_group.py OUTDIR   -> OUTDIR/good/<case> (must PASS) and
OUTDIR/bad/<case> (must FAIL cleanly: an error message, no crash).
Expected outputs come from plain-Python reference implementations written from
the ONNX spec (loops, no numpy), independent of the C kernels.
"""
import cmath, math, os, random, statistics, struct, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnxgen import *

OUT = sys.argv[1].rstrip('/') + '/'

# ---------------------------------------------------------------- RNN/GRU/LSTM

def act(name, x, alpha, beta):
    n = name.lower()
    if n == 'sigmoid': return 1 / (1 + math.exp(-x)) if x > -500 else 0.0
    if n == 'tanh': return math.tanh(x)
    if n == 'relu': return max(0.0, x)
    if n == 'affine': return alpha * x + beta
    if n == 'leakyrelu': return x if x >= 0 else alpha * x
    if n == 'thresholdedrelu': return x if x >= alpha else 0.0
    if n == 'scaledtanh': return alpha * math.tanh(beta * x)
    if n == 'hardsigmoid': return min(max(alpha * x + beta, 0.0), 1.0)
    if n == 'elu': return x if x >= 0 else alpha * (math.exp(x) - 1)
    if n == 'softsign': return x / (1 + abs(x))
    if n == 'softplus': return math.log(1 + math.exp(x))
DEF = {'affine': (1.0, 0.0, 1, 1), 'leakyrelu': (0.01, 0, 1, 0), 'thresholdedrelu': (1.0, 0, 1, 0), 'scaledtanh': (1.0, 1.0, 1, 1),
       'hardsigmoid': (0.2, 0.5, 1, 1), 'elu': (1.0, 0, 1, 0)}

def rnd(n, s=1.0): return [random.uniform(-s, s) for _ in range(n)]

def ref(kind, X, W, R, B, lens, h0, c0, P, seq, batch, inp, hid, direction, layout, acts, alphas, betas, clip, input_forget, lbr):
    G = {'RNN': 1, 'GRU': 3, 'LSTM': 4}[kind]
    nact = {'RNN': 1, 'GRU': 2, 'LSTM': 3}[kind]
    nd = 2 if direction == 'bidirectional' else 1
    # resolve activations
    if acts is None: acts = {'RNN': ['Tanh'], 'GRU': ['Sigmoid', 'Tanh'], 'LSTM': ['Sigmoid', 'Tanh', 'Tanh']}[kind]
    if len(acts) == nact and nd == 2: acts = acts + acts
    ia = ib = 0; fa = []
    for a in acts:
        d = DEF.get(a.lower(), (0, 0, 0, 0)); al, be = d[0], d[1]
        if d[2] and alphas and ia < len(alphas): al = alphas[ia]; ia += 1
        if d[3] and betas and ib < len(betas): be = betas[ib]; ib += 1
        fa.append((a, al, be))
    def xval(t, b, i): return X[((b * seq + t) if layout else (t * batch + b)) * inp + i]
    def soff(d, b): return ((b * nd + d) if layout else (d * batch + b)) * hid
    def yoff(t, d, b): return (((b * seq + t) * nd + d) if layout else ((t * nd + d) * batch + b)) * hid
    Y = [0.0] * (seq * nd * batch * hid); Yh = [0.0] * (nd * batch * hid); Yc = [0.0] * (nd * batch * hid)
    def cl(v): return max(-clip, min(clip, v)) if clip is not None else v
    for d in range(nd):
        fwd = direction == 'forward' or (direction == 'bidirectional' and d == 0)
        f = fa[d * nact:(d + 1) * nact]
        def A(k, v): return act(f[k][0], cl(v), f[k][1], f[k][2])
        def Wm(g, j, i): return W[((d * G + g) * hid + j) * inp + i]
        def Rm(g, j, i): return R[((d * G + g) * hid + j) * hid + i]
        def Wb(g, j): return B[d * 2 * G * hid + g * hid + j] if B else 0.0
        def Rb(g, j): return B[d * 2 * G * hid + G * hid + g * hid + j] if B else 0.0
        for b in range(batch):
            L = lens[b] if lens else seq
            h = [h0[soff(d, b) + j] if h0 else 0.0 for j in range(hid)]
            c = [c0[soff(d, b) + j] if c0 else 0.0 for j in range(hid)]
            for s in range(L):
                t = s if fwd else L - 1 - s
                x = [xval(t, b, i) for i in range(inp)]
                def lin(g, j, hv, withrb=True):
                    return sum(Wm(g, j, i) * x[i] for i in range(inp)) + sum(Rm(g, j, i) * hv[i] for i in range(hid)) + Wb(g, j) + (Rb(g, j) if withrb else 0)
                if kind == 'RNN':
                    h = [A(0, lin(0, j, h)) for j in range(hid)]
                elif kind == 'GRU':
                    z = [A(0, lin(0, j, h)) for j in range(hid)]
                    r = [A(0, lin(1, j, h)) for j in range(hid)]
                    if lbr:
                        hh = [A(1, sum(Wm(2, j, i) * x[i] for i in range(inp)) + Wb(2, j) + r[j] * (sum(Rm(2, j, i) * h[i] for i in range(hid)) + Rb(2, j))) for j in range(hid)]
                    else:
                        rh = [r[i] * h[i] for i in range(hid)]
                        hh = [A(1, lin(2, j, rh)) for j in range(hid)]
                    h = [(1 - z[j]) * hh[j] + z[j] * h[j] for j in range(hid)]
                else:
                    Pi = [P[d * 3 * hid + j] if P else 0 for j in range(hid)]
                    Po = [P[d * 3 * hid + hid + j] if P else 0 for j in range(hid)]
                    Pf = [P[d * 3 * hid + 2 * hid + j] if P else 0 for j in range(hid)]
                    ig = [A(0, lin(0, j, h) + Pi[j] * c[j]) for j in range(hid)]
                    if input_forget: fg = [1 - ig[j] for j in range(hid)]
                    else: fg = [A(0, lin(2, j, h) + Pf[j] * c[j]) for j in range(hid)]
                    cg = [A(1, lin(3, j, h)) for j in range(hid)]
                    c = [fg[j] * c[j] + ig[j] * cg[j] for j in range(hid)]
                    og = [A(0, lin(1, j, h) + Po[j] * c[j]) for j in range(hid)]
                    h = [og[j] * act(f[2][0], c[j], f[2][1], f[2][2]) for j in range(hid)]
                for j in range(hid): Y[yoff(t, d, b) + j] = h[j]
            for j in range(hid): Yh[soff(d, b) + j] = h[j]; Yc[soff(d, b) + j] = c[j]
    return Y, Yh, Yc

def case(name, kind, seq=3, batch=2, inp=3, hid=4, direction='forward', layout=0, acts=None, alphas=None, betas=None,
         clip=None, input_forget=0, lbr=0, bias=True, lens=None, h0=False, c0=False, P=False, outs=(1, 1, 1), opset=22, dt=FLOAT):
    random.seed(sum((i + 1) * ord(c) for i, c in enumerate(name)))
    G = {'RNN': 1, 'GRU': 3, 'LSTM': 4}[kind]; nd = 2 if direction == 'bidirectional' else 1
    Xs = [batch, seq, inp] if layout else [seq, batch, inp]
    X = rnd(seq * batch * inp); W = rnd(nd * G * hid * inp, 0.7); R = rnd(nd * G * hid * hid, 0.7)
    Bv = rnd(nd * 2 * G * hid, 0.5) if bias else None
    H0 = rnd(nd * batch * hid) if h0 else None; C0 = rnd(nd * batch * hid) if c0 else None
    Pv = rnd(nd * 3 * hid, 0.5) if P else None
    if dt == FLOAT16:
        import struct
        rd = lambda l: None if l is None else [struct.unpack('<e', struct.pack('<e', v))[0] for v in l]
        X, W, R, Bv, H0, C0, Pv = map(rd, (X, W, R, Bv, H0, C0, Pv))
    Y, Yh, Yc = ref(kind, X, W, R, Bv, lens, H0, C0, Pv, seq, batch, inp, hid, direction, layout, acts, alphas, betas, clip, input_forget, lbr)
    sshape = [batch, nd, hid] if layout else [nd, batch, hid]
    ins = [('X', dt, Xs, X), ('W', dt, [nd, G * hid, inp], W), ('R', dt, [nd, G * hid, hid], R)]
    names = ['X', 'W', 'R']
    opt = [('B', Bv, [nd, 2 * G * hid], dt), ('sequence_lens', lens, [batch], INT32), ('initial_h', H0, sshape, dt)]
    if kind == 'LSTM': opt += [('initial_c', C0, sshape, dt), ('P', Pv, [nd, 3 * hid], dt)]
    for (n, v, sh, dt) in opt:
        if v is not None: ins.append((n, dt, sh, v)); names.append(n)
        else: names.append('')
    while names and names[-1] == '': names.pop()
    outv = [('Y', dt, [batch, seq, nd, hid] if layout else [seq, nd, batch, hid], Y), ('Y_h', dt, sshape, Yh), ('Y_c', dt, sshape, Yc)]
    nout = 3 if kind == 'LSTM' else 2
    onames = [outv[i][0] if outs[i] else '' for i in range(nout)]
    while onames and onames[-1] == '': onames.pop()
    attrs = dict(hidden_size=hid, direction=direction if direction != 'forward' else None, layout=layout if layout else None,
                 activations=acts, activation_alpha=alphas, activation_beta=betas, clip=clip,
                 input_forget=input_forget if kind == 'LSTM' and input_forget else None, linear_before_reset=lbr if kind == 'GRU' and lbr else None)
    nodes = [node(kind, names, onames, **attrs)]
    make_test(OUT + 'good/' + name, nodes, ins, [outv[i] for i in range(nout) if outs[i]], opsets={'': opset})

for kind in ['RNN', 'GRU', 'LSTM']:
    k = kind.lower()
    case(k + '_fwd', kind)
    case(k + '_rev', kind, direction='reverse', h0=True, c0=True)
    case(k + '_bidi', kind, direction='bidirectional', h0=True, c0=True, lens=[3, 1])
    case(k + '_bidi_layout1', kind, direction='bidirectional', layout=1, h0=True, c0=True, lens=[2, 3], batch=2, seq=3)
    case(k + '_lens', kind, lens=[1, 3, 0], batch=3, seq=3, direction='reverse')
    case(k + '_clip', kind, clip=0.4, seq=4)
    case(k + '_acts', kind, acts={'RNN': ['LeakyRelu'], 'GRU': ['HardSigmoid', 'Elu'], 'LSTM': ['HardSigmoid', 'ScaledTanh', 'Affine']}[kind],
         alphas={'RNN': [0.2], 'GRU': [0.3, 0.7], 'LSTM': [0.25, 1.5, 0.9]}[kind], betas={'RNN': None, 'GRU': [0.45], 'LSTM': [0.55, 0.8, 0.1]}[kind])
    case(k + '_acts2', kind, direction='bidirectional', acts={'RNN': ['Softsign', 'Softplus'], 'GRU': ['Sigmoid', 'Relu', 'Sigmoid', 'ThresholdedRelu'], 'LSTM': ['Sigmoid', 'Softsign', 'Softplus', 'Sigmoid', 'Tanh', 'Relu']}[kind], alphas=[0.1])
    case(k + '_big', kind, seq=5, batch=3, inp=13, hid=9, direction='bidirectional', h0=True, c0=True, P=True)
    case(k + '_onlyYh', kind, outs=(0, 1, 0), opset=7)
case('gru_lbr', 'GRU', lbr=1, h0=True)
case('gru_lbr_bidi', 'GRU', lbr=1, direction='bidirectional', lens=[2, 3], h0=True)
case('lstm_if', 'LSTM', input_forget=1, P=True, c0=True)
case('lstm_peep_bidi', 'LSTM', P=True, direction='bidirectional', c0=True, h0=True, lens=[3, 2])
case('lstm_onlyYc', 'LSTM', outs=(0, 0, 1))
case('lstm_nobias', 'LSTM', bias=False, seq=2)
case('lstm_zero_seq', 'LSTM', seq=0, h0=True, c0=True)

case('lstm_double', 'LSTM', dt=DOUBLE, direction='bidirectional', P=True, h0=True, c0=True, lens=[2, 3])
case('gru_f16', 'GRU', dt=FLOAT16, seq=2, hid=3)

# ------------------------------------------------------------- DFT / STFT
D = OUT + 'good/'
random.seed(5)
def prod(l):
    p = 1
    for v in l: p *= v
    return p
def dft_ref(x, shape, axis, N, inverse, onesided):
    r = len(shape); cin = shape[-1]
    outer = prod(shape[:axis]); inner = prod(shape[axis + 1:r - 1]); nin = shape[axis]
    nout = N // 2 + 1 if onesided and not inverse else N
    cout = 1 if onesided and inverse else 2
    out = [0.0] * (outer * nout * inner * cout)
    for o in range(outer):
        for i in range(inner):
            sig = []
            if onesided and inverse:
                X = [0j] * N
                for k in range(N // 2 + 1):
                    if k < nin: X[k] = complex(x[((o * nin + k) * inner + i) * 2], x[((o * nin + k) * inner + i) * 2 + 1])
                for k in range(N // 2 + 1, N): X[k] = X[N - k].conjugate()
                sig = X
            else:
                for k in range(N):
                    if k < nin:
                        b = ((o * nin + k) * inner + i) * cin
                        sig.append(complex(x[b], x[b + 1] if cin == 2 else 0))
                    else: sig.append(0j)
            s = 1 if inverse else -1
            res = [sum(sig[n] * cmath.exp(s * 2j * math.pi * k * n / N) for n in range(N)) / (N if inverse else 1) for k in range(N)]
            for k in range(nout):
                b = ((o * nout + k) * inner + i) * cout
                out[b] = res[k].real
                if cout == 2: out[b + 1] = res[k].imag
    oshape = list(shape); oshape[axis] = nout; oshape[-1] = cout
    return out, oshape
def dcase(name, shape, axis, N=None, inverse=0, onesided=0, opset=20, dt=FLOAT):
    x = [random.uniform(-1, 1) for _ in range(prod(shape))]
    nin = shape[axis]
    NN = N if N is not None else (2 * (nin - 1) if onesided and inverse else nin)
    y, ys = dft_ref(x, shape, axis if axis >= 0 else axis + len(shape), NN, inverse, onesided)
    ins = [('x', dt, shape, x)]
    names = ['x']
    if N is not None: ins.append(('n', INT64, [], [N])); names.append('n')
    else: names.append('')
    if opset >= 20:
        ins.append(('axis', INT64, [], [axis])); names.append('axis')
        nd = node('DFT', names, ['y'], inverse=inverse or None, onesided=onesided or None)
    else:
        while names[-1] == '': names.pop()
        nd = node('DFT', names, ['y'], axis=axis, inverse=inverse or None, onesided=onesided or None)
    make_test(D + name, [nd], ins, [('y', dt, ys, y)], opsets={'': opset})
dcase('dft_c_pad', [2, 5, 3, 2], 1, N=8)
dcase('dft_c_trunc', [2, 7, 3, 2], 2, N=2)
dcase('dft_r_axis0', [16, 3, 1], 0)
dcase('dft_r_neg', [2, 3, 12, 1], -2, onesided=1)
dcase('dft_inv_c', [3, 6, 2], 1, inverse=1)
dcase('dft_inv_pow2', [3, 32, 2], 1, inverse=1, dt=DOUBLE)
dcase('dft_irfft_odd', [2, 5, 2], 1, N=9, inverse=1, onesided=1)
dcase('dft_irfft_n', [2, 4, 3, 2], 1, N=4, inverse=1, onesided=1, opset=17)
dcase('dft_17_axis2', [2, 4, 6, 2], 2, N=6, opset=17)
dcase('dft_17_rfft', [2, 4, 7, 1], 2, onesided=1, opset=17)
# STFT
def stft_case(name, nb, L, step, flen=None, win=None, onesided=1, cin=1):
    x = [random.uniform(-1, 1) for _ in range(nb * L * cin)]
    F = flen if flen is not None else (len(win) if win else L)
    frames = 1 + (L - F) // step
    bins = F // 2 + 1 if onesided else F
    out = []
    for b in range(nb):
        for f in range(frames):
            sig = []
            for k in range(F):
                t = f * step + k
                w = win[k] if win and k < len(win) else (1.0 if not win else 0.0)
                if t < L:
                    v = complex(x[(b * L + t) * cin], x[(b * L + t) * cin + 1] if cin == 2 else 0)
                else: v = 0
                sig.append(w * v)
            for k in range(bins):
                r = sum(sig[n] * cmath.exp(-2j * math.pi * k * n / F) for n in range(F))
                out += [r.real, r.imag]
    ins = [('s', FLOAT, [nb, L, cin], x), ('st', INT64, [], [step])]
    names = ['s', 'st']
    if win: ins.append(('w', FLOAT, [len(win)], win)); names.append('w')
    else: names.append('')
    if flen is not None: ins.append(('fl', INT64, [], [flen])); names.append('fl')
    while names[-1] == '': names.pop()
    make_test(D + name, [node('STFT', names, ['y'], onesided=onesided)], ins, [('y', FLOAT, [nb, frames, bins, 2], out)], opsets={'': 17})
stft_case('stft_c', 2, 40, 5, flen=10, onesided=0, cin=2)
stft_case('stft_win', 1, 50, 7, win=[0.5 + 0.5 * math.cos(i) for i in range(12)])
stft_case('stft_win_fl', 2, 33, 4, flen=8, win=[random.random() for _ in range(8)], onesided=0)

# ------------------------------------------------------------- ai.onnx.ml
D = OUT + 'good/'
ML = {'': 22, 'ai.onnx.ml': 4}
nan = float('nan')
make_test(D + 'le_i2f', [node('LabelEncoder', ['x'], ['y'], domain='ai.onnx.ml', keys_int64s=[5, -3, 7, 5], values_floats=[1.5, 2.5, 3.5, 9.0], default_float=-7.0)],
          [('x', INT64, [2, 3], [5, -3, 7, 0, 1, 5])], [('y', FLOAT, [2, 3], [9.0, 2.5, 3.5, -7, -7, 9.0])], opsets=ML)
make_test(D + 'le_f2i', [node('LabelEncoder', ['x'], ['y'], domain='ai.onnx.ml', keys_floats=[0.5, nan, -1.0], values_int64s=[10, 20, 30])],
          [('x', FLOAT, [5], [0.5, nan, -1.0, 2.0, 0.5])], [('y', INT64, [5], [10, 20, 30, -1, 10])], opsets=ML)
make_test(D + 'le_tensor', [node('LabelEncoder', ['x'], ['y'], domain='ai.onnx.ml', keys_tensor=('tensor', INT32, [3], [1, 2, 3]), values_tensor=('tensor', INT16, [3], [-1, -2, -3]), default_tensor=('tensor', INT16, [1], [99]))],
          [('x', INT32, [4], [3, 2, 1, 0])], [('y', INT16, [4], [-3, -2, -1, 99])], opsets=ML)
make_test(D + 'le_opset2', [node('LabelEncoder', ['x'], ['y'], domain='ai.onnx.ml', keys_floats=[1.0, 2.0], values_floats=[10.0, 20.0])],
          [('x', FLOAT, [3], [1, 2, 3])], [('y', FLOAT, [3], [10, 20, -0.0])], opsets={'': 12, 'ai.onnx.ml': 2})
make_test(D + 'afe_1d', [node('ArrayFeatureExtractor', ['x', 'i'], ['y'], domain='ai.onnx.ml')],
          [('x', INT32, [5], [10, 11, 12, 13, 14]), ('i', INT64, [3], [4, 0, 4])], [('y', INT32, [1, 3], [14, 10, 14])], opsets=ML)
make_test(D + 'afe_3d', [node('ArrayFeatureExtractor', ['x', 'i'], ['y'], domain='ai.onnx.ml')],
          [('x', DOUBLE, [2, 2, 3], list(range(12))), ('i', INT64, [1, 2], [2, 1])], [('y', DOUBLE, [2, 2, 2], [2, 1, 5, 4, 8, 7, 11, 10])], opsets=ML)
make_test(D + 'bin_i64', [node('Binarizer', ['x'], ['y'], domain='ai.onnx.ml', threshold=2.0)],
          [('x', INT64, [4], [1, 2, 3, -5])], [('y', INT64, [4], [0, 0, 1, 0])], opsets=ML)
# tree ensemble: 2 trees, 2 targets, features 2
def te(name, agg, post, x, expect, miss=None, nt=2):
    make_test(D + name, [node('TreeEnsemble', ['x'], ['y'], domain='ai.onnx.ml', n_targets=nt, aggregate_function=agg, post_transform=post,
        tree_roots=[0, 2], nodes_modes=('tensor', UINT8, [3], [0, 3, 5]), nodes_featureids=[0, 1, 1],
        nodes_splits=('tensor', FLOAT, [3], [0.5, 0.0, 2.0]),
        nodes_truenodeids=[0, 2, 3], nodes_trueleafs=[1, 1, 1], nodes_falsenodeids=[1, 1, 4], nodes_falseleafs=[0, 1, 1],
        nodes_missing_value_tracks_true=miss,
        leaf_targetids=[0, 1, 0, 1, 0], leaf_weights=('tensor', FLOAT, [5], [1.0, 2.0, 3.0, 0.5, -1.0]))],
        [('x', FLOAT, [len(x) // 2, 2], x)], [('y', FLOAT, [len(x) // 2, nt], expect)], opsets={'': 22, 'ai.onnx.ml': 5})
# tree0: node0 x0<=0.5 ? leaf0(t0,1.0) : node1 (x1>0 ? leaf1(t1,2) : leaf2(t0,3)); tree1: node2 x1!=2 ? leaf3(t1,.5) : leaf4(t0,-1)
X = [0.0, 2.0, 1.0, 1.0, 1.0, -1.0, nan, nan]
# rows: r0: t0 1 ; tree1 x1=2 -> leaf4 t0 -1 => [0, 0]
# r1: x0=1 -> node1 x1=1>0 -> leaf1 t1 2 ; tree1 x1!=2 -> leaf3 t1 .5 => [0, 2.5]
# r2: x0=1 -> x1=-1 -> leaf2 t0 3 ; tree1 -> leaf3 t1 .5 => [3, .5]
# r3: nan: node0 false -> node1 nan>0 false -> leaf2 t0 3; tree1 nan!=2 True -> leaf3 .5 => [3, .5]
S = [0, 0, 3, .5, 0, 2.5, 0, 2.5]
te('te_sum', 1, 0, X, S)
te('te_avg', 0, 0, X, [a / 2 for a in S])
F = 3.4028234663852886e38
te('te_min', 2, 0, X, [-1, F, 3, .5, F, .5, F, .5])
te('te_max', 3, 0, X, [1, -F, 3, .5, -F, 2, -F, 2])
te('te_miss', 1, 0, X, [0, 0, 3, .5, 0, 2.5, 1, .5], miss=[1, 0, 0])
def sm(v):
    m = max(v); e = [math.exp(a - m) for a in v]; s = sum(e); return [a / s for a in e]
te('te_softmax', 1, 1, X, sm([0, 0]) + sm([3, .5]) + sm([0, 2.5]) + sm([0, 2.5]))
te('te_logistic', 1, 2, X, [1 / (1 + math.exp(-a)) for a in S])
te('te_softmax_zero', 1, 3, X, [0, 0] + sm([3, .5]) + [0, 1.0, 0, 1.0])
nd = statistics.NormalDist()
make_test(D + 'te_probit', [node('TreeEnsemble', ['x'], ['y'], domain='ai.onnx.ml', n_targets=1, post_transform=4,
        tree_roots=[0], nodes_modes=('tensor', UINT8, [1], [0]), nodes_featureids=[0], nodes_splits=('tensor', DOUBLE, [1], [0.5]),
        nodes_truenodeids=[0], nodes_trueleafs=[1], nodes_falsenodeids=[1], nodes_falseleafs=[1],
        leaf_targetids=[0, 0], leaf_weights=('tensor', DOUBLE, [2], [0.2, 0.975]))],
        [('x', DOUBLE, [3, 1], [0, 1, 0.5])], [('y', DOUBLE, [3, 1], [nd.inv_cdf(0.2), nd.inv_cdf(0.975), nd.inv_cdf(0.2)])], opsets={'': 22, 'ai.onnx.ml': 5})

# --------------------------------------------------------- invalid inputs
D = OUT + 'bad/'
make_test(D + 'lstm_badW', [node('LSTM', ['X', 'W', 'R'], ['Y'], hidden_size=3)], [('X', FLOAT, [2, 1, 2], [0] * 4), ('W', FLOAT, [1, 11, 2], [0] * 22), ('R', FLOAT, [1, 12, 3], [0] * 36)], [('Y', FLOAT, [1], [0])])
make_test(D + 'lstm_badlens', [node('LSTM', ['X', 'W', 'R', '', 'L'], ['Y'], hidden_size=3)], [('X', FLOAT, [2, 1, 2], [0] * 4), ('W', FLOAT, [1, 12, 2], [0] * 24), ('R', FLOAT, [1, 12, 3], [0] * 36), ('L', INT32, [1], [5])], [('Y', FLOAT, [1], [0])])
make_test(D + 'gru_badact', [node('GRU', ['X', 'W', 'R'], ['Y'], hidden_size=3, activations=['Foo', 'Tanh'])], [('X', FLOAT, [2, 1, 2], [0] * 4), ('W', FLOAT, [1, 9, 2], [0] * 18), ('R', FLOAT, [1, 9, 3], [0] * 27)], [('Y', FLOAT, [1], [0])])
make_test(D + 'nms_bad', [node('NonMaxSuppression', ['b', 's'], ['y'])], [('b', FLOAT, [1, 3, 4], [0] * 12), ('s', FLOAT, [1, 1, 2], [0] * 2)], [('y', INT64, [1], [0])])
make_test(D + 'dft_badaxis', [node('DFT', ['x', '', 'a'], ['y'])], [('x', FLOAT, [2, 3, 1], [0] * 6), ('a', INT64, [], [2])], [('y', FLOAT, [1], [0])], opsets={'': 20})
make_test(D + 'afe_badidx', [node('ArrayFeatureExtractor', ['x', 'i'], ['y'], domain='ai.onnx.ml')], [('x', FLOAT, [2, 3], [0] * 6), ('i', INT64, [1], [3])], [('y', FLOAT, [1], [0])], opsets={'': 22, 'ai.onnx.ml': 4})
make_test(D + 'te_badid', [node('TreeEnsemble', ['x'], ['y'], domain='ai.onnx.ml', n_targets=1, tree_roots=[0], nodes_modes=('tensor', UINT8, [1], [0]), nodes_featureids=[0], nodes_splits=('tensor', FLOAT, [1], [0.5]),
        nodes_truenodeids=[0], nodes_trueleafs=[1], nodes_falsenodeids=[5], nodes_falseleafs=[1], leaf_targetids=[0, 0], leaf_weights=('tensor', FLOAT, [2], [0.2, 0.9]))],
        [('x', FLOAT, [1, 1], [0])], [('y', FLOAT, [1], [0])], opsets={'': 22, 'ai.onnx.ml': 5})
make_test(D + 'te_cycle', [node('TreeEnsemble', ['x'], ['y'], domain='ai.onnx.ml', n_targets=1, tree_roots=[0], nodes_modes=('tensor', UINT8, [1], [0]), nodes_featureids=[0], nodes_splits=('tensor', FLOAT, [1], [0.5]),
        nodes_truenodeids=[0], nodes_trueleafs=[0], nodes_falsenodeids=[0], nodes_falseleafs=[0], leaf_targetids=[0], leaf_weights=('tensor', FLOAT, [1], [0.2]))],
        [('x', FLOAT, [1, 1], [0])], [('y', FLOAT, [1], [0])], opsets={'': 22, 'ai.onnx.ml': 5})
make_test(D + 'te_member_missing', [node('TreeEnsemble', ['x'], ['y'], domain='ai.onnx.ml', n_targets=1, tree_roots=[0], nodes_modes=('tensor', UINT8, [1], [6]), nodes_featureids=[0], nodes_splits=('tensor', FLOAT, [1], [0.5]),
        nodes_truenodeids=[0], nodes_trueleafs=[1], nodes_falsenodeids=[0], nodes_falseleafs=[1], leaf_targetids=[0], leaf_weights=('tensor', FLOAT, [1], [0.2]))],
        [('x', FLOAT, [1, 1], [0])], [('y', FLOAT, [1], [0])], opsets={'': 22, 'ai.onnx.ml': 5})
make_test(D + 'mel_bad', [node('MelWeightMatrix', ['a', 'b', 'c', 'd', 'e'], ['y'])], [('a', INT32, [], [8]), ('b', INT32, [], [16]), ('c', INT32, [], [0]), ('d', FLOAT, [], [0]), ('e', FLOAT, [], [1e30])], [('y', FLOAT, [1], [0])], opsets={'': 17})
make_test(D + 'mel_huge', [node('MelWeightMatrix', ['a', 'b', 'c', 'd', 'e'], ['y'])], [('a', INT32, [], [8]), ('b', INT32, [], [16]), ('c', INT32, [], [100]), ('d', FLOAT, [], [-1e30]), ('e', FLOAT, [], [1e30])], [('y', FLOAT, [1], [0])], opsets={'': 17})
make_test(D + 'stft_badstep', [node('STFT', ['s', 'st'], ['y'])], [('s', FLOAT, [1, 10, 1], [0] * 10), ('st', INT64, [], [0])], [('y', FLOAT, [1], [0])], opsets={'': 17})
make_test(D + 'adam_bad', [node('Adam', ['R', 'T', 'X', 'G', 'V'], ['X2'], domain='ai.onnx.preview.training')], [('R', FLOAT, [], [0.1]), ('T', INT64, [], [1]), ('X', FLOAT, [2], [0, 0]), ('G', FLOAT, [2], [0, 0]), ('V', FLOAT, [2], [0, 0])], [('X2', FLOAT, [1], [0])], opsets={'': 22, 'ai.onnx.preview.training': 1})

# ----------------------------------------------- TreeEnsembleRegressor (legacy)
def ter_ref(X, nf, nodes, votes, ntg, agg, base, post, miss):
    """nodes: list of (tree, id, feat, mode, value, true, false); votes: (tree, node, target, weight)."""
    byid = {(n[0], n[1]): n for n in nodes}
    trees = sorted(set(n[0] for n in nodes))
    out = []
    for r in range(len(X) // nf):
        x = X[r * nf:(r + 1) * nf]
        acc = [0.0] * ntg; has = [False] * ntg
        for t in trees:
            n = byid[(t, 0)]
            while n[3] != 'LEAF':
                v, s = x[n[2]], n[4]
                c = {'BRANCH_LEQ': v <= s, 'BRANCH_LT': v < s, 'BRANCH_GTE': v >= s, 'BRANCH_GT': v > s,
                     'BRANCH_EQ': v == s, 'BRANCH_NEQ': v != s}[n[3]]
                if v != v and miss and miss[nodes.index(n)]: c = True
                n = byid[(t, n[5] if c else n[6])]
            for (vt, vn, tg, w) in votes:
                if vt == t and vn == n[1]:
                    if agg in ('SUM', 'AVERAGE'): acc[tg] += w
                    elif not has[tg] or (w < acc[tg] if agg == 'MIN' else w > acc[tg]): acc[tg] = w
                    has[tg] = True
        if agg == 'AVERAGE': acc = [a / len(trees) for a in acc]
        if base: acc = [a + b for a, b in zip(acc, base)]
        if post == 'LOGISTIC': acc = [1 / (1 + math.exp(-a)) for a in acc]
        out += acc
    return out

def ter_case(name, agg='SUM', post='NONE', base=None, miss=None, dt=FLOAT, as_tensor=False):
    f32 = lambda v: struct.unpack('<f', struct.pack('<f', v))[0]
    # tree 0: 0: x0 <= 0.5 ? 1 : 2 ; 1: x1 < 0 ? 3 : 4 ; leaves 2,3,4. tree 1: 0: x2 != 1 ? 1 : 2 ; leaves 1, 2
    nodes = [(1, 2, 0, 'LEAF', 0.0, 0, 0), (0, 3, 0, 'LEAF', 0.0, 0, 0), (0, 0, 0, 'BRANCH_LEQ', f32(0.5), 1, 2),
             (1, 0, 2, 'BRANCH_NEQ', f32(1.0), 1, 2), (0, 1, 1, 'BRANCH_LT', f32(0.0), 3, 4), (0, 4, 0, 'LEAF', 0.0, 0, 0),
             (0, 2, 0, 'LEAF', 0.0, 0, 0), (1, 1, 0, 'LEAF', 0.0, 0, 0)]
    votes = [(0, 2, 0, 1.5), (0, 3, 1, -2.0), (0, 3, 0, 0.25), (0, 4, 1, 4.0), (1, 1, 0, 0.5), (1, 2, 1, 3.0), (1, 2, 0, -1.0)]
    votes = [(a, b, c, f32(w)) for (a, b, c, w) in votes]
    X = [0.2, -1, 1, 0.7, -2, 0, 0.9, 3, 1, float('nan'), float('nan'), float('nan'), 0.5, 0, 2]
    if dt == INT64: X = [0, -1, 1, 1, -2, 0, 1, 3, 1, 2, 0, 1, 0, 1, 1]
    Y = ter_ref(X, 3, nodes, votes, 2, agg, base, post, miss)
    attrs = dict(nodes_treeids=[n[0] for n in nodes], nodes_nodeids=[n[1] for n in nodes], nodes_featureids=[n[2] for n in nodes],
                 nodes_modes=[n[3] for n in nodes], nodes_truenodeids=[n[5] for n in nodes], nodes_falsenodeids=[n[6] for n in nodes],
                 target_treeids=[v[0] for v in votes], target_nodeids=[v[1] for v in votes], target_ids=[v[2] for v in votes],
                 n_targets=2, aggregate_function=agg, post_transform=post, nodes_missing_value_tracks_true=miss)
    if as_tensor:
        attrs['nodes_values_as_tensor'] = ('tensor', DOUBLE, [len(nodes)], [n[4] for n in nodes])
        attrs['target_weights_as_tensor'] = ('tensor', DOUBLE, [len(votes)], [v[3] for v in votes])
        if base: attrs['base_values_as_tensor'] = ('tensor', DOUBLE, [2], base)
    else:
        attrs['nodes_values'] = [n[4] for n in nodes]
        attrs['target_weights'] = [v[3] for v in votes]
        if base: attrs['base_values'] = base
    make_test(OUT + 'good/' + name, [node('TreeEnsembleRegressor', ['x'], ['y'], domain='ai.onnx.ml', **attrs)],
              [('x', dt, [5, 3], X)], [('y', FLOAT, [5, 2], Y)], opsets={'': 17, 'ai.onnx.ml': 3})

ter_case('ter_sum')
ter_case('ter_avg_base', agg='AVERAGE', base=[0.5, -0.25])
ter_case('ter_min', agg='MIN')
ter_case('ter_max_miss', agg='MAX', miss=[0, 0, 1, 0, 0, 0, 0, 0])
ter_case('ter_logistic_i64', post='LOGISTIC', dt=INT64)
ter_case('ter_tensor_double', agg='SUM', base=[1.0, 2.0], dt=DOUBLE, as_tensor=True)
