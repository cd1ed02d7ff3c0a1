/**
 * Splits text into the words BPE merges run on, the way llama.cpp's
 * unicode_regex_split does: a list of expressions applied one after the
 * other, each splitting every current piece into its matches and the text
 * between them (nothing is dropped). The common expressions (GPT-2, Llama 3,
 * Qwen 2 families) run as hand-written scanners; the others run as JS
 * regular expressions over either
 *  - a "category alphabet" copy of the text (one char per code point: ASCII
 *    kept, others replaced by a letter/number/punctuation/mark/symbol/
 *    whitespace/other placeholder) when the expression uses \p{..}, or
 *  - the code points themselves (non-ASCII whitespace as \v) otherwise,
 * which is exactly how llama.cpp evaluates them, quirks included.
 * Pieces are tracked as lengths in code points.
 */
import { CPT, cptFlagTable } from '../unicode/index.js';
import { WasmllmError } from '../errors.js';

const WS = CPT.WHITESPACE, L = CPT.LETTER, N = CPT.NUMBER, M = CPT.MARK;
const CR = 13, LF = 10, SPACE = 32, APOS = 39;

/** Category placeholders of the alphabet (llama.cpp's choice of bytes). */
const COLLAPSE = { [CPT.NUMBER]: 0xd1, [CPT.LETTER]: 0xd2, [CPT.PUNCTUATION]: 0xd3, [CPT.MARK]: 0xd4, [CPT.SYMBOL]: 0xd5 };
const COLLAPSE_OTHER = 0xd0;
const CATEGORY_ESCAPES = { N: CPT.NUMBER, L: CPT.LETTER, P: CPT.PUNCTUATION, M: CPT.MARK, S: CPT.SYMBOL,
  Lu: CPT.LETTER, Ll: CPT.LETTER, Lt: CPT.LETTER, Lm: CPT.LETTER, Lo: CPT.LETTER };

/** The text as code points plus lazily built views the splitters share. */
export class CodepointText {
  /** @param {string} text well-formed */
  constructor(text) {
    this.text = text;
    const n = text.length;
    const cpts = new Int32Array(n);
    let count = 0, astral = false;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          cpts[count++] = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
          astral = true;
          continue;
        }
      }
      cpts[count++] = c;
    }
    this.cpts = count === n ? cpts : cpts.subarray(0, count);
    this.length = count;
    this.astral = astral;
    /** @type {Int32Array | null} code point index -> UTF-16 index (only when astral) */
    this._u16 = null;
    /** @type {string | null} */
    this._collapsed = null;
    /** @type {string | null} */
    this._wide = null;
  }

  /** UTF-16 offset of code point index i. */
  u16(i) {
    if (!this.astral) return i;
    if (!this._u16) {
      const map = new Int32Array(this.length + 1);
      let at = 0;
      for (let k = 0; k < this.length; k++) { map[k] = at; at += this.cpts[k] > 0xffff ? 2 : 1; }
      map[this.length] = at;
      this._u16 = map;
    }
    return this._u16[i];
  }

  /** One char per code point: the category alphabet. */
  collapsed() {
    if (this._collapsed !== null) return this._collapsed;
    const flags = cptFlagTable();
    const { cpts, length } = this;
    const codes = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const c = cpts[i];
      if (c < 128) { codes[i] = c; continue; }
      const f = flags[c];
      codes[i] = (f & WS) ? 0x0b : (COLLAPSE[f & CPT.CATEGORIES] ?? COLLAPSE_OTHER);
    }
    this._collapsed = latin1(codes);
    return this._collapsed;
  }

  /** The code points with non-ASCII whitespace as \v (for class-free expressions). */
  wide() {
    if (this._wide !== null) return this._wide;
    const flags = cptFlagTable();
    let out = '';
    let last = 0;
    const { text } = this;
    // Replace in the UTF-16 text; only non-ASCII whitespace changes.
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f && c < 0xd800 && (flags[c] & WS)) {
        out += text.slice(last, i) + '\v';
        last = i + 1;
      }
    }
    this._wide = last === 0 ? text : out + text.slice(last);
    return this._wide;
  }
}

