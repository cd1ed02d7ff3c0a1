/**
 * The edge worker's HTTP protocol in the real workerd (issue 22): errors known
 * before the first byte are status codes (an over-long prompt 400, a full
 * queue 503 with Retry-After, streamed or not); /health does not load the
 * model and /ready does; the API key; clients that leave mid-stream or before
 * reading anything never jam the one slot.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WORKERD_BIN, startWorkerd } from '../../tools/workerd.js';

const skip = fs.existsSync(WORKERD_BIN) ? false : 'workerd is not installed in tests/ref (run `node tools/setup.js --test`)';
const KEY = 'sk-edge-test';
const AUTH = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };

let worker;
let tmp;

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-edge-protocol-'));
  worker = await startWorkerd({ dir: tmp, entry: 'tests/edge/fixtures/strict-worker.mjs', timeoutMs: 30000, vars: { API_KEY: KEY } });
});

after(async () => {
  await worker?.stop();
  if (process.env.WASMLLM_EDGE_LOG) console.log(worker?.log());
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const post = (route, body, init = {}) => fetch(worker.url + route, { method: 'POST', headers: AUTH, body: JSON.stringify(body), ...init });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('/health answers without loading the model; /ready loads it and turns 200', { skip, timeout: 60000 }, async () => {
  const h = await fetch(`${worker.url}/health`);
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { status: 'ok', model_loaded: false, slots_busy: 0, queued: 0 });
  const first = await fetch(`${worker.url}/ready`);
  assert.equal(first.status, 503);
  assert.equal((await first.json()).status, 'loading');
  for (const t0 = Date.now(); ;) {
    const r = await fetch(`${worker.url}/ready`);
    if (r.status === 200) break;
    await r.body?.cancel();
    assert.ok(Date.now() - t0 < 30000, 'ready within 30 s');
    await sleep(50);
  }
  assert.equal((await (await fetch(`${worker.url}/health`)).json()).model_loaded, true);
});

test('API key: 401 in OpenAI\'s shape without it; the alias names the model', { skip, timeout: 60000 }, async () => {
  const r = await fetch(`${worker.url}/v1/models`);
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, 'invalid_api_key');
  const ok = await post('/v1/chat/completions', { model: 'shakespeare', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).model, 'wasmllm Shakespeare 6.8M');
});

test('an over-long prompt is 400 context_length_exceeded, streamed or not', { skip, timeout: 60000 }, async () => {
  for (const stream of [true, false]) {
    const r = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'O Romeo, wherefore art thou? '.repeat(50) }], stream });
    assert.equal(r.status, 400, `stream: ${stream}`);
    const e = (await r.json()).error;
    assert.equal(e.code, 'context_length_exceeded');
    assert.match(e.message, /context holds 256/);
  }
});

/** Starts a long stream and reads its first event: the one slot is taken. */
async function holdSlot() {
  const controller = new AbortController();
  const r = await post('/v1/completions', { prompt: 'ROMEO:', max_tokens: 250, stream: true }, { signal: controller.signal });
  assert.equal(r.status, 200);
  const reader = r.body.getReader();
  await reader.read();
  return { controller, reader };
}

test('a full queue is 503 with Retry-After before any stream starts', { skip, timeout: 90000 }, async () => {
  const held = await holdSlot();
  // maxQueue 1: the first waiter queues, the next is refused at once, streamed or not.
  const queued = post('/v1/completions', { prompt: 'JULIET:', max_tokens: 2 });
  await sleep(200);
  for (const stream of [true, false]) {
    const r = await post('/v1/completions', { prompt: 'KING:', max_tokens: 2, stream });
    assert.equal(r.status, 503, `stream: ${stream}`);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal((await r.json()).error.code, 'server_busy');
  }
  assert.equal((await fetch(`${worker.url}/ready`)).status, 503);
  held.controller.abort();
  const q = await queued;
  assert.equal(q.status, 200);
  await q.json();
});

test('clients that leave before reading, or mid-stream, or while queued never jam the slot', { skip, timeout: 120000 }, async () => {
  for (let round = 0; round < 3; round++) {
    // Gone before reading a byte of the body.
    const a = new AbortController();
    const r = await post('/v1/completions', { prompt: 'ROMEO:', max_tokens: 250, stream: true }, { signal: a.signal });
    assert.equal(r.status, 200);
    a.abort();
    // Gone mid-stream, with another request queued behind it that also leaves.
    const held = await holdSlot();
    const b = new AbortController();
    const waiting = post('/v1/completions', { prompt: 'JULIET:', max_tokens: 2 }, { signal: b.signal }).catch(() => null);
    await sleep(100);
    b.abort();
    await waiting;
    held.controller.abort();
    // Gone while the prompt is still being read: a request whose body never finishes.
    const c = new AbortController();
    const stalled = fetch(`${worker.url}/v1/completions`, {
      method: 'POST', headers: AUTH, signal: c.signal, duplex: 'half',
      body: new ReadableStream({ start(ctl) { ctl.enqueue(new TextEncoder().encode('{"prompt": "x')); } }),
    }).catch(() => null);
    await sleep(100);
    c.abort();
    await stalled;
  }
  const t0 = Date.now();
  const next = await post('/v1/completions', { prompt: 'KING:', max_tokens: 4 });
  assert.equal(next.status, 200, JSON.stringify(await next.clone().json()));
  assert.equal((await next.json()).usage.completion_tokens, 4);
  assert.ok(Date.now() - t0 < 8000, `the next request took ${Date.now() - t0} ms`);
  const h = await (await fetch(`${worker.url}/health`)).json();
  assert.equal(h.slots_busy, 0);
  assert.equal(h.queued, 0);
});
