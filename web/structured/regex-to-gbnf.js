/**
 * A JSON Schema `pattern` (an ECMAScript regular expression, u flag, matching
 * anywhere unless anchored) as a GBNF expression for the JSON string content
 * of every string it matches. Supported: literals and escapes, `.`, classes
 * (ranges, negation, \d \w \s and their negations), groups (capturing,
 * non-capturing, named), alternation, * + ? {n} {n,} {n,m} (lazy or not),
 * and ^ $ at the ends of top-level alternatives. Anything else (lookaround,
 * backreferences, \b, \p{..}, anchors in the middle) throws a PatternError.
 */
import { LARGEST_COUNT, alternatives, group, literal, repeat, sequence, term } from './gbnf.js';
import { ANY, DIGIT, DOT, SPACE, WORD, complement, jsonCharExpr, normalize, ofChars, union } from './char-set.js';

export class PatternError extends Error {}

/**
 * @typedef {{ kind: 'set', set: import('./char-set.js').CharSet }
 *   | { kind: 'seq', items: Node[] }
 *   | { kind: 'alt', alts: Node[] }
 *   | { kind: 'repeat', node: Node, min: number, max: number }
 *   | { kind: 'start' } | { kind: 'end' }} Node
 */

const SYNTAX_CHARS = '^$\\.*+?()[]{}|/';
const CONTROL_ESCAPES = new Map([['t', 9], ['n', 10], ['v', 11], ['f', 12], ['r', 13]]);

class Parser {
  /** @param {string} pattern */
  constructor(pattern) {
    this.cps = [...pattern];
    this.pos = 0;
  }

  peek(offset = 0) {
    return this.cps[this.pos + offset];
  }

  /** @returns {Node} */
  parseAlternation() {
    const alts = [this.parseSequence()];
    while (this.peek() === '|') {
      this.pos++;
      alts.push(this.parseSequence());
    }
    return alts.length === 1 ? alts[0] : { kind: 'alt', alts };
  }

  /** @returns {Node} */
  parseSequence() {
    /** @type {Node[]} */
    const items = [];
    while (this.pos < this.cps.length && this.peek() !== '|' && this.peek() !== ')') {
      const atom = this.parseAtom();
      items.push(this.parseQuantifier(atom));
    }
    return { kind: 'seq', items };
  }

  /** @param {Node} atom @returns {Node} */
  parseQuantifier(atom) {
    const c = this.peek();
    let min;
    let max;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const rest = this.cps.slice(this.pos).join('');
      const m = /^\{(\d+)(,(\d*))?\}/.exec(rest);
      if (!m) throw new PatternError(`"{" at ${this.pos} is not a quantifier`);
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      // Matching fewer is allowed; needing more than a grammar can count is not.
      if (min > LARGEST_COUNT) throw new PatternError(`{${m[1]}...}: counts over ${LARGEST_COUNT} are not supported`);
      if (max !== Infinity && max > LARGEST_COUNT) max = LARGEST_COUNT;
      this.pos += m[0].length - 1;
    } else return atom;
    this.pos++;
    if (this.peek() === '?') this.pos++; // a lazy quantifier matches the same strings
    if (atom.kind === 'start' || atom.kind === 'end') throw new PatternError('a quantifier on an anchor');
    if (max < min) throw new PatternError(`quantifier {${min},${max}} has max below min`);
    return { kind: 'repeat', node: atom, min, max };
  }

  /** @returns {Node} */
  parseAtom() {
    const c = this.peek();
    this.pos++;
    if (c === '^') return { kind: 'start' };
    if (c === '$') return { kind: 'end' };
    if (c === '.') return { kind: 'set', set: DOT };
    if (c === '[') return { kind: 'set', set: this.parseClass() };
    if (c === '(') return this.parseGroup();
    if (c === '\\') return { kind: 'set', set: this.parseEscape(false) };
    if (c === '*' || c === '+' || c === '?' || c === '{' || c === '}' || c === ']') {
      throw new PatternError(`unexpected "${c}" at ${this.pos - 1}`);
    }
    return { kind: 'set', set: ofChars(c) };
  }

  /** @returns {Node} */
  parseGroup() {
    if (this.peek() === '?') {
      const kind = this.peek(1);
      if (kind === ':') this.pos += 2;
      else if (kind === '<' && this.peek(2) !== '=' && this.peek(2) !== '!') {
        const close = this.cps.indexOf('>', this.pos);
        if (close < 0) throw new PatternError('unterminated group name');
        this.pos = close + 1;
      } else throw new PatternError('lookaround assertions are not supported');
    }
    const inner = this.parseAlternation();
    if (this.peek() !== ')') throw new PatternError('unbalanced parentheses');
    this.pos++;
    return inner;
  }

  /** @returns {import('./char-set.js').CharSet} */
  parseClass() {
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.pos++;
    }
    /** @type {import('./char-set.js').CharSet[]} */
    const parts = [];
    while (this.peek() !== ']') {
      if (this.pos >= this.cps.length) throw new PatternError('unterminated character class');
      const lo = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        this.pos++;
        const hi = this.classAtom();
        if (lo.length !== 1 || hi.length !== 1 || lo[0][0] !== lo[0][1] || hi[0][0] !== hi[0][1]) {
          throw new PatternError('a class range needs single characters at both ends');
        }
        if (hi[0][0] < lo[0][0]) throw new PatternError('a class range out of order');
        parts.push([[lo[0][0], hi[0][0]]]);
      } else parts.push(lo);
    }
    this.pos++;
    const set = union(...parts);
    return negated ? complement(set) : set;
  }

  classAtom() {
    const c = this.peek();
    this.pos++;
    if (c === '\\') return this.parseEscape(true);
    return ofChars(/** @type {string} */ (c));
  }

  /**
   * The set a backslash escape stands for (the backslash is consumed).
   * @param {boolean} inClass
   * @returns {import('./char-set.js').CharSet}
   */
  parseEscape(inClass) {
    const c = this.peek();
    if (c === undefined) throw new PatternError('trailing backslash');
    this.pos++;
    if (c === 'd') return DIGIT;
    if (c === 'D') return complement(DIGIT);
    if (c === 'w') return WORD;
    if (c === 'W') return complement(WORD);
    if (c === 's') return SPACE;
    if (c === 'S') return complement(SPACE);
    if (CONTROL_ESCAPES.has(c)) return ofChars(String.fromCodePoint(/** @type {number} */ (CONTROL_ESCAPES.get(c))));
    if (c === '0' && !/[0-9]/.test(this.peek() ?? '')) return [[0, 0]];
    if (c === 'b' && inClass) return [[8, 8]];
    if (c === '-' && inClass) return ofChars('-');
    if (c === 'c' && /[A-Za-z]/.test(this.peek() ?? '')) {
      const letter = /** @type {string} */ (this.peek());
      this.pos++;
      const cp = letter.toUpperCase().charCodeAt(0) % 32;
      return [[cp, cp]];
    }
    if (c === 'x') return this.hexEscape(2);
    if (c === 'u') {
      if (this.peek() === '{') {
        const close = this.cps.indexOf('}', this.pos);
        const hex = this.cps.slice(this.pos + 1, close).join('');
        if (close < 0 || !/^[0-9a-fA-F]+$/.test(hex)) throw new PatternError('bad \\u{...} escape');
        this.pos = close + 1;
        const cp = parseInt(hex, 16);
        return [[cp, cp]];
      }
      return this.hexEscape(4);
    }
    if (SYNTAX_CHARS.includes(c)) return ofChars(c);
    throw new PatternError(`escape \\${c} is not supported`);
  }

  /** @param {number} count */
  hexEscape(count) {
    const hex = this.cps.slice(this.pos, this.pos + count).join('');
    if (!new RegExp(`^[0-9a-fA-F]{${count}}$`).test(hex)) throw new PatternError('bad hex escape');
    this.pos += count;
    const cp = parseInt(hex, 16);
    return /** @type {import('./char-set.js').CharSet} */ ([[cp, cp]]);
  }
}

