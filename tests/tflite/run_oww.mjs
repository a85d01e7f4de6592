// openWakeWord twins: each .tflite that shares its weights with its .onnx
// twin (twins.py decides, from the weights) must give ONNX Runtime's outputs
// on the twin within 1e-4*max(1, max|ref|) + 1e-3*|ref|.
//
//   node run_oww.mjs NNEDGE MODELS_DIR WORKDIR
//
// A model whose twin differs is compared with LiteRT (@litertjs/core) instead.
// Every .tflite is also written as ONNX by `nnedge convert`: ONNX Runtime on
// that file must give nnedge's outputs on the .tflite (same tolerance).
//
// Inputs: seeded uniform noise in [-1, 1) (x1000 for raw audio, rank-2
// inputs), dynamic dims set to 1 (batch) or 1600 (other).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, writeNpy } from '../diff/npy.mjs';
import { runLiteRt } from './litert.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../diff/package.json'));
const ort = require('onnxruntime-node');

const [nnedge, modelsDir, work] = process.argv.slice(2);
mkdirSync(work, { recursive: true });

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

const twins = execFileSync('/usr/bin/python3', [join(here, 'twins.py'), modelsDir], { encoding: 'utf8' })
  .trim().split('\n').map((l) => l.split(' '));
let pass = 0, fail = 0;
function compare(got, ref, names) {
  let worst = 0, ok = true, msg = '', stats = '';
  got.forEach((g, k) => {
    const r = ref[names[k]];
    if (g.data.length !== r.data.length) {
      ok = false;
      msg = `output ${k}: ${g.data.length} values, ONNX Runtime ${r.data.length}`;
      return;
    }
    let maxRef = 0;
    for (const v of r.data) maxRef = Math.max(maxRef, Math.abs(v));
    stats += ` [${r.data.length} values, max|ref| ${maxRef.toPrecision(3)}]`;
    for (let i = 0; i < r.data.length; i++) {
      const tol = 1e-4 * Math.max(1, maxRef) + 1e-3 * Math.abs(r.data[i]);
      const err = Math.abs(g.data[i] - r.data[i]);
      if (!(err <= tol)) {
        ok = false;
        msg = `output ${k} [${i}]: ${g.data[i]} vs ${r.data[i]} (tolerance ${tol})`;
      }
      worst = Math.max(worst, err / tol);
    }
  });
  return { ok, text: `max error ${worst.toFixed(3)} of tolerance${stats}${msg ? ': ' + msg : ''}` };
}

for (const [name, verdict] of twins) {
  const tfl = join(modelsDir, `${name}.tflite`);
  const info = JSON.parse(execFileSync(nnedge, ['info', tfl, '--json'], { encoding: 'utf8' }));
  const conv = join(work, `${name}.converted.onnx`);
  execFileSync(nnedge, ['convert', tfl, '-o', conv], { stdio: ['ignore', 'ignore', 'inherit'] });
  const sess = await ort.InferenceSession.create(verdict === 'twin' ? join(modelsDir, `${name}.onnx`) : conv);
  const csess = await ort.InferenceSession.create(conv);
  const args = ['run', tfl, '-o', join(work, name)];
  const feeds = [];
  info.inputs.forEach((inp, k) => {
    const shape = inp.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : i === 0 ? 1 : 1600));
    const n = shape.reduce((a, b) => a * b, 1);
    const r = rng(1234 + k), data = new Float32Array(n);
    const scale = shape.length === 2 ? 1000 : 1;
    for (let i = 0; i < n; i++) data[i] = (r() * 2 - 1) * scale;
    const file = join(work, `${name}_in${k}.npy`);
    writeNpy(file, { dtype: 'f4', shape, data });
    args.push('-i', `${inp.name}=${file}`);
    feeds[k] = new ort.Tensor('float32', data, shape);
  });
  const feedsFor = (se) => Object.fromEntries(se.inputNames.map((n, k) => [n, feeds[k]]));
  args.push('--json');
  const ran = JSON.parse(execFileSync(nnedge, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const got = ran.outputs.map((o) => readNpy(o.file));
  const checks = [['converted', csess]];
  if (verdict === 'twin') checks.unshift(['twin', sess]);
  else {
    console.log(`SKIP ${name} vs its .onnx twin: ${verdict}`);
    const lt = await runLiteRt(new Uint8Array(readFileSync(tfl)), feeds.map((t) => ({ data: t.data, shape: t.dims })));
    const names = lt.map((_, k) => `o${k}`);
    const r = compare(got, Object.fromEntries(lt.map((o, k) => [names[k], o])), names);
    if (r.ok) pass++;
    else fail++;
    console.log(`${r.ok ? 'PASS' : 'FAIL'} ${name} (LiteRT on the .tflite): ${r.text}`);
  }
  for (const [what, se] of checks) {
    const r = compare(got, await se.run(feedsFor(se)), se.outputNames);
    if (r.ok) pass++;
    else fail++;
    console.log(`${r.ok ? 'PASS' : 'FAIL'} ${name} (${what === 'twin' ? 'ONNX Runtime on the .onnx twin' : 'ONNX Runtime on nnedge convert'}): ${r.text}`);
  }
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail || !pass ? 1 : 0);
