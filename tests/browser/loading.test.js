/**
 * The browser API in real Chromium (web/browser/index.js in a page, the model in
 * its worker): shard lists, gguf-split discovery, Hugging Face sources,
 * local files, parallel downloads with progress, cache and partial-cache
 * resume, resume after a dropped connection, and every bad input as a
 * readable WasmllmError, with nothing half-written left in the cache.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { skipReason, fixtures, writeSplitModel, requestsFor, openTestPage } from './helpers.js';

const skip = skipReason() || false;
let srv, browser, page, shards, other, single;

before(async () => {
  if (skip) return;
  shards = writeSplitModel('tiny', { shards: 3 });
  other = writeSplitModel('other', { layers: 3, seed: 9, shards: 3 });
  // The same tiny model as one file: the first shard's tensors are all in
  // shard 1, so concatenation is not a GGUF; write it separately.
  single = writeSplitModel('solo', { shards: 1 });
  fs.writeFileSync(path.join(fixtures(), 'noise.gguf'), crypto.randomBytes(300_000));
  ({ srv, browser, page } = await openTestPage());
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

/**
 * Runs loadModel(source, options) in the page, generates a few greedy
 * tokens, disposes. Returns what happened, or the error's code and message.
 */
async function loadInPage(source, options = {}, generate = 4) {
  return page.evaluate(async ({ source, options, generate }) => {
    const w = await import('/web/browser/index.js');
    const progress = [];
    const warnings = [];
    try {
      const model = await w.loadModel(source, {
        retryDelayMs: 10, retries: 2, ...options,
        onProgress: (p) => progress.push(p), onWarning: (e) => warnings.push({ code: e.code, message: e.message }),
      });
      let text = '';
      let tokens = 0;
      for await (const piece of model.complete('Hello', { maxTokens: generate, temperature: 0 })) { text += piece.text; tokens++; }
      const info = model.info();
      const report = model.loadReport;
      model.dispose();
      return { ok: true, info, report, tokens, text, progress, warnings };
    } catch (e) {
      return { ok: false, code: e.code, message: e.message, name: e.name, progress, warnings };
    }
  }, { source, options, generate });
}

/** URLs of the cached shards (path part). */
async function cachedPaths() {
  return page.evaluate(async () => (await (await import('/web/browser/index.js')).modelCache().list()).map((e) => new URL(e.url).pathname).sort());
}

async function clearCache() {
  await page.evaluate(async () => { await (await import('/web/browser/index.js')).modelCache().clear(); });
}

const fx = (name) => `${srv.origin}/fx/${name}`;

test('shard URLs: parallel download with per-shard and overall progress, then the cache', { skip, timeout: 120_000 }, async () => {
  await clearCache();
  const r = await loadInPage(shards.map((s) => `/fx/${s}`), { parallel: 3 });
  assert.ok(r.ok, r.message);
  assert.equal(r.info.shards, 3);
  assert.equal(r.tokens, 4);
  assert.equal(r.report.downloaded, 3);
  const sizes = shards.map((s) => fs.statSync(path.join(fixtures(), s)).size);
  const last = r.progress.at(-1);
  assert.equal(last.total, sizes.reduce((a, b) => a + b, 0));
  assert.equal(last.loaded, last.total);
  assert.deepEqual(last.perShard.map((p) => p.total), sizes);
  assert.ok(last.perShard.every((p) => p.done && p.loaded === p.total && !p.fromCache));
  for (const s of shards) assert.equal(requestsFor(srv.requests, `/fx/${s}`).length, 1, `${s} downloaded once`);
  assert.deepEqual(await cachedPaths(), shards.map((s) => `/fx/${s}`).sort());

  // A second load downloads nothing.
  const before = srv.requests.length;
  const again = await loadInPage(`/fx/${shards[0]}`); // gguf-split name: expands to all 3
  assert.ok(again.ok, again.message);
  assert.equal(again.report.fromCache, 3);
  assert.equal(again.report.downloaded, 0);
  assert.equal(again.text, r.text, 'same greedy text from cached shards');
  assert.deepEqual(srv.requests.slice(before).filter((q) => q.path.startsWith('/fx/')), []);
});

