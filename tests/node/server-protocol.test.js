/**
 * The server's HTTP protocol (issue 22): errors known before the first byte
 * are status codes (streamed or not), range checks naming the field,
 * stream_options.include_usage in OpenAI's shape, one set of sampling
 * defaults, /health and /ready, chunked bodies over the limit, the API key,
 * model aliases, and shutdown with a deadline.
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
const skipNoRef = haveRef ? false : 'tests/ref is not installed (node tools/setup.js --test)';

let model;
const servers = [];

before(async () => {
  model = await loadModel(EMBEDDED, { threads: 1, contextSize: 256 });
});

after(async () => {
  for (const s of servers) {
    s.closeAllConnections?.();
    await new Promise((resolve) => s.close(() => resolve()));
  }
  for (const s of servers) for (const e of s.engines) if (e !== model) e.dispose();
  model.dispose();
});

/** A server over `engines` (default: the model) on a free port; its base URL. */
async function serve(config = {}, engines = [model]) {
  const server = createServer({ engines, modelId: 'shakespeare', maxBodyBytes: 64 * 1024, maxQueue: 8, ...config });
  server.engines = engines;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

const post = (base, route, body, headers = {}, init = {}) => fetch(base + route, {
  method: 'POST', headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body), ...init,
});

/** An SSE body's data payloads, parsed (the final [DONE] kept as the string). */
async function events(r) {
  const text = await r.text();
  return text.split('\n\n').filter(Boolean).map((e) => {
    assert.ok(e.startsWith('data: '), e);
    const data = e.slice(6);
    return data === '[DONE]' ? data : JSON.parse(data);
  });
}

const LONG_CHAT = [{ role: 'user', content: 'O Romeo, wherefore art thou Romeo? '.repeat(40) }];

test('a prompt over the context is refused with 400 before anything is evaluated, streamed or not', async () => {
  const { base } = await serve();
  for (const stream of [false, true]) {
    const before = model.lastCompletion;
    const r = await post(base, '/v1/chat/completions', { messages: LONG_CHAT, stream, max_tokens: 4 });
    assert.equal(r.status, 400, `stream: ${stream}`);
    assert.match(r.headers.get('content-type'), /application\/json/);
    const e = (await r.json()).error;
    assert.equal(e.code, 'context_length_exceeded');
    assert.match(e.message, /the chat prompt has \d+ tokens but the context holds 256/);
    // No generation ran: it would have left its (failed) completion behind.
    assert.equal(model.lastCompletion, before, 'nothing was evaluated');
    const c = await post(base, '/v1/completions', { prompt: 'O Romeo, wherefore '.repeat(60), stream });
    assert.equal(c.status, 400);
    assert.equal((await c.json()).error.code, 'context_length_exceeded');
  }
  // The runtime itself refuses it the same way, with nothing evaluated.
  await assert.rejects(async () => { for await (const _ of model.chat(LONG_CHAT, { maxTokens: 1 })); },
    (e) => e.code === 'ERR_CONTEXT_FULL' && /the chat prompt has \d+ tokens but the context holds 256/.test(e.message));
});

