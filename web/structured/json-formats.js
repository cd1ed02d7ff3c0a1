/**
 * GBNF for the string formats we enforce, written so every spelling passes a
 * strict validator (RFC 3339 as ajv-formats checks it): days within their
 * month (29 February left out rather than checking leap years), a time zone
 * always present, and RFC 4122 UUIDs.
 */

const DAY_31 = '("0" [1-9] | [12] [0-9] | "3" [01])';
const DAY_30 = '("0" [1-9] | [12] [0-9] | "30")';
const DAY_28 = '("0" [1-9] | "1" [0-9] | "2" [0-8])';
const DATE = `[0-9]{4} "-" (("0" [13578] | "1" [02]) "-" ${DAY_31} | ("0" [469] | "11") "-" ${DAY_30} | "02-" ${DAY_28})`;
const HOUR = '([01] [0-9] | "2" [0-3])';
const TIME = `${HOUR} ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,9})? ("Z" | ("+" | "-") ${HOUR} ":" [0-5] [0-9])`;
const UUID = '[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}';

/** format name -> GBNF for the string's content (without the quotes) */
export const STRING_FORMATS = new Map([
  ['date', DATE],
  ['time', TIME],
  ['date-time', `${DATE} "T" ${TIME}`],
  ['uuid', UUID],
]);
