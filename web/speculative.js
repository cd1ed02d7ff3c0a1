/**
 * Speculative decoding: guess the next few tokens cheaply, then check them
 * all with one forward pass of the model (wl_decode_all gives the logits
 * after every token of the chunk, bit-identical to decoding them one by one).
 *
 * Two ways to guess ("draft"):
 *  - prompt lookup: find the latest earlier place where the last n tokens of
 *    the context occurred (or where they occur in a given text, e.g. an
 *    OpenAI `prediction`) and copy the tokens that followed it;
 *  - a draft model: a second, smaller model with the same vocabulary proposes
 *    tokens greedily.
 *
 * Verification samples each position with the target's own sampler, in the
 * state it would be in without speculation, and keeps a drafted token only if
 * the sampler chose it; the first token it did not choose is replaced by the
 * sampler's choice and the rest of the draft is dropped. Both drafters
 * propose one token per position with certainty (q is a point mass), and for
 * such a q the standard speculative sampling rule - accept with probability
 * min(1, p/q) = p(x), else sample from norm(max(0, p - q)) = p without x - is
 * exactly "sample from p, keep x if it came out". So the output is the
 * target's distribution, and with a seed the very same text as without
 * speculation: every emitted token costs one sampler draw on the same logits
 * in the same sampler state, grammar, biases and penalties included (they
 * only ever see emitted tokens, so nothing needs rolling back).
 */
import { WasmllmError } from './errors.js';
import { abortError } from './sources.js';

/** The most tokens one draft may hold: 1 + 16 fit the KV batch buffer (32) and lfm2's conv rewind (32). */
export const MAX_DRAFT = 16;
/**
 * Defaults measured best on the embedded model (docs/BENCHMARKS.md): n-grams of 2..4 tokens (1-token
 * matches guess wrong too often) and up to 4 drafted tokens (a chunk of 5 costs about 2 single-token
 * decodes there).
 */
const DEFAULTS = { maxDraft: 4, ngramMin: 2, ngramMax: 4 };

/**
 * Internal access a draft model's session gives the drafter (web/model.js
 * defines it on Session): acquire() marks it busy, draft(ids, k, signal)
 * makes its KV cache hold `ids` and returns up to k greedy tokens after them,
 * release() frees it again, vocabulary() its token strings and n_vocab.
 */
export const DRAFT_ACCESS = Symbol('wasmllm.draftAccess');

/**
 * @typedef {{ lookup?: true | { ngramMin?: number, ngramMax?: number, text?: string },
 *   draft?: any, maxDraft?: number }} SpeculativeOptions
 * @typedef {{ method: 'lookup'|'draft', maxDraft: number, drafted: number, accepted: number,
 *   acceptanceRate: number, draftMs: number }} SpeculativeStats
 */

