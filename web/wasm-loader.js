/**
 * Picks and instantiates one of the two wasm builds:
 *   mt: SIMD128 + pthreads (needs SharedArrayBuffer; in browsers, cross-origin isolation)
 *   st: SIMD128 only, for hosts without shared memory;
 * each also as a relaxed-SIMD build (wasmllm-mt-relaxed, wasmllm-st-relaxed)
 * whose Q4_0 / Q4_K kernels use i32x4.relaxed_dot_i8x16_i7x16_add. The
 * relaxed one runs only when asked for (isa 'relaxed', or 'auto') and only
 * where the host runs that instruction right (a tiny probe module,
 * web/simd-probe.js) and validates the whole module; by default, and under
 * 'auto' elsewhere, the SIMD128 one. Not the default: engines emulate the
 * instruction on x86 without AVX-VNNI, where it measured slower (DESIGN.md).
 * Both give the same bits: every kernel equals its scalar twin.
 * Every loaded model gets its own instance (its own heap and worker pool), so
 * disposing a model frees all of its memory and lets a Node process exit.
 */
import { WasmllmError } from './errors.js';
import { relaxedSimdWorks } from './simd-probe.js';

/** The default thread count of a browser or edge host: the cores it reports (Node's comes from web/node/wasm-build.js). */
export async function defaultThreadCount() {
  return globalThis.navigator?.hardwareConcurrency || 1;
}

/** Whether this host can run the pthreads build. */
export function canUseThreads() {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  // Browsers expose SharedArrayBuffer only in cross-origin isolated pages,
  // but some older ones did without isolation: ask for isolation explicitly.
  // Node has no crossOriginIsolated at all.
  return globalThis.crossOriginIsolated !== false;
}

/**
 * @typedef {object} WasmInstance
 * @property {any} module     the Emscripten module (exports are `_wl_*`)
 * @property {'mt'|'st'} variant
 * @property {'simd128'|'relaxed'} isa  the instructions of the build that runs
 * @property {number} threads  threads the C pool may use (1 for st)
 * @property {() => Uint8Array} heapU8  a view of the whole current heap
 * @property {() => void} terminate  stops the worker threads (the heap is freed with the instance)
 */

/** Compiled modules, per build (buildKey), so a second model skips compilation. */
const compiled = new Map();
/** The pthread workers' script URL, per build, when the glue's own guess is wrong (undefined: it is right). */
const pthreadScripts = new Map();

/**
 * @typedef {{ factory: (settings: object) => Promise<any>, wasmModule: WebAssembly.Module, scriptUrl?: string,
 *   pthreadUrl?: string }} Build  a variant's glue factory and compiled module; scriptUrl and
 *   pthreadUrl: where pthread workers import the glue from, and their own script
 * @typedef {(variant: 'mt'|'st', isa?: 'simd128'|'relaxed') => Promise<Build>} LoadBuild
 */

/** A build's name after 'wasmllm-': 'mt', 'st', 'mt-relaxed', 'st-relaxed'. */
export function buildKey(variant, isa = 'simd128') {
  return isa === 'relaxed' ? `${variant}-relaxed` : variant;
}

const ISAS = ['simd128', 'relaxed', 'auto'];

/**
 * @param {{ threads?: number, variant?: 'mt'|'st', isa?: 'simd128'|'relaxed'|'auto', sessions?: number,
 *   wasmModule?: WebAssembly.Module, wasmFactory?: (settings: object) => Promise<any>, loadBuild?: LoadBuild,
 *   defaultThreads?: () => number | Promise<number> }} [options]
 *   isa: the build's instruction set: 'simd128' (default), 'relaxed' (ERR_WASM
 *   on a host that cannot run it right), 'auto' (relaxed where it can, else simd128).
 *   wasmModule + wasmFactory: a precompiled module and its ES6 glue's default
 *   export, for hosts that can neither fetch nor compile wasm bytes at run
 *   time (edge workers import both as modules); they must be the same variant.
 *   loadBuild, defaultThreads: the host's way to find the builds and count
 *   cores (Node's are in web/node/wasm-build.js); default: fetched by URL.
 * @returns {Promise<WasmInstance>}
 */
