"""nnedge.pipeline: the audio pre-processing and score post-processing of
libnnedge (nnedge.h, "Pre/post-processing") on numpy arrays.

    from nnedge import pipeline
    mel = pipeline.logmel(pcm_int16.astype(np.float32))        # openWakeWord's mel
    idx, val = pipeline.topk(scores, 5)
    ww = pipeline.WakeWord('melspectrogram.onnx', 'embedding_model.onnx', ['hey_jarvis_v0.1.onnx'])
    for chunk in chunks_of_1280_int16_samples:
        print(ww.step(chunk))

Every function calls the C library (ctypes releases the GIL during calls).
"""
import ctypes

import numpy as np

from ._lib import Model, NnedgeError, check, lib

_P = ctypes.c_void_p
_f32p = ctypes.POINTER(ctypes.c_float)
_i64p = ctypes.POINTER(ctypes.c_int64)


class _LogmelParams(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ('sample_rate', 'n_fft', 'win_length', 'hop_length', 'n_mels', 'htk',
                                               'slaney_norm', 'log')] + \
               [(n, ctypes.c_float) for n in ('fmin', 'fmax', 'power', 'amin', 'top_db', 'scale', 'offset')]


class _Hysteresis(ctypes.Structure):
    _fields_ = [('on', ctypes.c_float), ('off', ctypes.c_float), ('active', ctypes.c_int32), ('peak', ctypes.c_float),
                ('frame', ctypes.c_int64), ('start', ctypes.c_int64), ('hold', ctypes.c_int64)]


_proto = {
    'nne_audio_num_frames': (ctypes.c_int64, [ctypes.c_int64, ctypes.c_int32, ctypes.c_int32]),
    'nne_audio_frames': (ctypes.c_int, [_f32p, ctypes.c_int64, ctypes.c_int32, ctypes.c_int32, _f32p, _f32p,
                                        ctypes.c_int64, _i64p]),
    'nne_logmel_create': (ctypes.c_int, [ctypes.POINTER(_LogmelParams), ctypes.POINTER(_P)]),
    'nne_logmel_destroy': (None, [_P]),
    'nne_logmel_num_frames': (ctypes.c_int64, [_P, ctypes.c_int64]),
    'nne_logmel_filters': (_f32p, [_P]),
    'nne_logmel_run': (ctypes.c_int, [_P, _f32p, ctypes.c_int64, _f32p, ctypes.c_int64, _i64p]),
    'nne_wakeword_create': (ctypes.c_int, [_P, _P, ctypes.c_int32, ctypes.POINTER(_P), ctypes.c_int32,
                                           ctypes.POINTER(_P)]),
    'nne_wakeword_destroy': (None, [_P]),
    'nne_wakeword_num_scores': (ctypes.c_int32, [_P]),
    'nne_wakeword_score_head': (ctypes.c_int32, [_P, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32)]),
    'nne_wakeword_head_window': (ctypes.c_int32, [_P, ctypes.c_int32]),
    'nne_wakeword_reset': (ctypes.c_int, [_P]),
    'nne_wakeword_step': (ctypes.c_int, [_P, ctypes.POINTER(ctypes.c_int16), _f32p]),
    'nne_post_sigmoid': (None, [_f32p, ctypes.c_int64]),
    'nne_post_softmax': (ctypes.c_int, [_f32p, ctypes.c_int64, ctypes.c_int64, ctypes.c_float]),
    'nne_post_topk': (ctypes.c_int, [_f32p, ctypes.c_int64, ctypes.c_int32, _i64p, _f32p,
                                     ctypes.POINTER(ctypes.c_int32)]),
    'nne_hysteresis_init': (ctypes.c_int, [ctypes.POINTER(_Hysteresis), ctypes.c_float, ctypes.c_float]),
    'nne_hysteresis_update': (ctypes.c_int32, [ctypes.POINTER(_Hysteresis), ctypes.c_float]),
    'nne_post_fuse': (ctypes.c_int, [ctypes.c_int, ctypes.c_int32, ctypes.POINTER(_f32p), ctypes.c_int64, _f32p,
                                     _f32p]),
}
for _name, (_res, _args) in _proto.items():
    _fn = getattr(lib, _name)
    _fn.restype, _fn.argtypes = _res, _args

#: openWakeWord's melspectrogram model (nne_logmel_params_openwakeword)
OPENWAKEWORD_MEL = dict(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=32, htk=0,
                        slaney_norm=1, log=1, fmin=60.0, fmax=3800.0, power=2.0, amin=1e-10, top_db=80.0, scale=0.1,
                        offset=2.0)
FUSE_MODES = {'average': 0, 'weighted': 1, 'vote': 2, 'max': 3}


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def _ptr(a, t=_f32p):
    return a.ctypes.data_as(t)


class LogMel:
    """A log-mel transform (nne_logmel); params default to OPENWAKEWORD_MEL."""

    def __init__(self, **params):
        p = dict(OPENWAKEWORD_MEL)
        unknown = set(params) - set(p)
        if unknown:
            raise TypeError('LogMel: unknown parameters %s' % sorted(unknown))
        p.update(params)
        self.params = p
        c = _LogmelParams(**p)
        h = _P()
        check(lib.nne_logmel_create(ctypes.byref(c), ctypes.byref(h)), 'logmel')
        self.h = h

    def filters(self):
        nb = self.params['n_fft'] // 2 + 1
        f = lib.nne_logmel_filters(self.h)
        return np.ctypeslib.as_array(f, shape=(self.params['n_mels'], nb)).copy()

    def __call__(self, x):
        x = _f32(x).ravel()
        nf = lib.nne_logmel_num_frames(self.h, x.size)
        out = np.empty((max(nf, 0), self.params['n_mels']), np.float32)
        got = ctypes.c_int64()
        check(lib.nne_logmel_run(self.h, _ptr(x), x.size, _ptr(out), max(nf, 0), ctypes.byref(got)), 'logmel')
        return out[:got.value]

    def __del__(self):
        if getattr(self, 'h', None):
            lib.nne_logmel_destroy(self.h)
            self.h = None