/** @param {Uint8Array} codes */
function latin1(codes) {
  let s = '';
  for (let i = 0; i < codes.length; i += 8192) s += String.fromCharCode.apply(null, codes.subarray(i, i + 8192));
  return s;
}

/**
 * A growable list of piece lengths.
 */
class Pieces {
  constructor(capacity = 64) { this.a = new Int32Array(capacity); this.n = 0; }
  push(len) {
    if (this.n === this.a.length) { const b = new Int32Array(this.a.length * 2); b.set(this.a); this.a = b; }
    this.a[this.n++] = len;
  }
}

// ---------------------------------------------------------------------------
// Hand-written scanners. Each walks one piece [ini, end) and calls cut(pos)
// at every word end; positions outside the piece read as "no code point".

/**
 * GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * @param {Int32Array} cpts @param {Uint16Array} F @param {number} ini @param {number} end @param {Pieces} out
 */
function scanGpt2(cpts, F, ini, end, out) {
  let prev = ini;
  const cut = (p) => { if (p > prev) out.push(p - prev); prev = p; };
  const fl = (p) => (p < end ? F[cpts[p]] : 0);
  const cp = (p) => (p < end ? cpts[p] : -1);
  let pos = ini;
  while (pos < end) {
    const c = cpts[pos];
    if (c === APOS && pos + 1 < end) {
      const n1 = cpts[pos + 1];
      if (n1 === 115 || n1 === 116 || n1 === 109 || n1 === 100) { pos += 2; cut(pos); continue; } // s t m d
      if (pos + 2 < end) {
        const n2 = cpts[pos + 2];
        if ((n1 === 114 && n2 === 101) || (n1 === 118 && n2 === 101) || (n1 === 108 && n2 === 108)) { pos += 3; cut(pos); continue; } // re ve ll
      }
    }
    const f2 = c === SPACE ? fl(pos + 1) : F[c];
    if (f2 & L) {
      if (c === SPACE) pos++;
      while (fl(pos) & L) pos++;
      cut(pos); continue;
    }
    if (f2 & N) {
      if (c === SPACE) pos++;
      while (fl(pos) & N) pos++;
      cut(pos); continue;
    }
    if (!(f2 & (WS | L | N)) && f2) {
      if (c === SPACE) pos++;
      for (let f = fl(pos); !(f & (WS | L | N)) && f; f = fl(pos)) pos++;
      cut(pos); continue;
    }
    let nws = 0;
    while (fl(pos + nws) & WS) nws++;
    if (nws > 1 && cp(pos + nws) !== -1) { pos += nws - 1; cut(pos); continue; }
    if (nws > 0) { pos += nws; cut(pos); continue; }
    pos++; cut(pos);
  }
}

/**
 * Llama 3 / Qwen 2 / Qwen 3.5 family:
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * with `word` the letter class (L, or L|M for Qwen 3.5).
 */
function makeLlama3Scanner(maxDigits, word) {
  const notPunct = WS | word | N;
  return function scanLlama3(cpts, F, ini, end, out) {
    let prev = ini;
    const cut = (p) => { if (p > prev) out.push(p - prev); prev = p; };
    const fl = (p) => (p < end ? F[cpts[p]] : 0);
    const lc = (p) => { const c = cpts[p]; return c >= 65 && c <= 90 ? c + 32 : c; };
    let pos = ini;
    while (pos < end) {
      const c = cpts[pos];
      const f = F[c];
      if (c === APOS && pos + 1 < end) {
        const n1 = lc(pos + 1);
        if (n1 === 115 || n1 === 116 || n1 === 109 || n1 === 100) { pos += 2; cut(pos); continue; }
        if (pos + 2 < end) {
          const n2 = lc(pos + 2);
          if ((n1 === 114 && n2 === 101) || (n1 === 118 && n2 === 101) || (n1 === 108 && n2 === 108)) { pos += 3; cut(pos); continue; }
        }
      }
      if (!(c === CR || c === LF || (f & N))) {
        if ((f & word) || (fl(pos + 1) & word)) {
          pos++;
          while (fl(pos) & word) pos++;
          cut(pos); continue;
        }
      }
      if (f & N) {
        let start = pos;
        while (fl(pos) & N) {
          pos++;
          if (pos - start >= maxDigits) { cut(pos); start = pos; }
        }
        cut(pos); continue;
      }
      let f2 = c === SPACE ? fl(pos + 1) : f;
      if (!(f2 & notPunct) && f) {
        if (c === SPACE) pos++;
        for (f2 = fl(pos); !(f2 & notPunct) && f2; f2 = fl(pos)) pos++;
        while (pos < end && (cpts[pos] === CR || cpts[pos] === LF)) pos++;
        cut(pos); continue;
      }
      let nws = 0, lastNl = 0;
      while (fl(pos + nws) & WS) {
        const c2 = cpts[pos + nws];
        if (c2 === CR || c2 === LF) lastNl = pos + nws + 1;
        nws++;
      }
      if (lastNl > 0) { pos = lastNl; cut(pos); continue; }
      if (nws > 1 && pos + nws < end) { pos += nws - 1; cut(pos); continue; }
      if (nws > 0) { pos += nws; cut(pos); continue; }
      pos++; cut(pos);
    }
  };
}

