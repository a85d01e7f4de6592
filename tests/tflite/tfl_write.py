"""Write TFLite FlatBuffers from plain Python descriptions (tests only).

Uses python3-flatbuffers' Builder directly (no generated code); slot numbers
are the field order of TensorFlow's schema.fbs. See gen_models.py.

model(tensors=[...], ops=[...], inputs=[...], outputs=[...], codes=[...],
      buffers=[...], signatures=[...], extra=b'')
  tensor:  dict(name, shape, type (TensorType number), buffer (index, default 0),
                sig (shape_signature), scale, zp, qdim)
  op:      dict(code (index into codes), inputs, outputs, opt_type, opt (fn(b) -> offset))
  code:    dict(dep (deprecated_builtin_code), builtin, version)
  buffer:  bytes (inside the FlatBuffer), None (empty), ('tail', bytes): stored
           after the FlatBuffer and referenced by Buffer.offset/size, or
           ('at', offset, size): those two fields as given
"""
import struct
import flatbuffers

FLOAT32, FLOAT16, INT32, UINT8, INT64, BOOL, INT16, INT8 = 0, 1, 2, 3, 4, 6, 7, 9


def _ivec(b, vals, kind='i32'):
    size = {'i32': 4, 'i64': 8, 'f32': 4, 'u8': 1}[kind]
    b.StartVector(size, len(vals), size)
    for v in reversed(vals):
        {'i32': b.PrependInt32, 'i64': b.PrependInt64, 'f32': b.PrependFloat32, 'u8': b.PrependUint8}[kind](v)
    return b.EndVector()


def _tvec(b, offs):
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def table(b, fields):
    """fields: list of (slot, kind, value); kind in i8 u8 bool i32 u32 f32 u64 off."""
    b.StartObject(max([s for s, _, _ in fields], default=-1) + 1)
    for slot, kind, v in fields:
        if kind == 'off':
            b.PrependUOffsetTRelativeSlot(slot, v, 0)
        else:
            getattr(b, {'i8': 'PrependInt8Slot', 'u8': 'PrependUint8Slot', 'bool': 'PrependBoolSlot',
                        'i32': 'PrependInt32Slot', 'u32': 'PrependUint32Slot', 'f32': 'PrependFloat32Slot',
                        'u64': 'PrependUint64Slot'}[kind])(slot, v, 0 if kind != 'f32' else 0.0)
    return b.EndObject()


