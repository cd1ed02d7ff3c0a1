/**
 * The OpenAI-compatible HTTP API as plain functions of (method, path, body):
 * shared by the Node server (web/node/server.js) and the edge worker (web/edge/index.js),
 * which only adapt their transport to it.
 */
import { WasmllmError } from './errors.js';
import { SlotPool } from './slots.js';
import { checkKnownFields, logitBiasOption, chatLogprobsOption, completionLogprobsOption, echoOption, toolOptions, responseFormatOption, predictionOption } from './openai-fields.js';
import { chatLogprobs, completionLogprobs } from './openai-logprobs.js';

/**
 * @typedef {{ status: number, headers: Record<string, string>, json?: unknown,
 *   stream?: AsyncIterable<string> }} ApiResponse
 * @typedef {{ complete: Function, tokenize: Function, metadata: Map<string, unknown>, tokenizer: any,
 *   contextSize: number, embed?: Function }} Engine  a Model or Session
 */

export class ApiError extends Error {
  /**
   * @param {number} status @param {string} message
   * @param {{ type?: string, param?: string|null, code?: string|null, headers?: Record<string, string> }} [o]
   */
  constructor(status, message, o = {}) {
    super(message);
    this.status = status;
    this.headers = o.headers ?? {};
    this.type = o.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = o.param ?? null;
    this.code = o.code ?? null;
  }
}

/** @param {ApiError} e @returns {ApiResponse} */
export function errorResponse(e) {
  return {
    status: e.status,
    headers: { 'content-type': 'application/json', ...e.headers },
    json: { error: { message: e.message, type: e.type, param: e.param, code: e.code } },
  };
}

/** Seconds a client is told to wait (Retry-After) when every slot is busy and the queue is full. */
const RETRY_AFTER_S = 1;
/** The largest max_tokens accepted: llama.cpp's n_predict is an int32. Generation also ends when the context is full. */
const MAX_TOKENS_LIMIT = 2 ** 31 - 1;
/** Seeds are the sampler's 32 bits; -1 asks for a random one, as in llama.cpp's server. */
const SEED_LIMIT = 2 ** 32 - 1;

/** Maps runtime errors to the HTTP status a client can act on. */
function toApiError(e) {
  if (e instanceof ApiError) return e;
  if (e instanceof WasmllmError) {
    if (e.code === 'ERR_CONTEXT_FULL') return new ApiError(400, e.message, { code: 'context_length_exceeded' });
    if (e.code === 'ERR_TEMPLATE' || e.code === 'ERR_BAD_ARG' || e.code === 'ERR_BAD_GRAMMAR') return new ApiError(400, e.message, { code: e.code });
    if (e.code === 'ERR_ABORTED') return new ApiError(499, e.message, { code: 'aborted' });
    if (e.code === 'ERR_BUSY') return busy(e.message);
    return new ApiError(500, e.message, { code: e.code });
  }
  return new ApiError(500, e?.message ?? String(e));
}

/** 503 with Retry-After: every slot busy and the queue full, or the server going down. */
function busy(message, code = 'server_busy') {
  return new ApiError(503, message, { code, headers: { 'retry-after': String(RETRY_AFTER_S) } });
}

/**
 * Each sampling field's type and accepted range (OpenAI's where OpenAI has the
 * field, llama.cpp's server for top_k, min_p, repeat_penalty and seed's -1).
 * [min, max], with open ends where `minOpen`.
 */
const FIELDS = {
  max_tokens: { type: 'integer', min: 1, max: MAX_TOKENS_LIMIT },
  max_completion_tokens: { type: 'integer', min: 1, max: MAX_TOKENS_LIMIT },
  temperature: { type: 'number', min: 0, max: 2 },
  top_p: { type: 'number', min: 0, max: 1, minOpen: true },
  top_k: { type: 'integer', min: 0, max: MAX_TOKENS_LIMIT },
  min_p: { type: 'number', min: 0, max: 1 },
  seed: { type: 'integer', min: -1, max: SEED_LIMIT },
  presence_penalty: { type: 'number', min: -2, max: 2 },
  frequency_penalty: { type: 'number', min: -2, max: 2 },
  repeat_penalty: { type: 'number', min: 0, max: Infinity, minOpen: true },
  n: { type: 'integer', min: 1, max: 1 },
  stream: { type: 'boolean' },
  model: { type: 'string' },
};

