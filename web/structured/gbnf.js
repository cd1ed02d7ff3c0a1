/**
 * Writing GBNF text (llama.cpp's grammar dialect): quoted literals, character
 * classes, bounded repetition, and a rule table that names and shares rules.
 * Expressions are plain strings of GBNF; the table turns them into rules.
 */

/**
 * One code point as GBNF writes it inside a literal or a class. Letters and
 * digits stay readable; everything else is a hex escape, so no character can
 * be mistaken for grammar syntax (`"`, `]`, `-`, `^`, `\`) or be mangled as
 * raw control bytes.
 * @param {number} cp
 */
function escapeCodePoint(cp) {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) {
    return String.fromCodePoint(cp);
  }
  if (cp <= 0xff) return `\\x${cp.toString(16).toUpperCase().padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return `\\U${cp.toString(16).toUpperCase().padStart(8, '0')}`;
}

/**
 * A GBNF string literal matching exactly `text`. Printable ASCII stays as it
 * is (only `"` and `\` are escaped); other code points become hex escapes.
 * @param {string} text
 */
export function literal(text) {
  let out = '"';
  for (const ch of text) {
    const cp = /** @type {number} */ (ch.codePointAt(0));
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else out += escapeCodePoint(cp);
  }
  return `${out}"`;
}

/**
 * A GBNF character class over sorted, disjoint inclusive code point ranges.
 * @param {Array<[number, number]>} ranges
 * @param {boolean} [negated]
 */
export function charClass(ranges, negated = false) {
  let body = '';
  for (const [lo, hi] of ranges) {
    body += escapeCodePoint(lo);
    if (hi > lo) body += `-${escapeCodePoint(hi)}`;
  }
  return `[${negated ? '^' : ''}${body}]`;
}

/**
 * llama.cpp (and our C parser, which follows it) reads a count over 2000 in
 * `{m,n}` as "no upper bound" and refuses larger minimums, so bigger counts
 * are spelled as blocks of BLOCK repeats.
 */
export const MAX_COUNT = 1999;
const BLOCK = 1000;
/** The largest count a converter asks repeat() for (blocks of blocks stay under MAX_COUNT). */
export const LARGEST_COUNT = 1_000_000;

/**
 * `expr` repeated between `min` and `max` times (`max` Infinity: unbounded),
 * in the shortest spelling GBNF has for it.
 * @param {string} expr an atom: a rule name, literal, class or parenthesised group
 * @param {number} min
 * @param {number} max
 * @returns {string}
 */
export function repeat(expr, min, max) {
  if (min > MAX_COUNT || (max > MAX_COUNT && max !== Infinity)) return repeatInBlocks(expr, min, max);
  if (max === 0) return '';
  if (min === 1 && max === 1) return expr;
  if (min === 0 && max === 1) return `${expr}?`;
  if (min === 0 && max === Infinity) return `${expr}*`;
  if (min === 1 && max === Infinity) return `${expr}+`;
  if (min === max) return `${expr}{${min}}`;
  return `${expr}{${min},${max === Infinity ? '' : max}}`;
}

/**
 * Counts past MAX_COUNT: exactly n is n / BLOCK blocks and the rest; at most
 * n is either fewer whole blocks and any shorter rest, or all of them and a
 * rest up to n's, two alternatives whose lengths never overlap (so the
 * matcher follows one path).
 * @param {string} expr @param {number} min @param {number} max
 */
function repeatInBlocks(expr, min, max) {
  const block = `(${expr}{${BLOCK}})`;
  /** @param {number} n */
  const exactly = (n) => sequence([repeat(block, Math.floor(n / BLOCK), Math.floor(n / BLOCK)), repeat(expr, n % BLOCK, n % BLOCK)]);
  /** @param {number} n */
  const atMost = (n) => {
    if (n <= MAX_COUNT) return repeat(expr, 0, n);
    const whole = Math.floor(n / BLOCK);
    const fewer = sequence([repeat(block, 0, whole - 1), repeat(expr, 0, BLOCK - 1)]);
    return `(${fewer} | ${sequence([repeat(block, whole, whole), repeat(expr, 0, n % BLOCK)]) || '""'})`;
  };
  if (Math.floor(Math.max(min, max === Infinity ? 0 : max) / BLOCK) > MAX_COUNT) throw new RangeError(`repetition count ${max} is too large`);
  return sequence([exactly(min), max === Infinity ? `${expr}*` : atMost(max - min)]);
}

/**
 * The characters of `expr` outside literals, classes and parentheses.
 * @param {string} expr
 */
function topLevel(expr) {
  let out = '';
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      for (i++; i < expr.length && expr[i] !== close; i++) if (expr[i] === '\\') i++;
      out += '_';
    } else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) out += '_';
    } else if (depth === 0) out += c;
  }
  return out;
}

