/**
 * wasmllm without a bundler, in real Chromium, from the README's examples: the
 * import-map page (served as written, the installed package's node_modules
 * layout) chats, and a page with its import map loads, streams, chats and
 * aborts (the worker cannot see import maps, so it must get the template
 * engine's URL from the page). Then the README's CDN import map, pointed at a
 * second local origin that sends only Access-Control-Allow-Origin: the
 * worker still starts (a same-origin blob that imports the module), threads
 * and chat included, and so does an explicit cross-origin workerUrl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  skipReason, launch, server, fixtures, writeSplitModel, installPackage, driveApp, assertDriven, readmeExample,
} from './helpers.js';

const skip = skipReason() || false;
const CDN = 'https://cdn.jsdelivr.net/npm/';
let site, cdn, browser, packages;

/** The `<script type="importmap">` of a README example. */
function importMap(html) {
  const script = /<script type="importmap">[\s\S]*?<\/script>/.exec(html)?.[0];
  assert.ok(script, 'the example has an import map');
  return script;
}

/** A page with that import map whose module hands the API to the test. */
function testPage(map) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8">${map}</head>
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

const version = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;

before(async () => {
  if (skip) return;
  const dir = fs.mkdtempSync(path.join(fixtures(), 'installed-'));
  installPackage(dir);
  packages = path.join(dir, 'node_modules');
  const [model] = writeSplitModel('plain-model', { shards: 1 });
  fs.mkdirSync(path.join(dir, 'models'));
  fs.copyFileSync(path.join(fixtures(), model), path.join(dir, 'models/model.gguf'));
  // The "CDN": another origin (port), jsDelivr's /npm/NAME@VERSION/ paths, CORS and nothing more.
  const wasmllm = path.join(packages, 'wasmllm');
  const jinja = path.join(packages, '@huggingface/jinja');
  cdn = await server({
    isolation: false, cors: true,
    mounts: {
      [`/npm/wasmllm@${version(wasmllm)}/`]: wasmllm, [`/npm/@huggingface/jinja@${version(jinja)}/`]: jinja,
      '/web-only/web/': path.join(wasmllm, 'web'), // a deployment that forgot dist/mjs/
    },
  });
  const readmePage = readmeExample('import-map-page');
  site = await server({
    mounts: { '/node_modules/': packages, '/models/': path.join(dir, 'models') },
    pages: {
      '/readme.html': readmePage,
      '/plain.html': testPage(importMap(readmePage)),
      '/cdn.html': testPage(importMap(readmeExample('cdn-import-map')).replaceAll(CDN, `${cdn.origin}/npm/`)),
    },
    // A static server that does not know .wasm: the build is compiled whole instead of streamed.
    types: { '.wasm': 'application/octet-stream' },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await cdn?.close();
});

test('no bundler: the README\'s import-map page chats; load, stream, chat and abort from its import map', { skip, timeout: 120_000 }, async () => {
  const { page, logs } = browser;
  await page.goto(`${site.origin}/readme.html`);
  await page.waitForFunction(() => document.getElementById('out').textContent.length > 0, null, { timeout: 30_000 });
  assert.ok(!logs.some((l) => /^pageerror/.test(l)), logs.join('\n'));
  assert.deepEqual(site.requests.filter((q) => q.status >= 400 && q.path !== '/favicon.ico'), []);

  await page.goto(`${site.origin}/plain.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 });
  const r = await driveApp(page, `${site.origin}/models/model.gguf`, { threads: 2 });
  assert.equal(r.isolated, true, logs.join('\n'));
  assertDriven(assert, r, { variant: 'mt' });
  assert.ok(site.requests.some((q) => q.path === '/node_modules/@huggingface/jinja/dist/index.js' && q.status === 200),
    'the worker loaded the template engine from the page\'s import map URL');
});

test('from another origin (the README\'s CDN import map): the worker starts through a same-origin blob; threads, chat and workerUrl work', { skip, timeout: 120_000 }, async () => {
  const { page, logs } = browser;
  await page.goto(`${site.origin}/cdn.html`);
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 });
  const r = await driveApp(page, `${site.origin}/models/model.gguf`, { threads: 2 });
  assert.equal(r.isolated, true, logs.join('\n'));
  assertDriven(assert, r, { variant: 'mt' });
  const fromCdn = new Set(cdn.requests.filter((q) => q.status === 200).map((q) => q.path.replace(/@[\d.]+\//, '/')));
  for (const file of ['web/browser/worker-host.js', 'web/model.js', 'dist/mjs/wasmllm-mt.mjs', 'dist/mjs/wasmllm-mt.wasm', 'dist/mjs/wasmllm-mt.worker.js']) {
    assert.ok(fromCdn.has(`/npm/wasmllm/${file}`), `${file} came from the CDN`);
  }
  assert.ok(fromCdn.has('/npm/@huggingface/jinja/dist/index.js'));

  // An explicit workerUrl on the other origin takes the same way in.
  const workerUrl = [...cdn.requests].find((q) => q.path.endsWith('/web/browser/worker-host.js')).path;
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
  }, { modelUrl: `${site.origin}/models/model.gguf`, workerUrl: `${cdn.origin}${workerUrl}` });
  assert.equal(explicit, 3);

  // web/ served without dist/mjs/: the error names the file that is missing.
  const missing = await page.evaluate(async ({ modelUrl, workerUrl }) => {
    try {
      (await window.wasmllm.loadModel(modelUrl, { workerUrl, variant: 'st' })).dispose();
      return 'loaded';
    } catch (e) {
      return `${e.name} ${e.code}: ${e.message}`;
    }
  }, { modelUrl: `${site.origin}/models/model.gguf`, workerUrl: `${cdn.origin}/web-only/web/browser/worker-host.js` });
  assert.match(missing, new RegExp(`^WasmllmError ERR_WASM: could not import ${cdn.origin}/web-only/dist/mjs/wasmllm-st\\.mjs`));

  // A server without CORS headers: a readable error that says what it must send, not a raw SecurityError.
  const noCors = await server({ isolation: false, mounts: { '/npm/': packages } });
  try {
    const refused = await page.evaluate(async ({ modelUrl, workerUrl }) => {
      try {
        (await window.wasmllm.loadModel(modelUrl, { workerUrl })).dispose();
        return 'loaded';
      } catch (e) {
        return `${e.name} ${e.code}: ${e.message}`;
      }
    }, { modelUrl: `${site.origin}/models/model.gguf`, workerUrl: `${noCors.origin}/npm/wasmllm/web/browser/worker-host.js` });
    assert.match(refused, new RegExp(`^WasmllmError ERR_WORKER: .*could not load from ${noCors.origin}.*Access-Control-Allow-Origin`));
  } finally {
    await noCors.close();
  }
});
