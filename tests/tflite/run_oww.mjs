// openWakeWord twins: each .tflite that shares its weights with its .onnx
// twin (twins.py decides, from the weights) must give ONNX Runtime's outputs
// on the twin within 1e-4*max(1, max|ref|) + 1e-3*|ref|.
//
//   node run_oww.mjs NNEDGE MODELS_DIR WORKDIR
//
// Inputs: seeded uniform noise in [-1, 1) (x1000 for raw audio, rank-2
// inputs), dynamic dims set to 1 (batch) or 1600 (other).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, writeNpy } from '../diff/npy.mjs';

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
for (const [name, verdict] of twins) {
  if (verdict !== 'twin') {
    console.log(`SKIP ${name}: the .onnx twin has other weights`);
    continue;
  }
  const tfl = join(modelsDir, `${name}.tflite`);
  const info = JSON.parse(execFileSync(nnedge, ['info', tfl, '--json'], { encoding: 'utf8' }));
  const sess = await ort.InferenceSession.create(join(modelsDir, `${name}.onnx`));
  const args = ['run', tfl, '-o', join(work, name)];
  const feeds = {};
  info.inputs.forEach((inp, k) => {
    const shape = inp.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : i === 0 ? 1 : 1600));
    const n = shape.reduce((a, b) => a * b, 1);
    const r = rng(1234 + k), data = new Float32Array(n);
    const scale = shape.length === 2 ? 1000 : 1;
    for (let i = 0; i < n; i++) data[i] = (r() * 2 - 1) * scale;
    const file = join(work, `${name}_in${k}.npy`);
    writeNpy(file, { dtype: 'f4', shape, data });
    args.push('-i', `${inp.name}=${file}`);
    feeds[sess.inputNames[k]] = new ort.Tensor('float32', data, shape);
  });
  args.push('--json');
  const ran = JSON.parse(execFileSync(nnedge, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const ref = await sess.run(feeds);
  let worst = 0, ok = true, msg = '', stats = '';
  info.outputs.forEach((o, k) => {
    const got = readNpy(ran.outputs[k].file);
    const r = ref[sess.outputNames[k]];
    if (got.data.length !== r.data.length) {
      ok = false;
      msg = `output ${k}: ${got.data.length} values, ONNX Runtime ${r.data.length}`;
      return;
    }
    let maxRef = 0;
    for (const v of r.data) maxRef = Math.max(maxRef, Math.abs(v));
    stats += ` [${r.data.length} values, max|ref| ${maxRef.toPrecision(3)}]`;
    for (let i = 0; i < r.data.length; i++) {
      const tol = 1e-4 * Math.max(1, maxRef) + 1e-3 * Math.abs(r.data[i]);
      const err = Math.abs(got.data[i] - r.data[i]);
      if (!(err <= tol)) {
        ok = false;
        msg = `output ${k} [${i}]: ${got.data[i]} vs ${r.data[i]} (tolerance ${tol})`;
      }
      worst = Math.max(worst, err / tol);
    }
  });
  if (ok) pass++;
  else fail++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: max error ${worst.toFixed(3)} of tolerance${stats}${msg ? ': ' + msg : ''}`);
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail || !pass ? 1 : 0);
