/**
 * How Node finds and starts the wasm builds: the CommonJS glue from
 * dist/cjs/, the .wasm compiled from disk (Emscripten's loader would fetch()
 * the path, which Node cannot), cores counted with node:os. Handed to
 * web/wasm-loader.js by the Node entry, so that file stays free of `node:`
 * imports that break browser bundles.
 */
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { WasmllmError } from '../errors.js';
import { buildKey } from '../wasm-loader.js';

/** The default thread count: every core the host reports. */
export async function defaultThreadCount() {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export { canUseThreads } from '../wasm-loader.js';

/** Compiled modules, per build, so a second model skips compilation. */
const compiled = new Map();
const require = createRequire(import.meta.url);

/** @type {import('../wasm-loader.js').LoadBuild} */
export async function loadNodeBuild(variant, isa = 'simd128') {
  const key = buildKey(variant, isa);
  const jsUrl = new URL(`../../dist/cjs/wasmllm-${key}.cjs`, import.meta.url);
  const wasmUrl = new URL(`../../dist/cjs/wasmllm-${key}.wasm`, import.meta.url);
  if (!fs.existsSync(jsUrl) || !fs.existsSync(wasmUrl)) {
    // The relaxed pair is built apart (setup --relaxed, prepack): npm start does not need clang-19.
    const how = isa === 'relaxed' ? 'node tools/setup.js --relaxed' : 'npm run build';
    throw new WasmllmError('ERR_WASM', `the ${key} wasm build is missing (${jsUrl.pathname}); run \`${how}\``);
  }
  let wasmModule = compiled.get(key);
  if (!wasmModule) {
    const bytes = fs.readFileSync(wasmUrl);
    if (!WebAssembly.validate(bytes)) throw new WasmllmError('ERR_WASM', `this Node cannot validate ${wasmUrl.pathname}`);
    wasmModule = await WebAssembly.compile(bytes);
    compiled.set(key, wasmModule);
  }
  const factory = require(jsUrl.pathname);
  return { factory: keepProcessListeners(factory), wasmModule };
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'];

/**
 * Emscripten's Node glue installs process-wide uncaughtException and
 * unhandledRejection handlers (one pair per instance) that rethrow: they
 * would change the host application's error policy and pile up one pair per
 * model. The wrapped factory removes whatever the glue adds.
 * @param {(settings: object) => Promise<any>} factory
 */
function keepProcessListeners(factory) {
  return async (settings) => {
    const before = new Map(PROCESS_EVENTS.map((e) => [e, new Set(process.listeners(e))]));
    try {
      return await factory(settings);
    } finally {
      for (const e of PROCESS_EVENTS) {
        for (const l of process.listeners(e)) if (!before.get(e).has(l)) process.removeListener(e, l);
      }
    }
  };
}
