/**
 * The OpenAI-compatible HTTP API as plain functions of (method, path, body):
 * shared by the Node server (web/node/server.js) and the edge worker (web/edge/index.js),
 * which only adapt their transport to it.
 */
import { WasmllmError } from './errors.js';
import { SlotPool } from './slots.js';

/**
 * @typedef {{ status: number, headers: Record<string, string>, json?: unknown,
 *   stream?: AsyncIterable<string> }} ApiResponse
 * @typedef {{ complete: Function, chat: Function, tokenize?: Function, embed?: Function }} Engine
 */

export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {{ type?: string, param?: string|null, code?: string|null }} [o] */
  constructor(status, message, o = {}) {
    super(message);
    this.status = status;
    this.type = o.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = o.param ?? null;
    this.code = o.code ?? null;
  }
}

/** @param {ApiError} e @returns {ApiResponse} */
export function errorResponse(e) {
  return {
    status: e.status,
    headers: { 'content-type': 'application/json' },
    json: { error: { message: e.message, type: e.type, param: e.param, code: e.code } },
  };
}

/** Maps runtime errors to the HTTP status a client can act on. */
function toApiError(e) {
  if (e instanceof ApiError) return e;
  if (e instanceof WasmllmError) {
    if (e.code === 'ERR_CONTEXT_FULL') return new ApiError(400, e.message, { code: 'context_length_exceeded' });
    if (e.code === 'ERR_TEMPLATE' || e.code === 'ERR_BAD_ARG') return new ApiError(400, e.message, { code: e.code });
    if (e.code === 'ERR_ABORTED') return new ApiError(499, e.message, { code: 'aborted' });
    if (e.code === 'ERR_BUSY') return new ApiError(503, e.message, { code: 'server_busy' });
    return new ApiError(500, e.message, { code: e.code });
  }
  return new ApiError(500, e?.message ?? String(e));
}

const FIELD_TYPES = {
  max_tokens: 'integer', max_completion_tokens: 'integer', temperature: 'number', top_p: 'number',
  top_k: 'integer', min_p: 'number', seed: 'integer', stream: 'boolean', n: 'integer',
  presence_penalty: 'number', frequency_penalty: 'number', repeat_penalty: 'number', model: 'string',
};

/** @param {Record<string, unknown>} body */
function checkFieldTypes(body) {
  for (const [field, type] of Object.entries(FIELD_TYPES)) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    const ok = type === 'integer' ? Number.isInteger(v) : typeof v === type;
    if (!ok) throw new ApiError(400, `'${field}' must be ${type === 'integer' ? 'an integer' : `a ${type}`}`, { param: field });
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw new ApiError(400, "only n=1 is supported", { param: 'n' });
  if (body.temperature !== undefined && body.temperature !== null && (body.temperature < 0 || body.temperature > 2)) {
    throw new ApiError(400, "'temperature' must be between 0 and 2", { param: 'temperature' });
  }
  if (body.top_p !== undefined && body.top_p !== null && (body.top_p <= 0 || body.top_p > 1)) {
    throw new ApiError(400, "'top_p' must be in (0, 1]", { param: 'top_p' });
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null && maxTokens < 1) throw new ApiError(400, "'max_tokens' must be at least 1", { param: 'max_tokens' });
  const stop = body.stop;
  if (stop !== undefined && stop !== null && typeof stop !== 'string' &&
      !(Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string'))) {
    throw new ApiError(400, "'stop' must be a string or an array of up to 4 strings", { param: 'stop' });
  }
}

/** Request fields -> the runtime's generation options. */
function generationOptions(body, signal, defaults) {
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? defaults.maxTokens,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    topK: body.top_k ?? 0,
    minP: body.min_p ?? 0,
    presencePenalty: body.presence_penalty ?? 0,
    frequencyPenalty: body.frequency_penalty ?? 0,
    repeatPenalty: body.repeat_penalty ?? 1,
    seed: body.seed ?? undefined,
    stop,
    signal,
  };
}

