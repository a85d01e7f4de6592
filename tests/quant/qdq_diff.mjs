#!/usr/bin/env node
// Differential test of nnedge's int8 runtime against ONNX Runtime
// (onnxruntime-node from tests/diff/node_modules, test-only) on QDQ models.
//
//   node tests/quant/qdq_diff.mjs [MODEL.onnx...] [--small] [--nnedge PATH] [--threads N] [--max-steps S]
//        [--ort-level disabled|basic|extended|all] [-v]
//
// Default models: tests/quant/models/*.onnx except *_f32 (the committed
// small QDQ models) plus, when present, build/models/*-int8.onnx (made by
// scripts/qdq_insert.py, see tests/quant/quant.mk). Each gets seeded uniform
// [0, 1) inputs; ORT runs it at graphOptimizationLevel 'all' (its QDQ
// fusion and int8 kernels), nnedge with `--optimize all` (the qdq_fusion
// pass and nnedge's int8 kernels). --ort-level disabled makes ORT run the
// QDQ graph as written (DequantizeLinear, float op, QuantizeLinear): the
// semantics of the file, which `make test-quant` requires. Outputs are
// dequantized int8 values, compared in quantization steps: the step of an
// output is the scale of the DequantizeLinear that makes it (read with
// python3-onnx), else the smallest gap between ORT's distinct values.
// --small: the committed models only. A model passes when every element is within --max-steps steps
// (default 1 for the small models; the whole networks accumulate the
// one-step rounding differences of every layer, so for them the test
// requires the same top-1 class and reports the step statistics).
// Prints PASS/FAIL per model and "N passed, M failed"; exit 1 on a failure.

import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, writeNpy } from '../diff/npy.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');

const o = { models: [], nnedge: process.env.NNEDGE || join(ROOT, 'build', 'nnedge'), threads: 1, maxSteps: 1,
  verbose: false, ortLevel: 'all', work: join(ROOT, 'build', 'quant_diff') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--nnedge') o.nnedge = argv[++i];
  else if (a === '--threads') o.threads = Number(argv[++i]);
  else if (a === '--max-steps') o.maxSteps = Number(argv[++i]);
  else if (a === '-v') o.verbose = true;
  else if (a === '--ort-level') o.ortLevel = argv[++i];
  else if (a === '--small') o.small = true;
  else if (a.startsWith('-')) { console.error(`qdq_diff: unknown option ${a}`); process.exit(2); }
  else o.models.push(a);
}
if (!o.models.length) {
  const md = join(HERE, 'models');
  for (const f of readdirSync(md).sort()) if (f.endsWith('.onnx') && !f.includes('_f32')) o.models.push(join(md, f));
  const bm = join(ROOT, 'build', 'models');
  if (!o.small && existsSync(bm)) for (const f of readdirSync(bm).sort()) if (f.endsWith('-int8.onnx')) o.models.push(join(bm, f));
}

let ort;
try {
  ort = createRequire(join(ROOT, 'tests', 'diff', 'package.json'))('onnxruntime-node');
} catch (e) {
  console.error('qdq_diff: cannot load onnxruntime-node; run: cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci');
  process.exit(2);
}

// mulberry32: seeded uniform [0, 1)
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The scale of every graph output made by a DequantizeLinear with a constant
// scalar scale (python3-onnx reads the model); other outputs fall back to
// the smallest gap between ORT's values.
function outputScales(path) {
  const py = process.env.PYTHON || '/usr/bin/python3';
  const code = 'import json,sys,onnx\nfrom onnx import numpy_helper\nm=onnx.load(sys.argv[1])\n' +
    'I={i.name:numpy_helper.to_array(i) for i in m.graph.initializer}\nP={o:n for n in m.graph.node for o in n.output}\n' +
    'r={}\nfor o in m.graph.output:\n n=P.get(o.name)\n' +
    ' if n is not None and n.op_type=="DequantizeLinear" and n.input[1] in I and I[n.input[1]].size==1:\n' +
    '  r[o.name]=float(I[n.input[1]])\nprint(json.dumps(r))\n';
  const p = spawnSync(py, ['-c', code, path], { encoding: 'utf8' });
  if (p.status !== 0) return {};
  try { return JSON.parse(p.stdout); } catch { return {}; }
}

function stepOf(data) {
  const v = Float64Array.from(data).sort();
  let step = Infinity;
  for (let i = 1; i < v.length; i++) if (v[i] > v[i - 1]) step = Math.min(step, v[i] - v[i - 1]);
  return step;
}

function argmax(d) { let b = 0; for (let i = 1; i < d.length; i++) if (d[i] > d[b]) b = i; return b; }

mkdirSync(o.work, { recursive: true });
let passed = 0, failed = 0;
for (const path of o.models) {
  const name = basename(path, '.onnx');
  const small = path.startsWith(join(HERE, 'models'));
  try {
    const sess = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: o.threads,
      interOpNumThreads: 1, graphOptimizationLevel: o.ortLevel });
    const meta = sess.inputMetadata;
    const feeds = {};
    const args = ['run', path, '--optimize', 'all', '--threads', String(o.threads), '-o', join(o.work, name), '--json'];
    const r = rng(0x71647120);
    sess.inputNames.forEach((n, k) => {
      const m = Array.isArray(meta) ? meta.find((x) => x.name === n) || meta[k] : null;
      const shape = (m?.shape ?? [1]).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = r();
      feeds[n] = new ort.Tensor('float32', data, shape);
      const f = join(o.work, `${name}_${k}.npy`);
      writeNpy(f, { dtype: 'f4', shape, data });
      args.push('-i', `${n}=${f}`);
    });
    const res = await sess.run(feeds);
    const p = spawnSync(o.nnedge, args, { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`nnedge exit ${p.status}: ${p.stderr.trim().split('\n')[0]}`);
    const outs = JSON.parse(p.stdout).outputs;
    const notes = [];
    const scales = outputScales(path);
    let ok = true;
    for (const on of sess.outputNames) {
      const want = res[on].data;
      const got = readNpy(outs.find((x) => x.name === on).file).data;
      if (got.length !== want.length) throw new Error(`${on}: ${got.length} elements, ORT ${want.length}`);
      const step = scales[on] ?? stepOf(want);
      let worst = 0, over1 = 0;
      for (let i = 0; i < want.length; i++) {
        const s = Math.abs(got[i] - want[i]) / step;
        worst = Math.max(worst, s);
        if (s > 1.01) over1++;
      }
      const top = argmax(got) === argmax(want);
      notes.push(`${on}: max ${worst.toFixed(2)} steps, ${(100 * over1 / want.length).toFixed(2)}% > 1 step, ` +
        `top-1 ${top ? 'same' : 'DIFFERENT'}`);
      if (small ? worst > o.maxSteps + 0.01 : !top) ok = false;
    }
    if (ok) { passed++; console.log(`PASS ${name} (${notes.join('; ')})`); }
    else { failed++; console.log(`FAIL ${name}: ${notes.join('; ')}`); }
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