/**
 * `expr` as something a quantifier can follow: parenthesised unless it is a
 * single rule name, literal, class or group.
 * @param {string} expr
 */
export function group(expr) {
  return /^[A-Za-z0-9_-]+$/.test(topLevel(expr)) && expr !== '' ? expr : `(${expr === '' ? '""' : expr})`;
}

/**
 * `expr` as one item of a sequence: parenthesised only when it has
 * alternatives at its top level.
 * @param {string} expr
 */
export function term(expr) {
  if (expr === '') return '""';
  return topLevel(expr).includes('|') ? `(${expr})` : expr;
}

/** Alternatives joined; one alternative stays as it is. @param {string[]} alts */
export function alternatives(alts) {
  const unique = [...new Set(alts)];
  return unique.length === 1 ? unique[0] : unique.map((a) => (a === '' ? '""' : a)).join(' | ');
}

/** Items in sequence, dropping empty ones. @param {string[]} items */
export function sequence(items) {
  return items.filter((s) => s !== '').join(' ');
}

/**
 * The rules of one grammar. Names come from where a rule sits in the schema
 * (sanitised to GBNF's [a-zA-Z0-9-]); a rule whose body already exists under
 * another name is reused, and a clash of names with different bodies gets a
 * numeric suffix.
 */
export class RuleTable {
  constructor() {
    /** @type {Map<string, string>} name -> body */
    this.rules = new Map();
    /** @type {Map<string, string>} body -> name */
    this.byBody = new Map();
  }

  /** @param {string} hint */
  static sanitize(hint) {
    const name = hint.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase();
    return name === '' ? 'r' : name;
  }

  /** A name not used yet, reserved now so recursive rules can refer to it before their body exists. @param {string} hint */
  reserve(hint) {
    const base = RuleTable.sanitize(hint);
    let name = base;
    for (let i = 1; this.rules.has(name); i++) name = `${base}-${i}`;
    this.rules.set(name, '');
    return name;
  }

  /** @param {string} name @param {string} body */
  define(name, body) {
    this.rules.set(name, body);
    if (!this.byBody.has(body)) this.byBody.set(body, name);
  }

  /**
   * The name of a rule with this body: an existing one when the body is
   * already defined, else a new one named after `hint`.
   * @param {string} hint @param {string} body
   */
  add(hint, body) {
    const existing = this.byBody.get(body);
    if (existing !== undefined) return existing;
    const fixed = RuleTable.sanitize(hint);
    if (this.rules.get(fixed) === body) return fixed;
    const name = this.reserve(hint);
    this.define(name, body);
    return name;
  }

  /**
   * Fold rules that only rename another rule (`a ::= b`) when `b` is used
   * nowhere else: `a` takes `b`'s body.
   */
  inlineAliases() {
    for (const [name, body] of this.rules) {
      if (!this.rules.has(body) || body === name) continue;
      const use = new RegExp(`(?<![A-Za-z0-9-])${body}(?![A-Za-z0-9-])`, 'g');
      let uses = 0;
      for (const b of this.rules.values()) uses += (b.match(use) ?? []).length;
      if (uses !== 1) continue;
      this.rules.set(name, /** @type {string} */ (this.rules.get(body)));
      this.rules.delete(body);
    }
  }

