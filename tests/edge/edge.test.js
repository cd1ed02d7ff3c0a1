/**
 * The edge worker in the real workerd binary (npm `workerd`, installed in
 * tests/ref by `node tools/setup.js --test`): demo/edge-worker's config with
 * the embedded model, streamed and plain completions, bad input, a client
 * that disconnects mid-stream, queued requests, and a model whose first loads
 * fail. Every workerd is stopped at the end, bounded in time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKERD_BIN, startWorkerd } from '../../tools/workerd.js';
import { collectModules, renderConfig } from '../../tools/edge-bundle.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO_CONFIG = path.join(ROOT, 'demo/edge-worker/config.capnp');
const MODEL = path.join(ROOT, 'models/shakespeare.gguf');
const skip = fs.existsSync(WORKERD_BIN) ? false : `workerd is not installed in tests/ref (run \`node tools/setup.js --test\`)`;
if (skip) console.log(`# edge tests skipped: ${skip}`);

const JSON_HEADERS = { 'content-type': 'application/json' };
/** @type {Awaited<ReturnType<typeof startWorkerd>>} */
let worker;
let tmp;

before(async () => {
  if (skip) return;
  for (const f of ['dist/mjs/wasmllm-st.mjs', 'dist/mjs/wasmllm-st.wasm']) {
    assert.ok(fs.existsSync(path.join(ROOT, f)), `${f} is missing: run \`npm run build\``);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-edge-'));
  worker = await startWorkerd({ config: DEMO_CONFIG, timeoutMs: 30000 });
});

after(async () => {
  await worker?.stop();
  if (process.env.WASMLLM_EDGE_LOG) console.log(worker?.log());
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const post = (url, body, init = {}) => fetch(url, { method: 'POST', headers: JSON_HEADERS, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });

/** Reads an SSE body into its `data:` payloads. */
async function readEvents(response) {
  const text = await response.text();
  return text.split('\n\n').filter(Boolean).map((e) => {
    assert.ok(e.startsWith('data: '), `not an SSE data line: ${e}`);
    return e.slice(6);
  });
}

test('the committed demo config lists exactly the modules the import graph reaches', { skip }, () => {
  const expected = renderConfig(collectModules('demo/edge-worker/worker.mjs'), {
    outFile: DEMO_CONFIG, port: 8787, entry: 'demo/edge-worker/worker.mjs',
  });
  assert.equal(fs.readFileSync(DEMO_CONFIG, 'utf8'), expected, 'demo/edge-worker/config.capnp is stale: run `node tools/edge-bundle.js`');
});

test('GET /health and /v1/models (the first request loads the embedded model)', { skip, timeout: 60000 }, async () => {
  const health = await fetch(`${worker.url}/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
  const models = await (await fetch(`${worker.url}/v1/models`)).json();
  assert.deepEqual(models.data.map((m) => m.id), ['shakespeare']);
});

test('streamed chat completion: SSE chunks, a finish chunk with usage, then data: [DONE]', { skip, timeout: 60000 }, async () => {
  const r = await post(`${worker.url}/v1/chat/completions`, {
    model: 'shakespeare', messages: [{ role: 'user', content: 'Who art thou?' }], stream: true, max_tokens: 16, seed: 7,
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const events = await readEvents(r);
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'shakespeare'));
  const content = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
  assert.ok(content.length > 0, 'no text was streamed');
  const last = chunks.at(-1);
  assert.ok(['length', 'stop'].includes(last.choices[0].finish_reason));
  assert.ok(last.usage.completion_tokens >= 1 && last.usage.completion_tokens <= 16);
  assert.ok(last.usage.prompt_tokens > 5, 'the chat template should wrap the message');
});

test('non-streamed completion equals the Node runtime\'s greedy output', { skip, timeout: 60000 }, async () => {
  const r = await post(`${worker.url}/v1/completions`, { prompt: 'ROMEO:', max_tokens: 24, temperature: 0 });
  assert.equal(r.status, 200);
  const json = await r.json();
  assert.equal(json.object, 'text_completion');
  assert.equal(json.usage.completion_tokens, 24);
  const { loadModel } = await import('../../web/index.js');
  const model = await loadModel(MODEL, { variant: 'st', threads: 1 });
  try {
    let text = '';
    for await (const piece of model.complete('ROMEO:', { maxTokens: 24, temperature: 0 })) text += piece.text;
    assert.equal(json.choices[0].text, text);
  } finally {
    model.dispose();
  }
});

test('bad requests get OpenAI-shaped 4xx errors', { skip, timeout: 60000 }, async () => {
  const cases = [
    [post(`${worker.url}/v1/completions`, '{"prompt": "x",'), 400, 'invalid_json'],
    [post(`${worker.url}/v1/completions`, { prompt: 'x', max_tokens: 'many' }), 400, null],
    [post(`${worker.url}/v1/chat/completions`, { messages: [] }), 400, null],
    [post(`${worker.url}/v1/completions`, { model: 'gpt-4', prompt: 'x' }), 404, 'model_not_found'],
    [post(`${worker.url}/v1/completions`, { prompt: 'x'.repeat(2 << 20) }), 413, 'body_too_large'],
    [fetch(`${worker.url}/v1/nothing`), 404, 'not_found'],
    [post(`${worker.url}/v1/completions`, 'prompt=x', { headers: { 'content-type': 'text/plain' } }), 415, null],
  ];
  for (const [pending, status, code] of cases) {
    const r = await pending;
    const json = await r.json();
    assert.equal(r.status, status, JSON.stringify(json));
    assert.equal(typeof json.error.message, 'string');
    if (code) assert.equal(json.error.code, code);
  }
});

test('a client that disconnects mid-stream frees the model for the next request', { skip, timeout: 60000 }, async () => {
  const controller = new AbortController();
  const r = await post(`${worker.url}/v1/completions`, { prompt: 'ROMEO:', max_tokens: 400, stream: true }, { signal: controller.signal });
  const reader = r.body.getReader();
  let events = 0;
  while (events < 3) {
    const { value, done } = await reader.read();
    assert.ok(!done, 'the stream ended early');
    events += new TextDecoder().decode(value).split('data: ').length - 1;
  }
  controller.abort();
  // Were the generation still running, this would wait for up to 400 tokens.
  const t0 = Date.now();
  const next = await post(`${worker.url}/v1/completions`, { prompt: 'JULIET:', max_tokens: 4 });
  assert.equal(next.status, 200);
  assert.equal((await next.json()).usage.completion_tokens, 4);
  const health = await (await fetch(`${worker.url}/health`)).json();
  assert.equal(health.slots_busy, 0);
  // 400 tokens take over 10 s here; 4 tokens after a stopped generation take well under one.
  assert.ok(Date.now() - t0 < 8000, `the next request took ${Date.now() - t0} ms`);
});

test('concurrent requests queue for the one model and all complete', { skip, timeout: 90000 }, async () => {
  const answers = await Promise.all([0, 1, 2].map(async (i) => {
    const stream = i === 1;
    const r = await post(`${worker.url}/v1/completions`, { prompt: 'KING:', max_tokens: 8, temperature: 0, stream });
    assert.equal(r.status, 200);
    if (!stream) return (await r.json()).choices[0].text;
    const events = await readEvents(r);
    assert.equal(events.at(-1), '[DONE]');
    return events.slice(0, -1).map((e) => JSON.parse(e).choices[0].text).join('');
  }));
  assert.equal(answers[0], answers[1]);
  assert.equal(answers[1], answers[2]);
});

test('a failed model load answers 503 and the next request retries', { skip, timeout: 90000 }, async () => {
  const flaky = await startWorkerd({ dir: tmp, entry: 'tests/edge/fixtures/flaky-worker.mjs', timeoutMs: 30000 });
  try {
    const ask = () => post(`${flaky.url}/v1/completions`, { prompt: 'ROMEO:', max_tokens: 3 });
    const first = await ask();
    assert.equal(first.status, 503);
    const e1 = (await first.json()).error;
    assert.equal(e1.code, 'model_load_failed');
    assert.match(e1.message, /bucket unavailable/);
    const second = await ask();
    assert.equal(second.status, 503);
    assert.match((await second.json()).error.message, /returned nothing/);
    const third = await ask();
    assert.equal(third.status, 200, 'the third load (an R2-shaped object) should work');
    assert.equal((await third.json()).usage.completion_tokens, 3);
  } finally {
    await flaky.stop();
  }
});

test('a model fetched by URL on the first request streams into the heap (the R2 way)', { skip, timeout: 90000 }, async () => {
  const http = await import('node:http');
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    // The first fetch fails, as a bucket or origin sometimes does.
    if (requests === 1) { res.writeHead(502); res.end('bad gateway'); return; }
    res.writeHead(200, { 'content-length': fs.statSync(MODEL).size });
    fs.createReadStream(MODEL).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const byUrl = await startWorkerd({
    dir: tmp, entry: 'tests/edge/fixtures/url-worker.mjs', localFetch: true, timeoutMs: 30000,
    vars: { MODEL_URL: `http://127.0.0.1:${server.address().port}/shakespeare.gguf` },
  });
  try {
    const ask = () => post(`${byUrl.url}/v1/completions`, { prompt: 'ROMEO:', max_tokens: 24, temperature: 0 });
    const failed = await ask();
    assert.equal(failed.status, 503);
    assert.match((await failed.json()).error.message, /ERR_FETCH.*502/);
    const r = await ask();
    assert.equal(r.status, 200);
    const streamed = await r.json();
    const embedded = await (await post(`${worker.url}/v1/completions`, { prompt: 'ROMEO:', max_tokens: 24, temperature: 0 })).json();
    assert.equal(streamed.choices[0].text, embedded.choices[0].text);
    assert.equal(requests, 2, 'the model is fetched once per isolate after a success');
    await ask();
    assert.equal(requests, 2);
  } finally {
    await byUrl.stop();
    server.close();
  }
});