/** GBNF has no empty group; an empty literal stands for nothing. @param {string} expr */
const orEmpty = (expr) => (expr === '' ? '""' : expr);

/**
 * @param {Node} node
 * @param {(set: import('./char-set.js').CharSet) => string} charRule
 * @returns {string}
 */
function toGbnf(node, charRule) {
  switch (node.kind) {
    case 'set':
      return charRule(node.set);
    case 'seq': {
      // Runs of single characters become one literal, for readable grammars.
      const parts = [];
      let run = '';
      for (const item of node.items) {
        const single = item.kind === 'set' && item.set.length === 1 && item.set[0][0] === item.set[0][1];
        if (single) {
          run += JSON.stringify(String.fromCodePoint(item.set[0][0])).slice(1, -1);
          continue;
        }
        if (run !== '') parts.push(literal(run));
        run = '';
        if (item.kind === 'start' || item.kind === 'end') throw new PatternError('^ or $ inside the pattern');
        parts.push(term(toGbnf(item, charRule)));
      }
      if (run !== '') parts.push(literal(run));
      return sequence(parts);
    }
    case 'alt':
      return alternatives(node.alts.map((a) => orEmpty(toGbnf(a, charRule))));
    case 'repeat':
      return repeat(group(toGbnf(node.node, charRule)), node.min, node.max);
    default:
      throw new PatternError('^ or $ inside the pattern');
  }
}

/**
 * GBNF for the JSON-escaped content (without quotes) of the strings `pattern`
 * matches.
 * @param {string} pattern
 * @param {(hint: string, body: string) => string} addRule names a shared rule
 * @returns {string}
 * @throws {PatternError}
 */
export function patternToGbnf(pattern, addRule) {
  try {
    new RegExp(pattern, 'u');
  } catch (err) {
    throw new PatternError(`not a valid regular expression (${/** @type {Error} */ (err).message})`);
  }
  const parser = new Parser(pattern);
  const tree = parser.parseAlternation();
  if (parser.pos !== parser.cps.length) throw new PatternError('unbalanced parentheses');
  /** @param {import('./char-set.js').CharSet} set */
  const charRule = (set) => {
    const expr = jsonCharExpr(normalize(set));
    if (expr === null) throw new PatternError('a character set with no character a JSON string can hold unescaped or with a short escape');
    return expr.includes(' | ') ? addRule('pattern-char', expr) : expr;
  };
  const anything = repeat(charRule(ANY), 0, Infinity);
  const alts = tree.kind === 'alt' ? tree.alts : [tree];
  return alternatives(alts.map((alt) => {
    const items = alt.kind === 'seq' ? [...alt.items] : [alt];
    const anchoredStart = items[0]?.kind === 'start';
    if (anchoredStart) items.shift();
    const anchoredEnd = items[items.length - 1]?.kind === 'end';
    if (anchoredEnd) items.pop();
    const body = toGbnf({ kind: 'seq', items }, charRule);
    return orEmpty(sequence([anchoredStart ? '' : anything, term(body), anchoredEnd ? '' : anything]));
  }));
}
