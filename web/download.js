/**
 * Downloads one URL into a sink, chunk by chunk, as the bytes arrive: the
 * caller writes them straight into wasm memory, so no full copy of a shard
 * ever exists in a JS ArrayBuffer (and the 2 GB ArrayBuffer limit does not
 * apply). A dropped connection resumes from the last byte received with an
 * HTTP Range request; failures retry with exponential backoff; an optional
 * SHA-256 is computed on the fly.
 */
import { WasmllmError } from './errors.js';
import { Sha256 } from './sha256.js';

/**
 * @typedef {object} Sink
 * @property {(size: number | undefined) => void} begin  called once, with Content-Length (undefined when unknown)
 * @property {(chunk: Uint8Array) => void} write  bytes in order; may throw to stop the download
 *
 * @typedef {object} DownloadOptions
 * @property {AbortSignal} [signal]
 * @property {number} [retries]       consecutive failed attempts allowed after the first (default 4)
 * @property {number} [retryDelayMs]  first backoff delay, doubled each retry, capped at 8 s (default 500)
 * @property {string} [sha256]        expected digest (hex); a mismatch throws ERR_CHECKSUM
 * @property {(loaded: number, total: number | undefined) => void} [onBytes]
 * @property {(r: RetryInfo) => void} [onRetry]  before each backoff wait (a retry is otherwise silent for seconds)
 * @property {typeof fetch} [fetch]   for tests and custom transports
 *
 * @typedef {{ size: number, sha256: string | null, requests: number, resumed: number }} DownloadResult
 * @typedef {{ url: string, attempt: number, retries: number, delayMs: number, reason: string }} RetryInfo
 *   attempt: which retry comes next (1 = the first), of `retries`
 */

const MAX_BACKOFF_MS = 8000;

/** HTTP statuses worth retrying: the server may answer next time. */
const RETRY_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * @param {string} url
 * @param {Sink} sink
 * @param {DownloadOptions} [options]
 * @returns {Promise<DownloadResult>}
 */
