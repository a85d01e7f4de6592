#!/usr/bin/env python3
"""The TFLite quick-start example, run by nnedge: classify a 28x28 image with
a Keras-style CNN in TFLite form. Only the import differs from the
tensorflow / tflite_runtime version.

usage: PYTHONPATH=python python3 python/examples/mnist_tflite.py MODEL.tflite IMAGE.npy
IMAGE.npy: float32 pixels/255, [28, 28] or [1, 1, 28, 28] (scripts/fashion_npy.py writes them).
Build MODEL.tflite from the demo model with:
  (cd tests/tflite && python3 fashion_tflite.py ../../models/fashion_cnn.onnx /tmp/fashion.tflite)
"""
import sys

import numpy as np
from nnedge import Interpreter  # was: from tflite_runtime.interpreter import Interpreter

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

interpreter = Interpreter(model_path=sys.argv[1])
interpreter.allocate_tensors()
input_details = interpreter.get_input_details()
output_details = interpreter.get_output_details()

image = np.load(sys.argv[2]).astype(np.float32).reshape(input_details[0]['shape'])
interpreter.set_tensor(input_details[0]['index'], image)
interpreter.invoke()
probabilities = interpreter.get_tensor(output_details[0]['index'])[0]
k = int(np.argmax(probabilities))
print("predicted class: %d (%s), probability %.3f" % (k, CLASSES[k], probabilities[k]))
