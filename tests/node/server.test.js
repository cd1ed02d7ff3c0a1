/**
 * The OpenAI-compatible server, driven by the official `openai` client (from
 * tests/ref) and by raw fetch for the error cases the client hides.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { loadModel } from '../../web/node/index.js';
import { createServer } from '../../web/node/server.js';
import { ROOT, EMBEDDED } from './runtime-fixtures.js';

const REF = path.join(ROOT, 'tests/ref/node_modules');
const haveRef = fs.existsSync(path.join(REF, 'openai'));

let model, sessions, server, base, client;

before(async () => {
  model = await loadModel(EMBEDDED, { threads: 1, contextSize: 256 });
  sessions = [model, model.createSession({ contextSize: 256 })];
  server = createServer({ engines: sessions, modelId: 'shakespeare', maxBodyBytes: 64 * 1024, maxQueue: 100 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  if (haveRef) {
    const OpenAI = (await import(createRequire(import.meta.url).resolve('openai', { paths: [REF] }))).default;
    client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  }
});

after(async () => {
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(resolve));
  for (const s of sessions.slice().reverse()) s.dispose();
});

const post = async (route, body, headers = {}) => {
  const r = await fetch(base + route, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
};

const skipNoRef = haveRef ? false : 'tests/ref is not installed (node tools/setup.js --test)';

test('GET /v1/models and /health through the openai client', { skip: skipNoRef }, async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['shakespeare']);
  const health = await (await fetch(`${base}/health`)).json();
  assert.equal(health.status, 'ok');
  assert.equal(health.slots_total, 2);
});

test('chat completion: non-streaming and streaming give the same greedy text', { skip: skipNoRef }, async () => {
  const request = { model: 'shakespeare', messages: [{ role: 'system', content: 'You are a player.' }, { role: 'user', content: 'Speak, ROMEO.' }], max_tokens: 24, temperature: 0, seed: 1 };
  const full = await client.chat.completions.create(request);
  const text = full.choices[0].message.content;
  assert.equal(full.object, 'chat.completion');
  assert.equal(full.choices[0].message.role, 'assistant');
  assert.ok(text.length > 0);
  assert.ok(full.usage.prompt_tokens > 5);
  assert.ok(full.usage.completion_tokens > 0 && full.usage.completion_tokens <= 24);
  assert.equal(full.usage.total_tokens, full.usage.prompt_tokens + full.usage.completion_tokens);

  const stream = await client.chat.completions.create({ ...request, stream: true });
  let streamed = '';
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    streamed += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.ok(chunks > 2, 'streamed in several chunks');
  assert.equal(streamed, text);
  assert.equal(finish, full.choices[0].finish_reason);
});

test('text completion with stop strings, seed and top_p', { skip: skipNoRef }, async () => {
  const a = await client.completions.create({ model: 'shakespeare', prompt: 'ROMEO:', max_tokens: 40, temperature: 0.9, top_p: 0.9, seed: 42 });
  const b = await client.completions.create({ model: 'shakespeare', prompt: 'ROMEO:', max_tokens: 40, temperature: 0.9, top_p: 0.9, seed: 42 });
  assert.equal(a.choices[0].text, b.choices[0].text, 'same seed, same text');
  const stopped = await client.completions.create({ model: 'shakespeare', prompt: 'ROMEO:', max_tokens: 60, temperature: 0, stop: ['\n\n'] });
  assert.ok(!stopped.choices[0].text.includes('\n\n'));
  assert.equal(stopped.choices[0].finish_reason, 'stop');
});

test('SSE stream ends with data: [DONE]', async () => {
  const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'JULIET:', max_tokens: 5, stream: true, temperature: 0, stream_options: { include_usage: true } }) });
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  const body = await r.text();
  assert.match(body, /data: \[DONE\]\n\n$/);
  const events = body.split('\n\n').filter(Boolean);
  const last = JSON.parse(events.at(-2).slice(6));
  assert.equal(last.usage.completion_tokens, 5);
});

test('bad requests get OpenAI-shaped 4xx errors', async () => {
  let r = await post('/v1/chat/completions', '{"messages": [');
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'invalid_json');
  r = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 'ten' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'max_tokens');
  r = await post('/v1/chat/completions', { messages: 'hi' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'messages');
  r = await post('/v1/chat/completions', { messages: [{ role: 'wizard', content: 'hi' }] });
  assert.equal(r.status, 400);
  r = await post('/v1/chat/completions', { model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'model_not_found');
  r = await post('/v1/completions', { prompt: 'x'.repeat(100 * 1024) });
  assert.equal(r.status, 413);
  r = await post('/v1/completions', { prompt: 'O Romeo, wherefore '.repeat(60) });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'context_length_exceeded');
  assert.match(r.json.error.message, /256/);
  r = await post('/v1/embeddings', { input: 'hello' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'not_an_embedding_model');
  const nf = await fetch(`${base}/v1/nothing`);
  assert.equal(nf.status, 404);
  assert.equal((await nf.json()).error.type, 'invalid_request_error');
  const wrongMethod = await fetch(`${base}/v1/chat/completions`);
  assert.equal(wrongMethod.status, 405);
});

test('a client that disconnects stops its generation and frees its slot', async () => {
  const controller = new AbortController();
  const r = await fetch(`${base}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
    body: JSON.stringify({ prompt: 'ROMEO:', max_tokens: 200, stream: true, temperature: 0.8 }),
  });
  const reader = r.body.getReader();
  await reader.read();
  controller.abort();
  // The slot comes back long before 200 tokens could have been generated.
  const t0 = Date.now();
  for (;;) {
    const h = await (await fetch(`${base}/health`)).json();
    if (h.slots_idle === h.slots_total) break;
    assert.ok(Date.now() - t0 < 5000, 'slot freed within 5 s of the disconnect');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

/** Starts one streaming request; aborts it after its first chunk when `drop`. */
async function streamingRequest(i, drop) {
  const controller = new AbortController();
  try {
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ messages: [{ role: 'user', content: `Line ${i}` }], max_tokens: 8, stream: true, temperature: 0.7, seed: i }),
    });
    if (r.status !== 200) return { ok: false, status: r.status };
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (drop) { controller.abort(); return { ok: true, dropped: true }; }
    }
    return { ok: text.endsWith('data: [DONE]\n\n'), dropped: false };
  } catch (e) {
    if (drop) return { ok: true, dropped: true };
    return { ok: false, error: e.message };
  }
}

test('50 concurrent streaming requests, a third disconnecting: the rest finish and memory returns to baseline', { timeout: 120_000 }, async () => {
  const round = () => Promise.all(Array.from({ length: 50 }, (_, i) => streamingRequest(i, i % 3 === 0)));
  await round(); // warm-up: the heap reaches its working size
  global.gc?.();
  const wasmBefore = model.memory().heapInUseBytes;
  const rssBefore = process.memoryUsage().rss;
  const results = await round();
  assert.equal(results.filter((r) => !r.ok).length, 0, JSON.stringify(results.filter((r) => !r.ok)));
  assert.equal(results.filter((r) => !r.dropped).length, 33);
  const h = await (await fetch(`${base}/health`)).json();
  assert.equal(h.queued, 0);
  assert.equal(h.slots_idle, h.slots_total);
  global.gc?.();
  assert.equal(model.memory().heapInUseBytes, wasmBefore, 'wasm heap unchanged after a second round');
  const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grownMb < 40, `process memory grew by ${grownMb.toFixed(1)} MB`);
});
