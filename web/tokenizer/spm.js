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

/**
 * Scores to dense ranks (0 = best) so a heap key orders by score then
 * position: equal scores share a rank. Sorted copy plus binary search, so a
 * large vocabulary needs no Set or Map of its scores.
 * @param {Float32Array | null} scores @param {number} n
 */
function scoreRanks(scores, n) {
  const ranks = new Int32Array(n);
  if (!scores) return ranks;
  const sorted = scores.slice(0, n).sort(); // ascending
  let m = 0;
  for (let i = 0; i < sorted.length; i++) if (m === 0 || sorted[i] !== sorted[m - 1]) sorted[m++] = sorted[i];
  for (let id = 0; id < n; id++) {
    const s = scores[id];
    let lo = 0, hi = m - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < s) lo = mid + 1; else hi = mid;
    }
    ranks[id] = m - 1 - lo; // highest score: rank 0
  }
  return ranks;
}

/**
 * Whether some non-byte token has a U+2581 right after another character that
 * is not U+2581 (/[^\u2581]\u2581/ on its text), read from its UTF-8.
 * @param {import('./vocab.js').Vocab} vocab
 */
function hasInnerSpaceMark(vocab) {
  const { bytes, offsets } = vocab.texts;
  for (let id = 0; id < vocab.nVocab; id++) {
    if (vocab.attrs[id] === ATTR.BYTE) continue;
    const a = offsets[id], b = offsets[id + 1];
    for (let i = a + 1; i + 2 < b; i++) {
      if (bytes[i] !== 0xe2 || bytes[i + 1] !== 0x96 || bytes[i + 2] !== 0x81) continue;
      // After a character: i is past the first one. Not after another U+2581.
      if (!(i - 3 >= a && bytes[i - 3] === 0xe2 && bytes[i - 2] === 0x96 && bytes[i - 1] === 0x81)) return true;
    }
  }
  return false;
}

export class SpmModel {
  /** @param {import('./vocab.js').Vocab} vocab */
  constructor(vocab) {
    this.vocab = vocab;
    const { nVocab, scores, table } = vocab;
    this.scoreRank = scoreRanks(scores, nVocab);

    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, '0');
      let id = table.idOf(`<0x${hex}>`);
      if (id < 0 && b < 0x80) id = table.idOf(String.fromCharCode(b));
      this.byteIds[b] = id;
    }
    // Can a merge cross "x▁" (x not ▁)? If no token contains that, chunks are independent.
    this.chunkable = !hasInnerSpaceMark(vocab);
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
      id = this.vocab.table.idOf(ch);
      if (id < 0) {
        id = this.vocab.nVocab + this.extraTexts.length;
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
      const { nVocab, table } = this.vocab;
      if (a < nVocab && b < nVocab) {
        merged = table.idOfPair(a, b);
      } else {
        const text = (a < nVocab ? table.text(a) : this.extraTexts[a - nVocab]) +
          (b < nVocab ? table.text(b) : this.extraTexts[b - nVocab]);
        merged = table.idOf(text);
      }
      if (merged < 0) merged = -2;
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
    const nVocab = this.vocab.nVocab;
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
