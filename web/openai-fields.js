/**
 * Which OpenAI request fields the server honours, and the ones beyond
 * sampling that change the answer: response_format, tools, tool_choice,
 * parallel_tool_calls, logprobs, top_logprobs and logit_bias, mapped to the
 * runtime's options. A field we do not implement is refused with a 400 that
 * names it, never dropped: a client that sent it would otherwise get an
 * answer that ignores what it asked for.
 */
import { ApiError } from './openai-api.js';
import { responseFormatToGrammar } from './structured/response-format.js';
import { WasmllmError } from './errors.js';

/** Fields that change nothing in the answer (bookkeeping for OpenAI's platform): accepted and unused. */
const INERT = ['user', 'metadata', 'store', 'service_tier', 'prompt_cache_key', 'safety_identifier'];

/** What we implement, per endpoint (sampling fields are checked in openai-api.js). */
const CHAT_FIELDS = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'top_k', 'min_p', 'repeat_penalty', 'seed', 'presence_penalty', 'frequency_penalty', 'stop', 'n',
  'response_format', 'tools', 'tool_choice', 'parallel_tool_calls', 'logprobs', 'top_logprobs', 'logit_bias', 'modalities',
  'prediction', ...INERT,
]);
const COMPLETION_FIELDS = new Set([
  'model', 'prompt', 'stream', 'stream_options', 'max_tokens', 'temperature', 'top_p', 'top_k', 'min_p',
  'repeat_penalty', 'seed', 'presence_penalty', 'frequency_penalty', 'stop', 'n', 'logprobs', 'logit_bias',
  'best_of', 'echo', 'suffix', 'prediction', ...INERT,
]);

const EMBEDDING_FIELDS = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

/**
 * Why a known OpenAI field is refused, when it is set to something other
 * than its no-op value (`ok`).
 * @type {Record<string, { ok?: (v: any) => boolean, why: string }>}
 */
const REFUSED = {
  functions: { why: "the deprecated 'functions' is not supported; send 'tools'" },
  function_call: { why: "the deprecated 'function_call' is not supported; send 'tool_choice'" },
  audio: { why: 'audio output is not supported' },
  modalities: { ok: (v) => Array.isArray(v) && v.every((m) => m === 'text'), why: "only the 'text' modality is supported" },
  reasoning_effort: { why: 'reasoning_effort is not supported (a reasoning model thinks as its template says; see reasoning_content)' },
  verbosity: { why: 'verbosity is not supported' },
  web_search_options: { why: 'web search is not supported' },
  suffix: { ok: (v) => v === '' , why: "'suffix' (insertion) is not supported" },
  best_of: { ok: (v) => v === 1, why: "only best_of=1 is supported" },
  dimensions: { why: "'dimensions' (shortened embeddings) is not supported: vectors have the model's own size" },
};

/**
 * Refuses every field that is neither implemented nor inert, naming it.
 * @param {Record<string, unknown>} body @param {'chat'|'completion'|'embeddings'} kind
 */
export function checkKnownFields(body, kind) {
  const allowed = kind === 'chat' ? CHAT_FIELDS : kind === 'completion' ? COMPLETION_FIELDS : EMBEDDING_FIELDS;
  for (const [field, v] of Object.entries(body)) {
    if (v === undefined || v === null) continue;
    const refused = REFUSED[field];
    if (refused && !(allowed.has(field) && refused.ok?.(v))) {
      throw new ApiError(400, `'${field}': ${refused.why}`, { param: field, code: 'unsupported_parameter' });
    }
    if (!allowed.has(field)) {
      throw new ApiError(400, `Unrecognized request argument supplied: ${field}`, { param: field, code: 'unsupported_parameter' });
    }
  }
}

/**
 * logit_bias: { "token id": bias in [-100, 100] } -> the runtime's logitBias
 * (-100 bans the token, as OpenAI documents).
 * @param {unknown} v @param {number} nVocab
 * @returns {Record<number, number> | undefined}
 */
export function logitBiasOption(v, nVocab) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, "'logit_bias' must be an object of token id -> bias", { param: 'logit_bias' });
  /** @type {Record<number, number>} */
  const out = {};
  for (const [key, bias] of Object.entries(v)) {
    const id = Number(key);
    if (!/^\d+$/.test(key) || id >= nVocab) {
      throw new ApiError(400, `'logit_bias' key ${JSON.stringify(key)} is not a token id in [0, ${nVocab})`, { param: 'logit_bias' });
    }
    if (typeof bias !== 'number' || !(bias >= -100 && bias <= 100)) {
      throw new ApiError(400, `'logit_bias' value for token ${key} must be a number in [-100, 100]`, { param: 'logit_bias' });
    }
    out[id] = bias === -100 ? -Infinity : bias;
  }
  return out;
}

