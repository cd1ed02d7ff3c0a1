/**
 * Unigram (tokenizer.ggml.model = "t5"), as llama.cpp's llm_tokenizer_ugm:
 * normalize (user-defined tokens kept verbatim, then SentencePiece's
 * precompiled charsmap, then the whitespace rules), then Viterbi over token
 * scores on the UTF-8 bytes, with an unknown-token penalty for code points
 * no token covers; runs of unknowns collapse into one.
 */
import { ATTR } from './vocab.js';
import { PairMap } from './pair-map.js';

const utf8 = new TextEncoder();
const SPACE_MARK = [0xe2, 0x96, 0x81];
const REPLACEMENT = [0xef, 0xbf, 0xbd];

/**
 * A byte trie on typed arrays: nodes are numbers (root 0), a child is a
 * PairMap entry (node, byte) -> node, so a large vocabulary's trie is a few
 * arrays rather than an object and a Map per node.
 */
class ByteTrie {
  /** @param {number} expectedNodes */
  constructor(expectedNodes) {
    this.children = new PairMap(expectedNodes);
    /** node -> id of the token ending there, -1 if none */
    this.ids = new Int32Array(Math.max(16, expectedNodes + 1)).fill(-1);
    this.nodes = 1;
  }

  /** @param {Uint8Array} bytes @param {number} a @param {number} b @param {number} id */
  insert(bytes, a, b, id) {
    let node = 0;
    for (let i = a; i < b; i++) {
      let child = this.children.get(node, bytes[i]);
      if (child < 0) {
        child = this.nodes++;
        if (child >= this.ids.length) {
          const grown = new Int32Array(this.ids.length * 2).fill(-1);
          grown.set(this.ids);
          this.ids = grown;
        }
        this.children.addIfAbsent(node, bytes[i], child);
      }
      node = child;
    }
    this.ids[node] = id;
  }

  /** The child of `node` by `byte`, or -1. @param {number} node @param {number} byte */
  next(node, byte) { return this.children.get(node, byte); }
}

/** @param {number} b lead byte */
function utf8Len(b) { return b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4; }

/** True when bytes[at..] starts with a complete, well-formed UTF-8 sequence; returns its length or 0. */
function validUtf8At(bytes, at, end) {
  const b = bytes[at];
  if (b < 0x80) return 1;
  if ((b & 0x40) === 0) return 0;
  const n = (b & 0x20) === 0 ? 2 : (b & 0x10) === 0 ? 3 : (b & 0x08) === 0 ? 4 : 0;
  if (n === 0 || at + n > end) return 0;
  for (let k = 1; k < n; k++) if ((bytes[at + k] & 0xc0) !== 0x80) return 0;
  return n;
}

export class UgmModel {
  /** @param {import('./vocab.js').Vocab} vocab */
  constructor(vocab) {
    this.vocab = vocab;
    const { nVocab, attrs, scores } = vocab;
    const { bytes, offsets } = vocab.texts;
    let inTokens = 0, inUser = 0;
    for (let id = 0; id < nVocab; id++) {
      if (attrs[id] & (ATTR.NORMAL | ATTR.USER_DEFINED | ATTR.UNUSED)) inTokens += offsets[id + 1] - offsets[id];
      if (attrs[id] & ATTR.USER_DEFINED) inUser += offsets[id + 1] - offsets[id];
    }
    // A node per byte at worst; shared prefixes make it fewer (the tables grow if not).
    this.tokens = new ByteTrie(inTokens >> 1);
    this.userDefined = new ByteTrie(inUser >> 1);
    let minScore = Infinity;
    for (let id = 0; id < nVocab; id++) {
      const a = attrs[id];
      if (a & ATTR.NORMAL) minScore = Math.min(minScore, scores ? scores[id] : 0);
      if (a & (ATTR.NORMAL | ATTR.USER_DEFINED | ATTR.UNUSED)) this.tokens.insert(bytes, offsets[id], offsets[id + 1], id);
      if (a & ATTR.USER_DEFINED) this.userDefined.insert(bytes, offsets[id], offsets[id + 1], id);
    }
    if (!Number.isFinite(minScore)) minScore = 3.4028234663852886e38; // FLT_MAX when no normal token
    this.unknownScore = minScore - 10;
    const cm = vocab.metadata.get('tokenizer.ggml.precompiled_charsmap');
    this.xcda = null;
    if (cm && cm.length >= 4) {
      const bytes = new Uint8Array(cm.buffer, cm.byteOffset, cm.byteLength);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const blob = dv.getUint32(0, true);
      if (blob + 4 < bytes.length && blob % 4 === 0) {
        this.xcda = new Uint32Array(blob / 4);
        for (let i = 0; i < this.xcda.length; i++) this.xcda[i] = dv.getUint32(4 + i * 4, true);
        this.replacements = bytes.subarray(4 + blob);
      }
    }
  }

