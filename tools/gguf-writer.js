/**
 * Writes GGUF files (version 3, or 2 on request), single or split into
 * llama.cpp's gguf-split shards. Used by the synthetic-model generator,
 * tests and benchmarks; the runtime only reads GGUF.
 *
 * Tensor data can be given eagerly (Float32Array or already-encoded bytes)
 * or lazily (a function returning a Float32Array): lazy tensors are encoded
 * one at a time while streaming to disk, so a file larger than memory
 * never needs to exist as one buffer.
 */
import fs from 'node:fs';
import { VT, GGUF_MAGIC } from '../web/gguf.js';
import { formatOf, encode, encodedSize } from './quantize.js';

export { VT };

const SCALAR_SIZE = { [VT.UINT8]: 1, [VT.INT8]: 1, [VT.UINT16]: 2, [VT.INT16]: 2, [VT.UINT32]: 4, [VT.INT32]: 4, [VT.FLOAT32]: 4, [VT.BOOL]: 1, [VT.UINT64]: 8, [VT.INT64]: 8, [VT.FLOAT64]: 8 };
const utf8 = new TextEncoder();

/** Grows as bytes are appended; little-endian throughout, as GGUF is. */
class ByteSink {
  constructor() {
    this.buf = new Uint8Array(1 << 16);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v) { this.reserve(1); this.view.setUint8(this.len, v); this.len += 1; }
  u32(v) { this.reserve(4); this.view.setUint32(this.len, v, true); this.len += 4; }
  u64(v) { this.reserve(8); this.view.setBigUint64(this.len, BigInt(v), true); this.len += 8; }
  bytes(b) { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; }
  str(s) { const b = utf8.encode(s); this.u64(b.length); this.bytes(b); }
  /** @param {number} type @param {any} v */
  scalar(type, v) {
    const size = SCALAR_SIZE[type];
    if (!size) throw new Error(`gguf-writer: ${type} is not a scalar value type`);
    this.reserve(size);
    const w = this.view, p = this.len;
    switch (type) {
      case VT.UINT8: w.setUint8(p, v); break;
      case VT.INT8: w.setInt8(p, v); break;
      case VT.UINT16: w.setUint16(p, v, true); break;
      case VT.INT16: w.setInt16(p, v, true); break;
      case VT.UINT32: w.setUint32(p, v, true); break;
      case VT.INT32: w.setInt32(p, v, true); break;
      case VT.FLOAT32: w.setFloat32(p, v, true); break;
      case VT.BOOL: w.setUint8(p, v ? 1 : 0); break;
      case VT.UINT64: w.setBigUint64(p, BigInt(v), true); break;
      case VT.INT64: w.setBigInt64(p, BigInt(v), true); break;
      case VT.FLOAT64: w.setFloat64(p, v, true); break;
    }
    this.len += size;
  }
  result() { return this.buf.slice(0, this.len); }
}

/** Element type of an array value when the caller did not name one. */
function inferElementType(values) {
  if (values instanceof Uint8Array) return VT.UINT8;
  if (values instanceof Int8Array) return VT.INT8;
  if (values instanceof Uint16Array) return VT.UINT16;
  if (values instanceof Int16Array) return VT.INT16;
  if (values instanceof Uint32Array) return VT.UINT32;
  if (values instanceof Int32Array) return VT.INT32;
  if (values instanceof Float32Array) return VT.FLOAT32;
  if (values instanceof Float64Array) return VT.FLOAT64;
  if (values instanceof BigUint64Array) return VT.UINT64;
  if (values instanceof BigInt64Array) return VT.INT64;
  const first = values[0];
  if (typeof first === 'string') return VT.STRING;
  if (typeof first === 'boolean') return VT.BOOL;
  if (Array.isArray(first) || ArrayBuffer.isView(first)) return VT.ARRAY;
  if (values.length === 0) return VT.INT32;
  if (values.every((v) => Number.isInteger(v))) return VT.INT32;
  return VT.FLOAT32;
}

