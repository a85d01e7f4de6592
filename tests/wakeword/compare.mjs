// Checks `nnedge app wakeword` against the reference (ref_wakeword.mjs) on
// the synthesized speech (gen_speech.sh); run.sh makes the inputs.
//
//   node compare.mjs WORK
//
// WORK/ref.json           reference per-frame scores (ONNX Runtime, .onnx)
// WORK/onnx.{json,csv}    nnedge on the .onnx models (--json, --frames)
// WORK/tflite.{json,csv}  nnedge on the .tflite models
// WORK/orig.json          nnedge on 22050 Hz clips (its own resampling)
// WORK/orig16.json        nnedge on the same clips at 16 kHz (sox)
//
// Checks (each failure is one line; exit 1 if any):
//  1. every per-frame score of nnedge (.onnx) equals the reference's within
//     1e-3 (the worst difference is printed);
//  2. every wake clip whose reference score for its head reaches 0.5 has a
//     nnedge detection of that head (ONNX and TFLite);
//  3. on the other speech every head stays below 0.1 (reference and nnedge);
//  4. the ONNX and the TFLite models give the same detections (head, time);
//  5. resampled 22050 Hz clips give the detections of their 16 kHz twins;
//  6. one utterance gives at most one detection (default --debounce).
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const work = process.argv[2];
const ref = JSON.parse(readFileSync(join(work, 'ref.json'), 'utf8'));
const load = (f) => JSON.parse(readFileSync(join(work, f), 'utf8'));
const onnx = load('onnx.json'), tfl = load('tflite.json');
let failures = 0;
const fail = (msg) => { failures++; console.log(`FAIL ${msg}`); };

function readFrames(path) {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const names = lines[0].split(',').slice(3);
  const byFile = {};
  for (const l of lines.slice(1)) {
    const m = l.match(/^("(?:[^"\\]|\\.)*"),(\d+),([^,]+),(.*)$/);
    const file = basename(JSON.parse(m[1]));
    (byFile[file] ||= [])[+m[2]] = m[4].split(',').map(Number);
  }
  return { names, byFile };
}

// 1. per-frame scores, .onnx against the reference
const fr = readFrames(join(work, 'onnx.csv'));
let worst = 0, count = 0, where = '';
for (const [file, r] of Object.entries(ref.files)) {
  const got = fr.byFile[file];
  if (!got || got.length !== r.frames) { fail(`${file}: nnedge has ${got ? got.length : 0} frames, the reference ${r.frames}`); continue; }
  fr.names.forEach((name, j) => {
    const want = r.scores[name];
    if (!want) { fail(`${file}: the reference has no score named ${name}`); return; }
    for (let k = 0; k < r.frames; k++) {
      const d = Math.abs(got[k][j] - want[k]);
      count++;
      if (!(d <= worst)) { worst = d; where = `${file} frame ${k} ${name}: ${got[k][j]} vs ${want[k]}`; }
    }
  });
}
console.log(`per-frame scores: ${count} compared, worst difference ${worst.toExponential(2)} (${where})`);
if (!(worst <= 1e-3)) fail(`per-frame scores differ by ${worst} > 1e-3 at ${where}`);

// 2. detections where the reference detects
const byBase = (o) => Object.fromEntries(o.files.map((f) => [basename(f.file), f]));
const on = byBase(onnx), tf = byBase(tfl);
const head = { hey_jarvis: 'hey_jarvis_v0.1', alexa: 'alexa_v0.1' };
let refDet = 0, wakeClips = 0, nnDet = 0, tfDet = 0, above09 = 0;
for (const [file, r] of Object.entries(ref.files)) {
  const tag = file.split('__')[0];
  if (!head[tag]) continue;
  wakeClips++;
  const h = head[tag];
  const rmax = Math.max(...r.scores[h]);
  if (rmax > 0.9) above09++;
  const has = (o) => o[file] && o[file].detections.some((d) => d.model === h);
  if (has(on)) nnDet++;
  if (has(tf)) tfDet++;
  for (const [o, what] of [[on, '.onnx'], [tf, '.tflite']]) {
    const k = o[file] ? o[file].detections.filter((d) => d.model === h).length : 0;
    if (k > 1) fail(`${file}: ${k} detections of ${h} (${what}) for one utterance`);
  }
  if (rmax >= 0.5) {
    refDet++;
    if (!has(on)) fail(`${file}: the reference scores ${h} ${rmax.toFixed(3)} but nnedge (.onnx) detects nothing`);
    if (!has(tf)) fail(`${file}: the reference scores ${h} ${rmax.toFixed(3)} but nnedge (.tflite) detects nothing`);
  }
  for (const o of [on[file], tf[file]])
    for (const d of o ? o.detections : []) if (d.model !== h) console.log(`note: ${file}: also ${d.model} at ${d.time_s} s (${d.score.toFixed(3)})`);
}
console.log(`wake clips: ${wakeClips}; the reference reaches 0.5 in ${refDet} (above 0.9 in ${above09}); nnedge detects in ${nnDet} (.onnx), ${tfDet} (.tflite)`);

