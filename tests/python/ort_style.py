#!/usr/bin/env python3
"""A script written for onnxruntime; only the import line is changed.
usage: ort_style.py MODEL OUT.npz IN0.npy [IN1.npy...]"""
import sys

import numpy as np
import nnedge as ort  # import onnxruntime as ort

sess = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])
feed = {i.name: np.load(f) for i, f in zip(sess.get_inputs(), sys.argv[3:])}
outputs = sess.run(None, feed)
np.savez(sys.argv[2], **{o.name: v for o, v in zip(sess.get_outputs(), outputs)})
