// ort_rss.mjs - peak memory of ONNX Runtime on one model, in a process of its
// own (bench/run_bench.mjs runs it once per model and thread count):
//
//   node bench/ort_rss.mjs MODEL THREADS RUNS NAME=FILE.npy...
//
// The baseline is this process's resident set once onnxruntime-node is
// loaded (node plus the runtime's own code); the peak is VmHWM after creating
// the session (graphOptimizationLevel 'all', THREADS intra-op threads) and
// RUNS runs on the given inputs. Prints one JSON line:
// {"baseline_rss_bytes", "peak_rss_bytes", "ort_rss_bytes": peak - baseline}.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../tests/diff/npy.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NPY_TO_ORT = {
  f4: 'float32', f8: 'float64', f2: 'float16', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64',
  u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64', b1: 'bool',
};

function status(key) {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const [model, threadsArg, runsArg, ...inputs] = process.argv.slice(2);
if (!model || !threadsArg || !runsArg) {
  console.error('usage: ort_rss.mjs MODEL THREADS RUNS NAME=FILE.npy...');
  process.exit(2);
}
const ort = createRequire(join(ROOT, 'tests', 'diff', 'package.json'))('onnxruntime-node');
const feeds = {};
for (const f of inputs) {
  const eq = f.lastIndexOf('=');
  const t = readNpy(f.slice(eq + 1));
  feeds[f.slice(0, eq)] = new ort.Tensor(NPY_TO_ORT[t.dtype], t.dtype === 'b1' ? Uint8Array.from(t.data, Boolean) : t.data, t.shape);
}
globalThis.gc?.();
const baseline = status('VmRSS');
const session = await ort.InferenceSession.create(model, {
  executionProviders: ['cpu'], intraOpNumThreads: Number(threadsArg), interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
for (let i = 0; i < Number(runsArg); i++) await session.run(feeds);
const peak = status('VmHWM');
console.log(JSON.stringify({ baseline_rss_bytes: baseline, peak_rss_bytes: peak, ort_rss_bytes: peak - baseline }));