// 3. other speech below 0.1 on every head
let otherMax = 0, otherWhere = '', otherSeconds = 0;
for (const o of [on, tf]) {
  for (const [file, f] of Object.entries(o)) {
    if (!file.startsWith('other_')) continue;
    for (const [name, s] of Object.entries(f.max_scores)) if (s > otherMax) { otherMax = s; otherWhere = `${file} ${name}`; }
  }
}
for (const [file, r] of Object.entries(ref.files)) {
  if (!file.startsWith('other_')) continue;
  otherSeconds += r.frames * 0.08;
  for (const [name, s] of Object.entries(r.scores)) { const m = Math.max(...s); if (m > otherMax) { otherMax = m; otherWhere = `${file} ${name} (reference)`; } }
}
console.log(`other speech: ${otherSeconds.toFixed(1)} s, highest score on any head ${otherMax.toFixed(4)} (${otherWhere})`);
if (!(otherMax < 0.1)) fail(`other speech reaches ${otherMax} on ${otherWhere}`);

// 4. ONNX and TFLite: same detections. Heads are listed in the same order
// (sorted file names), so scores are matched by position: a multi-class
// head's labels come from the .onnx output name only.
const key = (o, d) => `${Object.keys(o.max_scores).indexOf(d.model)}@${d.time_s.toFixed(2)}`;
let detCount = 0, worstTf = 0;
const tfr = readFrames(join(work, 'tflite.csv'));
for (const [file, f] of Object.entries(on)) {
  const g = tf[file];
  const a = f.detections.map((d) => key(f, d)).join(' '), b = g ? g.detections.map((d) => key(g, d)).join(' ') : '(missing)';
  detCount += f.detections.length;
  if (a !== b) fail(`${file}: .onnx detections [${a}] but .tflite [${b}]`);
  const x = fr.byFile[file], y = tfr.byFile[file];
  for (let k = 0; x && y && k < x.length; k++) for (let j = 0; j < x[k].length; j++) worstTf = Math.max(worstTf, Math.abs(x[k][j] - y[k][j]));
}
console.log(`.onnx vs .tflite: ${detCount} detections compared; largest per-frame score difference ${worstTf.toExponential(2)}`);

// 5. resampling
const o22 = byBase(load('orig.json')), o16 = byBase(load('orig16.json'));
for (const [file, f] of Object.entries(o16)) {
  const g = o22[file];
  const a = f.detections.map((d) => key(f, d)).join(' '), b = g ? g.detections.map((d) => key(g, d)).join(' ') : '(missing)';
  const diff = g ? Math.max(...Object.keys(f.max_scores).map((n) => Math.abs(f.max_scores[n] - g.max_scores[n]))) : NaN;
  console.log(`resampled ${file}: 16 kHz [${a}], 22050 Hz [${b}], largest max-score difference ${diff.toFixed(4)}`);
  if (a !== b) fail(`${file}: detections differ between the 16 kHz file and nnedge's resampling of the 22050 Hz one`);
}
console.log(`real-time factor, 1 thread, whole pipeline with decoding: wall ${onnx.real_time_factor} / CPU ${onnx.cpu_real_time_factor} (.onnx), ` +
  `wall ${tfl.real_time_factor} / CPU ${tfl.cpu_real_time_factor} (.tflite)`);
if (failures) { console.log(`compare: ${failures} failures`); process.exit(1); }
console.log('compare: all checks hold');
