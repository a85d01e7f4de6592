// Self-test of npy.mjs:  node --test tests/diff/npy_test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNpy, parseNpy, elementAsNumber, halfToFloat } from './npy.mjs';

function header(descr, shape, major = 1) {
  const s = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pre = major === 1 ? 10 : 12;
  const total = Math.ceil((pre + s.length + 1) / 64) * 64;
  const h = s.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, h.length, true); else dv.setUint32(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[pre + i] = h.charCodeAt(i);
  return out;
}

const cat = (a, b) => { const o = new Uint8Array(a.length + b.length); o.set(a); o.set(b, a.length); return o; };

test('round trip of every writable dtype', () => {
  const cases = [
    ['f4', Float32Array.from([1.5, -2, 3e-8, 1e30])],
    ['f8', Float64Array.from([Math.PI, -0, 1e-300, 7])],
    ['i1', Int8Array.from([-128, 0, 1, 127])],
    ['i2', Int16Array.from([-32768, 2, 3, 32767])],
    ['i4', Int32Array.from([-(2 ** 31), 1, 2, 2 ** 31 - 1])],
    ['i8', BigInt64Array.from([-(2n ** 63n), 1n, 16000n, 2n ** 63n - 1n])],
    ['u1', Uint8Array.from([0, 1, 200, 255])],
    ['u2', Uint16Array.from([0, 1, 2, 65535])],
    ['u4', Uint32Array.from([0, 1, 2, 2 ** 32 - 1])],
    ['u8', BigUint64Array.from([0n, 1n, 2n, 2n ** 64n - 1n])],
    ['b1', Uint8Array.from([0, 1, 1, 0])],
    ['f2', Uint16Array.from([0x3c00, 0xc000, 0x7c00, 0x0001])],
  ];
  for (const [dtype, data] of cases) {
    const a = parseNpy(formatNpy({ dtype, shape: [2, 2], data }));
    assert.equal(a.dtype, dtype);
    assert.deepEqual(a.shape, [2, 2]);
    assert.deepEqual(Array.from(a.data), Array.from(data), dtype);
  }
});

test('scalars, vectors and empty arrays', () => {
  const s = parseNpy(formatNpy({ shape: [], data: BigInt64Array.from([16000n]) }));
  assert.deepEqual(s.shape, []);
  assert.equal(elementAsNumber(s, 0), 16000);
  const v = parseNpy(formatNpy({ shape: [3], data: Float32Array.from([1, 2, 3]) }));
  assert.deepEqual(v.shape, [3]);
  const e = parseNpy(formatNpy({ shape: [0, 3], data: new Float32Array(0) }));
  assert.deepEqual(e.shape, [0, 3]);
  assert.equal(e.data.length, 0);
});

test('header is 64-byte aligned and numpy-shaped', () => {
  const b = formatNpy({ shape: [1, 3], data: new Float32Array(3) });
  const hl = b[8] | (b[9] << 8);
  assert.equal((10 + hl) % 64, 0);
  const text = new TextDecoder().decode(b.subarray(10, 10 + hl));
  assert.match(text, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 3\), \} *\n$/);
  const b1 = formatNpy({ shape: [5], data: new Float32Array(5) });
  assert.match(new TextDecoder().decode(b1.subarray(10, 80)), /'shape': \(5,\)/);
});

test('big-endian data, versions 2.0 and 3.0, bool spelled ?', () => {
  const be = new Uint8Array(8);
  new DataView(be.buffer).setFloat32(0, 1.25, false);
  new DataView(be.buffer).setFloat32(4, -3, false);
  assert.deepEqual(Array.from(parseNpy(cat(header('>f4', '(2,)'), be)).data), [1.25, -3]);
  const le = new Uint8Array(new Float32Array([4, 5]).buffer);
  assert.deepEqual(Array.from(parseNpy(cat(header('<f4', '(2,)', 2), le)).data), [4, 5]);
  assert.deepEqual(Array.from(parseNpy(cat(header('<f4', '(1, 2)', 3), le)).data), [4, 5]);
  const b = parseNpy(cat(header('|?', '(2,)'), Uint8Array.from([1, 0])));
  assert.equal(b.dtype, 'b1');
  // a Buffer that is a view into a larger pool
  const pool = Buffer.concat([Buffer.alloc(13), Buffer.from(cat(header('<f4', '(2,)'), le))]);
  assert.deepEqual(Array.from(parseNpy(pool.subarray(13)).data), [4, 5]);
});

test('errors', () => {
  assert.throws(() => parseNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 1, 0, 0, 0])), /magic/);
  assert.throws(() => parseNpy(cat(header('<c8', '(1,)'), new Uint8Array(8))), /unsupported dtype/);
  assert.throws(() => parseNpy(cat(header('<f4', '(4,)'), new Uint8Array(8))), /truncated/);
  const f = header('<f4', '(1,)').slice();
  const t = new TextDecoder().decode(f).replace("'fortran_order': False", "'fortran_order': True ");
  assert.throws(() => parseNpy(cat(new TextEncoder().encode(t).map((c, i) => (i < 10 ? f[i] : c)), new Uint8Array(4))), /fortran/);
  assert.throws(() => formatNpy({ shape: [2], data: new Float32Array(3) }), /needs 2/);
});

test('half floats', () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(halfToFloat(0x0001), 2 ** -24);
});
