/**
 * Byte-level BPE (tokenizer.ggml.model = "gpt2"): pre-tokenize, map each
 * word's UTF-8 bytes through GPT-2's byte<->unicode table, then apply merges
 * lowest rank first (ties: leftmost), as llama.cpp's llm_tokenizer_bpe does.
 * Symbols carry token ids, so a merge lookup is one Map read keyed by the
 * packed id pair; words already seen come from a cache.
 */
import { WasmllmError } from '../errors.js';
import { MinHeap } from './heap.js';
import { createPreTokenizer } from './pretokenize.js';
import { PairMap } from './pair-map.js';
import { WordCache } from './word-cache.js';

const TWO32 = 4294967296;

/** GPT-2's byte -> printable code point table. */
export function byteToUnicodeTable() {
  const table = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = printable ? b : 256 + n++;
  }
  return table.map((cp) => String.fromCodePoint(cp));
}

/** Inverse of byteToUnicodeTable: code point -> byte (-1 if none). */
export function unicodeToByteTable() {
  const inv = new Int16Array(324).fill(-1);
  byteToUnicodeTable().forEach((ch, b) => { inv[ch.codePointAt(0)] = b; });
  return inv;
}

/**
 * Encodes a well-formed string as UTF-8 into buf (grown as needed).
 * @param {string} s @param {{ buf: Uint8Array }} scratch @returns {number} byte count
 */
export function utf8Into(s, scratch) {
  const need = s.length * 3;
  if (scratch.buf.length < need) scratch.buf = new Uint8Array(Math.max(need, scratch.buf.length * 2));
  const buf = scratch.buf;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) { buf[n++] = c; continue; }
    if (c < 0x800) { buf[n++] = 0xc0 | (c >> 6); buf[n++] = 0x80 | (c & 63); continue; }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
        buf[n++] = 0xf0 | (c >> 18); buf[n++] = 0x80 | ((c >> 12) & 63);
        buf[n++] = 0x80 | ((c >> 6) & 63); buf[n++] = 0x80 | (c & 63);
        continue;
      }
    }
    buf[n++] = 0xe0 | (c >> 12); buf[n++] = 0x80 | ((c >> 6) & 63); buf[n++] = 0x80 | (c & 63);
  }
  return n;
}

export class BpeModel {
  /**
   * @param {import('./vocab.js').Vocab} vocab
   * @param {{ regexes: string[], flags: Record<string, boolean> }} rule
   */
  constructor(vocab, rule) {
    this.vocab = vocab;
    this.ignoreMerges = !!rule.flags.ignoreMerges;
    this.preTokenize = createPreTokenizer(rule.regexes);
    const { tokenToId } = vocab;
    const nVocab = vocab.tokens.length;
    this.nVocab = nVocab;

    const merges = vocab.metadata.get('tokenizer.ggml.merges');
    if (!Array.isArray(merges)) throw new WasmllmError('ERR_TOKENIZER', 'BPE vocabulary has no tokenizer.ggml.merges string array');
    /** (left id, right id) -> rank */
    this.pairRank = new PairMap(merges.length);
    this.mergeLeft = new Int32Array(merges.length);
    this.mergeRight = new Int32Array(merges.length);
    // Id of each merge's result, looked up on first use (-2: not yet). A merge
    // whose result is not a token still merges; the symbol then falls back
    // to single-character tokens, as in llama.cpp.
    this.mergeResult = new Int32Array(merges.length).fill(-2);
    // Token texts indexed so each merge's halves are looked up in place.
    const index = new WordCache(WordCache.bitsFor(nVocab));
    for (let id = nVocab - 1; id >= 0; id--) {
      const t = vocab.tokens[id];
      const h = WordCache.hash(t, 0, t.length);
      if (index.get(t, 0, t.length, h) === undefined) index.set(t, h, id); // a repeated text means its last id
    }
    for (let i = 0; i < merges.length; i++) {
      const m = merges[i];
      const sp = typeof m === 'string' ? m.indexOf(' ', 1) : -1;
      if (sp < 0) throw new WasmllmError('ERR_TOKENIZER', `BPE merge #${i} ${JSON.stringify(m)} is not two tokens separated by a space`);
      const l = index.get(m, 0, sp, WordCache.hash(m, 0, sp));
      const r = index.get(m, sp + 1, m.length, WordCache.hash(m, sp + 1, m.length));
      if (l === undefined || r === undefined) {
        const left = m.slice(0, sp), right = m.slice(sp + 1);
        const missing = l === undefined ? left : right;
        throw new WasmllmError('ERR_TOKENIZER', `BPE merge #${i} ${JSON.stringify(m)} references ${JSON.stringify(missing)}, which is not in the vocabulary`);
      }
      this.pairRank.addIfAbsent(l, r, i); // first occurrence wins, as llama.cpp
      this.mergeLeft[i] = l;
      this.mergeRight[i] = r;
    }

    this.byteChars = byteToUnicodeTable();
    this.byteToId = new Int32Array(256);
    for (let b = 0; b < 256; b++) this.byteToId[b] = tokenToId.get(this.byteChars[b]) ?? -1;

    this.scratch = { buf: new Uint8Array(256) };
    this.heap = new MinHeap(256);
    this.sym = { id: new Int32Array(64), len: new Int32Array(64), prev: new Int32Array(64), next: new Int32Array(64), start: new Int32Array(64) };
    this.cache = new WordCache();
  }