/**
 * Chat's logprobs (a boolean) and top_logprobs (0..20, only with logprobs)
 * -> the runtime's `logprobs` option (undefined, or a top-k count).
 * @param {Record<string, unknown>} body
 */
export function chatLogprobsOption(body) {
  const { logprobs, top_logprobs: top } = body;
  if (logprobs !== undefined && logprobs !== null && typeof logprobs !== 'boolean') {
    throw new ApiError(400, "'logprobs' must be a boolean", { param: 'logprobs' });
  }
  if (top !== undefined && top !== null) {
    if (!Number.isInteger(top) || /** @type {number} */ (top) < 0 || /** @type {number} */ (top) > 20) {
      throw new ApiError(400, "'top_logprobs' must be an integer in [0, 20]", { param: 'top_logprobs' });
    }
    if (logprobs !== true) throw new ApiError(400, "'top_logprobs' needs 'logprobs': true", { param: 'top_logprobs' });
  }
  return logprobs === true ? /** @type {number} */ (top ?? 0) : undefined;
}

/**
 * Completions' logprobs: an integer 0..5, the count of alternatives per token.
 * @param {Record<string, unknown>} body
 */
export function completionLogprobsOption(body) {
  const v = body.logprobs;
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v) || /** @type {number} */ (v) < 0 || /** @type {number} */ (v) > 5) {
    throw new ApiError(400, "'logprobs' must be an integer in [0, 5]", { param: 'logprobs' });
  }
  return /** @type {number} */ (v);
}

/**
 * echo: the prompt's tokens come first in the text (and in logprobs, where the first has none).
 * @param {Record<string, unknown>} body
 * @returns {boolean}
 */
export function echoOption(body) {
  const v = body.echo;
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ApiError(400, "'echo' must be a boolean", { param: 'echo' });
  return v;
}

/**
 * prediction (OpenAI's Predicted Outputs): { type: 'content', content } with
 * content a string or an array of text parts -> the predicted text (null
 * when absent). It drafts tokens for speculative decoding by prompt lookup:
 * the answer is the same, only faster where it repeats the prediction.
 * @param {Record<string, any>} body
 * @returns {string | null}
 */
export function predictionOption(body) {
  const p = body.prediction;
  if (p === undefined || p === null) return null;
  if (typeof p !== 'object' || Array.isArray(p) || p.type !== 'content') {
    throw new ApiError(400, "'prediction' must be { type: 'content', content: string | text parts }", { param: 'prediction' });
  }
  for (const key of Object.keys(p)) {
    if (key !== 'type' && key !== 'content') throw new ApiError(400, `'prediction.${key}' is not supported`, { param: `prediction.${key}` });
  }
  if (typeof p.content === 'string') return p.content;
  if (Array.isArray(p.content) && p.content.every((c) => c && typeof c === 'object' && c.type === 'text' && typeof c.text === 'string')) {
    return p.content.map((c) => c.text).join('');
  }
  throw new ApiError(400, "'prediction.content' must be a string or an array of { type: 'text', text } parts", { param: 'prediction.content' });
}

/**
 * tools, tool_choice and parallel_tool_calls -> chat options, checked here
 * so each error names its field.
 * @param {Record<string, any>} body
 */
export function toolOptions(body) {
  const { tools, tool_choice: choice, parallel_tool_calls: parallel } = body;
  if (tools != null && !Array.isArray(tools)) throw new ApiError(400, "'tools' must be an array", { param: 'tools' });
  const o = {};
  if (tools != null) {
    tools.forEach((t, i) => {
      if (!t || typeof t !== 'object' || t.type !== 'function' || !t.function || typeof t.function !== 'object') {
        throw new ApiError(400, `'tools[${i}]' must be { type: 'function', function: {...} } (only function tools are supported)`, { param: `tools[${i}]` });
      }
    });
    o.tools = tools;
  }
  if (choice != null) {
    if (typeof choice === 'object' && choice.type === 'allowed_tools') {
      throw new ApiError(400, "'tool_choice' allowed_tools is not supported", { param: 'tool_choice' });
    }
    o.toolChoice = choice;
  }
  if (parallel != null) {
    if (typeof parallel !== 'boolean') throw new ApiError(400, "'parallel_tool_calls' must be a boolean", { param: 'parallel_tool_calls' });
    o.parallelToolCalls = parallel;
  }
  return o;
}

/**
 * response_format -> a grammar (null: plain text). Schema keywords we cannot
 * enforce are refused by jsonSchemaToGrammar; the error names them.
 * @param {Record<string, any>} body
 */
export function responseFormatOption(body) {
  if (body.response_format == null) return null;
  try {
    return responseFormatToGrammar(body.response_format);
  } catch (e) {
    if (e instanceof WasmllmError) throw new ApiError(400, e.message, { param: 'response_format', code: e.code });
    throw e;
  }
}
