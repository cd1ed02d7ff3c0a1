/**
 * model.perplexity() in real Chromium (web/browser/index.js, the model in its
 * worker): the same figures as Node's on the embedded model, onChunk called
 * on the page after each chunk, and an abort reaching the worker.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { skipReason, launch, server, fixtures } from './helpers.js';
import { loadModel } from '../../web/node/index.js';
import { EMBEDDED } from '../node/runtime-fixtures.js';

const skip = skipReason() || false;
const TEXT = 'ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n'.repeat(3);
let srv, browser;

before(async () => {
  if (skip) return;
  fs.copyFileSync(EMBEDDED, path.join(fixtures(), 'shakespeare-ppl.gguf'));
  srv = await server();
  browser = await launch();
  await browser.page.goto(`${srv.url}?nopreload`);
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

test('browser: perplexity() in the worker gives Node\'s figures, with onChunk on the page and abort', { skip, timeout: 90_000 }, async () => {
  const r = await browser.page.evaluate(async ({ url, text }) => {
    const w = await import('/web/browser/index.js');
    const model = await w.loadModel(url, { contextSize: 64 });
    const chunks = [];
    const out = { result: await model.perplexity(text, { contextSize: 16, onChunk: (c) => chunks.push(c) }) };
    out.chunks = chunks;
    const controller = new AbortController();
    const pending = model.perplexity(text, { contextSize: 16, signal: controller.signal, onChunk: () => controller.abort() });
    try { await pending; out.aborted = 'finished'; } catch (e) { out.aborted = e.code; }
    try { await model.perplexity('ROMEO:', { contextSize: 16 }); } catch (e) { out.short = e.code; }
    model.dispose();
    return out;
  }, { url: `${srv.origin}/fx/shakespeare-ppl.gguf`, text: TEXT });

  const model = await loadModel(EMBEDDED, { threads: 1, contextSize: 64 });
  try {
    const want = await model.perplexity(TEXT, { contextSize: 16 });
    assert.deepEqual(r.result, want);
    assert.deepEqual(r.chunks.map((c) => c.ppl), want.estimates);
  } finally {
    model.dispose();
  }
  assert.equal(r.aborted, 'ERR_ABORTED');
  assert.equal(r.short, 'ERR_BAD_ARG');
});