/** @param {Record<string, unknown>} body */
function checkFields(body) {
  for (const [field, rule] of Object.entries(FIELDS)) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    // OpenAI's way to score a prompt without generating: echo with max_tokens 0.
    if (field === 'max_tokens' && v === 0 && body.echo === true) continue;
    const ok = rule.type === 'integer' ? Number.isInteger(v) : typeof v === rule.type;
    if (!ok) throw new ApiError(400, `'${field}' must be ${rule.type === 'integer' ? 'an integer' : `a ${rule.type}`}`, { param: field });
    if (rule.min === undefined) continue;
    const low = rule.minOpen ? v <= rule.min : v < rule.min;
    if (low || v > rule.max) {
      const range = rule.max === Infinity ? `greater than ${rule.min}` : `${rule.minOpen ? 'in (' : 'in ['}${rule.min}, ${rule.max}]`;
      throw new ApiError(400, `'${field}' must be ${field === 'n' ? '1 (one choice per request)' : range}, got ${v}`, { param: field });
    }
  }
  const stop = body.stop;
  if (stop !== undefined && stop !== null && typeof stop !== 'string' &&
      !(Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string'))) {
    throw new ApiError(400, "'stop' must be a string or an array of up to 4 strings", { param: 'stop' });
  }
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (body.stream !== true) throw new ApiError(400, "'stream_options' is only allowed when 'stream' is true", { param: 'stream_options' });
    if (typeof so !== 'object' || Array.isArray(so)) throw new ApiError(400, "'stream_options' must be an object", { param: 'stream_options' });
    for (const key of Object.keys(so)) {
      if (key !== 'include_usage') throw new ApiError(400, `'stream_options.${key}' is not supported (only include_usage)`, { param: `stream_options.${key}` });
    }
    if (so.include_usage !== undefined && typeof so.include_usage !== 'boolean') {
      throw new ApiError(400, "'stream_options.include_usage' must be a boolean", { param: 'stream_options.include_usage' });
    }
  }
}

/**
 * Request fields -> the runtime's generation options (the signal is added
 * when the generation starts). A field the request
 * leaves out stays undefined, so the runtime's defaults (SAMPLING_DEFAULTS in
 * web/model.js, the CLI's too) apply: one set of defaults everywhere.
 */
