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
import createWasmllmSt from '../../dist/mjs/wasmllm-st.mjs';
import { WasmllmError } from '../errors.js';
import { readGGUFHeader } from '../gguf.js';
import { loadModel } from '../model.js';
import { parseKvType } from '../kv-type.js';
import { ApiError, batchHealth, checkApiKey, createApi, errorResponse } from '../openai-api.js';

const CORS = { 'access-control-allow-origin': '*' };
const JSON_HEADERS = { 'content-type': 'application/json' };
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
 * @property {string[]} [aliases]         other ids requests may name
 * @property {string | ((env: any) => string | undefined)} [apiKey]  require Authorization: Bearer KEY
 *   (e.g. `(env) => env.API_KEY`, a secret); /health and /ready stay open
 * @property {number} [contextSize]       KV cache tokens; default min(training context, 2048) for bytes, 2048 for streams
 * @property {'f16' | 'q8_0'} [kvType]    KV cache type (default 'f16'); 'q8_0' takes 17/32 of the memory, for small isolates
 * @property {number} [maxTokensDefault]  max_tokens when a request names none (default 256)
 * @property {number} [maxBodyBytes]      request body limit (default 1 MiB)
 * @property {number} [slots]             requests generated at once (default 1), each in its own
 *   KV cache (contextSize tokens) over the same weights; their decode steps run together, one
 *   pass over the weights per step (web/scheduler.js)
 * @property {number} [maxQueue]          requests waiting for a slot (default 16)
 * @property {number} [streamIdleTimeoutMs]  a stream whose client has read nothing for this long
 *   is stopped when another request waits for a slot (default 10000): a client gone without
 *   a word (wrangler dev) must not hold a slot
 */

/**
 * @param {WorkerHandlerConfig} config
 * @returns {{ fetch(request: Request, env?: any, ctx?: { waitUntil(p: Promise<unknown>): void }): Promise<Response> }}
 */