/** @param {unknown} v @param {string} name @param {number} lo @param {number} hi */
function intIn(v, name, lo, hi) {
  if (!Number.isInteger(v) || /** @type {number} */ (v) < lo || /** @type {number} */ (v) > hi) {
    throw new WasmllmError('ERR_BAD_ARG', `speculative.${name} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  }
  return /** @type {number} */ (v);
}

/**
 * Checks the `speculative` option's shape (no model work); null when off.
 * @param {unknown} o
 * @returns {{ method: 'lookup'|'draft', maxDraft: number, ngramMin: number, ngramMax: number,
 *   text: string | null, draft: any } | null}
 */
export function parseSpeculative(o) {
  if (o === undefined || o === null || o === false) return null;
  if (typeof o !== 'object' || Array.isArray(o)) {
    throw new WasmllmError('ERR_BAD_ARG', 'speculative must be an object: { lookup: true | {...} } or { draft: session }');
  }
  const s = /** @type {Record<string, any>} */ (o);
  for (const key of Object.keys(s)) {
    if (!['lookup', 'draft', 'maxDraft'].includes(key)) {
      throw new WasmllmError('ERR_BAD_ARG', `speculative.${key} is not supported (lookup, draft, maxDraft are)`);
    }
  }
  const hasLookup = s.lookup !== undefined && s.lookup !== false;
  const hasDraft = s.draft !== undefined && s.draft !== null;
  if (hasLookup === hasDraft) {
    throw new WasmllmError('ERR_BAD_ARG', 'speculative needs exactly one of lookup and draft');
  }
  const maxDraft = s.maxDraft === undefined ? DEFAULTS.maxDraft : intIn(s.maxDraft, 'maxDraft', 1, MAX_DRAFT);
  let { ngramMin, ngramMax } = DEFAULTS;
  let text = null;
  if (hasLookup && s.lookup !== true) {
    const l = s.lookup;
    if (typeof l !== 'object' || Array.isArray(l)) throw new WasmllmError('ERR_BAD_ARG', 'speculative.lookup must be true or an object');
    for (const key of Object.keys(l)) {
      if (!['ngramMin', 'ngramMax', 'text'].includes(key)) {
        throw new WasmllmError('ERR_BAD_ARG', `speculative.lookup.${key} is not supported (ngramMin, ngramMax, text are)`);
      }
    }
    if (l.ngramMin !== undefined) ngramMin = intIn(l.ngramMin, 'lookup.ngramMin', 1, 16);
    if (l.ngramMax !== undefined) ngramMax = intIn(l.ngramMax, 'lookup.ngramMax', 1, 16);
    if (l.ngramMin !== undefined && l.ngramMax === undefined) ngramMax = Math.max(ngramMax, ngramMin);
    if (l.ngramMax !== undefined && l.ngramMin === undefined) ngramMin = Math.min(ngramMin, ngramMax);
    if (ngramMin > ngramMax) throw new WasmllmError('ERR_BAD_ARG', `speculative.lookup.ngramMin (${ngramMin}) exceeds ngramMax (${ngramMax})`);
    if (l.text !== undefined && typeof l.text !== 'string') throw new WasmllmError('ERR_BAD_ARG', 'speculative.lookup.text must be a string');
    text = l.text ?? null;
  }
  if (hasDraft && typeof s.draft?.[DRAFT_ACCESS] !== 'function') {
    throw new WasmllmError('ERR_BAD_ARG', 'speculative.draft must be a Model or Session (loadModel / createSession)');
  }
  return { method: hasLookup ? 'lookup' : 'draft', maxDraft, ngramMin, ngramMax, text, draft: hasDraft ? s.draft : null };
}

/**
 * Up to k tokens that followed the latest earlier occurrence of the last n
 * tokens of `ids` (n from ngramMax down to ngramMin: a longer match is
 * better evidence). `extra` (tokens of a predicted text) is searched first,
 * since it stands for the output itself.
 * @param {number[]} ids @param {number[]} extra
 * @param {number} k @param {number} ngramMin @param {number} ngramMax
 * @returns {number[]}
 */
export function lookupDraft(ids, extra, k, ngramMin, ngramMax) {
  const len = ids.length;
  for (let n = Math.min(ngramMax, len); n >= ngramMin; n--) {
    const tail = len - n;
    const found = findLatest(extra, extra.length, ids, tail, n);
    if (found >= 0) return extra.slice(found + n, found + n + k);
    // In the context itself: the match must end before the tail does.
    const self = findLatest(ids, len, ids, tail, n);
    if (self >= 0) return ids.slice(self + n, Math.min(self + n + k, len));
  }
  return [];
}

/**
 * The start of the latest match of needle[from .. from+n) in hay that ends
 * at or before `end` and has at least one token after it; -1 if none.
 * @param {number[]} hay @param {number} end @param {number[]} needle @param {number} from @param {number} n
 */
function findLatest(hay, end, needle, from, n) {
  for (let i = Math.min(end, hay.length - 1) - n; i >= 0; i--) {
    let j = 0;
    while (j < n && hay[i + j] === needle[from + j]) j++;
    if (j === n) return i;
  }
  return -1;
}

/**
 * Throws ERR_BAD_ARG unless the draft model tokenizes exactly as the target:
 * same vocabulary size and the same string for every token id.
 * @param {{ nVocab: number, tokens: any }} target @param {{ nVocab: number, tokens: any }} draft
 */
export function checkSameVocabulary(target, draft) {
  if (target.nVocab !== draft.nVocab) {
    throw new WasmllmError('ERR_BAD_ARG', `speculative.draft has a vocabulary of ${draft.nVocab} tokens, the model ${target.nVocab}: a draft model needs the same vocabulary`);
  }
  const a = target.tokens, b = draft.tokens;
  if (!a || !b || a.length !== b.length) {
    throw new WasmllmError('ERR_BAD_ARG', 'speculative.draft: the two models\' token lists (tokenizer.ggml.tokens) differ in length');
  }
  const at = (list, i) => (typeof list.get === 'function' ? list.get(i) : list[i]);
  for (let i = 0; i < a.length; i++) {
    if (at(a, i) !== at(b, i)) {
      throw new WasmllmError('ERR_BAD_ARG', `speculative.draft: token ${i} is ${JSON.stringify(at(b, i))} in the draft model but ${JSON.stringify(at(a, i))} in the model: a draft model needs the same vocabulary`);
    }
  }
}

/**
 * What a Session lends the speculator over its own KV cache.
 * @typedef {object} TargetKV
 * @property {() => number} pos                 tokens in the KV cache
 * @property {(ids: number[]) => number} decodeAll  appends ids, returns the address of their logits rows
 * @property {(ids: number[]) => number} decode     appends ids, returns the address of the last logits
 * @property {(n: number) => void} truncate     keeps the first n tokens (re-evaluating any a recurrent layer lost)
 * @property {() => number[]} cached            the token ids in the KV cache
 * @property {number} nVocab @property {number} nCtx @property {number} batch  the most ids one decode takes
 */

/**
 * A draft model's guess: makes its KV cache hold `ids` (reusing the cached
 * prefix; the last token is decoded again for its logits) and returns up to
 * k greedy tokens after them, fewer at the end of its context or after an
 * end-of-generation token.
 * @param {TargetKV} kv the draft session's cache @param {(logits: number) => number} argmax
 * @param {(token: number) => boolean} isEog @param {number[]} ids @param {number} k @param {AbortSignal} [signal]
 */
export function greedyDraft(kv, argmax, isEog, ids, k, signal) {
  k = Math.min(k, kv.nCtx - ids.length);
  if (k <= 0) return [];
  const cached = kv.cached();
  let keep = 0;
  while (keep < cached.length && keep < ids.length && cached[keep] === ids[keep]) keep++;
  if (keep === ids.length) keep--;
  kv.truncate(keep);
  let logits = 0;
  for (let i = kv.pos(); i < ids.length; i += kv.batch) {
    if (signal?.aborted) throw abortError(signal);
    logits = kv.decode(ids.slice(i, i + kv.batch));
  }
  const out = [];
  for (;;) {
    const token = argmax(logits);
    if (token < 0 || token >= kv.nVocab) break;
    out.push(token);
    if (out.length === k || isEog(token)) break;
    logits = kv.decode([token]);
  }
  return out;
}

/**
 * One generation's speculation. The generate loop asks `logits()` for the
 * row to sample next and calls `advance(token)` with each emitted token
 * (instead of decoding it); `finish()` leaves the KV cache holding exactly
 * the emitted tokens but the last, as plain decoding would.
 */
export class Speculator {
  /** @type {number[]} the context: prompt and emitted tokens (the last one not yet in the KV cache) */
  #ids;
  /** Tokens the verified chunk placed in the KV cache: [pending token, draft...], and where it starts. */
  #chunk = /** @type {number[]} */ ([]);
  #base = 0;
  /** Row of the chunk's logits the next sample reads; its address. */
  #row = 0;
  #rows = 0;
  /**
   * Tokens to draft next: grows by 2 after a draft kept whole, shrinks by 1 after a miss; at 0 one
   * step goes undrafted (a miss costs a longer chunk for one token), then 1 is tried again.
   */
  #k;
  #kv;
  #cfg;
  #extra;
  #draft;
  #signal;
  /** @type {SpeculativeStats} */
  stats;

  /**
   * @param {TargetKV} kv @param {NonNullable<ReturnType<typeof parseSpeculative>>} cfg
   * @param {number[]} promptIds @param {number} firstLogits the prompt's last logits
   * @param {number[]} extraIds tokens of cfg.text @param {any} draftAccess acquired draft access, or null
   * @param {AbortSignal | undefined} signal
   */
  constructor(kv, cfg, promptIds, firstLogits, extraIds, draftAccess, signal) {
    this.#kv = kv;
    this.#cfg = cfg;
    this.#ids = [...promptIds];
    this.#extra = extraIds;
    this.#draft = draftAccess;
    this.#signal = signal;
    this.#base = kv.pos();
    this.#rows = firstLogits;
    this.#row = 0;
    this.#chunk = [];
    this.#k = cfg.maxDraft;
    this.stats = { method: cfg.method, maxDraft: cfg.maxDraft, drafted: 0, accepted: 0, acceptanceRate: 0, draftMs: 0 };
  }

  /** Address of the logits the next token is sampled from. */
  logits() {
    return this.#rows + this.#row * this.#kv.nVocab * 4;
  }

  /**
   * Moves past an emitted token: free when the draft had guessed it (its
   * logits are already computed), else drops the rest of the draft and
   * verifies a new one after it.
   * @param {number} token @param {number} budget tokens that may still be emitted after this one
   */
  async advance(token, budget) {
    this.#ids.push(token);
    const next = this.#row + 1;
    if (next < this.#chunk.length && this.#chunk[next] === token) {
      this.#row = next;
      this.stats.accepted++;
      return;
    }
    // A verification costs more the longer the chunk: draft less while guesses miss.
    if (this.#chunk.length > 1) this.#k = this.#row === this.#chunk.length - 1 ? Math.min(this.#cfg.maxDraft, this.#k + 2) : Math.max(0, this.#k - 1);
    else if (this.#k === 0) this.#k = 1; // after a step without a draft, try one token again
    this.#dropUnverified();
    const room = this.#kv.nCtx - this.#kv.pos() - 1;
    const k = Math.max(0, Math.min(this.#k, budget - 1, room));
    const t0 = performance.now();
    const guess = k > 0 ? await this.#propose(k) : [];
    this.stats.draftMs += performance.now() - t0;
    if (this.#signal?.aborted) throw abortError(this.#signal);
    this.stats.drafted += guess.length;
    const chunk = [token, ...guess];
    this.#base = this.#kv.pos();
    this.#rows = guess.length ? this.#kv.decodeAll(chunk) : this.#kv.decode(chunk);
    this.#chunk = chunk;
    this.#row = 0;
  }

  /** Tokens of the context (prompt and emitted) that are in the KV cache. */
  get held() {
    return this.#ids.length;
  }

  /** Leaves the KV cache holding the emitted tokens but the last. */
  finish() {
    this.#dropUnverified();
    const s = this.stats;
    s.acceptanceRate = s.drafted ? s.accepted / s.drafted : 0;
    s.draftMs = Math.round(s.draftMs * 1000) / 1000;
  }

  /** Forgets the drafted tokens after the row last sampled (they were not emitted). */
  #dropUnverified() {
    if (this.#chunk.length > this.#row + 1) this.#kv.truncate(this.#base + this.#row + 1);
    this.#chunk = this.#chunk.slice(0, this.#row + 1);
  }

  /** @param {number} k */
  async #propose(k) {
    const c = this.#cfg;
    if (c.method === 'lookup') return lookupDraft(this.#ids, this.#extra, k, c.ngramMin, c.ngramMax);
    return this.#draft.draft(this.#ids, k, this.#signal);
  }
}