test('a partially cached model downloads only the missing shard', { skip, timeout: 60_000 }, async () => {
  await loadInPage(shards.map((s) => `/fx/${s}`)); // make sure all three are cached
  await page.evaluate(async (url) => { await (await import('/web/browser/index.js')).modelCache().delete(url); }, fx(shards[1]));
  const counts = shards.map((s) => requestsFor(srv.requests, `/fx/${s}`).length);
  const r = await loadInPage(shards.map((s) => `/fx/${s}`));
  assert.ok(r.ok, r.message);
  assert.equal(r.report.fromCache, 2);
  assert.equal(r.report.downloaded, 1);
  const after = shards.map((s) => requestsFor(srv.requests, `/fx/${s}`).length);
  assert.deepEqual(after.map((n, i) => n - counts[i]), [0, 1, 0]);
  assert.equal((await cachedPaths()).length, 3);
});

test('Hugging Face { repo, file, revision }: resolve URLs, shards found from split.count', { skip, timeout: 60_000 }, async () => {
  await clearCache();
  const before = srv.requests.length;
  const r = await loadInPage({ repo: 'wasmllm/tiny-test', file: shards[0], revision: 'r1234' }, { hfEndpoint: `${srv.origin}/hf` });
  assert.ok(r.ok, r.message);
  assert.equal(r.info.shards, 3);
  const paths = srv.requests.slice(before).map((q) => q.path);
  for (const s of shards) assert.ok(paths.includes(`/hf/wasmllm/tiny-test/resolve/r1234/${s}`), `${s} fetched by its resolve URL`);
  // The header probe is a Range request on the first shard.
  assert.ok(srv.requests.slice(before).some((q) => q.path.endsWith(shards[0]) && q.range === 'bytes=0-1048575'));
  const bad = await loadInPage({ repo: 'wasmllm/tiny-test', file: shards[1], revision: 'r1234' }, { hfEndpoint: `${srv.origin}/hf` });
  assert.equal(bad.code, 'ERR_SHARDS');
  assert.match(bad.message, /shard 2 of 3.*name the first shard/);
});

test('a dropped connection resumes from the last byte with a Range request', { skip, timeout: 60_000 }, async () => {
  await clearCache();
  const name = single[0];
  const size = fs.statSync(path.join(fixtures(), name)).size;
  srv.faults.set(name, { dropAt: 400_000, times: 1 });
  const before = srv.requests.length;
  const r = await loadInPage(`/fx/${name}`);
  assert.ok(r.ok, r.message);
  assert.equal(r.report.resumed, 1);
  const reqs = srv.requests.slice(before).filter((q) => q.path === `/fx/${name}`);
  assert.equal(reqs.length, 2, JSON.stringify(reqs));
  assert.equal(reqs[0].range, null);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(reqs[1].range ?? '')?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= 400_000, `resumed at ${reqs[1].range}`);
  assert.equal(reqs[1].bytes, size - resumedAt, 'only the rest was sent again');
  const solo = await loadInPage(`/fx/${name}`, { cache: false });
  assert.equal(solo.text, r.text, 'the resumed file generates the same text');
});

test('network failure mid-download: ERR_FETCH after the retries, nothing cached for that shard', { skip, timeout: 60_000 }, async () => {
  await clearCache();
  srv.faults.set(shards[2], { dropAt: 1000 });
  const r = await loadInPage(shards.map((s) => `/fx/${s}`), { retries: 2 });
  srv.faults.delete(shards[2]);
  assert.equal(r.ok, false);
  assert.equal(r.code, 'ERR_FETCH');
  assert.match(r.message, new RegExp(`${shards[2]}.*failed after 3 attempts`));
  // Each retry is announced as it is scheduled, not only the final failure.
  assert.deepEqual(r.warnings.map((w) => w.code), ['ERR_FETCH', 'ERR_FETCH'], JSON.stringify(r.warnings));
  assert.match(r.warnings[0].message, new RegExp(`${shards[2]}: .*; retry 1 of 2 in 10 ms$`));
  assert.match(r.warnings[1].message, /retry 2 of 2 in 20 ms$/);
  assert.ok(!(await cachedPaths()).includes(`/fx/${shards[2]}`), 'the failed shard is not cached');
  // The shards that arrived whole are kept, so the next try fetches only the failed one.
  const counts = shards.map((s) => requestsFor(srv.requests, `/fx/${s}`).length);
  const retry = await loadInPage(shards.map((s) => `/fx/${s}`));
  assert.ok(retry.ok, retry.message);
  assert.deepEqual(shards.map((s, i) => requestsFor(srv.requests, `/fx/${s}`).length - counts[i]), [0, 0, 1]);
});

