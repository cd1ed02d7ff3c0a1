/**
 * The Model class: one GGUF bound to one wasm instance, one KV cache and a
 * generation loop. All heavy work happens in C (src/wasmllm.h); this file
 * only moves token ids in and out and decides when to stop.
 */
import { WasmllmError, codeFromStatus } from './errors.js';
import { loadWasm } from './wasm-loader.js';
import { loadIntoHeap, abortError } from './sources.js';
import { createTokenizer } from './tokenizer/index.js';
import { GGML_TYPES } from './gguf-types.js';
import { KV_TYPES, parseKvType, kvTypeName } from './kv-type.js';
import { grammarText, parseLogitBias, openMatcher, freeConstraints } from './constraints.js';
import { scorePerplexity, checkPerplexityArgs, PERPLEXITY_CONTEXT, PERPLEXITY_BATCH } from './perplexity.js';
import { Scheduler, PROMPT_BATCH, nextMacrotask } from './scheduler.js';
import { Speculator, parseSpeculative, checkSameVocabulary, greedyDraft, DRAFT_ACCESS } from './speculative.js';

export { PROMPT_BATCH };
/** Context size when the caller names none: the training context, capped so the KV cache stays small. */
const DEFAULT_MAX_CONTEXT = 4096;

/** llama.cpp's `general.file_type` numbering (LLAMA_FTYPE_*). */
const FILE_TYPES = {
  0: 'ALL_F32', 1: 'MOSTLY_F16', 2: 'MOSTLY_Q4_0', 3: 'MOSTLY_Q4_1', 7: 'MOSTLY_Q8_0', 8: 'MOSTLY_Q5_0',
  9: 'MOSTLY_Q5_1', 10: 'MOSTLY_Q2_K', 11: 'MOSTLY_Q3_K_S', 12: 'MOSTLY_Q3_K_M', 13: 'MOSTLY_Q3_K_L',
  14: 'MOSTLY_Q4_K_S', 15: 'MOSTLY_Q4_K_M', 16: 'MOSTLY_Q5_K_S', 17: 'MOSTLY_Q5_K_M', 18: 'MOSTLY_Q6_K',
  19: 'MOSTLY_IQ2_XXS', 20: 'MOSTLY_IQ2_XS', 21: 'MOSTLY_Q2_K_S', 22: 'MOSTLY_IQ3_XS', 23: 'MOSTLY_IQ3_XXS',
  24: 'MOSTLY_IQ1_S', 25: 'MOSTLY_IQ4_NL', 26: 'MOSTLY_IQ3_S', 27: 'MOSTLY_IQ3_M', 28: 'MOSTLY_IQ2_S',
  29: 'MOSTLY_IQ2_M', 30: 'MOSTLY_IQ4_XS', 31: 'MOSTLY_IQ1_M', 32: 'MOSTLY_BF16',
};

/**
 * @typedef {object} LoadOptions
 * @property {number} [threads]      default: 1 for models under 100M parameters (SMALL_MODEL_PARAMS:
 *                                   one thread decodes them faster), else every core
 *                                   (os.availableParallelism / hardwareConcurrency)
 * @property {number} [contextSize]  tokens in the KV cache; default min(training context, 4096)
 * @property {'f16'|'q8_0'} [kvType] how the KV cache stores keys and values (every session of the
 *                                   model): 'f16' (default, as llama.cpp) or 'q8_0' (~53% of the
 *                                   bytes, as llama.cpp's --cache-type-k/-v q8_0; needs head dims
 *                                   that are multiples of 32, else ERR_BAD_ARG)
 * @property {AbortSignal} [signal]
 * @property {(p: { loaded: number, total: number | undefined, shard: number, shards: number }) => void} [onProgress]
 * @property {'mt'|'st'} [variant]   force the threaded or single-threaded wasm build
 * @property {'simd128'|'relaxed'|'auto'} [isa]  the SIMD128 build (default), the relaxed-SIMD one
 *                                   (ERR_WASM where the host cannot run it right), or 'auto' (relaxed
 *                                   where it can); the same results either way
 * @property {number} [sessions]     sessions (KV caches) expected to exist at once, default 1:
 *                                   each gets its own thread pool, and the workers are started up front
 * @property {boolean} [batch]       default true: the decode steps of all sessions that are generating
 *                                   at once run as one pass over the weights (web/scheduler.js); false
 *                                   runs each session's step alone, in turns (same results, for comparison)
 * @property {WebAssembly.Module} [wasmModule]  a precompiled build (edge workers), with wasmFactory
 * @property {(settings: object) => Promise<any>} [wasmFactory]  that build's ES6 glue (default export)
 * @property {import('./sources.js').OpenPath} [openPath]  the host's file reader (Node: web/node/load.js
 *                                   passes it; without one, file paths are refused)
 * @property {import('./wasm-loader.js').LoadBuild} [loadBuild]  the host's way to find the wasm builds
 * @property {() => number | Promise<number>} [defaultThreads]  the host's core count
 *
 * @typedef {object} CompleteOptions
 * @property {number} [maxTokens]         default 256; generation also ends when the context is full
 * @property {number} [temperature]       default 0.8; <= 0 is greedy
 * @property {number} [topK]              default 40; <= 0 disables
 * @property {number} [topP]              default 0.95; >= 1 disables
 * @property {number} [minP]              default 0.05; <= 0 disables
 * @property {number} [repeatPenalty]     default 1 (off)
 * @property {number} [repeatLastN]       default 64
 * @property {number} [frequencyPenalty]  default 0
 * @property {number} [presencePenalty]   default 0
 * @property {number} [seed]              default random; the same seed gives the same text
 * @property {string[]} [stop]            stop strings (not included in the output)
 * @property {number[]} [stopTokens]      token ids that end generation besides the EOG tokens
 * @property {boolean} [addSpecial]       string prompts: add BOS/EOS as the model wants (default true)
 * @property {boolean} [parseSpecial]     string prompts: turn special-token text into its id (default true)
 * @property {string} [grammar]           GBNF (llama.cpp's syntax, root rule `root`): only text the grammar
 *                                        allows is generated, and end-of-generation only where it may end
 * @property {object} [jsonSchema]        a JSON Schema the output must follow (turned into a grammar)
 * @property {Record<number, number> | Map<number, number>} [logitBias] added to the token's logit before
 *                                        sampling; -Infinity bans the token
 * @property {boolean|number} [logprobs]  each piece carries its token's log-probability (`logprob`,
 *                                        `bytes`, `tokenText`); a number k > 0 also the k most likely
 *                                        tokens (`topLogprobs`). Of the model's raw distribution:
 *                                        before temperature, penalties, biases and grammars
 * @property {boolean} [echo]             complete() only: first yield one piece per prompt token
 *                                        (`prompt: true`, its text), with `logprobs` also its
 *                                        log-probability given the tokens before it (the first
 *                                        token's is null, with no alternatives); the prompt is
 *                                        then evaluated afresh, not taken from the cache
 * @property {import('./speculative.js').SpeculativeOptions} [speculative]  speculative decoding: drafts
 *                                        tokens by prompt lookup (`{ lookup: true }` or `{ lookup: { ngramMin,
 *                                        ngramMax, text } }`) or with a draft model of the same vocabulary
 *                                        (`{ draft: modelOrSession }`), up to `maxDraft` (default 4, at most 16)
 *                                        at a time, verified in one pass; the text is the same as without it
 *                                        (the same seed gives the same tokens); timings.speculative counts them
 * @property {AbortSignal} [signal]
 *
 * @typedef {CompleteOptions & {
 *   tools?: object[], toolChoice?: 'auto'|'none'|'required'|{ type: 'function', function: { name: string } },
 *   parallelToolCalls?: boolean, reasoningFormat?: 'deepseek'|'none',
 *   template?: string, templateName?: string, extra?: object }} ChatOptions
 *   tools: OpenAI function tools, rendered by the template and read back from the reply;
 *   toolChoice: 'none' renders no tools, 'required' or a named function constrains the reply with a grammar
 *   to one call (several when parallelToolCalls is not false) with schema-valid arguments;
 *   parallelToolCalls: false ends the reply after its first call;
 *   reasoningFormat: 'deepseek' (default) splits <think>...</think> into `reasoning`, 'none' leaves it in content
 *
 * @typedef {object} PerplexityOptions
 * @property {number} [contextSize]  tokens per chunk (llama-perplexity's --ctx-size), default 512;
 *                                   at most the session's contextSize
 * @property {number} [batchSize]    tokens per forward pass, default 64 (logit rows held at once);
 *                                   the result does not depend on it
 * @property {number} [chunks]       score at most this many chunks (llama-perplexity's --chunks);
 *                                   default every whole chunk of the text
 * @property {AbortSignal} [signal]
 * @property {(c: import('./perplexity.js').PerplexityChunk) => void} [onChunk]  after each chunk
 *
 * @typedef {object} EmbedOptions
 * @property {'mean'|'cls'|'last'|1|2|3} [pooling] default: the GGUF's `<arch>.pooling_type`, else mean
 *                                      for encoders (bert, nomic-bert) and last for decoders
 * @property {boolean} [normalize]       divide each vector by its L2 norm (default true)
 * @property {boolean} [addSpecial]      string inputs: add the special tokens the model wants,
 *                                      e.g. bert's [CLS] ... [SEP] (default true)
 * @property {boolean} [parseSpecial]    string inputs: turn special-token text into its id (default true)
 * @property {AbortSignal} [signal]      checked between texts
 *
 * @typedef {{ token: number, text: string, bytes: number[], logprob: number }} TokenLogprob
 * @typedef {{ token: number, text: string, logprob?: number | null, bytes?: number[], tokenText?: string, prompt?: true,
 *   topLogprobs?: TokenLogprob[], content?: string, reasoning?: string,
 *   toolCalls?: import('./structured/tool-calls.js').ToolCallDelta[] }} TokenPiece
 *   text: the generated text this token completed (stop strings and unfinished characters held back);
 *   logprob, bytes, tokenText, topLogprobs: with the `logprobs` option (tokenText: the token's own bytes as text);
 *   prompt: true on the prompt's pieces that the `echo` option yields first (logprob null on the first);
 *   content, reasoning, toolCalls: chat() only, the reply as OpenAI's message fields stream it
 * @typedef {{ promptTokens: number[], tokens: number[], text: string,
 *   finishReason: 'stop'|'length'|'context'|'tool_calls', promptEvaluated: number,
 *   message?: import('./structured/reply.js').ReplyMessage,
 *   timings: { promptMs: number, decodeMs: number, sampleMs: number, promptTokensPerSecond: number,
 *     decodeTokensPerSecond: number, speculative?: import('./speculative.js').SpeculativeStats } }} Completion
 *   sampleMs: time spent choosing tokens (the sampler, grammar masks included), apart from decodeMs;
 *   speculative (with that option): tokens drafted and accepted, and draftMs, the drafting part of decodeMs
 */

