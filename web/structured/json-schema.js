/**
 * JSON Schema -> GBNF grammar, so a sampler constrained by the grammar can
 * only write JSON the schema accepts. The grammar may allow fewer documents
 * than the schema (no extra object keys unless additionalProperties asks for
 * them, properties in declared order, bounded whitespace and digits), never
 * more: a keyword it cannot enforce is an ERR_BAD_ARG error naming the keyword
 * and where it sits (a JSON pointer), not something silently dropped.
 *
 *   jsonSchemaToGrammar({ type: 'object', properties: { n: { type: 'integer' } } })
 */
import { WasmllmError } from '../errors.js';
import { DESCRIPTIVE, TYPE_KEYWORDS, isObject, sameJson, schemaError } from './schema-common.js';
import { LARGEST_COUNT, MAX_COUNT, alternatives, charClass, literal, repeat, repetitionLoad, RuleTable, sequence, term } from './gbnf.js';
import { integerRange } from './integer-range.js';
import { integerBetween, numberBetween, readBounds } from './number-range.js';
import { PatternError, patternToGbnf } from './regex-to-gbnf.js';
import { STRING_FORMATS } from './json-formats.js';
import { mergeAllOf, resolvePointer } from './schema-merge.js';
import { checkDisjoint } from './schema-disjoint.js';
import { MAX_CP, has, subtract } from './char-set.js';

