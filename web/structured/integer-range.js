/**
 * GBNF for the decimal spellings of the integers in a range, as JSON writes
 * them (no leading zeros, no "+", no "-0"). An open end is closed at 16 digits:
 * every safe integer fits, and a model cannot spin out digits forever.
 */
import { alternatives, repeat, sequence, term } from './gbnf.js';

export const MAX_DIGITS = 16;
const OPEN_END = 10n ** BigInt(MAX_DIGITS) - 1n;

/** `[a-b]` for one digit position. @param {string} a @param {string} b */
function digitClass(a, b) {
  return a === b ? `"${a}"` : `[${a}-${b}]`;
}

/** `count` free digits. @param {number} count */
function anyDigits(count) {
  if (count === 0) return '';
  return count === 1 ? '[0-9]' : `[0-9]{${count}}`;
}

/** A digit followed by `rest`, one literal when `rest` is a literal too. @param {string} digit @param {string} rest */
function after(digit, rest) {
  const m = /^"([0-9]*)"$/.exec(rest);
  return m ? `"${digit}${m[1]}"` : sequence([`"${digit}"`, term(rest)]);
}

/**
 * Digit strings of one length between `lo` and `hi` (same length, lo <= hi).
 * Split at the first digit where they differ: lo's digit with the rest at
 * least lo's rest, the digits strictly between with anything after, and hi's
 * digit with the rest at most hi's rest.
 * @param {string} lo @param {string} hi
 * @returns {string}
 */
function sameLength(lo, hi) {
  let p = 0;
  while (p < lo.length && lo[p] === hi[p]) p++;
  const prefix = p > 0 ? `"${lo.slice(0, p)}"` : '';
  if (p === lo.length) return prefix;
  const rest = lo.length - p - 1;
  const a = lo[p];
  const b = hi[p];
  const loRest = lo.slice(p + 1);
  const hiRest = hi.slice(p + 1);
  if (rest === 0) return sequence([prefix, digitClass(a, b)]);
  // A rest of all zeros (or all nines) puts no limit on its digit, which then joins the middle.
  const loFree = loRest === '0'.repeat(rest);
  const hiFree = hiRest === '9'.repeat(rest);
  const midLo = loFree ? a : String.fromCharCode(a.charCodeAt(0) + 1);
  const midHi = hiFree ? b : String.fromCharCode(b.charCodeAt(0) - 1);
  const alts = [];
  if (!loFree) alts.push(after(a, sameLength(loRest, '9'.repeat(rest))));
  if (midLo <= midHi) alts.push(sequence([digitClass(midLo, midHi), anyDigits(rest)]));
  if (!hiFree) alts.push(after(b, sameLength('0'.repeat(rest), hiRest)));
  const tail = alts.length === 1 || prefix === '' ? alts.join(' | ') : `(${alts.join(' | ')})`;
  return sequence([prefix, tail]);
}

/** @param {bigint} a @param {bigint} b */
const maxOf = (a, b) => (a > b ? a : b);
/** @param {bigint} a @param {bigint} b */
const minOf = (a, b) => (a < b ? a : b);

/**
 * Non-negative integers lo..hi: one `sameLength` piece per digit count, with
 * a run of complete digit counts (10..99, 100..999, ...) written as one piece.
 * @param {bigint} lo @param {bigint} hi
 */
function nonNegative(lo, hi) {
  if (lo === 0n) return hi === 0n ? '"0"' : alternatives(['"0"', nonNegative(1n, hi)]);
  const alts = [];
  let fullFrom = 0;
  let fullTo = 0;
  const flushFull = () => {
    if (fullFrom > 0) alts.push(sequence(['[1-9]', repeat('[0-9]', fullFrom - 1, fullTo - 1)]));
    fullFrom = 0;
  };
  for (let d = String(lo).length; d <= String(hi).length; d++) {
    const first = d === 1 ? 1n : 10n ** BigInt(d - 1);
    const last = 10n ** BigInt(d) - 1n;
    const from = maxOf(lo, first);
    const to = minOf(hi, last);
    if (from === first && to === last) {
      if (fullFrom === 0) fullFrom = d;
      fullTo = d;
      continue;
    }
    flushFull();
    alts.push(sameLength(String(from), String(to)));
  }
  flushFull();
  return alternatives(alts);
}

/**
 * GBNF expression for the JSON integers in [min, max]; null is an open end.
 * Both ends must be safe integers with min <= max (the caller checks).
 * @param {number | null} min
 * @param {number | null} max
 */
export function integerRange(min, max) {
  const lo = min === null ? -OPEN_END : BigInt(min);
  const hi = max === null ? OPEN_END : BigInt(max);
  const alts = [];
  if (lo < 0n) alts.push(`"-" ${term(nonNegative(maxOf(1n, -hi), -lo))}`);
  if (hi >= 0n) alts.push(nonNegative(maxOf(0n, lo), hi));
  return alternatives(alts);
}
