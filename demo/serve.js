#!/usr/bin/env node
/**
 * The demo's static server: serves demo/ at /, and the repo's web/, dist/mjs/
 * and models/ folders, with the COOP/COEP headers that make the page
 * cross-origin isolated (SharedArrayBuffer, so the multi-threaded build).
 * Range requests, ETag, and a request log (the browser tests read it).
 *
 *   node demo/serve.js [--port 8080] [--host 127.0.0.1] [--no-isolation] [--cors] [--log]
 *
 * Used as a module by tests/browser and bench/browser.js: startServer().
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * URL prefix -> folder. /vendor/jinja/ serves @huggingface/jinja, which the
 * page's import map names. WASMLLM_DIST names another wasm output folder (a
 * scratch build's WL_DIST_DIR), as in the Node smoke test.
 */
export function defaultMounts(root = ROOT) {
  return {
    '/web/': path.join(root, 'web'),
    '/dist/mjs/': path.join(process.env.WASMLLM_DIST ? path.resolve(process.env.WASMLLM_DIST) : path.join(root, 'dist'), 'mjs'),
    '/models/': path.join(root, 'models'),
    '/vendor/jinja/': path.join(findPackage(root, '@huggingface/jinja') ?? path.join(root, 'node_modules/@huggingface/jinja'), 'dist'),
    '/': path.join(root, 'demo'),
  };
}

/**
 * A dependency's folder as Node would find it from `root`: in a clone it is
 * root/node_modules, in an app that installed wasmllm it sits beside it.
 */