const OTHER_KEYWORDS = new Set(['type', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', '$ref']);
const KNOWN = new Set([...DESCRIPTIVE, ...OTHER_KEYWORDS, ...Object.values(TYPE_KEYWORDS).flat()]);
const TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];

/** Whitespace between tokens: none, one space, or a newline and up to 20 spaces or tabs. */
const SPACE_RULE = '(" " | "\\n" [ \\t]{0,20})?';
/** One character of a JSON string: unescaped, a short escape, or \u not naming a lone surrogate (so every spelling is one code point, as minLength counts). */
const CHAR_RULE = '[^"\\\\\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" ([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))';
const NUMBER_RULE = '"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?';
/** Characters of an extra object key: no escapes, so the key cannot spell a declared name in disguise. */
const KEY_CHAR_RANGES = /** @type {Array<[number, number]>} */ ([[0x20, 0x21], [0x23, 0x5b], [0x5d, MAX_CP]]);

/** @param {string} s JSON pointer token */
const pointerToken = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The JSON type of a value, integers apart from other numbers. @param {unknown} v */
function jsonType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

class Converter {
  /** @param {unknown} root @param {{ whitespace?: 'flexible' | 'none' }} options */
  constructor(root, options) {
    this.root = root;
    this.rules = new RuleTable();
    this.rules.reserve('root');
    this.space = options.whitespace === 'none' ? '' : this.rules.add('space', SPACE_RULE);
    /** @type {Map<string, string>} $ref -> rule name */
    this.refRules = new Map();
    /** @type {string | null} the rule for any JSON value, once made */
    this.valueRule = null;
  }

  /** `"," space` between members. */
  get comma() {
    return sequence(['","', this.space]);
  }

  /** @param {'char' | 'string' | 'number' | 'boolean' | 'null' | 'value' | 'object' | 'array'} name */
  primitive(name) {
    const s = this.space;
    switch (name) {
      case 'char': return this.rules.add('char', CHAR_RULE);
      case 'string': return this.rules.add('string', `"\\"" ${this.primitive('char')}* "\\""`);
      case 'number': return this.rules.add('number', NUMBER_RULE);
      case 'boolean': return this.rules.add('boolean', '"true" | "false"');
      case 'null': return this.rules.add('null', '"null"');
      case 'value': {
        // Named before its body exists: object and array refer back to it.
        if (this.valueRule) return this.valueRule;
        this.valueRule = this.rules.reserve('value');
        const body = ['object', 'array', 'string', 'number', 'boolean', 'null'].map((t) => this.primitive(/** @type {any} */ (t))).join(' | ');
        this.rules.define(this.valueRule, body);
        return this.valueRule;
      }
      case 'object': {
        const kv = sequence([this.primitive('string'), s, '":"', s, this.primitive('value')]);
        return this.rules.add('object', sequence(['"{"', s, `(${kv} (${sequence([this.comma, kv])})*)?`, s, '"}"']));
      }
      case 'array': {
        const v = this.primitive('value');
        return this.rules.add('array', sequence(['"["', s, `(${v} (${sequence([this.comma, v])})*)?`, s, '"]"']));
      }
      default: throw new Error(name);
    }
  }

  /** The whole grammar, `root` matching what `schema` allows. */
  convert() {
    this.rules.define('root', this.visit(this.root, '#', 'root'));
    this.rules.inlineAliases();
    this.rules.pruneUnreachable();
    const stuck = this.rules.unproductive();
    if (stuck.length > 0) {
      const ref = [...this.refRules].find(([, name]) => stuck.includes(name))?.[0] ?? '#';
      throw schemaError(ref, '$ref', 'no finite value matches here (every way through it recurses without end): make the recursion optional, e.g. not required or nullable');
    }
    return this.rules.toString();
  }

  /**
   * A GBNF expression for the values `schema` accepts.
   * @param {unknown} schema
   * @param {string} pointer where it sits, for errors
   * @param {string} hint what to name its rules after
   * @returns {string}
   */
  visit(schema, pointer, hint) {
    const expr = this.visitAny(schema, pointer, hint);
    // Callers put the result in sequences, so alternatives get a rule of their own.
    return term(expr) === expr ? expr : this.rules.add(hint, expr);
  }

  /** @param {unknown} schema @param {string} pointer @param {string} hint @returns {string} */
  visitAny(schema, pointer, hint) {
    if (schema === true) return this.primitive('value');
    if (schema === false) throw schemaError(pointer, 'false', 'the schema false accepts no value');
    if (!isObject(schema)) throw schemaError(pointer, 'type', 'a schema must be an object or a boolean');
    for (const key of Object.keys(schema)) {
      if (!KNOWN.has(key)) throw schemaError(pointer, key, 'keyword not supported: the grammar cannot enforce it');
    }
    const assertions = Object.keys(schema).filter((k) => !DESCRIPTIVE.has(k));
    if ('$ref' in schema) {
      if (assertions.length === 1) return this.refRule(schema.$ref, pointer);
      return this.visit(mergeAllOf([{ schema, at: pointer }], this.root, pointer), pointer, hint);
    }
    if ('allOf' in schema) {
      return this.visit(mergeAllOf([{ schema, at: pointer }], this.root, pointer), pointer, hint);
    }
    if ('anyOf' in schema && 'oneOf' in schema) throw schemaError(pointer, 'oneOf', 'anyOf and oneOf together are not supported');
    const union = 'anyOf' in schema ? 'anyOf' : 'oneOf' in schema ? 'oneOf' : null;
    if (union) return this.visitUnion(schema, union, pointer, hint);
    if ('enum' in schema || 'const' in schema) return this.visitValues(schema, pointer, hint);
    const types = this.typesOf(schema, pointer);
    const alts = types.map((t) => this.visitType(t, schema, pointer, types.length === 1 ? hint : `${hint}-${t}`));
    return alternatives(alts);
  }

  /** @param {unknown} ref @param {string} pointer */
  refRule(ref, pointer) {
    if (typeof ref !== 'string') throw schemaError(pointer, '$ref', 'must be a string');
    const known = this.refRules.get(ref);
    if (known) return known;
    const target = resolvePointer(this.root, ref, pointer);
    const name = this.rules.reserve(ref === '#' ? 'root-ref' : ref.split('/').pop() || 'ref');
    this.refRules.set(ref, name);
    this.rules.define(name, this.visit(target, ref, name));
    return name;
  }

  /**
   * anyOf / oneOf: one alternative per branch, each with the schema's other
   * keywords merged in. oneOf needs branches no document can match twice.
   * @param {Record<string, any>} schema @param {'anyOf' | 'oneOf'} keyword @param {string} pointer @param {string} hint
   */
  visitUnion(schema, keyword, pointer, hint) {
    const { [keyword]: branches, ...rest } = schema;
    if (!Array.isArray(branches) || branches.length === 0) throw schemaError(pointer, keyword, 'must be a non-empty array');
    const hasRest = Object.keys(rest).some((k) => !DESCRIPTIVE.has(k));
    // A branch that cannot hold beside the other keywords matches nothing; it is left out.
    const merged = [];
    for (const [i, branch] of branches.entries()) {
      const at = `${pointer}/${keyword}/${i}`;
      try {
        merged.push({ at, schema: hasRest ? mergeAllOf([{ schema: rest, at: pointer }, { schema: branch, at }], this.root, at) : branch });
      } catch (err) {
        if (!(/** @type {any} */ (err).unsatisfiable)) throw err;
      }
    }
    if (merged.length === 0) throw schemaError(pointer, keyword, 'no branch can match beside the other keywords', { unsatisfiable: true });
    if (keyword === 'oneOf') checkDisjoint(merged.map((m) => m.schema), this.root, `${pointer}/oneOf`);
    return alternatives(merged.map((m, i) => this.visit(m.schema, m.at, `${hint}-${i}`)));
  }

  /** enum / const: the listed values (of the allowed types), spelled as compact JSON. @param {Record<string, any>} schema @param {string} pointer @param {string} hint */
  visitValues(schema, pointer, hint) {
    for (const key of Object.keys(schema)) {
      if (!DESCRIPTIVE.has(key) && key !== 'enum' && key !== 'const' && key !== 'type') {
        throw schemaError(pointer, key, 'cannot be combined with enum or const');
      }
    }
    if ('enum' in schema && !Array.isArray(schema.enum)) throw schemaError(pointer, 'enum', 'must be an array');
    let values = 'const' in schema ? [schema.const] : schema.enum;
    if ('const' in schema && 'enum' in schema) {
      const c = JSON.stringify(schema.const);
      values = schema.enum.some((/** @type {unknown} */ v) => sameJson(v, schema.const)) ? [schema.const] : [];
      if (values.length === 0) throw schemaError(pointer, 'const', `${c} is not in enum`);
    }
    if ('type' in schema) {
      const types = this.typesOf(schema, pointer);
      values = values.filter((/** @type {unknown} */ v) => {
        const t = jsonType(v);
        return types.includes(t) || (t === 'integer' && types.includes('number'));
      });
    }
    const keyword = 'const' in schema ? 'const' : 'enum';
    if (values.length === 0) throw schemaError(pointer, keyword, 'no value allowed (empty, or none of the given type)');
    return this.rules.add(hint, alternatives(values.map((/** @type {unknown} */ v) => literal(JSON.stringify(v)))));
  }

  /**
   * The JSON types a schema allows: its `type`, else the types its keywords
   * constrain, else all of them. integer is dropped beside number.
   * @param {Record<string, any>} schema @param {string} pointer
   * @returns {string[]}
   */
  typesOf(schema, pointer) {
    let types;
    if ('type' in schema) {
      types = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (types.length === 0) throw schemaError(pointer, 'type', 'an empty list of types allows no value');
      for (const t of types) if (!TYPES.includes(t)) throw schemaError(pointer, 'type', `unknown type ${JSON.stringify(t)}`);
    } else {
      types = Object.entries(TYPE_KEYWORDS).filter(([, keys]) => keys.some((k) => k in schema)).map(([t]) => t);
      if (types.length === 0) types = TYPES;
    }
    types = [...new Set(types)];
    return types.includes('number') ? types.filter((t) => t !== 'integer') : types;
  }

  /** @param {string} type @param {Record<string, any>} schema @param {string} pointer @param {string} hint */
  visitType(type, schema, pointer, hint) {
    switch (type) {
      case 'null': return this.primitive('null');
      case 'boolean': return this.primitive('boolean');
      case 'integer':
      case 'number': return this.visitNumeric(type, schema, pointer, hint);
      case 'string': return this.visitString(schema, pointer, hint);
      case 'array': return this.visitArray(schema, pointer, hint);
      case 'object': return this.visitObject(schema, pointer, hint);
      default: throw new Error(type);
    }
  }

  /**
   * integer or number, with its bounds if any.
   * @param {'integer' | 'number'} type @param {Record<string, any>} schema @param {string} pointer @param {string} hint
   */
  visitNumeric(type, schema, pointer, hint) {
    if ('format' in schema) throw schemaError(pointer, 'format', `formats of numbers (int32, float, ...) are not supported`);
    const bounds = readBounds(schema, pointer);
    if (!bounds.lower && !bounds.upper) return type === 'integer' ? this.rules.add('integer', integerRange(null, null)) : this.primitive('number');
    const body = type === 'integer' ? integerBetween(bounds) : numberBetween(bounds);
    if (body === null) throw schemaError(pointer, (bounds.upper ?? bounds.lower)?.key ?? 'maximum', `no ${type} of at most 16 digits before the point lies in range`);
    return this.rules.add(hint, body);
  }

  /** @param {Record<string, any>} schema @param {string} pointer @param {string} hint */
  visitString(schema, pointer, hint) {
    const present = TYPE_KEYWORDS.string.filter((k) => k in schema);
    const lengths = present.filter((k) => k === 'minLength' || k === 'maxLength');
    if ('format' in schema || 'pattern' in schema) {
      const main = 'format' in schema ? 'format' : 'pattern';
      const other = present.find((k) => k !== main);
      if (other) throw schemaError(pointer, other, `cannot be combined with ${main}`);
    }
    if ('format' in schema) {
      const body = STRING_FORMATS.get(schema.format);
      if (!body) throw schemaError(pointer, 'format', `format ${JSON.stringify(schema.format)} is not supported (date, time, date-time, uuid are)`);
      return this.rules.add(`${schema.format}-string`, `"\\"" ${body} "\\""`);
    }
    if ('pattern' in schema) {
      if (typeof schema.pattern !== 'string') throw schemaError(pointer, 'pattern', 'must be a string');
      try {
        const body = patternToGbnf(schema.pattern, (h, b) => this.rules.add(h, b));
        if (repetitionLoad(body) > MAX_COUNT) throw new PatternError('nested repetitions too large for a grammar (rules repeated x count must stay under 2000)');
        return this.rules.add(hint, `"\\"" ${term(body)} "\\""`);
      } catch (err) {
        if (err instanceof PatternError) throw schemaError(pointer, 'pattern', `${JSON.stringify(schema.pattern)}: ${err.message}`);
        throw err;
      }
    }
    if (lengths.length === 0) return this.primitive('string');
    const min = count(schema, 'minLength', 0, pointer);
    const max = count(schema, 'maxLength', Infinity, pointer);
    if (min > max) throw schemaError(pointer, 'maxLength', 'is below minLength');
    return this.rules.add(hint, sequence(['"\\""', repeat(this.primitive('char'), min, max), '"\\""']));
  }

  /** @param {Record<string, any>} schema @param {string} pointer @param {string} hint */
  visitArray(schema, pointer, hint) {
    if (schema.uniqueItems === true) throw schemaError(pointer, 'uniqueItems', 'the grammar cannot keep items distinct');
    let prefix = [];
    let rest = schema.items;
    let restKey = 'items';
    if ('prefixItems' in schema) {
      if (!Array.isArray(schema.prefixItems)) throw schemaError(pointer, 'prefixItems', 'must be an array');
      prefix = schema.prefixItems;
      if ('additionalItems' in schema) throw schemaError(pointer, 'additionalItems', 'use items beside prefixItems');
    } else if (Array.isArray(schema.items)) {
      prefix = schema.items;
      rest = schema.additionalItems;
      restKey = 'additionalItems';
    } else if ('additionalItems' in schema) {
      throw schemaError(pointer, 'additionalItems', 'only applies when items is an array');
    }
    const min = count(schema, 'minItems', 0, pointer);
    const maxItems = count(schema, 'maxItems', Infinity, pointer);
    const max = Math.min(maxItems, rest === false ? prefix.length : Infinity);
    if (min > max) throw schemaError(pointer, 'minItems', `asks for more items than the schema allows (${max})`);
    const prefixRules = prefix.map((s, i) => this.visit(s, `${pointer}/${Array.isArray(schema.items) ? 'items' : 'prefixItems'}/${i}`, `${hint}-${i}`));
    const restRule = max > prefix.length ? this.visit(rest === undefined ? true : rest, `${pointer}/${restKey}`, `${hint}-item`) : '';
    /**
     * Items from index i on, each after a comma except the first.
     * @param {number} i @returns {string}
     */
    const from = (i) => {
      const sep = i === 0 ? '' : this.comma;
      if (i >= max) return '';
      if (i >= prefix.length) {
        // The rest are alike: the first of them, then a bounded run of `, item`.
        const needed = Math.max(0, min - i);
        const head = sequence([sep, restRule]);
        const tail = repeat(`(${sequence([this.comma, restRule])})`, Math.max(0, needed - 1), max - i - 1);
        const body = sequence([head, tail]);
        return needed > 0 ? body : `(${body})?`;
      }
      const body = sequence([sep, prefixRules[i], from(i + 1)]);
      return i >= min ? `(${body})?` : body;
    };
    return this.rules.add(hint, sequence(['"["', this.space, from(0), this.space, '"]"']));
  }

  /** @param {Record<string, any>} schema @param {string} pointer @param {string} hint */
  visitObject(schema, pointer, hint) {
    const properties = schema.properties ?? {};
    if (!isObject(properties)) throw schemaError(pointer, 'properties', 'must be an object');
    const required = schema.required ?? [];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) {
      throw schemaError(pointer, 'required', 'must be an array of strings');
    }
    const additional = schema.additionalProperties;
    if (additional !== undefined && typeof additional !== 'boolean' && !isObject(additional)) {
      throw schemaError(pointer, 'additionalProperties', 'must be a boolean or a schema');
    }
    // Properties as declared; a required name not declared takes what additionalProperties allows.
    const members = Object.entries(properties).map(([name, s]) => ({ name, schema: s, at: `${pointer}/properties/${pointerToken(name)}` }));
    for (const name of new Set(required)) {
      if (name in properties) continue;
      if (additional === false) throw schemaError(pointer, 'required', `${JSON.stringify(name)} is required but additionalProperties is false`);
      members.push({ name, schema: additional ?? true, at: `${pointer}/additionalProperties` });
    }
    if (!('properties' in schema) && !('required' in schema) && (additional === undefined || additional === true)) {
      return this.primitive('object');
    }
    const s = this.space;
    const kvRule = (/** @type {{ name: string, schema: unknown, at: string }} */ m) => {
      const value = this.visit(m.schema, m.at, `${hint}-${m.name}`);
      return this.rules.add(`${hint}-${m.name}-kv`, sequence([literal(JSON.stringify(m.name)), s, '":"', s, value]));
    };
    const requiredSet = new Set(required);
    const mandatory = members.filter((m) => requiredSet.has(m.name)).map(kvRule);
    const optional = members.filter((m) => !requiredSet.has(m.name)).map(kvRule);
    let extra = '';
    if (additional === true || isObject(additional)) {
      const key = this.rules.add(`${hint}-extra-key`, `"\\"" ${term(notOneOf(members.map((m) => m.name)))} "\\""`);
      const value = this.visit(additional, `${pointer}/additionalProperties`, `${hint}-extra`);
      extra = this.rules.add(`${hint}-extra-kv`, sequence([key, s, '":"', s, value]));
    }
    const extraRun = extra ? `(${sequence([this.comma, extra])})*` : '';
    let body;
    if (mandatory.length > 0) {
      body = sequence([
        mandatory.join(` ${this.comma} `),
        ...optional.map((kv) => `(${sequence([this.comma, kv])})?`),
        extraRun,
      ]);
    } else {
      // No member is certain to come first, so each one can open the list; the
      // ones after it follow with commas. rest[i] is "optional members from i on".
      const rest = [];
      rest[optional.length] = extraRun;
      for (let i = optional.length - 1; i > 0; i--) {
        rest[i] = this.rules.add(`${hint}-rest-${i}`, sequence([`(${sequence([this.comma, optional[i]])})?`, rest[i + 1]]) || '""');
      }
      const openers = optional.map((kv, i) => sequence([kv, i + 1 < optional.length ? rest[i + 1] : extraRun]));
      if (extra) openers.push(sequence([extra, extraRun]));
      body = openers.length > 0 ? `(${openers.join(' | ')})?` : '';
    }
    return this.rules.add(hint, body === '' ? sequence(['"{"', s, '"}"']) : sequence(['"{"', s, body, s, '"}"']));
  }
}

