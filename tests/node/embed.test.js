/**
 * model.embed(), info().pooling / isEncoder, `wasmllm embed`, and the
 * server's /v1/embeddings through the official openai client, on tiny
 * synthetic bert / nomic-bert models (tools/make-synthetic-encoder.js) and
 * the embedded decoder. Agreement with llama.cpp is in tests/parity/embeddings.test.js.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadModel } from '../../web/node/index.js';
import { createServer } from '../../web/node/server.js';
import { makeEncoderSynthetic } from '../../tools/make-synthetic-encoder.js';
import { ROOT, CLI, EMBEDDED, tempDir, runCli } from './runtime-fixtures.js';

const REF = path.join(ROOT, 'tests/ref/node_modules');
const skipNoRef = fs.existsSync(path.join(REF, 'openai')) ? false : 'tests/ref is not installed (node tools/setup.js --test)';

const TEXTS = ['Hello world, embeddings!', 'The quick brown fox jumps over the lazy dog.', 'Café naïve résumé 你好'];

let bgeFile, nomicFile, bge;

before(async () => {
  bgeFile = path.join(tempDir(), 'bge-tiny.gguf');
  nomicFile = path.join(tempDir(), 'nomic-tiny.gguf');
  makeEncoderSynthetic({ shape: 'bge-tiny', type: 'F32', seed: 3, out: bgeFile });
  makeEncoderSynthetic({ shape: 'nomic-tiny', type: 'Q8_0', seed: 3, out: nomicFile });
  bge = await loadModel(bgeFile, { threads: 1, contextSize: 128 });
});

after(() => bge?.dispose());

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / (norm(a) * norm(b));
/** n words that are one WordPiece token each: [CLS] + n + [SEP] tokens. */
const wordsText = (n) => 'hello '.repeat(n).trim();

test('bert: one normalized Float32Array of embeddingLength floats per text, in order', async () => {
  const info = bge.info();
  assert.equal(info.architecture, 'bert');
  assert.equal(info.pooling, 'cls');
  assert.equal(info.isEncoder, true);
  const vectors = await bge.embed(TEXTS);
  assert.equal(vectors.length, TEXTS.length);
  for (const v of vectors) {
    assert.ok(v instanceof Float32Array);
    assert.equal(v.length, info.embeddingLength);
    assert.ok(v.every(Number.isFinite));
    assert.ok(Math.abs(norm(v) - 1) < 1e-5, `norm ${norm(v)}`);
  }
  // Different texts, different vectors; each text alone gives exactly its batched vector.
  assert.ok(cosine(vectors[0], vectors[1]) < 0.99);
  for (let i = 0; i < TEXTS.length; i++) assert.deepEqual((await bge.embed([TEXTS[i]]))[0], vectors[i]);
  assert.deepEqual(await bge.embed(TEXTS[2]), [vectors[2]], 'a lone string is one text');
  assert.deepEqual(await bge.embed([]), []);
});

test('bert: strings get [CLS] ... [SEP] as llama.cpp adds them; token-id inputs are used as given', async () => {
  const ids = bge.tokenize(TEXTS[0]);
  assert.equal(ids[0], bge.tokenizer.bos, 'starts with [CLS]');
  assert.equal(ids.at(-1), bge.tokenizer.sep, 'ends with [SEP]');
  const [fromText] = await bge.embed([TEXTS[0]]);
  const [fromIds] = await bge.embed([ids]);
  assert.deepEqual(fromIds, fromText);
  const [bare] = await bge.embed([TEXTS[0]], { addSpecial: false });
  assert.ok(cosine(bare, fromText) < 0.999, 'without [CLS]/[SEP] the CLS-pooled vector changes');
});

