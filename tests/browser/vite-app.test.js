/**
 * wasmllm in a Vite app, as a web developer ships it: a minimal app imports
 * `wasmllm` from node_modules (laid out as the installed package), with the
 * README's vite.config.js; `vite build` bundles it (Vite is a test-only
 * dependency in tests/ref; the build needs no network), `vite preview`
 * serves dist/ with the config's COOP/COEP, and Chromium loads a model,
 * streams, chats and aborts with both wasm builds; then the same in `vite` dev. The build
 * log must not externalize Node modules, and the worker must be a bundle
 * with its imports, not a copy of worker-host.js.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  skipReason, launch, fixtures, writeSplitModel, installPackage, vite, driveApp, assertDriven, readmeExample,
} from './helpers.js';

const Vite = skipReason() ? null : await vite();
const skip = skipReason() || (Vite ? false : 'vite is missing: run `node tools/setup.js --test` (tests/ref)');
let app, preview, browser, build;

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>wasmllm + Vite</title></head>
<body><pre id="out"></pre><script type="module" src="/main.js"></script></body>
</html>
`;
// The app: what the README's browser example imports, exposed for the test to drive.
const MAIN_JS = `import * as wasmllm from 'wasmllm';
window.wasmllm = wasmllm;
document.querySelector('#out').textContent = 'ready';
`;

before(async () => {
  if (skip) return;
  app = fs.mkdtempSync(path.join(fixtures(), 'vite-app-'));
  installPackage(app);
  fs.writeFileSync(path.join(app, 'index.html'), INDEX_HTML);
  fs.writeFileSync(path.join(app, 'main.js'), MAIN_JS);
  fs.writeFileSync(path.join(app, 'vite.config.js'), readmeExample('vite-config'));
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'vite-app', private: true, type: 'module', dependencies: { wasmllm: '*' } }));
  const [model] = writeSplitModel('vite-model', { shards: 1 });
  fs.mkdirSync(path.join(app, 'public'));
  fs.copyFileSync(path.join(fixtures(), model), path.join(app, 'public/model.gguf'));

  const warnings = [];
  const logger = Vite.createLogger('warn');
  const keep = (msg) => warnings.push(String(msg));
  const customLogger = { ...logger, warn: keep, warnOnce: keep, error: keep };
  const started = Date.now();
  await Vite.build({ root: app, logLevel: 'warn', customLogger });
  build = { warnings, ms: Date.now() - started, files: fs.readdirSync(path.join(app, 'dist/assets')) };

  preview = await Vite.preview({ root: app, logLevel: 'silent', preview: { host: '127.0.0.1', port: 0 } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (preview ? preview.httpServer.close(resolve) : resolve()));
});

test('vite build: no Node module externalized, the worker bundled with its imports, the wasm files emitted', { skip }, () => {
  // Before: "Module \"node:fs\" has been externalized for browser compatibility" (web/sources.js).
  assert.deepEqual(build.warnings, []);
  const assets = path.join(app, 'dist/assets');
  const workers = build.files.filter((f) => /^worker-host-.*\.js$/.test(f));
  assert.equal(workers.length, 1, build.files.join(' '));
  const worker = fs.readFileSync(path.join(assets, workers[0]), 'utf8');
  // A copy of the source would start with its imports; the bundle carries the model code itself.
  assert.doesNotMatch(worker, /from\s*['"]\.\.\/model\.js['"]/);
  assert.match(worker, /this worker already holds a model/);
  for (const file of ['wasmllm-mt', 'wasmllm-st']) {
    assert.ok(build.files.some((f) => f.startsWith(file) && f.endsWith('.wasm')), `${file}.wasm emitted`);
    assert.ok(build.files.some((f) => f.startsWith(file) && f.endsWith('.mjs')), `${file}.mjs emitted`);
  }
  // The pthread workers' script (2 KB) is inlined as a data: URL by Vite's asset
  // limit; the threaded run below shows the workers start from it.
});

test('vite preview (the README config\'s COOP/COEP): load, stream, chat and abort with the threaded build', { skip, timeout: 120_000 }, async () => {
  const { page, logs } = browser;
  const url = preview.resolvedUrls.local[0];
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('#out')?.textContent === 'ready', null, { timeout: 20_000 });
  const r = await driveApp(page, new URL('model.gguf', url).href, { threads: 2 });
  assert.equal(r.isolated, true, logs.join('\n'));
  assertDriven(assert, r, { variant: 'mt' });
  const st = await driveApp(page, new URL('model.gguf', url).href, { variant: 'st' });
  assertDriven(assert, st, { variant: 'st' });
  assert.deepEqual(st.streamed, r.streamed, 'both builds give the same greedy text');
});

test('vite dev server (COOP/COEP): the same app runs unbundled, threads included', { skip, timeout: 120_000 }, async () => {
  // Dev mode serves the package's files one by one (dependencies pre-bundled):
  // the glue's own pthread-worker URL must stay in charge there.
  const server = await Vite.createServer({ root: app, logLevel: 'silent', server: { host: '127.0.0.1', port: 0 } });
  try {
    await server.listen();
    const url = server.resolvedUrls.local[0];
    const { page } = browser;
    await page.goto(url);
    await page.waitForFunction(() => document.querySelector('#out')?.textContent === 'ready', null, { timeout: 30_000 });
    assertDriven(assert, await driveApp(page, new URL('model.gguf', url).href, { threads: 2 }), { variant: 'mt' });
  } finally {
    await server.close();
  }
});
