/**
 * A bounds-checked reader of GGUF headers (metadata and tensor table).
 * It never trusts a count or length from the file: each is checked against
 * the bytes present before anything is allocated or looped over.
 * See docs/DESIGN.md for why JS and C both parse GGUF.
 */
import { WasmllmError } from './errors.js';
import { GGML_TYPES } from './gguf-types.js';
import { GGUFStringArray, isWellFormedUtf8, wellFormedUtf8 } from './gguf-strings.js';

export { GGUFStringArray } from './gguf-strings.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const VT = Object.freeze({
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
});
const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const TYPED_ARRAY = {
  0: Uint8Array, 1: Int8Array, 2: Uint16Array, 3: Int16Array, 4: Uint32Array, 5: Int32Array,
  6: Float32Array, 10: BigUint64Array, 11: BigInt64Array, 12: Float64Array,
};

/** Thrown (internally) when a header needs more bytes than the prefix given. */
export class NeedMoreBytes extends WasmllmError {
  /**
   * @param {number} needed the least prefix that could get past this point
   * @param {number} [guess] a prefix that probably holds the whole header (readGGUFHeader asks for it)
   */
  constructor(needed, guess = needed) {
    super('ERR_TRUNCATED', `GGUF header needs at least ${needed} bytes`);
    this.needed = needed;
    this.guess = guess;
  }
}

// ignoreBOM: a string that starts with U+FEFF (a real token in some vocabularies) keeps it.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder('utf-8', { ignoreBOM: true });

class Cursor {
  /** @param {Uint8Array} bytes @param {number} totalSize @param {boolean} packStrings */
  constructor(bytes, totalSize, packStrings) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.totalSize = totalSize;
    this.packStrings = packStrings;
    // TextDecoder refuses views of shared memory (the threaded build's heap):
    // strings are copied out first, so a header can be parsed in place there.
    this.shared = typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;
  }

  /** @param {number} n @param {string} what @param {number} [guess] see NeedMoreBytes */
  need(n, what, guess) {
    const end = this.pos + n;
    if (!Number.isSafeInteger(end) || end > this.totalSize) {
      throw new WasmllmError('ERR_TRUNCATED', `GGUF truncated: ${what} needs ${n} bytes at offset ${this.pos}, file has ${this.totalSize}`);
    }
    if (end > this.bytes.length) throw new NeedMoreBytes(end, Math.max(end, guess ?? 0));
  }
  u8() { this.need(1, 'u8'); return this.view.getUint8(this.pos++); }
  u32() { this.need(4, 'u32'); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  /** u64 as a Number; values past 2^53 cannot be a real size or count here. */
  u64(what) {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new WasmllmError('ERR_TRUNCATED', `GGUF ${what} ${v} is larger than the file could hold`);
    }
    return Number(v);
  }
  /**
   * A string's u64 length at `p`, read without a BigInt (this runs once or
   * twice per vocabulary entry). Checked like u64(): past 2^53 is refused.
   * @param {number} p @param {string} what
   */
  len64At(p, what) {
    const lo = this.view.getUint32(p, true), hi = this.view.getUint32(p + 4, true);
    if (hi > 0x1fffff) throw new WasmllmError('ERR_TRUNCATED', `GGUF ${what} is larger than the file could hold`);
    return hi * 4294967296 + lo;
  }
  /** @param {string} what @param {boolean} strict */
  str(what, strict = false) {
    const len = this.u64(`${what} length`);
    this.need(len, what);
    const slice = this.shared ? this.bytes.slice(this.pos, this.pos + len) : this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    if (!strict) return utf8Lenient.decode(slice);
    try {
      return utf8Strict.decode(slice);
    } catch {
      throw new WasmllmError('ERR_BAD_VALUE', `GGUF ${what} at offset ${this.pos - len} is not valid UTF-8`);
    }
  }
}

