// Minimal NumPy .npy reader/writer (format versions 1.0, 2.0, 3.0).
//
// An array is { dtype, shape, data }:
//   dtype  one of 'f2' 'f4' 'f8' 'i1' 'i2' 'i4' 'i8' 'u1' 'u2' 'u4' 'u8' 'b1'
//   shape  array of non-negative integers ([] for a scalar)
//   data   the matching typed array (f2 as Uint16Array of raw half bits,
//          i8/u8 as BigInt64Array/BigUint64Array, b1 as Uint8Array of 0/1)
// C order only. Reading accepts little- and big-endian files ('|' too);
// writing always produces version 1.0 (2.0 if the header is too long),
// little-endian.

import { readFileSync, writeFileSync } from 'node:fs';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export const DTYPES = {
  f2: { size: 2, ctor: Uint16Array },
  f4: { size: 4, ctor: Float32Array },
  f8: { size: 8, ctor: Float64Array },
  i1: { size: 1, ctor: Int8Array },
  i2: { size: 2, ctor: Int16Array },
  i4: { size: 4, ctor: Int32Array },
  i8: { size: 8, ctor: BigInt64Array },
  u1: { size: 1, ctor: Uint8Array },
  u2: { size: 2, ctor: Uint16Array },
  u4: { size: 4, ctor: Uint32Array },
  u8: { size: 8, ctor: BigUint64Array },
  b1: { size: 1, ctor: Uint8Array },
};

const hostLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function numel(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parse the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), } */
function parseHeader(text) {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new Error(`npy: malformed header: ${text.trim()}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) throw new Error(`npy: bad dimension '${s}'`);
      return v;
    });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims };
}

function normalizeDescr(descr) {
  // '<f4' '>i8' '|u1' '|b1' '?' 'bool' ...
  let d = descr;
  let order = '<';
  if (d[0] === '<' || d[0] === '>' || d[0] === '|' || d[0] === '=') {
    order = d[0];
    d = d.slice(1);
  }
  if (d === '?' || d === 'bool') d = 'b1';
  if (!(d in DTYPES)) throw new Error(`npy: unsupported dtype '${descr}'`);
  const big = order === '>' || (order === '=' && !hostLittle);
  return { dtype: d, bigEndian: big && DTYPES[d].size > 1 };
}

/** Decode an .npy file held in a Buffer/Uint8Array. */
export function parseNpy(buf) {
  // a plain Uint8Array view (Buffer.slice would not copy)
  const u8 = ArrayBuffer.isView(buf)
    ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    : new Uint8Array(buf);
  for (let i = 0; i < 6; i++) {
    if (u8[i] !== MAGIC[i]) throw new Error('npy: bad magic');
  }
  const major = u8[6];
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  let hlen;
  let hstart;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    hstart = 10;
  } else if (major === 2 || major === 3) {
    hlen = dv.getUint32(8, true);
    hstart = 12;
  } else {
    throw new Error(`npy: unsupported version ${major}.${u8[7]}`);
  }
  if (hstart + hlen > u8.length) throw new Error('npy: truncated header');
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(u8.subarray(hstart, hstart + hlen));
  const h = parseHeader(text);
  if (h.fortran) throw new Error('npy: fortran_order arrays are not supported');
  const { dtype, bigEndian } = normalizeDescr(h.descr);
  const { size, ctor } = DTYPES[dtype];
  const n = numel(h.shape);
  const off = hstart + hlen;
  if (off + n * size > u8.length) {
    throw new Error(`npy: truncated data (need ${n * size} bytes, have ${u8.length - off})`);
  }
  const bytes = u8.slice(off, off + n * size); // copy: aligned, owned
  // swap in place when the file's byte order differs from the host's
  if (size > 1 && bigEndian === hostLittle) {
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  return { dtype, shape: h.shape, data: new ctor(bytes.buffer, 0, n) };
}

export function readNpy(path) {
  return parseNpy(readFileSync(path));
}

/** Pick the npy dtype code of a typed array (b1 must be asked for explicitly). */
export function dtypeOf(data) {
  for (const [k, v] of Object.entries(DTYPES)) {
    if (k === 'f2' || k === 'b1') continue;
    if (data instanceof v.ctor) return k;
  }
  throw new Error('npy: unsupported typed array');
}

/** Encode { dtype?, shape, data } into .npy bytes (little-endian, C order). */
export function formatNpy({ dtype, shape, data }) {
  const dt = dtype || dtypeOf(data);
  const { size } = DTYPES[dt];
  const n = numel(shape);
  if (data.length !== n) throw new Error(`npy: data has ${data.length} elements, shape ${JSON.stringify(shape)} needs ${n}`);
  const descr = size === 1 ? `|${dt}` : `<${dt}`;
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let major = 1;
  let pre = 10;
  if (header.length + 1 + pre > 65535) {
    major = 2;
    pre = 12;
  }
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + n * size);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  const body = new Uint8Array(data.buffer, data.byteOffset, n * size);
  out.set(body, total);
  if (!hostLittle && size > 1) {
    for (let i = total; i < out.length; i += size) out.subarray(i, i + size).reverse();
  }
  return out;
}

export function writeNpy(path, arr) {
  writeFileSync(path, formatNpy(arr));
}

/** Half-precision bits -> number. */
export function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Element i as a JS number (bigints converted, halves decoded). */
export function elementAsNumber(arr, i) {
  const v = arr.data[i];
  if (arr.dtype === 'f2') return halfToFloat(v);
  return typeof v === 'bigint' ? Number(v) : v;
}
