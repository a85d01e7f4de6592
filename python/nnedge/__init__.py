"""nnedge: run .onnx, .tflite and .nne models with nnedge from Python.

Two drop-in surfaces over the C library (ctypes; numpy only):
  from nnedge import Interpreter      # tflite_runtime.interpreter.Interpreter
  import nnedge as ort                 # onnxruntime: ort.InferenceSession(path).run(None, feed)
  from nnedge import image             # resize / normalize / NMS / CTC / OCR boxes on numpy arrays
"""
from ._lib import NnedgeError, lib as _clib
from .interpreter import Interpreter, SignatureRunner
from .session import InferenceSession, NodeArg, RunOptions, SessionOptions, get_available_providers, get_device

__version__ = _clib.nne_version().decode()
__all__ = ['Interpreter', 'SignatureRunner', 'InferenceSession', 'SessionOptions', 'RunOptions', 'NodeArg',
           'get_available_providers', 'get_device', 'NnedgeError']
