#!/usr/bin/env python3
"""The audio and post-processing C API (through nnedge.pipeline) against
numpy references written here:

  1. log-mel: librosa's formulas in numpy (rfft, Slaney/HTK mel filters,
     power_to_db) on noise, a chirp and speech, for openWakeWord's parameters
     and others (n_fft not a power of two, HTK without norm, magnitude, no
     log, no top_db): within 1e-4 (absolute on dB values, relative on
     energies);
  2. openWakeWord's parameters against the shipped melspectrogram.onnx
     computed in numpy from its own weights (its STFT conv kernels and melW):
     within 1e-4, so nne_logmel_params_openwakeword() is that model;
  3. framing, sigmoid, softmax, top-k, hysteresis, fusion against numpy;
  4. WakeWord from Python gives the CLI's per-frame scores (--frames).

usage: test_pipeline.py MODELS_DIR SPEECH_DIR NNEDGE
"""
import csv
import glob
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
import onnx
from onnx import numpy_helper

from nnedge import pipeline

models, speech, nnedge = sys.argv[1:4]
fails = []


def expect(cond, msg):
    if not cond:
        fails.append(msg)
        print('FAIL ' + msg)


# ---------------------------------------------------------------- references
def hz_to_mel(f, htk):
    f = np.asarray(f, np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m, htk):
    m = np.asarray(m, np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    fft_f = np.arange(n_fft // 2 + 1) * sr / n_fft
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_f[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0, np.minimum(lower, upper))
    if norm:
        w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w


def ref_logmel(x, p):
    x = np.asarray(x, np.float64)
    n_fft, hop, wl = p['n_fft'], p['hop_length'], p['win_length']
    win = np.zeros(n_fft)
    off = (n_fft - wl) // 2
    win[off:off + wl] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(wl) / wl)
    nf = (len(x) - n_fft) // hop + 1 if len(x) >= n_fft else 0
    fr = np.stack([x[i * hop:i * hop + n_fft] * win for i in range(nf)]) if nf else np.zeros((0, n_fft))
    spec = np.abs(np.fft.rfft(fr, axis=1)) ** p['power']
    fb = mel_filters(p['sample_rate'], n_fft, p['n_mels'], p['fmin'], p['fmax'], p['htk'], p['slaney_norm'])
    mel = spec @ fb.T
    if p['log']:
        mel = 10.0 * np.log10(np.maximum(mel, p['amin']))
        if p['top_db'] > 0 and mel.size:
            mel = np.maximum(mel, mel.max() - p['top_db'])
    return mel * p['scale'] + p['offset']


def onnx_melspectrogram(x, path):
    """openWakeWord's melspectrogram.onnx, its graph written in numpy."""
    m = onnx.load(path)
    w = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in m.graph.initializer}
    re, im = w['0.stft.conv_real.weight'][:, 0, :], w['0.stft.conv_imag.weight'][:, 0, :]
    x = np.asarray(x, np.float64)
    nf = (len(x) - 512) // 160 + 1
    fr = np.stack([x[i * 160:i * 160 + 512] for i in range(nf)])
    power = (fr @ re.T) ** 2 + (fr @ im.T) ** 2
    db = 10.0 * np.log10(np.clip(power @ w['1.melW'], 1e-10, None))
    db = np.maximum(db, db.max() - 80.0)
    return db / 10.0 + 2.0  # openWakeWord's transform of the model's output


rng = np.random.default_rng(12)
signals = {
    'noise': rng.integers(-3000, 3000, 16000).astype(np.float32),
    'chirp': (8000 * np.sin(2 * np.pi * np.cumsum(np.linspace(50, 7000, 12000)) / 16000)).astype(np.float32),
}
clips = sorted(glob.glob(os.path.join(speech, 'wake', '*.wav')))[:2] + sorted(glob.glob(os.path.join(speech, 'other', '*.wav')))[:1]
for c in clips:
    with wave.open(c) as wv:
        signals[os.path.basename(c)] = np.frombuffer(wv.readframes(wv.getnframes()), '<i2').astype(np.float32)

