#!/usr/bin/env node
// Benchmark: nnedge vs ONNX Runtime (onnxruntime-node, test-only; ONNX
// Runtime is never linked into nnedge) on the ten models of issue 15 (the
// torchvision set and PaddleOCR v4 det at 1x3x640x640 and rec at 1x3x48x320;
// --all: every model of the differential tests), with the seeded inputs of
// tests/diff/run_diff.mjs (same model table).
//
//   node bench/run_bench.mjs [FILTER...] [--all] [--int8 [--int8-file SUFFIX]] [--threads 1,2] [--runs N] [--warmup W]
//        [--rounds R] [--optimize LEVEL] [--nnedge PATH] [--models-dir DIR] [--work DIR]
//        [--json FILE] [--markdown] [-v]
//
// --int8: every selected model M whose QDQ file M-int8.onnx is in the
// models folder (`make quant-models`: `nnedge quantize` with random
// calibration data, its default 7-bit weights) is benchmarked as M-int8
// instead: nnedge and ORT on the QDQ file, and in the same rounds,
// alternately, nnedge on the float M (the same runner, inputs and
// --optimize level as a plain run), so the table also gives nnedge's
// int8/fp32 ratio. --int8-file SUFFIX takes M-SUFFIX.onnx instead (e.g.
// int8-fr: the full-range ORT-layout files of scripts/qdq_insert.py).
//
// For every model and thread count T it alternates R rounds of
//   nnedge: `nnedge bench MODEL --shape NAME=DIMS... -i NAME=FILE.npy...
//            --runs N --warmup W --threads T --optimize LEVEL --json` (a fresh
//            process; its median_ms is taken, load, optimize and prepare are
//            not timed; LEVEL defaults to all, as ORT's), and
//   ORT:    W untimed then N timed session.run() calls on one session with
//            intraOpNumThreads=T, interOpNumThreads=1, graphOptimizationLevel
//            'all' (the median is taken),
// so that both see the same machine state. Each runtime's result is the
// median of its R round medians. Both get the same inputs: the .npy files
// written here from tests/diff's seeded generator (the values matter for
// models with data-dependent control flow, e.g. silero's sample rate).
// Peak memory: nnedge's is the peak RSS `nnedge bench` reports (the whole
// process); ORT's is measured once per model and thread count in a process
// of its own (bench/ort_rss.mjs): its peak minus its baseline with node and
// onnxruntime-node loaded.
// Prints a table per thread count (nnedge median, ORT median, ratio
// nnedge/ORT; ratio > 1 means nnedge is slower; both peak RSS figures) and
// the geometric mean of the ratios. --json FILE also writes every number (plus nnedge's p90, min,
// prepare time, arena and peak RSS); --markdown prints the tables as
// Markdown for bench/README.md.
//
// Exit status: 0 when every model ran on both runtimes, 1 if any failed,
// 2 on bad usage.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { MODELS, inputMeta, makeInput, modelPath, sanitize } from '../tests/diff/run_diff.mjs';
import { writeNpy } from '../tests/diff/npy.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

// The models of issue 15, and the input shapes the benchmark uses where
// they differ from the differential tests'.
const BENCH_SET = ['mobilenet_v2', 'mobilenet_v3_small', 'resnet18', 'resnet50', 'squeezenet1_1',
  'shufflenet_v2_x1_0', 'efficientnet_b0', 'googlenet', 'ocr_det_v4', 'ocr_rec_v4'];
const BENCH_SHAPES = { ocr_det_v4: { x: [1, 3, 640, 640] }, ocr_rec_v4: { x: [1, 3, 48, 320] } };

// nnedge's Conv, Gemm, MatMul and pooling kernels split their work over the
// plan's thread pool (--threads); false would note that they did not.
const NNEDGE_KERNELS_THREADED = true;