  /**
   * Appends the ids of a text fragment (no special tokens in it) to out.
   * @param {string} text @param {number[]} out
   */
  encode(text, out) {
    const { ends, n } = this.preTokenize(text);
    const cache = this.cache;
    let start = 0;
    for (let w = 0; w < n; w++) {
      const end = ends[w];
      const h = WordCache.hash(text, start, end);
      let ids = cache.get(text, start, end, h);
      if (ids === undefined) {
        const word = text.slice(start, end);
        ids = this.encodeWord(word);
        cache.set(word, h, ids);
      }
      for (let k = 0; k < ids.length; k++) out.push(ids[k]);
      start = end;
    }
  }

  #growSymbols(n) {
    if (this.sym.id.length >= n) return;
    let cap = this.sym.id.length;
    while (cap < n) cap *= 2;
    this.sym = { id: new Int32Array(cap), len: new Int32Array(cap), prev: new Int32Array(cap), next: new Int32Array(cap), start: new Int32Array(cap) };
  }

  /** @param {string} word @returns {number[]} */
  encodeWord(word) {
    const nBytes = utf8Into(word, this.scratch);
    const bytes = this.scratch.buf;
    const { tokenToId } = this.vocab;
    if (this.ignoreMerges) {
      let encoded = '';
      for (let i = 0; i < nBytes; i++) encoded += this.byteChars[bytes[i]];
      const whole = tokenToId.get(encoded);
      if (whole !== undefined) return [whole];
    }
    this.#growSymbols(nBytes);
    const { id, len, prev, next, start } = this.sym;
    for (let i = 0; i < nBytes; i++) {
      id[i] = this.byteToId[bytes[i]];
      len[i] = 1;
      start[i] = i;
      prev[i] = i - 1;
      next[i] = i + 1 < nBytes ? i + 1 : -1;
    }
    const heap = this.heap;
    heap.clear();
    for (let i = 1; i < nBytes; i++) this.#tryPair(i - 1, i);

    while (heap.size > 0) {
      const key = heap.pop();
      const right = heap.popA, size = heap.popB;
      const left = key % TWO32;
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== size) continue; // stale
      const rank = (key - left) / TWO32;
      len[left] += len[right];
      len[right] = 0;
      let merged = this.mergeResult[rank];
      if (merged === -2) {
        const { tokens } = this.vocab;
        merged = this.mergeResult[rank] = tokenToId.get(tokens[this.mergeLeft[rank]] + tokens[this.mergeRight[rank]]) ?? -1;
      }
      id[left] = merged;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      this.#tryPair(prev[left], left);
      this.#tryPair(left, next[left]);
    }

    const ids = [];
    for (let i = 0; i >= 0 && i < nBytes; i = next[i]) {
      if (id[i] >= 0) { ids.push(id[i]); continue; }
      // Not a token: each byte that is a one-character token on its own.
      for (let k = start[i]; k < start[i] + len[i]; k++) {
        const b = bytes[k];
        if (b >= 0x21 && b <= 0x7e) {
          const t = tokenToId.get(String.fromCharCode(b));
          if (t !== undefined) ids.push(t);
        }
      }
    }
    return ids;
  }

  #tryPair(l, r) {
    if (l < 0 || r < 0) return;
    const { id, len } = this.sym;
    const a = id[l], b = id[r];
    if (a < 0 || b < 0) return;
    const rank = this.pairRank.get(a, b);
    if (rank < 0) return;
    this.heap.push(rank * TWO32 + l, r, len[l] + len[r]);
  }
}
