/**
 * Unicode lookups for the tokenizers: category flags per code point (the
 * classes pre-tokenizer regexes use: \p{L}, \p{N}, \p{P}, \p{S}, \p{M}, \s),
 * simple lowercase and the first code point of a canonical decomposition.
 * Tables come from tools/gen-unicode-tables.js (web/unicode/tables.js) and
 * are expanded lazily, on first use, into flat typed arrays so lookups in
 * hot loops are one array read.
 */
import { FLAG_RUNS, LOWER, NFD_FIRST, UNICODE_VERSION } from './tables.js';

export { UNICODE_VERSION };

/** Category bits (one of the low eight is set per code point) plus WHITESPACE. */
export const CPT = Object.freeze({
  UNDEFINED: 0x01, // unassigned (Cn)
  NUMBER: 0x02, // \p{N}
  LETTER: 0x04, // \p{L}
  SEPARATOR: 0x08, // \p{Z}
  MARK: 0x10, // \p{M}
  PUNCTUATION: 0x20, // \p{P}
  SYMBOL: 0x40, // \p{S}
  CONTROL: 0x80, // \p{C} other than Cn
  CATEGORIES: 0xff,
  WHITESPACE: 0x100, // White_Space property (\s of Rust/Python regex)
});

export const MAX_CODEPOINT = 0x10ffff;

/** @type {Uint16Array | null} */
let flagTable = null;
/** @type {Map<number, number> | null} */
let lowerMap = null;
/** @type {Int32Array | null} */
let nfdRanges = null;

/** @param {string} packed @returns {number[][]} */
function unpack(packed) {
  const rows = [];
  let at = 0;
  for (const item of packed.split(',')) {
    const parts = item.split('.');
    at += parseInt(parts[0], 36);
    const row = [at];
    for (let i = 1; i < parts.length; i++) row.push(parseInt(parts[i], 36));
    rows.push(row);
  }
  return rows;
}

function buildFlagTable() {
  const table = new Uint16Array(MAX_CODEPOINT + 1);
  const runs = unpack(FLAG_RUNS);
  for (let i = 0; i < runs.length; i++) {
    const end = i + 1 < runs.length ? runs[i + 1][0] : MAX_CODEPOINT + 1;
    table.fill(runs[i][1], runs[i][0], end);
  }
  return table;
}

/**
 * Category flags of a code point (CPT bits). Out-of-range values are UNDEFINED.
 * @param {number} cp
 */
export function cptFlags(cp) {
  const t = flagTable ?? (flagTable = buildFlagTable());
  return cp >= 0 && cp <= MAX_CODEPOINT ? t[cp] : CPT.UNDEFINED;
}

/** The whole flag table, for loops that look up many code points. */
export function cptFlagTable() {
  return flagTable ?? (flagTable = buildFlagTable());
}

/**
 * Simple (single code point) lowercase mapping; the code point itself if none.
 * @param {number} cp
 */
export function cptToLower(cp) {
  if (!lowerMap) {
    lowerMap = new Map();
    for (const [c, off] of unpack(LOWER)) lowerMap.set(c, c + off);
  }
  return lowerMap.get(cp) ?? cp;
}

/**
 * First code point of the canonical decomposition (NFD) of cp: the base
 * letter of a precomposed character, as BERT's accent stripping uses it.
 * @param {number} cp
 */
export function cptNfdFirst(cp) {
  if (!nfdRanges) {
    const rows = unpack(NFD_FIRST);
    nfdRanges = new Int32Array(rows.length * 3);
    rows.forEach(([start, len, target], i) => {
      nfdRanges[i * 3] = start;
      nfdRanges[i * 3 + 1] = start + len;
      nfdRanges[i * 3 + 2] = target;
    });
  }
  let lo = 0, hi = nfdRanges.length / 3 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < nfdRanges[mid * 3]) hi = mid - 1;
    else if (cp > nfdRanges[mid * 3 + 1]) lo = mid + 1;
    else return nfdRanges[mid * 3 + 2];
  }
  return cp;
}
