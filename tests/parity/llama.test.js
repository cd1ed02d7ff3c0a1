// Parity of wasmllm with llama.cpp (node-llama-cpp 3.21.1) on synthetic
// Llama models: 4 layers, GQA (8 heads, 2 KV heads), F32/F16/Q8_0/Q4_0.
// Same file, same prompt tokens, greedy. Float types must produce the same
// 64-token continuation. Quantized types must agree on at least 60 of 64
// positions *teacher-forced* (wasmllm's pick after the prompt plus
// llama.cpp's first i tokens): free-running, one flipped near-tie changes
// every later token, so a position count only means something with the
// history held equal. The free-running comparison is reported as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { greedyReference, compareTokens } from './oracle.js';
import { ensureSynthetic, corpusPrompt } from './models.js';
import { greedyWasmllm, teacherForcedWasmllm } from './wasmllm-runner.js';

const SEED = 9; // a seed whose reference runs have no near-ties (checked below)
const N_PREDICT = 64;
const PROMPTS = [
  { name: 'short', text: 'Once upon a time, there was a little' },
  // 225 tokens: crosses wasmllm's 128-token prompt batches and llama.cpp's ubatch.
  { name: 'long', text: corpusPrompt(700) },
];
const MIN_SAME = { F32: 64, F16: 64, Q8_0: 60, Q4_0: 60 };

/**
 * A fixture is only meaningful if greedy choices are clear: near-ties would
 * make exact agreement a coin toss, and a looping model would hide bugs.
 */
function assertDecisive(ref, label, exact) {
  assert.equal(ref.tokens.length, N_PREDICT, `${label}: llama.cpp stopped early`);
  assert.ok(new Set(ref.tokens).size >= N_PREDICT / 2, `${label}: reference continuation is degenerate`);
  if (exact) {
    const minGap = Math.min(...ref.gaps);
    assert.ok(minGap > 0.03, `${label}: reference has a near-tie (gap ${minGap}); pick another seed`);
  }
}

for (const type of ['F32', 'F16', 'Q8_0', 'Q4_0']) {
  test(`llama tiny-gqa ${type}: wasmllm greedy tokens match llama.cpp (1 and 2 threads)`, async (t) => {
    const files = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type, seed: SEED });
    for (const prompt of PROMPTS) {
      const ref = await greedyReference(files, { prompt: prompt.text, nPredict: N_PREDICT });
      const label = `${type}/${prompt.name}`;
      assertDecisive(ref, label, MIN_SAME[type] === N_PREDICT);
      t.diagnostic(`${label}: llama.cpp ${ref.cached ? 'cached' : `${ref.ms} ms`}, ${ref.promptTokens.length} prompt tokens`);
      for (const threads of [1, 2]) {
        const run = await greedyWasmllm(files, { promptTokens: ref.promptTokens, promptText: prompt.text, nPredict: N_PREDICT, threads });
        assert.deepEqual(run.textTokens, ref.promptTokens, `${label}: wasmllm tokenizes the prompt differently`);
        const cmp = compareTokens(ref, run.tokens);
        t.diagnostic(`${label} threads=${threads}: free-running ${cmp.report}; wasmllm load ${run.loadMs.toFixed(0)} ms, generate ${run.genMs.toFixed(0)} ms`);
        if (MIN_SAME[type] === N_PREDICT) {
          assert.equal(cmp.same, N_PREDICT, `${label} threads=${threads}: ${cmp.report}`);
        } else {
          const picks = await teacherForcedWasmllm(files, { promptTokens: ref.promptTokens, refTokens: ref.tokens, threads });
          const forced = compareTokens(ref, picks);
          t.diagnostic(`${label} threads=${threads}: teacher-forced ${forced.report}`);
          assert.ok(forced.same >= MIN_SAME[type], `${label} threads=${threads}, teacher-forced: ${forced.report}`);
        }
      }
    }
  });
}

test('llama tiny-gqa Q8_0 split into 3 gguf-split shards: wasmllm on the shards matches llama.cpp', async (t) => {
  const files = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'Q8_0', seed: SEED, split: 3 });
  assert.equal(files.length, 3);
  const ref = await greedyReference(files, { prompt: PROMPTS[0].text, nPredict: N_PREDICT });
  const whole = await greedyReference(ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'Q8_0', seed: SEED }), { prompt: PROMPTS[0].text, nPredict: N_PREDICT });
  assert.deepEqual(ref.tokens, whole.tokens, 'llama.cpp reads the shards as the same model');
  const picks = await teacherForcedWasmllm(files, { promptTokens: ref.promptTokens, refTokens: ref.tokens, threads: 2 });
  const cmp = compareTokens(ref, picks);
  t.diagnostic(`split, teacher-forced: ${cmp.report}`);
  assert.ok(cmp.same >= 60, cmp.report);
});

// The fixture must be able to catch a wrong RoPE: the same weights with a
// different rope.freq_base have to change llama.cpp's own continuation far
// beyond the tolerance. (A runtime that ignored freq_base, or rotated with
// the wrong frequencies, would fail the tests above the same way.)
test('the parity fixture is sensitive to RoPE: changing rope.freq_base breaks the comparison', async (t) => {
  const base = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'F32', seed: SEED });
  const skewed = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'F32', seed: SEED, ropeBase: 500 });
  for (const prompt of PROMPTS) {
    const a = await greedyReference(base, { prompt: prompt.text, nPredict: N_PREDICT });
    const b = await greedyReference(skewed, { prompt: prompt.text, nPredict: N_PREDICT });
    const cmp = compareTokens(a, b.tokens, ['freq_base 10000', 'freq_base 500']);
    t.diagnostic(`${prompt.name}, freq_base 10000 vs 500: ${cmp.report}`);
    assert.ok(cmp.same < 60, `freq_base barely matters for the ${prompt.name} prompt: ${cmp.report}`);
  }
});

// Llama 3.x checkpoints carry their rope scaling as a rope_freqs.weight tensor
// (per-frequency divisors); a runtime that ignores it drifts at every position.
test('llama tiny-gqa with llama3 rope scaling (rope_freqs.weight, F32): wasmllm matches llama.cpp', async (t) => {
  const llama3Rope = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalCtx: 64 };
  const files = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'F32', seed: SEED, ropeBase: 500000, overrides: { llama3Rope } });
  const plain = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'F32', seed: SEED, ropeBase: 500000 });
  const prompt = PROMPTS[1];
  const ref = await greedyReference(files, { prompt: prompt.text, nPredict: N_PREDICT });
  const refPlain = await greedyReference(plain, { prompt: prompt.text, nPredict: N_PREDICT });
  // With an original context of 64 the long prompt reaches the scaled frequencies, so the factors matter.
  assert.ok(compareTokens(refPlain, ref.tokens).same < 60, 'rope_freqs changes llama.cpp\'s continuation');
  const picks = await teacherForcedWasmllm(files, { promptTokens: ref.promptTokens, refTokens: ref.tokens });
  const cmp = compareTokens(ref, picks);
  t.diagnostic(`llama3 rope, teacher-forced: ${cmp.report}`);
  assert.equal(cmp.diffs.filter((d) => !(d.gap < 0.05)).length, 0, cmp.report);
});
