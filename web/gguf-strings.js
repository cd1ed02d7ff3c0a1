/**
 * GGUFStringArray: a GGUF array of strings kept as its UTF-8 bytes (one
 * Uint8Array) and n + 1 offsets into them, instead of one JS string per
 * element. A 150k-token vocabulary plus its 150k merges is ~11 MB of V8
 * strings but ~4 MB packed, and building it makes no per-element garbage,
 * which is what pushed peak memory over budget when loading large-vocabulary
 * models (issue #4). Strings are decoded only when asked for (`get`).
 *
 * Every element holds well-formed UTF-8: bytes the file stores that are not
 * are replaced as a lenient TextDecoder reads them (U+FFFD), so `get(i)` is
 * the string the old string[] form had, and byte comparisons agree with
 * string comparisons.
 */
import { WasmllmError } from './errors.js';

// ignoreBOM: an element that starts with U+FEFF (a real token in some vocabularies) keeps it.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Whether b[start, end) is well-formed UTF-8 as the WHATWG decoder defines it
 * (no overlongs, no surrogates, nothing past U+10FFFF, no truncated sequence).
 * @param {Uint8Array} b @param {number} start @param {number} end
 */
export function isWellFormedUtf8(b, start, end) {
  for (let i = start; i < end;) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    if (c < 0xc2) return false;
    if (c < 0xe0) {
      if (i + 1 >= end || (b[i + 1] & 0xc0) !== 0x80) return false;
      i += 2;
      continue;
    }
    if (c < 0xf0) {
      if (i + 2 >= end) return false;
      const c1 = b[i + 1];
      if (c === 0xe0 ? c1 < 0xa0 || c1 > 0xbf : c === 0xed ? c1 < 0x80 || c1 > 0x9f : (c1 & 0xc0) !== 0x80) return false;
      if ((b[i + 2] & 0xc0) !== 0x80) return false;
      i += 3;
      continue;
    }
    if (c < 0xf5) {
      if (i + 3 >= end) return false;
      const c1 = b[i + 1];
      if (c === 0xf0 ? c1 < 0x90 || c1 > 0xbf : c === 0xf4 ? c1 < 0x80 || c1 > 0x8f : (c1 & 0xc0) !== 0x80) return false;
      if ((b[i + 2] & 0xc0) !== 0x80 || (b[i + 3] & 0xc0) !== 0x80) return false;
      i += 4;
      continue;
    }
    return false;
  }
  return true;
}

/**
 * b[start, end) made well-formed the way a lenient decoder reads it.
 * @param {Uint8Array} b @param {number} start @param {number} end
 */
export function wellFormedUtf8(b, start, end) {
  return utf8Encoder.encode(utf8Decoder.decode(b.slice(start, end))); // a copy: b may be shared memory
}

export class GGUFStringArray {
  /**
   * @param {Uint8Array} bytes every element's UTF-8, back to back (well-formed)
   * @param {Uint32Array} offsets length + 1 entries: element i is bytes[offsets[i], offsets[i + 1])
   */
  constructor(bytes, offsets) {
    if (!(bytes instanceof Uint8Array) || !(offsets instanceof Uint32Array) || offsets.length < 1 ||
        offsets[offsets.length - 1] > bytes.length) {
      throw new WasmllmError('ERR_BAD_ARG', 'GGUFStringArray needs a Uint8Array and a Uint32Array of offsets into it');
    }
    this.bytes = bytes;
    this.offsets = offsets;
  }

  /**
   * Packs JS strings (lone surrogates become U+FFFD, as TextEncoder writes them).
   * @param {Iterable<string> | ArrayLike<string>} strings
   */
  static from(strings) {
    const list = Array.isArray(strings) ? strings : Array.from(/** @type {any} */ (strings));
    const offsets = new Uint32Array(list.length + 1);
    // Three bytes per UTF-16 unit is the most UTF-8 can need; trimmed at the end.
    let cap = 0;
    for (const s of list) {
      if (typeof s !== 'string') throw new WasmllmError('ERR_BAD_ARG', `GGUFStringArray.from needs strings, got ${typeof s}`);
      cap += s.length * 3;
    }
    let bytes = new Uint8Array(cap);
    let at = 0;
    for (let i = 0; i < list.length; i++) {
      at += utf8Encoder.encodeInto(list[i], bytes.subarray(at)).written;
      offsets[i + 1] = at;
    }
    if (at < cap) bytes = bytes.slice(0, at);
    return new GGUFStringArray(bytes, offsets);
  }