/**
 * @typedef {{ name: string, typeName: string, typeId: number, shape: number[],
 *   nBytes: number, source: Float32Array | Uint8Array | (() => Float32Array | Uint8Array) }} PendingTensor
 */

export class GGUFWriter {
  /** @param {{ version?: 2 | 3, alignment?: number }} [options] */
  constructor(options = {}) {
    this.version = options.version ?? 3;
    if (this.version !== 2 && this.version !== 3) throw new Error(`gguf-writer: version ${this.version} (2 or 3)`);
    this.alignment = options.alignment ?? 32;
    if (!Number.isInteger(this.alignment) || this.alignment <= 0 || (this.alignment & (this.alignment - 1))) {
      throw new Error(`gguf-writer: alignment ${this.alignment} is not a power of two`);
    }
    /** @type {Map<string, { type: number, value: any, elementType?: number }>} */
    this.kv = new Map();
    /** @type {PendingTensor[]} */
    this.tensors = [];
  }

  /**
   * Adds (or replaces) a metadata key. For VT.ARRAY, `value` is a typed
   * array, a plain array (element type inferred or given as `elementType`),
   * or `{ type, values }`.
   * @param {string} key @param {number} valueType @param {any} value @param {number} [elementType]
   */
  addKV(key, valueType, value, elementType) {
    if (typeof key !== 'string' || key.length === 0) throw new Error('gguf-writer: key must be a non-empty string');
    if (valueType === VT.ARRAY) {
      if (value && !Array.isArray(value) && !ArrayBuffer.isView(value) && 'values' in value) {
        elementType = value.type;
        value = value.values;
      }
      elementType ??= inferElementType(value);
    } else if (valueType !== VT.STRING && !SCALAR_SIZE[valueType]) {
      throw new Error(`gguf-writer: key ${key}: unknown value type ${valueType}`);
    }
    this.kv.set(key, { type: valueType, value, elementType });
    return this;
  }

  addString(key, v) { return this.addKV(key, VT.STRING, v); }
  addU8(key, v) { return this.addKV(key, VT.UINT8, v); }
  addI8(key, v) { return this.addKV(key, VT.INT8, v); }
  addU16(key, v) { return this.addKV(key, VT.UINT16, v); }
  addI16(key, v) { return this.addKV(key, VT.INT16, v); }
  addU32(key, v) { return this.addKV(key, VT.UINT32, v); }
  addI32(key, v) { return this.addKV(key, VT.INT32, v); }
  addU64(key, v) { return this.addKV(key, VT.UINT64, v); }
  addI64(key, v) { return this.addKV(key, VT.INT64, v); }
  addF32(key, v) { return this.addKV(key, VT.FLOAT32, v); }
  addF64(key, v) { return this.addKV(key, VT.FLOAT64, v); }
  addBool(key, v) { return this.addKV(key, VT.BOOL, v); }
  /** @param {string} key @param {number} elementType @param {ArrayLike<any>} values */
  addArray(key, elementType, values) { return this.addKV(key, VT.ARRAY, values, elementType); }

  /**
   * Copies metadata from a parsed header (web/gguf.js parseGGUF result),
   * keeping each key's value type. `filter(key)` picks keys.
   * @param {{ metadata: Map<string, any>, types: Map<string, number> }} header
   * @param {(key: string) => boolean} [filter]
   */
  copyKVs(header, filter = () => true) {
    for (const [key, value] of header.metadata) {
      if (!filter(key)) continue;
      const type = header.types.get(key);
      if (type === VT.ARRAY) {
        this.addKV(key, VT.ARRAY, value, arrayTypeOfParsed(value));
      } else {
        this.addKV(key, type, value);
      }
    }
    return this;
  }

