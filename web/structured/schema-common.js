/** What the JSON Schema modules share: keyword lists, errors, value equality. */
import { WasmllmError } from '../errors.js';

/** Keywords that describe and never constrain: ignored. */
export const DESCRIPTIVE = new Set([
  'title', 'description', 'examples', 'example', 'default', '$schema', '$id', '$comment', 'deprecated',
  'readOnly', 'writeOnly', '$defs', 'definitions', 'contentSchema',
]);

/** Keywords that constrain one JSON type each; without `type` their presence implies it. */
export const TYPE_KEYWORDS = {
  object: ['properties', 'required', 'additionalProperties'],
  array: ['items', 'prefixItems', 'additionalItems', 'minItems', 'maxItems', 'uniqueItems'],
  string: ['minLength', 'maxLength', 'pattern', 'format'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
};

/**
 * ERR_BAD_ARG naming the keyword and where it sits; `unsatisfiable` marks a
 * schema (branch) that no value can match.
 * @param {string} pointer @param {string} keyword @param {string} why
 * @param {{ unsatisfiable?: boolean }} [flags]
 */
export function schemaError(pointer, keyword, why, flags = {}) {
  const err = new WasmllmError('ERR_BAD_ARG', `JSON schema: "${keyword}" at ${pointer}: ${why}`);
  return Object.assign(err, { keyword, pointer, unsatisfiable: flags.unsatisfiable === true });
}

/** @param {unknown} v @returns {v is Record<string, any>} */
export const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with object keys sorted, so equal values spell the same. @param {unknown} v @returns {string} */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** Whether two JSON values are equal as JSON Schema compares them. @param {unknown} a @param {unknown} b */
export function sameJson(a, b) {
  return canonical(a) === canonical(b);
}
