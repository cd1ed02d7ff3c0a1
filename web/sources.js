/**
 * Turns what the caller gave us (a path, a URL, bytes, a Blob, or an array of
 * shards) into GGUF bytes inside the wasm heap, one heap buffer per shard.
 * Bytes are streamed chunk by chunk straight into the heap: a multi-GB model
 * never exists as a second full copy in JS memory.
 */
import { WasmllmError } from './errors.js';
import { parseGGUF, readGGUFHeader, NeedMoreBytes } from './gguf.js';

const CHUNK = 4 << 20;
/** wasm32's heap limit (-sMAXIMUM_MEMORY=4GB, less the last page). */
const MAX_HEAP_BYTES = 4294901760;
const SHARD_RE = /-(\d{5})-of-(\d{5})\.gguf$/;

/**
 * @typedef {import('./gguf.js').GGUFHeader} GGUFHeader
 * @typedef {{ name: string, size: number | undefined,
 *   readPrefix?: (n: number) => Promise<Uint8Array>,
 *   stream: (write: (chunk: Uint8Array) => void, signal?: AbortSignal) => Promise<void> }} Opened
 * @typedef {{ name: string, ptr: number, size: number, header: GGUFHeader }} HeapShard
 * @typedef {{ loaded: number, total: number | undefined, shard: number, shards: number }} Progress
 */

/**
 * Splits a source into one entry per shard. A single path or URL naming the
 * first shard of a gguf-split set (`NAME-00001-of-0000N.gguf`) expands to all N.
 * @param {any} source
 * @returns {any[]}
 */
export function expandSources(source) {
  if (Array.isArray(source)) {
    if (source.length === 0) throw new WasmllmError('ERR_BAD_ARG', 'an empty array of shards was given');
    return source;
  }
  const name = typeof source === 'string' ? source : source instanceof URL ? source.href : null;
  const m = name ? SHARD_RE.exec(name) : null;
  if (m && Number(m[1]) === 1 && Number(m[2]) > 1) {
    const count = Number(m[2]);
    const prefix = name.slice(0, m.index);
    const names = [];
    for (let i = 1; i <= count; i++) {
      names.push(`${prefix}-${String(i).padStart(5, '0')}-of-${m[2]}.gguf`);
    }
    return names;
  }
  return [source];
}

/**
 * @typedef {(path: string | URL) => Promise<Opened>} OpenPath
 *   opens a file path or file: URL; only the Node host has one (web/node/files.js)
 */

/**
 * @param {any} source one shard: path, URL, ArrayBuffer, typed array, Blob/File
 * @param {AbortSignal} [signal]
 * @param {OpenPath} [openPath] how to read files (absent: paths are refused)
 * @returns {Promise<Opened>}
 */
export async function openSource(source, signal, openPath) {
  if (typeof source === 'string') {
    if (/^(https?|blob|data):/i.test(source)) return openUrl(source, signal);
    return openFile(source, openPath);
  }
  if (source instanceof URL) {
    if (source.protocol === 'file:') return openFile(source, openPath);
    return openUrl(source.href, signal);
  }
  if (source instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && source instanceof SharedArrayBuffer)) {
    return openBytes(new Uint8Array(source), 'ArrayBuffer');
  }
  if (ArrayBuffer.isView(source)) {
    return openBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), source.constructor.name);
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) return openBlob(source);
  // A fetch() answer or a bucket object's body (edge workers): streamed, never buffered whole.
  if (typeof Response !== 'undefined' && source instanceof Response) return openResponse(source, source.url || 'Response', signal);
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return openStream(source, 'ReadableStream', undefined, signal);
  throw new WasmllmError('ERR_BAD_ARG', `cannot load a model from ${describe(source)}: give a path, URL, ArrayBuffer, Uint8Array, Blob, Response, ReadableStream or an array of them`);
}

/** @param {string | URL} path @param {OpenPath} [openPath] */
function openFile(path, openPath) {
  if (!openPath) throw new WasmllmError('ERR_BAD_ARG', `file paths work only in Node; fetch ${path} by URL instead`);
  return openPath(path);
}

