"""nnedge.InferenceSession: onnxruntime.InferenceSession's surface over
nnedge (for .onnx, .tflite and .nne models).

run() prepares the session again only when the input shapes change, and
holds a per-session lock while it runs (an nne_session serves one thread at
a time); the GIL is released inside the library, so sessions in different
threads run in parallel.
"""
import numpy as np

from . import _lib


class SessionOptions:
    """Accepted for compatibility; intra_op_num_threads sets nnedge's threads."""

    def __init__(self):
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.graph_optimization_level = None
        self.log_severity_level = 2


class RunOptions:
    def __init__(self):
        self.log_severity_level = 2


class NodeArg:
    def __init__(self, name, shape, type_):
        self.name, self.shape, self.type = name, shape, type_

    def __repr__(self):
        return 'NodeArg(name=%r, type=%r, shape=%r)' % (self.name, self.type, self.shape)


def get_available_providers():
    return ['CPUExecutionProvider']


def get_device():
    return 'CPU'


def _node_arg(info):
    dims = None
    if info['dims'] is not None:
        dims = [(info['dim_names'][d] or None) if n is None or n < 0 else int(n) for d, n in enumerate(info['dims'])]
    return NodeArg(info['name'], dims, 'tensor(%s)' % _lib.ONNX_TYPE_NAMES.get(info['dtype'], 'undefined'))


class InferenceSession:
    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._model = _lib.Model(content=path_or_bytes)
            self._model_path = None
        else:
            self._model = _lib.Model(path=str(path_or_bytes))
            self._model_path = str(path_or_bytes)
        threads = getattr(sess_options, 'intra_op_num_threads', 0) if sess_options is not None else 0
        self._session = _lib.Session(self._model, threads=threads)
        self._providers = list(providers) if providers else ['CPUExecutionProvider']
        for p in self._providers:
            name = p[0] if isinstance(p, tuple) else p
            if name != 'CPUExecutionProvider':
                raise ValueError('nnedge runs on the CPU only; provider %r is not available' % (name,))

    def get_inputs(self):
        return [_node_arg(i) for i in self._model.inputs]

    def get_outputs(self):
        return [_node_arg(o) for o in self._model.outputs]

    def get_providers(self):
        return list(self._providers)

    def get_modelmeta(self):
        return dict(self._model.meta)

    def run(self, output_names, input_feed, run_options=None):
        names = [i['name'] for i in self._model.inputs]
        missing = [n for n in names if n not in input_feed]
        if missing:
            raise ValueError('Required inputs (%s) are missing from input feed (%s).' % (missing, list(input_feed)))
        extra = [n for n in input_feed if n not in names]
        if extra:
            raise ValueError('Invalid input name: %s' % extra[0])
        arrs = {}
        for info in self._model.inputs:
            a = np.ascontiguousarray(input_feed[info['name']])
            want = _lib.DTYPES.get(info['dtype'])
            if want is not None and a.dtype != want:
                raise ValueError('Unexpected input data type. Actual: (tensor(%s)) , expected: (tensor(%s))'
                                 % (a.dtype.name, _lib.ONNX_TYPE_NAMES.get(info['dtype'])))
            arrs[info['name']] = a
        out_names = [o['name'] for o in self._model.outputs]
        idx = list(range(len(out_names))) if not output_names else []
        for n in output_names or []:
            if n not in out_names:
                raise ValueError('Invalid output name: %s' % n)
            idx.append(out_names.index(n))
        s = self._session
        with s.lock:
            shapes = {n: (_lib.NP_TO_NNE[a.dtype], a.shape) for n, a in arrs.items()}
            if shapes != s.shapes:
                s.prepare(shapes)
            for n, a in arrs.items():
                s.bind(n, a)
            s.run()
            return [s.output(k, copy=True) for k in idx]
