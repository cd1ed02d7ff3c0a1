/**
 * What restricts the next token besides the model: a GBNF grammar (or a
 * JSON schema turned into one) and logit biases. The grammar engine is C
 * (src/grammar*.c); this file checks the options, gives C the vocabulary's
 * bytes once per model, and keeps parsed grammars (with their mask caches)
 * for reuse, since a server sees the same schema again and again.
 */
import { WasmllmError } from './errors.js';
import { jsonSchemaToGrammar } from './structured/json-schema.js';

/** Parsed grammars kept per model (their caches make the second use fast). */
const MAX_GRAMMARS = 4;
/**
 * Bytes the kept grammars may hold in the wasm heap together (a JSON grammar's
 * caches held 1.4 MB after 200 tokens over Llama 3's 128k tokens); past it the
 * least recently used go, so the heap stays within the model's budget.
 */
const MAX_KEPT_BYTES = 24 * 1024 * 1024;

/**
 * The grammar text a completion asks for, or null.
 * @param {{ grammar?: string, jsonSchema?: object }} options
 * @returns {Promise<string | null>}
 */
export async function grammarText(options) {
  const { grammar, jsonSchema } = options;
  if (grammar !== undefined && grammar !== null && jsonSchema !== undefined && jsonSchema !== null) {
    throw new WasmllmError('ERR_BAD_ARG', 'give either grammar or jsonSchema, not both');
  }
  if (grammar !== undefined && grammar !== null) {
    if (typeof grammar !== 'string') throw new WasmllmError('ERR_BAD_ARG', `grammar must be GBNF text (a string), got ${typeof grammar}`);
    return grammar;
  }
  if (jsonSchema !== undefined && jsonSchema !== null) {
    if (typeof jsonSchema !== 'object' && typeof jsonSchema !== 'boolean') {
      throw new WasmllmError('ERR_BAD_ARG', `jsonSchema must be a JSON Schema object, got ${typeof jsonSchema}`);
    }
    return jsonSchemaToGrammar(jsonSchema);
  }
  return null;
}

/**
 * logitBias ({ [tokenId]: bias }, or a Map) as two typed arrays; null when empty.
 * -Infinity bans a token; other values must be finite.
 * @param {unknown} logitBias @param {number} nVocab
 * @returns {{ ids: Int32Array, biases: Float32Array } | null}
 */
export function parseLogitBias(logitBias, nVocab) {
  if (logitBias === undefined || logitBias === null) return null;
  if (typeof logitBias !== 'object' || Array.isArray(logitBias)) {
    throw new WasmllmError('ERR_BAD_ARG', 'logitBias must be an object { [tokenId]: bias }');
  }
  const entries = logitBias instanceof Map ? [...logitBias.entries()] : Object.entries(logitBias);
  if (entries.length === 0) return null;
  const ids = new Int32Array(entries.length);
  const biases = new Float32Array(entries.length);
  entries.forEach(([key, value], i) => {
    const id = typeof key === 'number' ? key : /^\d+$/.test(key) ? Number(key) : NaN;
    if (!Number.isInteger(id) || id < 0 || id >= nVocab) {
      throw new WasmllmError('ERR_BAD_ARG', `logitBias key ${JSON.stringify(key)} is not a token id in [0, ${nVocab})`);
    }
    if (typeof value !== 'number' || Number.isNaN(value) || value === Infinity) {
      throw new WasmllmError('ERR_BAD_ARG', `logitBias[${id}] must be a finite number or -Infinity, got ${value}`);
    }
    ids[i] = id;
    biases[i] = value;
  });
  return { ids, biases };
}

/**
 * The model's vocabulary in the wasm heap (wl_vocab), made on first use.
 * Token ids past the tokenizer's (padded embedding rows) are never allowed.
 * @param {{ M: any, err: number, tokenizer: any, grammarVocab?: number }} core
 * @param {number} nVocab the model's logits per token
 * @param {(core: any) => Error} lastError
 */
