/**
 * Splits special-token text out of the input before tokenization, as
 * llama.cpp's tokenizer_st_partition: special tokens are tried longest text
 * first, each one splitting every remaining raw-text fragment at all of its
 * occurrences. Control and unknown tokens only take part when parseSpecial
 * is on; user-defined tokens always do. LSTRIP/RSTRIP tokens swallow the
 * ASCII whitespace next to them.
 */
import { ATTR } from './vocab.js';

/** @typedef {{ text: string } | { id: number }} Fragment */

/** C isspace() in the "C" locale. @param {number} c */
function isCSpace(c) { return c === 32 || (c >= 9 && c <= 13); }

/**
 * @param {import('./vocab.js').Vocab} vocab
 * @param {string} text
 * @param {boolean} parseSpecial
 * @returns {Fragment[]}
 */
export function partitionSpecial(vocab, text, parseSpecial) {
  /** @type {Fragment[]} */
  let frags = text.length ? [{ text }] : [];
  const { attrs, specialTokens, specialTexts } = vocab;
  for (let k = 0; k < specialTokens.length; k++) {
    const id = specialTokens[k];
    const a = attrs[id];
    if (!parseSpecial && (a & (ATTR.CONTROL | ATTR.UNKNOWN))) continue;
    const tok = specialTexts[k];
    // Cheap rejection: most special tokens never occur in the text.
    if (text.indexOf(tok) < 0) continue;
    /** @type {Fragment[]} */
    const next = [];
    for (const f of frags) {
      if (!('text' in f)) { next.push(f); continue; }
      let s = f.text;
      for (;;) {
        const at = s.indexOf(tok);
        if (at < 0) { if (s.length) next.push({ text: s }); break; }
        let leftEnd = at;
        if (a & ATTR.LSTRIP) while (leftEnd > 0 && isCSpace(s.charCodeAt(leftEnd - 1))) leftEnd--;
        if (leftEnd > 0) next.push({ text: s.slice(0, leftEnd) });
        next.push({ id });
        let rightStart = at + tok.length;
        if (a & ATTR.RSTRIP) while (rightStart < s.length && isCSpace(s.charCodeAt(rightStart))) rightStart++;
        s = s.slice(rightStart);
        if (s.length === 0) break;
      }
    }
    frags = next;
  }
  return frags;
}
