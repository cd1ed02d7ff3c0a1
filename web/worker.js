/**
 * `wasmllm/worker`: the OpenAI-compatible API of web/openai-api.js as a
 * Workers-style `fetch(request, env, ctx)` handler (Cloudflare Workers,
 * workerd). Transport only: fetch Request/Response, body limits, client
 * disconnects and SSE framing; routes, validation and chunk formats are the
 * same functions the Node server uses.
 *
 * Edge hosts forbid compiling wasm from bytes at run time, so the caller
 * imports the single-threaded build's `.wasm` as a module and hands over the
 * resulting WebAssembly.Module; the ES6 glue is imported here.
 *
 *   import wasmModule from 'wasmllm/dist/mjs/wasmllm-st.wasm';
 *   import model from './model.gguf';            // a data module: ArrayBuffer
 *   import { createWorkerHandler } from 'wasmllm/worker';
 *   export default createWorkerHandler({ model, wasmModule });
 */
import createWasmllmSt from '../dist/mjs/wasmllm-st.mjs';
import { WasmllmError } from './errors.js';
import { readGGUFHeader } from './gguf.js';
import { loadModel } from './model.js';
import { ApiError, createApi, errorResponse } from './openai-api.js';

const CORS = { 'access-control-allow-origin': '*' };
const DEFAULT_MAX_BODY = 1 << 20;

/**
 * @typedef {ArrayBuffer | ArrayBufferView | string | URL | ReadableStream | Response} ModelBytes
 * @typedef {{ body: ReadableStream, size: number }} BucketObject  an R2 object body (env.BUCKET.get(key))
 * @typedef {object} WorkerHandlerConfig
 * @property {ModelBytes | ((env: any) => Promise<ModelBytes | BucketObject | null>)} model
 *   the GGUF bytes (a bundled data module), a URL to fetch, or a function of the
 *   worker's env that returns them (e.g. `(env) => env.MODELS.get('model.gguf')`)
 * @property {WebAssembly.Module} wasmModule  dist/mjs/wasmllm-st.wasm, imported as a module
 * @property {string} [modelId]           default: the GGUF's general.name, else 'wasmllm'
 * @property {number} [contextSize]       KV cache tokens; default min(training context, 2048) for bytes, 2048 for streams
 * @property {number} [maxTokensDefault]  max_tokens when a request names none (default 256)
 * @property {number} [maxBodyBytes]      request body limit (default 1 MiB)
 * @property {number} [maxQueue]          requests waiting for the one slot (default 16)
 */

/**
 * @param {WorkerHandlerConfig} config
 * @returns {{ fetch(request: Request, env?: any, ctx?: { waitUntil(p: Promise<unknown>): void }): Promise<Response> }}
 */
export function createWorkerHandler(config) {
  const cfg = checkConfig(config);
  /** The isolate's one model and API; a failed load is forgotten so the next request retries. */
  let loading = null;

  /** @param {any} env @param {any} ctx */
  function ready(env, ctx) {
    if (!loading) {
      loading = loadApi(cfg, env).catch((e) => {
        loading = null;
        throw e;
      });
      // The load belongs to whichever request started it; keep it running
      // even if that client goes away, since other requests may be waiting on it.
      ctx?.waitUntil?.(loading.catch(() => {}));
    }
    return loading;
  }

  return {
    async fetch(request, env, ctx) {
      if (request.method === 'OPTIONS') {
        return new Response(null, {
          status: 204,
          headers: { ...CORS, 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS' },
        });
      }
      const controller = new AbortController();
      // With the enable_request_signal compatibility flag, request.signal
      // fires when the client disconnects; a streamed body also sees cancel().
      const onAbort = () => controller.abort(new WasmllmError('ERR_ABORTED', 'the client disconnected'));
      if (request.signal?.aborted) onAbort();
      else request.signal?.addEventListener?.('abort', onAbort, { once: true });
      try {
        const path = new URL(request.url).pathname;
        // The body is checked before the model loads: a bad request never waits for it.
        const body = request.method === 'POST' ? await readJsonBody(request, cfg.maxBodyBytes) : undefined;
        let api;
        try {
          api = await ready(env, ctx);
        } catch (e) {
          return jsonResponse(errorResponse(loadFailure(e)));
        }
        const r = await api.handle(request.method, path, body, controller.signal);
        return r.stream ? streamResponse(r, controller) : jsonResponse(r);
      } catch (e) {
        return jsonResponse(errorResponse(e instanceof ApiError ? e : new ApiError(500, e?.message ?? String(e))));
      }
    },
  };
}

/** @param {WorkerHandlerConfig} config */
function checkConfig(config) {
  if (!config || typeof config !== 'object') throw new WasmllmError('ERR_BAD_ARG', 'createWorkerHandler needs a config object');
  const { model, wasmModule } = config;
  if (model === undefined || model === null) throw new WasmllmError('ERR_BAD_ARG', 'config.model is required: GGUF bytes, a URL, or a function (env) => bytes');
  if (!(wasmModule instanceof WebAssembly.Module)) {
    throw new WasmllmError('ERR_BAD_ARG', 'config.wasmModule must be the WebAssembly.Module of dist/mjs/wasmllm-st.wasm (import the .wasm file as a module)');
  }
  const positive = (name, v, d) => {
    if (v === undefined) return d;
    if (!Number.isInteger(v) || v < 1) throw new WasmllmError('ERR_BAD_ARG', `config.${name} must be a positive integer, got ${v}`);
    return v;
  };
  if (config.modelId !== undefined && (typeof config.modelId !== 'string' || !config.modelId)) {
    throw new WasmllmError('ERR_BAD_ARG', 'config.modelId must be a non-empty string');
  }
  return {
    model,
    wasmModule,
    modelId: config.modelId,
    contextSize: positive('contextSize', config.contextSize, undefined),
    maxTokensDefault: positive('maxTokensDefault', config.maxTokensDefault, 256),
    maxBodyBytes: positive('maxBodyBytes', config.maxBodyBytes, DEFAULT_MAX_BODY),
    maxQueue: positive('maxQueue', config.maxQueue, 16),
  };
}

/** Isolates are small (Cloudflare: 128 MB): unless told, the KV cache holds at most this many tokens. */
const EDGE_MAX_CONTEXT = 2048;

/** Loads the model into the single-threaded build and puts the API in front of it. */
async function loadApi(cfg, env) {
  const source = await modelSource(cfg.model, env);
  const contextSize = cfg.contextSize ?? await defaultContextSize(source);
  const model = await loadModel(source, { wasmModule: cfg.wasmModule, wasmFactory: createWasmllmSt, variant: 'st', threads: 1, contextSize });
  const name = model.metadata.get('general.name');
  const modelId = cfg.modelId ?? (typeof name === 'string' && name ? name : 'wasmllm');
  return createApi({ engines: [model], modelId, maxTokensDefault: cfg.maxTokensDefault, maxQueue: cfg.maxQueue });
}

/**
 * min(training context, EDGE_MAX_CONTEXT). Bytes in memory have their header
 * read first; a stream can't be peeked, so it gets EDGE_MAX_CONTEXT.
 */
async function defaultContextSize(source) {
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source)
    : ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : null;
  if (!bytes) return EDGE_MAX_CONTEXT;
  const { metadata } = await readGGUFHeader(async (n) => bytes.subarray(0, n), bytes.length);
  const trained = Number(metadata.get(`${metadata.get('general.architecture')}.context_length`));
  return Number.isSafeInteger(trained) && trained > 0 ? Math.min(trained, EDGE_MAX_CONTEXT) : EDGE_MAX_CONTEXT;
}

