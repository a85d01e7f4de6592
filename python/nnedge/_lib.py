"""ctypes binding of libnnedge (include/nnedge.h): structs, function
prototypes, dtype tables and a small Model/Session wrapper the two public
classes share.

The library is found, in order: $NNEDGE_LIBRARY, libnnedge.so next to this
package (an installed copy), build/libnnedge.so of the source tree this
package sits in (PYTHONPATH=python), then the system's library path.
ctypes.CDLL releases the GIL around every call, so runs in several Python
threads execute in parallel.
"""
import ctypes
import ctypes.util
import os
import threading

import numpy as np

NNE_MAX_DIMS = 12

# nne_dtype -> numpy dtype (the numbers are ONNX's TensorProto.DataType)
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
NP_TO_NNE = {np.dtype(v): k for k, v in DTYPES.items()}
ONNX_TYPE_NAMES = {1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool',
                   10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64', 16: 'bfloat16'}


class Tensor(ctypes.Structure):
    _fields_ = [('dtype', ctypes.c_int), ('ndim', ctypes.c_int32), ('dims', ctypes.c_int64 * NNE_MAX_DIMS),
                ('data', ctypes.c_void_p)]


class ValueInfo(ctypes.Structure):
    _fields_ = [('name', ctypes.c_char_p), ('dtype', ctypes.c_int), ('ndim', ctypes.c_int32),
                ('dims', ctypes.c_int64 * NNE_MAX_DIMS), ('dim_names', ctypes.c_char_p * NNE_MAX_DIMS)]


class ModelOptions(ctypes.Structure):
    _fields_ = [('struct_size', ctypes.c_uint32), ('allow_unsupported', ctypes.c_int32),
                ('max_memory_bytes', ctypes.c_size_t)]


class SessionOptions_(ctypes.Structure):
    _fields_ = [('struct_size', ctypes.c_uint32), ('threads', ctypes.c_int32), ('arena_limit_bytes', ctypes.c_size_t),
                ('memory_limit_bytes', ctypes.c_size_t), ('max_loop_iterations', ctypes.c_int64),
                ('cancel_fn', ctypes.c_void_p), ('cancel_user', ctypes.c_void_p)]


def _find_library():
    env = os.environ.get('NNEDGE_LIBRARY')
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [env] if env else []
    cands += [os.path.join(here, 'libnnedge.so'), os.path.join(here, '..', '..', 'build', 'libnnedge.so')]
    for c in cands:
        if c and os.path.exists(c):
            return c
    found = ctypes.util.find_library('nnedge')
    if found:
        return found
    raise ImportError('nnedge: libnnedge.so not found (build it with `make`, or set NNEDGE_LIBRARY)')


lib = ctypes.CDLL(_find_library())
_P = ctypes.c_void_p
_proto = {
    'nne_last_error': (ctypes.c_char_p, []),
    'nne_version': (ctypes.c_char_p, []),
    'nne_model_load_file': (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ModelOptions), ctypes.POINTER(_P)]),
    'nne_model_load_memory': (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                             ctypes.POINTER(ModelOptions), ctypes.POINTER(_P)]),
    'nne_model_destroy': (None, [_P]),
    'nne_model_num_inputs': (ctypes.c_int32, [_P]),
    'nne_model_num_outputs': (ctypes.c_int32, [_P]),
    'nne_model_input_info': (ctypes.c_int, [_P, ctypes.c_int32, ctypes.POINTER(ValueInfo)]),
    'nne_model_output_info': (ctypes.c_int, [_P, ctypes.c_int32, ctypes.POINTER(ValueInfo)]),
    'nne_model_metadata_count': (ctypes.c_int32, [_P]),
    'nne_model_metadata_get': (ctypes.c_int, [_P, ctypes.c_int32, ctypes.POINTER(ctypes.c_char_p),
                                              ctypes.POINTER(ctypes.c_char_p)]),
    'nne_session_create': (ctypes.c_int, [_P, ctypes.POINTER(SessionOptions_), ctypes.POINTER(_P)]),
    'nne_session_destroy': (None, [_P]),
    'nne_session_last_error': (ctypes.c_char_p, [_P]),
    'nne_session_prepare': (ctypes.c_int, [_P, ctypes.c_int32, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(Tensor)]),
    'nne_session_set_input': (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.POINTER(Tensor)]),
    'nne_session_run': (ctypes.c_int, [_P]),
    'nne_session_output': (ctypes.c_int, [_P, ctypes.c_int32, ctypes.POINTER(Tensor)]),
}
for _name, (_res, _args) in _proto.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args


class NnedgeError(RuntimeError):
    pass


def check(st, where, session=None):
    if st != 0:
        msg = (lib.nne_session_last_error(session) if session else lib.nne_last_error()) or b''
        raise NnedgeError('%s: %s' % (where, msg.decode('utf-8', 'replace')))