test('bad inputs are readable WasmllmErrors and leave nothing in the cache', { skip, timeout: 90_000 }, async () => {
  await clearCache();
  const notFound = await loadInPage([`/fx/${shards[0]}`, '/fx/missing-00002-of-00003.gguf', `/fx/${shards[2]}`]);
  assert.equal(notFound.code, 'ERR_FETCH');
  assert.match(notFound.message, /missing-00002-of-00003\.gguf: HTTP 404/);
  assert.equal(requestsFor(srv.requests, '/fx/missing-00002-of-00003.gguf').length, 1, 'a 404 is not retried');

  await clearCache();
  const mixed = await loadInPage([`/fx/${shards[0]}`, `/fx/${other[1]}`, `/fx/${shards[2]}`]);
  assert.equal(mixed.code, 'ERR_SHARDS', mixed.message);
  assert.match(mixed.message, /split\.tensors\.count|tensor/);
  assert.deepEqual(await cachedPaths(), [], 'a set that does not load is not cached');

  const noise = await loadInPage('/fx/noise.gguf');
  assert.equal(noise.code, 'ERR_BAD_MAGIC');
  assert.match(noise.message, /noise\.gguf is not a GGUF file/);
  const html = await loadInPage('/index.html');
  assert.equal(html.code, 'ERR_BAD_MAGIC');
  assert.match(html.message, /HTML page, not a GGUF model/);
  const cut = await loadInPage(`/fx/${single[0]}`, {}, 1);
  assert.ok(cut.ok); // sanity: the file itself is fine
  await clearCache();
  srv.faults.set(single[0], { size: 500_000 });
  const truncated = await loadInPage(`/fx/${single[0]}`);
  srv.faults.delete(single[0]);
  assert.equal(truncated.code, 'ERR_TRUNCATED', truncated.message);
  assert.deepEqual(await cachedPaths(), []);

  const sum = crypto.createHash('sha256').update(fs.readFileSync(path.join(fixtures(), single[0]))).digest('hex');
  const good = await loadInPage([{ url: `/fx/${single[0]}`, sha256: sum }], { cache: false }, 1);
  assert.ok(good.ok, good.message);
  const wrong = await loadInPage([{ url: `/fx/${single[0]}`, sha256: '0'.repeat(64) }], {}, 1);
  assert.equal(wrong.code, 'ERR_CHECKSUM');
  assert.match(wrong.message, /SHA-256 is [0-9a-f]{64}, expected 0{64}/);
  assert.deepEqual(await cachedPaths(), []);
});

test('storage quota exceeded (a wrapped CacheStorage): ERR_QUOTA, no entry left', { skip, timeout: 30_000 }, async () => {
  const r = await page.evaluate(async () => {
    const { ShardCache } = await import('/web/browser/index.js');
    // Accepts puts like a real cache until its body is read, then refuses, as a full disk does.
    const storage = {
      open: async (name) => {
        const real = await caches.open(name);
        return new Proxy(real, {
          get(target, prop) {
            if (prop === 'put') {
              return async (req, res) => {
                await res.arrayBuffer();
                throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
              };
            }
            const v = Reflect.get(target, prop);
            return typeof v === 'function' ? v.bind(target) : v;
          },
        });
      },
      delete: (name) => caches.delete(name),
    };
    const cache = new ShardCache({ storage, name: 'quota-test' });
    const bytes = new Uint8Array(3 << 20).fill(7);
    try {
      await cache.put(`${location.origin}/fx/q.gguf`, bytes.length, (o, n) => bytes.slice(o, o + n));
      return { ok: true };
    } catch (e) {
      return { ok: false, code: e.code, message: e.message, left: (await cache.list()).length };
    }
  });
  assert.equal(r.ok, false);
  assert.equal(r.code, 'ERR_QUOTA');
  assert.match(r.message, /storage quota exceeded.*q\.gguf.*3\.00 MiB/);
  assert.equal(r.left, 0);
});