export function createWorkerHandler(config) {
  const cfg = checkConfig(config);
  const model = createModelState(cfg);
  const gate = createGate(cfg.slots, cfg.maxQueue, cfg.streamIdleTimeoutMs);

  return {
    async fetch(request, env, ctx) {
      if (request.method === 'OPTIONS') {
        return new Response(null, {
          status: 204,
          headers: { ...CORS, 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS' },
        });
      }
      const controller = new AbortController();
      /** Set once a stream is running: stops it and frees the slot. */
      let stopStream = null;
      // With the enable_request_signal compatibility flag, request.signal
      // fires when the client disconnects; a streamed body also sees cancel().
      const onAbort = () => {
        controller.abort(new WasmllmError('ERR_ABORTED', 'the client disconnected'));
        stopStream?.();
      };
      if (request.signal?.aborted) onAbort();
      else request.signal?.addEventListener?.('abort', onAbort, { once: true });
      try {
        const path = new URL(request.url).pathname.replace(/\/+$/, '') || '/';
        // Probes never load the model: /health is liveness, /ready starts the load and says when it is done.
        if (request.method === 'GET' && path === '/health') return jsonResponse(health(model, gate));
        if (request.method === 'GET' && path === '/ready') return jsonResponse(await readiness(model, gate, env, ctx));
        const apiKey = typeof cfg.apiKey === 'function' ? cfg.apiKey(env) : cfg.apiKey;
        if (apiKey) checkApiKey(request.headers.get('authorization'), apiKey);
        // The body is checked before the model loads: a bad request never waits for it.
        const body = request.method === 'POST' ? await readJsonBody(request, cfg.maxBodyBytes) : undefined;
        let api;
        try {
          api = await model.ready(env, ctx, controller.signal);
        } catch (e) {
          if (controller.signal.aborted) throw new ApiError(499, 'the client disconnected', { code: 'aborted' });
          return jsonResponse(errorResponse(loadFailure(e)));
        }
        // Validated, tokenized and measured against the context before it queues.
        const prepared = await api.prepare(request.method, path, body);
        if ('response' in prepared) return jsonResponse(prepared.response);
        const turn = await gate.enter(controller.signal);
        let r;
        try {
          r = await api.run(prepared.job, controller.signal);
        } catch (e) {
          turn.release();
          throw e;
        }
        if (!r.stream) {
          turn.release();
          return jsonResponse(r);
        }
        const streamed = streamResponse(r, controller, turn);
        stopStream = streamed.stop;
        // Keep this request's context alive until the generation has ended,
        // even if its client left: that is what frees the slot for the others.
        ctx?.waitUntil?.(streamed.finished);
        return streamed.response;
      } catch (e) {
        return jsonResponse(errorResponse(e instanceof ApiError ? e : new ApiError(500, e?.message ?? String(e))));
      }
    },
  };
}

/*
 * Every request waits in its own context. workerd cancels a request that
 * awaits a promise which another request settles (it sees no pending I/O and
 * reports "code had hung"), and the second request's continuation would run
 * in the first one's context. So waiters poll shared state on a timer instead
 * of awaiting each other, and each request drives its own generation.
 */
const POLL_MS = 5;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const abortedWhileWaiting = () => new ApiError(499, 'the client disconnected while waiting', { code: 'aborted' });

/**
 * The isolate's one model: loaded by the first request that needs it, while
 * later ones wait; a failed load is reported to those waiting and forgotten,
 * so the next request retries.
 * @param {ReturnType<typeof checkConfig>} cfg
 */
function createModelState(cfg) {
  let api = null;
  let loading = false;
  let failures = 0;
  let lastError = null;
  return {
    loaded: () => api !== null,
    /** The loaded model (for /health), or null. */
    engine: () => api?.engine ?? null,
    lastError: () => lastError,
    /** @param {any} env @param {any} ctx @param {AbortSignal} signal */
    async ready(env, ctx, signal) {
      const failuresBefore = failures;
      for (;;) {
        if (api) return api;
        if (failures !== failuresBefore) throw lastError;
        if (!loading) break;
        if (signal.aborted) throw abortedWhileWaiting();
        await sleep(POLL_MS);
      }
      loading = true;
      const load = loadApi(cfg, env);
      // Keep the loading request's context alive even if its client leaves: others wait on it.
      ctx?.waitUntil?.(load.catch(() => {}));
      try {
        api = await load;
        lastError = null;
        return api;
      } catch (e) {
        failures++;
        lastError = e;
        throw e;
      } finally {
        loading = false;
      }
    },
  };
}

/**
 * @typedef {{ release: () => void, reclaim: (() => void) | null, idleSince: number | null }} Turn
 *   release frees the turn (idempotent); a stream sets reclaim (ends it from
 *   another request), and idleSince while it waits for its client to read
 */

/**
 * At most `slots` generations at a time (one KV cache each), first come
 * first served, at most `maxQueue` waiting.
 *
 * A stream whose client has not asked for a chunk in `idleMs` while others
 * wait is stopped by a waiter. Some hosts never say that a client left:
 * under `wrangler dev` neither request.signal nor the body's cancel() fires,
 * the runtime declares the stream's request hung and drops it, and its turn
 * would stay taken for good, every later request waiting forever.
 * @param {number} slots @param {number} maxQueue @param {number} idleMs
 */
function createGate(slots, maxQueue, idleMs) {
  /** @type {Set<Turn>} */
  const holders = new Set();
  const queue = [];
  /** Runs in a waiter's own context: the stalled stream's may be gone. */
  const reclaimStalled = () => {
    for (const holder of holders) {
      if (holder.reclaim && holder.idleSince !== null && Date.now() - holder.idleSince > idleMs) {
        const reclaim = holder.reclaim;
        holder.reclaim = null;
        reclaim();
        return;
      }
    }
  };
  return {
    /** @param {AbortSignal} signal @returns {Promise<Turn>} */
    async enter(signal) {
      /** @type {Turn} */
      const ticket = { release: () => { holders.delete(ticket); }, reclaim: null, idleSince: null };
      if (holders.size >= slots || queue.length) {
        if (queue.length >= maxQueue) {
          throw new ApiError(503, `the model is busy and ${queue.length} requests are queued; retry later`,
            { code: 'server_busy', headers: { 'retry-after': '1' } });
        }
        queue.push(ticket);
        try {
          while (holders.size >= slots || queue[0] !== ticket) {
            if (signal.aborted) throw abortedWhileWaiting();
            reclaimStalled();
            await sleep(POLL_MS);
          }
        } finally {
          queue.splice(queue.indexOf(ticket), 1);
        }
      }
      holders.add(ticket);
      return ticket;
    },
    stats() {
      return { busy: holders.size, slots, queued: queue.length, full: holders.size >= slots && queue.length >= maxQueue };
    },
  };
}

/** GET /health: the isolate answers; nothing is loaded. */
function health(model, gate) {
  const g = gate.stats();
  return {
    status: 200, headers: JSON_HEADERS,
    json: { status: 'ok', model_loaded: model.loaded(), slots_busy: g.busy, queued: g.queued, ...batchHealth(model.engine()) },
  };
}

/**
 * GET /ready: 200 when the model is loaded and a request would be taken;
 * else 503, after starting the load in the background if none is running
 * (a readiness probe warms the isolate).
 */
async function readiness(model, gate, env, ctx) {
  const g = gate.stats();
  if (!model.loaded()) {
    const load = model.ready(env, ctx, new AbortController().signal).catch(() => {});
    ctx?.waitUntil?.(load);
    return { status: 503, headers: { ...JSON_HEADERS, 'retry-after': '1' }, json: { status: 'loading', ...(model.lastError() ? { last_error: String(model.lastError().message) } : {}) } };
  }
  if (g.full) return { status: 503, headers: { ...JSON_HEADERS, 'retry-after': '1' }, json: { status: 'busy', queued: g.queued } };
  return { status: 200, headers: JSON_HEADERS, json: { status: 'ready', queued: g.queued } };
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
  if (config.aliases !== undefined && !(Array.isArray(config.aliases) && config.aliases.every((a) => typeof a === 'string' && a))) {
    throw new WasmllmError('ERR_BAD_ARG', 'config.aliases must be an array of non-empty strings');
  }
  if (config.apiKey !== undefined && typeof config.apiKey !== 'function' && (typeof config.apiKey !== 'string' || !config.apiKey)) {
    throw new WasmllmError('ERR_BAD_ARG', 'config.apiKey must be a non-empty string or a function (env) => string');
  }
  return {
    model,
    wasmModule,
    modelId: config.modelId,
    aliases: config.aliases,
    apiKey: config.apiKey,
    contextSize: positive('contextSize', config.contextSize, undefined),
    kvType: parseKvType(config.kvType, 'config.kvType'),
    maxTokensDefault: positive('maxTokensDefault', config.maxTokensDefault, 256),
    maxBodyBytes: positive('maxBodyBytes', config.maxBodyBytes, DEFAULT_MAX_BODY),
    slots: positive('slots', config.slots, 1),
    maxQueue: positive('maxQueue', config.maxQueue, 16),
    streamIdleTimeoutMs: positive('streamIdleTimeoutMs', config.streamIdleTimeoutMs, 10000),
  };
}

/** Isolates are small (Cloudflare: 128 MB): unless told, the KV cache holds at most this many tokens. */
const EDGE_MAX_CONTEXT = 2048;

/** Loads the model into the single-threaded build and puts the API in front of it. */
async function loadApi(cfg, env) {
  const source = await modelSource(cfg.model, env);
  const contextSize = cfg.contextSize ?? await defaultContextSize(source);
  // pollSteps: every request waits for its decode steps on its own timers (see the note above createModelState).
  const model = await loadModel(source, {
    wasmModule: cfg.wasmModule, wasmFactory: createWasmllmSt, variant: 'st', threads: 1, contextSize, kvType: cfg.kvType,
    pollSteps: true,
  });
  /** @type {import('../model.js').Session[]} */
  const engines = [model];
  try {
    for (let i = 1; i < cfg.slots; i++) engines.push(model.createSession());
  } catch (e) {
    model.dispose();
    throw e;
  }
  const name = model.metadata.get('general.name');
  const modelId = cfg.modelId ?? (typeof name === 'string' && name ? name : 'wasmllm');
  // /v1/embeddings for models that pool (encoders, or decoders whose file names a pooling_type), as in `wasmllm serve`.
  return Object.assign(createApi({ engines, modelId, aliases: cfg.aliases, maxTokensDefault: cfg.maxTokensDefault, maxQueue: cfg.maxQueue, embeddings: model.info().pooling != null }), { engine: model });
}

/**
 * min(training context, EDGE_MAX_CONTEXT). Bytes in memory have their header
 * read first; a stream can't be peeked, so it gets EDGE_MAX_CONTEXT.
 */
async function defaultContextSize(source) {
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source)
    : ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : null;
  if (!bytes) return EDGE_MAX_CONTEXT;
  const { metadata } = await readGGUFHeader(async (n) => bytes.subarray(0, n), bytes.length, { packStrings: true });
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

/** How far past the limit a refused body is still read (see discardBody). */
const DISCARD_LIMIT_FACTOR = 16;

/**
 * Reads and drops a body that will be refused, as web/node/server.js does with
 * req.resume(): a client still uploading when the answer comes may see the
 * connection close instead of the 413 (undici reports "fetch failed"). Gives
 * up past `cap` bytes, so a hostile upload is not read forever.
 * @param {Request} request @param {number} cap
 */
async function discardBody(request, cap) {
  if (!request.body) return;
  const reader = request.body.getReader();
  for (let size = 0; ;) {
    const { done, value } = await reader.read().catch(() => ({ done: true }));
    if (done) return;
    size += value.length;
    if (size > cap) {
      await reader.cancel().catch(() => {});
      return;
    }
  }
}

/**
 * Reads a JSON body of at most `limit` bytes.
 * @param {Request} request @param {number} limit
 */
async function readJsonBody(request, limit) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await discardBody(request, DISCARD_LIMIT_FACTOR * limit);
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

/** @param {import('../openai-api.js').ApiResponse} r */
function jsonResponse(r) {
  return new Response(JSON.stringify(r.json), { status: r.status, headers: { ...r.headers, ...CORS } });
}

/**
 * Pulls SSE chunks from the API only as fast as the client reads them. stop()
 * (the client went away: a cancelled body or request.signal) aborts the
 * generation and closes the chunk iterator, which frees the model.
 * @param {import('../openai-api.js').ApiResponse} r @param {AbortController} controller
 * @param {Turn} turn the generation turn: freed when the stream ends; told when it waits for its client
 */
function streamResponse(r, controller, turn) {
  const it = r.stream[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  let markFinished;
  const finished = new Promise((resolve) => { markFinished = resolve; });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    turn.release();
    markFinished();
  };
  const stop = () => {
    controller.abort(new WasmllmError('ERR_ABORTED', 'the client disconnected'));
    Promise.resolve(it.return?.()).catch(() => {}).finally(end);
  };
  const body = new ReadableStream({
    async pull(c) {
      turn.idleSince = null;
      try {
        const { done, value } = await it.next();
        turn.idleSince = Date.now();
        if (done) {
          end();
          c.close();
        } else {
          c.enqueue(encoder.encode(value));
        }
      } catch (e) {
        end();
        c.error(e);
      }
    },
    cancel: stop,
  }, { highWaterMark: 0 });
  // From another request: no I/O objects of this one (its AbortController
  // included) may be touched there, so only the generator is closed.
  turn.reclaim = () => { Promise.resolve(it.return?.()).catch(() => {}).finally(end); };
  turn.idleSince = Date.now(); // until the client asks for the first chunk
  return { response: new Response(body, { status: r.status, headers: { ...r.headers, ...CORS } }), finished, stop };
}
