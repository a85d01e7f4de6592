"""Minimal ONNX test-case writer (python3 stdlib only): model.onnx and test_data_set_0/*.pb."""
import os, struct

def _varint(n):
    if n < 0: n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7f; n >>= 7
        if n: out.append(b | 0x80)
        else: out.append(b); return bytes(out)

def _key(f, wt): return _varint((f << 3) | wt)
def f_int(f, v): return _key(f, 0) + _varint(int(v))
def f_bytes(f, b):
    if isinstance(b, str): b = b.encode()
    return _key(f, 2) + _varint(len(b)) + b
def f_float(f, v): return _key(f, 5) + struct.pack('<f', v)

FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, BOOL, FLOAT16, DOUBLE, UINT32, UINT64 = 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13
_fmt = {FLOAT: 'f', UINT8: 'B', INT8: 'b', UINT16: 'H', INT16: 'h', INT32: 'i', INT64: 'q', BOOL: 'B', DOUBLE: 'd', UINT32: 'I', UINT64: 'Q', FLOAT16: 'e'}

def tensor(name, dt, dims, vals):
    b = b''.join(f_int(1, d) for d in dims) + f_int(2, dt) + f_bytes(8, name)
    vals = list(vals)
    if dt == BOOL: vals = [1 if v else 0 for v in vals]
    if dt in (INT8, UINT8, INT16, UINT16, INT32, INT64, UINT32, UINT64, BOOL): vals = [int(v) for v in vals]
    b += f_bytes(9, struct.pack('<%d%s' % (len(vals), _fmt[dt]), *vals))
    return b

def attr(name, v):
    b = f_bytes(1, name)
    if isinstance(v, bool) or isinstance(v, int): return b + f_int(20, 2) + f_int(3, v)
    if isinstance(v, float): return b + f_int(20, 1) + f_float(2, v)
    if isinstance(v, str): return b + f_int(20, 3) + f_bytes(4, v)
    if isinstance(v, tuple) and v[0] == 'tensor': return b + f_int(20, 4) + f_bytes(5, tensor('', v[1], v[2], v[3]))
    if isinstance(v, list):
        if all(isinstance(x, int) for x in v) and v: return b + f_int(20, 7) + b''.join(f_int(8, x) for x in v)
        if all(isinstance(x, str) for x in v) and v: return b + f_int(20, 8) + b''.join(f_bytes(9, x) for x in v)
        return b + f_int(20, 6) + b''.join(f_float(7, float(x)) for x in v)
    raise ValueError(v)

def node(op, ins, outs, domain='', **attrs):
    b = b''.join(f_bytes(1, i) for i in ins) + b''.join(f_bytes(2, o) for o in outs) + f_bytes(3, op + '_0') + f_bytes(4, op)
    if domain: b += f_bytes(7, domain)
    for k, v in attrs.items():
        if v is None: continue
        b += f_bytes(5, attr(k, v))
    return b

def vinfo(name, dt, dims):
    shp = b''.join(f_bytes(1, f_int(1, d)) for d in dims) if dims is not None else None
    tt = f_int(1, dt) + (f_bytes(2, shp) if dims is not None else b'')
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, tt))

def make_test(dirname, nodes, inputs, outputs, opsets={'': 22}, initializers=()):
    """inputs/outputs: lists of (name, dtype, dims, flat values); initializers likewise."""
    g = b''.join(f_bytes(1, n) for n in nodes) + f_bytes(2, 'g')
    for (n, dt, dims, vals) in initializers: g += f_bytes(5, tensor(n, dt, dims, vals))
    for (n, dt, dims, vals) in inputs: g += f_bytes(11, vinfo(n, dt, dims))
    for (n, dt, dims, vals) in outputs: g += f_bytes(12, vinfo(n, dt, None))
    m = f_int(1, 8) + f_bytes(2, 'gen')
    for d, v in opsets.items(): m += f_bytes(8, (f_bytes(1, d) if d else b'') + f_int(2, v))
    m += f_bytes(7, g)
    os.makedirs(dirname + '/test_data_set_0', exist_ok=True)
    open(dirname + '/model.onnx', 'wb').write(m)
    for i, (n, dt, dims, vals) in enumerate(inputs):
        open('%s/test_data_set_0/input_%d.pb' % (dirname, i), 'wb').write(tensor(n, dt, dims, vals))
    for i, (n, dt, dims, vals) in enumerate(outputs):
        open('%s/test_data_set_0/output_%d.pb' % (dirname, i), 'wb').write(tensor(n, dt, dims, vals))
