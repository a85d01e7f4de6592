// ort_check.mjs - the trained model, run by ONNX Runtime, agrees with nnedge.
//
//   node tests/train/ort_check.mjs MODEL.onnx INPUT.npy NNEDGE_OUTPUT.npy [--tol 1e-4]
//
// Loads MODEL with onnxruntime-node (tests/diff/node_modules), runs it on
// INPUT (float32, fed to the model's first input) and compares its first
// output with the one nnedge wrote: max |a - b| <= tol * (1 + max |b|).
// Prints one line; exit 0 when they agree, 1 otherwise.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../diff/npy.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../diff/package.json'));
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
let tol = 1e-4;
const ti = args.indexOf('--tol');
if (ti >= 0) { tol = Number(args[ti + 1]); args.splice(ti, 2); }
const [model, input, expected] = args;
const x = readNpy(input);
const want = readNpy(expected);
const sess = await ort.InferenceSession.create(model);
const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(x.data), x.shape) };
const out = (await sess.run(feeds))[sess.outputNames[0]];
let maxd = 0, maxv = 0;
if (out.data.length !== want.data.length) {
  console.log(`FAIL ${model}: ORT gives ${out.data.length} values, nnedge ${want.data.length}`);
  process.exit(1);
}
for (let i = 0; i < out.data.length; i++) {
  maxd = Math.max(maxd, Math.abs(out.data[i] - want.data[i]));
  maxv = Math.max(maxv, Math.abs(want.data[i]));
}
const ok = maxd <= tol * (1 + maxv);
console.log(`${ok ? 'PASS' : 'FAIL'} ${path.basename(model)}: ORT vs nnedge max |diff| ${maxd.toExponential(2)} (max |out| ${maxv.toFixed(3)})`);
process.exit(ok ? 0 : 1);
