// ort_run.mjs - run an ONNX model with ONNX Runtime (test-only oracle; never
// linked into nnedge) on one .npy input and write output 0 as .npy.
//
//   node tests/quant/ort_run.mjs MODEL.onnx INPUT.npy OUT.npy [--batch N] [--name INPUT_NAME]
//
// The input is split along axis 0 into batches of N (default: the whole
// array) when the model's batch dim is free; a model with a fixed batch dim
// runs one batch of that size at a time. Prints one JSON line: the input
// name, samples run, milliseconds. Exit 2 when ORT cannot load or run it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { readNpy, writeNpy } from '../diff/npy.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(HERE, '../diff/package.json'));

const args = process.argv.slice(2);
const pos = [];
let batch = 0;
let name = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--batch') batch = parseInt(args[++i], 10);
  else if (args[i] === '--name') name = args[++i];
  else pos.push(args[i]);
}
if (pos.length !== 3) {
  console.error('usage: node ort_run.mjs MODEL.onnx INPUT.npy OUT.npy [--batch N] [--name INPUT]');
  process.exit(2);
}
const [modelPath, inPath, outPath] = pos;
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.error(`ort_run: cannot load onnxruntime-node (${e.message.split('\n')[0]}); ` +
    'run: cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci');
  process.exit(2);
}
let session;
try {
  session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: process.env.ORT_OPT || 'all',
  });
} catch (e) {
  console.error(`ort_run: ONNX Runtime cannot load ${modelPath}: ${e.message.split('\n')[0]}`);
  process.exit(2);
}
const x = readNpy(inPath);
const inName = name || session.inputNames[0];
const meta = Array.isArray(session.inputMetadata) ? session.inputMetadata.find((m) => m.name === inName) : null;
const fixed = meta && meta.shape && typeof meta.shape[0] === 'number' && meta.shape[0] > 0 ? meta.shape[0] : 0;
const n = x.shape[0];
const per = x.data.length / n;
const b = fixed || batch || n;
const outs = [];
let outShape = null;
const t0 = Date.now();
try {
  for (let i = 0; i < n; i += b) {
    const cnt = Math.min(b, n - i);
    const feed = new ort.Tensor('float32', x.data.subarray(i * per, (i + cnt) * per), [cnt, ...x.shape.slice(1)]);
    const res = await session.run({ [inName]: feed });
    const o = res[session.outputNames[0]];
    outShape = o.dims.slice(1);
    outs.push(o.data);
  }
} catch (e) {
  console.error(`ort_run: ONNX Runtime cannot run ${modelPath}: ${e.message.split('\n')[0]}`);
  process.exit(2);
}
const total = outs.reduce((a, o) => a + o.length, 0);
const data = new Float32Array(total);
let off = 0;
for (const o of outs) { data.set(o, off); off += o.length; }
writeNpy(outPath, { dtype: 'f4', shape: [n, ...outShape], data });
console.log(JSON.stringify({ input: inName, samples: n, ms: Date.now() - t0 }));
