/**
 * Embedding parity with llama.cpp (node-llama-cpp's createEmbeddingContext /
 * getEmbeddingFor): the same text through both runtimes, end to end
 * (tokenizer, encoder, pooling), must give vectors with cosine similarity
 * >= 0.999 on F32 weights and >= 0.99 on Q8_0, on tiny synthetic models:
 * - bert shaped like bge (pooling_type CLS) and like all-MiniLM (mean),
 * - nomic-bert (fused qkv, SwiGLU, RoPE; mean),
 * - decoders: llama without pooling_type (llama.cpp's "none": the last
 *   token's hidden state), qwen3 with pooling_type last (as Qwen3-Embedding)
 *   and llama with pooling_type mean.
 * llama.cpp returns unnormalized vectors; cosine ignores the scale, and
 * wasmllm's normalization is checked separately.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { getLlama, hashFiles, nodeLlamaCppVersion, CACHE_DIR } from './oracle.js';
import { ensureSynthetic, corpusPrompt, VOCAB_LLAMA_SPM } from './models.js';
import { wasmllm } from './wasmllm-runner.js';
import { makeEncoderSynthetic } from '../../tools/make-synthetic-encoder.js';
import { buildSynthetic } from '../../tools/make-synthetic.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ORACLE_VERSION = 1;
const CONTEXT = 512;
const MIN_COSINE = { F32: 0.999, Q8_0: 0.99 };

const TEXTS = [
  'Hello world, embeddings!',
  'The quick brown fox jumps over the lazy dog.',
  'Café naïve résumé: ÜNÏCÖDÉ, accents and 你好世界 in one line.',
  'a',
  corpusPrompt(1200), // a few hundred tokens: many attention rows, positions far from 0
];

/** A synthetic encoder under .cache/synth/, rebuilt when its options or generator change. */
function ensureEncoder(options) {
  const h = crypto.createHash('sha256').update(JSON.stringify(options));
  for (const f of ['tools/make-synthetic-encoder.js', 'tools/make-synthetic.js', 'tools/gguf-writer.js', 'tools/quantize.js']) {
    h.update(fs.readFileSync(path.join(repoRoot, f)));
  }
  const out = path.join(CACHE_DIR, 'synth', `${options.shape}-${options.type}-${h.digest('hex').slice(0, 10)}.gguf`);
  if (!fs.existsSync(out)) {
    makeEncoderSynthetic({ ...options, out: `${out}.tmp` });
    fs.renameSync(`${out}.tmp`, out); // a run cut short leaves no half-written model behind
  }
  return out;
}

/** A tiny synthetic decoder whose file names a pooling_type (1 mean, 3 last). */
function ensureDecoderWithPooling(arch, type, pooling) {
  const options = { arch, shape: 'tiny-gqa', type, seed: 9, vocab: VOCAB_LLAMA_SPM };
  const h = crypto.createHash('sha256').update(JSON.stringify({ ...options, pooling }));
  for (const f of ['tools/make-synthetic.js', 'tools/gguf-writer.js', 'tools/quantize.js']) h.update(fs.readFileSync(path.join(repoRoot, f)));
  const out = path.join(CACHE_DIR, 'synth', `${arch}-pool${pooling}-${type}-${h.digest('hex').slice(0, 10)}.gguf`);
  if (!fs.existsSync(out)) {
    const { writer } = buildSynthetic(options);
    writer.addU32(`${arch}.pooling_type`, pooling);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    writer.write(`${out}.tmp`);
    fs.renameSync(`${out}.tmp`, out);
  }
  return out;
}

/**
 * llama.cpp's embedding of each text (its own tokenization, special tokens
 * added as llama.cpp does for the vocabulary), cached on disk.
 * @returns {Promise<{ vectors: number[][], tokens: number[][], cached: boolean }>}
 */