/** @param {any} v */
function describe(v) {
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object of type ${v.constructor?.name ?? 'Object'}`;
  return `a ${typeof v}`;
}

/** @param {Uint8Array} bytes @param {string} name @returns {Opened} */
function openBytes(bytes, name) {
  return {
    name,
    size: bytes.length,
    readPrefix: async (n) => bytes.slice(0, n),
    stream: async (write) => {
      for (let pos = 0; pos < bytes.length; pos += CHUNK) write(bytes.subarray(pos, pos + CHUNK));
    },
  };
}

/** @param {Blob} blob @returns {Opened} */
function openBlob(blob) {
  return {
    name: /** @type {any} */ (blob).name || 'Blob',
    size: blob.size,
    readPrefix: async (n) => new Uint8Array(await blob.slice(0, n).arrayBuffer()),
    stream: async (write, signal) => {
      const reader = blob.stream().getReader();
      try {
        for (;;) {
          signal?.throwIfAborted();
          const { done, value } = await reader.read();
          if (done) break;
          write(value);
        }
      } finally {
        reader.releaseLock();
      }
    },
  };
}

/** @param {string} url @param {AbortSignal} [signal] @returns {Promise<Opened>} */
async function openUrl(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw abortError(signal);
    throw new WasmllmError('ERR_FETCH', `could not fetch ${url}: ${e?.cause?.message ?? e?.message ?? e}`, { cause: e });
  }
  return openResponse(response, url, signal);
}

/** @param {Response} response @param {string} name @param {AbortSignal} [signal] @returns {Opened} */
function openResponse(response, name, signal) {
  if (!response.ok || !response.body) {
    throw new WasmllmError('ERR_FETCH', `could not fetch ${name}: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  const length = Number(response.headers.get('content-length'));
  // A compressed response's Content-Length counts compressed bytes: don't trust it then.
  const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const size = Number.isSafeInteger(length) && length > 0 && !encoded ? length : undefined;
  return openStream(response.body, name, size, signal);
}

/**
 * @param {ReadableStream<Uint8Array>} body @param {string} name
 * @param {number | undefined} size known length, if any @param {AbortSignal} [signal]
 * @returns {Opened}
 */
function openStream(body, name, size, signal) {
  return {
    name,
    size,
    stream: async (write) => {
      const reader = body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          write(value);
        }
      } catch (e) {
        if (signal?.aborted) throw abortError(signal);
        if (e instanceof WasmllmError) throw e;
        throw new WasmllmError('ERR_FETCH', `download of ${name} failed: ${e?.message ?? e}`, { cause: e });
      }
    },
  };
}

/** @param {AbortSignal} signal */
export function abortError(signal) {
  const reason = signal.reason;
  if (reason instanceof WasmllmError) return reason;
  return new WasmllmError('ERR_ABORTED', `aborted${reason?.message ? `: ${reason.message}` : ''}`, { cause: reason });
}

/**
 * A growable byte buffer in the wasm heap. When the final size is unknown
 * (a URL without Content-Length) it doubles by moving bytes inside the heap.
 */
class HeapBuffer {
  /** @param {import('./wasm-loader.js').WasmInstance} wasm @param {string} name @param {number} capacity */
  constructor(wasm, name, capacity) {
    this.wasm = wasm;
    this.name = name;
    this.size = 0;
    this.capacity = 0;
    this.ptr = 0;
    this.reserve(Math.max(capacity, 1));
  }

  /** @param {number} capacity */
  reserve(capacity) {
    if (capacity <= this.capacity) return;
    if (capacity > MAX_HEAP_BYTES) {
      // wasm32 sizes are 32-bit: asking wl_alloc for more would wrap around.
      throw new WasmllmError('ERR_OOM', `${this.name} needs ${capacity} bytes but the wasm heap holds at most ${MAX_HEAP_BYTES} bytes (4 GiB) in all`);
    }
    const M = this.wasm.module;
    const ptr = M._wl_alloc(capacity) >>> 0; // unsigned: pointers past 2 GiB come back negative
    if (!ptr) {
      const heap = this.wasm.heapU8().length;
      throw new WasmllmError('ERR_OOM', `cannot allocate ${capacity} bytes in the wasm heap for ${this.name} (heap is ${heap} bytes, at most 4 GiB)`);
    }
    if (this.ptr) {
      const heap = this.wasm.heapU8(); // fetched after the allocation: growth replaces the buffer
      heap.copyWithin(ptr, this.ptr, this.ptr + this.size);
      M._wl_free(this.ptr);
    }
    this.ptr = ptr;
    this.capacity = capacity;
  }

  /** @param {Uint8Array} chunk */
  append(chunk) {
    if (this.size + chunk.length > this.capacity) this.reserve(Math.max(this.size + chunk.length, this.capacity * 2));
    this.wasm.heapU8().set(chunk, this.ptr + this.size);
    this.size += chunk.length;
  }

  free() {
    if (this.ptr) this.wasm.module._wl_free(this.ptr);
    this.ptr = 0;
  }
}

/**
 * Reads just the GGUF header(s) of a source, without wasm: enough for the
 * tokenizer, `wasmllm info` and `wasmllm tokenize`. `packStrings`: string
 * arrays as GGUFStringArray (see parseGGUF).
 * @param {any} source
 * @param {{ signal?: AbortSignal, allowNoData?: boolean, packStrings?: boolean, openPath?: OpenPath }} [options]
 * @returns {Promise<{ name: string, size: number, header: GGUFHeader }[]>}
 */
