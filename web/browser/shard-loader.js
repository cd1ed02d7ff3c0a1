/**
 * Fills the wasm heap with a model's shards in a browser (or worker): cached
 * shards stream from the Cache API, the rest download in parallel with
 * resume and retries (web/download.js), local Files stream from disk. Every
 * byte goes straight into its shard's heap buffer. Plugs into loadModel()
 * through the `loadShards` option of web/sources.js.
 */
import { WasmllmError } from '../errors.js';
import { parseGGUF } from '../gguf.js';
import { expandSources, openSource, abortError } from '../sources.js';
import { downloadToSink, runLimited } from '../download.js';
import { isHfSource, resolveHfShards } from '../hf.js';
import { ShardCache, formatBytes } from './cache.js';

/** wasm32 memory tops out at 4 GiB (-sMAXIMUM_MEMORY=4GB, less the last 64 KiB page). */
export const MAX_HEAP_BYTES = 4294901760;
/** One allocation in the wasm heap stays under 2 GiB (Emscripten's sbrk takes a signed 32-bit step). */
export const MAX_SHARD_BYTES = 2 ** 31 - 1;
const PROGRESS_INTERVAL_MS = 100;

/**
 * @typedef {{ kind: 'url', url: string, sha256?: string } | { kind: 'local', source: any, name: string }} Entry
 * @typedef {{ name: string, url: string | null, loaded: number, total: number | undefined, fromCache: boolean, done: boolean }} ShardProgress
 * @typedef {{ loaded: number, total: number | undefined, shard: number, shards: number, perShard: ShardProgress[], phase: 'download' }} LoadProgress
 *
 * @typedef {object} ShardLoaderOptions
 * @property {number} [parallel]      shards downloading at once (default 3)
 * @property {number} [retries]       see web/download.js (default 4)
 * @property {number} [retryDelayMs]  see web/download.js (default 500)
 * @property {boolean | { maxBytes?: number, name?: string }} [cache]  default true when the Cache API exists
 * @property {ShardCache} [shardCache] a ready cache (tests pass one with a wrapped storage)
 * @property {string} [hfEndpoint]    default https://huggingface.co
 * @property {typeof fetch} [fetch]
 * @property {(w: WasmllmError) => void} [onWarning]  non-fatal problems: the cache could not be written
 *   (ERR_QUOTA, ERR_CACHE), a download failed and will be retried (ERR_FETCH, "retry N of M in T")
 */

/**
 * One model's shard buffer in the wasm heap; grows (by moving) only when
 * the size was not announced.
 */
class HeapShard {
  /** @param {import('../wasm-loader.js').WasmInstance} wasm @param {string} name */
  constructor(wasm, name) {
    this.wasm = wasm;
    this.name = name;
    this.ptr = 0;
    this.capacity = 0;
    this.size = 0;
    /** @type {number | undefined} */
    this.expected = undefined;
    /** @type {string | null} hex digest when one was checked */
    this.sha256 = null;
  }

  /** @param {number | undefined} size */
  begin(size) {
    this.expected = size;
    this.size = 0;
    if (!this.ptr) this.#reserve(size ?? 16 << 20);
  }

  #reserve(capacity) {
    if (capacity > MAX_HEAP_BYTES) {
      throw new WasmllmError('ERR_OOM', `${this.name} is ${formatBytes(capacity)}: more than the 4 GiB a wasm32 heap can hold`);
    }
    const M = this.wasm.module;
    const ptr = M._wl_alloc(Math.max(1, capacity)) >>> 0; // unsigned: pointers past 2 GiB read negative
    if (!ptr) {
      if (capacity > MAX_SHARD_BYTES) {
        throw new WasmllmError('ERR_OOM', `${this.name} is ${formatBytes(capacity)}: the wasm heap cannot hold one block over 2 GiB (its allocator grows by signed 32-bit steps); split the model into shards under 2 GiB (llama-gguf-split --split-max-size 1G) — all shards together may use up to 4 GiB`);
      }
      throw new WasmllmError('ERR_OOM', `cannot allocate ${formatBytes(capacity)} for ${this.name}: the wasm heap is ${formatBytes(this.wasm.heapU8().length)} and cannot grow past 4 GiB (or the browser refused more memory)`);
    }
    if (this.ptr) {
      this.wasm.heapU8().copyWithin(ptr, this.ptr, this.ptr + this.size);
      M._wl_free(this.ptr);
    }
    this.ptr = ptr;
    this.capacity = capacity;
  }

  /** @param {Uint8Array} chunk */
  write(chunk) {
    if (this.size === 0 && chunk.length > 0) checkMagic(chunk, this.name);
    const end = this.size + chunk.length;
    if (this.expected !== undefined && end > this.expected) {
      throw new WasmllmError('ERR_FETCH', `${this.name} sent more than its ${this.expected} bytes`);
    }
    if (end > this.capacity) this.#reserve(Math.max(end, Math.min(MAX_HEAP_BYTES, this.capacity * 2)));
    this.wasm.heapU8().set(chunk, this.ptr + this.size);
    this.size = end;
  }

  /** The shard's bytes in the heap, not copied (valid until the heap next grows). */
  view() {
    return this.wasm.heapU8().subarray(this.ptr, this.ptr + this.size);
  }

  /** A copy (shared memory cannot be cached directly) of [offset, offset + n). */
  read(offset, n) {
    const start = this.ptr + offset;
    return this.wasm.heapU8().slice(start, start + Math.min(n, this.size - offset));
  }

  free() {
    if (this.ptr) this.wasm.module._wl_free(this.ptr);
    this.ptr = 0;
  }
}