/**
 * Raw (escape-free) key characters spelling none of `names`: a trie walk that,
 * at each node, may stop (unless that spells a name), follow a child, or leave
 * the trie with any other character.
 * @param {string[]} names
 */
function notOneOf(names) {
  /** @typedef {{ end: boolean, next: Map<number, TrieNode> }} TrieNode */
  /** @type {TrieNode} */
  const trie = { end: false, next: new Map() };
  for (const name of names) {
    let node = trie;
    for (const ch of name) {
      const cp = /** @type {number} */ (ch.codePointAt(0));
      if (!node.next.has(cp)) node.next.set(cp, { end: false, next: new Map() });
      node = /** @type {TrieNode} */ (node.next.get(cp));
    }
    node.end = true;
  }
  const keyChar = charClass(KEY_CHAR_RANGES);
  /** @param {TrieNode} node @returns {string} */
  const walk = (node) => {
    const alts = [];
    if (!node.end) alts.push('""');
    const other = subtract(KEY_CHAR_RANGES, [...node.next.keys()].map((cp) => /** @type {[number, number]} */ ([cp, cp])));
    for (const [cp, child] of node.next) {
      if (has(KEY_CHAR_RANGES, cp)) alts.push(sequence([charClass([[cp, cp]]), term(walk(child))]));
    }
    if (other.length > 0) alts.push(`${charClass(other)} ${keyChar}*`);
    return alternatives(alts);
  };
  return walk(trie);
}