test('generation: AbortSignal stops it, leaving the loop early stops the worker, then it runs again', { skip, timeout: 60_000 }, async () => {
  const r = await page.evaluate(async () => {
    const w = await import('/web/browser/index.js');
    const model = await w.loadModel('/models/shakespeare.gguf');
    const out = {};
    const controller = new AbortController();
    let n = 0;
    try {
      for await (const _ of model.complete('ROMEO:', { maxTokens: 500, signal: controller.signal })) {
        if (++n === 5) controller.abort();
      }
    } catch (e) {
      out.abortCode = e.code;
    }
    out.abortedAfter = n;
    n = 0;
    for await (const _ of model.complete('JULIET:', { maxTokens: 500 })) if (++n === 3) break;
    out.brokeAfter = n;
    let text = '';
    for await (const p of model.complete('ROMEO:', { maxTokens: 6, temperature: 0 })) text += p.text;
    out.finalTokens = model.lastCompletion.tokens.length;
    out.text = text;
    out.tokenized = await model.tokenize('ROMEO:');
    out.detok = await model.detokenize(out.tokenized);
    model.dispose();
    try { model.info(); } catch (e) { out.disposedCode = e.code; }
    return out;
  });
  assert.equal(r.abortCode, 'ERR_ABORTED');
  assert.ok(r.abortedAfter >= 5 && r.abortedAfter < 20, `stopped soon after the abort (${r.abortedAfter})`);
  assert.equal(r.brokeAfter, 3);
  assert.equal(r.finalTokens, 6);
  assert.ok(r.text.length > 0);
  assert.ok(r.tokenized.length > 1);
  assert.match(r.detok, /ROMEO:/);
  assert.equal(r.disposedCode, 'ERR_DISPOSED');
});

test('a local File from the page\'s file picker loads (no download, no cache)', { skip, timeout: 60_000 }, async () => {
  await clearCache();
  await page.setInputFiles('#file', path.join(fixtures(), single[0]));
  await page.waitForFunction(() => ['ready', 'error'].includes(window.wasmllmDemo.phase) && window.wasmllmDemo.loads > 0, null, { timeout: 30_000 });
  const s = await page.evaluate(() => ({ phase: wasmllmDemo.phase, err: wasmllmDemo.lastError, name: document.querySelector('#model-name').textContent }));
  assert.equal(s.phase, 'ready', JSON.stringify(s.err));
  assert.equal(s.name, single[0]);
  assert.deepEqual(await cachedPaths(), []);
});

test('the page shows load failures: 404, not GGUF, network failure', { skip, timeout: 60_000 }, async () => {
  srv.faults.set('drop.gguf', { dropAt: 1000 });
  fs.copyFileSync(path.join(fixtures(), single[0]), path.join(fixtures(), 'drop.gguf'));
  const cases = [
    ['/fx/nothing.gguf', /HTTP 404.*ERR_FETCH/],
    ['/fx/noise.gguf', /not a GGUF file.*ERR_BAD_MAGIC/],
    ['/fx/drop.gguf', /drop\.gguf failed after 5 attempts at byte 1000 of \d+: .*ERR_FETCH/],
  ];
  for (const [url, want] of cases) {
    await page.goto(`${srv.url}?model=${encodeURIComponent(url)}&retryDelayMs=5`);
    await page.waitForFunction(() => ['ready', 'error'].includes(window.wasmllmDemo?.phase), null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => wasmllmDemo.phase), 'error', url);
    const notice = await page.textContent('#notice');
    assert.match(notice, /Could not load the model/);
    assert.match(notice, want);
  }
});

