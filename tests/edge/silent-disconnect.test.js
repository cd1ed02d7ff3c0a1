/**
 * A client that leaves without a word: under `wrangler dev` neither
 * request.signal nor the body's cancel() fires when the client disconnects
 * mid-stream, and the one generation turn used to stay taken for good (every
 * later request waited forever). workerd itself reports disconnects, so the
 * handler is driven here in Node, where dropping a reader without cancelling
 * it is exactly that silence. (Checked by hand under wrangler 4.86 `dev`:
 * before, every later request timed out with slots_busy 1; after, the next
 * one waited the 10 s idle limit and the rest took ~0.1 s.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WASM = path.join(ROOT, 'dist/mjs/wasmllm-st.wasm');

const request = (body) => new Request('http://edge.test/v1/completions', {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

const ctx = { waitUntil() {} };

/** The edge handler over the embedded model, in Node, with a 500 ms idle limit. */
async function embeddedHandler() {
  const { createWorkerHandler } = await import('../../web/edge/index.js');
  const wasmModule = await WebAssembly.compile(fs.readFileSync(WASM));
  const model = new Uint8Array(fs.readFileSync(path.join(ROOT, 'models/shakespeare.gguf')));
  return createWorkerHandler({ model, wasmModule, modelId: 'shakespeare', streamIdleTimeoutMs: 500 });
}

test('a stream abandoned without cancel or signal is stopped once another request has waited streamIdleTimeoutMs', { timeout: 60000 }, async () => {
  const handler = await embeddedHandler();

  const stream = await handler.fetch(request({ prompt: 'ROMEO:', max_tokens: 200, stream: true }), {}, ctx);
  assert.equal(stream.status, 200);
  const reader = stream.body.getReader();
  await reader.read();
  await reader.read();
  // The client is gone; nothing tells the handler.

  const t0 = Date.now();
  const next = await handler.fetch(request({ prompt: 'JULIET:', max_tokens: 4 }), {}, ctx);
  const ms = Date.now() - t0;
  assert.equal(next.status, 200);
  assert.equal((await next.json()).usage.completion_tokens, 4);
  assert.ok(ms >= 450 && ms < 10000, `the next request waited ${ms} ms`);
  const again = await handler.fetch(request({ prompt: 'KING:', max_tokens: 2 }), {}, ctx);
  assert.equal(again.status, 200);
  await again.json();
  const health = await (await handler.fetch(new Request('http://edge.test/health'), {}, ctx)).json();
  assert.equal(health.slots_busy, 0);
});

test('a client that reads slowly but steadily is not cut off', { timeout: 60000 }, async () => {
  const handler = await embeddedHandler();
  const stream = await handler.fetch(request({ prompt: 'ROMEO:', max_tokens: 6, stream: true, temperature: 0 }), {}, ctx);
  const waiting = handler.fetch(request({ prompt: 'JULIET:', max_tokens: 2 }), {}, ctx);
  const reader = stream.body.getReader();
  let text = '';
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200)); // under the idle limit
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  assert.match(text, /"finish_reason":"length"/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  assert.equal((await waiting).status, 200);
});
