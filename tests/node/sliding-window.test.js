// Sliding-window layers keep a ring of their window (src/kv_cache.h): a gemma3 model whose layers
// all attend within 8 tokens takes window + chunk - 1 + WL_KV_REWIND = 71 rows a layer, not the whole
// context, and says so in kvCacheBytes / memory(). Prefix reuse: a truncate the ring can still serve
// (a few positions back) keeps the cache; one further back than the ring reaches (an edit in the
// middle, half the prompt) starts over, and the prompt tokens evaluated say which path ran. Every
// case gives the tokens of a from-scratch run. Parity past the window with llama.cpp:
// tests/parity/gemma2.test.js and gemma3.test.js (a 225-token prompt against 32-token windows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeSynthetic } from '../../tools/make-synthetic.js';
import { loadModel } from '../../web/node/index.js';
import { tempDir, VOCAB_SPM, completeTokens, completeFresh, assertSameGreedyEverywhere } from './runtime-fixtures.js';

const WINDOW = 8;
const RING = WINDOW + 32 - 1 + 32; // WL_MAX_CHUNK - 1 + WL_KV_REWIND
/** 4 gemma3 layers (all local: gemma3's global layer is every 6th), 2 K/V heads of 64 dims. */
const GEMMA3 = { arch: 'gemma3', shape: 'tiny-gqa', type: 'F32', seed: 3, vocab: VOCAB_SPM, overrides: { slidingWindow: WINDOW } };
const BYTES_PER_ROW = 2 * 64 * 2 * 2; // K/V heads x head dim x (K, V) x f16
const GREEDY = { maxTokens: 8, temperature: 0, repeatPenalty: 1 };
const PROMPT = 'Once upon a time, there was a little girl who lived in a village near the forest. Whenever she went out, '
  + 'the little girl wore a red riding cloak, so everyone in the village called her Little Red Riding Hood. One morning her mother '
  + 'asked her to take a basket of cakes to her grandmother, who lived on the other side of the wood. She set off through '
  + 'the trees, singing to herself, and soon she met a wolf who asked her where she was going.';

let file;
function gemma3File() {
  file ??= makeSynthetic({ ...GEMMA3, out: path.join(tempDir(), 'gemma3-swa.gguf') }).paths[0];
  return file;
}

/** @param {any} model @param {string} prompt */
const run = (model, prompt) => completeTokens(model, prompt, GREEDY);

test('sliding-window layers take their ring of KV rows, not the whole context', async () => {
  for (const contextSize of [512, 4096]) {
    const model = await loadModel(gemma3File(), { threads: 1, contextSize });
    try {
      assert.equal(model.info().kvCacheBytes, 4 * RING * BYTES_PER_ROW, `context ${contextSize}`);
      assert.equal(model.memory().kvCacheBytes, 4 * RING * BYTES_PER_ROW);
    } finally {
      model.dispose();
    }
  }
  // a context no longer than the ring keeps every position
  const small = await loadModel(gemma3File(), { threads: 1, contextSize: 64 });
  try {
    assert.equal(small.info().kvCacheBytes, 4 * 64 * BYTES_PER_ROW);
  } finally {
    small.dispose();
  }
});

test('sliding-window prefix reuse keeps what the ring holds, starts over past it, and matches from-scratch runs', async () => {
  const model = await loadModel(gemma3File(), { threads: 2, contextSize: 512 });
  try {
    const base = model.tokenize(PROMPT);
    const n = base.length;
    assert.ok(n > RING + 10, `the prompt has ${n} tokens, the ring ${RING}`);
    const edited = base.slice();
    edited[10] = edited[10] === 450 ? 451 : 450;
    const steps = [
      // [name, prompt, tokens evaluated when the cache is reused as expected]
      ['the prompt', base, n],
      ['a longer prompt (keeps the prompt and its generated tokens)', [...base, ...model.tokenize(' She', { addBos: false })], null],
      ['a prompt 3 tokens shorter (rewinds ~12 positions)', base.slice(0, n - 3), 1],
      ['an edit at token 10 (the ring overwrote it: from the start)', edited, edited.length],
      ['the first 20 tokens (from the start)', base.slice(0, 20), 20],
    ];
    for (const [name, ids, evaluated] of steps) {
      const reused = await run(model, ids);
      const scratch = await completeFresh(assert, gemma3File(), 512, ids, GREEDY);
      assert.deepEqual(reused.tokens, scratch.tokens, `${name}: reused vs from scratch`);
      const want = evaluated ?? ids.length - n;
      assert.equal(reused.result.promptEvaluated, want, `${name}: prompt tokens evaluated`);
    }
    assert.ok(new Set((await run(model, base)).tokens).size > 2, 'a degenerate continuation');
  } finally {
    model.dispose();
  }
});

test('a sliding-window model past its ring gives the same greedy tokens from the API, the CLI and the server', async () => {
  const model = await loadModel(gemma3File(), { threads: 2, contextSize: 512 });
  try {
    await assertSameGreedyEverywhere(assert, model, gemma3File(), 'gemma3', PROMPT, 8, ['-c', '512']);
  } finally {
    model.dispose();
  }
});
