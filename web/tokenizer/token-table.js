/**
 * Token text -> id, as a hash table over the vocabulary's packed UTF-8
 * (a GGUFStringArray): open addressing on typed arrays, at most 3/4 full. A Map<string, number> would need every token as
 * a JS string (tens of MB for a 150k vocabulary, issue #4); this is ~6 bytes
 * per token and lookups take bytes, so callers look up slices of their own
 * buffers (or the concatenation of two tokens) without building strings.
 *
 * A text that occurs more than once maps to its last id, as llama.cpp's
 * token_to_id (filled in id order) does.
 */
import { utf8Into } from './utf8.js';

/**
 * FNV-1a over bytes with the length folded in, then a final mix so the low
 * bits (the slot) depend on every byte.
 * @param {number} h the running state
 */
function finish(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

export class TokenTable {
  /** @param {import('../gguf-strings.js').GGUFStringArray} texts */
  constructor(texts) {
    this.texts = texts;
    this.bytes = texts.bytes;
    this.offsets = texts.offsets;
    const n = texts.length;
    this.size = n;
    let cap = 16;
    while (cap * 3 < n * 4) cap *= 2;
    this.mask = cap - 1;
    /** slot -> token id, -1 when empty */
    this.slots = new Int32Array(cap).fill(-1);
    /** token id -> its hash (a cheap first comparison) */
    this.hashes = new Int32Array(n);
    const { bytes, offsets, slots, hashes, mask } = this;
    for (let id = 0; id < n; id++) {
      const a = offsets[id], b = offsets[id + 1];
      const h = TokenTable.hash(bytes, a, b);
      hashes[id] = h;
      for (let i = h & mask; ; i = (i + 1) & mask) {
        const other = slots[i];
        if (other === -1) { slots[i] = id; break; }
        if (hashes[other] === h && this.#sameAs(other, bytes, a, b)) { slots[i] = id; break; } // repeated text: last id
      }
    }
    this.scratch = { buf: new Uint8Array(256) };
  }

  /** @param {Uint8Array} buf @param {number} a @param {number} b */
  static hash(buf, a, b) {
    let h = 0x811c9dc5 ^ (b - a);
    for (let i = a; i < b; i++) h = Math.imul(h ^ buf[i], 0x01000193);
    return finish(h);
  }

  /** Whether token id's text is buf[a, b). @param {number} id @param {Uint8Array} buf @param {number} a @param {number} b */
  #sameAs(id, buf, a, b) {
    const { bytes, offsets } = this;
    const o = offsets[id];
    if (offsets[id + 1] - o !== b - a) return false;
    for (let k = 0; k < b - a; k++) if (bytes[o + k] !== buf[a + k]) return false;
    return true;
  }

  /**
   * The id whose text is buf[a, b), or -1.
   * @param {Uint8Array} buf @param {number} a @param {number} b
   */
  idOfBytes(buf, a, b) {
    const h = TokenTable.hash(buf, a, b);
    const { slots, hashes, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const id = slots[i];
      if (id === -1) return -1;
      if (hashes[id] === h && this.#sameAs(id, buf, a, b)) return id;
    }
  }

  /** The id whose text is `s`, or -1. @param {string} s */
  idOf(s) {
    const n = utf8Into(s, this.scratch);
    return this.idOfBytes(this.scratch.buf, 0, n);
  }

  /**
   * The id whose text is token l's text followed by token r's, or -1:
   * the BPE merge result, found without concatenating anything.
   * @param {number} l @param {number} r
   */
  idOfPair(l, r) {
    const { bytes, offsets, slots, hashes, mask } = this;
    const la = offsets[l], lb = offsets[l + 1], ra = offsets[r], rb = offsets[r + 1];
    const nl = lb - la, n = nl + (rb - ra);
    let h = 0x811c9dc5 ^ n;
    for (let i = la; i < lb; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    for (let i = ra; i < rb; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    h = finish(h);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const id = slots[i];
      if (id === -1) return -1;
      if (hashes[id] !== h) continue;
      const o = offsets[id];
      if (offsets[id + 1] - o !== n) continue;
      let k = 0;
      while (k < nl && bytes[o + k] === bytes[la + k]) k++;
      if (k < nl) continue;
      while (k < n && bytes[o + k] === bytes[ra + k - nl]) k++;
      if (k === n) return id;
    }
  }

  /** UTF-8 length of token id's text. @param {number} id */
  byteLength(id) { return this.offsets[id + 1] - this.offsets[id]; }

  /** Token id's text as a JS string (decoded now). @param {number} id */
  text(id) { return /** @type {string} */ (this.texts.get(id)); }
}