async function referenceEmbeddings(file, texts) {
  const key = JSON.stringify({ v: ORACLE_VERSION, nlc: nodeLlamaCppVersion(), model: hashFiles([file]), texts, CONTEXT });
  const cacheFile = path.join(CACHE_DIR, 'oracle', `embd-${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  if (fs.existsSync(cacheFile)) return { ...JSON.parse(fs.readFileSync(cacheFile, 'utf8')), cached: true };
  const llama = await getLlama();
  const model = await llama.loadModel({ modelPath: file });
  try {
    const context = await model.createEmbeddingContext({ contextSize: CONTEXT, threads: 1 });
    try {
      const vectors = [], tokens = [];
      for (const text of texts) {
        vectors.push(Array.from((await context.getEmbeddingFor(text)).vector));
        tokens.push(Array.from(model.tokenize(text, false)));
      }
      const result = { vectors, tokens };
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(cacheFile, JSON.stringify(result));
      return { ...result, cached: false };
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/**
 * Embeds TEXTS in both runtimes and checks them against each other.
 * @param {import('node:test').TestContext} t
 * @param {string} label @param {string} file @param {string} type
 * @param {{ pooling: string | null, isEncoder: boolean }} expect what info() must say
 */
async function checkParity(t, label, file, type, expect) {
  const ref = await referenceEmbeddings(file, TEXTS);
  t.diagnostic(`${label}: llama.cpp ${ref.cached ? '(cached)' : 'ran'}`);
  // The reference must tell texts apart, or matching it would prove nothing.
  for (let i = 1; i < TEXTS.length; i++) {
    assert.ok(cosine(ref.vectors[0], ref.vectors[i]) < 0.99, `${label}: llama.cpp gives texts 0 and ${i} nearly the same vector`);
  }

  const { loadModel } = await wasmllm();
  const model = await loadModel(file, { threads: 1, contextSize: CONTEXT });
  try {
    const info = model.info();
    assert.equal(info.pooling, expect.pooling, `${label}: info().pooling`);
    assert.equal(info.isEncoder, expect.isEncoder, `${label}: info().isEncoder`);
    for (let i = 0; i < TEXTS.length; i++) {
      assert.deepEqual(model.tokenize(TEXTS[i], { addSpecial: false, parseSpecial: false }), ref.tokens[i], `${label}: text #${i} tokenizes differently`);
    }
    const got = await model.embed(TEXTS); // default pooling: the model's own; normalized
    assert.equal(got.length, TEXTS.length);
    const cos = got.map((v, i) => cosine(v, ref.vectors[i]));
    t.diagnostic(`${label}: cosine with llama.cpp per text: ${cos.map((c) => c.toFixed(7)).join(' ')}`);
    for (let i = 0; i < got.length; i++) {
      assert.equal(got[i].length, ref.vectors[i].length, `${label}: text #${i}: vector length`);
      assert.ok(Math.abs(norm(got[i]) - 1) < 1e-4, `${label}: text #${i} is not normalized (norm ${norm(got[i])})`);
      assert.ok(cos[i] >= MIN_COSINE[type], `${label}: text #${i}: cosine ${cos[i]} < ${MIN_COSINE[type]}`);
    }
    // Without normalization the vector is llama.cpp's own (pooled hidden state), scale included.
    const raw = await model.embed([TEXTS[1]], { normalize: false });
    const ratio = norm(raw[0]) / norm(ref.vectors[1]);
    t.diagnostic(`${label}: unnormalized norm ratio wasmllm/llama.cpp ${ratio.toFixed(6)}`);
    assert.ok(Math.abs(ratio - 1) < (type === 'F32' ? 1e-3 : 2e-2), `${label}: unnormalized norm ratio ${ratio}`);
  } finally {
    model.dispose();
  }
}

const ENCODERS = [
  { arch: 'bert', shape: 'bge-tiny', pooling: 'cls', family: 'bge' },
  { arch: 'bert', shape: 'minilm-tiny', pooling: 'mean', family: 'all-MiniLM' },
  { arch: 'nomic-bert', shape: 'nomic-tiny', pooling: 'mean', family: 'nomic-embed' },
];

for (const enc of ENCODERS) {
  for (const type of ['F32', 'Q8_0']) {
    test(`${enc.arch} (${enc.family}-like tiny synthetic, ${type}, ${enc.pooling} pooling): embeddings match llama.cpp, cosine >= ${MIN_COSINE[type]}`, async (t) => {
      const label = `${enc.arch}/${enc.shape} ${type}`;
      const file = ensureEncoder({ shape: enc.shape, type, seed: 7 });
      await checkParity(t, label, file, type, { pooling: enc.pooling, isEncoder: true });
    });
  }
}

test('bert (bge-like, F32): the GGUF\'s pooling_type decides the default; an explicit pooling overrides it', async () => {
  const file = ensureEncoder({ shape: 'bge-tiny', type: 'F32', seed: 7 });
  const ref = await referenceEmbeddings(file, TEXTS);
  const { loadModel } = await wasmllm();
  const model = await loadModel(file, { threads: 1, contextSize: CONTEXT });
  try {
    const [byDefault] = await model.embed([TEXTS[1]]);
    const [cls] = await model.embed([TEXTS[1]], { pooling: 'cls' });
    const [mean] = await model.embed([TEXTS[1]], { pooling: 'mean' });
    const [last] = await model.embed([TEXTS[1]], { pooling: 3 });
    assert.deepEqual(byDefault, cls);
    assert.ok(cosine(cls, ref.vectors[1]) >= 0.999);
    // Mean and last pooling really pool something else on this model.
    assert.ok(cosine(mean, ref.vectors[1]) < 0.99, `mean pooling looks like CLS: ${cosine(mean, ref.vectors[1])}`);
    assert.ok(cosine(last, cls) < 0.99, `last pooling looks like CLS: ${cosine(last, cls)}`);
  } finally {
    model.dispose();
  }
});

for (const type of ['F32', 'Q8_0']) {
  test(`llama (tiny synthetic decoder, ${type}, last-token pooling): embeddings match llama.cpp, cosine >= ${MIN_COSINE[type]}`, async (t) => {
    const [file] = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type, seed: 9 });
    await checkParity(t, `llama ${type}`, file, type, { pooling: null, isEncoder: false });
  });
}

const POOLED_DECODERS = [
  { arch: 'qwen3', pooling: 3, name: 'last', like: 'Qwen3-Embedding-like' },
  { arch: 'llama', pooling: 1, name: 'mean', like: 'mean-pooled' },
];

for (const dec of POOLED_DECODERS) {
  for (const type of ['F32', 'Q8_0']) {
    test(`${dec.arch} (${dec.like} tiny synthetic decoder, ${type}, pooling_type ${dec.name}): embeddings match llama.cpp, cosine >= ${MIN_COSINE[type]}`, async (t) => {
      const file = ensureDecoderWithPooling(dec.arch, type, dec.pooling);
      await checkParity(t, `${dec.arch} pooling ${dec.name} ${type}`, file, type, { pooling: dec.name, isEncoder: false });
    });
  }
}
