// Mixture-of-experts models end to end: the same greedy tokens from the JS API,
// the CLI and the OpenAI-compatible server, a prompt decoded in one go or token
// by token (experts grouped per chunk vs one token at a time), and bad MoE
// metadata failing with a code that names the key. Parity with llama.cpp is in
// tests/parity/{qwen3moe,olmoe,granitemoe,smallthinker}.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { buildSynthetic } from '../../tools/make-synthetic.js';
import { loadModel } from '../../web/node/index.js';
import { tempDir, runCli, serverCompletionText, VOCAB_SPM } from './runtime-fixtures.js';

/** A 2-layer qwen3moe of width 64: 8 experts of 64 rows, 2 used per token. */
const MOE = { arch: 'qwen3moe', shape: 'tiny-gqa', type: 'Q8_0', layers: 2, seed: 7, vocab: VOCAB_SPM,
  overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, ctx: 512, ffnExp: 64 } };

/** Writes a synthetic model (after `edit` changes its writer) and returns the path. */
function moeFile(name, options = MOE, edit = () => {}) {
  const { writer } = buildSynthetic(options);
  edit(writer);
  const file = path.join(tempDir(), name);
  writer.write(file);
  return file;
}

const PROMPT = 'Once upon a time, there was a little';

test('a MoE model gives the same greedy tokens from the API, the CLI and the server', async () => {
  const file = moeFile('moe.gguf');
  const model = await loadModel(file, { threads: 2, contextSize: 256 });
  try {
    assert.equal(model.info().architecture, 'qwen3moe');
    const api = [];
    let text = '';
    for await (const t of model.complete(PROMPT, { maxTokens: 12, temperature: 0, repeatPenalty: 1 })) {
      if (t.token >= 0) api.push(t.token);
      text += t.text;
    }
    assert.equal(api.length, 12);
    assert.ok(new Set(api).size > 2, `a degenerate continuation: ${api}`);

    const cli = await runCli(['complete', '-m', file, '-p', PROMPT, '-n', '12', '--temperature', '0', '--repeat-penalty', '1', '-t', '1', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout).tokens, api, 'CLI at 1 thread vs API at 2');

    assert.equal(await serverCompletionText(model, 'moe', PROMPT, 12), text);
  } finally {
    model.dispose();
  }
});

test('a MoE prompt decoded in one go (tokens grouped by expert) and token by token picks the same tokens', async () => {
  const file = moeFile('moe-steps.gguf');
  const model = await loadModel(file, { threads: 2, contextSize: 256 });
  try {
    const ids = model.tokenize(`${PROMPT} girl who lived in a village near the forest.`);
    const whole = [];
    for await (const { token } of model.complete(ids, { maxTokens: 8, temperature: 0, repeatPenalty: 1 })) whole.push(token);
    // Each step below decodes one new token after the cached prefix.
    const stepped = [];
    for (let n = 1; n <= ids.length; n++) {
      for await (const { token } of model.complete(ids.slice(0, n), { maxTokens: 1, temperature: 0, repeatPenalty: 1 })) {
        if (n === ids.length) stepped.push(token);
      }
    }
    assert.equal(stepped[0], whole[0]);
  } finally {
    model.dispose();
  }
});

const bad = [
  { name: 'expert_used_count above expert_count', code: 'ERR_BAD_VALUE', message: /qwen3moe\.expert_used_count = 9/,
    edit: (w) => w.addU32('qwen3moe.expert_used_count', 9) },
  { name: 'no expert_count', code: 'ERR_MISSING_KEY', message: /qwen3moe\.expert_count/,
    edit: (w) => w.kv.delete('qwen3moe.expert_count') },
  { name: 'an expert_count the tensors do not have', code: 'ERR_MISSING_TENSOR', message: /ffn_gate_inp\.weight has shape/,
    edit: (w) => w.addU32('qwen3moe.expert_count', 7) },
  { name: 'smallthinker without expert_gating_func', code: 'ERR_MISSING_KEY', message: /smallthinker\.expert_gating_func/,
    options: { ...MOE, arch: 'smallthinker' }, edit: (w) => w.kv.delete('smallthinker.expert_gating_func') },
  { name: 'smallthinker with a gating function we do not run', code: 'ERR_BAD_VALUE', message: /smallthinker\.expert_gating_func = 4/,
    options: { ...MOE, arch: 'smallthinker' }, edit: (w) => w.addU32('smallthinker.expert_gating_func', 4) },
];

for (const c of bad) {
  test(`MoE metadata: ${c.name} fails with ${c.code}`, async () => {
    const file = moeFile(`bad-${c.code}-${c.name.length}.gguf`, c.options, c.edit);
    await assert.rejects(loadModel(file, { threads: 1 }), (e) => {
      assert.equal(e.code, c.code, e.message);
      assert.match(e.message, c.message);
      return true;
    });
  });
}
