/**
 * wasmllm in the browser: the same API as in Node (loadModel, complete,
 * chat, dispose, AbortSignal), with the model running in a dedicated Web
 * Worker (web/browser/worker-host.js) so generation never blocks the page.
 *
 *   import { loadModel } from 'wasmllm';           // the "browser" export
 *   const model = await loadModel('https://example.com/model.gguf', { onProgress: console.log });
 *   for await (const { text } of model.complete('Once upon a time')) out.textContent += text;
 *   model.dispose();
 *
 * Differences from Node: tokenize(), detokenize() return promises (the
 * tokenizer lives in the worker); info() is the snapshot taken at load plus
 * the live heap size.
 *
 * Size limits: shard bytes stream straight into the wasm heap, never into one
 * JS ArrayBuffer, so the browser's 2 GB ArrayBuffer limit does not apply. The
 * limit is wasm32's: the heap grows to at most 4 GiB (MAX_HEAP_BYTES) for the
 * weights, KV cache and scratch together, and one shard must be under 2 GiB
 * (MAX_SHARD_BYTES, one heap block); split bigger files with llama-gguf-split.
 * A 2.7 GB model in three shards loads and runs in Chromium (2.8 GB heap).
 */
import { WasmllmError } from '../errors.js';
import { ShardCache } from './cache.js';
import { MAX_HEAP_BYTES, MAX_SHARD_BYTES } from './shard-loader.js';

export { WasmllmError, ShardCache, MAX_HEAP_BYTES, MAX_SHARD_BYTES };
export { hfFileUrl, resolveHfShards } from '../hf.js';
export { parseGGUF, readGGUFHeader, GGUFStringArray } from '../gguf.js';
export { jsonSchemaToGrammar } from '../structured/json-schema.js';
export { responseFormatToGrammar } from '../structured/response-format.js';

const ISOLATION_WARNING = 'wasmllm: this page is not cross-origin isolated, so the single-threaded build runs '
  + '(one core, slower). To use every core, serve the page with the headers '
  + '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" '
  + '(or "credentialless"); they enable SharedArrayBuffer, which WebAssembly threads need.';
let warnedIsolation = false;

/** Whether the multi-threaded build can run on this page. */
export function isCrossOriginIsolated() {
  return globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined';
}

/** The cache manager: list, sizes and deletion of cached shards. */
export function modelCache(options) {
  return new ShardCache(options);
}

/**
 * @typedef {import('../model.js').LoadOptions & import('./shard-loader.js').ShardLoaderOptions & {
 *   onWarning?: (error: WasmllmError) => void,
 *   workerUrl?: string | URL,
 * }} BrowserLoadOptions
 */

/**
 * Loads a model in a new Web Worker. `source`: a URL (absolute or relative
 * to the page), an array of shard URLs (or `{ url, sha256 }`), a Hugging
 * Face `{ repo, file, revision }`, a File/Blob, or an ArrayBuffer.
 * @param {any} source
 * @param {BrowserLoadOptions} [options]
 * @returns {Promise<BrowserModel>}
 */
export async function loadModel(source, options = {}) {
  options.signal?.throwIfAborted();
  const isolated = isCrossOriginIsolated();
  if (!isolated && !warnedIsolation && options.variant !== 'st') {
    warnedIsolation = true;
    console.warn(ISOLATION_WARNING);
  }
  const { worker, from } = startWorker(options.workerUrl);
  const rpc = new Rpc(worker, from);
  try {
    await rpc.ready;
    const { value } = await rpc.request('load', {
      source: normalizeSource(source),
      options: {
        threads: options.threads, contextSize: options.contextSize, kvType: options.kvType, variant: options.variant, isa: options.isa,
        parallel: options.parallel, retries: options.retries, retryDelayMs: options.retryDelayMs,
        cache: options.cache, hfEndpoint: options.hfEndpoint, jinjaUrl: resolveJinja(),
      },
    }, {
      signal: options.signal,
      onMessage: (msg) => {
        if (msg.type === 'progress' && msg.progress.phase !== 'cache') options.onProgress?.(msg.progress);
        else if (msg.type === 'warning') {
          const w = toError(msg.error);
          if (options.onWarning) options.onWarning(w);
          else console.warn(`wasmllm: ${w.message}`);
        }
      },
    });
    return new BrowserModel(rpc, value.info, value.report);
  } catch (e) {
    rpc.close();
    throw e;
  }
}