function generationOptions(body, defaults) {
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? defaults.maxTokens,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    topK: body.top_k ?? undefined,
    minP: body.min_p ?? undefined,
    presencePenalty: body.presence_penalty ?? undefined,
    frequencyPenalty: body.frequency_penalty ?? undefined,
    repeatPenalty: body.repeat_penalty ?? undefined,
    seed: body.seed === -1 ? undefined : body.seed ?? undefined,
    stop,
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

/**
 * @typedef {{ content: string, reasoning: string, toolCalls: object[] }} Delta what a chunk adds
 * @typedef {import('./model.js').TokenPiece[] | null} Logprobs the pieces whose log-probabilities go with it
 */

/** A chunk's delta: the role, then whichever of content, reasoning_content and tool_calls it adds. @param {Delta} d */
function chatDelta(d) {
  const delta = { role: 'assistant' };
  if (d.content || (!d.reasoning && !d.toolCalls.length)) delta.content = d.content;
  if (d.reasoning) delta.reasoning_content = d.reasoning;
  if (d.toolCalls.length) delta.tool_calls = d.toolCalls;
  return delta;
}

/**
 * How chat and text completions name their objects and shape their choices.
 * chunkChoice(delta, finish, logprobs, offset) and finalChoice(message, finish, logprobs):
 * `message` is chat's assistant message (content, reasoning_content, tool_calls).
 */
const CHAT_SHAPE = {
  idPrefix: 'chatcmpl', object: 'chat.completion', chunkObject: 'chat.completion.chunk',
  /** @param {Delta} d @param {string|null} finish @param {Logprobs} lp */
  chunkChoice: (d, finish, lp) => ({ index: 0, delta: finish ? {} : chatDelta(d), finish_reason: finish, logprobs: lp ? chatLogprobs(lp) : null }),
  finalChoice: (message, finish, lp) => ({ index: 0, message, finish_reason: finish, logprobs: lp ? chatLogprobs(lp) : null }),
};
const TEXT_SHAPE = {
  idPrefix: 'cmpl', object: 'text_completion', chunkObject: 'text_completion',
  /** @param {Delta} d @param {string|null} finish @param {Logprobs} lp @param {number} offset */
  chunkChoice: (d, finish, lp, offset) => ({ index: 0, text: d.content, finish_reason: finish, logprobs: lp ? completionLogprobs(lp, offset) : null }),
  finalChoice: (message, finish, lp) => ({ index: 0, text: message.content, finish_reason: finish, logprobs: lp ? completionLogprobs(lp) : null }),
};

let idCounter = 0;
const newId = (prefix) => `${prefix}-${Date.now().toString(36)}${(idCounter++).toString(36)}`;

/**
 * Wraps a generation's iterator so that `cleanup` runs exactly once: when it
 * ends, fails, or is closed with return(), even before its first next() (an
 * async generator that never started skips its finally blocks, which would
 * leave its slot taken when a client leaves before the first chunk).
 * @template T @param {AsyncIterator<T>} it @param {() => Promise<void> | void} cleanup
 * @returns {AsyncIterableIterator<T>}
 */
function withCleanup(it, cleanup) {
  let done = false;
  const finish = async () => {
    if (done) return;
    done = true;
    await cleanup();
  };
  return {
    async next() {
      if (done) return { done: true, value: undefined };
      try {
        const r = await it.next();
        if (r.done) await finish();
        return r;
      } catch (e) {
        await finish();
        throw e;
      }
    },
    async return(value) {
      try { await it.return?.(value); } finally { await finish(); }
      return { done: true, value };
    },
    [Symbol.asyncIterator]() { return this; },
  };
}

/**
 * /health's view of continuous batching (web/scheduler.js): steps that ran
 * several requests in one pass over the weights. Engines without it add nothing.
 */
export function batchHealth(engine) {
  if (typeof engine?.batchStats !== 'function') return {};
  const s = engine.batchStats();
  return { batching: s.enabled, batched_steps: s.batches };
}

/**
 * @param {{ engines: Engine[], modelId: string, aliases?: string[], maxTokensDefault?: number,
 *   maxQueue?: number, embeddings?: boolean, speculative?: object[] }} config
 *   speculative: each slot's `speculative` option (serve --lookup / --draft-model), by engine index
 */
export function createApi(config) {
  const pool = new SlotPool(config.engines, { maxQueue: config.maxQueue ?? 256 });
  const modelId = config.modelId;
  const aliases = (config.aliases ?? []).filter((a) => a && a !== modelId);
  const defaults = { maxTokens: config.maxTokensDefault ?? 256 };
  const created = Math.floor(Date.now() / 1000);
  /** Set by drain(): the server is shutting down and takes no new generations. */
  let draining = false;
  /** The smallest context of any slot: a prompt over it could never run. */
  const contextSize = Math.min(...config.engines.map((e) => e.contextSize ?? Infinity));

  function checkModel(body) {
    if (body.model !== undefined && body.model !== modelId && !aliases.includes(body.model)) {
      const names = [modelId, ...aliases].map((n) => `'${n}'`).join(' or ');
      throw new ApiError(404, `The model '${body.model}' does not exist; this server serves ${names}`, { code: 'model_not_found', param: 'model' });
    }
  }

  /** Refuses a prompt that cannot fit, before it queues or anything is evaluated. */
  function checkFits(ids, what) {
    if (ids.length > contextSize) {
      throw new ApiError(400, `${what} has ${ids.length} tokens but the context holds ${contextSize}`, { code: 'context_length_exceeded', param: what === 'the prompt' ? 'prompt' : 'messages' });
    }
  }

  /**
   * OpenAI's finish_reason and usage from a runtime Completion (its finishReason as the reply parser judged it).
   * With a prediction, completion_tokens_details says how many drafted tokens the model kept
   * (accepted_prediction_tokens) and dropped (rejected_prediction_tokens).
   */
  function summary(completion, reason = completion?.finishReason, prediction = false) {
    const promptTokens = completion?.promptTokens?.length ?? 0;
    const completionTokens = completion?.tokens?.length ?? 0;
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const spec = completion?.timings?.speculative;
    if (prediction) {
      usage.completion_tokens_details = {
        accepted_prediction_tokens: spec?.accepted ?? 0, rejected_prediction_tokens: spec ? spec.drafted - spec.accepted : 0,
      };
    }
    return { finish: reason === 'stop' || reason === 'tool_calls' ? reason : 'length', usage };
  }

  /**
   * The `speculative` option for a job on a slot: the request's prediction
   * drafts by prompt lookup (with the slot's maxDraft, if it has one); else
   * the slot's own (serve --lookup / --draft-model), if any.
   */
  function speculativeFor(j, slot) {
    const own = config.speculative?.[slot.index];
    if (j.prediction === null) return own ? { speculative: own } : {};
    return { speculative: { lookup: { text: j.prediction }, ...(own?.maxDraft ? { maxDraft: own.maxDraft } : {}) } };
  }

  /**
   * A validated generation request: the prompt's token ids (measured against
   * the context) and the runtime options. Nothing here waits or evaluates.
   * @typedef {{ ids: number[], options: object, stream: boolean, includeUsage: boolean, shape: typeof CHAT_SHAPE,
   *   newParser: (() => ReturnType<typeof import('./structured/reply.js').createReplyParser>) | null,
   *   prediction: string | null }} Job
   *   newParser: chat's reply parser (content, reasoning_content, tool_calls); null for text completions
   */

  /** @returns {Promise<Job>} */
  async function prepareChat(body) {
    checkKnownFields(body, 'chat');
    checkFields(body);
    checkModel(body);
    const messages = checkMessages(body.messages);
    const engine = config.engines[0];
    const tools = toolOptions(body);
    const format = responseFormatOption(body);
    const { prepareChatTurn } = await import('./chat-turn.js');
    let turn;
    try {
      turn = await prepareChatTurn(engine.metadata, engine.tokenizer, messages, tools);
    } catch (e) {
      // The runtime's tool errors name chat()'s options; the client sent tools / tool_choice.
      if (e instanceof WasmllmError && e.code === 'ERR_BAD_ARG' && /^tool|parallelToolCalls/.test(e.message)) {
        const param = /^toolChoice/.test(e.message) ? 'tool_choice' : /^parallel/.test(e.message) ? 'parallel_tool_calls' : 'tools';
        throw new ApiError(400, e.message, { param, code: e.code });
      }
      throw e;
    }
    checkFits(turn.ids, 'the chat prompt');
    if (turn.grammar && format) {
      throw new ApiError(400, "'response_format' cannot be combined with a forced 'tool_choice' (both constrain the reply)", { param: 'response_format' });
    }
    const options = generationOptions(body, defaults);
    options.stop = [...turn.stopStrings, ...options.stop];
    options.stopTokens = turn.stopTokenIds;
    const grammar = turn.grammar ?? format;
    if (grammar) options.grammar = grammar;
    options.logprobs = chatLogprobsOption(body);
    options.logitBias = logitBiasOption(body.logit_bias, engine.tokenizer.nVocab);
    return { ...job(body, turn.ids, options, CHAT_SHAPE), newParser: turn.newParser };
  }

  /** @returns {Promise<Job>} */
  async function prepareCompletion(body) {
    checkKnownFields(body, 'completion');
    checkFields(body);
    checkModel(body);
    let prompt = body.prompt;
    if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
    const isTokenArray = Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => Number.isInteger(t));
    if (typeof prompt !== 'string' && !isTokenArray) {
      throw new ApiError(400, "'prompt' must be a string or an array of token ids", { param: 'prompt' });
    }
    const ids = typeof prompt === 'string' ? config.engines[0].tokenize(prompt) : prompt;
    if (ids.length === 0) throw new ApiError(400, "'prompt' is empty (and the model adds no BOS token)", { param: 'prompt' });
    checkFits(ids, 'the prompt');
    const options = generationOptions(body, defaults);
    options.logprobs = completionLogprobsOption(body);
    options.logitBias = logitBiasOption(body.logit_bias, config.engines[0].tokenizer.nVocab);
    if (echoOption(body)) options.echo = true;
    return job(body, ids, options, TEXT_SHAPE);
  }

  function job(body, ids, options, shape) {
    return {
      ids, options, stream: body.stream === true, includeUsage: body.stream_options?.include_usage === true, shape, newParser: null,
      prediction: predictionOption(body),
    };
  }

  /**
   * Takes a slot (503 with Retry-After when the queue is full) and starts the
   * generation. A stream's headers go out only after this resolves, so every
   * error known before the first byte is a status code.
   * @param {Job} j @param {AbortSignal} signal
   * @returns {Promise<ApiResponse>}
   */
  async function start(j, signal) {
    if (draining) throw busy('the server is shutting down', 'shutting_down');
    const slot = await pool.acquire(signal);
    let it;
    try {
      // complete() checks token ids against the vocabulary before it returns.
      it = slot.engine.complete(j.ids, { ...j.options, ...speculativeFor(j, slot), signal });
    } catch (e) {
      pool.release(slot);
      throw e;
    }
    const pieces = withCleanup(it, () => pool.release(slot));
    const id = newId(j.shape.idPrefix);
    const envelope = (object) => ({ id, object, created: Math.floor(Date.now() / 1000), model: modelId });
    const replies = readReply(pieces, j, slot.engine);
    if (j.stream) {
      const chunk = (choices, extra) => `data: ${JSON.stringify({ ...envelope(j.shape.chunkObject), choices, ...extra })}\n\n`;
      return sse(withCleanup(streamChunks(replies, j, chunk, signal), () => replies.return()));
    }
    const kept = [];
    let text = '';
    let r;
    while (!(r = await replies.next()).done) {
      text += r.value.delta.content;
      kept.push(...r.value.pieces);
    }
    const { finish, usage } = summary(r.value.completion, r.value.finish, j.prediction !== null);
    const message = r.value.message ?? { role: 'assistant', content: text };
    const logprobs = j.options.logprobs === undefined ? null : kept;
    return {
      status: 200, headers: { 'content-type': 'application/json' },
      json: { ...envelope(j.shape.object), choices: [j.shape.finalChoice(message, finish, logprobs)], usage },
    };
  }

  /**
   * The generation's pieces as reply deltas: for chat, through the reply
   * parser (content, reasoning, tool calls; it may end the generation after
   * one call), for text completions the text as it is. Each step carries the
   * pieces it covers (for logprobs); the return value the Completion, the
   * finish reason and chat's message.
   * @param {AsyncIterableIterator<any>} pieces @param {Job} j @param {Engine} engine
   * @returns {AsyncGenerator<{ delta: Delta, pieces: any[] }, { completion: any, finish: string, message: any }>}
   */
  async function* readReply(pieces, j, engine) {
    const parser = j.newParser?.() ?? null;
    let r;
    let stoppedEarly = false;
    try {
      while (!(r = await pieces.next()).done) {
        const p = r.value;
        const delta = parser ? parser.push(p.text) : { content: p.text, reasoning: '', toolCalls: [] };
        yield { delta, pieces: p.token >= 0 ? [p] : [] };
        if (parser?.done) { stoppedEarly = true; break; }
      }
    } finally {
      await pieces.return(undefined);
    }
    const completion = stoppedEarly ? engine.lastCompletion : r.value;
    if (!parser) return { completion, finish: completion?.finishReason, message: null };
    const tail = parser.finish();
    if (tail.content || tail.reasoning || tail.toolCalls.length) yield { delta: tail, pieces: [] };
    return { completion, finish: parser.finishReason(completion?.finishReason, stoppedEarly), message: parser.message() };
  }

  function sse(chunks) {
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' },
      stream: chunks,
    };
  }

  /**
   * The SSE events of a running generation. With stream_options.include_usage,
   * every chunk carries `usage: null` and one last chunk with no choices
   * carries the usage, as OpenAI sends it.
   */
  async function* streamChunks(replies, j, chunk, signal) {
    const usageField = j.includeUsage ? { usage: null } : {};
    const wantLogprobs = j.options.logprobs !== undefined;
    /** Pieces whose log-probabilities wait for the chunk that carries their text. */
    let held = [];
    let offset = 0;
    try {
      let r;
      while (!(r = await replies.next()).done) {
        const { delta, pieces } = r.value;
        if (wantLogprobs) held.push(...pieces);
        if (!delta.content && !delta.reasoning && !delta.toolCalls.length) continue;
        yield chunk([j.shape.chunkChoice(delta, null, wantLogprobs ? held : null, offset)], usageField);
        for (const p of held) offset += p.text.length;
        held = [];
      }
      const { finish, usage } = summary(r.value.completion, r.value.finish, j.prediction !== null);
      const rest = wantLogprobs && held.length ? held : null;
      yield chunk([j.shape.chunkChoice({ content: '', reasoning: '', toolCalls: [] }, finish, rest, offset)], usageField);
      if (j.includeUsage) yield chunk([], { usage });
    } catch (e) {
      if (signal.aborted) return;
      // Only what goes wrong after the first byte (the status is sent) lands here.
      const err = toApiError(e);
      yield `data: ${JSON.stringify({ error: { message: err.message, type: err.type, code: err.code } })}\n\n`;
    }
    yield 'data: [DONE]\n\n';
  }

  async function embeddings(body, signal) {
    checkKnownFields(body, 'embeddings');
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
    if (draining) throw busy('the server is shutting down', 'shutting_down');
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

  const json = (status, body) => ({ status, headers: { 'content-type': 'application/json' }, json: body });

  /** Whether a generation request sent now would be taken (a free slot or room in the queue). */
  function ready() {
    const stats = pool.stats();
    if (draining) return json(503, { status: 'shutting_down', ...stats });
    if (stats.slots_idle === 0 && stats.queued >= pool.maxQueue) return json(503, { status: 'busy', ...stats });
    return json(200, { status: 'ready', ...stats });
  }

  const KNOWN = ['/health', '/ready', '/v1/models', '/v1/chat/completions', '/v1/completions', '/v1/embeddings'];

  /**
   * The first phase of a request: routes that answer at once are answered;
   * a generation is validated, tokenized and measured, but not started.
   * @param {string} method @param {string} path @param {unknown} body parsed JSON (or undefined)
   * @returns {Promise<{ response: ApiResponse } | { job: Job }>}
   */
  async function prepare(method, path, body) {
    try {
      const route = `${method} ${path.replace(/\/+$/, '')}`;
      switch (route) {
        case 'GET /health':
          return { response: json(200, { status: 'ok', ...pool.stats(), ...batchHealth(config.engines[0]) }) };
        case 'GET /ready':
          return { response: ready() };
        case 'GET /v1/models':
          return { response: json(200, { object: 'list', data: [{ id: modelId, object: 'model', created, owned_by: 'wasmllm', aliases }] }) };
        case 'POST /v1/chat/completions':
          return { job: await prepareChat(requireObject(body)) };
        case 'POST /v1/completions':
          return { job: await prepareCompletion(requireObject(body)) };
      }
      if (route === 'POST /v1/embeddings') return { job: { embeddings: requireObject(body) } };
      if (KNOWN.includes(path.replace(/\/+$/, ''))) throw new ApiError(405, `${method} is not allowed on ${path}`);
      throw new ApiError(404, `no route ${method} ${path}`, { code: 'not_found' });
    } catch (e) {
      return { response: errorResponse(toApiError(e)) };
    }
  }

  /**
   * The second phase: waits for a slot and starts the generation.
   * @param {Job} j @param {AbortSignal} signal aborted when the client goes away
   * @returns {Promise<ApiResponse>}
   */
  async function run(j, signal) {
    try {
      return j.embeddings ? await embeddings(j.embeddings, signal) : await start(j, signal);
    } catch (e) {
      // A transport that aborts with an ApiError (shutdown) says what the client should see.
      if (signal?.aborted && signal.reason instanceof ApiError) return errorResponse(signal.reason);
      return errorResponse(toApiError(e));
    }
  }

  /**
   * @param {string} method @param {string} path @param {unknown} body parsed JSON (or undefined)
   * @param {AbortSignal} signal aborted when the client goes away
   * @returns {Promise<ApiResponse>}
   */
  async function handle(method, path, body, signal) {
    const p = await prepare(method, path, body);
    return 'response' in p ? p.response : run(p.job, signal);
  }

  /** Stops taking generations (they get 503, /ready says so); running ones go on. */
  function drain() { draining = true; }

  return { handle, prepare, run, drain, pool, modelId, aliases };
}

/**
 * Checks `Authorization: Bearer KEY` against the configured key (compared in
 * time independent of where they differ). /health is left open for probes.
 * @param {string | null | undefined} header @param {string} apiKey
 */
export function checkApiKey(header, apiKey) {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  const given = m ? m[1].trim() : '';
  let diff = given.length ^ apiKey.length;
  for (let i = 0; i < apiKey.length; i++) diff |= apiKey.charCodeAt(i) ^ (given.charCodeAt(i) | 0);
  if (diff !== 0) {
    throw new ApiError(401, given ? 'Incorrect API key provided' : 'No API key provided: send Authorization: Bearer <key>',
      { code: 'invalid_api_key', headers: { 'www-authenticate': 'Bearer' } });
  }
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