// Heavy (2.7 GB written to /tmp, about a minute): run with WASMLLM_BIG_TESTS=1.
const bigSkip = skip || (process.env.WASMLLM_BIG_TESTS ? false : 'set WASMLLM_BIG_TESTS=1 to load a 2.7 GB model');
test('a 2.7 GB model (three shards under 2 GiB) loads past the 2 GB ArrayBuffer limit', { skip: bigSkip, timeout: 600_000 }, async () => {
  const { GGUFWriter } = await import('../../tools/gguf-writer.js');
  const { parseGGUF } = await import('../../web/gguf.js');
  const bytes = new Uint8Array(fs.readFileSync(path.join(fixtures(), single[0])));
  const h = parseGGUF(bytes);
  const w = new GGUFWriter();
  w.copyKVs(h, () => true);
  for (const t of h.tensors) {
    const start = h.dataOffset + Number(t.offset);
    w.addTensor(t.name, t.typeName, t.shape.map(Number), bytes.subarray(start, start + t.nBytes));
  }
  // Tensors the model never reads, only there to make the file big.
  const zeros = new Uint8Array(512 << 20);
  for (let i = 0; i < 5; i++) w.addTensor(`pad.${i}.weight`, 'F32', [1024, 131072], zeros);
  const files = w.writeSplit(path.join(fixtures(), 'big'), { maxBytes: 1.3e9 }).map((f) => path.basename(f));
  try {
    const r = await loadInPage(`/fx/${files[0]}`, { cache: false }, 4);
    assert.ok(r.ok, r.message);
    assert.ok(r.info.fileBytes > 2.6e9);
    assert.ok(r.info.heapBytes > 2 ** 31, `heap ${r.info.heapBytes}`);
    assert.equal(r.tokens, 4);
  } finally {
    for (const f of files) fs.rmSync(path.join(fixtures(), f), { force: true });
  }
});

test('the URL field loads a URL and an hf:owner/repo/file@revision spec', { skip, timeout: 60_000 }, async () => {
  await clearCache();
  await page.goto(`${srv.url}?nopreload&hfEndpoint=${encodeURIComponent(`${srv.origin}/hf`)}`);
  const loadVia = async (text) => {
    const loads = await page.evaluate(() => wasmllmDemo.loads);
    await page.fill('#model-url', text);
    await page.click('#load-url');
    await page.waitForFunction((n) => wasmllmDemo.phase === 'error' || (wasmllmDemo.phase === 'ready' && wasmllmDemo.loads > n), loads, { timeout: 30_000 });
    return page.evaluate(() => ({ phase: wasmllmDemo.phase, err: wasmllmDemo.lastError, info: wasmllmDemo.model?.info() }));
  };
  const byUrl = await loadVia(`/fx/${single[0]}`);
  assert.equal(byUrl.phase, 'ready', JSON.stringify(byUrl.err));
  const before = srv.requests.length;
  const byHf = await loadVia(`hf:wasmllm/tiny-test/${shards[0]}@r77`);
  assert.equal(byHf.phase, 'ready', JSON.stringify(byHf.err));
  assert.equal(byHf.info.shards, 3);
  assert.ok(srv.requests.slice(before).some((q) => q.path === `/hf/wasmllm/tiny-test/resolve/r77/${shards[2]}`));
  await page.fill('#model-url', 'hf:not a spec');
  await page.click('#load-url');
  await page.waitForSelector('#notice:not([hidden])', { timeout: 5_000 });
  assert.match(await page.textContent('#notice'), /Not a Hugging Face file/);
  assert.equal(await page.evaluate(() => wasmllmDemo.phase), 'ready', 'a malformed spec does not unload the current model');
});

test('aborting a load mid-download: ERR_ABORTED, and the next load works', { skip, timeout: 60_000 }, async () => {
  await clearCache();
  // The last shard stalls after 1000 bytes, so the load cannot finish before
  // the abort reaches the worker (without it this tiny model sometimes won the race).
  srv.faults.set(shards[2], { stallAt: 1000 });
  const r = await page.evaluate(async (urls) => {
    const w = await import('/web/browser/index.js');
    const controller = new AbortController();
    try {
      await w.loadModel(urls, { signal: controller.signal, onProgress: (p) => { if (p.loaded > 0) controller.abort(); } });
      return { ok: true };
    } catch (e) {
      return { ok: false, code: e.code, message: e.message };
    }
  }, shards.map((s) => `/fx/${s}`)).finally(() => srv.faults.delete(shards[2]));
  assert.equal(r.ok, false);
  assert.equal(r.code, 'ERR_ABORTED', r.message);
  const again = await loadInPage(shards.map((s) => `/fx/${s}`), {}, 2);
  assert.ok(again.ok, again.message);
});
