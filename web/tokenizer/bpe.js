/**
 * Byte-level BPE (tokenizer.ggml.model = "gpt2"): pre-tokenize, map each
 * word's UTF-8 bytes through GPT-2's byte<->unicode table, then apply merges
 * lowest rank first (ties: leftmost), as llama.cpp's llm_tokenizer_bpe does.
 * Symbols carry token ids, so a merge lookup is one MergeTable read keyed
 * by the id pair; words already seen come from a cache. The merge table is
 * built from the packed merge strings' bytes, so loading a 150k-merge
 * vocabulary makes no string per merge.
 */
import { WasmllmError } from '../errors.js';
import { asStringArray } from '../gguf-strings.js';
import { MinHeap } from './heap.js';
import { createPreTokenizer } from './pretokenize.js';
import { MergeTable } from './merge-table.js';
import { WordCache } from './word-cache.js';
import { utf8Into } from './utf8.js';

export { utf8Into } from './utf8.js';

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

export class BpeModel {
  /**
   * @param {import('./vocab.js').Vocab} vocab
   * @param {{ regexes: string[], flags: Record<string, boolean> }} rule
   */
  constructor(vocab, rule) {
    this.vocab = vocab;
    this.ignoreMerges = !!rule.flags.ignoreMerges;
    this.preTokenize = createPreTokenizer(rule.regexes);
    const { table } = vocab;
    this.nVocab = vocab.nVocab;

    const merges = asStringArray(vocab.metadata.get('tokenizer.ggml.merges'));
    if (!merges) throw new WasmllmError('ERR_TOKENIZER', 'BPE vocabulary has no tokenizer.ggml.merges string array');
    const nMerges = merges.length;
    /** (left id, right id) -> rank */
    this.merges = new MergeTable(nMerges);
    // Id of each merge's result, looked up on first use (-2: not yet). A merge
    // whose result is not a token still merges; the symbol then falls back
    // to single-character tokens, as in llama.cpp.
    this.mergeResult = new Int32Array(nMerges).fill(-2);
    const { bytes, offsets } = merges;
    for (let i = 0; i < nMerges; i++) {
      const a = offsets[i], b = offsets[i + 1];
      // The first space after the first character (llama.cpp: find(' ', 1)).
      // Bytes after a multi-byte lead are never 0x20, so byte a + 1 on is the same search.
      let sp = a + 1;
      while (sp < b && bytes[sp] !== 0x20) sp++;
      if (sp >= b) throw new WasmllmError('ERR_TOKENIZER', `BPE merge #${i} ${JSON.stringify(merges.get(i))} is not two tokens separated by a space`);
      const l = table.idOfBytes(bytes, a, sp);
      const r = table.idOfBytes(bytes, sp + 1, b);
      if (l < 0 || r < 0) {
        const m = /** @type {string} */ (merges.get(i));
        const cut = m.indexOf(' ', 1);
        const missing = l < 0 ? m.slice(0, cut) : m.slice(cut + 1);
        throw new WasmllmError('ERR_TOKENIZER', `BPE merge #${i} ${JSON.stringify(m)} references ${JSON.stringify(missing)}, which is not in the vocabulary`);
      }
      this.merges.add(i, l, r);
    }

    this.byteChars = byteToUnicodeTable();
    this.byteToId = new Int32Array(256);
    for (let b = 0; b < 256; b++) this.byteToId[b] = table.idOf(this.byteChars[b]);
    // Printable ASCII bytes as one-character tokens: the fallback for a merged symbol that is no token.
    this.asciiIds = new Int32Array(128).fill(-1);
    for (let b = 0x21; b <= 0x7e; b++) this.asciiIds[b] = table.idOf(String.fromCharCode(b));
    // UTF-8 of each byte's printable character (ignore_merges looks up a word's whole byte-level text).
    const encoder = new TextEncoder();
    this.byteCharUtf8 = this.byteChars.map((ch) => encoder.encode(ch));
    this.wordText = new Uint8Array(256);

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
    const { table } = this.vocab;
    if (this.ignoreMerges) {
      // The word's byte-level text (at most 2 UTF-8 bytes per byte), looked up whole.
      if (this.wordText.length < nBytes * 2) this.wordText = new Uint8Array(nBytes * 4);
      const text = this.wordText;
      let n = 0;
      for (let i = 0; i < nBytes; i++) {
        const u = this.byteCharUtf8[bytes[i]];
        for (let k = 0; k < u.length; k++) text[n++] = u[k];
      }
      const whole = table.idOfBytes(text, 0, n);
      if (whole >= 0) return [whole];
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
      if (merged === -2) merged = this.mergeResult[rank] = table.idOfPair(this.merges.left[rank], this.merges.right[rank]);
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
        if (b < 0x80 && this.asciiIds[b] >= 0) ids.push(this.asciiIds[b]);
      }
    }
    return ids;
  }

  #tryPair(l, r) {
    if (l < 0 || r < 0) return;
    const { id, len } = this.sym;
    const a = id[l], b = id[r];
    if (a < 0 || b < 0) return;
    const rank = this.merges.get(a, b);
    if (rank < 0) return;
    this.heap.push(rank * TWO32 + l, r, len[l] + len[r]);
  }
}
