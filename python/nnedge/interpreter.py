"""nnedge.Interpreter: tflite_runtime.interpreter.Interpreter's surface over
nnedge (for .tflite, .onnx and .nne models).

Tensor indices: inputs are 0..n-1 and outputs n..n+m-1 (in model order);
scripts that take them from get_input_details()/get_output_details() work
unchanged. Only inputs and outputs are addressable (no intermediates).
As in TFLite, tensor(i) returns a function giving a numpy view of the
internal buffer, and allocate_tensors(), resize_tensor_input() and invoke()
refuse to run while such a view is alive.
"""
import threading
import weakref

import numpy as np

from . import _lib


def _parse_quant(text):
    q = {}
    for part in text.split(';'):
        k, _, v = part.partition('=')
        q[k] = v
    scales = np.array([float(x) for x in q.get('scales', '').split(',') if x], np.float32)
    zps = np.array([int(x) for x in q.get('zero_points', '').split(',') if x], np.int32)
    return scales, zps, int(q.get('dim', '0') or 0)


def _parse_signature(text):
    sig = {'subgraph': 0, 'inputs': [], 'outputs': []}
    for part in text.split(';'):
        k, _, v = part.partition('=')
        if k == 'subgraph':
            sig['subgraph'] = int(v)
        elif k in ('inputs', 'outputs'):
            sig[k] = [tuple(x.split(':', 1)) for x in v.split(',') if x]
    return sig


