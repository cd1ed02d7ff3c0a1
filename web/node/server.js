/**
 * `wasmllm serve`: the OpenAI-compatible API over node:http. Transport only:
 * request parsing, body limits, disconnects and SSE; the API itself is
 * web/openai-api.js.
 */
import http from 'node:http';
import { ApiError, createApi, errorResponse } from '../openai-api.js';

/** Reads a request body up to `limit` bytes; rejects with 413 past it. */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new ApiError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`, { code: 'body_too_large' }));
      req.resume();
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ApiError(413, `request body exceeds the limit of ${limit} bytes`, { code: 'body_too_large' }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
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
  res.end();
}

/**
 * @param {{ engines: any[], modelId: string, maxBodyBytes?: number, maxQueue?: number,
 *   embeddings?: boolean, log?: (line: string) => void }} config
 * @returns {http.Server & { api: ReturnType<typeof createApi> }}
 */
export function createServer(config) {
  const api = createApi(config);
  const limit = config.maxBodyBytes ?? 1 << 20;
  const server = http.createServer(async (req, res) => {
    const controller = new AbortController();
    // 'close' on the response before it finished means the client went away.
    res.on('close', () => { if (!res.writableFinished) controller.abort(); });
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS' });
        res.end();
        return;
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
      await send(res, r, controller.signal);
    } catch (e) {
      const r = errorResponse(e instanceof ApiError ? e : new ApiError(500, e?.message ?? String(e)));
      if (!res.headersSent) {
        res.writeHead(r.status, { ...r.headers, connection: 'close' });
        res.end(JSON.stringify(r.json));
      } else {
        res.end();
      }
    }
  });
  return Object.assign(server, { api });
}
