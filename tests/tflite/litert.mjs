// LiteRT (TFLite compiled to WebAssembly, npm @litertjs/core) under Node:
// the package expects a browser or worker; these shims give it one:
// `self` (its global), `importScripts` (runs the Emscripten loader so that
// its `var ModuleFactory` lands on the global object), and the CommonJS
// `require` / `__dirname` that the loader's Node branch uses.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const wasmDir = join(here, 'node_modules/@litertjs/core/wasm');

globalThis.self = globalThis;
globalThis.require = createRequire(join(wasmDir, 'x.js'));
globalThis.__dirname = wasmDir;
globalThis.__filename = join(wasmDir, 'x.js');
globalThis.importScripts = (url) => {
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  vm.runInThisContext(readFileSync(path, 'utf8'), { filename: path });
};

const core = await import('@litertjs/core');
let loaded = null;

/** Run a .tflite (bytes) on inputs [{data: TypedArray, shape}] -> [{data, shape, dtype}]. */
export async function runLiteRt(modelBytes, inputs) {
  if (!loaded) loaded = core.loadLiteRt(wasmDir + '/');
  await loaded;
  const model = await core.loadAndCompile(modelBytes, { accelerator: 'wasm' });
  try {
    const ins = inputs.map((x) => new core.Tensor(x.data, x.shape));
    const outs = await model.run(ins);
    const res = [];
    for (const t of outs) {
      const w = await t.moveTo('wasm');
      res.push({ data: w.toTypedArray().slice(), shape: [...(w.type?.layout?.dimensions ?? [])], dtype: w.type?.dtype });
      w.delete();
    }
    ins.forEach((t) => t.delete());
    return res;
  } finally {
    model.delete();
  }
}