/** Turns config.model into something loadModel streams from. */
async function modelSource(model, env) {
  let m = model;
  if (typeof m === 'function') {
    try {
      m = await m(env);
    } catch (e) {
      if (e instanceof WasmllmError) throw e;
      throw new WasmllmError('ERR_FETCH', `config.model(env) failed: ${e?.message ?? e}`, { cause: e });
    }
    if (m === null || m === undefined) {
      throw new WasmllmError('ERR_NOT_FOUND', 'config.model(env) returned nothing (is the object missing from the bucket?)');
    }
  }
  // A bucket object (R2's get()): its body streams, and its size is known up front.
  const isStreamish = (typeof Response !== 'undefined' && m instanceof Response) || (typeof ReadableStream !== 'undefined' && m instanceof ReadableStream);
  if (!isStreamish && m && typeof m === 'object' && m.body instanceof ReadableStream) {
    const size = Number(m.size);
    return new Response(m.body, Number.isSafeInteger(size) && size > 0 ? { headers: { 'content-length': String(size) } } : {});
  }
  return m;
}

/** A load failure as an OpenAI-shaped error: 503 when retrying may help, 500 when the model itself is bad. */
function loadFailure(e) {
  const code = e?.code ?? 'ERR_UNKNOWN';
  const transient = ['ERR_FETCH', 'ERR_ABORTED', 'ERR_NOT_FOUND', 'ERR_OOM'].includes(code);
  return new ApiError(transient ? 503 : 500, `the model could not be loaded (${code}): ${e?.message ?? e}; the next request retries`, { code: 'model_load_failed' });
}

/**
 * Reads a JSON body of at most `limit` bytes.
 * @param {Request} request @param {number} limit
 */
async function readJsonBody(request, limit) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    throw new ApiError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`, { code: 'body_too_large' });
  }
  const chunks = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new ApiError(413, `request body exceeds the limit of ${limit} bytes`, { code: 'body_too_large' });
      }
      chunks.push(value);
    }
  }
  if (size === 0) return undefined;
  const ct = request.headers.get('content-type') ?? '';
  if (ct && !ct.includes('json')) throw new ApiError(415, `content-type must be application/json, got ${ct}`);
  const raw = new Uint8Array(size);
  let pos = 0;
  for (const c of chunks) { raw.set(c, pos); pos += c.length; }
  try {
    return JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new ApiError(400, `malformed JSON in request body: ${e.message}`, { code: 'invalid_json' });
  }
}

/** @param {import('./openai-api.js').ApiResponse} r */
function jsonResponse(r) {
  return new Response(JSON.stringify(r.json), { status: r.status, headers: { ...r.headers, ...CORS } });
}

/**
 * Pulls SSE chunks from the API only as fast as the client reads them; a
 * cancelled body (the client went away) aborts the generation.
 * @param {import('./openai-api.js').ApiResponse} r @param {AbortController} controller
 */
function streamResponse(r, controller) {
  const it = r.stream[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    async pull(c) {
      const { done, value } = await it.next();
      if (done) c.close();
      else c.enqueue(encoder.encode(value));
    },
    cancel() {
      controller.abort(new WasmllmError('ERR_ABORTED', 'the client disconnected'));
      // The generator ends at its next abort check; return() then runs its finally blocks (the slot is released).
      it.return?.().catch(() => {});
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status: r.status, headers: { ...r.headers, ...CORS } });
}
