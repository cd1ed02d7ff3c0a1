/**
 * Continuous batching in `wasmllm serve`: the slots are sessions of one
 * model, so concurrent requests share each decode step (web/scheduler.js).
 * Streams give the texts they give alone, a client that leaves frees its slot
 * while the others go on, and a long prompt arriving mid-stream is fed in
 * chunks between the running streams' tokens. `--no-batch` keeps the turns.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { loadModel } from '../../web/node/index.js';
import { createServer } from '../../web/node/server.js';
import { PROMPT_BATCH } from '../../web/scheduler.js';
import { ROOT, CLI, EMBEDDED } from './runtime-fixtures.js';

const SLOTS = 4;
const PROMPTS = ['ROMEO:\nBut soft', 'JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?', 'HAMLET:\nTo be', 'KING LEAR:\nBlow, winds, and crack your cheeks! Rage! Blow!'];
const LONG = 'ROMEO:\n' + 'What light through yonder window breaks? It is the east, and Juliet is the sun. '.repeat(14);

let model, engines, server, base;

before(async () => {
  model = await loadModel(EMBEDDED, { threads: 1, contextSize: 512 });
  engines = [model, ...Array.from({ length: SLOTS - 1 }, () => model.createSession())];
  server = createServer({ engines, modelId: 'shakespeare', maxBodyBytes: 64 * 1024, maxQueue: 16 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(resolve));
  for (const e of engines.slice().reverse()) e.dispose();
});

/**
 * Streams a greedy /v1/completions request; calls onText(text) per SSE chunk.
 * Resolves with the whole text (or what came before `signal` cut it).
 */
async function stream(url, prompt, maxTokens, { onText = () => {}, signal } = {}) {
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal,
    body: JSON.stringify({ model: 'shakespeare', prompt, max_tokens: maxTokens, temperature: 0, stream: true }),
  });
  assert.equal(r.status, 200);
  let text = '', buf = '';
  const decoder = new TextDecoder();
  for await (const bytes of r.body) {
    buf += decoder.decode(bytes, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = event.replace(/^data: /, '');
      if (data === '[DONE]') return text;
      const piece = JSON.parse(data).choices?.[0]?.text ?? '';
      text += piece;
      onText(piece);
    }
  }
  return text;
}

const health = async (url = base) => (await fetch(`${url}/health`)).json();

test('N concurrent streamed requests give the texts they give one at a time, in shared steps', async () => {
  const sequential = [];
  for (const p of PROMPTS) sequential.push(await stream(base, p, 24));
  const before = model.batchStats();
  const concurrent = await Promise.all(PROMPTS.map((p) => stream(base, p, 24)));
  assert.deepEqual(concurrent, sequential);
  const stats = model.batchStats();
  assert.equal(stats.maxSequences, SLOTS, 'one step carried every slot');
  assert.ok(stats.batches - before.batches >= 10, `batched steps: ${stats.batches - before.batches}`);
  const h = await health();
  assert.equal(h.batching, true);
  assert.equal(h.batched_steps, stats.batches, '/health reports the steps that carried several requests');
});

test('a client that disconnects mid-stream frees its slot; the other streams go on unchanged', async () => {
  const expected = [];
  for (const p of PROMPTS.slice(0, 3)) expected.push(await stream(base, p, 40));
  const controller = new AbortController();
  let chunks = 0;
  const leaving = stream(base, LONG, 300, { signal: controller.signal, onText: () => { if (++chunks === 3) controller.abort(); } });
  const staying = PROMPTS.slice(0, 3).map((p) => stream(base, p, 40));
  await assert.rejects(leaving, { name: 'AbortError' });
  assert.deepEqual(await Promise.all(staying), expected);
  // The slot comes back (the server sees the close, the generation stops at its next step).
  for (let i = 0; i < 100 && (await health()).slots_idle !== SLOTS; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await health()).slots_idle, SLOTS);
});

test('a long prompt arriving mid-stream does not stall the running streams for its whole prompt', async () => {
  const chunks = Math.ceil(model.tokenize(LONG).length / PROMPT_BATCH);
  assert.ok(chunks >= 8, `the prompt needs several chunks (${chunks})`);
  const events = [];
  let late = null;
  const running = stream(base, PROMPTS[0], 60, {
    onText: () => {
      events.push('a');
      if (events.length === 3) late = stream(base, LONG, 4, { onText: () => events.push('b') });
    },
  });
  await running;
  await late;
  const firstB = events.indexOf('b');
  assert.ok(firstB > 0, 'the long prompt got its first token');
  // One token of stream a per prompt chunk of b (a few may arrive together; allow a little slack).
  const during = events.slice(3, firstB).length;
  assert.ok(during >= chunks - 3, `stream a sent ${during} chunks while b's ${chunks}-chunk prompt ran`);
});

/** Starts `wasmllm serve ...args` on a free port; resolves with its URL, banner and child. */
function startServe(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '-q', '--port', '0', '-t', '1', ...args], { cwd: ROOT });
    let out = '', err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve did not start\n${err}`)); }, 60000);
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /on (http:\/\/\S+)\/v1/.exec(out);
      if (m) { clearTimeout(timer); resolve({ url: m[1], child, out }); }
    });
    child.on('error', reject);
  });
}

test('wasmllm serve --slots 3 batches, --no-batch takes turns: the same texts either way', { timeout: 120000 }, async () => {
  const prompts = PROMPTS.slice(0, 3);
  const texts = {};
  for (const [name, flags] of [['batched', []], ['in turns', ['--no-batch']]]) {
    const { url, child, out } = await startServe(['--slots', '3', '-c', '256', ...flags]);
    try {
      assert.match(out, new RegExp(`\\(3 slots, ${name}, wasm `));
      texts[name] = await Promise.all(prompts.map((p) => stream(url, p, 16)));
    } finally {
      child.kill('SIGKILL');
    }
  }
  assert.deepEqual(texts['in turns'], texts.batched);
  const alone = [];
  for (const p of prompts) alone.push(await stream(base, p, 16));
  assert.deepEqual(texts.batched, alone);
});