  /**
   * Longest charsmap match at `at`: [consumed, replacementOffset] or null.
   * @param {Uint8Array} input @param {number} at
   */
  #charsmapMatch(input, at) {
    const xcda = this.xcda;
    if (!xcda) return null;
    const node = (i) => (i < xcda.length ? xcda[i] : -1);
    const base = (v) => ((v >>> 10) << ((v & (1 << 9)) >>> 6)) >>> 0;
    let v = node(0);
    if (v < 0) return null;
    let index = base(v);
    let bestLen = 0, bestOff = 0;
    for (let p = at; p < input.length; p++) {
      const c = input[p];
      if (c === 0) break;
      index = (index ^ c) >>> 0;
      v = node(index);
      if (v < 0 || (v & 0x800000ff) >>> 0 !== c) break;
      const leaf = (v >>> 8) & 1;
      index = (index ^ base(v)) >>> 0;
      if (leaf) {
        const w = node(index);
        if (w < 0) break;
        bestLen = p - at + 1;
        bestOff = w & 0x7fffffff;
      }
    }
    return bestLen > 0 ? [bestLen, bestOff] : null;
  }

  /** @param {string} text @returns {Uint8Array} normalized UTF-8 */
  normalize(text) {
    const input = utf8.encode(text);
    const { flags } = this.vocab;
    const space = flags.escapeWhitespaces ? SPACE_MARK : [0x20];
    const prepend = !flags.treatWhitespaceAsSuffix && flags.addSpacePrefix;
    const append = flags.treatWhitespaceAsSuffix && flags.addSpacePrefix;
    const merge = flags.removeExtraWhitespaces;
    const out = [];
    let spacePrepended = false, inWord = false;
    const emit = (bytes, from, to) => {
      for (let i = from; i < to; i++) {
        const c = bytes[i];
        if (c !== 0x20) {
          if (!inWord) {
            inWord = true;
            if ((prepend && !spacePrepended) || merge) { out.push(...space); spacePrepended = true; }
          }
          out.push(c);
        } else {
          inWord = false;
          if (!merge) out.push(...space);
        }
      }
    };
    for (let at = 0; at < input.length;) {
      // user-defined tokens pass through unchanged
      let node = 0, ud = 0;
      for (let p = at; p < input.length; p++) {
        node = this.userDefined.next(node, input[p]);
        if (node < 0) break;
        ud = p - at + 1;
      }
      if (ud > 0) { emit(input, at, at + ud); at += ud; continue; }
      const m = this.#charsmapMatch(input, at);
      if (m) {
        const [len, off] = m;
        let end = off;
        while (end < this.replacements.length && this.replacements[end] !== 0) end++;
        if (end < this.replacements.length) { emit(this.replacements, off, end); at += len; continue; }
      }
      const n = validUtf8At(input, at, input.length);
      if (n > 0) { emit(input, at, at + n); at += n; } else { emit(REPLACEMENT, 0, 3); at += 1; }
    }
    if (append) out.push(...space);
    return Uint8Array.from(out);
  }

  /** @param {string} text @param {number[]} out */
  encode(text, out) {
    const s = this.normalize(text);
    const n = s.length;
    if (n === 0) return;
    const unk = this.vocab.ids.unk ?? 0;
    const { attrs, scores } = this.vocab;
    const bestId = new Int32Array(n + 1).fill(unk);
    const bestFrom = new Int32Array(n + 1);
    const bestScore = new Float64Array(n + 1).fill(-Infinity);
    bestScore[0] = 0;
    for (let at = 0; at < n;) {
      const units = Math.min(utf8Len(s[at]), n - at);
      let single = false;
      const base = bestScore[at];
      const trie = this.tokens;
      let node = trie.next(0, s[at]);
      let p = at + 1;
      while (p <= n && node >= 0) {
        const id = trie.ids[node];
        if (id >= 0) {
          if (p - at === units) single = true;
          const score = base + ((attrs[id] & ATTR.USER_DEFINED) ? 0 : (scores ? scores[id] : 0));
          if (score > bestScore[p]) { bestScore[p] = score; bestId[p] = id; bestFrom[p] = at; }
        }
        node = p < n ? trie.next(node, s[p]) : -1;
        p++;
      }
      if (!single) {
        const score = base + this.unknownScore;
        const q = at + units;
        if (score > bestScore[q]) { bestScore[q] = score; bestId[q] = unk; bestFrom[q] = at; }
      }
      at += units;
    }
    const rev = [];
    let prevUnknown = false;
    for (let p = n; ; p = bestFrom[p]) {
      const isUnknown = bestId[p] === unk;
      if (!(prevUnknown && isUnknown)) rev.push(bestId[p]);
      if (bestFrom[p] === 0) break;
      prevUnknown = isUnknown;
    }
    for (let k = rev.length - 1; k >= 0; k--) out.push(rev[k]);
  }
}
