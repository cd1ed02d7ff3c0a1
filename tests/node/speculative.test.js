// Speculative decoding (web/speculative.js): prompt lookup and a draft model give exactly the tokens
// of plain decoding - greedy, and sampled with a seed (every emitted token is one draw of the target's
// sampler on the same logits), with grammars, biases, penalties and logprobs - on the embedded model,
// synthetic llama/qwen2 models and the recurrent lfm2; the KV caches of target and draft stay
// consistent after rejections, the end of the context and aborts; bad options are refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildSynthetic } from '../../tools/make-synthetic.js';
import { loadModel } from '../../web/node/index.js';
import { createServer } from '../../web/node/server.js';
import { lookupDraft, parseSpeculative } from '../../web/speculative.js';
import { ROOT, EMBEDDED, TINY, VOCAB_SPM, tempDir, tinyModel, qwenShapedModel, runCli } from './runtime-fixtures.js';

const DRAFT = path.join(ROOT, 'models/shakespeare-draft.gguf');
const GREEDY = { temperature: 0, repeatPenalty: 1 };
const PASSAGE = 'ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n'
  + 'Arise, fair sun, and kill the envious moon,\nWho is already sick and pale with grief.\n';
const PROMPTS = [PASSAGE + '\n' + PASSAGE.slice(0, 50), 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n'];

/** A synthetic model written once per name. */
function synthetic(name, options) {
  const file = path.join(tempDir(), name);
  if (!fs.existsSync(file)) buildSynthetic(options).writer.write(file);
  return file;
}

/** A random-weight draft with the embedded model's vocabulary: it guesses mostly wrong. */
const randomDraftFile = () => synthetic('embedded-vocab-draft.gguf', { shape: 'tiny-gqa', type: 'F32', layers: 1, seed: 3, vocab: EMBEDDED,
  overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, ctx: 512 } });
const lfm2File = () => synthetic('lfm2-spec.gguf', { arch: 'lfm2', shape: 'tiny-gqa', type: 'F32', seed: 5, vocab: VOCAB_SPM,
  overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, ctx: 512 } });

async function run(session, prompt, options) {
  const tokens = [];
  let text = '';
  const it = session.complete(prompt, options);
  for (;;) {
    const { value, done } = await it.next();
    if (done) return { tokens, text, result: value };
    if (value.token >= 0) tokens.push(value.token);
    text += value.text;
  }
}

/** Plain vs speculative on a fresh session each, then the speculative session again (prefix reuse). */
async function assertSame(model, prompt, options, speculative, label) {
  const plain = await run(model.createSession(), prompt, options);
  const s = model.createSession();
  const spec = await run(s, prompt, { ...options, speculative });
  assert.deepEqual(spec.tokens, plain.tokens, `${label}: speculative tokens differ`);
  assert.equal(spec.text, plain.text, label);
  assert.equal(spec.result.finishReason, plain.result.finishReason, label);
  const st = spec.result.timings.speculative;
  assert.ok(st && st.accepted <= st.drafted, `${label}: stats ${JSON.stringify(st)}`);
  // The KV cache holds exactly prompt + output: a longer prompt reuses it and still matches a fresh run.
  const longer = [...spec.result.promptTokens, ...spec.tokens];
  const again = await run(s, longer, { ...options, maxTokens: 6 });
  const fresh = await run(model.createSession(), longer, { ...options, maxTokens: 6 });
  assert.deepEqual(again.tokens, fresh.tokens, `${label}: the KV cache after speculation differs`);
  assert.ok(again.result.promptEvaluated < longer.length, `${label}: the cached prefix was not reused`);
  s.dispose();
  return st;
}

