// The public Node API (web/node/index.js) on a tiny synthetic llama, through the
// real wasm builds: every way of passing a model gives the same greedy text,
// abort leaves the model usable, seeds reproduce, dispose frees.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { loadModel, WasmllmError, parseGGUF, createTokenizer } from '../../web/node/index.js';
import { tinyModel, tinyShards, vocabVectors, VOCAB_SPM } from './runtime-fixtures.js';

const PROMPT = 'The quick brown fox';
const GREEDY = { maxTokens: 12, temperature: 0, seed: 1 };

/** Runs a completion to the end: token ids, concatenated text and the result record. */
async function collect(it) {
  const tokens = [];
  const pieces = [];
  let text = '';
  for (;;) {
    const step = await it.next();
    if (step.done) return { tokens, text, pieces, result: step.value };
    if (step.value.token >= 0) tokens.push(step.value.token);
    pieces.push(step.value.text);
    text += step.value.text;
  }
}

/** Greedy tokens of `source` loaded with `options`; disposes the model. */
async function greedy(source, options = {}) {
  const model = await loadModel(source, { threads: 1, contextSize: 256, ...options });
  try {
    return await collect(model.complete(PROMPT, GREEDY));
  } finally {
    model.dispose();
  }
}

let file;
let reference;
before(async () => {
  file = tinyModel();
  reference = await greedy(file);
});

test('a path gives a full greedy continuation of whole-character text', () => {
  assert.equal(reference.tokens.length, GREEDY.maxTokens, 'the synthetic model should not emit EOS this early');
  assert.equal(reference.result.finishReason, 'length');
  assert.deepEqual(reference.result.tokens, reference.tokens);
  assert.equal(reference.result.text, reference.text);
  for (const piece of reference.pieces) {
    assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(piece), `piece ${JSON.stringify(piece)} splits a character`);
  }
});

