/**
 * minimum / maximum / exclusiveMinimum / exclusiveMaximum as GBNF, for
 * integers and for numbers. Numbers are written without an exponent: the
 * integers in range, then I.ddd for each whole part I whose unit interval
 * (I to I+1, or -(I+1) to -I) lies inside the bounds, so a range narrower
 * than that only gets its integers. Digits stop at 16 before the point, as
 * integer-range.js closes open ends.
 */
import { schemaError } from './schema-common.js';
import { alternatives, sequence, term } from './gbnf.js';
import { MAX_DIGITS, integerRange } from './integer-range.js';

const LARGEST = 10 ** MAX_DIGITS - 1;
const FRACTION = '"." [0-9]{1,16}';

/** @typedef {{ value: number, exclusive: boolean, key: string }} Bound */

/**
 * The tightest lower and upper bound a schema sets (draft-04 boolean
 * exclusiveMinimum/Maximum beside minimum/maximum, or numbers).
 * @param {Record<string, any>} schema @param {string} pointer
 * @returns {{ lower: Bound | null, upper: Bound | null }}
 */
export function readBounds(schema, pointer) {
  /** @param {string} key */
  const num = (key) => {
    const v = schema[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw schemaError(pointer, key, 'must be a number');
    return v;
  };
  /** @type {Bound | null} */
  let lower = null;
  /** @type {Bound | null} */
  let upper = null;
  /** @param {Bound} b */
  const raise = (b) => {
    if (!lower || b.value > lower.value || (b.value === lower.value && b.exclusive)) lower = b;
  };
  /** @param {Bound} b */
  const drop = (b) => {
    if (!upper || b.value < upper.value || (b.value === upper.value && b.exclusive)) upper = b;
  };
  if ('minimum' in schema) raise({ value: num('minimum'), exclusive: schema.exclusiveMinimum === true, key: 'minimum' });
  if ('maximum' in schema) drop({ value: num('maximum'), exclusive: schema.exclusiveMaximum === true, key: 'maximum' });
  if ('exclusiveMinimum' in schema && typeof schema.exclusiveMinimum !== 'boolean') raise({ value: num('exclusiveMinimum'), exclusive: true, key: 'exclusiveMinimum' });
  if ('exclusiveMaximum' in schema && typeof schema.exclusiveMaximum !== 'boolean') drop({ value: num('exclusiveMaximum'), exclusive: true, key: 'exclusiveMaximum' });
  return { lower, upper };
}

/** The smallest integer above (or at) a lower bound. @param {Bound | null} b */
const firstInt = (b) => (b === null ? null : b.exclusive ? Math.floor(b.value) + 1 : Math.ceil(b.value));
/** The largest integer below (or at) an upper bound. @param {Bound | null} b */
const lastInt = (b) => (b === null ? null : b.exclusive ? Math.ceil(b.value) - 1 : Math.floor(b.value));

/**
 * Integers lo..hi as GBNF, with ends past 16 digits opened (we never write
 * more digits), or null when none of the integers we write is in range.
 * @param {number | null} lo @param {number | null} hi
 */
function integersIn(lo, hi) {
  const a = lo === null || lo < -LARGEST ? null : lo;
  const b = hi === null || hi > LARGEST ? null : hi;
  if ((a !== null && a > LARGEST) || (b !== null && b < -LARGEST) || (a !== null && b !== null && a > b)) return null;
  return integerRange(a, b);
}

/**
 * GBNF for the integers within the bounds, or null when there are none.
 * @param {{ lower: Bound | null, upper: Bound | null }} bounds
 */
export function integerBetween({ lower, upper }) {
  return integersIn(firstInt(lower), lastInt(upper));
}

/**
 * GBNF for numbers within the bounds, or null when we can write none.
 * @param {{ lower: Bound | null, upper: Bound | null }} bounds
 */
export function numberBetween({ lower, upper }) {
  const alts = [];
  const integers = integerBetween({ lower, upper });
  if (integers) alts.push(integers);
  // I.ddd lies in [I, I + 1): it may equal I, and stays below I + 1.
  const positive = integersIn(Math.max(0, firstInt(lower) ?? 0), upper === null ? null : Math.floor(upper.value) - 1);
  if (positive) alts.push(sequence([term(positive), FRACTION]));
  // -I.ddd lies in (-(I + 1), -I]: it may equal -I, and stays above -(I + 1).
  const negative = integersIn(Math.max(0, upper === null ? 0 : -lastInt(upper)), lower === null ? null : Math.floor(-lower.value) - 1);
  if (negative) alts.push(sequence(['"-"', term(negative), FRACTION]));
  return alts.length === 0 ? null : alternatives(alts);
}