test('lookupDraft copies what followed the latest, longest match', () => {
  assert.deepEqual(lookupDraft([1, 2, 3, 9, 1, 2, 3], [], 3, 1, 4), [9, 1, 2]);
  assert.deepEqual(lookupDraft([5, 1, 7, 1, 8, 1], [], 2, 1, 4), [8, 1], 'the latest 1-gram match');
  assert.deepEqual(lookupDraft([4, 2, 6, 3, 2, 7, 4, 2], [], 2, 1, 4), [6, 3], 'the 2-gram beats the later 1-gram');
  assert.deepEqual(lookupDraft([1, 2, 3], [], 4, 1, 4), [], 'no match');
  assert.deepEqual(lookupDraft([7, 7, 7], [], 4, 1, 4), [7], 'a run drafts its own continuation');
  assert.deepEqual(lookupDraft([8, 1, 2], [0, 1, 2, 5, 6, 7, 8], 3, 1, 4), [5, 6, 7], 'the predicted text first');
  assert.deepEqual(lookupDraft([1, 2, 9, 1, 2], [1, 2], 3, 1, 4), [9, 1, 2], 'a prediction match with nothing after it is skipped');
});

test('bad speculative options are refused, naming the field', async () => {
  const bad = [
    [{}, /exactly one of lookup and draft/], [{ lookup: true, draft: {} }, /exactly one/], ['yes', /must be an object/],
    [{ lookup: true, maxDraft: 0 }, /maxDraft must be an integer from 1 to 16/], [{ lookup: true, maxDraft: 17 }, /maxDraft/],
    [{ lookup: { ngram: 3 } }, /lookup\.ngram is not supported/], [{ lookup: { ngramMin: 3, ngramMax: 2 } }, /ngramMin \(3\) exceeds ngramMax/],
    [{ lookup: { text: 5 } }, /lookup\.text must be a string/], [{ draft: 'model.gguf' }, /draft must be a Model or Session/],
    [{ lookup: true, k: 2 }, /speculative\.k is not supported/],
  ];
  for (const [o, re] of bad) assert.throws(() => parseSpeculative(o), (e) => e.code === 'ERR_BAD_ARG' && re.test(e.message), JSON.stringify(o));
  const model = await loadModel(EMBEDDED);
  const tiny = await loadModel(tinyModel());
  try {
    await assert.rejects(run(model, 'ROMEO:', { speculative: { lookup: true, maxDraft: 99 } }), { code: 'ERR_BAD_ARG' });
    await assert.rejects(run(model, 'ROMEO:', { speculative: { draft: tiny } }),
      (e) => e.code === 'ERR_BAD_ARG' && /vocabulary of 32000 tokens, the model 2048/.test(e.message));
    await assert.rejects(run(model, 'ROMEO:', { speculative: { draft: model } }), (e) => e.code === 'ERR_BAD_ARG' && /another session/.test(e.message));
    // A draft session that is generating already.
    const d = model.createSession();
    const busy = d.complete('ROMEO:', { maxTokens: 4 });
    await busy.next();
    await assert.rejects(run(model, 'ROMEO:', { speculative: { draft: d } }), { code: 'ERR_BUSY' });
    await busy.return(undefined);
    // Refused before anything ran: the model still generates.
    assert.equal((await run(model, 'ROMEO:', { ...GREEDY, maxTokens: 3 })).tokens.length, 3);
    d.dispose();
  } finally {
    tiny.dispose();
    model.dispose();
  }
});

test('greedy: lookup and draft models give the plain tokens on the embedded model', async () => {
  const model = await loadModel(EMBEDDED, { sessions: 6 });
  const random = await loadModel(randomDraftFile());
  const trained = fs.existsSync(DRAFT) ? await loadModel(DRAFT) : null;
  try {
    for (const [i, prompt] of PROMPTS.entries()) {
      const o = { ...GREEDY, maxTokens: 60 };
      const lookup = await assertSame(model, prompt, o, { lookup: true }, `lookup, prompt ${i}`);
      assert.ok(lookup.drafted > 0, 'lookup drafted nothing');
      await assertSame(model, prompt, o, { lookup: { ngramMin: 2, ngramMax: 3 }, maxDraft: 3 }, `lookup 2-3, prompt ${i}`);
      // The model itself as its draft: every guess is right, so the chunks' bonus tokens carry it.
      const self = model.createSession();
      const all = await assertSame(model, prompt, o, { draft: self, maxDraft: 5 }, `self-draft, prompt ${i}`);
      assert.equal(all.accepted, all.drafted);
      assert.ok(all.drafted >= 40, JSON.stringify(all));
      self.dispose();
      const wrong = await assertSame(model, prompt, o, { draft: random, maxDraft: 4 }, `random draft, prompt ${i}`);
      assert.ok(wrong.accepted < wrong.drafted, 'a random draft should miss');
      if (trained) await assertSame(model, prompt, o, { draft: trained }, `shakespeare-draft, prompt ${i}`);
    }
  } finally {
    trained?.dispose();
    random.dispose();
    model.dispose();
  }
});

