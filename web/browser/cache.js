/**
 * Persists downloaded shards with the Cache API, keyed by their URL, so the
 * next visit downloads nothing. An entry is written in one cache.put() whose
 * body streams from wasm memory: the put commits only when the whole body
 * arrived, so a failure (quota, abort) leaves no half-written entry.
 * Also the cache manager: list, sizes, delete, clear.
 */
import { WasmllmError } from '../errors.js';

export const DEFAULT_CACHE_NAME = 'wasmllm-shards-v1';
const SIZE_HEADER = 'x-wasmllm-size';
const TIME_HEADER = 'x-wasmllm-cached-at';
const SHA_HEADER = 'x-wasmllm-sha256';

/**
 * @typedef {{ url: string, size: number, cachedAt: string | null, sha256: string | null }} CacheEntry
 * @typedef {object} ShardCacheOptions
 * @property {CacheStorage} [storage]  default globalThis.caches (a wrapper in tests)
 * @property {string} [name]           cache name, default 'wasmllm-shards-v1'
 * @property {number} [maxBytes]       refuse to grow the cache past this many bytes (ERR_QUOTA)
 */

export class ShardCache {
  /** @param {ShardCacheOptions} [options] */
  constructor(options = {}) {
    this.storage = options.storage ?? globalThis.caches;
    this.name = options.name ?? DEFAULT_CACHE_NAME;
    this.maxBytes = options.maxBytes;
    /** @type {Promise<Cache> | null} */
    this.opened = null;
  }

  /** Whether this host has the Cache API (not in opaque origins or some private modes). */
  get available() {
    return !!this.storage && typeof this.storage.open === 'function';
  }

  /** @returns {Promise<Cache>} */
  async #cache() {
    if (!this.available) throw new WasmllmError('ERR_CACHE', 'the Cache API is not available in this context');
    this.opened ??= this.storage.open(this.name);
    return this.opened;
  }

  /**
   * A complete cached shard, or null.
   * @param {string} url
   * @returns {Promise<{ size: number, sha256: string | null, body: ReadableStream<Uint8Array> } | null>}
   */
  async match(url) {
    if (!this.available) return null;
    const response = await (await this.#cache()).match(url);
    if (!response?.body) return null;
    const size = Number(response.headers.get(SIZE_HEADER));
    if (!Number.isSafeInteger(size)) {
      await this.delete(url);
      return null;
    }
    return { size, sha256: response.headers.get(SHA_HEADER), body: response.body };
  }

  /**
   * Stores one shard whose bytes come from `read(offset, n)` (copies of at most n bytes).
   * @param {string} url
   * @param {number} size
   * @param {(offset: number, n: number) => Uint8Array} read
   * @param {{ sha256?: string | null }} [meta]
   */
  async put(url, size, read, meta = {}) {
    const cache = await this.#cache();
    if (this.maxBytes !== undefined) {
      const used = (await this.list()).filter((e) => e.url !== url).reduce((n, e) => n + e.size, 0);
      if (used + size > this.maxBytes) {
        throw new WasmllmError('ERR_QUOTA', `storage quota exceeded: caching ${url} (${formatBytes(size)}) would need ${formatBytes(used + size)}, the cache may hold ${formatBytes(this.maxBytes)}`);
      }
    }
    // Ask first: a put that cannot fit would stream the whole shard only to be refused.
    const estimate = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
    if (estimate?.quota && estimate.usage !== undefined && estimate.usage + size > estimate.quota) {
      throw new WasmllmError('ERR_QUOTA', `storage quota exceeded: caching ${url} (${formatBytes(size)}) needs more than the ${formatBytes(estimate.quota - estimate.usage)} this site may still store; the model still runs but will download again next time`);
    }
    const CHUNK = 1 << 20;
    let offset = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (offset >= size) { controller.close(); return; }
        const chunk = read(offset, Math.min(CHUNK, size - offset));
        offset += chunk.length;
        controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      [SIZE_HEADER]: String(size),
      [TIME_HEADER]: new Date().toISOString(),
    };
    if (meta.sha256) headers[SHA_HEADER] = meta.sha256;
    try {
      await cache.put(url, new Response(body, { headers }));
    } catch (e) {
      // put() is all or nothing, but make sure no entry survives a failure.
      await cache.delete(url).catch(() => {});
      if (e?.name === 'QuotaExceededError') {
        throw new WasmllmError('ERR_QUOTA', `storage quota exceeded: the browser refused to cache ${url} (${formatBytes(size)}); the model still runs but will download again next time`, { cause: e });
      }
      throw new WasmllmError('ERR_CACHE', `could not cache ${url}: ${e?.message ?? e}`, { cause: e });
    }
  }

  /** @returns {Promise<CacheEntry[]>} */
  async list() {
    if (!this.available) return [];
    const cache = await this.#cache();
    const out = [];
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      if (!response) continue;
      out.push({
        url: request.url,
        size: Number(response.headers.get(SIZE_HEADER)) || 0,
        cachedAt: response.headers.get(TIME_HEADER),
        sha256: response.headers.get(SHA_HEADER),
      });
      response.body?.cancel().catch(() => {});
    }
    return out;
  }

  /** Total bytes of cached shards, and the origin's storage estimate when the host gives one. */
  async usage() {
    const entries = await this.list();
    const estimate = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
    return {
      entries: entries.length,
      bytes: entries.reduce((n, e) => n + e.size, 0),
      originUsage: estimate?.usage ?? null,
      originQuota: estimate?.quota ?? null,
    };
  }

  /** @param {string} url @returns {Promise<boolean>} whether an entry was deleted */
  async delete(url) {
    if (!this.available) return false;
    return (await this.#cache()).delete(url);
  }

  /** Deletes every cached shard. */
  async clear() {
    if (!this.available) return false;
    this.opened = null;
    return this.storage.delete(this.name);
  }
}

/** @param {number} n */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