export async function downloadToSink(url, sink, options = {}) {
  const { signal, onBytes } = options;
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const retries = options.retries ?? 4;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const hash = options.sha256 ? new Sha256() : null;
  let got = 0;
  /** @type {number | undefined} */
  let size;
  let begun = false;
  /** ETag or Last-Modified of the first response: a resumed range must come from the same file. */
  let validator = null;
  let failures = 0;
  let requests = 0;
  let resumed = 0;

  for (;;) {
    signal?.throwIfAborted();
    /** @type {Record<string, string>} */
    const headers = {};
    if (got > 0) {
      headers.Range = `bytes=${got}-`;
      if (validator) headers['If-Range'] = validator;
    }
    let reason;
    try {
      requests++;
      const response = await fetchFn(url, { signal, headers, cache: 'no-store' });
      if (!response.ok) {
        const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
        response.body?.cancel().catch(() => {});
        if (!RETRY_STATUS.has(response.status)) {
          throw new WasmllmError('ERR_FETCH', `could not download ${url}: ${status}`);
        }
        throw new TransientError(status);
      }
      let skip = 0;
      if (!begun) {
        size = contentLength(response);
        validator = response.headers.get('etag') ?? response.headers.get('last-modified');
        sink.begin(size);
        begun = true;
      } else if (response.status === 206) {
        const range = parseContentRange(response.headers.get('content-range'));
        if (!range || range.start !== got) {
          throw new WasmllmError('ERR_FETCH', `resuming ${url} at byte ${got}: the server sent ${response.headers.get('content-range') ?? 'no Content-Range'}`);
        }
        if (size !== undefined && range.total !== undefined && range.total !== size) {
          throw new WasmllmError('ERR_FETCH', `${url} changed on the server during the download (${size} bytes, now ${range.total})`);
        }
        resumed++;
      } else {
        // The server ignored Range (or If-Range said the file changed): the full body again.
        const again = contentLength(response);
        if (size !== undefined && again !== undefined && again !== size) {
          throw new WasmllmError('ERR_FETCH', `${url} changed on the server during the download (${size} bytes, now ${again})`);
        }
        skip = got;
      }
      const reader = response.body.getReader();
      for (;;) {
        let step;
        try {
          step = await reader.read();
        } catch (e) {
          throw new TransientError(`connection lost (${e?.message ?? e})`);
        }
        if (step.done) break;
        let chunk = step.value;
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length);
          skip -= drop;
          chunk = chunk.subarray(drop);
          if (chunk.length === 0) continue;
        }
        if (size !== undefined && got + chunk.length > size) {
          reader.cancel().catch(() => {});
          throw new WasmllmError('ERR_FETCH', `${url} sent more than its ${size} bytes`);
        }
        sink.write(chunk);
        hash?.update(chunk);
        got += chunk.length;
        failures = 0; // progress was made: the backoff starts over
        onBytes?.(got, size);
      }
      if (size === undefined || got === size) break;
      throw new TransientError('the connection closed early');
    } catch (e) {
      if (signal?.aborted) throw abortError(signal, url);
      if (!(e instanceof TransientError) && e instanceof WasmllmError) throw e;
      reason = e instanceof TransientError ? e.message : `network error (${e?.message ?? e})`;
    }
    failures++;
    if (failures > retries) {
      const where = got > 0 ? ` at byte ${got}${size !== undefined ? ` of ${size}` : ''}` : '';
      throw new WasmllmError('ERR_FETCH', `download of ${url} failed after ${retries + 1} attempts${where}: ${reason}`);
    }
    const delayMs = Math.min(MAX_BACKOFF_MS, retryDelayMs * 2 ** (failures - 1));
    options.onRetry?.({ url, attempt: failures, retries, delayMs, reason });
    await sleep(delayMs, signal, url);
  }

  let digest = null;
  if (hash) {
    digest = hash.hexDigest();
    if (digest !== options.sha256.toLowerCase()) {
      throw new WasmllmError('ERR_CHECKSUM', `${url}: SHA-256 is ${digest}, expected ${options.sha256.toLowerCase()}`);
    }
  }
  return { size: got, sha256: digest, requests, resumed };
}

/** A failure the next attempt may not have (a drop, a 503). */
class TransientError extends Error {}

/** @param {Response} response @returns {number | undefined} */
function contentLength(response) {
  // A compressed body's Content-Length counts compressed bytes: useless for sizing.
  if ((response.headers.get('content-encoding') ?? 'identity') !== 'identity') return undefined;
  if (response.status === 206) return parseContentRange(response.headers.get('content-range'))?.total;
  const n = Number(response.headers.get('content-length'));
  return response.headers.has('content-length') && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * `bytes START-END/TOTAL` (TOTAL may be `*`).
 * @param {string | null} header
 */
export function parseContentRange(header) {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

/** @param {AbortSignal} signal @param {string} url */
function abortError(signal, url) {
  const reason = signal.reason;
  if (reason instanceof WasmllmError) return reason;
  return new WasmllmError('ERR_ABORTED', `download of ${url} aborted`, { cause: reason });
}

/** @param {number} ms @param {AbortSignal | undefined} signal @param {string} url */
function sleep(ms, signal, url) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal, url));
    const onAbort = () => { clearTimeout(timer); reject(abortError(signal, url)); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `tasks` with at most `limit` in flight; the first failure aborts
 * `controller` (so the others stop) and is rethrown once all have settled.
 * @template T
 * @param {(() => Promise<T>)[]} tasks
 * @param {number} limit
 * @param {AbortController} controller
 * @returns {Promise<T[]>}
 */
export async function runLimited(tasks, limit, controller) {
  const results = new Array(tasks.length);
  let next = 0;
  let firstError = null;
  const lane = async () => {
    while (next < tasks.length && !firstError) {
      const i = next++;
      try {
        results[i] = await tasks[i]();
      } catch (e) {
        if (!firstError) {
          firstError = e;
          controller.abort(e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, lane));
  if (firstError) throw firstError;
  return results;
}