/** @param {unknown} messages */
function checkMessages(messages) {
  if (!Array.isArray(messages) || messages.length === 0) throw new ApiError(400, "'messages' must be a non-empty array", { param: 'messages' });
  for (const [i, m] of messages.entries()) {
    if (!m || typeof m !== 'object') throw new ApiError(400, `messages[${i}] must be an object`, { param: `messages[${i}]` });
    if (!['system', 'user', 'assistant', 'tool', 'developer'].includes(m.role)) {
      throw new ApiError(400, `messages[${i}].role must be system, user, assistant or tool`, { param: `messages[${i}].role` });
    }
    if (m.content !== null && m.content !== undefined && typeof m.content !== 'string' && !Array.isArray(m.content)) {
      throw new ApiError(400, `messages[${i}].content must be a string or an array of parts`, { param: `messages[${i}].content` });
    }
  }
  // Content parts (text only) are flattened: this runtime has no image input.
  return messages.map((m) => Array.isArray(m.content)
    ? { ...m, content: m.content.map((p) => (p && p.type === 'text' ? p.text : '')).join('') }
    : m);
}

/** How chat and text completions name their objects and shape their choices. */
const CHAT_SHAPE = {
  idPrefix: 'chatcmpl', object: 'chat.completion', chunkObject: 'chat.completion.chunk',
  chunkChoice: (text, finish) => ({ index: 0, delta: finish ? {} : { role: 'assistant', content: text }, finish_reason: finish }),
  finalChoice: (text, finish) => ({ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish, logprobs: null }),
};
const TEXT_SHAPE = {
  idPrefix: 'cmpl', object: 'text_completion', chunkObject: 'text_completion',
  chunkChoice: (text, finish) => ({ index: 0, text, finish_reason: finish, logprobs: null }),
  finalChoice: (text, finish) => ({ index: 0, text, finish_reason: finish, logprobs: null }),
};

let idCounter = 0;
const newId = (prefix) => `${prefix}-${Date.now().toString(36)}${(idCounter++).toString(36)}`;

/**
 * @param {{ engines: Engine[], modelId: string, maxTokensDefault?: number, maxQueue?: number,
 *   embeddings?: boolean }} config
 */
