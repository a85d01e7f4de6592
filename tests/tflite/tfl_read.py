"""Minimal TFLite FlatBuffer reader for the tests (python3-flatbuffers'
low-level Table API; no generated code). read_model(path) returns dicts."""
import flatbuffers
from flatbuffers.table import Table
from flatbuffers import number_types as N, encode

def _root(buf):
    return Table(buf, encode.Get(N.UOffsetTFlags.packer_type, buf, 0))
def _off(t, slot): return t.Offset(4 + 2 * slot)
def _tables(t, slot):
    o = _off(t, slot)
    if not o: return []
    n = t.VectorLen(o); base = t.Vector(o)
    return [Table(t.Bytes, t.Indirect(base + 4 * i)) for i in range(n)]
def _vec(t, slot, fl):
    o = _off(t, slot)
    if not o: return []
    n = t.VectorLen(o); base = t.Vector(o)
    return [t.Get(fl, base + fl.bytewidth * i) for i in range(n)]
def _bytes(t, slot):
    o = _off(t, slot)
    if not o: return None
    n = t.VectorLen(o); base = t.Vector(o)
    return bytes(t.Bytes[base:base + n])
def _scalar(t, slot, fl, d=0):
    o = _off(t, slot)
    return t.Get(fl, o + t.Pos) if o else d
def _str(t, slot):
    o = _off(t, slot)
    return t.String(o + t.Pos).decode() if o else ''

def read_model(path):
    buf = bytearray(open(path, 'rb').read())
    m = _root(buf)
    bufs = []
    for b in _tables(m, 4):
        d = _bytes(b, 0)
        off, size = _scalar(b, 1, N.Uint64Flags), _scalar(b, 2, N.Uint64Flags)
        if off > 1: d = bytes(buf[off:off + size])
        bufs.append(d if d else None)
    codes = [dict(code=max(_scalar(c, 0, N.Int8Flags), _scalar(c, 3, N.Int32Flags)),
                  version=_scalar(c, 2, N.Int32Flags, 1)) for c in _tables(m, 1)]
    sgs = []
    for sg in _tables(m, 2):
        tensors = []
        for t in _tables(sg, 0):
            b = _scalar(t, 2, N.Uint32Flags)
            tensors.append(dict(name=_str(t, 3), shape=_vec(t, 0, N.Int32Flags), type=_scalar(t, 1, N.Int8Flags),
                                sig=_vec(t, 7, N.Int32Flags), data=bufs[b] if b < len(bufs) else None))
        ops = [dict(opcode=_scalar(o, 0, N.Uint32Flags), inputs=_vec(o, 1, N.Int32Flags),
                    outputs=_vec(o, 2, N.Int32Flags)) for o in _tables(sg, 3)]
        sgs.append(dict(tensors=tensors, inputs=_vec(sg, 1, N.Int32Flags), outputs=_vec(sg, 2, N.Int32Flags),
                        ops=ops))
    return dict(codes=codes, subgraphs=sgs)