test('bytes, ArrayBuffer, Blob, 2 shards and a URL give the same greedy tokens as the path', async () => {
  const bytes = new Uint8Array(fs.readFileSync(file));
  assert.deepEqual((await greedy(bytes)).tokens, reference.tokens, 'Uint8Array');
  assert.deepEqual((await greedy(bytes.slice().buffer)).tokens, reference.tokens, 'ArrayBuffer');
  assert.deepEqual((await greedy(new Blob([bytes]))).tokens, reference.tokens, 'Blob');

  const shards = tinyShards();
  assert.equal(shards.length, 2);
  assert.deepEqual((await greedy(shards)).tokens, reference.tokens, 'array of shard paths');
  assert.deepEqual((await greedy([...shards].reverse())).tokens, reference.tokens, 'shards in any order');
  assert.deepEqual((await greedy(shards[0])).tokens, reference.tokens, 'first shard path finds the others');

  const server = http.createServer((req, res) => {
    const data = fs.readFileSync(file);
    res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
    res.end(data);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${server.address().port}/tiny.gguf`;
    const progress = [];
    const got = await greedy(url, { onProgress: (p) => progress.push(p.loaded) });
    assert.deepEqual(got.tokens, reference.tokens, 'URL');
    assert.equal(progress.at(-1), fs.statSync(file).size, 'progress reaches the file size');
  } finally {
    server.close();
  }
});

test('1 thread (single-threaded build) and 2 threads (pthreads build) agree', async () => {
  const model = await loadModel(file, { threads: 2, contextSize: 256 });
  try {
    const info = model.info();
    assert.equal(info.threads, 2);
    assert.equal(info.wasmVariant, 'mt');
    assert.deepEqual((await collect(model.complete(PROMPT, GREEDY))).tokens, reference.tokens);
  } finally {
    model.dispose();
  }
});

test('the pthreads build forced at 1 thread starts (no pool workers to wait for) and agrees', async () => {
  const model = await loadModel(file, { threads: 1, variant: 'mt', contextSize: 256 });
  try {
    assert.equal(model.info().threads, 1);
    assert.equal(model.info().wasmVariant, 'mt');
    assert.deepEqual((await collect(model.complete(PROMPT, GREEDY))).tokens, reference.tokens);
  } finally {
    model.dispose();
  }
});

test('info() describes the model', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 200 });
  try {
    const info = model.info();
    assert.equal(info.architecture, 'llama');
    assert.match(info.name, /synthetic/);
    assert.equal(info.nVocab, 32000);
    assert.equal(info.nCtxTrain, 512);
    assert.equal(info.embeddingLength, 64);
    assert.equal(info.layers, 2);
    assert.equal(info.heads, 4);
    assert.equal(info.headsKv, 2);
    assert.equal(info.fileType, 'MOSTLY_Q8_0');
    assert.deepEqual(info.tensorTypes, { Q8_0: 16, F32: 5 });
    assert.equal(info.tensorCount, 21);
    assert.equal(info.contextSize, 200);
    assert.equal(info.threads, 1);
    assert.equal(info.wasmVariant, 'st');
    // token_embd + output are 32000 x 64 each; the rest is small.
    assert.ok(info.nParams > 2 * 32000 * 64 && info.nParams < 2 * 32000 * 64 + 200000, `nParams ${info.nParams}`);
  } finally {
    model.dispose();
  }
});

test('a prompt of token ids equals the same prompt as text', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 256 });
  try {
    const ids = model.tokenize(PROMPT);
    assert.equal(ids[0], 1, 'BOS first');
    assert.deepEqual(reference.result.promptTokens, ids);
    const got = await collect(model.complete(ids, GREEDY));
    assert.deepEqual(got.tokens, reference.tokens);
    // The streamed text continues the prompt's text (a leading space stays).
    assert.equal(model.detokenize([...ids, ...got.tokens]), model.detokenize(ids) + got.text);
    assert.throws(() => model.complete([1, 32000], GREEDY), { code: 'ERR_BAD_ARG' });
  } finally {
    model.dispose();
  }
});

test('abort mid-generation throws ERR_ABORTED and leaves the model usable', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 256 });
  try {
    const controller = new AbortController();
    const seen = [];
    await assert.rejects(async () => {
      for await (const { token } of model.complete(PROMPT, { ...GREEDY, maxTokens: 100, signal: controller.signal })) {
        seen.push(token);
        if (seen.length === 3) controller.abort();
      }
    }, (e) => e instanceof WasmllmError && e.code === 'ERR_ABORTED');
    assert.equal(seen.length, 3);
    assert.deepEqual(seen, reference.tokens.slice(0, 3));
    // Same prompt again: the KV cache must be consistent after the abort.
    assert.deepEqual((await collect(model.complete(PROMPT, GREEDY))).tokens, reference.tokens);
    // A signal already aborted stops before any token.
    await assert.rejects(collect(model.complete(PROMPT, { ...GREEDY, signal: AbortSignal.abort() })), { code: 'ERR_ABORTED' });
    assert.deepEqual((await collect(model.complete(PROMPT, GREEDY))).tokens, reference.tokens);
  } finally {
    model.dispose();
  }
});

test('the KV cache reuses a shared prompt prefix without changing the result', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 256 });
  const fresh = await loadModel(file, { threads: 1, contextSize: 256 });
  try {
    const longer = `${PROMPT} jumps over the lazy dog`;
    await collect(model.complete(PROMPT, GREEDY));
    const reused = await collect(model.complete(longer, GREEDY));
    const nPrompt = reused.result.promptTokens.length;
    assert.ok(reused.result.promptEvaluated < nPrompt, `evaluated ${reused.result.promptEvaluated} of ${nPrompt}`);
    assert.deepEqual(reused.tokens, (await collect(fresh.complete(longer, GREEDY))).tokens);
    // Fully cached prompt: only its last token is evaluated again.
    const again = await collect(model.complete(longer, GREEDY));
    assert.equal(again.result.promptEvaluated, 1);
    assert.deepEqual(again.tokens, reused.tokens);
  } finally {
    model.dispose();
    fresh.dispose();
  }
});

test('the same seed gives the same sampled text; different seeds differ', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 256 });
  try {
    const sample = async (seed) => (await collect(model.complete(PROMPT, { maxTokens: 16, temperature: 1, topK: 0, topP: 1, minP: 0, seed }))).tokens;
    const a = await sample(42);
    assert.deepEqual(await sample(42), a);
    const others = [await sample(1), await sample(2), await sample(3)];
    assert.ok(others.some((o) => o.join() !== a.join()), 'different seeds should give different samples');
  } finally {
    model.dispose();
  }
});

test('stop strings end generation and are not part of the text', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 256 });
  try {
    // Stop at a piece of the known greedy continuation.
    const text = reference.text;
    const at = Math.floor(text.length / 2);
    const stop = text.slice(at, at + 3);
    const cut = text.indexOf(stop);
    const got = await collect(model.complete(PROMPT, { ...GREEDY, stop: [stop] }));
    assert.equal(got.text, text.slice(0, cut));
    assert.equal(got.result.finishReason, 'stop');
  } finally {
    model.dispose();
  }
});

test('dispose frees the model; later calls throw ERR_DISPOSED', async () => {
  const model = await loadModel(file, { threads: 2, contextSize: 64 });
  model.dispose();
  model.dispose(); // twice is harmless
  assert.throws(() => model.complete(PROMPT), { code: 'ERR_DISPOSED' });
  assert.throws(() => model.info(), { code: 'ERR_DISPOSED' });
});

test('one completion at a time per model', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 256 });
  try {
    const first = model.complete(PROMPT, GREEDY);
    await first.next();
    await assert.rejects(model.complete(PROMPT, GREEDY).next(), { code: 'ERR_BUSY' });
    await first.return();
    assert.equal((await collect(model.complete(PROMPT, GREEDY))).tokens.length, GREEDY.maxTokens);
  } finally {
    model.dispose();
  }
});

test('parseGGUF and createTokenizer are exported and tokenize like llama.cpp', () => {
  const header = parseGGUF(new Uint8Array(fs.readFileSync(VOCAB_SPM)), { allowNoData: true });
  const tok = createTokenizer(header.metadata);
  const hello = vocabVectors(VOCAB_SPM).find((v) => v.text === 'Hello world');
  assert.ok(hello);
  assert.deepEqual(Array.from(tok.encode('Hello world', { addSpecial: false, parseSpecial: false })), hello.ids);
});

test('chat() renders the conversation with a chat template and generates the reply', async () => {
  const model = await loadModel(file, { threads: 1, contextSize: 256 });
  try {
    const template = "{% for m in messages %}<<{{ m.role }}>> {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<<assistant>>{% endif %}";
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }];
    const got = await collect(model.chat(messages, { template, maxTokens: 6, temperature: 0 }));
    const prompt = model.detokenize(got.result.promptTokens);
    assert.equal(prompt.trimStart(), '<<system>> Be brief.\n<<user>> Hello there\n<<assistant>>');
    assert.equal(got.result.promptTokens[0], 1, 'one BOS');
    assert.ok(got.tokens.length > 0 && got.tokens.length <= 6);
    // Same prompt through complete(): same reply.
    const direct = await collect(model.complete(got.result.promptTokens, { maxTokens: 6, temperature: 0 }));
    assert.deepEqual(direct.tokens, got.tokens);
  } finally {
    model.dispose();
  }
});

test('a heap grown past 2 GiB (a 9M-token KV cache) still works: pointers are unsigned', async () => {
  // The KV cache (~2.3 GB, untouched pages cost no memory) pushes later
  // allocations past 2^31, where wasm returns pointers as negative i32s.
  const model = await loadModel(file, { threads: 2, contextSize: 9_000_000 });
  try {
    assert.deepEqual((await collect(model.complete(PROMPT, GREEDY))).tokens, reference.tokens);
  } finally {
    model.dispose();
  }
});

test('loading can be aborted; loaded models leave no process-wide listeners behind', async () => {
  const controller = new AbortController();
  await assert.rejects(
    loadModel(file, { threads: 1, signal: controller.signal, onProgress: () => controller.abort() }),
    (e) => e instanceof WasmllmError && e.code === 'ERR_ABORTED');
  await assert.rejects(loadModel(file, { signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });

  const before = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
  const models = [];
  for (let i = 0; i < 4; i++) models.push(await loadModel(file, { threads: 1 + (i % 2), contextSize: 32 }));
  assert.deepEqual([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')], before);
  for (const m of models) m.dispose();
});

test('sessions share the weights, each with its own KV cache; interleaved runs match the reference', async () => {
  const model = await loadModel(file, { threads: 2, contextSize: 256, sessions: 2 });
  try {
    const a = model.createSession({ contextSize: 128 });
    const b = model.createSession(); // a third pool: the prewarmed workers are taken, so it may run on fewer threads
    assert.equal(a.contextSize, 128);
    assert.equal(b.contextSize, 256, 'defaults to the model\'s context size');
    const runs = [model, a, b].map((s) => s.complete(PROMPT, GREEDY));
    const outs = [[], [], []];
    // Round-robin one token at a time: each session keeps its own cache.
    for (let alive = 3; alive > 0;) {
      alive = 0;
      for (let i = 0; i < 3; i++) {
        const step = await runs[i].next();
        if (!step.done) { alive++; if (step.value.token >= 0) outs[i].push(step.value.token); }
      }
    }
    for (const out of outs) assert.deepEqual(out, reference.tokens);
    a.dispose();
    assert.throws(() => a.complete(PROMPT), { code: 'ERR_DISPOSED' });
    assert.deepEqual((await collect(b.complete(PROMPT, GREEDY))).tokens, reference.tokens, 'b is unaffected');
    model.dispose();
    assert.throws(() => b.complete(PROMPT), { code: 'ERR_DISPOSED' });
    assert.throws(() => model.createSession(), { code: 'ERR_DISPOSED' });
  } finally {
    model.dispose();
  }
});

test('disposing during a generation ends it with ERR_DISPOSED instead of touching freed memory', async () => {
  const model = await loadModel(file, { threads: 2, contextSize: 64 });
  const it = model.complete(PROMPT, GREEDY);
  assert.equal((await it.next()).done, false);
  model.dispose();
  await assert.rejects(it.next(), { code: 'ERR_DISPOSED' });
  const session = (await loadModel(file, { threads: 1, contextSize: 64 }));
  const extra = session.createSession();
  const run = extra.complete(PROMPT, GREEDY);
  await run.next();
  extra.dispose();
  await assert.rejects(run.next(), { code: 'ERR_DISPOSED' });
  assert.equal((await collect(session.complete(PROMPT, GREEDY))).tokens.length, GREEDY.maxTokens, 'the model itself is fine');
  session.dispose();
});
