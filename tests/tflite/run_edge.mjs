// Generated edge-case models (models/, made by gen_models.py): nnedge must
// agree with LiteRT (@litertjs/core, TFLite in WebAssembly) within
// 1e-4*max(1, max|ref|) + 1e-3*|ref| (+ the model's `atol`: one quantization
// step where the output went through int8/uint8), or refuse the model with
// exit 2 and the expected one-line message. Each model that runs is also
// written as ONNX by `nnedge convert`, and ONNX Runtime on that file must give
// nnedge's outputs (same tolerance and allowance: ONNX Runtime runs Q/DQ
// groups as integer kernels, which round differently).
//
//   node run_edge.mjs NNEDGE MODELS_DIR WORKDIR
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, writeNpy } from '../diff/npy.mjs';
import { runLiteRt } from './litert.mjs';

const [nnedge, dir, work] = process.argv.slice(2);
const ort = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../diff/package.json'))('onnxruntime-node');
const ORT_TYPES = { f4: 'float32', i1: 'int8', u1: 'uint8' };
mkdirSync(work, { recursive: true });

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

let pass = 0, fail = 0;
for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  const name = f.slice(0, -5);
  const spec = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const model = join(dir, `${name}.tflite`);
  const report = (ok, msg) => {
    if (ok) pass++;
    else fail++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${msg}`);
  };
  const infoRun = spawnSync(nnedge, ['info', model, '--json'], { encoding: 'utf8' });
  if (spec.expect !== 'litert') {
    const lines = infoRun.stderr.trim().split('\n');
    const ok = infoRun.status === spec.expect.exit && lines.length === 1 && new RegExp(spec.expect.stderr).test(lines[0]);
    report(ok, `exit ${infoRun.status}: ${infoRun.stderr.trim()}`);
    continue;
  }
  if (infoRun.status !== 0) {
    report(false, `nnedge info failed: ${infoRun.stderr.trim()}`);
    continue;
  }
  const info = JSON.parse(infoRun.stdout);
  const args = ['run', model, '-o', join(work, name), '--json'];
  const inputs = spec.inputs.map((s, k) => {
    const n = s.shape.reduce((a, b) => a * b, 1), r = rng(99 + k);
    const int = s.dtype !== 'f4';
    const data = s.dtype === 'i1' ? new Int8Array(n) : s.dtype === 'u1' ? new Uint8Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = int ? Math.floor(s.lo + (s.hi - s.lo + 1) * r()) : s.lo + (s.hi - s.lo) * r();
    const file = join(work, `${name}_in${k}.npy`);
    writeNpy(file, { dtype: s.dtype, shape: s.shape, data });
    args.push('-i', `${info.inputs[k].name}=${file}`);
    return { data, shape: s.shape };
  });
  const ran = spawnSync(nnedge, args, { encoding: 'utf8' });
  if (ran.status !== 0) {
    report(false, `nnedge run failed: ${ran.stderr.trim()}`);
    continue;
  }
  const got = JSON.parse(ran.stdout).outputs.map((o) => readNpy(o.file));
  // the reference: LiteRT on the same inputs (row by row for split_batch)
  let ref;
  if (spec.split_batch) {
    const rows = inputs[0].shape[0];
    ref = null;
    for (let r = 0; r < rows; r++) {
      const ins = inputs.map((x) => {
        const per = x.data.length / rows;
        return { data: x.data.slice(r * per, (r + 1) * per), shape: [1, ...x.shape.slice(1)] };
      });
      const out = await runLiteRt(new Uint8Array(readFileSync(model)), ins);
      if (!ref) ref = out.map((o) => ({ data: [], shape: o.shape }));
      out.forEach((o, k) => ref[k].data.push(...o.data));
    }
  } else {
    try {
      ref = await runLiteRt(new Uint8Array(readFileSync(model)), inputs);
    } catch (e) {
      report(false, `LiteRT failed: ${String(e.message).split('\n')[0]}`);
      continue;
    }
  }
  let ok = got.length === ref.length, worst = 0, msg = ok ? '' : `${got.length} outputs, LiteRT ${ref.length}`;
  for (let k = 0; ok && k < ref.length; k++) {
    const a = got[k].data, b = ref[k].data;
    if (a.length !== b.length) {
      ok = false;
      msg = `output ${k}: ${a.length} values, LiteRT ${b.length}`;
      break;
    }
    let maxRef = 0;
    for (const v of b) maxRef = Math.max(maxRef, Math.abs(v));
    for (let i = 0; i < b.length; i++) {
      const tol = 1e-4 * Math.max(1, maxRef) + 1e-3 * Math.abs(b[i]) + (spec.atol ?? 0);
      const err = Math.abs(Number(a[i]) - b[i]);
      worst = Math.max(worst, err / tol);
      if (!(err <= tol)) {
        ok = false;
        msg = `output ${k} [${i}]: ${a[i]} vs LiteRT ${b[i]} (tolerance ${tol})`;
        break;
      }
    }
  }
  // the same model through `nnedge convert` and ONNX Runtime
  if (ok) {
    const conv = join(work, `${name}.onnx`);
    const cv = spawnSync(nnedge, ['convert', model, '-o', conv], { encoding: 'utf8' });
    if (cv.status !== 0) {
      ok = false;
      msg = `nnedge convert failed: ${cv.stderr.trim()}`;
    } else {
      try {
        // graph optimizations off: ONNX Runtime then runs the file's own
        // semantics. Optimized, it fuses the Q/DQ pairs into its int8 kernels,
        // whose AVX2 u8 x s8 path (vpmaddubsw) saturates on full-range 8-bit
        // weights (TFLite's per-channel int8 weights use [-127, 127]): on an
        // AVX2-only CPU fc_int8_perchannel then differs by 52 steps there,
        // on AVX-512/VNNI CPUs not at all.
        const sess = await ort.InferenceSession.create(conv, { graphOptimizationLevel: 'disabled' });
        const feeds = {};
        sess.inputNames.forEach((n, k) => {
          feeds[n] = new ort.Tensor(ORT_TYPES[spec.inputs[k].dtype], inputs[k].data, inputs[k].shape);
        });
        const r = await sess.run(feeds);
        sess.outputNames.forEach((n, k) => {
          const a = got[k].data, b = r[n].data;
          let maxRef = 0;
          for (const v of b) maxRef = Math.max(maxRef, Math.abs(Number(v)));
          for (let i = 0; ok && i < b.length; i++) {
            const tol = 1e-4 * Math.max(1, maxRef) + 1e-3 * Math.abs(Number(b[i])) + (spec.atol ?? 0);
            if (!(Math.abs(Number(a[i]) - Number(b[i])) <= tol) || a.length !== b.length) {
              ok = false;
              msg = `converted ONNX, output ${k} [${i}]: nnedge ${a[i]} vs ONNX Runtime ${b[i]}`;
            }
          }
        });
      } catch (e) {
        ok = false;
        msg = `ONNX Runtime on the converted model: ${String(e.message).split('\n')[0]}`;
      }
    }
  }
  report(ok, msg || `max error ${worst.toFixed(3)} of tolerance; converted ONNX = nnedge in ONNX Runtime`);
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail || !pass ? 1 : 0);
