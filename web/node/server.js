/**
 * `wasmllm serve`: the OpenAI-compatible API over node:http. Transport only:
 * request parsing, body limits, the API key, disconnects, SSE and shutdown;
 * the API itself is web/openai-api.js.
 */
import http from 'node:http';
import { ApiError, checkApiKey, createApi, errorResponse } from '../openai-api.js';

/** How far past the limit a refused body is still read, so the client can read its 413. */
const DISCARD_LIMIT_FACTOR = 16;

/** Routes a load balancer or orchestrator probes: never behind the API key. */
const OPEN_ROUTES = new Set(['/health', '/ready']);

/**
 * Reads a request body up to `limit` bytes. Past it, the rest is read and
 * dropped (up to DISCARD_LIMIT_FACTOR times the limit) before the 413, so a
 * client still uploading (a chunked body has no length to refuse up front)
 * reads the answer instead of a reset connection.
 */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => new ApiError(413, Number.isFinite(declared)
      ? `request body of ${declared} bytes exceeds the limit of ${limit} bytes`
      : `request body exceeds the limit of ${limit} bytes`, { code: 'body_too_large' });
    const chunks = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (!over) chunks.push(chunk);
      else if (size > DISCARD_LIMIT_FACTOR * limit) {
        reject(tooLarge()); // a hostile upload: answer now, stop reading
        req.pause();
      }
    });
    req.on('end', () => (over ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** @param {Buffer} raw */
function parseJson(raw) {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, `malformed JSON in request body: ${e.message}`, { code: 'invalid_json' });
  }
}

/** @param {http.ServerResponse} res @param {import('../openai-api.js').ApiResponse} r @param {AbortSignal} signal */
async function send(res, r, signal) {
  const headers = { ...r.headers, 'access-control-allow-origin': '*' };
  if (!r.stream) {
    res.writeHead(r.status, headers);
    res.end(JSON.stringify(r.json));
    return;
  }
  res.writeHead(r.status, headers);
  res.flushHeaders();
  for await (const chunk of r.stream) {
    if (signal.aborted) break;
    if (!res.write(chunk)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
  }
  // Cut off by shutdown's deadline: tell the client why its stream ends early.
  if (signal.reason instanceof ApiError && !res.destroyed) {
    const e = signal.reason;
    res.write(`data: ${JSON.stringify({ error: { message: e.message, type: e.type, code: e.code } })}\n\ndata: [DONE]\n\n`);
  }
  res.end();
}

/**
 * @param {{ engines: any[], modelId: string, aliases?: string[], maxBodyBytes?: number, maxQueue?: number,
 *   embeddings?: boolean, apiKey?: string, log?: (line: string) => void, speculative?: object[] }} config
 *   speculative: each slot's `speculative` option, by engine index (wasmllm serve --lookup / --draft-model)
 * @returns {http.Server & { api: ReturnType<typeof createApi>, shutdown: (graceMs: number) => Promise<void> }}
 */
export function createServer(config) {
  const api = createApi(config);
  const limit = config.maxBodyBytes ?? 1 << 20;
  /** Requests being answered: shutdown waits for them, then ends them. */
  const active = new Map();
  let closing = false;

  const server = http.createServer(async (req, res) => {
    const controller = new AbortController();
    let settle;
    active.set(controller, new Promise((resolve) => { settle = resolve; }));
    res.on('close', () => {
      // 'close' before the response finished means the client went away.
      if (!res.writableFinished) controller.abort();
      active.delete(controller);
      settle();
    });
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS' });
        res.end();
        return;
      }
      if (config.apiKey && !OPEN_ROUTES.has(path)) {
        try {
          checkApiKey(req.headers.authorization, config.apiKey);
        } catch (e) {
          req.resume(); // the body is not read: drop it
          throw e;
        }
      }
      let body;
      if (req.method === 'POST') {
        const ct = String(req.headers['content-type'] ?? '');
        const raw = await readBody(req, limit);
        if (raw.length > 0 && ct && !ct.includes('json')) throw new ApiError(415, `content-type must be application/json, got ${ct}`);
        body = parseJson(raw);
      }
      const r = await api.handle(req.method ?? 'GET', url.pathname, body, controller.signal);
      config.log?.(`${req.method} ${url.pathname} ${r.status}`);
      if (closing) r.headers = { ...r.headers, connection: 'close' };
      await send(res, r, controller.signal);
    } catch (e) {
      const r = errorResponse(e instanceof ApiError ? e : new ApiError(500, e?.message ?? String(e)));
      if (!res.headersSent) {
        res.writeHead(r.status, { ...r.headers, 'access-control-allow-origin': '*', connection: 'close' });
        res.end(JSON.stringify(r.json));
      } else {
        res.end();
      }
    }
  });

  /**
   * Graceful shutdown: stop accepting connections and generations (503,
   * /ready says so), let running requests finish for up to `graceMs`, then
   * end the rest (a stream gets an error event naming the shutdown).
   * @param {number} graceMs
   */
  async function shutdown(graceMs) {
    closing = true;
    api.drain();
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections?.();
    let timer;
    const deadline = new Promise((resolve) => { timer = setTimeout(resolve, graceMs); });
    await Promise.race([Promise.all(active.values()), deadline]);
    clearTimeout(timer);
    const reason = new ApiError(503, `the server is shutting down (${graceMs} ms grace period over)`, { code: 'shutting_down' });
    for (const controller of active.keys()) controller.abort(reason);
    await Promise.all(active.values());
    server.closeAllConnections?.();
    await closed;
  }

  return Object.assign(server, { api, shutdown });
}
