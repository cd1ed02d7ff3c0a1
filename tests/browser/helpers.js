/**
 * Shared setup of the browser tests: Debian's Chromium driven by
 * playwright-core (tests/ref), the demo's static server with a request log
 * and fault injection, and small GGUF fixtures written once per process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startServer, serveFile } from '../../demo/serve.js';
import { buildSynthetic } from '../../tools/make-synthetic.js';
import { sharedPath } from '../../tools/shared-data.js';

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
 * @param {{ isolation?: boolean }} [options]
 */
export async function server(options = {}) {
  /** @type {Map<string, { dropAt?: number, stallAt?: number, size?: number, times?: number, status?: number }>} */
  const faults = new Map();
  const started = await startServer({
    isolation: options.isolation ?? true,
    handle: (req, res, url) => {
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
