/**
 * WordPiece (tokenizer.ggml.model = "bert"), as llama.cpp runs BERT vocabs
 * converted to GGUF: word-initial pieces carry a leading U+2581 (the "##"
 * continuation marker was removed at conversion). The text is lowercased and
 * accent-stripped per the normalizer flags, split on whitespace, punctuation,
 * ASCII symbols and CJK ideographs, and each word is matched greedily,
 * longest piece first; a word with an unmatched remainder becomes [UNK].
 */
import { CPT, cptFlagTable, cptNfdFirst, cptToLower } from '../unicode/index.js';

/** @param {number} c */
function isChineseChar(c) {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2a6df) ||
    (c >= 0x2a700 && c <= 0x2b73f) || (c >= 0x2b740 && c <= 0x2b81f) ||
    (c >= 0x2b920 && c <= 0x2ceaf) || // sic: HF's range starts at 0x2B920
    (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

export class WpmModel {
  /** @param {import('./vocab.js').Vocab} vocab */
  constructor(vocab) {
    this.vocab = vocab;
    /** @type {Map<string, number[]>} */
    this.cache = new Map();
  }

  /**
   * @param {string} text
   * @returns {string[]}
   */
  words(text) {
    const { lowercase, stripAccents } = this.vocab.flags;
    const F = cptFlagTable();
    const words = [];
    let cur = '';
    for (const ch of text) {
      let c = ch.codePointAt(0);
      if (stripAccents) c = cptNfdFirst(c);
      const f = F[c];
      if (f & CPT.WHITESPACE) {
        if (cur) { words.push(cur); cur = ''; }
        continue;
      }
      if (c === 0 || c === 0xfffd || (f & CPT.CONTROL)) continue;
      if (stripAccents && (f & CPT.MARK)) continue;
      const s = String.fromCodePoint(lowercase ? cptToLower(c) : c);
      if ((f & CPT.PUNCTUATION) || (c < 0x7f && (f & CPT.SYMBOL)) || isChineseChar(c)) {
        if (cur) { words.push(cur); cur = ''; }
        words.push(s);
      } else {
        cur += s;
      }
    }
    if (cur) words.push(cur);
    return words;
  }

  /** @param {string} text @param {number[]} out */
  encode(text, out) {
    const cache = this.cache;
    for (const word of this.words(text)) {
      let ids = cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(word);
        if (cache.size >= 1 << 16) cache.clear();
        cache.set(word, ids);
      }
      for (let k = 0; k < ids.length; k++) out.push(ids[k]);
    }
  }

  /**
   * Greedy longest-first match of "▁" + word; all or nothing.
   * @param {string} word @returns {number[]}
   */
  encodeWord(word) {
    const { tokenToId, maxTokenLen, ids } = this.vocab;
    const w = '\u2581' + word;
    // UTF-16 offsets of code point boundaries and their UTF-8 offsets.
    const u16 = [0], bytes = [0];
    for (let i = 0; i < w.length;) {
      const c = w.codePointAt(i);
      i += c > 0xffff ? 2 : 1;
      u16.push(i);
      bytes.push(bytes[bytes.length - 1] + (c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4));
    }
    const n = u16.length - 1;
    const out = [];
    for (let i = 0; i < n;) {
      let matched = -1;
      // longest candidate first, never longer than the longest token
      let top = i + 1;
      while (top < n && bytes[top + 1] - bytes[i] <= maxTokenLen + 1) top++;
      for (let j = top; j > i; j--) {
        const id = tokenToId.get(w.slice(u16[i], u16[j]));
        if (id !== undefined) { out.push(id); matched = j; break; }
      }
      if (matched < 0) return [ids.unk ?? 0];
      i = matched;
    }
    return out.length ? out : [ids.unk ?? 0];
  }
}
