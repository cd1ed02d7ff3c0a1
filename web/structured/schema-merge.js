/**
 * allOf as one schema: the branches' keywords combined so that a document
 * matching the combination matches every branch. Local $refs are inlined;
 * keywords that cannot be combined exactly (two patterns, two prefixItems)
 * are ERR_BAD_ARG errors naming them.
 */
import { DESCRIPTIVE, isObject, sameJson, schemaError } from './schema-common.js';
const LOWER_BOUNDS = new Set(['minimum', 'exclusiveMinimum', 'minLength', 'minItems']);
const UPPER_BOUNDS = new Set(['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems']);
const OBJECT_KEYS = new Set(['properties', 'additionalProperties', 'required']);

/**
 * The schema a local `$ref` ("#", "#/$defs/x", any JSON pointer) points to.
 * @param {unknown} root @param {string} ref @param {string} pointer where the $ref sits
 */
export function resolvePointer(root, ref, pointer) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) {
    throw schemaError(pointer, '$ref', `only local references ("#/...") are supported, not ${JSON.stringify(ref)}`);
  }
  let fragment;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    throw schemaError(pointer, '$ref', `${JSON.stringify(ref)} is not a valid URI fragment`);
  }
  if (fragment !== '' && !fragment.startsWith('/')) throw schemaError(pointer, '$ref', `anchors are not supported (${ref})`);
  let node = /** @type {any} */ (root);
  for (const raw of fragment === '' ? [] : fragment.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if ((!isObject(node) && !Array.isArray(node)) || !Object.hasOwn(node, token)) {
      throw schemaError(pointer, '$ref', `${ref} points to nothing`);
    }
    node = node[token];
  }
  return node;
}

/**
 * One schema matching exactly what all of `parts` match together.
 * @param {Array<{ schema: unknown, at: string }>} parts each schema and where it sits
 * @param {unknown} root the document $refs resolve against
 * @param {string} pointer where the combination was asked for (allOf, or a $ref with siblings)
 * @param {Set<string>} [inlining] $refs being inlined, to stop a cycle
 * @returns {Record<string, any>}
 */
export function mergeAllOf(parts, root, pointer, inlining = new Set()) {
  /** @type {Record<string, any>} */
  let acc = {};
  for (const { schema, at } of parts) {
    if (schema === true) continue;
    if (!isObject(schema)) throw schemaError(at, 'allOf', 'a branch is false or not a schema, so nothing matches', { unsatisfiable: schema === false });
    acc = mergeTwo(acc, flatten(schema, at, root, inlining), pointer);
  }
  return acc;
}

/**
 * A schema without $ref or allOf at its top: both are merged into it.
 * @param {Record<string, any>} schema @param {string} at @param {unknown} root @param {Set<string>} inlining
 */
function flatten(schema, at, root, inlining) {
  const { $ref, allOf, ...rest } = schema;
  if ($ref === undefined && allOf === undefined) return rest;
  const parts = [{ schema: rest, at }];
  if ($ref !== undefined) {
    if (inlining.has($ref)) throw schemaError(at, '$ref', `${$ref} refers to itself through allOf or sibling keywords`);
    const target = resolvePointer(root, $ref, at);
    parts.push({ schema: mergeAllOf([{ schema: target, at: $ref }], root, $ref, new Set([...inlining, $ref])), at: $ref });
  }
  if (allOf !== undefined) {
    if (!Array.isArray(allOf) || allOf.length === 0) throw schemaError(at, 'allOf', 'must be a non-empty array');
    parts.push(...allOf.map((s, i) => ({ schema: s, at: `${at}/allOf/${i}` })));
  }
  return mergeAllOf(parts, root, allOf === undefined ? at : `${at}/allOf`, inlining);
}