/** Expressions with a hand-written scanner, by their exact source. */
const SCANNERS = new Map([
  ["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", scanGpt2],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", makeLlama3Scanner(3, L)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", makeLlama3Scanner(3, L)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", makeLlama3Scanner(1, L)],
  ["(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", makeLlama3Scanner(1, L | M)],
]);

// ---------------------------------------------------------------------------
// Regex-driven splitting.

/** @param {number} c */
const hex = (c) => '\\x' + c.toString(16).padStart(2, '0');

/** ASCII code points of a category, as a class body of \xNN ranges. */
function asciiClassBody(category) {
  const F = cptFlagTable();
  let body = '';
  for (let c = 0; c < 128; c++) {
    if ((F[c] & CPT.CATEGORIES) !== category) continue;
    let e = c;
    while (e + 1 < 128 && (F[e + 1] & CPT.CATEGORIES) === category) e++;
    body += e > c ? `${hex(c)}-${hex(e)}` : hex(c);
    c = e;
  }
  return body;
}

/**
 * Rewrites an expression for the category alphabet: \p{X} becomes the
 * placeholder plus the ASCII members of X (inside or as a class).
 * @param {string} src
 */
function toCollapsedSource(src) {
  let out = '';
  let inside = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '[' && (i === 0 || src[i - 1] !== '\\')) { out += '['; inside = true; continue; }
    if (inside && ch === ']' && src[i - 1] !== '\\') { out += ']'; inside = false; continue; }
    if (ch === '\\' && src[i + 1] === 'p' && src[i + 2] === '{') {
      const close = src.indexOf('}', i + 3);
      const name = close > 0 ? src.slice(i + 3, close) : '';
      const cat = CATEGORY_ESCAPES[name];
      if (cat !== undefined) {
        const body = hex(COLLAPSE[cat]) + asciiClassBody(cat);
        out += inside ? body : `[${body}]`;
        i = close;
        continue;
      }
      throw new WasmllmError('ERR_TOKENIZER', `pre-tokenizer expression uses unsupported \\p{${name}}`);
    }
    out += ch;
  }
  return out;
}

/**
 * Rewrites \s and \S to the ASCII whitespace set (what C++ std::regex
 * matches; JS's \s also takes U+FEFF and Unicode spaces).
 * @param {string} src
 */
function toAsciiSpaceSource(src) {
  let out = '';
  let inside = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\') {
      const nx = src[i + 1];
      if (nx === 's') { out += inside ? '\\t-\\r ' : '[\\t-\\r ]'; i++; continue; }
      if (nx === 'S') {
        if (inside) throw new WasmllmError('ERR_TOKENIZER', 'pre-tokenizer expression uses \\S inside a class');
        out += '[^\\t-\\r ]'; i++; continue;
      }
      out += ch + (nx ?? ''); i++; continue;
    }
    if (ch === '[' && !inside) inside = true;
    else if (ch === ']' && inside) inside = false;
    out += ch;
  }
  return out;
}