class Interpreter:
    def __init__(self, model_path=None, model_content=None, experimental_delegates=None, num_threads=None,
                 experimental_op_resolver_type=None, experimental_preserve_all_tensors=False, **kwargs):
        if (model_path is None) == (model_content is None):
            raise ValueError('Interpreter: give exactly one of model_path and model_content')
        self._model = _lib.Model(path=model_path, content=model_content)
        self._session = _lib.Session(self._model, threads=num_threads or 0)
        self._lock = threading.Lock()
        m = self._model
        self._n_in = len(m.inputs)
        self._shapes = [tuple(1 if (d is None or d < 0) else d for d in (i['dims'] or [])) for i in m.inputs]
        self._bufs = None
        self._views = []
        self._ran = False
        self._sigs = {k[len('tflite.signature.'):]: _parse_signature(v) for k, v in m.meta.items()
                      if k.startswith('tflite.signature.')}

    # -- details ---------------------------------------------------------
    def _detail(self, index, info, shape):
        dt = _lib.DTYPES.get(info['dtype'], np.float32)
        q = self._model.meta.get('tflite.quantization.' + info['name'])
        scales, zps, dim = _parse_quant(q) if q else (np.zeros(0, np.float32), np.zeros(0, np.int32), 0)
        sig = [-1 if (d is None or d < 0) else d for d in (info['dims'] or [])]
        return {
            'name': info['name'], 'index': index, 'shape': np.array(shape, np.int32),
            'shape_signature': np.array(sig, np.int32), 'dtype': dt,
            'quantization': (float(scales[0]), int(zps[0]) if len(zps) else 0) if len(scales) == 1 else (0.0, 0),
            'quantization_parameters': {'scales': scales, 'zero_points': zps, 'quantized_dimension': dim},
            'sparsity_parameters': {},
        }

    def get_input_details(self):
        return [self._detail(i, info, self._shapes[i]) for i, info in enumerate(self._model.inputs)]

    def get_output_details(self):
        out = []
        for k, info in enumerate(self._model.outputs):
            shape = self._out_shape(k)
            out.append(self._detail(self._n_in + k, info, shape))
        return out

    def _out_shape(self, k):
        if self._ran:
            return self._session.output(k, copy=False).shape
        return tuple(1 if (d is None or d < 0) else d for d in (self._model.outputs[k]['dims'] or []))

    # -- allocation ------------------------------------------------------
    def _ensure_no_views(self):
        self._views = [w for w in self._views if w() is not None]
        if self._views:
            raise RuntimeError('There is at least 1 reference to internal data in the interpreter in the form of '
                               'a numpy array or slice. Be sure to only hold the function returned from tensor() '
                               'if you are using raw data access.')

    def allocate_tensors(self):
        with self._lock:
            self._ensure_no_views()
            shapes = {}
            bufs = []
            for info, shp in zip(self._model.inputs, self._shapes):
                dt = _lib.DTYPES.get(info['dtype'])
                if dt is None:
                    raise ValueError('input "%s": dtype %d is not supported' % (info['name'], info['dtype']))
                shapes[info['name']] = (info['dtype'], shp)
                bufs.append(np.zeros(shp, dt))
            self._session.prepare(shapes)
            for info, b in zip(self._model.inputs, bufs):
                self._session.bind(info['name'], b)
            self._bufs = bufs
            self._ran = False

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        with self._lock:
            self._ensure_no_views()
            self._check_input(input_index)
            sig = self._model.inputs[input_index]['dims'] or []
            shp = tuple(int(x) for x in tensor_size)
            if strict or len(sig) != len(shp):
                for d, (a, b) in enumerate(zip(sig, shp)):
                    if a is not None and a >= 0 and a != b and (strict or len(sig) != len(shp)):
                        raise ValueError('resize_tensor_input: dim %d of input %d is fixed to %d' % (d, input_index, a))
                if len(sig) != len(shp):
                    raise ValueError('resize_tensor_input: input %d has rank %d, got %d' % (input_index, len(sig),
                                                                                            len(shp)))
            self._shapes[input_index] = shp
            self._bufs = None

    def _check_input(self, i):
        if not isinstance(i, (int, np.integer)) or i < 0 or i >= self._n_in:
            raise ValueError('tensor index %r is not an input (inputs are 0..%d)' % (i, self._n_in - 1))

    def _need_alloc(self):
        if self._bufs is None:
            raise RuntimeError('allocate_tensors() must be called first (and again after resize_tensor_input)')

    # -- data ------------------------------------------------------------
    def set_tensor(self, tensor_index, value):
        self._need_alloc()
        self._check_input(tensor_index)
        buf = self._bufs[tensor_index]
        value = np.asarray(value)
        if value.dtype != buf.dtype:
            raise ValueError('Cannot set tensor: Got value of type %s but expected type %s for input %d, name: %s'
                             % (value.dtype.name.upper(), buf.dtype.name.upper(), tensor_index,
                                self._model.inputs[tensor_index]['name']))
        if value.shape != buf.shape:
            raise ValueError('Cannot set tensor: Dimension mismatch. Got %s but expected %s for input %d.'
                             % (list(value.shape), list(buf.shape), tensor_index))
        buf[...] = value

    def invoke(self):
        self._need_alloc()
        with self._lock:
            self._ensure_no_views()
            with self._session.lock:
                self._session.run()
            self._ran = True

    def get_tensor(self, tensor_index, subgraph_index=0):
        self._need_alloc()
        if isinstance(tensor_index, (int, np.integer)) and 0 <= tensor_index < self._n_in:
            return self._bufs[tensor_index].copy()
        k = tensor_index - self._n_in
        if not isinstance(tensor_index, (int, np.integer)) or k < 0 or k >= len(self._model.outputs):
            raise ValueError('tensor index %r is neither an input nor an output' % (tensor_index,))
        if not self._ran:
            return np.zeros(self._out_shape(k), _lib.DTYPES.get(self._model.outputs[k]['dtype'], np.float32))
        return self._session.output(k, copy=True)

    def tensor(self, tensor_index):
        """A function returning a numpy view of the tensor's buffer (valid
        until the next allocate/resize; an output view shows the last run)."""
        def view():
            self._need_alloc()
            if 0 <= tensor_index < self._n_in:
                a = self._bufs[tensor_index][...]
            else:
                a = self._session.output(tensor_index - self._n_in, copy=False)
            self._views.append(weakref.ref(a))
            return a
        return view

    # -- signatures ------------------------------------------------------
    def get_signature_list(self):
        return {k: {'inputs': [a for a, _ in s['inputs']], 'outputs': [a for a, _ in s['outputs']]}
                for k, s in self._sigs.items()}

    def get_signature_runner(self, signature_key=None):
        if signature_key is None:
            if len(self._sigs) != 1:
                raise ValueError('get_signature_runner: the model has %d signatures; name one' % len(self._sigs))
            signature_key = next(iter(self._sigs))
        if signature_key not in self._sigs:
            raise ValueError('Invalid signature_key provided: %r' % signature_key)
        sig = self._sigs[signature_key]
        if sig['subgraph'] != 0:
            raise ValueError('signature %r runs subgraph %d; nnedge runs the main subgraph only'
                             % (signature_key, sig['subgraph']))
        return SignatureRunner(self, sig)


class SignatureRunner:
    """tflite_runtime's SignatureRunner: runner(**inputs) -> {output alias: array}."""

    def __init__(self, interp, sig):
        self._it = interp
        names_in = [i['name'] for i in interp._model.inputs]
        names_out = [o['name'] for o in interp._model.outputs]
        self._in = {alias: names_in.index(t) for alias, t in sig['inputs'] if t in names_in}
        self._out = {alias: interp._n_in + names_out.index(t) for alias, t in sig['outputs'] if t in names_out}

    def get_input_details(self):
        d = self._it.get_input_details()
        return {a: d[i] for a, i in self._in.items()}

    def get_output_details(self):
        d = self._it.get_output_details()
        return {a: d[i - self._it._n_in] for a, i in self._out.items()}

    def __call__(self, **kwargs):
        it = self._it
        for alias, value in kwargs.items():
            if alias not in self._in:
                raise ValueError('Invalid Input name (%s) for SignatureDef' % alias)
            value = np.asarray(value)
            if tuple(value.shape) != tuple(it._shapes[self._in[alias]]) or it._bufs is None:
                it.resize_tensor_input(self._in[alias], value.shape)
        if it._bufs is None:
            it.allocate_tensors()
        for alias, value in kwargs.items():
            it.set_tensor(self._in[alias], np.asarray(value))
        it.invoke()
        return {a: it.get_tensor(i) for a, i in self._out.items()}