function vocabOf(core, nVocab, lastError) {
  if (core.grammarVocab) return core.grammarVocab;
  const { M } = core;
  const { bytes, offsets, kinds } = core.tokenizer.grammarVocab();
  const n = Math.min(kinds.length, nVocab);
  const pb = M._wl_alloc(Math.max(1, bytes.length)) >>> 0;
  const po = M._wl_alloc(4 * (nVocab + 1)) >>> 0;
  const pk = M._wl_alloc(nVocab) >>> 0;
  try {
    if (!pb || !po || !pk) throw new WasmllmError('ERR_OOM', 'cannot allocate the vocabulary table for grammars');
    const heap = core.wasm.heapU8().buffer;
    new Uint8Array(heap, pb, bytes.length).set(bytes);
    const off = new Uint32Array(heap, po, nVocab + 1);
    off.set(offsets.subarray(0, n + 1));
    off.fill(offsets[n], n + 1);
    const k = new Uint8Array(heap, pk, nVocab);
    k.fill(1);
    k.set(kinds.subarray(0, n));
    const v = M._wl_vocab_new(pb, po, pk, nVocab, core.err);
    if (!v) throw lastError(core);
    core.grammarVocab = v;
    return v;
  } finally {
    M._wl_free(pb);
    M._wl_free(po);
    M._wl_free(pk);
  }
}

/**
 * A matcher for `text` (parsed once per model and kept, up to MAX_GRAMMARS).
 * @param {any} core the model's Core (M, err, tokenizer, grammars)
 * @param {string} text GBNF
 * @param {number} nVocab
 * @param {(core: any) => Error} lastError
 * @returns {{ matcher: number, release: () => void }}
 */
export function openMatcher(core, text, nVocab, lastError) {
  const { M } = core;
  core.grammars ??= new Map();
  let entry = core.grammars.get(text);
  if (entry) {
    core.grammars.delete(text); // most recently used goes last
  } else {
    const vocab = vocabOf(core, nVocab, lastError);
    const encoded = new TextEncoder().encode(text);
    const p = M._wl_alloc(Math.max(1, encoded.length)) >>> 0;
    if (!p) throw new WasmllmError('ERR_OOM', 'cannot allocate the grammar text');
    let g;
    try {
      core.wasm.heapU8().set(encoded, p);
      g = M._wl_grammar_new(p, encoded.length, vocab, core.err);
    } finally {
      M._wl_free(p);
    }
    if (!g) throw lastError(core);
    entry = { grammar: g, users: 0 };
  }
  core.grammars.set(text, entry);
  evict(core);
  const matcher = M._wl_matcher_new(entry.grammar, core.err);
  if (!matcher) throw lastError(core);
  entry.users++;
  return {
    matcher,
    release() {
      if (core.disposed) return;
      M._wl_matcher_free(matcher);
      entry.users--;
      if (core.grammars.get(text) !== entry) {
        if (entry.users === 0) M._wl_grammar_free(entry.grammar); // evicted while in use
      } else {
        evict(core);
      }
    },
  };
}

/**
 * Drops the least recently used grammars past MAX_GRAMMARS or MAX_KEPT_BYTES
 * (one in use is freed when its generation ends); the newest always stays.
 */
function evict(core) {
  const M = core.M;
  let bytes = 0;
  for (const entry of core.grammars.values()) bytes += M._wl_grammar_bytes(entry.grammar);
  for (const [text, entry] of core.grammars) {
    if (core.grammars.size <= 1 || (core.grammars.size <= MAX_GRAMMARS && bytes <= MAX_KEPT_BYTES)) break;
    bytes -= M._wl_grammar_bytes(entry.grammar);
    core.grammars.delete(text);
    if (entry.users === 0) M._wl_grammar_free(entry.grammar);
  }
}

/** Frees every grammar and the vocabulary table (the model is going away). */
export function freeConstraints(core) {
  if (!core.M) return;
  for (const entry of core.grammars?.values() ?? []) core.M._wl_grammar_free(entry.grammar);
  core.grammars?.clear();
  if (core.grammarVocab) core.M._wl_vocab_free(core.grammarVocab);
  core.grammarVocab = 0;
}