/**
 * The sampling every host uses when a request or flag names none: llama.cpp's
 * (llama-cli and llama-server agree), repeat penalty off. The CLI, the server
 * and the edge worker all fall through to these.
 */
export const SAMPLING_DEFAULTS = Object.freeze({
  maxTokens: 256, temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05,
  repeatPenalty: 1, repeatLastN: 64, frequencyPenalty: 0, presencePenalty: 0,
});

/** Pooling names <-> wl_embed's pooling codes (llama.cpp's pooling_type numbers). */
const POOLING_CODES = { mean: 1, cls: 2, last: 3 };
const POOLING_NAMES = { 1: 'mean', 2: 'cls', 3: 'last' };

/** wl_embed's pooling argument for an EmbedOptions.pooling value (-1: the model's own). */
function poolingCode(pooling) {
  if (pooling === undefined || pooling === null) return -1;
  const code = typeof pooling === 'string' ? POOLING_CODES[pooling.toLowerCase()] : pooling;
  if (code !== 1 && code !== 2 && code !== 3) {
    throw new WasmllmError('ERR_BAD_ARG', `pooling must be 'mean', 'cls', 'last' (or 1, 2, 3), got ${JSON.stringify(pooling)}`);
  }
  return code;
}

const utf8Text = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * The `logprobs` option as a top-k count: null when off, 0 for the sampled
 * token's only, k for k alternatives too.
 * @param {unknown} v
 */
function logprobsCount(v) {
  if (v === undefined || v === null || v === false) return null;
  if (v === true) return 0;
  if (!Number.isInteger(v) || /** @type {number} */ (v) < 0) {
    throw new WasmllmError('ERR_BAD_ARG', `logprobs must be a boolean or a non-negative integer, got ${v}`);
  }
  return /** @type {number} */ (v);
}

const now = () => globalThis.performance?.now() ?? Date.now();

/**
 * Loads a model. `source`: a file path (Node), a URL, an ArrayBuffer /
 * Uint8Array, a Blob / File, or an array of them (the shards of a split model).
 * @param {any} source
 * @param {LoadOptions} [options]
 * @returns {Promise<Model>}
 */
export async function loadModel(source, options = {}) {
  const { contextSize } = options;
  checkContextSize(contextSize);
  const kvType = parseKvType(options.kvType);
  const sessions = options.sessions ?? 1;
  if (!Number.isInteger(sessions) || sessions < 1) {
    throw new WasmllmError('ERR_BAD_ARG', `sessions must be a positive integer, got ${options.sessions}`);
  }
  const batch = options.batch ?? true;
  if (typeof batch !== 'boolean') throw new WasmllmError('ERR_BAD_ARG', `batch must be a boolean, got ${options.batch}`);
  if (options.signal?.aborted) throw abortError(options.signal);
  const t0 = now();
  const wasm = await loadWasm({
    threads: options.threads, variant: options.variant, isa: options.isa, sessions,
    wasmModule: options.wasmModule, wasmFactory: options.wasmFactory,
    loadBuild: options.loadBuild, defaultThreads: options.defaultThreads,
  });
  const M = wasm.module;
  /** @type {Core} */
  const core = {
    wasm, M, err: 0, file: 0, model: 0, shards: [], header: null, tokenizer: null,
    kvType, loadMs: 0, disposed: false, sessions: new Set(), repackedMatrices: null, threads: wasm.threads,
    scheduler: null,
  };
  let context = null;
  try {
    core.err = M._wl_error_new();
    if (!core.err) throw new WasmllmError('ERR_OOM', 'cannot allocate an error record in the wasm heap');
    // pollSteps (the edge worker's): steps settle without promises shared across requests (web/scheduler.js).
    core.scheduler = new Scheduler({ M, heap: () => wasm.heapU8(), err: core.err, failure: () => lastError(core) },
      { batch, poll: options.pollSteps === true });
    core.shards = await loadIntoHeap(source, wasm, options);
    core.file = openFile(wasm, core.shards, core.err);
    if (!core.file) throw lastError(core);
    core.model = M._wl_model_load(core.file, core.err);
    if (!core.model) throw lastError(core);
    // Weights are rearranged in place for the SIMD kernels: from then on the
    // shards no longer hold the file's bytes, so a caller that still stores
    // them (the browser worker's cache) defers this to PREPARE_WEIGHTS.
    if (!options.deferPrepare) core.repackedMatrices = M._wl_model_prepare(core.model);
    // Asked for: what loadWasm settled on (the single-threaded build has one).
    core.threads = options.threads !== undefined ? wasm.threads : threadsForModel(M._wl_model_n_params(core.model), wasm.threads);
    context = newContext(core, contextSize);
    core.header = mainShard(core.shards).header;
    core.tokenizer = createTokenizer(core.header.metadata);
    if (options.signal?.aborted) throw abortError(options.signal);
    core.loadMs = now() - t0;
    return new Model(core, context);
  } catch (e) {
    if (context) freeContext(core, context);
    freeCore(core);
    if (options.signal?.aborted) throw abortError(options.signal);
    throw e;
  }
}