test('a full queue answers 503 with Retry-After, streamed too, before any stream starts', async () => {
  const session = model.createSession({ contextSize: 256 });
  const { base } = await serve({ maxQueue: 0 }, [session]);
  const controller = new AbortController();
  const first = await post(base, '/v1/completions', { prompt: 'ROMEO:', max_tokens: 200, stream: true, temperature: 0.8 }, {}, { signal: controller.signal });
  assert.equal(first.status, 200);
  const reader = first.body.getReader();
  await reader.read(); // the slot is taken
  for (const stream of [true, false]) {
    const r = await post(base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], stream });
    assert.equal(r.status, 503, `stream: ${stream}`);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal((await r.json()).error.code, 'server_busy');
  }
  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 503, '/ready: a request now would be refused');
  controller.abort();
  await reader.closed.catch(() => {});
  for (let t0 = Date.now(); (await fetch(`${base}/ready`)).status !== 200;) {
    assert.ok(Date.now() - t0 < 5000, 'ready again once the slot is free');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

test('out-of-range sampling fields get 400 naming the field', async () => {
  const { base } = await serve();
  const cases = [
    ['top_k', -5], ['min_p', 5], ['min_p', -0.1], ['seed', -2], ['seed', 2 ** 32], ['max_tokens', 1e300],
    ['max_tokens', 0], ['max_completion_tokens', 2 ** 31], ['presence_penalty', 3], ['frequency_penalty', -2.5],
    ['repeat_penalty', 0], ['temperature', 2.5], ['top_p', 0], ['n', 2],
  ];
  for (const [field, value] of cases) {
    const r = await post(base, '/v1/completions', { prompt: 'ROMEO:', max_tokens: 2, [field]: value });
    const e = (await r.json()).error;
    assert.equal(r.status, 400, `${field}: ${value}`);
    assert.equal(e.param, field, `${field}: ${value}`);
    assert.match(e.message, new RegExp(field));
  }
  // llama.cpp's convention: seed -1 asks for a random seed.
  const r = await post(base, '/v1/completions', { prompt: 'ROMEO:', max_tokens: 2, seed: -1, top_k: 0, min_p: 0 });
  assert.equal(r.status, 200);
});

test('stream_options.include_usage: usage only when asked, in a last chunk with no choices', async () => {
  const { base } = await serve();
  const plain = await events(await post(base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 5 }));
  assert.equal(plain.at(-1), '[DONE]');
  assert.ok(plain.slice(0, -1).every((c) => !('usage' in c)), 'no usage unless asked');
  assert.ok(plain.at(-2).choices[0].finish_reason);

  const asked = await events(await post(base, '/v1/completions', { prompt: 'ROMEO:', stream: true, max_tokens: 5, temperature: 0, stream_options: { include_usage: true } }));
  assert.equal(asked.at(-1), '[DONE]');
  const last = asked.at(-2);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(Object.keys(last.usage).sort(), ['completion_tokens', 'prompt_tokens', 'total_tokens']);
  assert.equal(last.usage.completion_tokens, 5);
  assert.equal(asked.at(-3).choices[0].finish_reason, 'length');
  assert.ok(asked.slice(0, -2).every((c) => c.usage === null), 'the other chunks carry usage: null');

  const r = await post(base, '/v1/completions', { prompt: 'x', stream_options: { include_usage: true } });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.param, 'stream_options');
});

test('stream_options.include_usage through the openai client', { skip: skipNoRef }, async () => {
  const { base } = await serve();
  const OpenAI = (await import(createRequire(import.meta.url).resolve('openai', { paths: [REF] }))).default;
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'shakespeare', messages: [{ role: 'user', content: 'hi' }], max_tokens: 6, stream: true, stream_options: { include_usage: true } });
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) {
      assert.deepEqual(chunk.choices, [], 'usage comes in its own chunk');
      usage = chunk.usage;
    }
  }
  assert.ok(usage && usage.completion_tokens >= 1 && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens);
});

test('a request naming no sampling fields samples with the runtime\'s defaults (the CLI\'s)', async () => {
  const { base } = await serve();
  const r = await (await post(base, '/v1/completions', { prompt: 'ROMEO:', max_tokens: 24, seed: 11 })).json();
  let text = '';
  for await (const piece of model.complete('ROMEO:', { maxTokens: 24, seed: 11 })) text += piece.text;
  assert.equal(r.choices[0].text, text);
});