/**
 * Fails on the first chunk when a file cannot be GGUF, before the rest downloads.
 * @param {Uint8Array} first @param {string} name
 */
function checkMagic(first, name) {
  const want = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
  const n = Math.min(4, first.length);
  for (let i = 0; i < n; i++) {
    if (first[i] !== want[i]) {
      const text = new TextDecoder('utf-8').decode(first.subarray(0, 64)).trimStart();
      const html = /^<(!doctype|html|head|body)/i.test(text);
      const shown = JSON.stringify(text.slice(0, 16).replace(/[^\x20-\x7e]/g, '.'));
      throw new WasmllmError('ERR_BAD_MAGIC', html
        ? `${name} is an HTML page, not a GGUF model (check the URL)`
        : `${name} is not a GGUF file: it starts with ${shown} instead of "GGUF"`);
    }
  }
}

/**
 * @param {any} source
 * @param {ShardLoaderOptions & { signal?: AbortSignal }} options
 * @returns {Promise<Entry[]>}
 */
async function resolveEntries(source, options) {
  const list = Array.isArray(source) ? source : [source];
  if (list.length === 0) throw new WasmllmError('ERR_BAD_ARG', 'an empty array of shards was given');
  /** @type {Entry[]} */
  const out = [];
  for (const one of list) {
    if (isHfSource(one)) {
      const urls = await resolveHfShards({ endpoint: options.hfEndpoint, ...one }, options);
      for (const url of urls) out.push({ kind: 'url', url });
    } else if (one && typeof one === 'object' && typeof one.url === 'string') {
      out.push({ kind: 'url', url: one.url, sha256: one.sha256 });
    } else if (typeof one === 'string' || one instanceof URL) {
      const s = String(one);
      if (!/^(https?|blob|data):/i.test(s)) {
        throw new WasmllmError('ERR_BAD_ARG', `"${s}" is not an absolute URL (the browser host resolves relative URLs against the page)`);
      }
      // One URL naming the first of a gguf-split set stands for all of them; in a list, each is one shard.
      for (const url of Array.isArray(source) ? [s] : expandSources(s)) out.push({ kind: 'url', url });
    } else {
      out.push({ kind: 'local', source: one, name: one?.name || one?.constructor?.name || 'bytes' });
    }
  }
  return out;
}

/**
 * @param {ShardLoaderOptions} [options]
 */