/** @param {Record<string, any>} a @param {Record<string, any>} b @param {string} pointer */
function mergeTwo(a, b, pointer) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const [key, value] of Object.entries(a)) if (!DESCRIPTIVE.has(key) && !OBJECT_KEYS.has(key)) out[key] = value;
  for (const [key, value] of Object.entries(b)) {
    if (DESCRIPTIVE.has(key) || OBJECT_KEYS.has(key)) continue;
    out[key] = key in out ? combine(key, out[key], value, pointer) : value;
  }
  Object.assign(out, mergeObjectKeywords(a, b, pointer));
  return out;
}

/**
 * One keyword present in two branches.
 * @param {string} key @param {any} x @param {any} y @param {string} pointer
 */
function combine(key, x, y, pointer) {
  if (sameJson(x, y)) return x;
  if (LOWER_BOUNDS.has(key) && typeof x === 'number' && typeof y === 'number') return Math.max(x, y);
  if (UPPER_BOUNDS.has(key) && typeof x === 'number' && typeof y === 'number') return Math.min(x, y);
  switch (key) {
    case 'type': {
      const xs = Array.isArray(x) ? x : [x];
      const ys = Array.isArray(y) ? y : [y];
      const both = xs.filter((t) => ys.includes(t) || (t === 'integer' && ys.includes('number')));
      for (const t of ys) if (t === 'integer' && xs.includes('number') && !both.includes(t)) both.push(t);
      if (both.length === 0) throw schemaError(pointer, 'type', 'allOf branches share no type, so nothing matches', { unsatisfiable: true });
      return both;
    }
    case 'enum': {
      if (!Array.isArray(x) || !Array.isArray(y)) throw schemaError(pointer, 'enum', 'must be an array');
      return x.filter((v) => y.some((w) => sameJson(v, w)));
    }
    case 'const':
      throw schemaError(pointer, 'const', 'allOf branches ask for different constants, so nothing matches', { unsatisfiable: true });
    case 'items':
      if (Array.isArray(x) || Array.isArray(y)) break;
      return { allOf: [x, y] };
    case 'anyOf':
    case 'oneOf':
      // (A | B) and (C | D) is the anyOf of every pairing.
      if (!Array.isArray(x) || !Array.isArray(y) || key === 'oneOf') break;
      return x.flatMap((p) => y.map((q) => ({ allOf: [p, q] })));
    default:
      break;
  }
  throw schemaError(pointer, key, 'appears in several allOf branches (or beside $ref) with values that cannot be combined');
}

/**
 * properties / required / additionalProperties of two branches: each
 * property must satisfy both branches' rules for it (its schema there, or
 * that branch's additionalProperties). A property one branch forbids is left
 * out, or is an error when required.
 * @param {Record<string, any>} a @param {Record<string, any>} b @param {string} pointer
 */
function mergeObjectKeywords(a, b, pointer) {
  /** @type {Record<string, any>} */
  const out = {};
  const required = [...new Set([...(a.required ?? []), ...(b.required ?? [])])];
  if ('required' in a || 'required' in b) out.required = required;
  if ('properties' in a || 'properties' in b) {
    const pa = a.properties ?? {};
    const pb = b.properties ?? {};
    /** @type {Record<string, any>} */
    const props = {};
    for (const name of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
      const parts = [];
      let forbidden = false;
      for (const [p, side] of /** @type {Array<[Record<string, any>, Record<string, any>]>} */ ([[pa, a], [pb, b]])) {
        if (Object.hasOwn(p, name)) parts.push(p[name]);
        else if (side.additionalProperties === false) forbidden = true;
        else if (isObject(side.additionalProperties)) parts.push(side.additionalProperties);
      }
      if (forbidden) {
        if (required.includes(name)) throw schemaError(pointer, 'additionalProperties', `forbids ${JSON.stringify(name)}, which another allOf branch requires`);
        continue;
      }
      props[name] = parts.length === 1 ? parts[0] : { allOf: parts };
    }
    out.properties = props;
  }
  if ('additionalProperties' in a || 'additionalProperties' in b) {
    const x = a.additionalProperties ?? true;
    const y = b.additionalProperties ?? true;
    out.additionalProperties = x === false || y === false ? false : x === true ? y : y === true ? x : { allOf: [x, y] };
  }
  return out;
}