/**
 * What every session of one model shares: the wasm instance, the file, the
 * weights and the tokenizer.
 * @typedef {{ wasm: import('./wasm-loader.js').WasmInstance, M: any, err: number, file: number,
 *   model: number, shards: import('./sources.js').HeapShard[], header: any, tokenizer: any,
 *   kvType: 'f16' | 'q8_0', loadMs: number, disposed: boolean, sessions: Set<Session>,
 *   repackedMatrices: number | null, threads: number, scheduler: Scheduler | null }} Core
 *   threads: each context's pool size; scheduler: runs every session's decode steps (web/scheduler.js)
 * @typedef {{ ctx: number, tokens: number }} Context
 *   tokens: PROMPT_BATCH ids of heap room for the calls a session makes itself, outside the scheduler's steps
 */

/**
 * Below this many parameters a token is too little work to split: the
 * threads' barriers cost more than they save, and one thread decodes faster.
 */
export const SMALL_MODEL_PARAMS = 100e6;

/**
 * The thread count when the caller names none: one for small models, every
 * core the wasm instance has for the rest. Measured on this project's 2-core
 * host: the embedded 6.8M model decoded at 148-150 tokens/s on one thread and
 * 93-101 on two (issue 22); SmolLM2-135M gains from two (78.6 -> 105.4 tok/s
 * Q8_0, docs/BENCHMARKS.md).
 * @param {number} nParams @param {number} available
 */
export function threadsForModel(nParams, available) {
  return nParams < SMALL_MODEL_PARAMS ? 1 : available;
}

/** @param {number | undefined} contextSize */
function checkContextSize(contextSize) {
  if (contextSize !== undefined && (!Number.isInteger(contextSize) || contextSize < 1)) {
    throw new WasmllmError('ERR_BAD_ARG', `contextSize must be a positive integer, got ${contextSize}`);
  }
}

/** The error the last failing C call left in the core's error record. @param {Core} core */
function lastError(core) {
  const code = codeFromStatus(core.M._wl_error_code(core.err));
  return new WasmllmError(code, core.M.UTF8ToString(core.M._wl_error_message(core.err)));
}

/**
 * A KV cache (of the model's kvType) with its thread pool.
 * @param {Core} core @param {number | undefined} contextSize
 * @returns {Context}
 */
function newContext(core, contextSize) {
  const { M } = core;
  const nCtxTrain = M._wl_model_n_ctx_train(core.model);
  const nCtx = contextSize ?? Math.min(nCtxTrain > 0 ? nCtxTrain : DEFAULT_MAX_CONTEXT, DEFAULT_MAX_CONTEXT);
  const ctx = M._wl_context_new(core.model, nCtx, core.threads, KV_TYPES[core.kvType], core.err);
  if (!ctx) throw lastError(core);
  // Pointers past 2 GiB come back from wasm as negative i32: read them unsigned.
  const tokens = M._wl_alloc(PROMPT_BATCH * 4) >>> 0;
  if (!tokens) {
    M._wl_context_free(ctx);
    throw new WasmllmError('ERR_OOM', 'cannot allocate the token batch buffer');
  }
  return { ctx, tokens };
}

/** @param {Core} core @param {Context} context */
function freeContext(core, context) {
  core.M._wl_context_free(context.ctx);
  core.M._wl_free(context.tokens);
}

/** Frees the weights and file, then stops the instance's threads. @param {Core} core */
function freeCore(core) {
  const M = core.M;
  core.scheduler?.close();
  freeConstraints(core);
  if (core.model) M._wl_model_free(core.model);
  if (core.file) M._wl_file_free(core.file);
  for (const s of core.shards) M._wl_free(s.ptr);
  if (core.err) M._wl_error_free(core.err);
  core.model = core.file = core.err = 0;
  core.shards = [];
  core.disposed = true;
  core.wasm.terminate();
  // Let the heap (up to 4 GiB) be collected even if the caller keeps the Model object.
  core.wasm = null;
  core.M = null;
}

/**
 * Passes every shard buffer to wl_file_open.
 * @param {import('./wasm-loader.js').WasmInstance} wasm
 * @param {import('./sources.js').HeapShard[]} shards
 * @param {number} err
 */
function openFile(wasm, shards, err) {
  const M = wasm.module;
  const n = shards.length;
  // Pointer array first, then the (8-byte aligned) lengths as doubles.
  const table = M._wl_alloc(8 * n + 8 * n) >>> 0; // unsigned: the heap may be past 2 GiB
  if (!table) throw new WasmllmError('ERR_OOM', 'cannot allocate the shard table');
  try {
    const buffer = wasm.heapU8().buffer;
    const ptrs = new Uint32Array(buffer, table, n);
    const lens = new Float64Array(buffer, table + 8 * n, n);
    shards.forEach((s, i) => { ptrs[i] = s.ptr; lens[i] = s.size; });
    return M._wl_file_open(table, table + 8 * n, n, 0, err);
  } finally {
    M._wl_free(table);
  }
}

/** The shard that holds the model metadata: split.no 0, else the first. */
function mainShard(shards) {
  return shards.find((s) => (s.header.metadata.get('split.no') ?? 0) === 0) ?? shards[0];
}

/**
 * Holds back the end of the text that could still become a stop string, and
 * reports where a stop string completes.
 */
class StopMatcher {
  /** @param {string[]} stops */
  constructor(stops) {
    this.stops = stops.filter((s) => typeof s === 'string' && s.length > 0);
    this.pending = '';
  }

  /**
   * @param {string} piece newly decoded text
   * @returns {{ text: string, stopped: boolean }} text safe to emit now
   */
  push(piece) {
    this.pending += piece;
    if (this.stops.length === 0) return this.take(this.pending.length, false);
    let cut = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) return this.take(cut, true);
    // Emit all but the longest tail that is a prefix of some stop string.
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) { hold = k; break; }
      }
    }
    return this.take(this.pending.length - hold, false);
  }

  /** @param {number} n @param {boolean} stopped */
  take(n, stopped) {
    const text = this.pending.slice(0, n);
    this.pending = stopped ? '' : this.pending.slice(n);
    return { text, stopped };
  }

  /** Text held back when generation ends for another reason. */
  flush() {
    const text = this.pending;
    this.pending = '';
    return text;
  }
}

/**
 * One conversation state over a model: its own KV cache, sampler runs and
 * "one completion at a time" rule. Sessions of one model share its weights,
 * so serving N requests at once costs N KV caches, not N models.
 */
/** Model method key for a deferred weight rearrangement (internal to the hosts). */
export const PREPARE_WEIGHTS = Symbol('wasmllm.prepareWeights');

export class Session {
  /** @type {Core} */
  #core;
  /** @type {Context} */
  #context;
  /** Token ids whose keys and values are in the KV cache, in order. */
  #cached = [];
  #busy = false;
  #disposed = false;
  /** @type {Completion | null} */
  #last = null;

  /** @internal use loadModel() / model.createSession() @param {Core} core @param {Context} context */
  constructor(core, context) {
    this.#core = core;
    this.#context = context;
    core.sessions.add(this);
  }

