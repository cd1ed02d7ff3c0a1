/**
 * Hugging Face Hub sources: `{ repo, file, revision }` -> resolve URLs.
 * A model split with gguf-split is found from its first shard: the header's
 * `split.count` says how many files there are, and their names follow
 * llama.cpp's `NAME-0000k-of-0000N.gguf` rule.
 */
import { WasmllmError } from './errors.js';
import { readGGUFHeader } from './gguf.js';
import { parseContentRange } from './download.js';

export const HF_ENDPOINT = 'https://huggingface.co';
const SHARD_RE = /-(\d{5})-of-(\d{5})\.gguf$/;

/**
 * @typedef {{ repo: string, file: string, revision?: string, endpoint?: string }} HfSource
 */

/** @param {any} v @returns {v is HfSource} */
export function isHfSource(v) {
  return !!v && typeof v === 'object' && typeof v.repo === 'string' && typeof v.file === 'string';
}

/**
 * The resolve URL of one file.
 * @param {HfSource} source
 */
export function hfFileUrl(source) {
  const { repo, file } = source;
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new WasmllmError('ERR_BAD_ARG', `"${repo}" is not a Hugging Face repo id (owner/name)`);
  }
  if (!file || file.startsWith('/') || file.split('/').includes('..')) {
    throw new WasmllmError('ERR_BAD_ARG', `"${file}" is not a file path inside a repo`);
  }
  const endpoint = (source.endpoint ?? HF_ENDPOINT).replace(/\/+$/, '');
  const revision = encodeURIComponent(source.revision ?? 'main');
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repo}/resolve/${revision}/${path}`;
}

/**
 * All shard URLs of a Hub model, in order. Reads the first file's GGUF
 * header with Range requests (about 1 MB, more if the header is larger).
 * @param {HfSource} source
 * @param {{ signal?: AbortSignal, fetch?: typeof fetch }} [options]
 * @returns {Promise<string[]>}
 */
export async function resolveHfShards(source, options = {}) {
  const first = hfFileUrl(source);
  const header = await readRemoteHeader(first, options);
  const count = Number(header.metadata.get('split.count') ?? 1);
  if (!Number.isInteger(count) || count < 1) {
    throw new WasmllmError('ERR_SHARDS', `${first}: split.count is ${count}`);
  }
  const no = Number(header.metadata.get('split.no') ?? 0);
  if (count === 1) return [first];
  const m = SHARD_RE.exec(source.file);
  if (no !== 0 || !m || Number(m[1]) !== 1) {
    throw new WasmllmError('ERR_SHARDS', `${source.file} is shard ${no + 1} of ${count}; name the first shard (NAME-00001-of-${String(count).padStart(5, '0')}.gguf)`);
  }
  if (Number(m[2]) !== count) {
    throw new WasmllmError('ERR_SHARDS', `${source.file}: the name says ${Number(m[2])} shards but split.count is ${count}`);
  }
  const prefix = source.file.slice(0, m.index);
  const urls = [];
  for (let i = 1; i <= count; i++) {
    urls.push(hfFileUrl({ ...source, file: `${prefix}-${String(i).padStart(5, '0')}-of-${m[2]}.gguf` }));
  }
  return urls;
}

/**
 * Parses the header of a remote GGUF through Range requests.
 * @param {string} url
 * @param {{ signal?: AbortSignal, fetch?: typeof fetch }} [options]
 */
export async function readRemoteHeader(url, options = {}) {
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const get = async (n) => {
    let response;
    try {
      response = await fetchFn(url, { signal: options.signal, headers: { Range: `bytes=0-${n - 1}` } });
    } catch (e) {
      options.signal?.throwIfAborted();
      throw new WasmllmError('ERR_FETCH', `could not fetch ${url}: ${e?.message ?? e}`, { cause: e });
    }
    if (!response.ok) {
      throw new WasmllmError('ERR_FETCH', `could not fetch ${url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    const total = response.status === 206
      ? parseContentRange(response.headers.get('content-range'))?.total
      : Number(response.headers.get('content-length')) || undefined;
    // A server without Range support sends the whole file: read only what is needed.
    const reader = response.body.getReader();
    const parts = [];
    let have = 0;
    while (have < n) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      have += value.length;
    }
    reader.cancel().catch(() => {});
    const bytes = new Uint8Array(Math.min(have, n));
    let pos = 0;
    for (const p of parts) {
      const take = Math.min(p.length, bytes.length - pos);
      bytes.set(p.subarray(0, take), pos);
      pos += take;
    }
    return { bytes, total };
  };
  const probe = await get(1 << 20);
  const total = probe.total ?? probe.bytes.length;
  let cached = probe.bytes;
  return readGGUFHeader(async (n) => {
    if (n > cached.length && cached.length < total) cached = (await get(n)).bytes;
    return cached.slice(0, n);
  }, total, { allowNoData: false, packStrings: true });
}