export async function loadWasm(options = {}) {
  const given = givenBuild(options);
  let threads = options.threads ?? (given ? 1 : await (options.defaultThreads ?? defaultThreadCount)());
  if (!Number.isInteger(threads) || threads < 1) {
    throw new WasmllmError('ERR_BAD_ARG', `threads must be a positive integer, got ${options.threads}`);
  }
  const variant = options.variant ?? (given ? 'st' : threads > 1 && canUseThreads() ? 'mt' : 'st');
  if (variant === 'st') threads = 1;
  const sessions = options.sessions ?? 1;
  if (options.isa !== undefined && !ISAS.includes(options.isa)) {
    throw new WasmllmError('ERR_BAD_ARG', `isa must be 'simd128', 'relaxed' or 'auto', got ${options.isa}`);
  }
  if (given && options.isa !== undefined) {
    throw new WasmllmError('ERR_BAD_ARG', 'isa cannot be chosen for a given wasmModule: it is that build\'s');
  }

  const { factory, wasmModule, scriptUrl, pthreadUrl } = given
    ?? await chooseBuild(options.loadBuild ?? loadWebBuild, variant, options.isa);
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
    // The pthread workers' script when it is not beside the glue (a bundler
    // renamed or inlined it) or not on our origin. Otherwise the glue's own
    // `new Worker(new URL(…, import.meta.url))` runs, which dev servers (Vite)
    // rewrite to serve the script as a classic worker.
    ...(pthreadUrl ? { locateFile: (file, prefix) => (file.endsWith('.worker.js') ? pthreadUrl : prefix + file) } : {}),
    print: () => {},
    printErr: (text) => { if (globalThis.process?.env?.WASMLLM_DEBUG) console.error(text); },
  };
  let module;
  try {
    module = await Promise.race([factory(settings), instantiateFailed]);
  } catch (e) {
    throw new WasmllmError('ERR_WASM', `could not start the ${variant} wasm build: ${e?.message ?? e}`, { cause: e });
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
  const isa = module._wl_build_isa() === 2 ? 'relaxed' : 'simd128';
  return { module, variant, isa, threads, heapU8, terminate };
}

/**
 * The relaxed build where it was asked for ('relaxed', or 'auto' where the
 * host runs relaxed SIMD right and loads the module); else the SIMD128 one.
 * @param {LoadBuild} load @param {'mt'|'st'} variant @param {'simd128'|'relaxed'|'auto'} [isa]
 */
