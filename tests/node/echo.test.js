/**
 * complete()'s `echo` (the prompt's tokens as pieces first, with their
 * log-probabilities under `logprobs`) and /v1/completions `echo` through the
 * official openai client, on the embedded model. Every prompt token's
 * log-probability is checked against a one-prefix-at-a-time run of
 * complete() with the whole vocabulary as top-k (another path: wl_decode
 * then wl_logprobs instead of wl_decode_all's rows).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { loadModel } from '../../web/node/index.js';
import { createServer } from '../../web/node/server.js';
import { ROOT, EMBEDDED, collectPieces as collect, runCli } from './runtime-fixtures.js';

const REF = path.join(ROOT, 'tests/ref/node_modules');
const skipNoRef = fs.existsSync(path.join(REF, 'openai')) ? false : 'tests/ref is not installed (node tools/setup.js --test)';
// Over 32 tokens: the prompt's logits come from more than one wl_decode_all batch.
const PROMPT = 'ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\nJULIET:\nO';
const GREEDY = { temperature: 0, maxTokens: 4 };

let model, nVocab;
before(async () => {
  model = await loadModel(EMBEDDED, { threads: 1, contextSize: 256 });
  nVocab = model.info().nVocab;
});
after(() => model?.dispose());

/** complete()'s full distribution after ids (the log-probability of every token). */
async function distributionAfter(ids) {
  const { pieces } = await collect(model.complete(ids, { maxTokens: 1, temperature: 0, logprobs: nVocab }));
  return pieces[0].topLogprobs;
}

test('echo: the prompt\'s tokens come first, as pieces marked prompt, then the same generation as without it', async () => {
  const ids = model.tokenize(PROMPT);
  const plain = await collect(model.complete(PROMPT, GREEDY));
  const echoed = await collect(model.complete(PROMPT, { ...GREEDY, echo: true }));
  const head = echoed.pieces.slice(0, ids.length);
  assert.deepEqual(head.map((p) => p.token), ids);
  assert.ok(head.every((p) => p.prompt === true && p.logprob === undefined));
  assert.equal(head.map((p) => p.text).join(''), model.detokenize(ids));
  assert.deepEqual(echoed.pieces.slice(ids.length), plain.pieces);
  assert.equal(echoed.result.text, plain.result.text, "the Completion's text is the generated text");
  // max 0: only the prompt.
  const only = await collect(model.complete(PROMPT, { maxTokens: 0, echo: true }));
  assert.deepEqual(only.pieces.map((p) => p.token), ids);
});

test('echo + logprobs: each prompt token\'s log-probability given the ones before it; the first has none', async () => {
  const ids = model.tokenize(PROMPT);
  assert.ok(ids.length > 33);
  const k = 3;
  const { pieces } = await collect(model.complete(PROMPT, { ...GREEDY, echo: true, logprobs: k }));
  const head = pieces.slice(0, ids.length);
  assert.equal(head[0].logprob, null);
  assert.deepEqual(head[0].topLogprobs, []);
  assert.equal(head[0].tokenText, new TextDecoder().decode(model.tokenizer.tokenToPiece(ids[0], { showSpecial: true })));
  // Positions at the start, around the 32-token batch edges, and the last.
  for (const i of [1, 2, 31, 32, 33, ids.length - 1]) {
    const dist = await distributionAfter(ids.slice(0, i));
    assert.equal(head[i].token, ids[i]);
    assert.equal(head[i].logprob, dist.find((e) => e.token === ids[i]).logprob, `prompt token ${i}`);
    assert.deepEqual(head[i].topLogprobs, dist.slice(0, k), `prompt token ${i}'s alternatives`);
    assert.deepEqual(head[i].bytes, Array.from(model.tokenizer.tokenToPiece(ids[i], { showSpecial: true })));
  }
  const plain = await collect(model.complete(PROMPT, { ...GREEDY, logprobs: k }));
  assert.deepEqual(pieces.slice(ids.length), plain.pieces, 'the generation is unchanged');
  // With the prompt cached already (the run above left it), the answer is the same.
  const again = await collect(model.complete(PROMPT, { ...GREEDY, echo: true, logprobs: k }));
  assert.deepEqual(again.pieces, pieces);
  const bare = await collect(model.complete(PROMPT, { ...GREEDY, echo: true, logprobs: true }));
  assert.deepEqual(bare.pieces.map((p) => p.logprob), pieces.map((p) => p.logprob));
  assert.ok(bare.pieces.every((p) => p.topLogprobs === undefined));
});

