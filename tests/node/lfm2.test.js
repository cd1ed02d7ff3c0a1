// LFM2 (short convolutions + attention) end to end: the same greedy tokens from the JS API, the CLI
// and the server; prefix reuse with convolution state that can rewind only WL_CONV_REWIND (32)
// positions: a longer prompt, a prompt a few tokens shorter (both rewound in place), an edit in the
// middle and a much shorter prompt (both recomputed from the start) each give the tokens of a
// from-scratch run, and the prompt tokens evaluated say which path ran. Parity with llama.cpp is in
// tests/parity/lfm2.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../web/node/index.js';
import { VOCAB_SPM, writeSynthetic, completeTokens, completeFresh, assertSameGreedyEverywhere } from './runtime-fixtures.js';

/** A 6-layer lfm2 of width 64: attention in layers 1 and 4, convolutions elsewhere. */
const LFM2 = { arch: 'lfm2', shape: 'tiny-gqa', type: 'F32', seed: 5, vocab: VOCAB_SPM,
  overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, ctx: 512 } };
const GREEDY = { maxTokens: 8, temperature: 0, repeatPenalty: 1 };
const PROMPT = 'Once upon a time, there was a little girl who lived in a village near the forest. Whenever she went out, '
  + 'the little girl wore a red riding cloak, so everyone in the village called her Little Red Riding Hood. One morning her mother '
  + 'asked her to take a basket of cakes to her grandmother, who lived on the other side of the wood.';

const lfm2File = (name, edit) => writeSynthetic(LFM2, name, edit);

/** @param {any} model @param {string} prompt */
const run = (model, prompt) => completeTokens(model, prompt, GREEDY);

test('an lfm2 model gives the same greedy tokens from the API, the CLI and the server', async () => {
  const file = lfm2File('lfm2.gguf');
  const model = await loadModel(file, { threads: 2, contextSize: 256 });
  try {
    assert.equal(model.info().architecture, 'lfm2');
    await assertSameGreedyEverywhere(assert, model, file, 'lfm2', PROMPT);
  } finally {
    model.dispose();
  }
});

test('lfm2 prefix reuse rewinds the convolution state or starts over, and matches from-scratch runs', async () => {
  const file = lfm2File('lfm2-reuse.gguf');
  const model = await loadModel(file, { threads: 2, contextSize: 256 });
  try {
    const base = model.tokenize(PROMPT);
    const n = base.length;
    assert.ok(n >= 80, `the prompt has ${n} tokens`);
    const mid = Math.floor(n / 2);
    const edited = base.slice();
    edited[mid] = edited[mid] === 450 ? 451 : 450;
    const steps = [
      // [name, prompt, tokens evaluated when the state is reused as expected]
      ['the prompt', base, n],
      ['a longer prompt (rewinds the 7-8 generated tokens)', [...base, ...model.tokenize(' She', { addBos: false })], null],
      ['a prompt 3 tokens shorter (rewinds ~15 positions)', base.slice(0, n - 3), 1],
      ['an edit in the middle (too far back: from the start)', edited, edited.length],
      ['half the prompt (too far back: from the start)', base.slice(0, mid), mid],
    ];
    for (const [name, ids, evaluated] of steps) {
      const reused = await run(model, ids);
      const scratch = await completeFresh(assert, file, 256, ids, GREEDY);
      assert.deepEqual(reused.tokens, scratch.tokens, `${name}: reused vs from scratch`);
      const want = evaluated ?? ids.length - n; // the longer prompt: only what follows the prompt
      assert.equal(reused.result.promptEvaluated, want, `${name}: prompt tokens evaluated`);
    }
  } finally {
    model.dispose();
  }
});

const bad = [
  { name: 'head_count_kv as one number', code: 'ERR_BAD_VALUE', message: /lfm2\.attention\.head_count_kv must hold one value per layer/,
    edit: (w) => w.addU32('lfm2.attention.head_count_kv', 2) },
  { name: 'no shortconv.l_cache', code: 'ERR_MISSING_KEY', message: /lfm2\.shortconv\.l_cache/,
    edit: (w) => w.kv.delete('lfm2.shortconv.l_cache') },
  { name: 'an l_cache the conv tensors do not have', code: 'ERR_MISSING_TENSOR', message: /shortconv\.conv\.weight has shape/,
    edit: (w) => w.addU32('lfm2.shortconv.l_cache', 4) },
];

for (const c of bad) {
  test(`lfm2 metadata: ${c.name} fails with ${c.code}`, async () => {
    const file = lfm2File(`bad-${c.code}-${c.name.length}.gguf`, c.edit);
    await assert.rejects(loadModel(file, { threads: 1 }), (e) => {
      assert.equal(e.code, c.code, e.message);
      assert.match(e.message, c.message);
      return true;
    });
  });
}

// lfm2moe: the same layers, a dense first layer, then mixtures of experts with an expert bias.
const LFM2MOE = { ...LFM2, arch: 'lfm2moe', overrides: { ...LFM2.overrides, ffnExp: 64 } };

const lfm2moeFile = (name, edit) => writeSynthetic(LFM2MOE, name, edit);

test('an lfm2moe model gives the same greedy tokens from the API, the CLI and the server', async () => {
  const file = lfm2moeFile('lfm2moe.gguf');
  const model = await loadModel(file, { threads: 2, contextSize: 256 });
  try {
    assert.equal(model.info().architecture, 'lfm2moe');
    const api = await assertSameGreedyEverywhere(assert, model, file, 'lfm2moe', PROMPT);

    // the expert bias steers the choice: without it (zeros) the run differs
    const unbiased = await loadModel(lfm2moeFile('lfm2moe-nobias.gguf', (w) => {
      for (const t of w.tensors) if (t.name.endsWith('exp_probs_b.bias')) t.source = () => new Float32Array(t.shape[0]);
    }), { threads: 1, contextSize: 256 });
    try {
      assert.notDeepEqual((await run(unbiased, PROMPT)).tokens, api.tokens, 'a zero expert bias changed nothing');
    } finally {
      unbiased.dispose();
    }
  } finally {
    model.dispose();
  }
});

const badMoe = [
  { name: 'no expert_gating_func', code: 'ERR_MISSING_KEY', message: /lfm2moe\.expert_gating_func/,
    edit: (w) => w.kv.delete('lfm2moe.expert_gating_func') },
  { name: 'more dense layers than layers', code: 'ERR_BAD_VALUE', message: /lfm2moe\.leading_dense_block_count = 7/,
    edit: (w) => w.addU32('lfm2moe.leading_dense_block_count', 7) },
  { name: 'no expert bias', code: 'ERR_MISSING_TENSOR', message: /blk\.1\.exp_probs_b\.bias/,
    edit: (w) => { w.tensors = w.tensors.filter((t) => t.name !== 'blk.1.exp_probs_b.bias'); } },
];

for (const c of badMoe) {
  test(`lfm2moe metadata: ${c.name} fails with ${c.code}`, async () => {
    const file = lfm2moeFile(`bad-moe-${c.code}-${c.name.length}.gguf`, c.edit);
    await assert.rejects(loadModel(file, { threads: 1 }), (e) => {
      assert.equal(e.code, c.code, e.message);
      assert.match(e.message, c.message);
      return true;
    });
  });
}
