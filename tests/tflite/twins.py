#!/usr/bin/env python3
"""Which openWakeWord .tflite models have an .onnx twin with the same weights.

usage: twins.py MODELS_DIR   prints one line per pair: NAME twin|differs (detail)

Weights are compared as multisets of values per tensor (sorted, so layout
differences such as OHWI vs OIHW and transposed FC weights do not matter):
every float ONNX initializer with more than 16 elements must equal some
float TFLite constant buffer of the same size within 1e-6 (relative).
"""
import os, sys
import numpy as np
import onnx
from onnx import numpy_helper
from tfl_read import read_model

def tflite_consts(path):
    m = read_model(path)
    out = []
    for sg in m['subgraphs']:
        for t in sg['tensors']:
            if t['data'] is not None and t['type'] == 0:
                out.append(np.sort(np.frombuffer(t['data'], '<f4').ravel()))
    return out

def onnx_consts(path):
    g = onnx.load(path).graph
    out = []
    for init in g.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype == np.float32 and a.size > 16:
            out.append(np.sort(a.ravel()))
    return out

def same(path_t, path_o):
    tc = tflite_consts(path_t)
    for a in onnx_consts(path_o):
        if not any(b.size == a.size and np.allclose(a, b, rtol=1e-6, atol=1e-7) for b in tc):
            return False, 'onnx initializer of %d values has no tflite twin' % a.size
    return True, ''

if __name__ == '__main__':
    d = sys.argv[1]
    for f in sorted(os.listdir(d)):
        if not f.endswith('.tflite'): continue
        name = f[:-7]
        if not os.path.exists(os.path.join(d, name + '.onnx')):
            print(name, 'differs (no .onnx)'); continue
        ok, why = same(os.path.join(d, f), os.path.join(d, name + '.onnx'))
        print(name, 'twin' if ok else 'differs (%s)' % why)
