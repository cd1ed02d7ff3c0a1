/**
 * oneOf means exactly one branch matches. A grammar can only pick a branch,
 * so we accept oneOf when no document can match two branches: their types
 * differ, their enum/const values differ, or they are objects that require a
 * common property with different constant values (a discriminator).
 */
import { TYPE_KEYWORDS, sameJson, schemaError } from './schema-common.js';
import { resolvePointer } from './schema-merge.js';

const ALL = ['object', 'array', 'string', 'number', 'boolean', 'null'];

/**
 * @typedef {{ types: Set<string>, values: unknown[] | null, tags: Map<string, unknown[]> }} Summary
 *   types: JSON types a match can have (integer counted as number); values:
 *   the only values it can be, when listed; tags: required properties with
 *   listed values
 */

/** @param {unknown} v */
function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** @param {unknown} schema @param {unknown} root @param {number} depth @returns {unknown} */
function deref(schema, root, depth = 0) {
  if (depth > 32 || typeof schema !== 'object' || schema === null || !('$ref' in schema)) return schema;
  return deref(resolvePointer(root, /** @type {any} */ (schema).$ref, '#'), root, depth + 1);
}

/** @param {unknown} schema @param {unknown} root @returns {unknown[] | null} */
function listedValues(schema, root) {
  const s = /** @type {any} */ (deref(schema, root));
  if (typeof s !== 'object' || s === null) return null;
  if ('const' in s) return [s.const];
  if (Array.isArray(s.enum)) return s.enum;
  return null;
}

/** @param {unknown} schema @param {unknown} root @returns {Summary} */
function summarize(schema, root) {
  const s = /** @type {any} */ (deref(schema, root));
  /** @type {Summary} */
  const any = { types: new Set(ALL), values: null, tags: new Map() };
  if (typeof s !== 'object' || s === null) return any;
  const values = listedValues(s, root);
  let types;
  if (values) types = values.map(typeOf);
  else if ('type' in s) types = (Array.isArray(s.type) ? s.type : [s.type]).map((/** @type {string} */ t) => (t === 'integer' ? 'number' : t));
  else if (Array.isArray(s.anyOf ?? s.oneOf)) {
    const parts = (s.anyOf ?? s.oneOf).map((/** @type {unknown} */ b) => summarize(b, root));
    types = parts.flatMap((/** @type {Summary} */ p) => [...p.types]);
  } else {
    types = Object.entries(TYPE_KEYWORDS).filter(([, keys]) => keys.some((k) => k in s)).map(([t]) => t);
    if (types.length === 0 || 'allOf' in s) types = ALL;
  }
  const tags = new Map();
  if (typeof s.properties === 'object' && s.properties !== null && Array.isArray(s.required)) {
    for (const name of s.required) {
      const listed = name in s.properties ? listedValues(s.properties[name], root) : null;
      if (listed) tags.set(name, listed);
    }
  }
  return { types: new Set(types), values, tags };
}

/** @param {unknown[]} xs @param {unknown[]} ys */
const noCommonValue = (xs, ys) => !xs.some((x) => ys.some((y) => sameJson(x, y)));

/** @param {Summary} a @param {Summary} b */
function disjoint(a, b) {
  if (![...a.types].some((t) => b.types.has(t))) return true;
  if (a.values && b.values && noCommonValue(a.values, b.values)) return true;
  const objectsOnly = [...a.types, ...b.types].every((t) => t === 'object');
  if (objectsOnly) {
    for (const [name, xs] of a.tags) {
      const ys = b.tags.get(name);
      if (ys && noCommonValue(xs, ys)) return true;
    }
  }
  return false;
}

/**
 * Throws ERR_BAD_ARG naming oneOf when two branches might match one document.
 * @param {unknown[]} branches @param {unknown} root @param {string} pointer
 */
export function checkDisjoint(branches, root, pointer) {
  const summaries = branches.map((b) => summarize(b, root));
  for (let j = 1; j < summaries.length; j++) {
    for (let i = 0; i < j; i++) {
      if (!disjoint(summaries[i], summaries[j])) {
        throw schemaError(pointer, 'oneOf', `branches ${i} and ${j} may match the same value, so "exactly one" cannot be guaranteed (use anyOf, or tell them apart by type, enum/const, or a required property with different const values)`);
      }
    }
  }
}