# 1. log-mel against librosa's formulas
variants = {
    'openwakeword': {},
    'n_fft400_hann300': dict(n_fft=400, win_length=300, hop_length=100, n_mels=40, fmin=0.0, fmax=8000.0, scale=1.0,
                             offset=0.0),
    'htk_nonorm_magnitude': dict(htk=1, slaney_norm=0, power=1.0, n_mels=24, fmin=20.0, fmax=7600.0, top_db=0.0,
                                 scale=1.0, offset=0.0),
    'energies_no_log': dict(log=0, scale=1.0, offset=0.0, n_fft=256, win_length=256, hop_length=128, n_mels=16),
}
worst_mel = 0.0
for vname, over in variants.items():
    p = dict(pipeline.OPENWAKEWORD_MEL)
    p.update(over)
    lm = pipeline.LogMel(**p)
    fb = lm.filters()
    fb_ref = mel_filters(p['sample_rate'], p['n_fft'], p['n_mels'], p['fmin'], p['fmax'], p['htk'], p['slaney_norm'])
    expect(np.abs(fb - fb_ref).max() <= 1e-6 * max(1.0, np.abs(fb_ref).max()), '%s: filter bank differs' % vname)
    for sname, x in signals.items():
        got, want = lm(x), ref_logmel(x, p)
        if got.shape != want.shape:
            expect(False, 'logmel %s %s: shape %s, numpy %s' % (vname, sname, got.shape, want.shape))
            continue
        err = np.abs(got - want) / (np.maximum(1.0, np.abs(want)) if not p['log'] else 1.0)
        worst_mel = max(worst_mel, float(err.max()))
        expect(err.max() <= 1e-4, 'logmel %s %s: differs from numpy by %.3g' % (vname, sname, err.max()))
print('logmel vs numpy (librosa formulas): %d parameter sets x %d signals, worst %.2e' % (len(variants), len(signals),
                                                                                           worst_mel))

# 2. openWakeWord's parameters = the shipped melspectrogram model
worst_model = 0.0
lm = pipeline.LogMel()
for sname, x in signals.items():
    for seg in (x[:1760], x[3200:3200 + 1760], x):  # the app's 1760-sample windows, and a whole clip
        if len(seg) < 512:
            continue
        got, want = lm(seg), onnx_melspectrogram(seg, os.path.join(models, 'melspectrogram.onnx'))
        worst_model = max(worst_model, float(np.abs(got - want).max()))
expect(worst_model <= 1e-4, 'logmel (openWakeWord params) vs melspectrogram.onnx in numpy: %.3g' % worst_model)
print('logmel (openWakeWord params) vs melspectrogram.onnx (numpy on its weights): worst %.2e' % worst_model)

