// Mamba-2 layers end to end (mamba2: SSM layers only; granitehybrid: SSM layers around attention;
// falcon-h1: attention and SSM side by side in every layer):
// the same greedy tokens from the JS API, the CLI and the server; prefix reuse, where the scan's
// state cannot be taken back, so any prompt that drops cached tokens is evaluated from the start
// (and gives the tokens of a from-scratch run) while a prompt that only extends the cache is not;
// bad metadata gets coded errors. Parity with llama.cpp: tests/parity/{mamba2,granitehybrid,falcon-h1}.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../web/node/index.js';
import { VOCAB_SPM, writeSynthetic, completeTokens, completeFresh, assertSameGreedyEverywhere } from './runtime-fixtures.js';

/** Width 64, Mamba-2 mixers of 4 heads of 32 (d_inner 128 = 2 * dim, as granitehybrid needs), 2 groups. */
const SSM = { dInner: 128, dState: 16, nHead: 4, nGroup: 2, dConv: 4 };
const SMALL = { dim: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, ctx: 512, ssm: SSM };
const SPECS = {
  mamba2: { arch: 'mamba2', shape: 'tiny-gqa', type: 'F32', seed: 5, vocab: VOCAB_SPM, overrides: SMALL },
  granitehybrid: { arch: 'granitehybrid', shape: 'tiny-gqa', type: 'F32', seed: 5, vocab: VOCAB_SPM, overrides: SMALL },
  'falcon-h1': { arch: 'falcon-h1', shape: 'tiny-gqa', type: 'F32', seed: 5, vocab: VOCAB_SPM, overrides: SMALL },
};
const GREEDY = { maxTokens: 8, temperature: 0, repeatPenalty: 1 };
const PROMPT = 'Once upon a time, there was a little girl who lived in a village near the forest. Whenever she went out, '
  + 'the little girl wore a red riding cloak, so everyone in the village called her Little Red Riding Hood.';

const modelFile = (arch, name, edit) => writeSynthetic(SPECS[arch], name, edit);

/** @param {any} model @param {string} prompt */
const run = (model, prompt) => completeTokens(model, prompt, GREEDY);

for (const arch of Object.keys(SPECS)) {
  test(`a ${arch} model gives the same greedy tokens from the API, the CLI and the server`, async () => {
    const file = modelFile(arch, `${arch}.gguf`);
    const model = await loadModel(file, { threads: 2, contextSize: 256 });
    try {
      assert.equal(model.info().architecture, arch);
      await assertSameGreedyEverywhere(assert, model, file, arch, PROMPT);
    } finally {
      model.dispose();
    }
  });

  if (arch === 'falcon-h1') {
    test('falcon-h1 takes its FFN norm as blk.N.ffn_norm (what llama.cpp reads) or blk.N.ffn_norm.weight', async () => {
      const bare = modelFile(arch, 'fh-bare.gguf');
      const suffixed = modelFile(arch, 'fh-suffixed.gguf', (w) => {
        for (const t of w.tensors) if (/^blk\.\d+\.ffn_norm$/.test(t.name)) t.name += '.weight';
      });
      const tokens = [];
      for (const file of [bare, suffixed]) {
        const model = await loadModel(file, { threads: 1, contextSize: 128 });
        try {
          tokens.push((await run(model, PROMPT)).tokens);
        } finally {
          model.dispose();
        }
      }
      assert.deepEqual(tokens[1], tokens[0]);
      const none = modelFile(arch, 'fh-none.gguf', (w) => { w.tensors = w.tensors.filter((t) => t.name !== 'blk.1.ffn_norm'); });
      await assert.rejects(loadModel(none, { threads: 1 }), (e) => e.code === 'ERR_MISSING_TENSOR' && /blk\.1\.ffn_norm\.weight/.test(e.message));
    });
  }

  test(`${arch} prefix reuse keeps the state only when nothing is taken back, and matches from-scratch runs`, async () => {
    const file = modelFile(arch, `${arch}-reuse.gguf`);
    const model = await loadModel(file, { threads: 2, contextSize: 256 });
    try {
      const base = model.tokenize(PROMPT);
      const n = base.length;
      const mid = Math.floor(n / 2);
      const edited = base.slice();
      edited[mid] = edited[mid] === 450 ? 451 : 450;
      const first = await run(model, base);
      const tail = model.tokenize(' And', { addBos: false });
      const steps = [
        // [name, prompt, tokens evaluated]
        // the cache holds the prompt and the generated tokens but the last: only that one and ' And' run
        ['the prompt, its continuation and more (extends the cache)', [...base, ...first.tokens, ...tail], tail.length + 1],
        ['a prompt 3 tokens shorter (from the start)', base.slice(0, n - 3), n - 3],
        ['an edit in the middle (from the start)', edited, edited.length],
        ['the same prompt again (its last token is taken back: from the start)', edited, edited.length],
      ];
      for (const [name, ids, evaluated] of steps) {
        const reused = await run(model, ids);
        const scratch = await completeFresh(assert, file, 256, ids, GREEDY);
        assert.deepEqual(reused.tokens, scratch.tokens, `${name}: reused vs from scratch`);
        assert.equal(reused.result.promptEvaluated, evaluated, `${name}: prompt tokens evaluated`);
      }
    } finally {
      model.dispose();
    }
  });
}

const bad = [
  { arch: 'mamba2', name: 'no ssm.state_size', code: 'ERR_MISSING_KEY', message: /mamba2\.ssm\.state_size/,
    edit: (w) => w.kv.delete('mamba2.ssm.state_size') },
  { arch: 'mamba2', name: 'a time_step_rank that does not divide inner_size', code: 'ERR_BAD_VALUE', message: /time_step_rank 3 must divide inner_size 128/,
    edit: (w) => w.addU32('mamba2.ssm.time_step_rank', 3) },
  { arch: 'mamba2', name: 'a state_size the tensors do not have', code: 'ERR_MISSING_TENSOR', message: /ssm_in\.weight has shape/,
    edit: (w) => w.addU32('mamba2.ssm.state_size', 8) },
  { arch: 'granitehybrid', name: 'head_count_kv as one number', code: 'ERR_BAD_VALUE', message: /granitehybrid\.attention\.head_count_kv must hold one value per layer/,
    edit: (w) => w.addU32('granitehybrid.attention.head_count_kv', 2) },
  { arch: 'falcon-h1', name: 'a group_count that does not divide the heads', code: 'ERR_BAD_VALUE', message: /multiple of group_count 3/,
    edit: (w) => w.addU32('falcon-h1.ssm.group_count', 3) },
  { arch: 'granitehybrid', name: 'no ssm.group_count', code: 'ERR_MISSING_KEY', message: /granitehybrid\.ssm\.group_count/,
    edit: (w) => w.kv.delete('granitehybrid.ssm.group_count') },
];

for (const c of bad) {
  test(`${c.arch} metadata: ${c.name} fails with ${c.code}`, async () => {
    const file = modelFile(c.arch, `bad-${c.arch}-${c.code}-${c.name.length}.gguf`, c.edit);
    await assert.rejects(loadModel(file, { threads: 1 }), (e) => {
      assert.equal(e.code, c.code, e.message);
      assert.match(e.message, c.message);
      return true;
    });
  });
}