test('GET /health is liveness, /ready says whether a request would be taken', async () => {
  const { base, server } = await serve();
  const h = await fetch(`${base}/health`);
  assert.equal(h.status, 200);
  assert.equal((await h.json()).status, 'ok');
  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).status, 'ready');
  server.api.drain();
  const draining = await fetch(`${base}/ready`);
  assert.equal(draining.status, 503);
  assert.equal((await draining.json()).status, 'shutting_down');
  const refused = await post(base, '/v1/completions', { prompt: 'ROMEO:', max_tokens: 2 });
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).error.code, 'shutting_down');
  assert.equal((await fetch(`${base}/health`)).status, 200, 'still alive');
});

test('a chunked body over the limit gets 413, not a reset connection', async () => {
  const { base } = await serve({ maxBodyBytes: 4096 });
  const piece = new TextEncoder().encode(`{"prompt": "${'x'.repeat(1000)}`);
  const body = new ReadableStream({
    start(c) {
      for (let i = 0; i < 20; i++) c.enqueue(piece); // 20 KB, no content-length
      c.close();
    },
  });
  const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' });
  assert.equal(r.status, 413);
  assert.equal((await r.json()).error.code, 'body_too_large');
});

test('--api-key: Bearer required (401 in OpenAI\'s shape), /health and /ready open', async () => {
  const { base } = await serve({ apiKey: 'sk-test-123' });
  const body = { prompt: 'ROMEO:', max_tokens: 2 };
  for (const headers of [{}, { authorization: 'Bearer sk-wrong' }, { authorization: 'sk-test-123' }]) {
    const r = await post(base, '/v1/completions', body, headers);
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    const e = (await r.json()).error;
    assert.equal(e.code, 'invalid_api_key');
    assert.equal(e.type, 'invalid_request_error');
  }
  assert.equal((await fetch(`${base}/v1/models`)).status, 401);
  assert.equal((await post(base, '/v1/completions', body, { authorization: 'Bearer sk-test-123' })).status, 200);
  assert.equal((await fetch(`${base}/health`)).status, 200);
  assert.equal((await fetch(`${base}/ready`)).status, 200);
});

test('the openai client with an API key and a model alias (the README example)', { skip: skipNoRef }, async () => {
  const { base } = await serve({ modelId: 'wasmllm Shakespeare 6.8M', aliases: ['shakespeare'], apiKey: 'sk-test-123' });
  const OpenAI = (await import(createRequire(import.meta.url).resolve('openai', { paths: [REF] }))).default;
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-test-123', maxRetries: 0 });
  const r = await client.chat.completions.create({ model: 'shakespeare', messages: [{ role: 'user', content: 'Speak.' }], max_tokens: 4 });
  assert.equal(r.model, 'wasmllm Shakespeare 6.8M');
  const listed = await client.models.list();
  assert.deepEqual(listed.data.map((m) => [m.id, m.aliases]), [['wasmllm Shakespeare 6.8M', ['shakespeare']]]);
  const wrongKey = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'nope', maxRetries: 0 });
  await assert.rejects(wrongKey.models.list(), (e) => e.status === 401 && e.code === 'invalid_api_key');
  await assert.rejects(client.completions.create({ model: 'gpt-4', prompt: 'x' }), (e) => e.status === 404);
});

test('shutdown: no new connections, running streams get the grace period, then are ended with a reason', { timeout: 30000 }, async () => {
  const session = model.createSession({ contextSize: 256 });
  const { base, server } = await serve({}, [session]);
  const r = await post(base, '/v1/completions', { prompt: 'ROMEO:', max_tokens: 250, stream: true, temperature: 0.8 });
  assert.equal(r.status, 200);
  const reader = r.body.getReader();
  await reader.read();
  const t0 = Date.now();
  const done = server.shutdown(300);
  let text = '';
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += new TextDecoder().decode(value);
  }
  await done;
  const ms = Date.now() - t0;
  assert.ok(ms >= 280 && ms < 5000, `shut down after ${ms} ms`);
  assert.match(text, /"code":"shutting_down"/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  await assert.rejects(fetch(`${base}/health`), 'the listener is closed');
});