async function chooseBuild(load, variant, isa = 'simd128') {
  if (isa === 'simd128') return load(variant, 'simd128');
  if (!relaxedSimdWorks()) {
    if (isa === 'relaxed') {
      throw new WasmllmError('ERR_WASM', 'this host does not run relaxed SIMD as the relaxed build needs '
        + '(i32x4.relaxed_dot_i8x16_i7x16_add missing or giving other sums); use isa \'simd128\'');
    }
    return load(variant, 'simd128');
  }
  try {
    return await load(variant, 'relaxed');
  } catch (e) {
    // 'auto': a package built without the relaxed files, or an engine whose
    // validator refuses the module; the SIMD128 build computes the same bits.
    if (isa === 'relaxed') throw e;
    return load(variant, 'simd128');
  }
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

/**
 * The web builds' files. Each is a literal `new URL('…', import.meta.url)`:
 * bundlers (Vite, webpack, Parcel) recognise that form, copy the file into
 * their output and rewrite the URL, so the builds are found after bundling.
 */
const WEB_BUILDS = {
  mt: () => ({
    glue: new URL('../dist/mjs/wasmllm-mt.mjs', import.meta.url),
    wasm: new URL('../dist/mjs/wasmllm-mt.wasm', import.meta.url),
    pthread: new URL('../dist/mjs/wasmllm-mt.worker.js', import.meta.url),
  }),
  st: () => ({
    glue: new URL('../dist/mjs/wasmllm-st.mjs', import.meta.url),
    wasm: new URL('../dist/mjs/wasmllm-st.wasm', import.meta.url),
    pthread: null,
  }),
  'mt-relaxed': () => ({
    glue: new URL('../dist/mjs/wasmllm-mt-relaxed.mjs', import.meta.url),
    wasm: new URL('../dist/mjs/wasmllm-mt-relaxed.wasm', import.meta.url),
    pthread: new URL('../dist/mjs/wasmllm-mt-relaxed.worker.js', import.meta.url),
  }),
  'st-relaxed': () => ({
    glue: new URL('../dist/mjs/wasmllm-st-relaxed.mjs', import.meta.url),
    wasm: new URL('../dist/mjs/wasmllm-st-relaxed.wasm', import.meta.url),
    pthread: null,
  }),
};

/** @type {LoadBuild} */
async function loadWebBuild(variant, isa = 'simd128') {
  const key = buildKey(variant, isa);
  const files = WEB_BUILDS[key]();
  let factory;
  try {
    ({ default: factory } = await import(/* @vite-ignore */ /* webpackIgnore: true */ files.glue.href));
  } catch (e) {
    throw new WasmllmError('ERR_WASM', `could not import ${files.glue.href}: ${e?.message ?? e}${crossOriginHint(files.glue)}`, { cause: e });
  }
  let wasmModule = compiled.get(key);
  if (!wasmModule) {
    let response;
    try {
      response = await fetch(files.wasm);
    } catch (e) {
      throw new WasmllmError('ERR_FETCH', `could not fetch ${files.wasm.href}: ${e?.message ?? e}${crossOriginHint(files.wasm)}`, { cause: e });
    }
    if (!response.ok) throw new WasmllmError('ERR_FETCH', `could not fetch ${files.wasm.href}: HTTP ${response.status}`);
    // Streaming compilation needs the application/wasm type; a server that
    // sends another (some static servers do) still works, compiled whole.
    const streams = typeof WebAssembly.compileStreaming === 'function'
      && /^application\/wasm\b/i.test(response.headers.get('content-type') ?? '');
    wasmModule = streams
      ? await WebAssembly.compileStreaming(response)
      : await WebAssembly.compile(await response.arrayBuffer());
    compiled.set(key, wasmModule);
  }
  let pthreadUrl = pthreadScripts.get(key);
  if (files.pthread && !pthreadScripts.has(key)) {
    const beside = files.pthread.href === new URL(`wasmllm-${key}.worker.js`, files.glue).href;
    pthreadUrl = beside && isSameOrigin(files.pthread) ? undefined : await sameOriginScript(files.pthread);
    pthreadScripts.set(key, pthreadUrl);
  }
  return { factory, wasmModule, scriptUrl: files.glue.href, pthreadUrl };
}

/**
 * A URL a Worker can start from: the script itself when it shares our
 * origin, else a blob: copy of it (a Worker's script must be same-origin; a
 * module on a CDN is not). The copy works: the one thing the pthread script
 * imports, the glue, it gets by absolute URL (mainScriptUrlOrBlob).
 * @param {URL} url
 */
async function sameOriginScript(url) {
  if (isSameOrigin(url)) return url.href;
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new WasmllmError('ERR_FETCH', `could not fetch ${url.href}: ${e?.message ?? e}${crossOriginHint(url)}`, { cause: e });
  }
  if (!response.ok) throw new WasmllmError('ERR_FETCH', `could not fetch ${url.href}: HTTP ${response.status}`);
  return URL.createObjectURL(new Blob([await response.text()], { type: 'text/javascript' }));
}

/** @param {URL} url */
function isSameOrigin(url) {
  const here = globalThis.location?.origin;
  return !here || url.origin === here;
}

/** @param {URL} url */
function crossOriginHint(url) {
  const here = globalThis.location?.origin;
  return here && url.origin !== here ? ` (it is on another origin: ${url.origin} must send Access-Control-Allow-Origin)` : '';
}