  /**
   * Adds a tensor. `shape` is GGUF order (shape[0] is the contiguous row).
   * `data` is a Float32Array of prod(shape) values, or a function returning
   * one (encoded when written), or a Uint8Array already in `typeName`'s layout.
   * @param {string} name @param {string} typeName @param {number[]} shape
   * @param {Float32Array | Uint8Array | (() => Float32Array | Uint8Array)} data
   */
  addTensor(name, typeName, shape, data) {
    if (this.tensors.some((t) => t.name === name)) throw new Error(`gguf-writer: tensor ${name} added twice`);
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new Error(`gguf-writer: tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    }
    const fmt = formatOf(typeName);
    const n = shape.reduce((a, b) => a * b, 1);
    if (shape[0] % fmt.blockSize !== 0) {
      throw new Error(`gguf-writer: tensor ${name}: row of ${shape[0]} is not a multiple of ${typeName}'s block of ${fmt.blockSize}`);
    }
    const nBytes = encodedSize(typeName, n);
    if (data instanceof Float32Array && data.length !== n) throw new Error(`gguf-writer: tensor ${name}: ${data.length} values for shape ${shape} (${n})`);
    if (data instanceof Uint8Array && data.length !== nBytes) throw new Error(`gguf-writer: tensor ${name}: ${data.length} bytes, ${typeName} ${shape} needs ${nBytes}`);
    this.tensors.push({ name, typeName: String(typeName).toUpperCase(), typeId: fmt.id, shape: [...shape], nBytes, nValues: n, source: data });
    return this;
  }

  /** @param {PendingTensor} t @returns {Uint8Array} */
  static encodeTensor(t) {
    const data = typeof t.source === 'function' ? t.source() : t.source;
    if (data instanceof Uint8Array) {
      if (data.length !== t.nBytes) throw new Error(`gguf-writer: tensor ${t.name}: ${data.length} bytes, need ${t.nBytes}`);
      return data;
    }
    if (!(data instanceof Float32Array) || data.length !== t.nValues) {
      throw new Error(`gguf-writer: tensor ${t.name}: data must be a Float32Array of ${t.nValues} values`);
    }
    return encode(t.typeName, data);
  }

  /**
   * Header bytes (through the padding before tensor data) for a set of
   * tensors and key-values, plus each tensor's offset in the data section.
   * @param {Map<string, any>} kv @param {PendingTensor[]} tensors
   */
  headerFor(kv, tensors) {
    const alignment = this.alignment;
    const all = new Map(kv);
    if (alignment !== 32) all.set('general.alignment', { type: VT.UINT32, value: alignment });
    const s = new ByteSink();
    s.u32(GGUF_MAGIC);
    s.u32(this.version);
    s.u64(tensors.length);
    s.u64(all.size);
    for (const [key, { type, value, elementType }] of all) {
      s.str(key);
      s.u32(type);
      writeValue(s, type, value, elementType, key);
    }
    const offsets = [];
    let offset = 0;
    for (const t of tensors) {
      s.str(t.name);
      s.u32(t.shape.length);
      for (const d of t.shape) s.u64(d);
      s.u32(t.typeId);
      s.u64(offset);
      offsets.push(offset);
      offset += Math.ceil(t.nBytes / alignment) * alignment;
    }
    const pad = (alignment - (s.len % alignment)) % alignment;
    s.bytes(new Uint8Array(pad));
    return { header: s.result(), offsets, dataSize: offset };
  }

  /** Whole file in memory (small files and tests). @returns {Uint8Array} */
  toBuffer() {
    return this.#assemble(this.kv, this.tensors);
  }

