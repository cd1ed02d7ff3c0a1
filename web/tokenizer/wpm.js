/**
 * WordPiece (tokenizer.ggml.model = "bert"), as llama.cpp runs BERT vocabs
 * converted to GGUF: word-initial pieces carry a leading U+2581 (the "##"
 * continuation marker was removed at conversion). The text is lowercased and
 * accent-stripped per the normalizer flags, split on whitespace, punctuation,
 * ASCII symbols and CJK ideographs, and each word is matched greedily,
 * longest piece first; a word with an unmatched remainder becomes [UNK].
 */
import { CPT, cptFlagTable, cptNfdFirst, cptToLower } from '../unicode/index.js';
import { WordCache } from './word-cache.js';
import { utf8Into } from './utf8.js';

/** @param {number} c */
function isChineseChar(c) {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2a6df) ||
    (c >= 0x2a700 && c <= 0x2b73f) || (c >= 0x2b740 && c <= 0x2b81f) ||
    (c >= 0x2b920 && c <= 0x2ceaf) || // sic: HF's range starts at 0x2B920
    (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

// What normalization does with one code point: keep it (mapped), end the
// word (whitespace), drop it, or make it a word of its own.
const KEEP = 0, BREAK = 1, DROP = 2, ALONE = 3;

export class WpmModel {
  /** @param {import('./vocab.js').Vocab} vocab */
  constructor(vocab) {
    this.vocab = vocab;
    this.cache = new WordCache();
    this.scratch = { buf: new Uint8Array(256) };
    /** BMP code point -> (action << 24 | mapped code point), -1 until first seen */
    this.actions = new Int32Array(0x10000).fill(-1);
  }

  /** @param {number} cp @returns {number} action << 24 | mapped code point */
  #action(cp) {
    const { lowercase, stripAccents } = this.vocab.flags;
    const c = stripAccents ? cptNfdFirst(cp) : cp;
    const f = cptFlagTable()[c];
    if (f & CPT.WHITESPACE) return BREAK << 24;
    if (c === 0 || c === 0xfffd || (f & CPT.CONTROL)) return DROP << 24;
    if (stripAccents && (f & CPT.MARK)) return DROP << 24;
    const m = lowercase ? cptToLower(c) : c;
    const alone = (f & CPT.PUNCTUATION) || (c < 0x7f && (f & CPT.SYMBOL)) || isChineseChar(c);
    return ((alone ? ALONE : KEEP) << 24) | m;
  }

  /**
   * Normalizes (accents, case, control characters) and splits on whitespace,
   * punctuation, ASCII symbols and CJK ideographs, as llama.cpp's BERT
   * preprocessing: the words, joined by single spaces.
   * @param {string} text
   * @returns {string}
   */
  normalize(text) {
    const units = new Uint16Array(text.length * 3 + 1);
    let n = 0;
    let inWord = false;
    const put = (m) => {
      if (m > 0xffff) { units[n++] = 0xd800 + ((m - 0x10000) >> 10); units[n++] = 0xdc00 + ((m - 0x10000) & 0x3ff); } else units[n++] = m;
    };
    for (let i = 0; i < text.length; i++) {
      let cp = text.charCodeAt(i);
      let a;
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        cp = ((cp - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00) + 0x10000;
        a = this.#action(cp);
      } else {
        a = this.actions[cp];
        if (a < 0) a = this.actions[cp] = this.#action(cp);
      }
      const action = a >>> 24;
      if (action === DROP) continue;
      if (action === BREAK) {
        if (inWord) { units[n++] = 0x20; inWord = false; }
        continue;
      }
      if (action === ALONE) {
        if (inWord) units[n++] = 0x20;
        put(a & 0xffffff);
        units[n++] = 0x20;
        inWord = false;
        continue;
      }
      put(a & 0xffffff);
      inWord = true;
    }
    let s = '';
    for (let k = 0; k < n; k += 8192) s += String.fromCharCode.apply(null, units.subarray(k, Math.min(n, k + 8192)));
    return s;
  }

  /** @param {string} text @returns {string[]} */
  words(text) {
    return this.normalize(text).split(' ').filter(Boolean);
  }

  /** @param {string} text @param {number[]} out */
  encode(text, out) {
    const norm = this.normalize(text);
    const cache = this.cache;
    for (let start = 0; start < norm.length;) {
      let end = norm.indexOf(' ', start);
      if (end < 0) end = norm.length;
      if (end > start) {
        const h = WordCache.hash(norm, start, end);
        let ids = cache.get(norm, start, end, h);
        if (ids === undefined) {
          const word = norm.slice(start, end);
          ids = this.encodeWord(word);
          cache.set(word, h, ids);
        }
        for (let k = 0; k < ids.length; k++) out.push(ids[k]);
      }
      start = end + 1;
    }
  }

  /**
   * Greedy longest-first match of "▁" + word; all or nothing.
   * @param {string} word @returns {number[]}
   */
  encodeWord(word) {
    const { table, maxTokenLen, ids } = this.vocab;
    // The candidates are byte ranges of "▁" + word's UTF-8, looked up in place.
    const n8 = utf8Into('\u2581' + word, this.scratch);
    const buf = this.scratch.buf;
    // UTF-8 offsets of code point boundaries.
    const bytes = [0];
    for (let i = 0; i < n8;) {
      const c = buf[i];
      i += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      bytes.push(i);
    }
    const n = bytes.length - 1;
    const out = [];
    for (let i = 0; i < n;) {
      let matched = -1;
      // longest candidate first, never longer than the longest token
      let top = i + 1;
      while (top < n && bytes[top + 1] - bytes[i] <= maxTokenLen + 1) top++;
      for (let j = top; j > i; j--) {
        const id = table.idOfBytes(buf, bytes[i], bytes[j]);
        if (id >= 0) { out.push(id); matched = j; break; }
      }
      if (matched < 0) return [ids.unk ?? 0];
      i = matched;
    }
    return out.length ? out : [ids.unk ?? 0];
  }
}
