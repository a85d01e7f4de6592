// rt_ort.mjs - the ONNX Runtime half of the round-trip test (tests/roundtrip/run.sh).
//
//   node rt_ort.mjs prep MODELS_DIR OUT_DIR   list the differential-test models (tests/diff) with
//                                             seeded inputs written to OUT_DIR as .npy: one line
//                                             "ORIG CONV npy NAME=FILE..." per model on stdout
//   node rt_ort.mjs check MANIFEST            for each "ORIG CONV NAME=FILE..." line: wherever ORT
//                                             loads ORIG, it must load CONV; wherever it runs ORIG
//                                             on the inputs, it must run CONV and give the same
//                                             outputs (counted: bit-identical, within tolerance)
//
// One process for all models (ORT sessions are created in-process, no spawns).
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { MODELS, modelPath, makeInput, inputMeta, sanitize } from '../diff/run_diff.mjs';
import { readNpy, writeNpy } from '../diff/npy.mjs';

const NPY_TO_ORT = {
  f4: 'float32', f8: 'float64', f2: 'float16', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64',
  u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64', b1: 'bool',
};
const TOL_ABS = 1e-4; // as in tests/diff: scaled by max(1, max|ref|)
const TOL_REL = 1e-3;

async function session(ort, path) {
  return ort.InferenceSession.create(path, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
  });
}

async function prep(ort, modelsDir, outDir) {
  mkdirSync(outDir, { recursive: true });
  for (const model of MODELS) {
    const path = modelPath(model.file, { modelsDir });
    if (!existsSync(path)) continue;
    const conv = join(outDir, `diff_${sanitize(model.name)}.onnx`);
    let s;
    try {
      s = await session(ort, path);
    } catch (e) {
      console.log(`${path}\t${conv}\tnone`);
      continue;
    }
    const meta = inputMeta(s);
    const fields = [];
    for (const n of meta.names) {
      const a = makeInput(model, n, meta.byName[n]);
      const f = join(outDir, `diff_${sanitize(model.name)}_${sanitize(n)}.npy`);
      writeNpy(f, a);
      fields.push(`${n}=${f}`);
    }
    console.log([path, conv, 'npy', ...fields].join('\t'));
    await s.release?.();
  }
}

function num(a, i) {
  const v = a[i];
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

function compare(x, y) {
  // 0: bit-identical, 1: within tolerance, -1: differs
  if (x.type !== y.type || x.dims.join() !== y.dims.join()) return -1;
  const bx = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
  const by = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength);
  if (bx.length === by.length && bx.every((b, i) => b === by[i])) return 0;
  if (typeof x.data[0] === 'string') return -1;
  let maxRef = 0;
  for (let i = 0; i < x.data.length; i++) maxRef = Math.max(maxRef, Math.abs(num(x.data, i)));
  for (let i = 0; i < x.data.length; i++) {
    const r = num(x.data, i), g = num(y.data, i);
    if (Number.isNaN(r) && Number.isNaN(g)) continue;
    if (!(Math.abs(g - r) <= TOL_ABS * Math.max(1, maxRef) + TOL_REL * Math.abs(r))) return -1;
  }
  return 1;
}

async function check(ort, manifest) {
  const lines = readFileSync(manifest, 'utf8').split('\n').filter((l) => l.trim());
  let n = 0, origFail = 0, loaded = 0, noInputs = 0, origRunFail = 0, ran = 0, identical = 0, fail = 0, nnedgeOnly = 0;
  for (const line of lines) {
    const [orig, conv, ...rest] = line.split('\t');
    n++;
    let a, b;
    try {
      a = await session(ort, orig);
    } catch (e) {
      if (process.env.RT_VERBOSE) console.log(`ORT cannot load ${orig}: ${String(e.message).split('\n')[0]}`);
      origFail++;
      continue;
    }
    // nodes of nnedge's own domain (fused ops ONNX Runtime does not have):
    // ORT cannot run such a model; counted and skipped, the nnedge side
    // (rt_check, the conformance and differential tests) checks them
    if (readFileSync(conv).includes('ai.nnedge')) {
      nnedgeOnly++;
      continue;
    }
    try {
      b = await session(ort, conv);
    } catch (e) {
      console.log(`FAIL ${orig}: ORT loads the original but not the converted model: ${String(e.message).split('\n')[0]}`);
      fail++;
      continue;
    }
    loaded++;
    const feeds = {};
    let complete = true;
    for (const f of rest) {
      if (f === 'npy' || f === 'none' || f === 'gen') continue;
      const eq = f.lastIndexOf('=');
      const name = f.slice(0, eq), file = f.slice(eq + 1);
      const t = readNpy(file);
      feeds[name] = new ort.Tensor(NPY_TO_ORT[t.dtype], t.dtype === 'b1' ? Uint8Array.from(t.data, Boolean) : t.data, t.shape);
    }
    for (const name of a.inputNames) if (!(name in feeds)) complete = false;
    if (!complete) {
      noInputs++;
      continue;
    }
    let ra, rb;
    try {
      ra = await a.run(feeds);
    } catch (e) {
      origRunFail++;
      continue;
    }
    try {
      rb = await b.run(feeds);
    } catch (e) {
      console.log(`FAIL ${orig}: ORT runs the original but not the converted model: ${String(e.message).split('\n')[0]}`);
      fail++;
      continue;
    }
    let worst = 0;
    for (const name of a.outputNames) {
      const c = name in rb ? compare(ra[name], rb[name]) : -1;
      if (c < 0) worst = -1;
      else if (worst >= 0) worst = Math.max(worst, c);
    }
    if (worst < 0) {
      console.log(`FAIL ${orig}: ORT outputs of the converted model differ from the original's`);
      fail++;
      continue;
    }
    ran++;
    if (worst === 0) identical++;
  }
  console.log(`rt_ort: ${n} models: ORT loads ${n - origFail} originals and ${loaded} of their conversions; ` +
    `${ran} ran with the same outputs (${identical} bit-identical, the rest within ${TOL_REL}/${TOL_ABS}); ` +
    `${origRunFail} originals fail to run in ORT, ${noInputs} without inputs to feed; ` +
    `${nnedgeOnly} skipped (they use nnedge's own ai.nnedge domain, which ORT cannot run); ${fail} failures`);
  return fail ? 1 : 0;
}

let ort;
try {
  // resolved from tests/diff, where the test packages are installed
  ort = createRequire(new URL('../diff/package.json', import.meta.url))('onnxruntime-node');
} catch (e) {
  console.error(`rt_ort: cannot load onnxruntime-node (${e.message.split('\n')[0]}); run: cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci`);
  process.exit(2);
}
const [mode, x, y] = process.argv.slice(2);
if (mode === 'prep') await prep(ort, x, y);
else if (mode === 'check') process.exit(await check(ort, x));
else {
  console.error('usage: rt_ort.mjs prep MODELS_DIR OUT_DIR | check MANIFEST');
  process.exit(2);
}