export async function readHeaders(source, options = {}) {
  const out = [];
  for (const one of expandSources(source)) {
    const opened = await openSource(one, options.signal, options.openPath);
    if (opened.readPrefix && opened.size !== undefined) {
      const header = await readGGUFHeader(opened.readPrefix, opened.size, { allowNoData: options.allowNoData, packStrings: options.packStrings });
      out.push({ name: opened.name, size: opened.size, header });
    } else {
      // A URL without a known size: the whole body is needed to check it anyway.
      const chunks = [];
      let size = 0;
      await opened.stream((c) => { chunks.push(c.slice()); size += c.length; }, options.signal);
      const bytes = new Uint8Array(size);
      let pos = 0;
      for (const c of chunks) { bytes.set(c, pos); pos += c.length; }
      out.push({ name: opened.name, size, header: parseGGUF(bytes, { allowNoData: options.allowNoData, packStrings: options.packStrings }) });
    }
  }
  return out;
}

/** Size of the header check before a shard is read (most headers fit). */
const PROBE_BYTES = 1 << 20;

/**
 * A shard's header if its first PROBE_BYTES hold all of it, else null; throws
 * for what those bytes already show is wrong.
 * @param {Opened} o (with readPrefix and size)
 * @returns {Promise<GGUFHeader | null>}
 */
async function probeHeader(o) {
  const size = /** @type {number} */ (o.size);
  const bytes = await /** @type {(n: number) => Promise<Uint8Array>} */ (o.readPrefix)(Math.min(size, PROBE_BYTES));
  try {
    return parseGGUF(bytes, { totalSize: size, packStrings: true });
  } catch (e) {
    if (e instanceof NeedMoreBytes) return null;
    throw e;
  }
}

/**
 * Streams every shard of `source` into its own heap buffer and parses each
 * header in JS. On failure every buffer allocated so far is freed.
 * @param {any} source
 * @param {import('./wasm-loader.js').WasmInstance} wasm
 * @param {{ signal?: AbortSignal, onProgress?: (p: Progress) => void, openPath?: OpenPath,
 *   loadShards?: (source: any, wasm: import('./wasm-loader.js').WasmInstance, options: object) => Promise<HeapShard[]> }} [options]
 *   loadShards replaces this function's body (it must free what it allocated when it fails)
 * @returns {Promise<HeapShard[]>}
 */
export async function loadIntoHeap(source, wasm, options = {}) {
  // The browser host (web/download.js) fills the heap itself: parallel ranged
  // downloads, cache reads and resumed transfers do not fit this loop.
  if (typeof options.loadShards === 'function') return options.loadShards(source, wasm, options);
  const { signal, onProgress } = options;
  const list = expandSources(source);
  const opened = [];
  for (const one of list) {
    signal?.throwIfAborted();
    opened.push(await openSource(one, signal, options.openPath));
  }
  // Check what we can before allocating anything (a bad file fails fast): the
  // first MB, which holds a whole header unless the vocabulary is large. A
  // longer header is parsed from the heap once the shard is in it, in place:
  // growing prefix reads would each be a buffer of up to its size, garbage that
  // lingers until collected (issue #4, peak memory). The model keeps these
  // headers as its metadata, so string arrays stay packed.
  const headers = [];
  for (const o of opened) {
    headers.push(o.readPrefix && o.size !== undefined ? await probeHeader(o) : null);
  }
  const known = opened.every((o) => o.size !== undefined);
  const total = known ? opened.reduce((s, o) => s + o.size, 0) : undefined;
  // Shards that together cannot fit are refused before any is read into the heap.
  if (total !== undefined && total > MAX_HEAP_BYTES) {
    const what = opened.length === 1 ? `${opened[0].name} holds` : `the ${opened.length} shards hold`;
    throw new WasmllmError('ERR_OOM', `${what} ${total} bytes but the wasm heap holds at most ${MAX_HEAP_BYTES} bytes (4 GiB) in all`);
  }
  let loaded = 0;
  const buffers = [];
  try {
    for (let i = 0; i < opened.length; i++) {
      const o = opened[i];
      const buf = new HeapBuffer(wasm, o.name, o.size ?? 16 << 20);
      buffers.push(buf);
      await o.stream((chunk) => {
        if (o.size !== undefined && buf.size + chunk.length > o.size) {
          throw new WasmllmError('ERR_FETCH', `${o.name} sent more than its ${o.size} bytes`);
        }
        buf.append(chunk);
        loaded += chunk.length;
        onProgress?.({ loaded, total, shard: i, shards: opened.length });
      }, signal);
      signal?.throwIfAborted();
      if (o.size !== undefined && buf.size !== o.size) {
        throw new WasmllmError(o.readPrefix ? 'ERR_TRUNCATED' : 'ERR_FETCH', `${o.name}: got ${buf.size} of ${o.size} bytes`);
      }
      // The whole shard is in the heap: parse its header there (parseGGUF copies what it keeps).
      headers[i] ??= parseGGUF(wasm.heapU8().subarray(buf.ptr, buf.ptr + buf.size), { packStrings: true });
    }
  } catch (e) {
    for (const b of buffers) b.free();
    if (signal?.aborted) throw abortError(signal);
    throw e;
  }
  return buffers.map((b, i) => ({ name: b.name, ptr: b.ptr, size: b.size, header: headers[i] }));
}