const WORKER_OPTIONS = /** @type {const} */ ({ type: 'module', name: 'wasmllm' });

/**
 * Starts the model's worker; `from` is the script's origin when it is not the page's.
 * @param {string | URL | undefined} workerUrl
 * @returns {{ worker: Worker, from: string | null }}
 */
function startWorker(workerUrl) {
  if (workerUrl !== undefined) return workerFrom(new URL(workerUrl, globalThis.location?.href));
  try {
    // This literal form is what Vite, webpack and Parcel look for: they bundle
    // worker-host.js with its imports and rewrite the URL. Keep it as it is.
    return { worker: new Worker(new URL('./worker-host.js', import.meta.url), { type: 'module', name: 'wasmllm' }), from: null };
  } catch (e) {
    // A Worker's script must be same-origin; this module came from elsewhere (a CDN).
    if (/** @type {any} */ (e)?.name !== 'SecurityError') throw e;
    return workerFrom(new URL(WORKER_HOST, import.meta.url));
  }
}

/** Not a literal on purpose: bundlers must only see the form in startWorker. */
const WORKER_HOST = './worker-host.js';

/**
 * A module worker for `url`; on another origin, a same-origin blob: module
 * that imports it (the browser refuses a cross-origin Worker script, not a
 * cross-origin import, which CORS governs).
 * @param {URL} url
 */
