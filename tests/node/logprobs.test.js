// Log-probabilities from complete() and chat(): the greedy token is the most
// likely one, top-k lists are sorted, the full distribution sums to 1, and
// the values are the model's (temperature does not change them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../web/node/index.js';
import { tinyModel, collectPieces as collect } from './runtime-fixtures.js';

test('logprobs: greedy token = top-1, sorted top-k, bytes, and pieces without the option are unchanged', async (t) => {
  const model = await loadModel(tinyModel(), { threads: 1 });
  t.after(() => model.dispose());
  const { pieces } = await collect(model.complete('Once upon a time', { temperature: 0, maxTokens: 8, logprobs: 5 }));
  const tokens = pieces.filter((p) => p.token >= 0);
  assert.ok(tokens.length > 0);
  for (const p of tokens) {
    assert.equal(p.topLogprobs.length, 5);
    assert.equal(p.topLogprobs[0].token, p.token, 'greedy picks the most likely token');
    assert.equal(p.topLogprobs[0].logprob, p.logprob);
    assert.ok(p.logprob <= 0 && Number.isFinite(p.logprob));
    for (let j = 1; j < 5; j++) assert.ok(p.topLogprobs[j].logprob <= p.topLogprobs[j - 1].logprob, 'sorted');
    assert.deepEqual(p.bytes, Array.from(model.tokenizer.tokenToPiece(p.token)));
    assert.equal(p.tokenText, new TextDecoder().decode(Uint8Array.from(p.bytes)));
  }
  const plain = await collect(model.complete('Once upon a time', { temperature: 0, maxTokens: 8 }));
  assert.deepEqual(plain.pieces.map((p) => p.token), pieces.map((p) => p.token), 'same tokens with and without logprobs');
  assert.equal(plain.pieces[0].logprob, undefined);
  const only = await collect(model.complete('Once upon a time', { temperature: 0, maxTokens: 2, logprobs: true }));
  assert.equal(only.pieces[0].logprob, tokens[0].logprob);
  assert.equal(only.pieces[0].topLogprobs, undefined);
});

test('logprobs: the whole vocabulary sums to 1, and temperature does not change the values', async (t) => {
  const model = await loadModel(tinyModel(), { threads: 1 });
  t.after(() => model.dispose());
  const nVocab = model.info().nVocab;
  const { pieces } = await collect(model.complete('The king', { temperature: 0, maxTokens: 2, logprobs: nVocab + 10 }));
  const first = pieces[0];
  assert.equal(first.topLogprobs.length, nVocab, 'k is cut to the vocabulary');
  const sum = first.topLogprobs.reduce((s, e) => s + Math.exp(e.logprob), 0);
  assert.ok(Math.abs(sum - 1) < 1e-4, `sum ${sum}`);
  assert.equal(new Set(first.topLogprobs.map((e) => e.token)).size, nVocab, 'every token once');
  const hot = await collect(model.complete('The king', { temperature: 1.5, seed: 3, maxTokens: 1, logprobs: 3 }));
  assert.deepEqual(hot.pieces[0].topLogprobs, first.topLogprobs.slice(0, 3), 'raw distribution, not the tempered one');
  const drawn = hot.pieces[0];
  const entry = first.topLogprobs.find((e) => e.token === drawn.token);
  assert.ok(Math.abs(entry.logprob - drawn.logprob) < 1e-6, 'a sampled token reports its own log-probability');
});

test('logprobs: bad values are ERR_BAD_ARG', async (t) => {
  const model = await loadModel(tinyModel(), { threads: 1 });
  t.after(() => model.dispose());
  for (const v of [-1, 1.5, 'x']) {
    await assert.rejects(collect(model.complete('a', { logprobs: v, maxTokens: 1 })), { code: 'ERR_BAD_ARG' });
  }
});
