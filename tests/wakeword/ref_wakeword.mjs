// Reference for `nnedge app wakeword`: openWakeWord's streaming pipeline
// (openwakeword/utils.py AudioFeatures._streaming_features and
// model.py Model.predict) written in plain JS on ONNX Runtime, with nnedge's
// one documented change: the embedding history starts from the embedding of
// the initial mel window instead of embeddings of random noise, so that runs
// are repeatable. It shares no code with nnedge.
//
//   node ref_wakeword.mjs MODELS_DIR OUT.json FILE.wav...
//
// FILE.wav: RIFF/WAVE, PCM 16-bit, mono, 16000 Hz (parsed here).
// OUT.json: {"files": {FILE: {"frames": N, "scores": {HEAD: [N scores]}}}}
//
// Per 80 ms chunk (1280 samples):
//   1. melspectrogram model on the last 480 samples before the chunk (fewer
//      at the start) + the chunk, as float int16 values: (frames, 32);
//      each value x -> x/10 + 2;
//   2. the mel buffer (76 frames, initially all 1.0) takes the new frames and
//      keeps its last 76; the embedding model on it -> one 96-vector;
//   3. each head's history (its window, 16) takes the vector; the head on it
//      gives the chunk's score; the first 5 chunks score 0 (openWakeWord
//      zeroes them while its buffers fill).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const CHUNK = 1280, HISTORY = 480, MEL_FRAMES = 76, MEL_BINS = 32, EMB = 96;

function readWav16k(path) {
  const b = readFileSync(path);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path}: not RIFF/WAVE`);
  let off = 12, fmt = null, data = null;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4), len = b.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { tag: b.readUInt16LE(off + 8), ch: b.readUInt16LE(off + 10), rate: b.readUInt32LE(off + 12), bits: b.readUInt16LE(off + 22) };
    if (id === 'data') data = b.subarray(off + 8, Math.min(b.length, off + 8 + len));
    off += 8 + len + (len & 1);
  }
  if (!fmt || !data || fmt.tag !== 1 || fmt.ch !== 1 || fmt.rate !== 16000 || fmt.bits !== 16)
    throw new Error(`${path}: need PCM 16-bit mono 16 kHz (got ${JSON.stringify(fmt)})`);
  const n = data.length >> 1, x = new Int16Array(n);
  for (let i = 0; i < n; i++) x[i] = data.readInt16LE(2 * i);
  return x;
}

const [modelsDir, outPath, ...files] = process.argv.slice(2);
const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const mel = await ort.InferenceSession.create(join(modelsDir, 'melspectrogram.onnx'), opts);
const emb = await ort.InferenceSession.create(join(modelsDir, 'embedding_model.onnx'), opts);
// heads: every other .onnx whose one input is [1, W, 96]
const heads = [];
for (const f of readdirSync(modelsDir).sort()) {
  if (!f.endsWith('.onnx') || f === 'melspectrogram.onnx' || f === 'embedding_model.onnx') continue;
  const s = await ort.InferenceSession.create(join(modelsDir, f), opts);
  const meta = s.inputMetadata[0];
  const shape = meta && meta.shape;
  if (s.inputNames.length !== 1 || !shape || shape.length !== 3 || shape[2] !== EMB) continue;
  // one score per class: a [1, 1] output is the head's score; a [1, C]
  // output has a background class 0 and classes 1..C-1, named as the JSON
  // object in the output's name says (openWakeWord's timer model) or STEM/k
  const stem = f.replace(/\.onnx$/, '');
  const out = s.outputMetadata[0];
  const C = out && out.shape ? out.shape[out.shape.length - 1] : 1;
  let names = [stem];
  if (C > 1) {
    let map = null;
    try { map = JSON.parse(s.outputNames[0]); } catch { map = null; }
    names = [];
    for (let k = 1; k < C; k++) names.push(map && typeof map[String(k)] === 'string' ? map[String(k)] : `${stem}/${k}`);
  }
  heads.push({ name: stem, s, window: shape[1], names });
}

async function embed(frames /* Float32Array 76*32 */) {
  const out = await emb.run({ [emb.inputNames[0]]: new ort.Tensor('float32', frames, [1, MEL_FRAMES, MEL_BINS, 1]) });
  return Float32Array.from(out[emb.outputNames[0]].data);
}

const result = { files: {} };
for (const file of files) {
  const pcm = readWav16k(file);
  // the stream starts as if preceded by digital silence
  let melBuf = new Float32Array(MEL_FRAMES * MEL_BINS);
  {
    const z = new Float32Array(HISTORY + CHUNK);
    const mo = await mel.run({ [mel.inputNames[0]]: new ort.Tensor('float32', z, [1, z.length]) });
    const m = mo[mel.outputNames[0]].data;
    for (let f = 0; f < MEL_FRAMES; f++) for (let b = 0; b < MEL_BINS; b++) melBuf[f * MEL_BINS + b] = m[b] / 10 + 2;
  }
  const e0 = await embed(melBuf);
  const maxWin = Math.max(...heads.map((h) => h.window));
  const embHist = Array.from({ length: maxWin }, () => e0);
  let history = new Int16Array(HISTORY);
  const scores = Object.fromEntries(heads.flatMap((h) => h.names.map((n) => [n, []])));
  const nChunks = Math.floor(pcm.length / CHUNK);
  for (let k = 0; k < nChunks; k++) {
    const chunk = pcm.subarray(k * CHUNK, (k + 1) * CHUNK);
    const input = new Float32Array(history.length + CHUNK);
    input.set(Float32Array.from(history), 0);
    input.set(Float32Array.from(chunk), history.length);
    const mo = await mel.run({ [mel.inputNames[0]]: new ort.Tensor('float32', input, [1, input.length]) });
    const m = mo[mel.outputNames[0]].data; // (frames, 1, 1, 32)
    const nf = m.length / MEL_BINS;
    const next = new Float32Array(MEL_FRAMES * MEL_BINS);
    // keep the last 76 frames of (melBuf ++ new)
    const all = new Float32Array((MEL_FRAMES + nf) * MEL_BINS);
    all.set(melBuf, 0);
    for (let i = 0; i < m.length; i++) all[MEL_FRAMES * MEL_BINS + i] = m[i] / 10 + 2;
    next.set(all.subarray(nf * MEL_BINS));
    melBuf = next;
    embHist.shift();
    embHist.push(await embed(melBuf));
    for (const h of heads) {
      const x = new Float32Array(h.window * EMB);
      const first = embHist.length - h.window;
      for (let j = 0; j < h.window; j++) x.set(embHist[first + j], j * EMB);
      const o = await h.s.run({ [h.s.inputNames[0]]: new ort.Tensor('float32', x, [1, h.window, EMB]) });
      const v = o[h.s.outputNames[0]].data;
      h.names.forEach((n, c) => scores[n].push(v[h.names.length > 1 ? c + 1 : 0]));
    }
    const h2 = new Int16Array(Math.min(HISTORY, history.length + CHUNK));
    const cat = new Int16Array(history.length + CHUNK);
    cat.set(history, 0);
    cat.set(chunk, history.length);
    h2.set(cat.subarray(cat.length - h2.length));
    history = h2;
  }
  result.files[basename(file)] = { frames: nChunks, scores };
}
writeFileSync(outPath, JSON.stringify(result));