  #assemble(kv, tensors) {
    const { header, offsets, dataSize } = this.headerFor(kv, tensors);
    const out = new Uint8Array(header.length + dataSize);
    out.set(header, 0);
    tensors.forEach((t, i) => out.set(GGUFWriter.encodeTensor(t), header.length + offsets[i]));
    return out;
  }

  /**
   * Streams the file to disk, encoding lazy tensors one at a time.
   * @param {string} path @returns {number} bytes written
   */
  write(path) {
    return this.#writeFile(path, this.kv, this.tensors);
  }

  #writeFile(path, kv, tensors) {
    const { header, offsets, dataSize } = this.headerFor(kv, tensors);
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, header);
      let pos = 0;
      tensors.forEach((t, i) => {
        if (offsets[i] > pos) writeAll(fd, new Uint8Array(offsets[i] - pos));
        const bytes = GGUFWriter.encodeTensor(t);
        writeAll(fd, bytes);
        pos = offsets[i] + bytes.length;
      });
      if (dataSize > pos) writeAll(fd, new Uint8Array(dataSize - pos));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path); // readers never see a half-written model
    return header.length + dataSize;
  }

  /**
   * Writes llama.cpp's gguf-split layout: PREFIX-00001-of-0000N.gguf, ...
   * Every shard carries split.no (u16), split.count (u16) and
   * split.tensors.count (i32); all other metadata lives in shard 1.
   * @param {string} pathPrefix e.g. '/tmp/model' -> /tmp/model-00001-of-00003.gguf
   * @param {number | { maxTensors?: number, maxBytes?: number }} limit a number is max tensors per shard
   * @returns {string[]} the shard paths in order
   */
  writeSplit(pathPrefix, limit) {
    const { maxTensors = Infinity, maxBytes = Infinity } = typeof limit === 'number' ? { maxTensors: limit } : limit ?? {};
    if (!(maxTensors >= 1) || !(maxBytes >= 1)) throw new Error('gguf-writer: writeSplit needs maxTensors >= 1 or maxBytes >= 1');
    /** @type {PendingTensor[][]} */
    const groups = [[]];
    let bytes = 0;
    for (const t of this.tensors) {
      let g = groups[groups.length - 1];
      if (g.length > 0 && (g.length >= maxTensors || bytes + t.nBytes > maxBytes)) {
        g = [];
        groups.push(g);
        bytes = 0;
      }
      g.push(t);
      bytes += t.nBytes;
    }
    const count = groups.length;
    const pad5 = (n) => String(n).padStart(5, '0');
    const paths = [];
    groups.forEach((g, i) => {
      const kv = new Map();
      kv.set('split.no', { type: VT.UINT16, value: i });
      kv.set('split.count', { type: VT.UINT16, value: count });
      kv.set('split.tensors.count', { type: VT.INT32, value: this.tensors.length });
      if (i === 0) for (const [k, v] of this.kv) if (!k.startsWith('split.')) kv.set(k, v);
      const path = `${pathPrefix}-${pad5(i + 1)}-of-${pad5(count)}.gguf`;
      this.#writeFile(path, kv, g);
      paths.push(path);
    });
    return paths;
  }
}

/** Element type for an array value as web/gguf.js parses it. */
function arrayTypeOfParsed(value) {
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'string') return VT.STRING;
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'boolean') return VT.BOOL;
  return inferElementType(value);
}

/** @param {ByteSink} s */
function writeValue(s, type, value, elementType, key) {
  if (type === VT.STRING) {
    if (typeof value !== 'string') throw new Error(`gguf-writer: key ${key}: string expected`);
    s.str(value);
    return;
  }
  if (type === VT.ARRAY) {
    s.u32(elementType);
    s.u64(value.length);
    for (const v of value) {
      if (elementType === VT.STRING) s.str(v);
      else if (elementType === VT.ARRAY) {
        const inner = v && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'values' in v ? v : { type: inferElementType(v), values: v };
        writeValue(s, VT.ARRAY, inner.values, inner.type, key);
      } else s.scalar(elementType, v);
    }
    return;
  }
  s.scalar(type, value);
}

/** @param {number} fd @param {Uint8Array} bytes */
function writeAll(fd, bytes) {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}
