/**
 * /v1/completions `echo` in the edge worker (real workerd, demo/edge-worker's
 * worker with the embedded model): the prompt, then the completion, in the
 * text and in logprobs, the same as the Node API gives for the same prompt.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKERD_BIN, startWorkerd } from '../../tools/workerd.js';
import { loadModel } from '../../web/node/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODEL = path.join(ROOT, 'models/shakespeare.gguf');
const skip = fs.existsSync(WORKERD_BIN) ? false : 'workerd is not installed in tests/ref (run `node tools/setup.js --test`)';
const PROMPT = 'ROMEO: But soft';

let worker, tmp;
before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-edge-echo-'));
  worker = await startWorkerd({ dir: tmp, entry: 'demo/edge-worker/worker.mjs', timeoutMs: 30000 });
});

after(async () => {
  await worker?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('edge: /v1/completions echo with logprobs gives the Node API\'s prompt and completion log-probabilities', { skip, timeout: 60000 }, async () => {
  const r = await fetch(`${worker.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: PROMPT, max_tokens: 3, temperature: 0, echo: true, logprobs: 1 }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const choice = (await r.json()).choices[0];
  const model = await loadModel(MODEL, { threads: 1 });
  try {
    const pieces = [];
    for await (const p of model.complete(PROMPT, { maxTokens: 3, temperature: 0, echo: true, logprobs: 1 })) pieces.push(p);
    assert.equal(choice.text, pieces.map((p) => p.text).join(''));
    const scored = pieces.filter((p) => p.token >= 0);
    assert.deepEqual(choice.logprobs.tokens, scored.map((p) => p.tokenText));
    assert.deepEqual(choice.logprobs.token_logprobs, scored.map((p) => p.logprob));
    assert.equal(choice.logprobs.token_logprobs[0], null);
    assert.equal(choice.logprobs.top_logprobs[0], null);
    assert.ok(scored.filter((p) => p.prompt).length >= 4, 'the prompt came first');
  } finally {
    model.dispose();
  }
});