test('echo: a bad value, or echo in chat(), is ERR_BAD_ARG', async () => {
  await assert.rejects(collect(model.complete(PROMPT, { echo: 'yes', maxTokens: 1 })), { code: 'ERR_BAD_ARG', message: /echo must be a boolean/ });
  assert.throws(() => model.chat([{ role: 'user', content: 'hi' }], { echo: true }), { code: 'ERR_BAD_ARG', message: /echo is a complete\(\) option/ });
});

test('/v1/completions echo (openai client): the prompt, then the completion, in text and logprobs', { skip: skipNoRef }, async () => {
  const server = createServer({ engines: [model], modelId: 'shakespeare', maxBodyBytes: 1 << 20, maxQueue: 4 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const OpenAI = (await import(createRequire(import.meta.url).resolve('openai', { paths: [REF] }))).default;
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${server.address().port}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ids = model.tokenize(PROMPT);
    const promptText = model.detokenize(ids);
    const base = { model: 'shakespeare', prompt: PROMPT, max_tokens: 4, temperature: 0 };
    const plain = await client.completions.create(base);
    const echoed = await client.completions.create({ ...base, echo: true });
    assert.equal(echoed.choices[0].text, promptText + plain.choices[0].text);
    assert.equal(echoed.choices[0].logprobs, null);
    assert.equal(echoed.usage.completion_tokens, plain.usage.completion_tokens);

    const c = await client.completions.create({ ...base, echo: true, logprobs: 2 });
    const lp = c.choices[0].logprobs;
    const text = c.choices[0].text;
    assert.equal(text, echoed.choices[0].text);
    assert.equal(lp.tokens.length, ids.length + 4);
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    const pieces = (await collect(model.complete(PROMPT, { ...GREEDY, echo: true, logprobs: 2 }))).pieces.filter((p) => p.token >= 0);
    assert.deepEqual(lp.token_logprobs, pieces.map((p) => p.logprob));
    assert.deepEqual(lp.tokens, pieces.map((p) => p.tokenText));
    for (let i = 1; i < lp.tokens.length; i++) {
      assert.deepEqual(lp.top_logprobs[i], Object.fromEntries(pieces[i].topLogprobs.map((t) => [t.text, t.logprob])));
    }
    // text_offset: where each token's text starts in the choice's text.
    let at = 0;
    pieces.forEach((p, i) => {
      assert.equal(lp.text_offset[i], at, `text_offset[${i}]`);
      assert.equal(text.slice(at, at + p.text.length), p.text);
      at += p.text.length;
    });

    // Streamed: the same text and logprobs, chunk by chunk.
    const stream = await client.completions.create({ ...base, echo: true, logprobs: 2, stream: true });
    let streamedText = '';
    const streamed = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    for await (const chunk of stream) {
      streamedText += chunk.choices[0]?.text ?? '';
      const l = chunk.choices[0]?.logprobs;
      if (l) for (const key of Object.keys(streamed)) streamed[key].push(...l[key]);
    }
    assert.equal(streamedText, text);
    assert.deepEqual(streamed, lp);

    // Scoring a prompt alone: echo with max_tokens 0.
    const scored = await client.completions.create({ ...base, max_tokens: 0, echo: true, logprobs: 0 });
    assert.equal(scored.choices[0].text, promptText);
    assert.deepEqual(scored.choices[0].logprobs.token_logprobs, lp.token_logprobs.slice(0, ids.length));

    const post = async (body) => (await fetch(`http://127.0.0.1:${server.address().port}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...base, ...body }),
    }));
    const bad = await post({ echo: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.param, 'echo');
    assert.equal((await post({ max_tokens: 0 })).status, 400, 'max_tokens 0 only with echo');
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('wasmllm complete --json --logprobs K --echo: prompt_logprobs as the API gives them', async () => {
  const r = await runCli(['complete', '-m', EMBEDDED, '-p', PROMPT, '-n', '2', '--temperature', '0', '-t', '1', '--json', '--logprobs', '2', '--echo']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const { pieces } = await collect(model.complete(PROMPT, { maxTokens: 2, temperature: 0, echo: true, logprobs: 2 }));
  const row = (p) => ({ token: p.token, text: p.tokenText, logprob: p.logprob, top: (p.topLogprobs ?? []).map((t) => ({ token: t.token, text: t.text, logprob: t.logprob })) });
  assert.deepEqual(out.prompt_logprobs, pieces.filter((p) => p.prompt).map(row));
  assert.deepEqual(out.logprobs, pieces.filter((p) => !p.prompt && p.token >= 0).map(row));
  assert.equal(out.prompt_logprobs[0].logprob, null);
  const noLogprobs = await runCli(['complete', '-p', 'x', '--json', '--echo']);
  assert.equal(noLogprobs.code, 2);
  assert.match(noLogprobs.stderr, /--echo works with complete --json --logprobs K only/);
});
