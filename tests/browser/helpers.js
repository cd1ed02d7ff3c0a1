/**
 * Shared setup of the browser tests: Debian's Chromium driven by
 * playwright-core (tests/ref), the demo's static server with a request log
 * and fault injection, and small GGUF fixtures written once per process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer, serveFile } from '../../demo/serve.js';
import { buildSynthetic } from '../../tools/make-synthetic.js';
import { sharedPath } from '../../tools/shared-data.js';
import { readmeExamples } from '../node/readme-examples.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const VOCAB_SPM = sharedPath('data/vocab/ggml-vocab-llama-spm.gguf');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync',
];

/** The Chromium binary, or null (the tests then skip with the reason). */
export function chromiumPath() {
  for (const p of [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && fs.existsSync(p)) return p;
  }
  return null;
}

/** playwright-core from tests/ref, or null when `node tools/setup.js --test` has not run. */
export function playwright() {
  const require = createRequire(path.join(ROOT, 'tests/ref/package.json'));
  try {
    return require('playwright-core');
  } catch {
    return null;
  }
}

/** Why the browser tests cannot run here, or '' when they can. */
export function skipReason() {
  if (!playwright()) return 'playwright-core is missing: run `node tools/setup.js --test`';
  if (!chromiumPath()) return 'Chromium is missing: run `node tools/setup.js --test` (installs Debian\'s chromium)';
  if (!fs.existsSync(path.join(ROOT, 'dist/mjs/wasmllm-st.mjs')) && !process.env.WASMLLM_DIST) return 'dist/mjs is missing: run `npm run build`';
  return '';
}

/**
 * A fresh Chromium profile (its own Cache API storage).
 * @returns {Promise<{ context: import('playwright-core').BrowserContext, page: import('playwright-core').Page, logs: string[], close: () => Promise<void> }>}
 */
export async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-chromium-'));
  const context = await playwright().chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  const logs = [];
  const watch = (p) => {
    p.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  };
  watch(page);
  context.on('page', watch);
  return {
    context, page, logs,
    close: async () => {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A local server and a headless Chromium page on its ?nopreload page, for a
 * suite's before(); close() is for its after().
 */
export async function openTestPage() {
  const srv = await server();
  const browser = await launch();
  await browser.page.goto(`${srv.url}?nopreload`);
  return {
    srv, browser, page: browser.page,
    async close() {
      await browser.close();
      await srv.close();
    },
  };
}

let fixtureDir = null;
/** A temp folder for fixtures, removed when the process exits. */
export function fixtures() {
  if (!fixtureDir) {
    fixtureDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-browser-'));
    process.on('exit', () => fs.rmSync(fixtureDir, { recursive: true, force: true }));
  }
  return fixtureDir;
}

/** A tiny llama (llama-spm vocab) as gguf-split shards under fixtures(); returns their file names. */
export function writeSplitModel(name, { layers = 2, seed = 7, shards = 3 } = {}) {
  const { writer } = buildSynthetic({
    shape: 'tiny-gqa', type: 'Q8_0', layers, seed, vocab: VOCAB_SPM,
    overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, ctx: 512 },
  });
  const paths = writer.writeSplit(path.join(fixtures(), name), Math.ceil(writer.tensors.length / shards));
  return paths.map((p) => path.basename(p));
}

/**
 * The demo server plus test routes:
 *   /fx/NAME               fixture files, with faults set in `faults` (by NAME)
 *   /hf/OWNER/REPO/resolve/REV/NAME   the same files, Hugging Face style
 * @param {{ isolation?: boolean, mounts?: Record<string, string>, cors?: boolean, types?: Record<string, string>,
 *   pages?: Record<string, string> }} [options]  pages: path -> HTML served as is
 */
export async function server(options = {}) {
  /** @type {Map<string, { dropAt?: number, stallAt?: number, size?: number, bytesPerSecond?: number, times?: number, status?: number }>} */
  const faults = new Map();
  const started = await startServer({
    isolation: options.isolation ?? true,
    mounts: options.mounts,
    cors: options.cors,
    types: options.types,
    handle: (req, res, url) => {
      const page = options.pages?.[url.pathname];
      if (page !== undefined) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
        res.end(page);
        return true;
      }
      const m = /^\/fx\/([^/]+)$/.exec(url.pathname) ?? /^\/hf\/[\w.-]+\/[\w.-]+\/resolve\/[^/]+\/([^/]+)$/.exec(url.pathname);
      if (!m) return false;
      const name = decodeURIComponent(m[1]);
      const file = path.join(fixtures(), name);
      const fault = faults.get(name);
      const active = fault && (fault.times === undefined || fault.times > 0);
      if (active && fault.times !== undefined) fault.times--;
      if (active && fault.status) {
        res.writeHead(fault.status, { 'Content-Type': 'text/plain' });
        res.end(`HTTP ${fault.status}\n`);
        return true;
      }
      if (!fs.existsSync(file)) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found\n');
        return true;
      }
      serveFile(req, res, file, active ? fault : {});
      return true;
    },
  });
  return { ...started, faults, origin: started.url.replace(/\/$/, '') };
}

