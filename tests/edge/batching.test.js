/**
 * Continuous batching in the edge worker, in the real workerd: with
 * `slots: 3`, concurrent streams share each decode step and give the texts
 * they give one at a time, a client that leaves frees its slot while the
 * others go on, and a long prompt arriving mid-stream does not stall them.
 * Each request waits for its steps on its own timers (workerd cancels a
 * request that awaits another request's promise).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WORKERD_BIN, startWorkerd } from '../../tools/workerd.js';

const skip = fs.existsSync(WORKERD_BIN) ? false : 'workerd is not installed in tests/ref (run `node tools/setup.js --test`)';
const PROMPTS = ['ROMEO:\nBut soft', 'JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?', 'HAMLET:\nTo be'];
const LONG = 'ROMEO:\n' + 'What light through yonder window breaks? It is the east, and Juliet is the sun. '.repeat(14);

let worker;
let tmp;

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-edge-batching-'));
  worker = await startWorkerd({ dir: tmp, entry: 'tests/edge/fixtures/slots-worker.mjs', timeoutMs: 30000 });
});

after(async () => {
  await worker?.stop();
  if (process.env.WASMLLM_EDGE_LOG) console.log(worker?.log());
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A greedy streamed completion; onText per SSE chunk; resolves with the text. */
async function stream(prompt, maxTokens, { onText = () => {}, signal } = {}) {
  const r = await fetch(`${worker.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal,
    body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0, stream: true }),
  });
  assert.equal(r.status, 200);
  let text = '', buf = '';
  const decoder = new TextDecoder();
  for await (const bytes of r.body) {
    buf += decoder.decode(bytes, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const data = buf.slice(0, i).replace(/^data: /, '');
      buf = buf.slice(i + 2);
      if (data === '[DONE]') return text;
      const j = JSON.parse(data);
      assert.equal(j.error, undefined, `stream error: ${JSON.stringify(j.error)}`);
      const piece = j.choices?.[0]?.text ?? '';
      text += piece;
      onText(piece);
    }
  }
  return text;
}

const health = async () => (await fetch(`${worker.url}/health`)).json();

test('concurrent streams give the texts they give one at a time, in shared steps', { skip, timeout: 120000 }, async () => {
  const sequential = [];
  for (const p of PROMPTS) sequential.push(await stream(p, 24));
  const before = await health();
  assert.equal(before.batching, true);
  assert.deepEqual(await Promise.all(PROMPTS.map((p) => stream(p, 24))), sequential);
  const h = await health();
  assert.ok(h.batched_steps - before.batched_steps >= 5, `steps that carried several requests: ${h.batched_steps - before.batched_steps}`);
});

test('a client that leaves mid-stream frees its slot; the other streams go on unchanged', { skip, timeout: 120000 }, async () => {
  const expected = [];
  for (const p of PROMPTS.slice(0, 2)) expected.push(await stream(p, 32));
  const controller = new AbortController();
  let chunks = 0;
  const leaving = stream(LONG, 300, { signal: controller.signal, onText: () => { if (++chunks === 3) controller.abort(); } });
  const staying = PROMPTS.slice(0, 2).map((p) => stream(p, 32));
  await assert.rejects(leaving, { name: 'AbortError' });
  assert.deepEqual(await Promise.all(staying), expected);
  for (let i = 0; i < 200 && (await health()).slots_busy !== 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await health()).slots_busy, 0);
  assert.equal(await stream(PROMPTS[2], 8), (await stream(PROMPTS[2], 8)));
});

test('a long prompt arriving mid-stream does not stall the running stream for its whole prompt', { skip, timeout: 120000 }, async () => {
  const events = [];
  let late = null;
  await stream(PROMPTS[0], 60, {
    onText: () => {
      events.push('a');
      if (events.length === 3) late = stream(LONG, 4, { onText: () => events.push('b') });
    },
  });
  await late;
  const firstB = events.indexOf('b');
  assert.ok(firstB > 0, 'the long prompt got its first token');
  // The prompt has 11 chunks of 32 tokens; stream a keeps receiving tokens meanwhile.
  const during = events.slice(3, firstB).length;
  assert.ok(during >= 6, `stream a got ${during} chunks while the long prompt ran`);
});