test('greedy identity on synthetic llama and qwen2 models and the recurrent lfm2', async () => {
  const cases = [
    ['llama', tinyModel(), synthetic('tiny-draft.gguf', { ...TINY, seed: 11, layers: 1 })],
    ['qwen2', qwenShapedModel(), null],
    ['lfm2', lfm2File(), tinyModel()],
  ];
  const prompts = ['Once upon a time, there was a little girl. Once upon a time, there', 'a b c d a b c d a b'];
  for (const [arch, file, draftFile] of cases) {
    const model = await loadModel(file, { contextSize: 256 });
    const draft = draftFile ? await loadModel(draftFile, { contextSize: 256 }) : model.createSession();
    try {
      for (const [i, prompt] of prompts.entries()) {
        const o = { ...GREEDY, maxTokens: 40 };
        await assertSame(model, prompt, o, { lookup: true }, `${arch} lookup, prompt ${i}`);
        await assertSame(model, prompt, o, { draft, maxDraft: 6 }, `${arch} draft, prompt ${i}`);
      }
    } finally {
      draft.dispose();
      model.dispose();
    }
  }
});

test('sampling: the same seed gives the plain tokens, with penalties, biases, grammars and logprobs', async () => {
  const model = await loadModel(EMBEDDED, { sessions: 4 });
  const draft = model.createSession();
  const random = await loadModel(randomDraftFile());
  try {
    const sampled = { temperature: 0.9, maxTokens: 40 };
    for (const seed of [1, 2, 3, 4, 5]) {
      await assertSame(model, PROMPTS[0], { ...sampled, seed }, { lookup: true }, `sampled lookup, seed ${seed}`);
      await assertSame(model, PROMPTS[1], { ...sampled, seed }, { draft: random, maxDraft: 3 }, `sampled random draft, seed ${seed}`);
    }
    const st = await assertSame(model, PROMPTS[0], { ...sampled, seed: 9, temperature: 0.3 }, { draft, maxDraft: 4 }, 'sampled self-draft');
    assert.ok(st.accepted > 0 && st.accepted < st.drafted, `a self-draft at temperature 0.3 should be partly right: ${JSON.stringify(st)}`);
    const constrained = [
      { repeatPenalty: 1.3, frequencyPenalty: 0.5, presencePenalty: 0.4 },
      { logitBias: { 13: -Infinity, 280: 4 } },
      { grammar: 'root ::= ("ROMEO" | "JULIET") ":" [a-z ,.\\n]+' },
      { logprobs: 3 },
    ];
    for (const extra of constrained) {
      for (const t of [0, 0.8]) {
        const o = { ...extra, temperature: t, seed: 42, maxTokens: 30 };
        await assertSame(model, PROMPTS[0], o, { lookup: true }, `lookup with ${JSON.stringify(extra)} at T=${t}`);
        await assertSame(model, PROMPTS[0], o, { draft, maxDraft: 4 }, `draft with ${JSON.stringify(extra)} at T=${t}`);
      }
    }
    // Logprobs are the rows of the verified chunk: the same numbers as plain decoding.
    const a = await collectLogprobs(model.createSession(), { logprobs: 2, ...GREEDY, maxTokens: 20 });
    const b = await collectLogprobs(model.createSession(), { logprobs: 2, ...GREEDY, maxTokens: 20, speculative: { lookup: true } });
    assert.deepEqual(b, a);
  } finally {
    random.dispose();
    draft.dispose();
    model.dispose();
  }
});