def logmel(x, **params):
    """Log-mel spectrogram of x (frames, n_mels); see LogMel."""
    return LogMel(**params)(x)


def frames(x, frame_len, hop, window=None):
    """Frames of x, hop apart, each times window: (n_frames, frame_len)."""
    x = _f32(x).ravel()
    nf = lib.nne_audio_num_frames(x.size, frame_len, hop)
    if nf < 0:
        raise NnedgeError('frames: frame_len and hop must be >= 1')
    out = np.empty((nf, frame_len), np.float32)
    w = None if window is None else _f32(window)
    if w is not None and w.size != frame_len:
        raise ValueError('frames: the window has %d values, frame_len is %d' % (w.size, frame_len))
    got = ctypes.c_int64()
    check(lib.nne_audio_frames(_ptr(x), x.size, frame_len, hop, None if w is None else _ptr(w), _ptr(out), nf,
                               ctypes.byref(got)), 'frames')
    return out


def sigmoid(x):
    y = _f32(x).copy()
    lib.nne_post_sigmoid(_ptr(y), y.size)
    return y


def softmax(x, temperature=1.0):
    """Softmax over the last axis."""
    y = _f32(x).copy()
    cols = y.shape[-1] if y.ndim else 1
    check(lib.nne_post_softmax(_ptr(y), y.size // max(cols, 1), cols, temperature), 'softmax')
    return y


def topk(scores, k):
    """(indices, scores) of the k best, best first; ties to the lower index."""
    s = _f32(scores).ravel()
    idx = np.empty(max(k, 0), np.int64)
    val = np.empty(max(k, 0), np.float32)
    n = ctypes.c_int32()
    check(lib.nne_post_topk(_ptr(s), s.size, k, _ptr(idx, _i64p), _ptr(val), ctypes.byref(n)), 'topk')
    return idx[:n.value], val[:n.value]


def fuse(score_vectors, mode='average', weights=None):
    """Fuse equal-length score vectors: 'average', 'weighted', 'vote', 'max'."""
    vs = [_f32(v).ravel() for v in score_vectors]
    if not vs or any(v.size != vs[0].size for v in vs):
        raise ValueError('fuse: need score vectors of one length')
    arr = (_f32p * len(vs))(*[_ptr(v) for v in vs])
    w = None if weights is None else _f32(weights)
    out = np.empty(vs[0].size, np.float32)
    check(lib.nne_post_fuse(FUSE_MODES[mode], len(vs), arr, vs[0].size, None if w is None else _ptr(w), _ptr(out)),
          'fuse')
    return out


class Hysteresis:
    """Threshold with hysteresis: update(score) -> +1 (turns on), -1 (off), 0;
    once on, the state stays on for at least `hold` frames."""

    def __init__(self, on, off, hold=0):
        self.s = _Hysteresis()
        check(lib.nne_hysteresis_init(ctypes.byref(self.s), on, off), 'hysteresis')
        self.s.hold = int(hold)

    def update(self, score):
        return lib.nne_hysteresis_update(ctypes.byref(self.s), score)

    active = property(lambda self: bool(self.s.active))
    peak = property(lambda self: self.s.peak)
    start = property(lambda self: self.s.start)


class WakeWord:
    """openWakeWord's streaming pipeline (nne_wakeword): step(1280 int16
    samples at 16 kHz) -> the chunk's scores, one per head (or per class of a
    multi-class head)."""

    CHUNK = 1280

    def __init__(self, melspectrogram, embedding, heads, threads=1):
        self.models = [Model(melspectrogram), Model(embedding)] + [Model(h) for h in heads]
        hs = (_P * len(heads))(*[m.h for m in self.models[2:]])
        h = _P()
        check(lib.nne_wakeword_create(self.models[0].h, self.models[1].h, len(heads), hs, threads, ctypes.byref(h)),
              'wakeword')
        self.h = h
        self.num_scores = lib.nne_wakeword_num_scores(h)
        cls = ctypes.c_int32()
        self.score_heads = []
        for i in range(self.num_scores):
            head = lib.nne_wakeword_score_head(h, i, ctypes.byref(cls))
            self.score_heads.append((head, cls.value))

    def reset(self):
        check(lib.nne_wakeword_reset(self.h), 'wakeword reset')

    def step(self, chunk):
        c = np.ascontiguousarray(chunk, dtype=np.int16).ravel()
        if c.size != self.CHUNK:
            raise ValueError('WakeWord.step: need %d samples, got %d' % (self.CHUNK, c.size))
        out = np.empty(self.num_scores, np.float32)
        check(lib.nne_wakeword_step(self.h, _ptr(c, ctypes.POINTER(ctypes.c_int16)), _ptr(out)), 'wakeword step')
        return out

    def __del__(self):
        if getattr(self, 'h', None):
            lib.nne_wakeword_destroy(self.h)
            self.h = None