  /** Drop rules that `root` cannot reach. */
  pruneUnreachable() {
    const reached = new Set(['root']);
    const queue = ['root'];
    while (queue.length > 0) {
      const body = /** @type {string} */ (this.rules.get(/** @type {string} */ (queue.pop())));
      // Rule names outside literals and classes.
      const names = body.replace(/"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]/g, ' ').match(/[A-Za-z0-9-]+/g) ?? [];
      for (const name of names) {
        if (this.rules.has(name) && !reached.has(name)) {
          reached.add(name);
          queue.push(name);
        }
      }
    }
    for (const name of [...this.rules.keys()]) if (!reached.has(name)) this.rules.delete(name);
  }

  /**
   * Rules that match no finite text (every alternative needs a rule that does
   * not end, e.g. recursion with no way out): a sampler that enters one can
   * never finish. The usual fixed point: a rule is productive once one of its
   * alternatives needs only productive rules.
   * @returns {string[]}
   */
  unproductive() {
    const parsed = new Map([...this.rules].map(([name, body]) => [name, parseAlternatives(body)]));
    const productive = new Set();
    for (let changed = true; changed;) {
      changed = false;
      for (const [name, alts] of parsed) {
        if (!productive.has(name) && alts.some((seq) => seqEnds(seq, productive))) {
          productive.add(name);
          changed = true;
        }
      }
    }
    return [...this.rules.keys()].filter((name) => !productive.has(name));
  }

  /** GBNF text, `root` first, then the other rules in the order they were made. */
  toString() {
    const lines = [];
    const root = this.rules.get('root');
    if (root !== undefined) lines.push(`root ::= ${root}`);
    for (const [name, body] of this.rules) if (name !== 'root') lines.push(`${name} ::= ${body}`);
    return `${lines.join('\n')}\n`;
  }
}

/**
 * @typedef {{ name?: string, alts?: Item[][], min: number }} Item
 *   a rule reference, a group, or (neither) a literal or class; min: fewest repeats
 */

/**
 * A rule body as alternatives of items, enough to tell which rules can end.
 * @param {string} body
 * @returns {Item[][]}
 */
function parseAlternatives(body) {
  let i = 0;
  /** @returns {Item[][]} */
  const alternativesAt = () => {
    /** @type {Item[][]} */
    const alts = [[]];
    while (i < body.length && body[i] !== ')') {
      const c = body[i];
      if (c === ' ') i++;
      else if (c === '|') {
        alts.push([]);
        i++;
      } else if (c === '?' || c === '*') {
        alts[alts.length - 1][alts[alts.length - 1].length - 1].min = 0;
        i++;
      } else if (c === '+') i++;
      else if (c === '{') {
        const close = body.indexOf('}', i);
        const min = Number(body.slice(i + 1, close).split(',')[0] || '0');
        const last = alts[alts.length - 1];
        last[last.length - 1].min = Math.min(last[last.length - 1].min, min);
        i = close + 1;
      } else if (c === '"' || c === '[') {
        const end = c === '"' ? '"' : ']';
        for (i++; body[i] !== end; i++) if (body[i] === '\\') i++;
        i++;
        alts[alts.length - 1].push({ min: 1 });
      } else if (c === '(') {
        i++;
        const inner = alternativesAt();
        i++;
        alts[alts.length - 1].push({ alts: inner, min: 1 });
      } else {
        const m = /^[A-Za-z0-9-]+/.exec(body.slice(i));
        if (!m) throw new Error(`unexpected ${c} in ${body}`);
        alts[alts.length - 1].push({ name: m[0], min: 1 });
        i += m[0].length;
      }
    }
    return alts;
  };
  return alternativesAt();
}

/** Whether a sequence can end, given the rules known to. @param {Item[]} seq @param {Set<string>} productive */
function seqEnds(seq, productive) {
  return seq.every((item) => item.min === 0
    || (item.name !== undefined ? productive.has(item.name) : item.alts ? item.alts.some((s) => seqEnds(s, productive)) : true));
}

/**
 * The largest (rules repeated) x (count) a repetition in `body` makes, as
 * llama.cpp's parser (and ours, which follows it) counts it: an atom is one
 * rule, a group is the rules made while reading it (itself, its repetitions'
 * extra rules, and, counted as new to be safe, the rules it names), and each
 * {m,n} multiplies. Parsers refuse a grammar where this reaches 2000.
 * @param {string} body
 */
export function repetitionLoad(body) {
  let i = 0;
  let worst = 0;
  /** Reads alternatives up to ')' or the end; returns how many rules reading them made. */
  const readAlternatives = () => {
    let made = 0;
    let prev = 1;
    while (i < body.length && body[i] !== ')') {
      const c = body[i];
      if (c === ' ' || c === '|') {
        i++;
        continue;
      }
      if (c === '?' || c === '*' || c === '+' || c === '{') {
        let min = c === '+' ? 1 : 0;
        let max = c === '?' ? 1 : Infinity;
        if (c === '{') {
          const close = body.indexOf('}', i);
          const [a, b] = body.slice(i + 1, close).split(',');
          min = Number(a);
          max = b === undefined ? min : b === '' ? Infinity : Number(b);
          i = close + 1;
        } else i++;
        const total = max !== Infinity && max > 0 ? max : Math.max(min, 1);
        worst = Math.max(worst, prev * total);
        made += max === Infinity ? 1 : max - min;
        prev *= total;
        continue;
      }
      if (c === '"' || c === '[') {
        const end = c === '"' ? '"' : ']';
        for (i++; body[i] !== end; i++) if (body[i] === '\\') i++;
        i++;
        prev = 1;
      } else if (c === '(') {
        i++;
        const inner = 1 + readAlternatives();
        i++;
        made += inner;
        prev = inner;
      } else {
        const m = /^[A-Za-z0-9-]+/.exec(body.slice(i));
        if (!m) throw new Error(`unexpected ${c} in ${body}`);
        i += m[0].length;
        made += 1;
        prev = 1;
      }
    }
    return made;
  };
  readAlternatives();
  return worst;
}