# 3. framing and post-processing
x = rng.standard_normal(1000).astype(np.float32)
win = np.hanning(64).astype(np.float32)
fr = pipeline.frames(x, 64, 24, win)
want = np.stack([x[i * 24:i * 24 + 64] * win for i in range((1000 - 64) // 24 + 1)])
expect(fr.shape == want.shape and np.array_equal(fr, want), 'frames differ from numpy')

z = np.concatenate([rng.standard_normal(500) * 20, [0, 88, -88, 1e30, -1e30, np.inf, -np.inf]]).astype(np.float32)
sig = pipeline.sigmoid(z)
with np.errstate(over='ignore'):
    want = 1 / (1 + np.exp(-z.astype(np.float64)))
expect(np.all(np.isfinite(sig)) and np.abs(sig - want).max() <= 1e-6, 'sigmoid differs from numpy')

m = (rng.standard_normal((7, 33)) * 10).astype(np.float32)
for t in (1.0, 0.5, 3.0):
    sm = pipeline.softmax(m, t)
    e = np.exp((m - m.max(axis=1, keepdims=True)) / t)
    expect(np.abs(sm - e / e.sum(axis=1, keepdims=True)).max() <= 1e-6, 'softmax (T=%g) differs from numpy' % t)
big = pipeline.softmax(np.array([1e30, 1e30, -1e30], np.float32))
expect(np.allclose(big, [0.5, 0.5, 0]), 'softmax of huge values: %s' % big)

for trial in range(50):
    n = int(rng.integers(1, 60))
    s = rng.integers(0, 6, n).astype(np.float32)  # many ties
    if trial % 5 == 0:
        s[rng.integers(0, n)] = np.nan
    k = int(rng.integers(0, n + 3))
    idx, val = pipeline.topk(s, k)
    key = np.where(np.isnan(s), -np.inf, s)
    order = np.lexsort((np.arange(n), np.isnan(s), -key))  # score desc, NaN last, index asc
    ref = order[:min(k, n)]
    expect(np.array_equal(idx, ref), 'topk trial %d: %s, numpy %s' % (trial, idx.tolist(), ref.tolist()))

vs = [rng.random(10).astype(np.float32) for _ in range(4)]
w = np.array([1, 2, 0.5, 0.5], np.float32)
st = np.stack(vs).astype(np.float64)
expect(np.abs(pipeline.fuse(vs, 'average') - st.mean(0)).max() <= 1e-6, 'fuse average')
expect(np.abs(pipeline.fuse(vs, 'weighted', w) - (w[:, None] * st).sum(0) / w.sum()).max() <= 1e-6, 'fuse weighted')
expect(np.array_equal(pipeline.fuse(vs, 'max'), st.max(0).astype(np.float32)), 'fuse max')
votes = np.zeros(10)
for v in st:
    votes[np.argmax(v)] += 0.25
expect(np.abs(pipeline.fuse(vs, 'vote') - votes).max() <= 1e-6, 'fuse vote')
wv = np.zeros(10)
for v, ww in zip(st, w):
    wv[np.argmax(v)] += ww / w.sum()
expect(np.abs(pipeline.fuse(vs, 'vote', w) - wv).max() <= 1e-6, 'fuse weighted vote')
try:
    pipeline.fuse(vs, 'weighted', np.array([0, 0, 0, 0], np.float32))
    expect(False, 'fuse with zero weights did not fail')
except pipeline.NnedgeError:
    pass

seq = np.concatenate([rng.random(200) * 0.6, [0.6, 0.45, 0.3, 0.55, 0.2, 0.1, 0.9, np.nan, 0.95, 0.1, 0.1, 0.1]])
seq = seq.astype(np.float32)
for hold in (0, 1, 3):
    h = pipeline.Hysteresis(0.5, 0.25, hold)
    events, on, start = [], False, -1
    ref_events = []
    for i, s in enumerate(seq):
        events.append(h.update(float(s)))
        if not on and s >= 0.5:
            on, start = True, i
            ref_events.append(1)
        elif on and not (s >= 0.25) and i - start >= hold:
            on = False
            ref_events.append(-1)
        else:
            ref_events.append(0)
    expect(events == ref_events, 'hysteresis (hold %d) events differ from the python rule' % hold)
    expect(sum(e == 1 for e in events) >= 2, 'hysteresis test sequence has too few events')
print('framing, sigmoid, softmax, top-k (50 trials with ties and NaN), fusion (4 modes), hysteresis: checked')

# 4. WakeWord from Python = the CLI
clip = clips[0]
with wave.open(clip) as wv:
    pcm = np.frombuffer(wv.readframes(wv.getnframes()), '<i2')
heads = sorted(f for f in glob.glob(os.path.join(models, '*.onnx'))
               if os.path.basename(f) not in ('melspectrogram.onnx', 'embedding_model.onnx', 'silero_vad.onnx'))
ww = pipeline.WakeWord(os.path.join(models, 'melspectrogram.onnx'), os.path.join(models, 'embedding_model.onnx'), heads)
py = np.stack([ww.step(pcm[i * 1280:(i + 1) * 1280]) for i in range(len(pcm) // 1280)])
with tempfile.TemporaryDirectory() as d:
    subprocess.run([nnedge, 'app', 'wakeword', '--models', models, '--frames', os.path.join(d, 'f.csv'), clip],
                   check=True, stdout=subprocess.DEVNULL)
    rows = list(csv.reader(open(os.path.join(d, 'f.csv'))))
cli = np.array([[float(v) for v in r[3:]] for r in rows[1:]], np.float32)
expect(cli.shape == py.shape and np.abs(cli - py).max() <= 1e-6 * max(1, np.abs(py).max()),
       'WakeWord (Python) and the CLI differ on %s' % os.path.basename(clip))
print('WakeWord from Python: %d frames x %d scores, the same as the CLI' % py.shape)
if fails:
    print('test_pipeline: %d failures' % len(fails))
    sys.exit(1)
print('test_pipeline: all checks hold')
