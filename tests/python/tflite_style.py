#!/usr/bin/env python3
"""A script written for tflite_runtime; only the import line is changed.
usage: tflite_style.py MODEL OUT.npz IN0.npy [IN1.npy...]"""
import sys

import numpy as np
from nnedge import Interpreter  # from tflite_runtime.interpreter import Interpreter

interpreter = Interpreter(model_path=sys.argv[1], num_threads=1)
inputs = [np.load(f) for f in sys.argv[3:]]
for detail, x in zip(interpreter.get_input_details(), inputs):
    if list(detail['shape']) != list(x.shape):
        interpreter.resize_tensor_input(detail['index'], x.shape)
interpreter.allocate_tensors()
for detail, x in zip(interpreter.get_input_details(), inputs):
    interpreter.set_tensor(detail['index'], x.astype(detail['dtype']))
interpreter.invoke()
np.savez(sys.argv[2], **{d['name']: interpreter.get_tensor(d['index']) for d in interpreter.get_output_details()})