export function createShardLoader(options = {}) {
  const cacheOption = options.cache ?? true;
  const cache = options.shardCache ?? (cacheOption
    ? new ShardCache(typeof cacheOption === 'object' ? cacheOption : {})
    : null);
  const useCache = !!cache?.available;
  /** @type {{ shard: HeapShard, url: string, sha256: string | null }[]} shards downloaded, not yet cached */
  let toCache = [];
  /** What happened per shard, for the caller's report. */
  const report = { fromCache: 0, downloaded: 0, bytesDownloaded: 0, resumed: 0, requests: 0 };

  /** Stores downloaded shards in the cache; a failure is a warning, not a load failure. */
  async function commitToCache() {
    const pending = toCache;
    toCache = [];
    for (const { shard, url, sha256 } of pending) {
      if (!shard.ptr) continue;
      try {
        await cache.put(url, shard.size, (offset, n) => shard.read(offset, n), { sha256 });
      } catch (e) {
        const w = e instanceof WasmllmError ? e : new WasmllmError('ERR_CACHE', String(e?.message ?? e));
        options.onWarning?.(w);
        if (w.code === 'ERR_QUOTA') break; // the others would fail the same way
      }
    }
  }

  /** @param {import('../download.js').RetryInfo} r */
  function warnRetry(r) {
    options.onWarning?.(new WasmllmError('ERR_FETCH',
      `${r.url}: ${r.reason}; retry ${r.attempt} of ${r.retries} in ${r.delayMs < 1000 ? `${r.delayMs} ms` : `${(r.delayMs / 1000).toFixed(1)} s`}`));
  }

  /**
   * The `loadShards` hook of web/sources.js.
   * @param {any} source
   * @param {import('../wasm-loader.js').WasmInstance} wasm
   * @param {{ signal?: AbortSignal, onProgress?: (p: LoadProgress) => void }} loadOptions
   */
  async function loadShards(source, wasm, loadOptions) {
    const { signal, onProgress } = loadOptions;
    const entries = await resolveEntries(source, { ...options, signal });
    /** @type {ShardProgress[]} */
    const perShard = entries.map((e) => ({
      name: e.kind === 'url' ? e.url : e.name, url: e.kind === 'url' ? e.url : null,
      loaded: 0, total: undefined, fromCache: false, done: false,
    }));
    let lastEmit = 0;
    const emit = (shard, force) => {
      const t = Date.now();
      if (!onProgress || (!force && t - lastEmit < PROGRESS_INTERVAL_MS)) return;
      lastEmit = t;
      const known = perShard.every((p) => p.total !== undefined);
      onProgress({
        loaded: perShard.reduce((n, p) => n + p.loaded, 0),
        total: known ? perShard.reduce((n, p) => n + p.total, 0) : undefined,
        shard, shards: entries.length, perShard: perShard.map((p) => ({ ...p })), phase: 'download',
      });
    };
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    /** @type {HeapShard[]} */
    const buffers = entries.map((e, i) => new HeapShard(wasm, perShard[i].name));
    const headers = new Array(entries.length);

    const loadOne = async (i) => {
      const entry = entries[i];
      const buf = buffers[i];
      const p = perShard[i];
      const sink = {
        begin: (size) => {
          p.total = size;
          // Shards that together cannot fit fail as soon as their sizes are known, not at the last one.
          const known = perShard.reduce((n, q) => n + (q.total ?? 0), 0);
          if (known > MAX_HEAP_BYTES) {
            throw new WasmllmError('ERR_OOM', `the model's shards hold ${formatBytes(known)} or more: past the 4 GiB a wasm32 heap can hold`);
          }
          buf.begin(size);
          emit(i, true);
        },
        write: (chunk) => { buf.write(chunk); p.loaded = buf.size; emit(i, false); },
      };
      if (entry.kind === 'url') {
        const hit = useCache && /^https?:/i.test(entry.url) ? await cache.match(entry.url).catch(() => null) : null;
        let fromCache = false;
        if (hit) fromCache = await readCached(hit, sink, buf, controller.signal);
        if (fromCache) {
          p.fromCache = true;
          report.fromCache++;
        } else {
          if (hit) await cache.delete(entry.url).catch(() => {});
          const r = await downloadToSink(entry.url, sink, {
            signal: controller.signal, retries: options.retries, retryDelayMs: options.retryDelayMs,
            sha256: entry.sha256, fetch: options.fetch, onRetry: warnRetry,
          });
          report.downloaded++;
          report.bytesDownloaded += r.size;
          report.resumed += r.resumed;
          report.requests += r.requests;
          buf.sha256 = r.sha256;
        }
      } else {
        const opened = await openSource(entry.source, controller.signal);
        sink.begin(opened.size);
        await opened.stream(sink.write, controller.signal);
        if (opened.size !== undefined && buf.size !== opened.size) {
          throw new WasmllmError('ERR_TRUNCATED', `${buf.name}: read ${buf.size} of ${opened.size} bytes`);
        }
      }
      try {
        // In place (parseGGUF copies what it keeps), packed: it becomes the model's metadata.
        headers[i] = parseGGUF(buf.view(), { packStrings: true });
      } catch (e) {
        if (e instanceof WasmllmError) throw new WasmllmError(e.code, `${buf.name}: ${e.message}`, { cause: e });
        throw e;
      }
      p.done = true;
      emit(i, true);
      if (entry.kind === 'url' && !p.fromCache && useCache && /^https?:/i.test(entry.url)) {
        toCache.push({ shard: buf, url: entry.url, sha256: buf.sha256 ?? null });
      }
    };

    try {
      await runLimited(entries.map((_, i) => () => loadOne(i)), options.parallel ?? 3, controller);
    } catch (e) {
      // Shards that arrived whole are kept: the next attempt resumes from them.
      const complete = new Set(perShard.map((p, i) => (p.done ? buffers[i] : null)).filter(Boolean));
      toCache = toCache.filter((t) => complete.has(t.shard));
      const saved = useCache && !isModelError(e) ? commitToCache() : Promise.resolve();
      await saved.catch(() => {});
      toCache = [];
      for (const b of buffers) b.free();
      if (signal?.aborted) throw abortError(signal);
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return buffers.map((b, i) => ({ name: b.name, ptr: b.ptr, size: b.size, header: headers[i] }));
  }

  return {
    loadShards,
    /** Call after the model loaded: caches what was downloaded (a set that fails to load is not cached). */
    commitToCache,
    /** Drops the pending cache writes (the model failed to load). */
    discard() { toCache = []; },
    report,
    cache: useCache ? cache : null,
  };
}

/** Errors that say the files are wrong, not that the transfer failed: such files are not worth caching. */
function isModelError(e) {
  return e instanceof WasmllmError && !['ERR_FETCH', 'ERR_ABORTED', 'ERR_OOM'].includes(e.code);
}

/**
 * Streams a cached shard into the heap. Returns false (and resets the
 * sink) when the entry turns out shorter or longer than recorded.
 */
async function readCached(hit, sink, buf, signal) {
  const reader = hit.body.getReader();
  try {
    sink.begin(hit.size);
    for (;;) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      if (buf.size + value.length > hit.size) return false;
      sink.write(value);
    }
    return buf.size === hit.size;
  } catch (e) {
    if (signal.aborted || e instanceof WasmllmError) throw e;
    return false;
  } finally {
    reader.releaseLock();
  }
}