export function createApi(config) {
  const pool = new SlotPool(config.engines, { maxQueue: config.maxQueue ?? 256 });
  const modelId = config.modelId;
  const defaults = { maxTokens: config.maxTokensDefault ?? 256 };
  const created = Math.floor(Date.now() / 1000);

  function checkModel(body) {
    if (body.model !== undefined && body.model !== modelId) {
      throw new ApiError(404, `The model '${body.model}' does not exist; this server serves '${modelId}'`, { code: 'model_not_found', param: 'model' });
    }
  }

  /**
   * Runs one generation in a slot, yielding {token, text} pieces; returns the
   * runtime's Completion (prompt tokens, finish reason) when it ends.
   */
  async function* generate(kind, input, options, signal) {
    const slot = await pool.acquire(signal);
    let it;
    try {
      it = kind === 'chat' ? slot.engine.chat(input, options) : slot.engine.complete(input, options);
      let r;
      while (!(r = await it.next()).done) yield r.value;
      return r.value;
    } finally {
      // A consumer that stops early (its client went away) closes this
      // generator with return(): close the engine's too, or it stays busy.
      try { await it?.return?.(); } finally { pool.release(slot); }
    }
  }

  /** OpenAI's finish_reason and usage from a runtime Completion. */
  function summary(completion) {
    const promptTokens = completion?.promptTokens?.length ?? 0;
    const completionTokens = completion?.tokens?.length ?? 0;
    return {
      finish: completion?.finishReason === 'stop' ? 'stop' : 'length',
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  }

  async function runToEnd(kind, input, options, signal) {
    let text = '';
    const it = generate(kind, input, options, signal);
    let r;
    while (!(r = await it.next()).done) text += r.value.text;
    return { text, ...summary(r.value) };
  }

  function sse(chunks) {
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' },
      stream: chunks,
    };
  }

  async function* streamChunks(kind, input, options, signal, makeChunk) {
    const it = generate(kind, input, options, signal);
    try {
      let r;
      while (!(r = await it.next()).done) {
        if (r.value.text) yield `data: ${JSON.stringify(makeChunk(r.value.text, null))}\n\n`;
      }
      const { finish, usage } = summary(r.value);
      yield `data: ${JSON.stringify({ ...makeChunk('', finish), usage })}\n\n`;
    } catch (e) {
      if (signal.aborted) return;
      const err = toApiError(e);
      yield `data: ${JSON.stringify({ error: { message: err.message, type: err.type, code: err.code } })}\n\n`;
    } finally {
      await it.return(); // frees the slot when the transport stops reading early
    }
    yield 'data: [DONE]\n\n';
  }

  async function chatCompletions(body, signal) {
    checkFieldTypes(body);
    checkModel(body);
    const messages = checkMessages(body.messages);
    const options = generationOptions(body, signal, defaults);
    if (Array.isArray(body.tools)) options.tools = body.tools;
    return respond('chat', messages, options, signal, body.stream, CHAT_SHAPE);
  }

  async function completions(body, signal) {
    checkFieldTypes(body);
    checkModel(body);
    let prompt = body.prompt;
    if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
    const isTokenArray = Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => Number.isInteger(t));
    if (typeof prompt !== 'string' && !isTokenArray) {
      throw new ApiError(400, "'prompt' must be a string or an array of token ids", { param: 'prompt' });
    }
    const options = generationOptions(body, signal, defaults);
    return respond('complete', prompt, options, signal, body.stream, TEXT_SHAPE);
  }

  /**
   * One generation as an OpenAI response: SSE chunks when streaming, else one
   * JSON object; `shape` says how each API names its objects and choices.
   */
  async function respond(kind, input, options, signal, stream, shape) {
    const id = newId(shape.idPrefix);
    const envelope = (object) => ({ id, object, created: Math.floor(Date.now() / 1000), model: modelId });
    if (stream) {
      const makeChunk = (text, finish) => ({ ...envelope(shape.chunkObject), choices: [shape.chunkChoice(text, finish)] });
      return sse(streamChunks(kind, input, options, signal, makeChunk));
    }
    const r = await runToEnd(kind, input, options, signal);
    return {
      status: 200, headers: { 'content-type': 'application/json' },
      json: { ...envelope(shape.object), choices: [shape.finalChoice(r.text, r.finish)], usage: r.usage },
    };
  }

  async function embeddings(body, signal) {
    checkModel(body);
    const engine = config.engines[0];
    if (!config.embeddings || typeof engine.embed !== 'function') {
      throw new ApiError(400, `the model '${modelId}' is not an embedding model`, { code: 'not_an_embedding_model' });
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      throw new ApiError(400, "'encoding_format' must be 'float' or 'base64'", { param: 'encoding_format' });
    }
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(input) || input.length === 0 || !input.every((s) => typeof s === 'string')) {
      throw new ApiError(400, "'input' must be a string or a non-empty array of strings", { param: 'input' });
    }
    const slot = await pool.acquire(signal);
    try {
      const vectors = await slot.engine.embed(input, { normalize: true });
      let promptTokens = 0;
      if (slot.engine.tokenize) for (const s of input) promptTokens += slot.engine.tokenize(s).length;
      return {
        status: 200, headers: { 'content-type': 'application/json' },
        json: {
          object: 'list', model: modelId,
          data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: encodeVector(v, format) })),
          usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
        },
      };
    } finally {
      pool.release(slot);
    }
  }

  /**
   * @param {string} method @param {string} path @param {unknown} body parsed JSON (or undefined)
   * @param {AbortSignal} signal aborted when the client goes away
   * @returns {Promise<ApiResponse>}
   */
  async function handle(method, path, body, signal) {
    try {
      const route = `${method} ${path.replace(/\/+$/, '')}`;
      switch (route) {
        case 'GET /health':
          return { status: 200, headers: { 'content-type': 'application/json' }, json: { status: 'ok', ...pool.stats() } };
        case 'GET /v1/models':
          return { status: 200, headers: { 'content-type': 'application/json' }, json: { object: 'list', data: [{ id: modelId, object: 'model', created, owned_by: 'wasmllm' }] } };
        case 'POST /v1/chat/completions':
          return await chatCompletions(requireObject(body), signal);
        case 'POST /v1/completions':
          return await completions(requireObject(body), signal);
        case 'POST /v1/embeddings':
          return await embeddings(requireObject(body), signal);
      }
      const known = ['/health', '/v1/models', '/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
      if (known.includes(path.replace(/\/+$/, ''))) throw new ApiError(405, `${method} is not allowed on ${path}`);
      throw new ApiError(404, `no route ${method} ${path}`, { code: 'not_found' });
    } catch (e) {
      return errorResponse(toApiError(e));
    }
  }

  return { handle, pool, modelId };
}

/** OpenAI's two encodings: a JSON array, or the little-endian float32 bytes in base64. */
function encodeVector(v, format) {
  if (format === 'float') return Array.from(v);
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function requireObject(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
  return body;
}