function findPackage(root, name) {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

/**
 * @typedef {{ method: string, path: string, range: string | null, status: number, bytes: number }} LoggedRequest
 * @typedef {object} ServerOptions
 * @property {number} [port]          0 picks a free port
 * @property {string} [host]
 * @property {boolean} [isolation]    COOP/COEP headers (default true)
 * @property {Record<string, string>} [types]  Content-Type by file extension, over the defaults
 * @property {boolean} [cors]         serve other origins too, as a CDN would (Access-Control-Allow-Origin)
 * @property {Record<string, string>} [mounts]  extra URL prefix -> folder (checked before the defaults)
 * @property {(req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean | Promise<boolean>} [handle]
 *   called first; return true when it answered (tests inject faults here)
 * @property {(r: LoggedRequest) => void} [onRequest]
 */

/**
 * @param {ServerOptions} [options]
 * @returns {Promise<{ url: string, requests: LoggedRequest[], server: http.Server, close: () => Promise<void> }>}
 */
export async function startServer(options = {}) {
  const isolation = options.isolation ?? true;
  const mounts = Object.entries({ ...defaultMounts(), ...options.mounts })
    .sort((a, b) => b[0].length - a[0].length);
  /** @type {LoggedRequest[]} */
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const entry = { method: req.method ?? 'GET', path: url.pathname, range: req.headers.range ?? null, status: 0, bytes: 0 };
    const write = res.write.bind(res);
    res.write = (chunk, ...rest) => { entry.bytes += chunk?.length ?? 0; return write(chunk, ...rest); };
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      entry.status = res.statusCode;
      requests.push(entry);
      options.onRequest?.(entry);
    };
    res.once('finish', log);
    res.once('close', log);
    if (isolation) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    if (options.cors) {
      // What a CDN serving the library (or models) to other origins must send:
      // every file is fetched in CORS mode, so no Cross-Origin-Resource-Policy is needed.
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, Accept-Ranges, ETag');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': 'Range, If-Range', 'Access-Control-Max-Age': '600' });
        return res.end();
      }
    } else {
      res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    }
    try {
      if (options.handle && await options.handle(req, res, url)) return;
      const file = resolveFile(mounts, url.pathname);
      if (!file) return sendText(res, 404, `not found: ${url.pathname}\n`);
      serveFile(req, res, file, {}, options.types);
    } catch (e) {
      if (!res.headersSent) sendText(res, 500, `server error: ${e?.message ?? e}\n`);
      else res.destroy();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/`,
    requests,
    server,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/** The file a path names under one of the mounts, or null (never outside a mount). */
function resolveFile(mounts, pathname) {
  let decoded;
  try { decoded = decodeURIComponent(pathname); } catch { return null; }
  for (const [prefix, dir] of mounts) {
    if (!decoded.startsWith(prefix)) continue;
    let rel = decoded.slice(prefix.length);
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(dir, rel);
    if (file !== dir && !file.startsWith(dir + path.sep)) return null;
    try {
      if (fs.statSync(file).isFile()) return file;
    } catch { /* try the next mount */ }
  }
  return null;
}

function sendText(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Serves one file with Range support. `faults` lets tests cut the body short.
 * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {string} file
 * @param {{ dropAt?: number, stallAt?: number, size?: number, bytesPerSecond?: number }} [faults]
 *   dropAt: cut the connection when the transfer reaches this byte of the file;
 *   stallAt: send nothing past this byte, keeping the connection open (a stalled download);
 *   size: pretend the file is this long (a truncated file);
 *   bytesPerSecond: send no faster than this (a slow network)
 * @param {Record<string, string>} [types] Content-Type by file extension, over the defaults
 */
export function serveFile(req, res, file, faults = {}, types = {}) {
  const st = fs.statSync(file);
  const size = Math.min(st.size, faults.size ?? st.size);
  const etag = `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const type = types[path.extname(file)] ?? TYPES[path.extname(file)] ?? 'application/octet-stream';
  let start = 0, end = size - 1, status = 200;
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  const ifRange = req.headers['if-range'];
  if (range && (!ifRange || ifRange === etag)) {
    if (range[1] === '') { start = Math.max(0, size - Number(range[2])); }
    else { start = Number(range[1]); if (range[2] !== '') end = Math.min(end, Number(range[2])); }
    if (start >= size || start > end) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      return res.end();
    }
    status = 206;
  }
  const headers = {
    'Content-Type': type, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes', ETag: etag,
    'Cache-Control': 'no-cache',
  };
  if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) return res.end();
  const stream = fs.createReadStream(file, { start, end });
  let pos = start;
  stream.on('data', (chunk) => {
    if (faults.dropAt !== undefined && pos + chunk.length > faults.dropAt) {
      const keep = Math.max(0, faults.dropAt - pos);
      if (keep) res.write(chunk.subarray(0, keep));
      stream.destroy();
      // Let the bytes already written leave before the connection is cut.
      setTimeout(() => res.destroy(), 50);
      return;
    }
    if (faults.stallAt !== undefined && pos + chunk.length > faults.stallAt) {
      const keep = Math.max(0, faults.stallAt - pos);
      if (keep) res.write(chunk.subarray(0, keep));
      stream.destroy(); // the response stays open until the client gives up
      res.on('close', () => stream.destroy());
      return;
    }
    pos += chunk.length;
    const drained = res.write(chunk);
    if (faults.bytesPerSecond) {
      stream.pause();
      const resume = () => stream.resume();
      setTimeout(() => (res.writableNeedDrain ? res.once('drain', resume) : resume()), (1000 * chunk.length) / faults.bytesPerSecond);
    } else if (!drained) stream.pause();
  });
  res.on('drain', () => { if (!faults.bytesPerSecond) stream.resume(); });
  stream.on('end', () => res.end());
  stream.on('error', () => res.destroy());
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'no-isolation': { type: 'boolean', default: false },
      cors: { type: 'boolean', default: false },
      log: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node demo/serve.js [--port 8080] [--host 127.0.0.1] [--no-isolation] [--cors] [--log]');
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: --port must be 0..65535, got ${values.port}`);
    process.exit(2);
  }
  for (const f of ['dist/mjs/wasmllm-st.mjs', 'models/shakespeare.gguf']) {
    if (!fs.existsSync(path.join(ROOT, f))) console.warn(`serve: ${f} is missing; run \`npm run build\` first`);
  }
  let started;
  try {
    started = await startServer({
      port, host: values.host, isolation: !values['no-isolation'], cors: values.cors,
      onRequest: values.log ? (r) => console.log(`${r.method} ${r.path}${r.range ? ` [${r.range}]` : ''} -> ${r.status} (${r.bytes} bytes)`) : undefined,
    });
  } catch (e) {
    console.error(`serve: cannot listen on ${values.host}:${port}: ${e.message}${e.code === 'EADDRINUSE' ? ' (try --port 0)' : ''}`);
    process.exit(1);
  }
  console.log(`wasmllm demo: ${started.url}${values['no-isolation'] ? ' (no COOP/COEP: single-threaded)' : ''}`);
  console.log('Press Ctrl-C to stop.');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