  get length() { return this.offsets.length - 1; }

  /** Element i as a JS string (decoded now, not cached), or undefined out of range. @param {number} i */
  get(i) {
    if (!(i >= 0 && i < this.offsets.length - 1)) return undefined;
    return utf8Decoder.decode(this.bytes.subarray(this.offsets[i], this.offsets[i + 1]));
  }

  /** Like Array.prototype.at. @param {number} i */
  at(i) { return this.get(i < 0 ? this.length + i : i); }

  /** UTF-8 length of element i. @param {number} i */
  byteLength(i) { return this.offsets[i + 1] - this.offsets[i]; }

  /**
   * First index at or after `from` whose element equals `s`, or -1; compares
   * bytes, so nothing is decoded.
   * @param {string} s @param {number} [from]
   */
  indexOf(s, from = 0) {
    const want = utf8Encoder.encode(s);
    const { bytes, offsets } = this;
    const n = want.length;
    for (let i = Math.max(0, from); i < offsets.length - 1; i++) {
      const o = offsets[i];
      if (offsets[i + 1] - o !== n) continue;
      let k = 0;
      while (k < n && bytes[o + k] === want[k]) k++;
      if (k === n) return i;
    }
    return -1;
  }

  /** @param {string} s */
  includes(s) { return this.indexOf(s) >= 0; }

  /**
   * Every element equal to one of `strings`, as [index, string] pairs in
   * index order: one pass over the offsets, comparing bytes only where the
   * length matches, so nothing is decoded.
   * @param {Iterable<string>} strings
   * @returns {Array<[number, string]>}
   */
  findAll(strings) {
    /** @type {Map<number, Array<[Uint8Array, string]>>} wanted texts by UTF-8 length */
    const byLength = new Map();
    for (const s of strings) {
      const b = utf8Encoder.encode(s);
      const list = byLength.get(b.length);
      if (list) list.push([b, s]); else byLength.set(b.length, [[b, s]]);
    }
    const { bytes, offsets } = this;
    /** @type {Array<[number, string]>} */
    const out = [];
    for (let i = 0; i < offsets.length - 1; i++) {
      const o = offsets[i];
      const list = byLength.get(offsets[i + 1] - o);
      if (!list) continue;
      for (const [want, s] of list) {
        let k = 0;
        while (k < want.length && bytes[o + k] === want[k]) k++;
        if (k === want.length) { out.push([i, s]); break; }
      }
    }
    return out;
  }

  /** Elements [start, end) as a string[] (Array.prototype.slice's arguments). @param {number} [start] @param {number} [end] */
  slice(start = 0, end = this.length) {
    const n = this.length;
    const a = start < 0 ? Math.max(0, n + start) : Math.min(start, n);
    const b = end < 0 ? Math.max(0, n + end) : Math.min(end, n);
    const out = [];
    for (let i = a; i < b; i++) out.push(/** @type {string} */ (this.get(i)));
    return out;
  }

  /** Every element as a string[] (hundreds of thousands of strings for a vocabulary: avoid on hot paths). */
  toArray() { return this.slice(); }

  /** JSON.stringify writes the plain array. */
  toJSON() { return this.toArray(); }

  *[Symbol.iterator]() {
    for (let i = 0; i < this.length; i++) yield /** @type {string} */ (this.get(i));
  }
}

/**
 * A metadata value that is an array of strings, packed, or null: a
 * GGUFStringArray as is, a string[] (parseGGUF without packStrings, or
 * metadata built by hand) packed now.
 * @param {unknown} v
 * @returns {GGUFStringArray | null}
 */
export function asStringArray(v) {
  if (v instanceof GGUFStringArray) return v;
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return GGUFStringArray.from(v);
  return null;
}

/**
 * Element i of a string array in either form (GGUFStringArray or string[]),
 * or undefined when `v` is neither or i is out of range.
 * @param {unknown} v @param {number} i
 * @returns {string | undefined}
 */
export function stringAt(v, i) {
  if (v instanceof GGUFStringArray) return v.get(i);
  if (Array.isArray(v) && Number.isInteger(i) && i >= 0 && i < v.length && typeof v[i] === 'string') return v[i];
  return undefined;
}

/** Whether `v` is an array of strings in either form. @param {unknown} v */
export function isStringArray(v) {
  return v instanceof GGUFStringArray || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
}
