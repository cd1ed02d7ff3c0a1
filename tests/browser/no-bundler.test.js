/**
 * wasmllm without a bundler, in real Chromium: a page whose import map names
 * `wasmllm` and `@huggingface/jinja` in the installed package's node_modules
 * layout loads, streams, chats and aborts (the worker cannot see import
 * maps, so it must get the template engine's URL from the page); and the
 * same page importing the library from another origin, as from a CDN, still
 * starts its worker (a same-origin blob that imports the module), threads
 * and chat included.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { skipReason, launch, server, fixtures, writeSplitModel, installPackage, driveApp, assertDriven } from './helpers.js';

const skip = skipReason() || false;
let site, cdn, browser, model;

/** A page with no build step: an import map, then the app's module. */
function importMapPage(base) {
  const imports = {
    wasmllm: `${base}/wasmllm/web/browser/index.js`,
    '@huggingface/jinja': `${base}/@huggingface/jinja/dist/index.js`,
  };
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <script type="importmap">${JSON.stringify({ imports })}</script>
</head>
<body>
  <script type="module">
    import * as wasmllm from 'wasmllm';
    window.wasmllm = wasmllm;
    document.title = 'ready';
  </script>
</body>
</html>
`;
}

before(async () => {
  if (skip) return;
  const dir = fs.mkdtempSync(path.join(fixtures(), 'installed-'));
  installPackage(dir);
  [model] = writeSplitModel('plain-model', { shards: 1 });
  const packages = path.join(dir, 'node_modules');
  // The "CDN": another origin (port) serving the installed package with CORS and CORP headers.
  cdn = await server({ isolation: false, cors: true, mounts: { '/npm/': packages } });
  site = await server({
    mounts: { '/node_modules/': packages },
    pages: { '/plain.html': importMapPage('/node_modules'), '/cdn.html': importMapPage(`${cdn.origin}/npm`) },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await cdn?.close();
});

test('no bundler: an import map page loads, streams, chats (the worker gets jinja\'s URL) and aborts', { skip, timeout: 120_000 }, async () => {
  const { page, logs } = browser;
  await page.goto(`${site.origin}/plain.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 });
  const r = await driveApp(page, `${site.origin}/fx/${model}`, { threads: 2 });
  assert.equal(r.isolated, true, logs.join('\n'));
  assertDriven(assert, r, { variant: 'mt' });
  assert.ok(site.requests.some((q) => q.path === '/node_modules/@huggingface/jinja/dist/index.js' && q.status === 200),
    'the worker loaded the template engine from the page\'s import map URL');
});

test('from another origin (a CDN): the worker starts through a same-origin blob; threads, chat and workerUrl work', { skip, timeout: 120_000 }, async () => {
  const { page, logs } = browser;
  await page.goto(`${site.origin}/cdn.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 });
  const r = await driveApp(page, `${site.origin}/fx/${model}`, { threads: 2 });
  assert.equal(r.isolated, true, logs.join('\n'));
  assertDriven(assert, r, { variant: 'mt' });
  const fromCdn = new Set(cdn.requests.filter((q) => q.status === 200).map((q) => q.path));
  for (const file of ['web/browser/worker-host.js', 'web/model.js', 'dist/mjs/wasmllm-mt.mjs', 'dist/mjs/wasmllm-mt.wasm', 'dist/mjs/wasmllm-mt.worker.js']) {
    assert.ok(fromCdn.has(`/npm/wasmllm/${file}`), `${file} came from the CDN`);
  }
  assert.ok(fromCdn.has('/npm/@huggingface/jinja/dist/index.js'));

  // An explicit workerUrl on the other origin takes the same way in.
  const explicit = await page.evaluate(async ({ modelUrl, workerUrl }) => {
    try {
      const m = await window.wasmllm.loadModel(modelUrl, { workerUrl, variant: 'st' });
      let n = 0;
      for await (const _ of m.complete('Hi', { maxTokens: 3 })) n++;
      m.dispose();
      return n;
    } catch (e) {
      return `${e.name} ${e.code}: ${e.message}`;
    }
  }, { modelUrl: `${site.origin}/fx/${model}`, workerUrl: `${cdn.origin}/npm/wasmllm/web/browser/worker-host.js` });
  assert.equal(explicit, 3);
});