/**
 * @typedef {(t: CodepointText, pieces: Pieces) => Pieces} Splitter
 */

/**
 * Compiles one expression into a splitter of the current pieces.
 * @param {string} src
 * @returns {Splitter}
 */
function compileSplitter(src) {
  const scanner = SCANNERS.get(src);
  if (scanner) {
    return (t, pieces) => {
      const F = cptFlagTable();
      const out = new Pieces(pieces.n * 2 + 16);
      let start = 0;
      for (let k = 0; k < pieces.n; k++) {
        const len = pieces.a[k];
        scanner(t.cpts, F, start, start + len, out);
        start += len;
      }
      return out;
    };
  }
  const usesCategories = /\\p\{(N|L|P|M|S|Lu|Ll|Lt|Lm|Lo)\}/.test(src);
  if (usesCategories) {
    if ([...src].some((c) => c.codePointAt(0) >= 128)) {
      throw new WasmllmError('ERR_TOKENIZER', `pre-tokenizer expression mixes \\p{..} and non-ASCII characters: ${src}`);
    }
    const re = new RegExp(toAsciiSpaceSource(toCollapsedSource(src)), 'g');
    return (t, pieces) => splitByRegex(t.collapsed(), re, pieces, null);
  }
  const re = new RegExp(toAsciiSpaceSource(src), 'gu');
  return (t, pieces) => splitByRegex(t.wide(), re, pieces, t.astral ? t : null);
}

/**
 * Splits each piece into matches and gaps.
 * @param {string} s the alphabet string (one UTF-16 unit per code point unless `astral`)
 * @param {RegExp} re global
 * @param {Pieces} pieces
 * @param {CodepointText | null} astral maps code point indexes to UTF-16 when set
 */
function splitByRegex(s, re, pieces, astral) {
  const out = new Pieces(pieces.n * 2 + 16);
  let start = 0;
  for (let k = 0; k < pieces.n; k++) {
    const len = pieces.a[k];
    const a = astral ? astral.u16(start) : start;
    const b = astral ? astral.u16(start + len) : start + len;
    const piece = s.slice(a, b);
    re.lastIndex = 0;
    let last = 0; // UTF-16 offset within piece
    let lastCp = 0;
    const toCp = astral ? codepointCounter(piece) : (u) => u;
    for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
      const mStart = m.index, mEnd = m.index + m[0].length;
      if (mEnd === mStart) { re.lastIndex = mStart + 1; continue; }
      const cs = toCp(mStart), ce = toCp(mEnd);
      if (mStart > last) out.push(cs - lastCp);
      out.push(ce - cs);
      last = mEnd; lastCp = ce;
    }
    if (lastCp < len) out.push(len - lastCp);
    start += len;
  }
  return out;
}

/**
 * Converts increasing UTF-16 offsets of s to code point counts, walking
 * forward only (matches come in order), so a piece costs O(length).
 * @param {string} s
 */
function codepointCounter(s) {
  let u = 0, n = 0;
  return (target) => {
    while (u < target) {
      const c = s.charCodeAt(u);
      u += c >= 0xd800 && c <= 0xdbff && u + 1 < s.length && (s.charCodeAt(u + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      n++;
    }
    return n;
  };
}

/**
 * Builds a pre-tokenizer from llama.cpp-style expressions.
 * @param {string[]} regexes
 * @returns {(text: string) => { ends: Int32Array, n: number }} word k is
 *   text.slice(k ? ends[k - 1] : 0, ends[k]) (UTF-16 offsets; words cover the text)
 */
export function createPreTokenizer(regexes) {
  const splitters = regexes.map(compileSplitter);
  return (text) => {
    const t = new CodepointText(text);
    let pieces = new Pieces(4);
    if (t.length > 0) pieces.push(t.length);
    for (const split of splitters) pieces = split(t, pieces);
    const ends = new Int32Array(pieces.n);
    let at = 0, n = 0;
    for (let k = 0; k < pieces.n; k++) {
      const len = pieces.a[k];
      if (len === 0) continue;
      at += len;
      ends[n++] = t.u16(at);
    }
    return { ends, n };
  };
}
