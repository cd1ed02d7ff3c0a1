/**
 * One architecture's parity tests against llama.cpp, on a tiny synthetic
 * model of that architecture (tiny-gqa dims: 4 layers, 8 heads, 2 KV heads,
 * plus the architecture's own features: biases, q/k norms, post-norms,
 * soft-capping, sliding windows, fused matrices, NoPE layers, multipliers).
 *
 * Teacher-forced comparison (wasmllm's pick after the prompt plus llama.cpp's
 * first i tokens), so one near-tie does not decide the whole run:
 * - F32: every position identical, except where llama.cpp's own top-1/top-2
 *   logit gap is below NEAR_TIE (reported, not counted);
 * - Q8_0: at least 60 of 64 identical.
 * The free-running continuation is reported too. With `allThreads`, both
 * comparisons run at 1 and at 2 threads, and an F32 free-running
 * continuation must be identical as well unless it first parts at one of
 * llama.cpp's near-ties. Teacher-forcing reuses the cached prefix at every
 * step (complete() keeps the shared prompt), so it covers prefix reuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { greedyReference, compareTokens } from './oracle.js';
import { ensureSynthetic, corpusPrompt, SHARED } from './models.js';
import { greedyWasmllm, teacherForcedWasmllm } from './wasmllm-runner.js';

const N_PREDICT = 64;
const NEAR_TIE = 0.05;
const PROMPTS = [
  { name: 'short', text: 'Once upon a time, there was a little' },
  { name: 'long', text: corpusPrompt(700) }, // ~225 tokens: past sliding windows of 32 and prompt batches
];

/**
 * @param {{ arch: string, vocab?: string, seed?: number, types?: string[], allThreads?: boolean,
 *   overrides?: object, name?: string, dequantized?: boolean }} spec  overrides: config values for make-synthetic
 *   (a variant, named by `name`); dequantized: each type's weights written as the F32 values they decode to,
 *   held to the F32 bar (the weights' path exact, apart from the activations' rounding)
 */
export function defineArchParity(spec) {
  const { arch, seed = 9, types = ['F32', 'Q8_0'], allThreads = false, overrides, name } = spec;
  const variant = name ? ` ${name}` : '';
  const vocab = path.join(SHARED, 'data', 'vocab', spec.vocab ?? 'ggml-vocab-llama-spm.gguf');
  for (const type of types) {
    test(`${arch}${variant} (tiny synthetic, ${type}): wasmllm matches llama.cpp token by token`, async (t) => {
      const files = ensureSynthetic({ arch, shape: 'tiny-gqa', type, seed, vocab, ...(overrides ? { overrides, name } : {}),
        ...(spec.dequantized ? { dequantized: true, name: name ?? 'dequantized' } : {}) });
      const strict = type === 'F32' || spec.dequantized;
      for (const prompt of PROMPTS) {
        const label = `${arch}${variant} ${type}/${prompt.name}`;
        const ref = await greedyReference(files, { prompt: prompt.text, nPredict: N_PREDICT });
        assert.equal(ref.tokens.length, N_PREDICT, `${label}: llama.cpp stopped early`);
        assert.ok(new Set(ref.tokens).size >= 16, `${label}: the reference continuation is degenerate`);
        t.diagnostic(`${label}: llama.cpp ${ref.cached ? 'cached' : `${ref.ms} ms`}, ${ref.promptTokens.length} prompt tokens`);

        for (const threads of allThreads ? [1, 2] : [null]) {
          const at = threads ? ` threads=${threads}` : '';
          const free = await greedyWasmllm(files, { promptTokens: ref.promptTokens, promptText: prompt.text, nPredict: N_PREDICT, threads: threads ?? 2 });
          assert.deepEqual(free.textTokens, ref.promptTokens, `${label}: wasmllm tokenizes the prompt differently`);
          const freeCmp = compareTokens(ref, free.tokens);
          t.diagnostic(`${label}${at}: free-running ${freeCmp.report}`);
          if (threads && strict && freeCmp.diffs.length > 0) {
            assert.ok(freeCmp.diffs[0].gap < NEAR_TIE, `${label}${at}, free-running: ${freeCmp.report}`);
          }

          const picks = await teacherForcedWasmllm(files, { promptTokens: ref.promptTokens, refTokens: ref.tokens, threads: threads ?? 1 });
          const forced = compareTokens(ref, picks);
          t.diagnostic(`${label}${at}: teacher-forced ${forced.report}`);
          if (strict) {
            const real = forced.diffs.filter((d) => !(d.gap < NEAR_TIE));
            assert.equal(real.length, 0, `${label}${at}, teacher-forced: ${forced.report}`);
          } else {
            assert.ok(forced.same >= 60, `${label}${at}, teacher-forced: ${forced.report}`);
          }
        }
      }
    });
  }
}
