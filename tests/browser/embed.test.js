/**
 * Embeddings in real Chromium (web/browser/index.js, the model in its worker): the
 * vectors equal Node's for the same file, pooling options pass through, an
 * abort stops a batch, and generation on an embedding model is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { skipReason, launch, server, fixtures } from './helpers.js';
import { makeEncoderSynthetic } from '../../tools/make-synthetic-encoder.js';
import { loadModel } from '../../web/node/index.js';

const skip = skipReason() || false;
const TEXTS = ['Hello world, embeddings!', 'The quick brown fox jumps over the lazy dog.', 'Café naïve résumé 你好'];
let srv, browser, file;

before(async () => {
  if (skip) return;
  file = path.join(fixtures(), 'bge-embed.gguf');
  makeEncoderSynthetic({ shape: 'bge-tiny', type: 'Q8_0', seed: 5, out: file });
  srv = await server();
  browser = await launch();
  await browser.page.goto(`${srv.url}?nopreload`);
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

test('browser: embed() in the worker gives Node\'s vectors; pooling, abort and the generation refusal carry over', { skip, timeout: 90_000 }, async () => {
  const r = await browser.page.evaluate(async ({ url, texts }) => {
    const w = await import('/web/browser/index.js');
    const model = await w.loadModel(url);
    const out = { info: model.info() };
    const vectors = await model.embed(texts);
    out.isFloat32 = vectors.every((v) => v instanceof Float32Array);
    out.vectors = vectors.map((v) => Array.from(v));
    out.mean = Array.from((await model.embed([texts[0]], { pooling: 'mean', normalize: false }))[0]);
    try { await model.embed(texts, { pooling: 'max' }); } catch (e) { out.badPooling = e.code; }
    const controller = new AbortController();
    const pending = model.embed(texts.concat(texts, texts, texts), { signal: controller.signal });
    controller.abort();
    try { await pending; out.aborted = 'finished'; } catch (e) { out.aborted = e.code; }
    try { for await (const _ of model.complete('hi')) break; } catch (e) { out.generate = `${e.code}: ${e.message}`; }
    out.after = (await model.embed([texts[1]]))[0].length;
    model.dispose();
    return out;
  }, { url: `${srv.origin}/fx/bge-embed.gguf`, texts: TEXTS });

  assert.equal(r.info.pooling, 'cls');
  assert.equal(r.info.isEncoder, true);
  assert.ok(r.isFloat32);
  assert.equal(r.badPooling, 'ERR_BAD_ARG');
  assert.match(r.generate, /^ERR_BAD_ARG: .*embedding model/);
  // The abort reaches the worker between texts (or the batch had already finished).
  assert.ok(['ERR_ABORTED', 'finished'].includes(r.aborted), r.aborted);
  assert.equal(r.after, 128);

  const model = await loadModel(file, { threads: 1 });
  try {
    const want = await model.embed(TEXTS);
    const [mean] = await model.embed([TEXTS[0]], { pooling: 'mean', normalize: false });
    const close = (a, b, label) => {
      assert.equal(a.length, b.length, label);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${label}[${i}]: ${a[i]} vs ${b[i]}`);
    };
    r.vectors.forEach((v, i) => close(v, want[i], `text #${i}`));
    close(r.mean, mean, 'mean, unnormalized');
  } finally {
    model.dispose();
  }
});