def _build(tensors, ops, inputs, outputs, codes, buffers, signatures, tail_base, version, extra_subgraphs=()):
    b = flatbuffers.Builder(4096)
    b.ForceDefaults(True)
    # buffers
    buf_offs, tail, pos = [], b'', tail_base
    for d in buffers:
        if isinstance(d, tuple) and d[0] == 'at':
            # a hand-made Buffer.offset/size (hostile tests)
            buf_offs.append(table(b, [(1, 'u64', d[1]), (2, 'u64', d[2])]))
        elif isinstance(d, tuple):
            data = d[1]
            pad = (-len(tail)) % 16
            tail += b'\0' * pad
            off = tail_base + len(tail)
            tail += data
            buf_offs.append(table(b, [(1, 'u64', off), (2, 'u64', len(data))]))
        elif d:
            b.StartVector(1, len(d), 16)
            b.head = b.head - len(d)
            b.Bytes[b.head:b.head + len(d)] = d
            v = b.EndVector()
            buf_offs.append(table(b, [(0, 'off', v)]))
        else:
            b.StartObject(3)
            buf_offs.append(b.EndObject())
    # subgraph
    t_offs = []
    for t in tensors:
        name = b.CreateString(t['name'])
        shape = _ivec(b, t['shape'])
        sig = _ivec(b, t['sig']) if 'sig' in t else None
        q = None
        if 'scale' in t:
            sc = _ivec(b, t['scale'], 'f32')
            zp = _ivec(b, t.get('zp', [0] * len(t['scale'])), 'i64')
            q = table(b, [(2, 'off', sc), (3, 'off', zp), (6, 'i32', t.get('qdim', 0))])
        f = [(0, 'off', shape), (1, 'i8', t['type']), (2, 'u32', t.get('buffer', 0)), (3, 'off', name)]
        if q is not None: f.append((4, 'off', q))
        if sig is not None: f.append((7, 'off', sig))
        t_offs.append(table(b, f))
    o_offs = []
    for o in ops:
        opt = o['opt'](b) if 'opt' in o else None
        ins, outs = _ivec(b, o['inputs']), _ivec(b, o['outputs'])
        f = [(0, 'u32', o['code']), (1, 'off', ins), (2, 'off', outs)]
        if opt is not None: f += [(3, 'u8', o['opt_type']), (4, 'off', opt)]
        o_offs.append(table(b, f))
    tv, ov = _tvec(b, t_offs), _tvec(b, o_offs)
    iv, outv = _ivec(b, inputs), _ivec(b, outputs)
    sgname = b.CreateString('main')
    sg = table(b, [(0, 'off', tv), (1, 'off', iv), (2, 'off', outv), (3, 'off', ov), (4, 'off', sgname)])
    sg_offs = [sg]
    for k, e in enumerate(extra_subgraphs):
        tt = [table(b, [(0, 'off', _ivec(b, t['shape'])), (1, 'i8', t['type']), (2, 'u32', t.get('buffer', 0)),
                        (3, 'off', b.CreateString(t['name']))])
              for t in e['tensors']]
        oo = []
        for o in e['ops']:
            opt = o['opt'](b) if 'opt' in o else None
            f = [(0, 'u32', o['code']), (1, 'off', _ivec(b, o['inputs'])), (2, 'off', _ivec(b, o['outputs']))]
            if opt is not None: f += [(3, 'u8', o['opt_type']), (4, 'off', opt)]
            oo.append(table(b, f))
        tv2, ov2 = _tvec(b, tt), _tvec(b, oo)
        iv2, outv2 = _ivec(b, e['inputs']), _ivec(b, e['outputs'])
        sg_offs.append(table(b, [(0, 'off', tv2), (1, 'off', iv2), (2, 'off', outv2), (3, 'off', ov2)]))
    c_offs = [table(b, [(0, 'i8', c['dep']), (2, 'i32', c.get('version', 1)), (3, 'i32', c['builtin'])])
              for c in codes]
    sig_offs = []
    for s in signatures:
        maps = []
        for side in ('inputs', 'outputs'):
            ms = [table(b, [(0, 'off', b.CreateString(alias)), (1, 'u32', ti)]) for alias, ti in s[side]]
            maps.append(_tvec(b, ms))
        key = b.CreateString(s['key'])
        sig_offs.append(table(b, [(0, 'off', maps[0]), (1, 'off', maps[1]), (2, 'off', key), (4, 'u32', 0)]))
    cv, sgv, bv = _tvec(b, c_offs), _tvec(b, sg_offs), _tvec(b, buf_offs)
    sv = _tvec(b, sig_offs)
    desc = b.CreateString('nnedge test model')
    root = table(b, [(0, 'u32', version), (1, 'off', cv), (2, 'off', sgv), (3, 'off', desc), (4, 'off', bv),
                     (7, 'off', sv)])
    b.Finish(root, file_identifier=b'TFL3')
    return bytes(b.Output()), tail


def model(tensors, ops, inputs, outputs, codes, buffers, signatures=(), version=3, extra_subgraphs=()):
    """The .tflite bytes; extra_subgraphs: more subgraphs (dicts of tensors,
    ops, inputs, outputs; tensors without quantization) after the main one."""
    # Buffers past the FlatBuffer need its final size: build once to learn
    # it (field sizes do not depend on the offset values), then again.
    fb, tail = _build(tensors, ops, inputs, outputs, codes, buffers, signatures, 1 << 40, version, extra_subgraphs)
    if not tail:
        return fb
    base = (len(fb) + 15) // 16 * 16
    fb2, tail = _build(tensors, ops, inputs, outputs, codes, buffers, signatures, base, version, extra_subgraphs)
    assert len(fb2) == len(fb)
    return fb2 + b'\0' * (base - len(fb2)) + tail


def f32(a):
    return struct.pack('<%df' % len(a), *a)


def i32(a):
    return struct.pack('<%di' % len(a), *a)