def tensor_of(arr):
    """An nne_tensor viewing a C-contiguous numpy array (kept alive by the caller)."""
    t = Tensor()
    if arr.dtype not in NP_TO_NNE:
        raise ValueError('nnedge: dtype %s is not supported' % arr.dtype)
    t.dtype = NP_TO_NNE[arr.dtype]
    t.ndim = arr.ndim
    for d, n in enumerate(arr.shape):
        t.dims[d] = n
    t.data = arr.ctypes.data if arr.size else None
    return t


def array_of(t, copy=True):
    """A numpy array over (or copied from) an nne_tensor."""
    dt = DTYPES.get(t.dtype)
    if dt is None:
        raise NnedgeError('nnedge: output dtype %d is not supported by the binding' % t.dtype)
    shape = tuple(t.dims[d] for d in range(t.ndim))
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0 or not t.data:
        return np.zeros(shape, dt)
    buf = (ctypes.c_char * (n * np.dtype(dt).itemsize)).from_address(t.data)
    a = np.frombuffer(buf, dtype=dt).reshape(shape)
    return a.copy() if copy else a


class Model:
    """A loaded model (nne_model) and its input/output descriptions."""

    def __init__(self, path=None, content=None):
        opt = ModelOptions(ctypes.sizeof(ModelOptions), 0, 0)
        h = _P()
        if content is not None:
            self._content = bytes(content)
            check(lib.nne_model_load_memory(self._content, len(self._content), None, ctypes.byref(opt),
                                            ctypes.byref(h)), 'load model')
        else:
            check(lib.nne_model_load_file(os.fsencode(path), ctypes.byref(opt), ctypes.byref(h)),
                  'load %s' % path)
        self.h = h
        self.inputs = [self._info(lib.nne_model_input_info, i) for i in range(lib.nne_model_num_inputs(h))]
        self.outputs = [self._info(lib.nne_model_output_info, i) for i in range(lib.nne_model_num_outputs(h))]
        self.meta = {}
        k, v = ctypes.c_char_p(), ctypes.c_char_p()
        for i in range(lib.nne_model_metadata_count(h)):
            check(lib.nne_model_metadata_get(h, i, ctypes.byref(k), ctypes.byref(v)), 'metadata')
            self.meta[k.value.decode('utf-8', 'replace')] = v.value.decode('utf-8', 'replace')

    def _info(self, fn, i):
        vi = ValueInfo()
        check(fn(self.h, i, ctypes.byref(vi)), 'value info')
        dims = [vi.dims[d] for d in range(vi.ndim)] if vi.ndim >= 0 else None
        names = [(vi.dim_names[d] or b'').decode() or None for d in range(max(vi.ndim, 0))]
        return dict(name=vi.name.decode('utf-8', 'replace'), dtype=vi.dtype, dims=dims, dim_names=names)

    def __del__(self):
        h = getattr(self, 'h', None)
        if h:
            lib.nne_model_destroy(h)
            self.h = None


class Session:
    """One nne_session on a Model: prepare for shapes, bind, run, read outputs.
    Used by one thread at a time (the public classes lock around it)."""

    def __init__(self, model, threads=0):
        self.model = model
        opt = SessionOptions_()
        opt.struct_size = ctypes.sizeof(SessionOptions_)
        opt.threads = int(threads or 0)
        h = _P()
        check(lib.nne_session_create(model.h, ctypes.byref(opt), ctypes.byref(h)), 'create session')
        self.h = h
        self.lock = threading.Lock()
        self.shapes = None
        self.bound = {}

    def prepare(self, shapes):
        """shapes: {name: (dtype nne code, tuple dims)} for every input."""
        names = (ctypes.c_char_p * max(len(shapes), 1))()
        ts = (Tensor * max(len(shapes), 1))()
        for k, (name, (dt, dims)) in enumerate(shapes.items()):
            names[k] = name.encode()
            ts[k].dtype, ts[k].ndim = dt, len(dims)
            for d, n in enumerate(dims):
                ts[k].dims[d] = n
        check(lib.nne_session_prepare(self.h, len(shapes), names, ts), 'prepare', self.h)
        self.shapes = dict(shapes)
        self.bound = {}

    def bind(self, name, arr):
        t = tensor_of(arr)
        check(lib.nne_session_set_input(self.h, name.encode(), ctypes.byref(t)), 'input "%s"' % name, self.h)
        self.bound[name] = arr  # the session keeps the pointer: keep the array alive

    def run(self):
        check(lib.nne_session_run(self.h), 'run', self.h)

    def output(self, i, copy=True):
        t = Tensor()
        check(lib.nne_session_output(self.h, i, ctypes.byref(t)), 'output %d' % i, self.h)
        return array_of(t, copy)

    def __del__(self):
        h = getattr(self, 'h', None)
        if h:
            lib.nne_session_destroy(h)
            self.h = None