/** Requests for paths that end with `suffix` (the downloads of one file). */
export function requestsFor(requests, suffix) {
  return requests.filter((r) => r.path.endsWith(suffix) && r.method === 'GET');
}

/**
 * wasmllm laid out as an installed package: dir/node_modules/wasmllm holds
 * what package.json's "files" ships to a browser app (web/, dist/,
 * package.json), beside its dependency @huggingface/jinja.
 * @param {string} dir @returns {string} the package folder
 */
export function installPackage(dir) {
  const pkg = path.join(dir, 'node_modules/wasmllm');
  fs.mkdirSync(pkg, { recursive: true });
  fs.cpSync(path.join(ROOT, 'web'), path.join(pkg, 'web'), { recursive: true });
  const dist = process.env.WASMLLM_DIST ? path.resolve(process.env.WASMLLM_DIST) : path.join(ROOT, 'dist');
  fs.cpSync(path.join(dist, 'mjs'), path.join(pkg, 'dist/mjs'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.cpSync(path.join(ROOT, 'node_modules/@huggingface/jinja'), path.join(dir, 'node_modules/@huggingface/jinja'), { recursive: true });
  return pkg;
}

/** Vite from tests/ref (a test-only dependency), or null when it is not installed. */
export async function vite() {
  const require = createRequire(path.join(ROOT, 'tests/ref/package.json'));
  let manifest;
  try {
    manifest = require.resolve('vite/package.json');
  } catch {
    return null;
  }
  const { exports } = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  const entry = typeof exports['.'] === 'string' ? exports['.'] : exports['.'].import ?? exports['.'].default;
  return import(pathToFileURL(path.join(path.dirname(manifest), entry)).href);
}

/**
 * Drives a loaded page that exposes the browser API as `window.wasmllm`:
 * load, stream a completion, chat, abort mid-stream, generate again.
 * @param {import('playwright-core').Page} page @param {string} modelUrl @param {object} [options] loadModel options
 */
export function driveApp(page, modelUrl, options = {}) {
  return page.evaluate(async ({ modelUrl, options }) => {
    const w = /** @type {any} */ (window).wasmllm;
    const out = { isolated: w.isCrossOriginIsolated() };
    const model = await w.loadModel(modelUrl, { contextSize: 256, ...options });
    try {
      out.info = model.info();
      out.streamed = [];
      for await (const { text } of model.complete('Hello', { maxTokens: 8, temperature: 0 })) out.streamed.push(text);
      out.chat = '';
      for await (const { text } of model.chat([{ role: 'user', content: 'Hi there' }], { maxTokens: 6, temperature: 0 })) out.chat += text;
      out.chatFinish = model.lastCompletion?.finishReason;
      const controller = new AbortController();
      out.beforeAbort = 0;
      try {
        for await (const _ of model.complete('Once upon a time', { maxTokens: 200, signal: controller.signal })) {
          if (++out.beforeAbort === 3) controller.abort();
        }
        out.aborted = 'finished';
      } catch (e) {
        out.aborted = e.code;
      }
      out.after = 0;
      for await (const _ of model.complete('Again', { maxTokens: 4, temperature: 0 })) out.after++;
    } catch (e) {
      out.error = `${e.code}: ${e.message}`;
    } finally {
      model.dispose();
    }
    return out;
  }, { modelUrl, options });
}

/** The checks every real-app test makes on driveApp()'s result. */
export function assertDriven(assert, r, { variant }) {
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.info.wasmVariant, variant);
  if (variant === 'mt') assert.ok(r.info.threads >= 2, `threads: ${r.info.threads}`);
  assert.equal(r.streamed.length, 8, 'eight tokens streamed one by one');
  assert.ok(r.chat.length > 0, 'chat() answered');
  assert.ok(['stop', 'length'].includes(r.chatFinish), r.chatFinish);
  assert.equal(r.aborted, 'ERR_ABORTED');
  assert.ok(r.beforeAbort >= 3 && r.beforeAbort < 200, `the abort ended the stream early (${r.beforeAbort} tokens)`);
  assert.equal(r.after, 4, 'the model generates again after an abort');
}

/** The README's example NAME (the fenced block after `<!-- example: NAME -->`), character for character. */
export function readmeExample(name) {
  const markdown = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const found = readmeExamples(markdown).get(name);
  if (!found) throw new Error(`README.md has no example named ${name}`);
  return found.code;
}

/**
 * The test server and Chromium on its demo page (nothing preloaded), for a
 * suite whose tests share one page; close() stops both.
 */
export async function openDemoPage() {
  const srv = await server();
  const browser = await launch();
  await browser.page.goto(`${srv.url}?nopreload`);
  return { srv, browser, page: browser.page, close: async () => { await browser.close(); await srv.close(); } };
}