/** @param {Cursor} c @param {number} type @param {string} key */
function readScalar(c, type, key) {
  const size = SCALAR_SIZE[type];
  if (!size) throw new WasmllmError('ERR_BAD_VALUE', `GGUF key ${key}: unknown value type ${type}`);
  c.need(size, key);
  const v = c.view, p = c.pos;
  c.pos += size;
  switch (type) {
    case VT.UINT8: return v.getUint8(p);
    case VT.INT8: return v.getInt8(p);
    case VT.UINT16: return v.getUint16(p, true);
    case VT.INT16: return v.getInt16(p, true);
    case VT.UINT32: return v.getUint32(p, true);
    case VT.INT32: return v.getInt32(p, true);
    case VT.FLOAT32: return v.getFloat32(p, true);
    case VT.BOOL: return v.getUint8(p) !== 0;
    case VT.UINT64: return bigToNumber(v.getBigUint64(p, true));
    case VT.INT64: return bigToNumber(v.getBigInt64(p, true));
    case VT.FLOAT64: return v.getFloat64(p, true);
  }
  throw new WasmllmError('ERR_BAD_VALUE', `GGUF key ${key}: unknown value type ${type}`);
}

/** @param {bigint} b */
function bigToNumber(b) {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/**
 * Throws what Cursor.need throws for element i of a string array (the
 * messages are built only here: per element they would be garbage). A miss
 * here would come back for every later element, so the guess extrapolates
 * the whole array from the elements so far: a prefix read then grows once
 * instead of doubling through several sizes.
 * @param {Cursor} c @param {string} key @param {number} start @param {number} i @param {number} count
 * @param {number} n @param {string} part
 */
function needForString(c, key, start, i, count, n, part) {
  const guess = i > 0 ? c.pos + Math.ceil((count - i) * ((c.pos - start) / i) * 1.25) + (1 << 20) : undefined;
  c.need(n, `${key}[${i}]${part}`, guess);
}

/**
 * An array of `count` strings as one GGUFStringArray. Two passes over the
 * length-prefixed elements: the first checks every length against the bytes
 * present and sums them (throwing NeedMoreBytes before anything is
 * allocated), the second copies the bytes into one exact-size buffer; no JS
 * string or per-element object is made.
 * @param {Cursor} c @param {string} key @param {number} count
 */
function readPackedStrings(c, key, count) {
  const { bytes } = c;
  const start = c.pos;
  let total = 0;
  /** @type {Map<number, Uint8Array> | null} elements that are not well-formed UTF-8, made so */
  let fixes = null;
  const end = Math.min(bytes.length, c.totalSize);
  for (let i = 0; i < count; i++) {
    if (c.pos + 8 > end) needForString(c, key, start, i, count, 8, ' length');
    const len = c.len64At(c.pos, key);
    c.pos += 8;
    if (c.pos + len > end) needForString(c, key, start, i, count, len, '');
    if (isWellFormedUtf8(bytes, c.pos, c.pos + len)) {
      total += len;
    } else {
      const fixed = wellFormedUtf8(bytes, c.pos, c.pos + len);
      (fixes ??= new Map()).set(i, fixed);
      total += fixed.length;
    }
    c.pos += len;
  }
  if (total > 0xffffffff) throw new WasmllmError('ERR_BAD_VALUE', `GGUF array ${key} holds more than 4 GiB of text`);
  const out = new Uint8Array(total);
  const offsets = new Uint32Array(count + 1);
  let p = start, at = 0;
  for (let i = 0; i < count; i++) {
    const len = c.len64At(p, key);
    p += 8;
    const fixed = fixes?.get(i);
    if (fixed) {
      out.set(fixed, at);
      at += fixed.length;
    } else if (len > 32) {
      out.set(bytes.subarray(p, p + len), at);
      at += len;
    } else {
      for (let k = 0; k < len; k++) out[at++] = bytes[p + k]; // short: cheaper than a subarray per element
    }
    p += len;
    offsets[i + 1] = at;
  }
  return new GGUFStringArray(out, offsets);
}

/** @param {Cursor} c @param {string} key @param {number} depth */
function readArray(c, key, depth) {
  if (depth > 8) throw new WasmllmError('ERR_BAD_VALUE', `GGUF key ${key}: arrays nested too deep`);
  const type = c.u32();
  const count = c.u64(`array ${key} count`);
  if (type === VT.STRING) {
    // Each string has at least its 8-byte length: reject impossible counts first.
    c.need(count * 8, `array ${key}`);
    if (c.packStrings) return readPackedStrings(c, key, count);
    const out = new Array(count);
    for (let i = 0; i < count; i++) out[i] = c.str(`${key}[${i}]`);
    return out;
  }
  if (type === VT.ARRAY) {
    c.need(count * 12, `array ${key}`);
    const out = new Array(count);
    for (let i = 0; i < count; i++) out[i] = readArray(c, key, depth + 1);
    return out;
  }
  const size = SCALAR_SIZE[type];
  if (!size) throw new WasmllmError('ERR_BAD_VALUE', `GGUF key ${key}: unknown array element type ${type}`);
  c.need(count * size, `array ${key}`);
  const bytes = c.bytes.slice(c.pos, c.pos + count * size); // copy: aligned for the typed array
  c.pos += count * size;
  if (type === VT.BOOL) return Array.from(bytes, (b) => b !== 0);
  const T = TYPED_ARRAY[type];
  return new T(bytes.buffer, 0, count);
}

/**
 * @typedef {{ name: string, nDims: number, shape: number[], type: number, typeName: string,
 *   offset: number, nBytes: number }} GGUFTensorInfo
 * @typedef {{ version: number, metadata: Map<string, any>, types: Map<string, number>,
 *   tensors: GGUFTensorInfo[], alignment: number, dataOffset: number, headerSize: number }} GGUFHeader
 */

/**
 * @typedef {{ totalSize?: number, allowNoData?: boolean, packStrings?: boolean }} ParseOptions
 *   packStrings: arrays of strings come back as GGUFStringArray (packed UTF-8,
 *   `.length`, `.get(i)`, iteration) instead of string[]; the model loader uses
 *   this, since a large vocabulary as JS strings costs tens of MB at load
 */

/**
 * Parses a GGUF header from `bytes`, which may be a prefix of a file of
 * `totalSize` bytes; throws NeedMoreBytes if the prefix is too short.
 * Arrays of strings are string[] unless `packStrings` is set. `bytes` may be
 * a view of shared memory (e.g. the wasm heap): nothing returned refers to it.
 * @param {Uint8Array} bytes
 * @param {ParseOptions} [options]
 * @returns {GGUFHeader}
 */
export function parseGGUF(bytes, options = {}) {
  const totalSize = options.totalSize ?? bytes.length;
  const c = new Cursor(bytes, totalSize, !!options.packStrings);
  if (totalSize < 4 || (bytes.length >= 4 && c.view.getUint32(0, true) !== GGUF_MAGIC)) {
    throw new WasmllmError('ERR_BAD_MAGIC', 'not a GGUF file (the first bytes are not "GGUF")');
  }
  c.pos = 4;
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    throw new WasmllmError('ERR_BAD_VERSION', `GGUF version ${version} is not supported (only 2 and 3)`);
  }
  const nTensors = c.u64('tensor count');
  const nKv = c.u64('metadata count');
  // A key-value pair takes at least 12 bytes, a tensor info at least 28.
  c.need(nKv * 12 + nTensors * 28, 'metadata and tensor table');

  const metadata = new Map();
  const types = new Map();
  for (let i = 0; i < nKv; i++) {
    const key = c.str(`key #${i}`, true);
    const type = c.u32();
    let value;
    if (type === VT.STRING) value = c.str(`value of ${key}`);
    else if (type === VT.ARRAY) value = readArray(c, key, 0);
    else value = readScalar(c, type, key);
    if (metadata.has(key)) throw new WasmllmError('ERR_BAD_VALUE', `GGUF key ${key} appears twice`);
    metadata.set(key, value);
    types.set(key, type);
  }

  let alignment = 32;
  if (metadata.has('general.alignment')) {
    alignment = metadata.get('general.alignment');
    if (types.get('general.alignment') !== VT.UINT32 || alignment === 0 || (alignment & (alignment - 1)) !== 0) {
      throw new WasmllmError('ERR_BAD_VALUE', `GGUF general.alignment ${alignment} is not a power of two`);
    }
  }

  const tensors = [];
  const names = new Set();
  for (let i = 0; i < nTensors; i++) {
    const name = c.str(`tensor #${i} name`, true);
    if (names.has(name)) throw new WasmllmError('ERR_BAD_TENSOR', `tensor ${name} appears twice`);
    names.add(name);
    const nDims = c.u32();
    if (nDims < 1 || nDims > 4) throw new WasmllmError('ERR_BAD_TENSOR', `tensor ${name} has ${nDims} dimensions (1 to 4 allowed)`);
    const shape = [];
    let nElements = 1;
    for (let d = 0; d < nDims; d++) {
      const ne = c.u64(`tensor ${name} dimension`);
      shape.push(ne);
      nElements *= ne;
      if (!Number.isSafeInteger(nElements)) throw new WasmllmError('ERR_BAD_TENSOR', `tensor ${name}: element count overflows`);
    }
    const type = c.u32();
    const t = GGML_TYPES[type];
    if (!t) throw new WasmllmError('ERR_UNKNOWN_TYPE', `tensor ${name} has unknown type id ${type}`);
    if (shape[0] % t.blockSize !== 0) {
      throw new WasmllmError('ERR_BAD_TENSOR', `tensor ${name}: row of ${shape[0]} is not a multiple of ${t.name}'s block of ${t.blockSize}`);
    }
    const offset = c.u64(`tensor ${name} offset`);
    if (offset % alignment !== 0) throw new WasmllmError('ERR_BAD_TENSOR', `tensor ${name} offset ${offset} is not aligned to ${alignment}`);
    const nBytes = (nElements / t.blockSize) * t.typeSize;
    tensors.push({ name, nDims, shape, type, typeName: t.name, offset, nBytes });
  }

  const headerSize = c.pos;
  const dataOffset = Math.ceil(headerSize / alignment) * alignment;
  if (!options.allowNoData) {
    for (const t of tensors) {
      if (dataOffset + t.offset + t.nBytes > totalSize) {
        throw new WasmllmError('ERR_TRUNCATED', `tensor ${t.name} data (${t.nBytes} bytes at ${dataOffset + t.offset}) lies past the end of the file (${totalSize} bytes)`);
      }
    }
  }
  return { version, metadata, types, tensors, alignment, dataOffset, headerSize };
}

/**
 * Reads just enough of a source to parse its header, growing the prefix
 * as needed. `readPrefix(n)` resolves to the first n bytes (or all, if shorter).
 * Each prefix read is a new buffer that lingers until collected, so a miss
 * inside a large string array jumps to the parser's guess of the whole
 * header rather than doubling through several sizes.
 * @param {(n: number) => Promise<Uint8Array>} readPrefix
 * @param {number} totalSize
 * @param {{ allowNoData?: boolean, packStrings?: boolean }} [options]
 */
export async function readGGUFHeader(readPrefix, totalSize, options = {}) {
  let n = Math.min(totalSize, 1 << 20);
  for (;;) {
    const bytes = await readPrefix(n);
    try {
      return parseGGUF(bytes, { totalSize, allowNoData: options.allowNoData, packStrings: options.packStrings });
    } catch (e) {
      if (!(e instanceof NeedMoreBytes) || n >= totalSize) throw e;
      n = Math.min(totalSize, Math.max(e.needed, e.guess > e.needed ? e.guess : n * 2));
    }
  }
}
