// Parity of wasmllm's Q8_0 KV cache (loadModel kvType 'q8_0') with
// llama.cpp's (node-llama-cpp 3.21.1: experimentalKvCacheKeyType/ValueType
// 'Q8_0', flash attention on, as --cache-type-k q8_0 --cache-type-v q8_0
// --flash-attn). Both quantize the same K and V rows into Q8_0 blocks and
// attend over them the same way (q to Q8_0 for the K dot, V dequantized
// into an f32 sum), so the bar is the one the f16 cache meets
// (tests/parity/llama.test.js): float weights give the same 64 tokens
// free-running; Q8_0 weights agree on at least 60 of 64 positions
// teacher-forced. The trained embedded model must match exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { greedyReference, compareTokens } from './oracle.js';
import { ensureSynthetic, corpusPrompt } from './models.js';
import { greedyWasmllm, teacherForcedWasmllm } from './wasmllm-runner.js';

const EMBEDDED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/shakespeare.gguf');
const SEED = 9; // the seed llama.test.js checked for near-ties
const N_PREDICT = 64;
const LONG = corpusPrompt(700); // 225 tokens: several of wasmllm's prompt batches

/** wasmllm and llama.cpp, both with a q8_0 cache: the free-running comparison (and teacher-forced when `minForced`). */
async function compareQ8(t, files, prompt, contextSize, minForced) {
  const ref = await greedyReference(files, { prompt, nPredict: N_PREDICT, contextSize, kvType: 'q8_0' });
  assert.equal(ref.tokens.length, N_PREDICT, 'llama.cpp stopped early');
  const run = await greedyWasmllm(files, { promptTokens: ref.promptTokens, nPredict: N_PREDICT, contextSize, kvType: 'q8_0' });
  const cmp = compareTokens(ref, run.tokens);
  t.diagnostic(`free-running: ${cmp.report}`);
  if (minForced === undefined) {
    assert.equal(cmp.same, N_PREDICT, cmp.report);
    return;
  }
  const picks = await teacherForcedWasmllm(files, { promptTokens: ref.promptTokens, refTokens: ref.tokens, contextSize, kvType: 'q8_0' });
  const forced = compareTokens(ref, picks);
  t.diagnostic(`teacher-forced: ${forced.report}`);
  assert.ok(forced.same >= minForced, forced.report);
}

test('q8_0 KV cache, llama tiny-gqa F32: the same 64 greedy tokens as llama.cpp', async (t) => {
  const files = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'F32', seed: SEED });
  await compareQ8(t, files, LONG, 1024);
});

test('q8_0 KV cache, llama tiny-gqa Q8_0: >= 60/64 teacher-forced agreement with llama.cpp', async (t) => {
  const files = ensureSynthetic({ arch: 'llama', shape: 'tiny-gqa', type: 'Q8_0', seed: SEED });
  await compareQ8(t, files, LONG, 1024, 60);
});

test('q8_0 KV cache, models/shakespeare.gguf: the same 64 greedy tokens as llama.cpp', async (t) => {
  await compareQ8(t, [EMBEDDED], 'ROMEO:', 512);
  await compareQ8(t, [EMBEDDED], LONG, 512);
});