test('pooling: the GGUF\'s pooling_type by default, names or numbers override it; normalize: false keeps the scale', async () => {
  const [byDefault] = await bge.embed([TEXTS[1]]);
  assert.deepEqual((await bge.embed([TEXTS[1]], { pooling: 'cls' }))[0], byDefault);
  assert.deepEqual((await bge.embed([TEXTS[1]], { pooling: 2 }))[0], byDefault);
  const [mean] = await bge.embed([TEXTS[1]], { pooling: 'mean' });
  const [last] = await bge.embed([TEXTS[1]], { pooling: 'last' });
  assert.ok(cosine(mean, byDefault) < 0.99 && cosine(last, byDefault) < 0.99 && cosine(mean, last) < 0.99);
  assert.deepEqual((await bge.embed([TEXTS[1]], { pooling: 1 }))[0], mean);

  const [raw] = await bge.embed([TEXTS[1]], { normalize: false });
  const n = norm(raw);
  assert.ok(Math.abs(n - 1) > 0.1, `the pooled hidden state happens to have norm ${n}`);
  for (let i = 0; i < raw.length; i++) assert.ok(Math.abs(raw[i] / n - byDefault[i]) < 1e-6);
});

test('bad input: ERR_BAD_ARG for wrong types, pooling, token ids and empty inputs', async () => {
  const bad = async (texts, options, pattern) => {
    await assert.rejects(bge.embed(texts, options), (e) => e.code === 'ERR_BAD_ARG' && pattern.test(e.message));
  };
  await bad(42, {}, /string or an array/);
  await bad([TEXTS[0], null], {}, /input #1/);
  await bad([{}], {}, /input #0/);
  await bad([[101, 1e9]], {}, /input #0: token #1/);
  await bad([[101, 1.5]], {}, /token #1/);
  await bad([[]], {}, /input #0 is empty/);
  await bad(TEXTS, { pooling: 'max' }, /pooling/);
  await bad(TEXTS, { pooling: 0 }, /pooling/);
  await bad(TEXTS, { pooling: 4 }, /pooling/);
  await bad(TEXTS, { normalize: 'yes' }, /normalize/);
  // The model is still usable after refusing.
  assert.equal((await bge.embed([TEXTS[0]]))[0].length, 128);
});

test('a text longer than the context: ERR_CONTEXT_FULL naming the input; bert also stops at its position table', async () => {
  await assert.rejects(bge.embed([TEXTS[0], wordsText(200)]),
    (e) => e.code === 'ERR_CONTEXT_FULL' && /input #1 has \d+ tokens but the context holds 128/.test(e.message));
  // A context larger than bert's 512 learned positions still cannot embed 600 tokens.
  const big = await loadModel(bgeFile, { threads: 1, contextSize: 1024 });
  try {
    const long = wordsText(600);
    assert.equal(big.tokenize(long).length, 602);
    await assert.rejects(big.embed(['short', long]), (e) => e.code === 'ERR_CONTEXT_FULL' && /text #1/.test(e.message) && /512/.test(e.message));
    assert.equal((await big.embed([wordsText(100)]))[0].length, 128);
  } finally {
    big.dispose();
  }
});

test('encoder-only models refuse complete() and chat() with ERR_BAD_ARG saying they embed', async () => {
  assert.throws(() => bge.complete('Hello'), (e) => e.code === 'ERR_BAD_ARG' && /embedding model \(bert\)/.test(e.message));
  await assert.rejects(bge.chat([{ role: 'user', content: 'hi' }]).next(),
    (e) => e.code === 'ERR_BAD_ARG' && /embedding model/.test(e.message));
});

test('abort between texts: ERR_ABORTED, and the model embeds again afterwards', async () => {
  const controller = new AbortController();
  const pending = bge.embed([TEXTS[0], TEXTS[1], TEXTS[2]], { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, (e) => e.code === 'ERR_ABORTED' || e.name === 'AbortError');
  await assert.rejects(bge.embed(TEXTS, { signal: controller.signal }), (e) => e.code === 'ERR_ABORTED' || e.name === 'AbortError');
  assert.equal((await bge.embed(TEXTS)).length, 3);
});

test('sessions embed like the model; two embed calls at once on one session: the second is ERR_BUSY', async () => {
  const session = bge.createSession();
  try {
    assert.deepEqual(await session.embed(TEXTS), await bge.embed(TEXTS));
    const first = session.embed(TEXTS);
    await assert.rejects(session.embed(TEXTS), (e) => e.code === 'ERR_BUSY');
    assert.equal((await first).length, 3);
  } finally {
    session.dispose();
  }
});

test('nomic-bert (Q8_0): mean pooling from the GGUF, normalized vectors', async () => {
  const model = await loadModel(nomicFile, { threads: 1, contextSize: 256 });
  try {
    const info = model.info();
    assert.equal(info.architecture, 'nomic-bert');
    assert.equal(info.pooling, 'mean');
    assert.equal(info.isEncoder, true);
    const vectors = await model.embed(TEXTS);
    assert.equal(vectors.length, 3);
    for (const v of vectors) assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    assert.ok(cosine(vectors[0], vectors[2]) < 0.99);
    assert.deepEqual((await model.embed([TEXTS[0]], { pooling: 'mean' }))[0], vectors[0]);
  } finally {
    model.dispose();
  }
});

test('decoder (embedded llama): no pooling_type, last token by default; embedding then generating gives the same text', async () => {
  const model = await loadModel(EMBEDDED, { threads: 1, contextSize: 256 });
  try {
    const info = model.info();
    assert.equal(info.pooling, null);
    assert.equal(info.isEncoder, false);
    const greedy = { maxTokens: 16, temperature: 0, seed: 1 };
    const collect = async (it) => { let s = ''; for await (const p of it) s += p.text; return s; };
    const before = await collect(model.complete('ROMEO:', greedy));
    const [last] = await model.embed(['ROMEO: What light'], {});
    assert.deepEqual((await model.embed(['ROMEO: What light'], { pooling: 'last' }))[0], last);
    const [mean] = await model.embed(['ROMEO: What light'], { pooling: 'mean' });
    assert.ok(cosine(last, mean) < 0.99);
    // embed() overwrote the KV cache: the next completion must not reuse it.
    assert.equal(await collect(model.complete('ROMEO:', greedy)), before);
    // Embedding while a completion is running is refused.
    const it = model.complete('ROMEO:', greedy);
    await it.next();
    await assert.rejects(model.embed(['x']), (e) => e.code === 'ERR_BUSY');
    await it.return();
  } finally {
    model.dispose();
  }
});

test('wasmllm embed: one array for one text, an array of arrays for several (--text or --file lines)', async () => {
  const [want0, want1] = await bge.embed([TEXTS[0], TEXTS[1]]);
  const one = await runCli(['embed', '-q', '--model', bgeFile, '--text', TEXTS[0]]);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout), Array.from(want0));

  const two = await runCli(['embed', '-q', '--model', bgeFile, '--text', TEXTS[0], '--text', TEXTS[1]]);
  assert.equal(two.code, 0, two.stderr);
  assert.deepEqual(JSON.parse(two.stdout), [Array.from(want0), Array.from(want1)]);

  const file = path.join(tempDir(), 'texts.txt');
  fs.writeFileSync(file, `${TEXTS[0]}\n\n${TEXTS[1]}\n`);
  const lines = await runCli(['embed', '-q', '-m', bgeFile, '--file', file]);
  assert.equal(lines.code, 0, lines.stderr);
  assert.deepEqual(JSON.parse(lines.stdout), [Array.from(want0), Array.from(want1)]);

  const [mean] = await bge.embed([TEXTS[0]], { pooling: 'mean', normalize: false });
  const raw = await runCli(['embed', '-q', '-m', bgeFile, '--text', TEXTS[0], '--pooling', 'mean', '--no-normalize']);
  assert.equal(raw.code, 0, raw.stderr);
  assert.deepEqual(JSON.parse(raw.stdout), Array.from(mean));
});

test('wasmllm embed: usage errors exit 2, runtime errors exit 1 with the code', async () => {
  for (const args of [['--text', 'x'], ['-m', bgeFile], ['-m', bgeFile, '--text', 'x', '--file', 'f'], ['-m', bgeFile, '--text', 'x', '--pooling', 'max'], ['-m', bgeFile, '--text', 'x', '--bogus']]) {
    const r = await runCli(['embed', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: wasmllm embed/);
  }
  const long = await runCli(['embed', '-q', '-m', bgeFile, '-c', '16', '--text', wordsText(40)]);
  assert.equal(long.code, 1);
  assert.match(long.stderr, /ERR_CONTEXT_FULL/);
  const gen = await runCli(['complete', '-m', bgeFile, '-p', 'hi']);
  assert.equal(gen.code, 1);
  assert.match(gen.stderr, /ERR_BAD_ARG: .*embedding model/);
});

test('server: POST /v1/embeddings through the openai client matches model.embed; generation is refused with 400', { skip: skipNoRef }, async () => {
  const session = bge.createSession();
  const server = createServer({ engines: [bge, session], modelId: 'bge-tiny', maxBodyBytes: 1 << 20, maxQueue: 16, embeddings: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const OpenAI = (await import(createRequire(import.meta.url).resolve('openai', { paths: [REF] }))).default;
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${server.address().port}/v1`, apiKey: 'unused', maxRetries: 0 });
    const want = await bge.embed(TEXTS);
    const res = await client.embeddings.create({ model: 'bge-tiny', input: TEXTS, encoding_format: 'float' });
    assert.equal(res.object, 'list');
    assert.equal(res.data.length, TEXTS.length);
    res.data.forEach((d, i) => {
      assert.equal(d.index, i);
      assert.deepEqual(d.embedding, Array.from(want[i]));
    });
    const tokens = TEXTS.reduce((n, t) => n + bge.tokenize(t).length, 0);
    assert.equal(res.usage.prompt_tokens, tokens);
    // The client's default request (base64 asked for) still yields the numbers.
    const single = await client.embeddings.create({ model: 'bge-tiny', input: TEXTS[0] });
    assert.equal(single.data.length, 1);
    assert.deepEqual(Array.from(single.data[0].embedding), Array.from(want[0]));
    await assert.rejects(client.chat.completions.create({ model: 'bge-tiny', messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e.status === 400 && /embedding model/.test(e.message));
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
    session.dispose();
  }
});

/** Starts `wasmllm serve` on a free port; resolves with its base URL and the child. */
function startServe(model) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '-q', '--model', model, '--port', '0', '-t', '1'], { cwd: ROOT });
    let out = '', err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve did not start\n${err}`)); }, 60000);
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /on (http:\/\/\S+)\/v1/.exec(out);
      if (m) { clearTimeout(timer); resolve({ url: m[1], child }); }
    });
    child.on('error', reject);
  });
}

const stopServe = (child) => new Promise((resolve) => { child.once('close', resolve); child.kill('SIGTERM'); });

test('wasmllm serve: /v1/embeddings on for an encoder, refused (not_an_embedding_model) for a decoder without pooling', async () => {
  const embedBody = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: ['hello', 'world'] }) };
  const enc = await startServe(bgeFile);
  try {
    const r = await fetch(`${enc.url}/v1/embeddings`, embedBody);
    assert.equal(r.status, 200);
    const json = await r.json();
    assert.equal(json.data.length, 2);
    assert.deepEqual(json.data[0].embedding, Array.from((await bge.embed(['hello']))[0]));
  } finally {
    await stopServe(enc.child);
  }
  const dec = await startServe(EMBEDDED);
  try {
    const r = await fetch(`${dec.url}/v1/embeddings`, embedBody);
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.code, 'not_an_embedding_model');
  } finally {
    await stopServe(dec.child);
  }
});