  /** GGUF metadata of the model (web/gguf.js representation, string arrays packed as GGUFStringArray). */
  get metadata() { return this.#core.header.metadata; }
  /** The model's tokenizer (web/tokenizer). */
  get tokenizer() { return this.#core.tokenizer; }
  /** The last finished (or aborted) completion's tokens, text and timings. */
  get lastCompletion() { return this.#last; }
  /** Tokens this session's KV cache holds. */
  get contextSize() {
    this.#checkAlive();
    return this.#core.M._wl_context_n_ctx(this.#context.ctx);
  }
  /** How this session's KV cache stores keys and values: 'f16' or 'q8_0'. */
  get kvType() {
    this.#checkAlive();
    return kvTypeName(this.#core.M._wl_context_kv_type(this.#context.ctx));
  }
  /** Bytes of this session's KV cache (K and V of every attention layer: every position, or a sliding-window layer's ring). */
  get kvCacheBytes() {
    this.#checkAlive();
    return this.#core.M._wl_context_kv_bytes(this.#context.ctx);
  }

  /**
   * @param {string} text
   * @param {{ addSpecial?: boolean, parseSpecial?: boolean }} [options] both default true
   * @returns {number[]}
   */
  tokenize(text, options = {}) {
    this.#checkAlive();
    if (typeof text !== 'string') throw new WasmllmError('ERR_BAD_ARG', 'tokenize() needs a string');
    const { addSpecial = true, parseSpecial = true } = options;
    return Array.from(this.#core.tokenizer.encode(text, { addSpecial, parseSpecial }));
  }

  /** @param {ArrayLike<number>} ids @param {{ showSpecial?: boolean }} [options] */
  detokenize(ids, options) {
    this.#checkAlive();
    return this.#core.tokenizer.decode(Array.from(ids), options);
  }

  /**
   * Generates a continuation of `prompt` (a string or token ids).
   * @param {string | ArrayLike<number>} prompt
   * @param {CompleteOptions} [options]
   * @returns {AsyncGenerator<TokenPiece, Completion, void>}
   */
  complete(prompt, options = {}) {
    this.#checkAlive();
    this.#checkGenerates();
    const ids = this.#promptIds(prompt, options);
    return this.#generate(ids, options, options.stop ?? [], options.stopTokens ?? []);
  }

  /**
   * Renders `messages` with the model's chat template and generates the
   * assistant's reply, ending at the template's end-of-turn marker. Each
   * piece also carries the reply as OpenAI's message streams it (`content`,
   * `reasoning`, `toolCalls` deltas), and the Completion its `message`
   * (content, reasoning_content, tool_calls); see ChatOptions.
   * @param {import('./chat.js').ChatMessage[]} messages
   * @param {ChatOptions} [options]
   * @returns {AsyncGenerator<TokenPiece, Completion, void>}
   */
  chat(messages, options = {}) {
    this.#checkAlive();
    if (options.echo !== undefined && options.echo !== false) throw new WasmllmError('ERR_BAD_ARG', 'echo is a complete() option: chat() does not echo its rendered prompt');
    const self = this;
    // chat.js (and its Jinja dependency) loads only when chat is used.
    return (async function* chatTurn() {
      self.#checkGenerates(); // before the template lookup, which would warn about a model that never chats
      const { prepareChatTurn } = await import('./chat-turn.js');
      const turn = await prepareChatTurn(self.metadata, self.#core.tokenizer, messages, options);
      self.#checkFits(turn.ids, 'the chat prompt');
      const parser = turn.newParser();
      const it = self.#generate(turn.ids, turn.grammar ? { ...options, grammar: turn.grammar } : options,
        [...turn.stopStrings, ...(options.stop ?? [])], [...turn.stopTokenIds, ...(options.stopTokens ?? [])]);
      let r;
      let stoppedEarly = false;
      try {
        while (!(r = await it.next()).done) {
          yield { ...r.value, ...parser.push(r.value.text) };
          if (parser.done) { stoppedEarly = true; break; }
        }
      } finally {
        await it.return(undefined); // frees the session when the caller or the parser stopped early
      }
      const result = stoppedEarly ? /** @type {Completion} */ (self.#last) : r.value;
      const tail = parser.finish();
      if (tail.content || tail.reasoning || tail.toolCalls.length) yield { token: -1, text: '', ...tail };
      result.message = parser.message();
      result.finishReason = parser.finishReason(result.finishReason, stoppedEarly);
      return result;
    })();
  }

  /**
   * Embeds each text: one forward pass per text, as a fresh sequence (the
   * session's cached prompt is dropped), its final hidden states pooled and
   * by default L2-normalized. Texts are processed one after another.
   * @param {string | Array<string | ArrayLike<number>>} texts strings, or token-id arrays used as given
   * @param {EmbedOptions} [options]
   * @returns {Promise<Float32Array[]>} one vector of info().embeddingLength floats per text
   */
  async embed(texts, options = {}) {
    this.#checkAlive();
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list)) throw new WasmllmError('ERR_BAD_ARG', 'embed() needs a string or an array of strings / token-id arrays');
    const pooling = poolingCode(options.pooling);
    const { normalize = true, signal } = options;
    if (typeof normalize !== 'boolean') throw new WasmllmError('ERR_BAD_ARG', `normalize must be a boolean, got ${normalize}`);
    if (signal?.aborted) throw abortError(signal);
    const idsList = list.map((text, i) => this.#embedIds(text, i, options));
    if (this.#busy) throw new WasmllmError('ERR_BUSY', 'this model is busy generating or embedding; finish or abort that first');
    if (idsList.length === 0) return [];
    const { M, wasm, err, model } = this.#core;
    const nEmbd = M._wl_model_n_embd(model);
    const longest = Math.max(...idsList.map((ids) => ids.length));
    const tokens = M._wl_alloc(longest * 4) >>> 0;
    const out = M._wl_alloc(nEmbd * 4) >>> 0;
    this.#busy = true;
    try {
      if (!tokens || !out) throw new WasmllmError('ERR_OOM', 'cannot allocate the embedding buffers');
      // wl_embed overwrites the KV cache: a later completion must not reuse it.
      this.#cached.length = 0;
      const vectors = [];
      for (let i = 0; i < idsList.length; i++) {
        if (i > 0) await nextMacrotask();
        if (signal?.aborted) throw abortError(signal);
        this.#checkAlive(); // disposed while we yielded: the context is gone
        const ids = idsList[i];
        // Between two decode steps of the other sessions (web/scheduler.js).
        const failed = await this.#core.scheduler.exclusive(() => {
          this.#checkAlive();
          new Int32Array(wasm.heapU8().buffer, tokens, ids.length).set(ids);
          return M._wl_embed(this.#context.ctx, tokens, ids.length, pooling, normalize ? 1 : 0, out, err) !== 0;
        });
        if (failed) {
          const e = this.#failure();
          throw new WasmllmError(e.code, list.length > 1 ? `text #${i}: ${e.message}` : e.message);
        }
        vectors.push(new Float32Array(wasm.heapU8().buffer, out, nEmbd).slice());
      }
      return vectors;
    } finally {
      if (!this.#core.disposed) {
        M._wl_free(tokens);
        M._wl_free(out);
        if (!this.#disposed) M._wl_context_truncate(this.#context.ctx, 0);
      }
      this.#busy = false;
    }
  }

  /**
   * Perplexity of `text` as llama.cpp's llama-perplexity computes it (web/perplexity.js):
   * chunks of `contextSize` tokens, each on an empty KV cache, the second half of each scored.
   * The session's cached prompt is dropped.
   * @param {string | ArrayLike<number>} text a string (tokenized with BOS as the model adds it,
   *   special-token text not parsed, as llama.cpp) or token ids used as given
   * @param {PerplexityOptions} [options]
   * @returns {Promise<import('./perplexity.js').PerplexityResult>}
   */
  async perplexity(text, options = {}) {
    this.#checkAlive();
    this.#checkGenerates();
    const { contextSize = PERPLEXITY_CONTEXT, batchSize = PERPLEXITY_BATCH, chunks, signal, onChunk } = options;
    const ids = typeof text === 'string' ? this.tokenize(text, { addSpecial: true, parseSpecial: false }) : this.#arrayIds(text, 'perplexity() text:');
    if (!ids) throw new WasmllmError('ERR_BAD_ARG', 'perplexity() text must be a string or an array of token ids');
    const tokenizer = this.#core.tokenizer;
    if (typeof text === 'string' && tokenizer.addEos) {
      // llama-perplexity refuses these too: an EOS closing the text would be scored as part of it.
      throw new WasmllmError('ERR_BAD_ARG', "perplexity of a string needs a model that adds no EOS (tokenizer.ggml.add_eos_token is true): pass token ids instead");
    }
    const nCtx = this.contextSize;
    if (Number.isInteger(contextSize) && contextSize > nCtx) {
      throw new WasmllmError('ERR_CONTEXT_FULL', `perplexity contextSize ${contextSize} is larger than this session's context (${nCtx}): load the model with a larger contextSize`);
    }
    checkPerplexityArgs(ids.length, contextSize, batchSize, chunks); // before the cached prompt is dropped
    if (signal?.aborted) throw abortError(signal);
    if (this.#busy) throw new WasmllmError('ERR_BUSY', 'this model is busy generating or embedding; finish or abort that first');
    this.#busy = true;
    let ev = null;
    try {
      ev = this.#logitRows(batchSize);
      const bos = tokenizer.addBos && tokenizer.bos !== null ? tokenizer.bos : null;
      return await scorePerplexity(ev, ids, { contextSize, batchSize, bos, chunks, signal, onChunk });
    } finally {
      ev?.release();
      this.#busy = false;
    }
  }

  /**
   * Forward passes that keep every position's logits (wl_decode_all), for
   * perplexity: self-contained, on this session's context, with a token
   * buffer of `batch` ids. The KV cache is left empty when released.
   * @param {number} batch
   */
  #logitRows(batch) {
    const { M, wasm, err } = this.#core;
    const nVocab = M._wl_model_n_vocab(this.#core.model);
    const tokens = M._wl_alloc(batch * 4) >>> 0;
    if (!tokens) throw new WasmllmError('ERR_OOM', `cannot allocate a batch of ${batch} tokens`);
    this.#cached.length = 0; // what the cache holds is about to change under it
    const ctx = this.#context.ctx;
    const put = (ids) => {
      this.#checkAlive(); // disposed while we yielded: the context is gone
      new Int32Array(wasm.heapU8().buffer, tokens, ids.length).set(ids);
    };
    return {
      nVocab,
      reset: () => { this.#checkAlive(); M._wl_context_truncate(ctx, 0); },
      decode: (ids) => { put(ids); if (M._wl_decode(ctx, tokens, ids.length, err) !== 0) throw this.#failure(); },
      decodeAll: (ids) => {
        put(ids);
        if (M._wl_decode_all(ctx, tokens, ids.length, err) !== 0) throw this.#failure();
        // Read after the call: the heap may have grown for the rows.
        return new Float32Array(wasm.heapU8().buffer, M._wl_context_logits_all(ctx) >>> 0, ids.length * nVocab);
      },
      pause: nextMacrotask,
      release: () => {
        if (this.#core.disposed) return;
        M._wl_free(tokens);
        if (!this.#disposed) M._wl_context_truncate(ctx, 0);
      },
    };
  }

  /**
   * `value` as an array of token ids when it is array-like (else null), each
   * checked to be in the vocabulary; `what` starts the error that names a bad one.
   * @param {unknown} value @param {string} what
   */
  #arrayIds(value, what) {
    if (!value || typeof value !== 'object' || typeof (/** @type {any} */ (value)).length !== 'number') return null;
    const ids = Array.from(/** @type {ArrayLike<number>} */ (value));
    const nVocab = this.#core.M._wl_model_n_vocab(this.#core.model);
    const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= nVocab);
    if (bad >= 0) throw new WasmllmError('ERR_BAD_ARG', `${what} token #${bad} (${ids[bad]}) is not a token id in [0, ${nVocab})`);
    return ids;
  }

  /** Token ids of embed()'s i-th input, checked against the vocabulary and the context. */
  #embedIds(text, i, options) {
    const ids = typeof text === 'string'
      ? this.tokenize(text, { addSpecial: options.addSpecial ?? true, parseSpecial: options.parseSpecial ?? true })
      : this.#arrayIds(text, `input #${i}:`);
    if (!ids) {
      throw new WasmllmError('ERR_BAD_ARG', `input #${i} must be a string or an array of token ids, got ${text === null ? 'null' : typeof text}`);
    }
    if (ids.length === 0) throw new WasmllmError('ERR_BAD_ARG', `input #${i} is empty (and the model adds no special tokens)`);
    this.#checkFits(ids, `input #${i}`);
    return ids;
  }

  /** Encoder-only models have no language-model head: say so instead of failing inside wl_decode. */
  #checkGenerates() {
    const { M, model, header } = this.#core;
    if (M._wl_model_is_encoder(model)) {
      const arch = header.metadata.get('general.architecture');
      throw new WasmllmError('ERR_BAD_ARG', `this is an embedding model (${arch}): it cannot generate text; use embed()`);
    }
  }

  /** Frees this session's KV cache. The model and its other sessions stay usable. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#core.sessions.delete(this);
    // A step this session handed over leaves the batch: its generation ends with ERR_DISPOSED.
    this.#core.scheduler?.cancel(this.#context.ctx, new WasmllmError('ERR_DISPOSED', 'this model has been disposed'));
    if (!this.#core.disposed) freeContext(this.#core, this.#context);
    this.#cached = [];
  }

  #checkAlive() {
    if (this.#disposed || this.#core.disposed) throw new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
  }

  #failure() {
    return lastError(this.#core);
  }

  /** @param {string | ArrayLike<number>} prompt @param {CompleteOptions} options */
  #promptIds(prompt, options) {
    const ids = typeof prompt === 'string'
      ? this.tokenize(prompt, { addSpecial: options.addSpecial ?? true, parseSpecial: options.parseSpecial ?? true })
      : this.#arrayIds(prompt, 'prompt');
    if (!ids) throw new WasmllmError('ERR_BAD_ARG', 'the prompt must be a string or an array of token ids');
    if (ids.length === 0) throw new WasmllmError('ERR_BAD_ARG', 'the prompt is empty (and the model adds no BOS token)');
    this.#checkFits(ids, 'the prompt');
    return ids;
  }

  /** Refuses a prompt the KV cache cannot hold before any of it is evaluated. */
  #checkFits(ids, what) {
    const nCtx = this.#core.M._wl_context_n_ctx(this.#context.ctx);
    if (ids.length > nCtx) {
      throw new WasmllmError('ERR_CONTEXT_FULL', `${what} has ${ids.length} tokens but the context holds ${nCtx}`);
    }
  }

  /**
   * Appends `ids` to the KV cache (already checked to fit) in the model's
   * next step, together with the other sessions' (web/scheduler.js).
   * @param {number[]} ids @param {AbortSignal | undefined} signal @param {boolean} prompt
   */
  async #decode(ids, signal, prompt) {
    await this.#core.scheduler.decode(this.#context.ctx, ids, { signal, prompt });
    this.#cached.push(...ids);
  }

  /**
   * Appends `ids` (at most PROMPT_BATCH) at once, outside the scheduler's
   * shared steps: speculative drafting and verification run alone. One
   * synchronous call, and this session has no step pending meanwhile, so no
   * batch step can interleave with it (web/scheduler.js).
   */
  #decodeNow(ids) {
    const { M, wasm, err } = this.#core;
    const { ctx, tokens } = this.#context;
    new Int32Array(wasm.heapU8().buffer, tokens, ids.length).set(ids);
    if (M._wl_decode(ctx, tokens, ids.length, err) !== 0) throw this.#failure();
    this.#cached.push(...ids);
  }

  /** #decodeNow keeping every token's logits; returns the rows' address. */
  #decodeAll(ids) {
    const { M, wasm, err } = this.#core;
    const { ctx, tokens } = this.#context;
    new Int32Array(wasm.heapU8().buffer, tokens, ids.length).set(ids);
    if (M._wl_decode_all(ctx, tokens, ids.length, err) !== 0) throw this.#failure();
    this.#cached.push(...ids);
    return M._wl_context_logits_all(ctx);
  }

  /**
   * Keeps the first n cached tokens. Recurrent layers may rewind less than
   * asked (src/wasmllm.h): what they lost is evaluated again.
   */
  #rewind(n) {
    const M = this.#core.M;
    const keep = this.#cached.slice(0, n);
    M._wl_context_truncate(this.#context.ctx, n);
    this.#cached.length = M._wl_context_pos(this.#context.ctx);
    for (let i = this.#cached.length; i < n; i += PROMPT_BATCH) this.#decodeNow(keep.slice(i, Math.min(i + PROMPT_BATCH, n)));
  }

  /** What web/speculative.js may do to this session's KV cache (its TargetKV). */
  #speculationKV() {
    const M = this.#core.M;
    const { ctx } = this.#context;
    return {
      nVocab: M._wl_model_n_vocab(this.#core.model), nCtx: M._wl_context_n_ctx(ctx), batch: PROMPT_BATCH,
      pos: () => M._wl_context_pos(ctx),
      cached: () => this.#cached,
      decode: (ids) => { this.#decodeNow(ids); return M._wl_context_logits(ctx); },
      decodeAll: (ids) => this.#decodeAll(ids),
      truncate: (n) => this.#rewind(n),
    };
  }

  /**
   * This session as another's draft model: acquire() holds it (ERR_BUSY if
   * it is generating), draft(ids, k) makes its KV cache hold ids (reusing the
   * cached prefix) and returns up to k greedy tokens after them.
   * @internal web/speculative.js
   */
  [DRAFT_ACCESS]() {
    this.#checkAlive();
    this.#checkGenerates();
    const self = this;
    const M = this.#core.M;
    let sampler = 0;
    return {
      nVocab: M._wl_model_n_vocab(this.#core.model),
      tokens: this.metadata.get('tokenizer.ggml.tokens'),
      acquire() {
        self.#checkAlive();
        if (self.#busy) throw new WasmllmError('ERR_BUSY', 'speculative.draft is generating already (give each generation its own draft session)');
        sampler = M._wl_sampler_new(0, 0, 1, 0, 1, 0, 0, 0, 0);
        if (!sampler) throw new WasmllmError('ERR_OOM', 'cannot allocate a sampler');
        self.#busy = true;
      },
      release() {
        if (sampler && !self.#core.disposed) M._wl_sampler_free(sampler);
        sampler = 0;
        self.#busy = false;
      },
      /** @param {number[]} ids @param {number} k @param {AbortSignal} [signal] */
      draft(ids, k, signal) {
        self.#checkAlive();
        const kv = self.#speculationKV();
        const argmax = (logits) => M._wl_sampler_sample(sampler, logits, kv.nVocab);
        return greedyDraft(kv, argmax, (t) => self.#core.tokenizer.isEog(t), ids, k, signal);
      },
    };
  }

  /**
   * Makes the KV cache hold exactly `ids` with fresh logits for the last one,
   * reusing the longest prefix already cached.
   * @returns {Promise<number>} tokens evaluated
   */
  async #evaluatePrompt(ids, signal) {
    const M = this.#core.M;
    let keep = 0;
    const cached = this.#cached;
    while (keep < cached.length && keep < ids.length && cached[keep] === ids[keep]) keep++;
    if (keep === ids.length) keep--; // the last prompt token must be decoded again for its logits
    M._wl_context_truncate(this.#context.ctx, keep);
    // Recurrent layers (lfm2's convolutions) rewind only a few positions: C may keep fewer
    // tokens than asked (down to none), and the rest is evaluated again.
    keep = M._wl_context_pos(this.#context.ctx);
    cached.length = keep;
    for (let i = keep; i < ids.length; i += PROMPT_BATCH) {
      this.#checkAlive(); // disposed while we waited: the context is gone
      await this.#decode(ids.slice(i, i + PROMPT_BATCH), signal, true);
    }
    return ids.length - keep;
  }

  /**
   * @param {number[]} promptIds @param {CompleteOptions} options
   * @param {string[]} stops @param {number[]} stopTokens
   * @returns {AsyncGenerator<TokenPiece, Completion, void>}
   */
  async *#generate(promptIds, options, stops, stopTokens) {
    this.#checkAlive();
    this.#checkGenerates();
    if (this.#busy) throw new WasmllmError('ERR_BUSY', 'this model is already generating; finish or abort that first');
    const M = this.#core.M;
    const { signal } = options;
    const maxTokens = options.maxTokens ?? SAMPLING_DEFAULTS.maxTokens;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new WasmllmError('ERR_BAD_ARG', `maxTokens must be a non-negative integer, got ${maxTokens}`);
    const nVocabModel = M._wl_model_n_vocab(this.#core.model);
    const topK = Math.min(logprobsCount(options.logprobs) ?? -1, nVocabModel);
    const bias = parseLogitBias(options.logitBias, nVocabModel);
    if (options.echo !== undefined && typeof options.echo !== 'boolean') throw new WasmllmError('ERR_BAD_ARG', `echo must be a boolean, got ${options.echo}`);
    const specCfg = parseSpeculative(options.speculative);
    const gbnf = await grammarText(options);
    this.#checkAlive(); // disposed while a schema was converted
    if (this.#busy) throw new WasmllmError('ERR_BUSY', 'this model is already generating; finish or abort that first');
    const constraint = gbnf === null ? null : openMatcher(this.#core, gbnf, nVocabModel, lastError);
    let sampler;
    let lp = null;
    try {
      sampler = this.#newSampler(options);
      if (constraint) M._wl_sampler_set_matcher(sampler, constraint.matcher);
      if (bias) this.#setBias(sampler, bias);
      if (topK >= 0) lp = this.#logprobBuffers(topK);
    } catch (e) {
      if (sampler) M._wl_sampler_free(sampler);
      constraint?.release();
      throw e;
    }
    const grammarMatcher = constraint?.matcher ?? 0;
    let draftAccess = null;
    try {
      draftAccess = specCfg?.draft ? this.#openDraft(specCfg.draft) : null;
    } catch (e) {
      M._wl_sampler_free(sampler);
      if (lp) M._wl_free(lp.ids);
      constraint?.release();
      throw e;
    }
    /** @type {Speculator | null} */
    let spec = null;
    this.#busy = true;
    const tokenizer = this.#core.tokenizer;
    const decoder = tokenizer.createStreamDecoder();
    const matcher = new StopMatcher(stops);
    const stopSet = new Set(stopTokens);
    const nCtx = M._wl_context_n_ctx(this.#context.ctx);
    const nVocab = M._wl_model_n_vocab(this.#core.model);
    /** @type {Completion} */
    const result = {
      promptTokens: promptIds, tokens: [], text: '', finishReason: 'length', promptEvaluated: 0,
      timings: { promptMs: 0, decodeMs: 0, sampleMs: 0, promptTokensPerSecond: 0, decodeTokensPerSecond: 0 },
    };
    let decoded = 0;
    try {
      const t0 = now();
      const echoed = options.echo && lp ? await this.#promptLogprobs(promptIds, lp, signal) : null;
      result.promptEvaluated = echoed ? promptIds.length : await this.#evaluatePrompt(promptIds, signal);
      result.timings.promptMs = now() - t0;
      if (options.echo) yield* this.#promptPieces(promptIds, echoed, lp?.k ?? 0);
      for (const id of promptIds) M._wl_sampler_accept(sampler, id);
      if (specCfg) {
        const extra = specCfg.text ? Array.from(tokenizer.encode(specCfg.text, { addSpecial: false, parseSpecial: false })) : [];
        spec = new Speculator(this.#speculationKV(), specCfg, promptIds, M._wl_context_logits(this.#context.ctx), extra, draftAccess, signal);
      }

      let stoppedByText = false;
      for (let n = 0; n < maxTokens; n++) {
        if (signal?.aborted) throw abortError(signal);
        // The grammar is complete and allows nothing more: as if it forced end-of-generation.
        if (grammarMatcher && M._wl_matcher_done(grammarMatcher)) { result.finishReason = 'stop'; break; }
        const logits = spec ? spec.logits() : M._wl_context_logits(this.#context.ctx);
        // Of the raw logits: the sampler's bias and grammar mask go to its own copy.
        const lse = lp ? M._wl_logprobs(logits, nVocab, lp.k, lp.ids, lp.values) : 0;
        const s0 = now();
        const token = M._wl_sampler_sample(sampler, logits, nVocab);
        if (token < 0 || token >= nVocab) throw this.#samplerFailure(sampler, token, grammarMatcher, result.tokens.length);
        if (grammarMatcher && M._wl_matcher_accept(grammarMatcher, token, this.#core.err) !== 0) throw this.#failure();
        result.timings.sampleMs += now() - s0;
        M._wl_sampler_accept(sampler, token);
        if (tokenizer.isEog(token) || stopSet.has(token)) { result.finishReason = 'stop'; break; }
        result.tokens.push(token);
        const { text, stopped } = matcher.push(decoder.push(token));
        result.text += text;
        yield lp ? { token, text, ...this.#tokenLogprobs(token, logits, lse, lp) } : { token, text };
        if (stopped) { result.finishReason = 'stop'; stoppedByText = true; break; }
        if (n + 1 === maxTokens) break; // its logits would never be used
        if ((spec ? spec.held : this.#cached.length) >= nCtx) { result.finishReason = 'context'; break; }
        this.#checkAlive(); // disposed while the caller held the token: the context is gone
        const d0 = now();
        if (spec) await spec.advance(token, maxTokens - n - 1);
        else await this.#decode([token], signal, false);
        result.timings.decodeMs += now() - d0;
        decoded++;
      }
      if (!stoppedByText) {
        // Bytes of an unfinished character, or text that looked like the start of a stop string.
        const last = matcher.push(decoder.flush());
        const tail = last.text + (last.stopped ? '' : matcher.flush());
        if (tail) {
          result.text += tail;
          yield { token: -1, text: tail };
        }
      }
    } finally {
      if (spec && !this.#disposed && !this.#core.disposed) {
        spec.finish();
        result.timings.speculative = spec.stats;
      }
      draftAccess?.release();
      if (!this.#core.disposed) M._wl_sampler_free(sampler);
      if (lp && !this.#core.disposed) M._wl_free(lp.ids);
      constraint?.release();
      const tm = result.timings;
      tm.promptTokensPerSecond = tm.promptMs > 0 ? (result.promptEvaluated * 1000) / tm.promptMs : 0;
      tm.decodeTokensPerSecond = tm.decodeMs > 0 ? (decoded * 1000) / tm.decodeMs : 0;
      this.#last = result;
      this.#busy = false;
    }
    return result;
  }

  /**
   * Evaluates the prompt afresh keeping every position's logits
   * (wl_decode_all), and returns what `echo` reports of each prompt token
   * after the first: its log-probability given the ones before it, and the
   * top-k alternatives. Leaves the cache as #evaluatePrompt does.
   * @param {number[]} ids @param {{ k: number, ids: number, values: number }} lp @param {AbortSignal} [signal]
   */
  async #promptLogprobs(ids, lp, signal) {
    const M = this.#core.M;
    const nVocab = M._wl_model_n_vocab(this.#core.model);
    M._wl_context_truncate(this.#context.ctx, 0);
    this.#cached.length = 0;
    const out = [];
    // Rows of ids[0 .. n-2] score ids[1 .. n-1]; the last token is decoded as usual, for generation.
    // Each wl_decode_all and the reading of its rows happen in one synchronous stretch, so no
    // batch step of another session (web/scheduler.js) runs in between.
    for (let i = 0; i < ids.length - 1; i += PROMPT_BATCH) {
      if (signal?.aborted) throw abortError(signal);
      this.#checkAlive(); // disposed while we yielded: the context is gone
      const batch = ids.slice(i, Math.min(i + PROMPT_BATCH, ids.length - 1));
      const rows = this.#decodeAll(batch) >>> 0;
      for (let r = 0; r < batch.length; r++) {
        const row = rows + r * nVocab * 4;
        out.push(this.#tokenLogprobs(ids[i + r + 1], row, M._wl_logprobs(row, nVocab, lp.k, lp.ids, lp.values), lp));
      }
      await nextMacrotask();
    }
    this.#checkAlive();
    await this.#decode(ids.slice(-1), signal, true);
    return out;
  }

  /**
   * The prompt's pieces for `echo`: each token's text, and with `logprobs`
   * what #promptLogprobs measured (the first token has nothing before it).
   * @param {number[]} ids @param {Partial<TokenPiece>[] | null} logprobs @param {number} k top-k asked for
   * @returns {Generator<TokenPiece>}
   */
  *#promptPieces(ids, logprobs, k) {
    const decoder = this.#core.tokenizer.createStreamDecoder();
    for (let i = 0; i < ids.length; i++) {
      let text = decoder.push(ids[i]);
      if (i === ids.length - 1) text += decoder.flush();
      if (!logprobs) { yield { token: ids[i], text, prompt: true }; continue; }
      const bytes = this.#core.tokenizer.tokenToPiece(ids[i], { showSpecial: true });
      const first = { logprob: null, bytes: Array.from(bytes), tokenText: utf8Text.decode(bytes), ...(k > 0 ? { topLogprobs: [] } : {}) };
      yield { token: ids[i], text, prompt: true, ...(i === 0 ? first : logprobs[i - 1]) };
    }
  }

  /** The draft model's access, checked to share this model's vocabulary and held for one generation. */
  #openDraft(draft) {
    if (draft === this) throw new WasmllmError('ERR_BAD_ARG', 'speculative.draft must be another session than the one generating');
    const access = draft[DRAFT_ACCESS]();
    checkSameVocabulary({ nVocab: this.#core.M._wl_model_n_vocab(this.#core.model), tokens: this.metadata.get('tokenizer.ggml.tokens') }, access);
    access.acquire();
    return access;
  }

  /** Heap room for wl_logprobs' top-k ids and values (one allocation; ids first). @param {number} k */
  #logprobBuffers(k) {
    const ids = this.#core.M._wl_alloc(Math.max(k, 1) * 8) >>> 0;
    if (!ids) throw new WasmllmError('ERR_OOM', 'cannot allocate the log-probability buffers');
    return { k, ids, values: ids + Math.max(k, 1) * 4 };
  }

  /** The sampled token's log-probability and the top-k alternatives wl_logprobs wrote. */
  #tokenLogprobs(token, logits, lse, lp) {
    const { wasm, tokenizer } = this.#core;
    const buffer = wasm.heapU8().buffer;
    const entry = (id, logprob) => {
      const bytes = tokenizer.tokenToPiece(id, { showSpecial: true });
      return { token: id, text: utf8Text.decode(bytes), bytes: Array.from(bytes), logprob };
    };
    // Rounded to float as wl_logprobs rounds its top-k values, so the two agree exactly.
    const self = entry(token, Math.fround(new Float32Array(buffer, (logits >>> 0) + token * 4, 1)[0] - lse));
    /** @type {Partial<TokenPiece>} */
    const out = { logprob: self.logprob, bytes: self.bytes, tokenText: self.text };
    if (lp.k > 0) {
      const ids = new Int32Array(buffer, lp.ids, lp.k);
      const values = new Float32Array(buffer, lp.values, lp.k);
      out.topLogprobs = Array.from(ids, (id, j) => entry(id, values[j]));
    }
    return out;
  }

  /** The error for a failed wl_sampler_sample (-2: nothing allowed, -3: the grammar matcher failed). */
  #samplerFailure(sampler, status, grammarMatcher, generated) {
    const M = this.#core.M;
    if (status === -3) {
      const e = M._wl_sampler_error(sampler);
      return new WasmllmError(codeFromStatus(M._wl_error_code(e)), M.UTF8ToString(M._wl_error_message(e)));
    }
    if (status === -2 && grammarMatcher) {
      return new WasmllmError('ERR_BAD_GRAMMAR', `no token of the vocabulary can continue the grammar after ${generated} generated token(s)` +
        ' (every token is masked by the grammar or banned by logitBias, and the grammar cannot end here)');
    }
    if (status === -2) return new WasmllmError('ERR_BAD_ARG', 'logitBias bans every token of the vocabulary');
    return new WasmllmError('ERR_BAD_ARG', `the sampler returned ${status}`);
  }

  /** Copies logit biases into the sampler. @param {number} sampler @param {{ ids: Int32Array, biases: Float32Array }} bias */
  #setBias(sampler, bias) {
    const { M, wasm, err } = this.#core;
    const n = bias.ids.length;
    const p = M._wl_alloc(8 * n) >>> 0;
    if (!p) throw new WasmllmError('ERR_OOM', 'cannot allocate the logit biases');
    try {
      new Int32Array(wasm.heapU8().buffer, p, n).set(bias.ids);
      new Float32Array(wasm.heapU8().buffer, p + 4 * n, n).set(bias.biases);
      if (M._wl_sampler_set_bias(sampler, p, p + 4 * n, n, err) !== 0) throw lastError(this.#core);
    } finally {
      M._wl_free(p);
    }
  }

  /** @param {CompleteOptions} o */
  #newSampler(o) {
    const num = (v, d, name) => {
      if (v === undefined || v === null) return d;
      if (typeof v !== 'number' || Number.isNaN(v)) throw new WasmllmError('ERR_BAD_ARG', `${name} must be a number, got ${v}`);
      return v;
    };
    const seed = o.seed === undefined || o.seed === null ? (Math.random() * 2 ** 32) >>> 0 : num(o.seed, 0, 'seed') >>> 0;
    const d = SAMPLING_DEFAULTS;
    const s = this.#core.M._wl_sampler_new(
      num(o.temperature, d.temperature, 'temperature'), num(o.topK, d.topK, 'topK') | 0, num(o.topP, d.topP, 'topP'),
      num(o.minP, d.minP, 'minP'), num(o.repeatPenalty, d.repeatPenalty, 'repeatPenalty'), num(o.repeatLastN, d.repeatLastN, 'repeatLastN') | 0,
      num(o.frequencyPenalty, d.frequencyPenalty, 'frequencyPenalty'), num(o.presencePenalty, d.presencePenalty, 'presencePenalty'), seed);
    if (!s) throw new WasmllmError('ERR_OOM', 'cannot allocate a sampler');
    return s;
  }
}

/**
 * A loaded model: the weights plus a default session (complete(), chat(),
 * tokenize() work on the model directly). createSession() adds KV caches that
 * share the weights, e.g. one per concurrent request in a server.
 */
export class Model extends Session {
  /** @type {Core} */
  #core;

  /** @internal use loadModel() @param {Core} core @param {Context} context */
  constructor(core, context) {
    super(core, context);
    this.#core = core;
  }

  /**
   * A new session (its own KV cache, of the model's kvType) over the same weights.
   * @param {{ contextSize?: number }} [options] contextSize defaults to the model's own
   * @returns {Session}
   */
  createSession(options = {}) {
    if (this.#core.disposed) throw new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
    checkContextSize(options.contextSize);
    return new Session(this.#core, newContext(this.#core, options.contextSize ?? this.contextSize));
  }

  /** Sizes, types and settings of the loaded model. */
  info() {
    if (this.#core.disposed) throw new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
    const { M, wasm } = this.#core;
    const md = this.#core.header.metadata;
    const arch = String(md.get('general.architecture') ?? 'unknown');
    const tensorTypes = {};
    let tensorCount = 0, tensorBytes = 0;
    for (const s of this.#core.shards) {
      for (const t of s.header.tensors) {
        tensorTypes[t.typeName] = (tensorTypes[t.typeName] ?? 0) + 1;
        tensorCount++;
        tensorBytes += t.nBytes;
      }
    }
    const fileType = md.get('general.file_type');
    return {
      architecture: arch,
      name: md.get('general.name') ?? null,
      nParams: M._wl_model_n_params(this.#core.model),
      nVocab: M._wl_model_n_vocab(this.#core.model),
      nCtxTrain: M._wl_model_n_ctx_train(this.#core.model),
      embeddingLength: M._wl_model_n_embd(this.#core.model),
      layers: M._wl_model_n_layer(this.#core.model),
      heads: md.get(`${arch}.attention.head_count`) ?? null,
      headsKv: md.get(`${arch}.attention.head_count_kv`) ?? md.get(`${arch}.attention.head_count`) ?? null,
      fileType: fileType === undefined ? null : FILE_TYPES[fileType] ?? `type ${fileType}`,
      // Encoders always pool (mean when the file names no pooling_type); decoders only when the file says so.
      pooling: POOLING_NAMES[M._wl_model_pooling(this.#core.model)] ?? null,
      isEncoder: M._wl_model_is_encoder(this.#core.model) === 1,
      tensorCount,
      tensorBytes,
      tensorTypes,
      shards: this.#core.shards.length,
      fileBytes: this.#core.shards.reduce((n, s) => n + s.size, 0),
      contextSize: this.contextSize,
      kvType: this.kvType,
      kvCacheBytes: this.kvCacheBytes,
      threads: this.#core.threads,
      wasmVariant: wasm.variant,
      wasmIsa: wasm.isa,
      loadMs: Math.round(this.#core.loadMs),
      repackedMatrices: this.#core.repackedMatrices ?? 0,
    };
  }

  /**
   * Rearranges the weights for the SIMD kernels if loadModel was told to
   * defer it (`deferPrepare`, for a host that first stores the file's bytes
   * elsewhere). Results are the same either way; only speed differs.
   */
  [PREPARE_WEIGHTS]() {
    if (this.#core.disposed || this.#core.repackedMatrices !== null) return;
    this.#core.repackedMatrices = this.#core.M._wl_model_prepare(this.#core.model);
  }

  /**
   * Wasm memory: `heapBytes` is the size of the wasm memory (it only grows),
   * `heapInUseBytes` what malloc has handed out now (leak checks compare it),
   * `kvCacheBytes` what the KV caches of all live sessions take of it.
   */
  memory() {
    if (this.#core.disposed) throw new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
    const { M, wasm } = this.#core;
    let kvCacheBytes = 0;
    for (const session of this.#core.sessions) kvCacheBytes += session.kvCacheBytes;
    return { heapBytes: wasm.heapU8().length, heapInUseBytes: M._wl_heap_in_use(), kvCacheBytes };
  }

  /**
   * How the sessions' decode steps have run (web/scheduler.js): `steps`
   * model steps so far, `batches` of them one wl_decode_batch over several
   * sessions, `maxSequences` the most sessions one step carried.
   */
  batchStats() {
    if (this.#core.disposed) throw new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
    const { stats, batching } = /** @type {Scheduler} */ (this.#core.scheduler);
    return { enabled: batching, steps: stats.steps, batches: stats.batches, maxSequences: stats.maxSeqs };
  }

  /** Frees the wasm memory (every session's too) and stops the worker threads. */
  dispose() {
    if (this.#core.disposed) return;
    for (const session of [...this.#core.sessions]) if (session !== this) session.dispose();
    super.dispose();
    freeCore(this.#core);
  }
}

export { GGML_TYPES };