async function collectLogprobs(session, options) {
  const out = [];
  for await (const p of session.complete(PROMPTS[0], options)) if (p.token >= 0) out.push([p.token, p.logprob, p.topLogprobs]);
  return out;
}

test('the end of the context and max tokens cut drafts short', async () => {
  const model = await loadModel(EMBEDDED, { contextSize: 120, sessions: 3 });
  const draft = model.createSession();
  try {
    for (const speculative of [{ lookup: true }, { draft, maxDraft: 16 }]) {
      const plain = await run(model.createSession(), PROMPTS[0], { ...GREEDY, maxTokens: 500 });
      assert.equal(plain.result.finishReason, 'context');
      const spec = await run(model.createSession(), PROMPTS[0], { ...GREEDY, maxTokens: 500, speculative });
      assert.deepEqual(spec.tokens, plain.tokens);
      assert.equal(spec.result.finishReason, 'context');
      for (const n of [1, 2, 7]) {
        const s = await run(model.createSession(), PROMPTS[0], { ...GREEDY, maxTokens: n, speculative });
        assert.deepEqual(s.tokens, plain.tokens.slice(0, n));
      }
    }
  } finally {
    draft.dispose();
    model.dispose();
  }
});

test('abort mid-generation leaves target and draft usable and consistent', async () => {
  const model = await loadModel(EMBEDDED, { sessions: 3 });
  const draft = model.createSession();
  try {
    const o = { ...GREEDY, maxTokens: 60 };
    const plain = await run(model.createSession(), PROMPTS[0], o);
    for (const speculative of [{ lookup: true }, { draft, maxDraft: 8 }]) {
      const s = model.createSession();
      const controller = new AbortController();
      const seen = [];
      await assert.rejects((async () => {
        for await (const p of s.complete(PROMPTS[0], { ...o, speculative, signal: controller.signal })) {
          seen.push(p.token);
          if (seen.length === 13) controller.abort();
        }
      })(), { code: 'ERR_ABORTED' });
      assert.deepEqual(seen, plain.tokens.slice(0, 13));
      assert.ok(s.lastCompletion.timings.speculative, 'stats of the aborted run');
      // Both caches are consistent: the same prompt again gives the plain tokens.
      assert.deepEqual((await run(s, PROMPTS[0], { ...o, speculative })).tokens, plain.tokens);
      assert.deepEqual((await run(draft, PROMPTS[0], o)).tokens, plain.tokens, 'the draft session after the abort');
      s.dispose();
    }
    await assert.rejects(run(model, PROMPTS[0], { ...o, speculative: { lookup: true }, signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
  } finally {
    draft.dispose();
    model.dispose();
  }
});

test('CLI: --lookup and --draft-model give the plain tokens; bad flags exit 2', { timeout: 120000 }, async () => {
  const draftFile = fs.existsSync(DRAFT) ? DRAFT : randomDraftFile();
  const args = ['complete', '-p', PROMPTS[0], '-n', '30', '--temperature', '0', '-t', '1', '--json'];
  const plain = await runCli(args);
  assert.equal(plain.code, 0, plain.stderr);
  const want = JSON.parse(plain.stdout).tokens;
  for (const extra of [['--lookup'], ['--lookup', '--draft-max', '3'], ['--draft-model', draftFile, '--draft-max', '4']]) {
    const r = await runCli([...args, ...extra, '-v']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.tokens, want, extra.join(' '));
    assert.ok(out.speculative.drafted > 0, r.stdout);
    assert.match(r.stderr, /speculative \((lookup|draft), up to \d+\): drafted \d+, accepted \d+/);
  }
  const chat = await runCli(['chat', '-n', '12', '--temperature', '0', '--draft-model', draftFile, '-v'], { input: 'Who art thou?\n' });
  const chatPlain = await runCli(['chat', '-n', '12', '--temperature', '0'], { input: 'Who art thou?\n' });
  assert.equal(chat.code, 0, chat.stderr);
  assert.equal(chat.stdout, chatPlain.stdout);
  assert.match(chat.stderr, /speculative \(draft/);
  for (const bad of [['--lookup', '--draft-model', draftFile], ['--draft-max', '4'], ['--lookup', '--draft-max', '0'], ['--lookup', '--draft-max', '2.5']]) {
    const r = await runCli(['complete', '-p', 'x', '-n', '1', ...bad]);
    assert.equal(r.code, 2, bad.join(' '));
  }
  const mismatch = await runCli(['complete', '-p', 'x', '-n', '1', '--draft-model', tinyModel()]);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.stderr, /ERR_BAD_ARG: speculative\.draft has a vocabulary of 32000 tokens/);
});

test('server: prediction drafts by lookup, reports accepted/rejected prediction tokens; slots may speculate', async () => {
  const model = await loadModel(EMBEDDED, { sessions: 3 });
  const draft = model.createSession();
  const servers = [];
  const start = async (config) => {
    const server = createServer({ modelId: 'shakespeare', maxBodyBytes: 64 * 1024, maxQueue: 4, ...config });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return `http://127.0.0.1:${server.address().port}/v1`;
  };
  const post = async (url, route, body) => {
    const r = await fetch(`${url}/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, json: await r.json() };
  };
  try {
    const plainUrl = await start({ engines: [model] });
    const body = { prompt: PROMPTS[0], max_tokens: 40, temperature: 0 };
    const plain = await post(plainUrl, 'completions', body);
    assert.equal(plain.status, 200);
    assert.equal(plain.json.usage.completion_tokens_details, undefined);
    const text = plain.json.choices[0].text;

    // The prediction is the answer itself: most of it is accepted, and the text is the same.
    const good = await post(plainUrl, 'completions', { ...body, prediction: { type: 'content', content: text } });
    assert.equal(good.status, 200, JSON.stringify(good.json));
    assert.equal(good.json.choices[0].text, text);
    const d = good.json.usage.completion_tokens_details;
    assert.ok(d.accepted_prediction_tokens >= 20, JSON.stringify(d));
    const poor = await post(plainUrl, 'completions', { ...body, prediction: { type: 'content', content: [{ type: 'text', text: 'Nothing of the kind, good sir.' }] } });
    assert.equal(poor.json.choices[0].text, text);
    assert.ok(poor.json.usage.completion_tokens_details.accepted_prediction_tokens < d.accepted_prediction_tokens);

    const chatBody = { messages: [{ role: 'user', content: 'Speak.' }], max_tokens: 16, temperature: 0 };
    const chatPlain = await post(plainUrl, 'chat/completions', chatBody);
    const answer = chatPlain.json.choices[0].message.content;
    const chat = await post(plainUrl, 'chat/completions', { ...chatBody, prediction: { type: 'content', content: answer } });
    assert.equal(chat.json.choices[0].message.content, answer);
    assert.ok(chat.json.usage.completion_tokens_details.accepted_prediction_tokens > 0);

    for (const prediction of [{ type: 'text', content: 'x' }, { type: 'content', content: 5 }, { type: 'content', content: 'x', extra: 1 }, 'x']) {
      const r = await post(plainUrl, 'completions', { ...body, prediction });
      assert.equal(r.status, 400, JSON.stringify(prediction));
      assert.match(r.json.error.param, /^prediction/);
    }

    // Streams carry the details in the usage chunk.
    const r = await fetch(`${plainUrl}/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true }, prediction: { type: 'content', content: text } }),
    });
    const events = (await r.text()).split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
    assert.equal(events.map((e) => e.choices[0]?.text ?? '').join(''), text);
    assert.equal(events.at(-1).usage.completion_tokens_details.accepted_prediction_tokens, d.accepted_prediction_tokens);

    // serve --draft-model / --lookup: every slot speculates; answers do not change.
    const specUrl = await start({ engines: [model.createSession(), model.createSession()], speculative: [{ draft, maxDraft: 4 }, { lookup: true }] });
    const both = await Promise.all([post(specUrl, 'completions', body), post(specUrl, 'completions', body)]);
    for (const b of both) assert.equal(b.json.choices[0].text, text);
  } finally {
    for (const s of servers) {
      s.closeAllConnections?.();
      await new Promise((resolve) => s.close(resolve));
    }
    draft.dispose();
    model.dispose();
  }
});
