/**
 * Picks and instantiates one of the two wasm builds:
 *   mt: SIMD128 + pthreads (needs SharedArrayBuffer; in browsers, cross-origin isolation)
 *   st: SIMD128 only, for hosts without shared memory.
 * Every loaded model gets its own instance (its own heap and worker pool), so
 * disposing a model frees all of its memory and lets a Node process exit.
 */
import { WasmllmError } from './errors.js';

const IS_NODE = typeof process === 'object' && typeof process.versions?.node === 'string';

/** The default thread count: every core the host reports. */
export async function defaultThreadCount() {
  if (IS_NODE) {
    const os = await import('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  return globalThis.navigator?.hardwareConcurrency || 1;
}

/** Whether this host can run the pthreads build. */
export function canUseThreads() {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if (IS_NODE) return true;
  // Browsers expose SharedArrayBuffer only in cross-origin isolated pages,
  // but some older ones did without isolation: ask for isolation explicitly.
  return globalThis.crossOriginIsolated !== false;
}

/**
 * @typedef {object} WasmInstance
 * @property {any} module     the Emscripten module (exports are `_wl_*`)
 * @property {'mt'|'st'} variant
 * @property {number} threads  threads the C pool may use (1 for st)
 * @property {() => Uint8Array} heapU8  a view of the whole current heap
 * @property {() => void} terminate  stops the worker threads (the heap is freed with the instance)
 */

/** Compiled modules, per variant, so a second model skips compilation. */
const compiled = new Map();

/**
 * @param {{ threads?: number, variant?: 'mt'|'st', sessions?: number, wasmModule?: WebAssembly.Module,
 *   wasmFactory?: (settings: object) => Promise<any> }} [options]
 *   wasmModule + wasmFactory: a precompiled module and its ES6 glue's default
 *   export, for hosts that can neither fetch nor compile wasm bytes at run
 *   time (edge workers import both as modules); they must be the same variant.
 * @returns {Promise<WasmInstance>}
 */
export async function loadWasm(options = {}) {
  const given = givenBuild(options);
  let threads = options.threads ?? (given ? 1 : await defaultThreadCount());
  if (!Number.isInteger(threads) || threads < 1) {
    throw new WasmllmError('ERR_BAD_ARG', `threads must be a positive integer, got ${options.threads}`);
  }
  const variant = options.variant ?? (given ? 'st' : threads > 1 && canUseThreads() ? 'mt' : 'st');
  if (variant === 'st') threads = 1;
  const sessions = options.sessions ?? 1;

  const { factory, wasmModule, scriptUrl } = given ?? (IS_NODE ? await loadNodeVariant(variant) : await loadWebVariant(variant));
  let failInstantiate;
  const instantiateFailed = new Promise((_, reject) => { failInstantiate = reject; });
  const settings = {
    // The C pool (src/threadpool.c) counts the calling thread; its workers
    // must be ready before the first parallel op, because the main thread
    // blocks on the pool's barrier and cannot let a new worker finish loading.
    // Each context (KV cache) has its own pool, so `sessions` contexts need that many sets.
    // At least one: Emscripten 3.1.6's glue ends its "wasm-instantiate" run
    // dependency only when the last pool worker has loaded, so with none the
    // module never starts (the mt build forced at 1 thread hung forever).
    wlPoolSize: variant === 'mt' ? Math.max(1, (threads - 1) * sessions) : 0,
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(wasmModule, imports)
        .then((instance) => receive(instance, wasmModule), failInstantiate);
      return {};
    },
    // Browsers: each pthread worker imports the glue again by this URL. Without
    // it Emscripten 3.1.6 guesses a wrong file name when the glue itself runs
    // inside a Web Worker, and thread start fails.
    ...(scriptUrl && variant === 'mt' ? { mainScriptUrlOrBlob: scriptUrl } : {}),
    // A given build has no file to find; without locateFile the ES6 glue
    // builds a URL from import.meta.url, which edge runtimes leave undefined.
    ...(given ? { locateFile: (file) => file } : {}),
    print: () => {},
    printErr: (text) => { if (globalThis.process?.env?.WASMLLM_DEBUG) console.error(text); },
  };
  // Emscripten's Node glue installs process-wide uncaughtException and
  // unhandledRejection handlers (one pair per instance) that rethrow: they
  // would change the host application's error policy and pile up one pair per
  // model. Remove whatever the factory adds.
  const before = IS_NODE ? snapshotProcessListeners() : null;
  let module;
  try {
    module = await Promise.race([factory(settings), instantiateFailed]);
  } catch (e) {
    throw new WasmllmError('ERR_WASM', `could not start the ${variant} wasm build: ${e?.message ?? e}`, { cause: e });
  } finally {
    if (before) removeAddedProcessListeners(before);
  }
  // The pthreads build's memory is shared and can be grown by any thread, so
  // a cached view can go stale without notice: compare buffers every time.
  let view = new Uint8Array(0);
  const heapU8 = () => {
    const buffer = module.wasmMemory ? module.wasmMemory.buffer : module.HEAPU8.buffer;
    if (view.buffer !== buffer) view = new Uint8Array(buffer);
    return view;
  };
  // Node: the workers must not keep the process alive once the caller is
  // done, even if it forgets dispose(); the main thread drives all work anyway.
  for (const worker of module.PThread?.unusedWorkers ?? []) worker.unref?.();
  const terminate = () => { module.PThread?.terminateAllThreads(); };
  return { module, variant, threads, heapU8, terminate };
}

/** The caller's precompiled build, when it gave one (both parts or neither). */
function givenBuild(options) {
  const { wasmModule, wasmFactory } = options;
  if (wasmModule === undefined && wasmFactory === undefined) return null;
  if (!(wasmModule instanceof WebAssembly.Module) || typeof wasmFactory !== 'function') {
    throw new WasmllmError('ERR_BAD_ARG', 'wasmModule (a WebAssembly.Module) and wasmFactory (the glue\'s default export) must be given together');
  }
  return { factory: wasmFactory, wasmModule };
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'];

function snapshotProcessListeners() {
  return new Map(PROCESS_EVENTS.map((e) => [e, new Set(process.listeners(e))]));
}

/** @param {Map<string, Set<Function>>} before */
function removeAddedProcessListeners(before) {
  for (const e of PROCESS_EVENTS) {
    for (const l of process.listeners(e)) if (!before.get(e).has(l)) process.removeListener(e, l);
  }
}

/** @param {'mt'|'st'} variant */
async function loadNodeVariant(variant) {
  const { createRequire } = await import('node:module');
  const fs = await import('node:fs');
  const jsUrl = new URL(`../dist/cjs/wasmllm-${variant}.cjs`, import.meta.url);
  const wasmUrl = new URL(`../dist/cjs/wasmllm-${variant}.wasm`, import.meta.url);
  if (!fs.existsSync(jsUrl) || !fs.existsSync(wasmUrl)) {
    throw new WasmllmError('ERR_WASM', `the ${variant} wasm build is missing (${jsUrl.pathname}); run \`npm run build\``);
  }
  const require = createRequire(import.meta.url);
  const factory = require(jsUrl.pathname);
  // Emscripten's loader would fetch() the .wasm path on Node 18+, which fails:
  // compile it ourselves (once per process).
  let wasmModule = compiled.get(variant);
  if (!wasmModule) {
    wasmModule = await WebAssembly.compile(fs.readFileSync(wasmUrl));
    compiled.set(variant, wasmModule);
  }
  return { factory, wasmModule };
}

/** @param {'mt'|'st'} variant */
async function loadWebVariant(variant) {
  const jsUrl = new URL(`../dist/mjs/wasmllm-${variant}.mjs`, import.meta.url);
  const wasmUrl = new URL(`../dist/mjs/wasmllm-${variant}.wasm`, import.meta.url);
  const { default: factory } = await import(/* webpackIgnore: true */ jsUrl.href);
  let wasmModule = compiled.get(variant);
  if (!wasmModule) {
    const response = await fetch(wasmUrl);
    if (!response.ok) throw new WasmllmError('ERR_FETCH', `could not fetch ${wasmUrl.href}: HTTP ${response.status}`);
    wasmModule = typeof WebAssembly.compileStreaming === 'function'
      ? await WebAssembly.compileStreaming(response)
      : await WebAssembly.compile(await response.arrayBuffer());
    compiled.set(variant, wasmModule);
  }
  return { factory, wasmModule, scriptUrl: jsUrl.href };
}
