/**
 * Sets of code points as sorted, disjoint, inclusive [lo, hi] ranges, and the
 * GBNF for how a JSON string spells a member of a set (a pattern constrains
 * the decoded string; the grammar writes its JSON encoding).
 */
import { alternatives, charClass, literal } from './gbnf.js';

/** @typedef {Array<[number, number]>} CharSet */

export const MAX_CP = 0x10ffff;

/** @param {CharSet} set @returns {CharSet} */
export function normalize(set) {
  const sorted = set.map(([a, b]) => /** @type {[number, number]} */ ([a, b])).sort((x, y) => x[0] - y[0]);
  /** @type {CharSet} */
  const out = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** @param {...CharSet} sets */
export function union(...sets) {
  return normalize(sets.flat());
}

/** @param {CharSet} set @returns {CharSet} */
export function complement(set) {
  /** @type {CharSet} */
  const out = [];
  let next = 0;
  for (const [lo, hi] of normalize(set)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

/** @param {CharSet} a @param {CharSet} b */
export function subtract(a, b) {
  return complement(union(complement(a), b));
}

/** @param {CharSet} set @param {number} cp */
export function has(set, cp) {
  return set.some(([lo, hi]) => cp >= lo && cp <= hi);
}

/** @param {string} chars @returns {CharSet} */
export function ofChars(chars) {
  return normalize([...chars].map((c) => {
    const cp = /** @type {number} */ (c.codePointAt(0));
    return /** @type {[number, number]} */ ([cp, cp]);
  }));
}

/** What \d, \w, \s and `.` match in a JavaScript regular expression with the u flag. */
export const DIGIT = ofChars('0123456789');
export const WORD = normalize([[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]);
export const SPACE = union(ofChars('\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff'), [[0x2000, 0x200a]]);
export const DOT = complement(ofChars('\n\r\u2028\u2029'));
export const ANY = [[0, MAX_CP]];

/** Code points a JSON string writes as two-character escapes. */
const SHORT_ESCAPES = new Map([[0x22, '\\"'], [0x5c, '\\\\'], [0x08, '\\b'], [0x09, '\\t'], [0x0a, '\\n'], [0x0c, '\\f'], [0x0d, '\\r']]);
/** Never written raw: the quote, the backslash, control characters; and surrogates, which UTF-8 cannot hold. */
const NOT_RAW = normalize([[0, 0x1f], [0x22, 0x22], [0x5c, 0x5c], [0xd800, 0xdfff]]);

/**
 * GBNF for one member of `set` as it appears inside a JSON string, or null
 * when the set is empty. Other control characters (which would need \u00XX)
 * and lone surrogates are left out: the grammar may emit less than the set
 * allows, never more.
 * @param {CharSet} set
 */
export function jsonCharExpr(set) {
  const raw = subtract(set, NOT_RAW);
  const alts = [];
  if (raw.length > 0) {
    const outside = complement(raw);
    alts.push(outside.length < raw.length ? charClass(outside, true) : charClass(raw));
  }
  for (const [cp, escape] of SHORT_ESCAPES) if (has(set, cp)) alts.push(literal(escape));
  return alts.length === 0 ? null : alternatives(alts);
}