function workerFrom(url) {
  const here = globalThis.location?.origin;
  if (!here || url.origin === here) return { worker: new Worker(url, WORKER_OPTIONS), from: null };
  const bootstrap = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\n`], { type: 'text/javascript' }));
  const worker = new Worker(bootstrap, WORKER_OPTIONS);
  // Not revoked at once: the worker may read the blob after the constructor returns.
  setTimeout(() => URL.revokeObjectURL(bootstrap), 60_000);
  return { worker, from: url.origin };
}

/**
 * Where @huggingface/jinja lives for this page, if an import map names it:
 * import maps do not apply inside Web Workers, so the worker gets the URL.
 * Bundled pages have no map (resolve throws) and bundle it into the worker.
 * @returns {string | undefined}
 */
function resolveJinja() {
  try {
    return import.meta.resolve?.('@huggingface/jinja');
  } catch {
    return undefined;
  }
}

/** Absolute URLs (the worker resolves against its own script, not the page). */
function normalizeSource(source) {
  if (Array.isArray(source)) return source.map(normalizeSource);
  const base = globalThis.location?.href;
  if (typeof source === 'string') return base ? new URL(source, base).href : source;
  if (source instanceof URL) return source.href;
  if (source && typeof source === 'object' && typeof source.url === 'string') {
    return { ...source, url: base ? new URL(source.url, base).href : source.url };
  }
  return source; // HF spec, File, Blob, ArrayBuffer: structured clone (a File is a handle, not a copy)
}

/** @param {{ code: string, message: string }} e */
function toError(e) {
  return new WasmllmError(e?.code ?? 'ERR_INTERNAL', e?.message ?? String(e));
}

/** Request/response and streams over one worker's messages. */
class Rpc {
  /** @param {Worker} worker @param {string | null} from the worker script's origin, when not the page's */
  constructor(worker, from) {
    this.worker = worker;
    this.nextId = 1;
    /** @type {Map<number, (msg: any) => void>} */
    this.listeners = new Map();
    this.closed = null;
    this.ready = new Promise((resolve, reject) => { this.readyResolve = resolve; this.readyReject = reject; });
    worker.onmessage = (e) => {
      const msg = e.data;
      if (msg?.type === 'ready') return this.readyResolve();
      this.listeners.get(msg?.id)?.(msg);
    };
    worker.onerror = (e) => {
      e.preventDefault?.();
      const where = e.filename ? ` (${e.filename}:${e.lineno})` : '';
      const unloaded = from
        ? `it could not load from ${from} (that origin must serve web/ and dist/mjs/ with an Access-Control-Allow-Origin header)`
        : 'it could not load (check that web/browser/worker-host.js and its imports are served as text/javascript)';
      this.fail(new WasmllmError('ERR_WORKER', `the wasmllm worker failed: ${e.message ? `${e.message}${where}` : unloaded}`));
    };
    worker.onmessageerror = () => this.fail(new WasmllmError('ERR_WORKER', 'a message from the wasmllm worker could not be read'));
  }

  /** Rejects everything in flight and stops the worker. */
  fail(error) {
    if (this.closed) return;
    this.closed = error;
    this.readyReject(error);
    for (const listener of this.listeners.values()) listener({ type: 'error', error });
    this.listeners.clear();
    this.worker.terminate();
  }

  close() {
    this.fail(new WasmllmError('ERR_DISPOSED', 'this model has been disposed'));
  }

  /** @param {any} msg @param {Transferable[]} [transfer] */
  post(msg, transfer) {
    if (this.closed) throw this.closed;
    this.worker.postMessage(msg, transfer ?? []);
  }

  /**
   * Sends one request; every message for it goes to onMessage until done/error.
   * @returns {Promise<any>} the done message
   */
  request(type, fields, { signal, onMessage, id = this.nextId++ } = {}) {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const onAbort = () => { if (!this.closed) this.worker.postMessage({ type: 'abort', target: id }); };
      const finish = () => { this.listeners.delete(id); signal?.removeEventListener('abort', onAbort); };
      this.listeners.set(id, (msg) => {
        if (msg.type === 'done') { finish(); resolve(msg); }
        else if (msg.type === 'error') { finish(); reject(msg.error instanceof WasmllmError ? msg.error : toError(msg.error)); }
        else onMessage?.(msg);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.post({ type, id, ...fields });
    });
  }

  /**
   * A stream of messages for one request, as an async generator.
   * @returns {AsyncGenerator<any, any, void>}
   */
  async *stream(type, fields, signal) {
    signal?.throwIfAborted();
    const queue = [];
    let wake = null;
    let settled = false;
    const push = (msg) => { queue.push(msg); wake?.(); wake = null; };
    const id = this.nextId++;
    const done = this.request(type, fields, { signal, onMessage: push, id }).then(
      (msg) => push({ type: 'done', value: msg.value }),
      (error) => push({ type: 'error', error }),
    );
    try {
      for (;;) {
        if (queue.length === 0) await new Promise((resolve) => { wake = resolve; });
        const msg = queue.shift();
        if (msg.type === 'token') yield msg;
        else if (msg.type === 'done') { settled = true; return msg.value; }
        else if (msg.type === 'error') { settled = true; throw msg.error; }
      }
    } finally {
      // The consumer stopped early (break / return): stop the worker too.
      if (!settled && !this.closed) this.worker.postMessage({ type: 'abort', target: id });
      await done;
    }
  }
}

/**
 * A model running in a Web Worker.
 */
export class BrowserModel {
  #rpc;
  #info;
  #busy = false;
  #disposed = false;

  /** @param {Rpc} rpc @param {object} info @param {object} report */
  constructor(rpc, info, report) {
    this.#rpc = rpc;
    this.#info = info;
    /** How the shards arrived: { fromCache, downloaded, bytesDownloaded, resumed, requests }. */
    this.loadReport = report;
    /** Bytes of wasm memory the model's instance uses (updated with every token). */
    this.heapBytes = info.heapBytes;
    /** @type {any} the last finished completion (tokens, text, timings) */
    this.lastCompletion = null;
  }

  /** Sizes, types and settings of the loaded model (as in Node), plus heapBytes. */
  info() {
    this.#checkAlive();
    return { ...this.#info, heapBytes: this.heapBytes };
  }

  /**
   * @param {string | ArrayLike<number>} prompt
   * @param {import('../model.js').CompleteOptions} [options]
   * @returns {AsyncGenerator<{ token: number, text: string }, any, void>}
   */
  complete(prompt, options = {}) {
    const p = typeof prompt === 'string' ? prompt : Array.from(prompt);
    return this.#generate('complete', { prompt: p }, options);
  }

  /**
   * @param {import('../chat.js').ChatMessage[]} messages
   * @param {import('../model.js').ChatOptions} [options]
   */
  chat(messages, options = {}) {
    return this.#generate('chat', { messages }, options);
  }

  /**
   * Embeddings, computed in the worker (see Model.embed in web/model.js).
   * @param {string | Array<string | ArrayLike<number>>} texts
   * @param {import('../model.js').EmbedOptions} [options]
   * @returns {Promise<Float32Array[]>}
   */
  async embed(texts, options = {}) {
    this.#checkAlive();
    const { signal, ...rest } = options;
    if (signal?.aborted) throw new WasmllmError('ERR_ABORTED', 'aborted before it started');
    return (await this.#rpc.request('embed', { texts, options: cloneable(rest) }, { signal })).value;
  }

  /**
   * Perplexity as llama-perplexity computes it, in the worker (see Session.perplexity in web/model.js).
   * @param {string | ArrayLike<number>} text
   * @param {import('../model.js').PerplexityOptions} [options]
   * @returns {Promise<import('../perplexity.js').PerplexityResult>}
   */
  async perplexity(text, options = {}) {
    this.#checkAlive();
    const { signal, onChunk, ...rest } = options;
    if (signal?.aborted) throw new WasmllmError('ERR_ABORTED', 'aborted before it started');
    const t = typeof text === 'string' ? text : Array.from(text);
    const onMessage = (msg) => { if (msg.type === 'chunk') onChunk?.(msg.chunk); };
    return (await this.#rpc.request('perplexity', { text: t, options: cloneable(rest) }, { signal, onMessage })).value;
  }

  /** @param {string} text @param {{ addSpecial?: boolean, parseSpecial?: boolean }} [options] @returns {Promise<number[]>} */
  async tokenize(text, options) {
    this.#checkAlive();
    return (await this.#rpc.request('tokenize', { text, options })).value;
  }

  /** @param {ArrayLike<number>} ids @returns {Promise<string>} */
  async detokenize(ids, options) {
    this.#checkAlive();
    return (await this.#rpc.request('detokenize', { ids: Array.from(ids), options })).value;
  }

  /** Stops the worker: all of the model's memory is released at once. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#rpc.close();
  }

  #checkAlive() {
    if (this.#disposed) throw new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
  }

  async *#generate(type, fields, options) {
    this.#checkAlive();
    if (this.#busy) throw new WasmllmError('ERR_BUSY', 'this model is already generating; finish or abort that first');
    const { signal, ...rest } = options;
    if (signal?.aborted) throw new WasmllmError('ERR_ABORTED', 'aborted before it started');
    // Each model lives in its own worker: a draft model cannot be handed to another's.
    if (rest.speculative?.draft) throw new WasmllmError('ERR_BAD_ARG', "speculative.draft is not supported by the browser API (each model runs in its own worker); use speculative: { lookup: true }");
    this.#busy = true;
    const stream = this.#rpc.stream(type, { ...fields, options: cloneable(rest) }, signal);
    let finished = false;
    try {
      for (;;) {
        let step;
        try {
          step = await stream.next();
        } catch (e) {
          finished = true; // the stream already ended with this error
          throw e;
        }
        if (step.done) {
          finished = true;
          this.heapBytes = step.value.heapBytes;
          this.lastCompletion = { ...step.value, promptTokens: Array.from(step.value.promptTokens), tokens: Array.from(step.value.tokens) };
          return this.lastCompletion;
        }
        this.heapBytes = step.value.heapBytes;
        yield step.value.piece;
      }
    } finally {
      // The caller left the loop early: stop generating in the worker, then free the model for the next call.
      if (!finished) await stream.return(undefined);
      this.#busy = false;
    }
  }
}

/** Drops what postMessage cannot clone (functions), keeping plain option values. */
function cloneable(options) {
  const out = {};
  for (const [k, v] of Object.entries(options)) if (typeof v !== 'function') out[k] = v;
  return out;
}