/**
 * A length or item count. Upper bounds past LARGEST_COUNT are lowered to it
 * (a grammar may allow less); lower bounds past it are refused.
 * @param {Record<string, any>} schema @param {string} key @param {number} fallback @param {string} pointer
 */
function count(schema, key, fallback, pointer) {
  if (!(key in schema)) return fallback;
  const n = schema[key];
  if (!Number.isSafeInteger(n) || n < 0) throw schemaError(pointer, key, 'must be a non-negative integer');
  if (n <= LARGEST_COUNT) return n;
  if (key.startsWith('min')) throw schemaError(pointer, key, `over ${LARGEST_COUNT} is not supported`);
  return LARGEST_COUNT;
}

/**
 * GBNF text (llama.cpp's dialect, start rule `root`) for the JSON documents
 * `schema` accepts. `{ type: 'json_object' }` stands for any JSON object.
 * @param {unknown} schema a JSON Schema (object or boolean)
 * @param {{ whitespace?: 'flexible' | 'none' }} [options] whitespace between
 *   tokens: 'flexible' (default; none, a space, or a newline and up to 20
 *   spaces or tabs) or 'none' (compact JSON)
 * @returns {string}
 * @throws {WasmllmError} ERR_BAD_ARG naming the keyword and its JSON pointer
 */
export function jsonSchemaToGrammar(schema, options = {}) {
  if (!isObject(options)) throw new WasmllmError('ERR_BAD_ARG', 'jsonSchemaToGrammar options must be an object');
  for (const key of Object.keys(options)) {
    if (key !== 'whitespace') throw new WasmllmError('ERR_BAD_ARG', `jsonSchemaToGrammar: unknown option "${key}"`);
  }
  if (options.whitespace !== undefined && options.whitespace !== 'flexible' && options.whitespace !== 'none') {
    throw new WasmllmError('ERR_BAD_ARG', `jsonSchemaToGrammar: whitespace must be 'flexible' or 'none', not ${JSON.stringify(options.whitespace)}`);
  }
  const root = isObject(schema) && schema.type === 'json_object' && Object.keys(schema).length === 1 ? { type: 'object' } : schema;
  return new Converter(root, options).convert();
}
