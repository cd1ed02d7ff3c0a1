/**
 * SentencePiece BPE (tokenizer.ggml.model = "llama"): spaces become U+2581,
 * the text starts as one symbol per code point, and adjacent symbols whose
 * concatenation is a token merge highest score first (ties: leftmost), as
 * llama.cpp's llm_tokenizer_spm does; leftovers fall back to <0xXX> tokens.
 *
 * llama.cpp runs this over a whole fragment at once. When no token has a
 * U+2581 right after another character (true of SentencePiece vocabularies
 * that split on whitespace), no merge can cross the start of a "▁word", so
 * each such chunk is tokenized alone and cached; the ids are the same.
 */
import { MinHeap } from './heap.js';
import { ATTR } from './vocab.js';
import { PairMap } from './pair-map.js';
import { WordCache } from './word-cache.js';

const TWO32 = 4294967296;
const SPACE_MARK = '\u2581';

export class SpmModel {
  /** @param {import('./vocab.js').Vocab} vocab */
  constructor(vocab) {
    this.vocab = vocab;
    const { tokens, scores, tokenToId } = vocab;
    // Scores to dense ranks (0 = best) so a heap key orders by score then position.
    const distinct = Float32Array.from(new Set(scores ?? [0])).sort((a, b) => b - a);
    const rankOf = new Map();
    distinct.forEach((s, i) => rankOf.set(s, i));
    this.scoreRank = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) this.scoreRank[i] = rankOf.get(scores ? scores[i] : 0);

    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, '0');
      this.byteIds[b] = tokenToId.get(`<0x${hex}>`) ?? (b < 0x80 ? tokenToId.get(String.fromCharCode(b)) : undefined) ?? -1;
    }
    // Can a merge cross "x▁" (x not ▁)? If no token contains that, chunks are independent.
    this.chunkable = !tokens.some((t, i) => (vocab.attrs[i] !== ATTR.BYTE) && /[^\u2581]\u2581/.test(t));
    this.#initSymbolTables();
    this.heap = new MinHeap(256);
    this.sym = { id: new Int32Array(64), len: new Int32Array(64), prev: new Int32Array(64), next: new Int32Array(64), start: new Int32Array(64) };
    this.cache = new WordCache();
    this.encoder = new TextEncoder();
  }

  /**
   * Symbols carry ids: a token's id, or for a code point that is no token an
   * id past the vocabulary. Whether two adjacent symbols merge (their
   * concatenation is a token) is looked up once per id pair and remembered,
   * so merging never builds or hashes text twice for the same pair.
   */
  #initSymbolTables() {
    /** @type {Map<string, number>} single code points that are not tokens -> ids past the vocabulary */
    this.extraIds = new Map();
    /** @type {string[]} */
    this.extraTexts = [];
    /** (left id, right id) -> merged token id, or -2 when the concatenation is no token */
    this.pairs = new PairMap(1 << 14);
    /** @type {Map<number, number>} code point -> symbol id */
    this.charIds = new Map();
  }

  /** @param {number} cp @param {string} ch */
  #charId(cp, ch) {
    let id = this.charIds.get(cp);
    if (id === undefined) {
      id = this.vocab.tokenToId.get(ch);
      if (id === undefined) {
        id = this.vocab.tokens.length + this.extraTexts.length;
        this.extraTexts.push(ch);
      }
      this.charIds.set(cp, id);
    }
    return id;
  }

  /** Merged token of two symbols, or a negative number. @param {number} a @param {number} b */
  #pairId(a, b) {
    let merged = this.pairs.get(a, b);
    if (merged === -1) {
      const { tokens, tokenToId } = this.vocab;
      const text = (a < tokens.length ? tokens[a] : this.extraTexts[a - tokens.length]) +
        (b < tokens.length ? tokens[b] : this.extraTexts[b - tokens.length]);
      merged = tokenToId.get(text) ?? -2;
      this.pairs.addIfAbsent(a, b, merged);
    }
    return merged;
  }

  /**
   * Appends ids for text already escaped (spaces as U+2581).
   * @param {string} text @param {number[]} out
   */
  encode(text, out) {
    if (!this.chunkable) { this.#encodeChunk(text, out); return; }
    const cache = this.cache;
    let start = 0;
    // A chunk ends before each U+2581 that follows another character.
    for (let i = text.indexOf(SPACE_MARK, 1); start < text.length; i = text.indexOf(SPACE_MARK, i + 1)) {
      if (i < 0) i = text.length;
      else if (text.charCodeAt(i - 1) === 0x2581) continue;
      const h = WordCache.hash(text, start, i);
      let ids = cache.get(text, start, i, h);
      if (ids === undefined) {
        const chunk = text.slice(start, i);
        ids = [];
        this.#encodeChunk(chunk, ids);
        cache.set(chunk, h, ids);
      }
      start = i;
      for (let k = 0; k < ids.length; k++) out.push(ids[k]);
    }
  }

  #grow(n) {
    if (this.sym.len.length >= n) return;
    let cap = this.sym.len.length;
    while (cap < n) cap *= 2;
    this.sym = { id: new Int32Array(cap), len: new Int32Array(cap), prev: new Int32Array(cap), next: new Int32Array(cap), start: new Int32Array(cap) };
  }

  /** @param {string} text @param {number[]} out */
  #encodeChunk(text, out) {
    if (text.length === 0) return;
    this.#grow(text.length);
    const { id, len, prev, next, start } = this.sym;
    // One symbol per code point (UTF-16 units: a surrogate pair is one symbol).
    let n = 0;
    for (let i = 0; i < text.length; n++) {
      const c = text.charCodeAt(i);
      const w = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      id[n] = w === 1 ? this.#charId(c, text[i]) : this.#charId(text.codePointAt(i), text.slice(i, i + 2));
      start[n] = i; len[n] = w; prev[n] = n - 1; next[n] = n + 1;
      i += w;
    }
    next[n - 1] = -1;
    const heap = this.heap;
    heap.clear();
    for (let i = 1; i < n; i++) this.#tryPair(i - 1, i);
    while (heap.size > 0) {
      const key = heap.pop();
      const right = heap.popA, size = heap.popB;
      const left = key % TWO32;
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== size) continue;
      id[left] = this.#pairId(id[left], id[right]);
      len[left] += len[right];
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      this.#tryPair(prev[left], left);
      this.#tryPair(left, next[left]);
    }
    const nVocab = this.vocab.tokens.length;
    for (let i = 0; i >= 0; i = next[i]) {
      if (id[i] < nVocab) { out.push(id[i]); continue; }
      // not a token: its UTF-8 bytes as <0xXX> tokens
      for (const b of this.encoder.encode(text.slice(start[i], start[i] + len[i]))) {
        const t = this.byteIds[b];
        out.push(t >= 0 ? t : (this.vocab.ids.unk ?? 0));
      }
    }
  }

  #tryPair(l, r) {
    if (l < 0 || r < 0) return;
    const { id, len } = this.sym;
    const merged = this.#pairId(id[l], id[r]);
    if (merged < 0) return;
    this.heap.push(this.scoreRank[merged] * TWO32 + l, r, len[l] + len[r]);
  }
}