function usage(msg) {
  if (msg) console.error(`run_bench: ${msg}`);
  console.error('usage: node bench/run_bench.mjs [FILTER...] [--all] [--threads 1,2] [--runs N] [--warmup W] ' +
    '[--int8 [--int8-file SUFFIX]] [--rounds R] [--optimize none|basic|all] [--nnedge PATH] [--models-dir DIR] [--work DIR] [--json FILE] ' +
    '[--markdown] [-v]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    filters: [],
    threads: [1, 2],
    runs: 10,
    warmup: 2,
    rounds: 2,
    nnedge: process.env.NNEDGE || join(ROOT, 'build', 'nnedge'),
    modelsDir: process.env.NNEDGE_MODELS || join(ROOT, 'build', 'models'),
    work: join(ROOT, 'build', 'bench'),
    json: null,
    all: false,
    optimize: 'all',
    markdown: false,
    timeout: 900,
    verbose: false,
  };
  const int = (s, name, lo) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < lo) usage(`${name} needs an integer >= ${lo}, got ${s}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--threads') o.threads = val().split(',').map((t) => int(t, '--threads', 1));
    else if (a === '--runs') o.runs = int(val(), '--runs', 1);
    else if (a === '--warmup') o.warmup = int(val(), '--warmup', 0);
    else if (a === '--rounds') o.rounds = int(val(), '--rounds', 1);
    else if (a === '--nnedge') o.nnedge = val();
    else if (a === '--models-dir') o.modelsDir = val();
    else if (a === '--work') o.work = val();
    else if (a === '--json') o.json = val();
    else if (a === '--timeout') o.timeout = int(val(), '--timeout', 1);
    else if (a === '--markdown') o.markdown = true;
    else if (a === '--all') o.all = true;
    else if (a === '--int8') o.int8 = true;
    else if (a === '--int8-file') o.int8File = val();
    else if (a === '--optimize') {
      o.optimize = val();
      if (!['none', 'basic', 'all'].includes(o.optimize)) usage(`--optimize ${o.optimize}: expected none, basic or all`);
    }
    else if (a === '-v' || a === '--verbose') o.verbose = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else o.filters.push(a);
  }
  o.nnedge = resolve(o.nnedge);
  o.modelsDir = resolve(o.modelsDir);
  o.work = resolve(o.work);
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};
const geomean = (xs) => Math.exp(xs.reduce((acc, x) => acc + Math.log(x), 0) / xs.length);
const mb = (b) => (typeof b === 'number' && Number.isFinite(b) ? (b / 1048576).toFixed(1) : '-');
const ms = (x) => (x === undefined || x === null ? '-' : x >= 100 ? x.toFixed(1) : x >= 10 ? x.toFixed(2) : x.toFixed(3));
const firstLine = (s) => (s || '').trim().split('\n').filter((l) => l.trim())[0] || '';

// onnxruntime-node lives in tests/diff/node_modules (npm ci there).
async function loadOrt() {
  try {
    return createRequire(join(ROOT, 'tests', 'diff', 'package.json'))('onnxruntime-node');
  } catch (e) {
    console.error(`run_bench: cannot load onnxruntime-node (${e.message.split('\n')[0]}); ` +
      'run: cd tests/diff && ONNXRUNTIME_NODE_INSTALL=skip npm ci');
    process.exit(2);
  }
}

/** Seeded inputs of a model as ORT tensors and .npy files (written once). */
function prepareInputs(ort, model, session, dir) {
  mkdirSync(dir, { recursive: true });
  const meta = inputMeta(session);
  const feeds = {};
  const files = {};
  const shapes = {};
  for (const n of meta.names) {
    const a = makeInput(model, n, meta.byName[n]);
    feeds[n] = new ort.Tensor(a.type, a.data, a.shape);
    files[n] = join(dir, `${sanitize(n)}.npy`);
    writeNpy(files[n], a);
    shapes[n] = a.shape;
  }
  return { names: meta.names, feeds, files, shapes };
}

async function timeOrt(session, feeds, runs, warmup) {
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    t.push(performance.now() - t0);
  }
  return median(t);
}

function timeNnedge(path, inputs, threads, opts) {
  const args = ['bench', path];
  for (const n of inputs.names) {
    if (inputs.shapes[n].length > 0) args.push('--shape', `${n}=${inputs.shapes[n].join('x')}`);
    args.push('-i', `${n}=${inputs.files[n]}`);
  }
  args.push('--runs', String(opts.runs), '--warmup', String(opts.warmup), '--threads', String(threads),
    '--optimize', opts.optimize, '--json');
  if (opts.verbose) console.log(`  $ ${opts.nnedge} ${args.join(' ')}`);
  const r = spawnSync(opts.nnedge, args, { encoding: 'utf8', timeout: opts.timeout * 1000, maxBuffer: 16 << 20 });
  if (r.error) throw new Error(r.error.code === 'ETIMEDOUT' ? `timed out after ${opts.timeout} s` : r.error.message);
  if (r.status !== 0) throw new Error(`exited ${r.status}: ${firstLine(r.stderr || r.stdout) || '(no message)'}`);
  let j;
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    throw new Error(`unexpected output: ${firstLine(r.stdout)}`);
  }
  for (const k of ['median_ms', 'p90_ms', 'min_ms', 'prepare_ms', 'arena_bytes', 'peak_rss_bytes']) {
    if (typeof j[k] !== 'number') throw new Error(`JSON has no number '${k}'`);
  }
  return j;
}

/** ORT's peak RSS less its baseline, in a process of its own (bench/ort_rss.mjs). */
function ortRss(path, inputs, threads, opts) {
  const args = [join(HERE, 'ort_rss.mjs'), path, String(threads), String(opts.warmup + opts.runs)];
  for (const n of inputs.names) args.push(`${n}=${inputs.files[n]}`);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: opts.timeout * 1000 });
  if (r.error || r.status !== 0) return undefined;
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop()).ort_rss_bytes;
  } catch {
    return undefined;
  }
}

/** All rounds of one model at one thread count. */
async function benchModel(ort, model, path, threads, opts, fp32Path) {
  const session = await ort.InferenceSession.create(path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  try {
    const inputs = prepareInputs(ort, model, session, join(opts.work, model.name));
    const nn = [];
    const ortMs = [];
    const f32 = [];
    for (let r = 0; r < opts.rounds; r++) {
      nn.push(timeNnedge(path, inputs, threads, opts));
      ortMs.push(await timeOrt(session, inputs.feeds, opts.runs, opts.warmup));
      if (fp32Path) f32.push(timeNnedge(fp32Path, inputs, threads, opts).median_ms);
    }
    const last = nn[nn.length - 1];
    return {
      ...(fp32Path ? { nnedge_fp32_ms: median(f32), nnedge_fp32_rounds_ms: f32 } : {}),
      ort_rss_bytes: ortRss(path, inputs, threads, opts),
      nnedge_ms: median(nn.map((j) => j.median_ms)),
      ort_ms: median(ortMs),
      nnedge_rounds_ms: nn.map((j) => j.median_ms),
      ort_rounds_ms: ortMs,
      nnedge_p90_ms: last.p90_ms,
      nnedge_min_ms: last.min_ms,
      nnedge_prepare_ms: last.prepare_ms,
      nnedge_arena_bytes: last.arena_bytes,
      nnedge_arena_lower_bound_bytes: last.arena_lower_bound_bytes,
      nnedge_peak_rss_bytes: last.peak_rss_bytes,
    };
  } finally {
    await session.release?.();
  }
}

function printTables(results, opts) {
  const md = opts.markdown;
  const out = [];
  const geo = {};
  for (const t of opts.threads) {
    const rows = results.filter((r) => r.threads === t);
    const ok = rows.filter((r) => r.ratio !== undefined);
    geo[t] = ok.length ? geomean(ok.map((r) => r.ratio)) : undefined;
    const note = NNEDGE_KERNELS_THREADED || t === 1 ? '' : ' (nnedge kernels run on 1 thread)';
    out.push('');
    if (md) {
      out.push(`**${t} thread${t > 1 ? 's' : ''}**${note}`, '');
      out.push('| model | nnedge median ms | ORT median ms | nnedge/ORT | nnedge peak RSS MB | ORT peak RSS MB |',
        '|---|---:|---:|---:|---:|---:|');
      for (const r of rows) {
        out.push(`| ${r.model} | ${r.error ? `error: ${r.error}` : ms(r.nnedge_ms)} | ${ms(r.ort_ms)} | ` +
          `${r.ratio !== undefined ? r.ratio.toFixed(2) : '-'} | ${mb(r.nnedge_peak_rss_bytes)} | ${mb(r.ort_rss_bytes)} |`);
      }
      out.push(`| **geometric mean** (${ok.length} models) | | | **${geo[t] !== undefined ? geo[t].toFixed(2) : '-'}** |`);
    } else {
      out.push(`threads ${t}${note}`);
      out.push(`${'model'.padEnd(20)} ${'nnedge ms'.padStart(10)} ${'ORT ms'.padStart(10)} ${'nnedge/ORT'.padStart(11)} ` +
        `${'nnedge MB'.padStart(10)} ${'ORT MB'.padStart(8)}`);
      for (const r of rows) {
        if (r.error) {
          out.push(`${r.model.padEnd(20)} ${'error'.padStart(10)} ${ms(r.ort_ms).padStart(10)} ${'-'.padStart(11)}  ${r.error}`);
        } else {
          out.push(`${r.model.padEnd(20)} ${ms(r.nnedge_ms).padStart(10)} ${ms(r.ort_ms).padStart(10)} ` +
            `${r.ratio.toFixed(2).padStart(11)} ${mb(r.nnedge_peak_rss_bytes).padStart(10)} ${mb(r.ort_rss_bytes).padStart(8)}`);
        }
      }
      out.push(`${`geometric mean (${ok.length} models)`.padEnd(42)} ${geo[t] !== undefined ? geo[t].toFixed(2).padStart(11) : '-'}`);
    }
  }
  out.push('');
  out.push(NNEDGE_KERNELS_THREADED
    ? 'nnedge and ORT both use T threads.'
    : 'note: nnedge accepts --threads but its kernels are single-threaded today, so its ' +
      'T=2 numbers are 1-thread numbers; ORT uses T intra-op threads.');
  console.log(out.join('\n'));
  return geo;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const selected = MODELS.filter((m) => opts.all || BENCH_SET.includes(m.name))
    .filter((m) => opts.filters.length === 0 || opts.filters.some((f) => m.name.includes(f)))
    .map((m) => (BENCH_SHAPES[m.name] ? { ...m, shapes: { ...m.shapes, ...BENCH_SHAPES[m.name] } } : m));
  if (selected.length === 0) usage(`no model matches ${opts.filters.join(', ')}`);
  if (!existsSync(opts.nnedge)) usage(`nnedge binary not found: ${opts.nnedge} (run make, or set NNEDGE)`);
  const ort = await loadOrt();
  const cpu = cpus();
  const loadStart = loadavg();
  console.log(`bench: ${selected.length} models (optional ones are skipped when missing), threads ${opts.threads.join(',')}, ${opts.rounds} rounds of ` +
    `${opts.warmup} warmup + ${opts.runs} timed runs per runtime; ${cpu.length} CPUs (${cpu[0]?.model?.trim()}), ` +
    `load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  const results = [];
  let failed = 0;
  for (const m0 of selected) {
    let m = m0, fp32Path;
    if (opts.int8) {
      const suffix = opts.int8File || 'int8';
      const q = join(opts.modelsDir, `${m0.name}-${suffix}.onnx`);
      if (!existsSync(q)) {
        console.log(`SKIP ${m0.name}-int8: ${q} not found (make quant-models)`);
        continue;
      }
      fp32Path = modelPath(m0.file, opts);
      m = { ...m0, name: `${m0.name}-${suffix}`, file: `models:${m0.name}-${suffix}.onnx` };
    }
    const path = modelPath(m.file, opts);
    if (!existsSync(path)) {
      if (m.optional) {
        console.log(`SKIP ${m.name}: model file not found: ${path}`);
        continue;
      }
      failed++;
      for (const t of opts.threads) results.push({ model: m.name, threads: t, error: `model file not found: ${path}` });
      console.log(`FAIL ${m.name}: model file not found: ${path}`);
      continue;
    }
    for (const t of opts.threads) {
      const row = { model: m.name, threads: t };
      try {
        Object.assign(row, await benchModel(ort, m, path, t, opts, fp32Path));
        row.ratio = row.nnedge_ms / row.ort_ms;
        if (fp32Path) row.int8_over_fp32 = row.nnedge_ms / row.nnedge_fp32_ms;
        console.log(`  ${m.name} T=${t}: nnedge ${ms(row.nnedge_ms)} ms, ORT ${ms(row.ort_ms)} ms, ` +
          `ratio ${row.ratio.toFixed(2)}` + (fp32Path ? `; nnedge fp32 ${ms(row.nnedge_fp32_ms)} ms, ` +
          `int8/fp32 ${row.int8_over_fp32.toFixed(2)}` : ''));
      } catch (e) {
        failed++;
        row.error = firstLine(String(e.message || e));
        console.log(`  ${m.name} T=${t}: FAIL ${row.error}`);
      }
      results.push(row);
    }
  }
  const geo = printTables(results, opts);
  if (opts.int8) {
    console.log('\nint8 (QDQ file) against nnedge fp32 (the float model), alternating in the same rounds');
    console.log(`${'model'.padEnd(22)} ${'threads'.padStart(7)} ${'int8 ms'.padStart(9)} ${'fp32 ms'.padStart(9)} ` +
      `${'int8/fp32'.padStart(10)} ${'ORT int8 ms'.padStart(12)} ${'nnedge/ORT'.padStart(11)}`);
    for (const r of results.filter((x) => x.int8_over_fp32 !== undefined)) {
      console.log(`${r.model.padEnd(22)} ${String(r.threads).padStart(7)} ${ms(r.nnedge_ms).padStart(9)} ` +
        `${ms(r.nnedge_fp32_ms).padStart(9)} ${r.int8_over_fp32.toFixed(2).padStart(10)} ${ms(r.ort_ms).padStart(12)} ` +
        `${r.ratio.toFixed(2).padStart(11)}`);
    }
  }
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({
      date: new Date().toISOString(),
      cpus: cpu.length,
      cpu_model: cpu[0]?.model?.trim(),
      loadavg_start: loadStart,
      loadavg_end: loadavg(),
      options: { threads: opts.threads, runs: opts.runs, warmup: opts.warmup, rounds: opts.rounds, optimize: opts.optimize },
      nnedge_kernels_threaded: NNEDGE_KERNELS_THREADED,
      geomean_ratio: geo,
      results,
    }, null, 2) + '\n');
  }
  return failed > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`run_bench: ${e.stack || e}`);
  process.exit(1);
});
