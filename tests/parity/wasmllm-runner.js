/**
 * The runtime-under-test side of the parity tests: wasmllm's public API
 * (web/node/index.js) under Node, greedy, from raw token ids.
 */
import { performance } from 'node:perf_hooks';

let apiPromise = null;

/** web/node/index.js, imported lazily so a missing runtime fails only the tests that use it. */
export function wasmllm() {
  apiPromise ??= import('../../web/node/index.js');
  return apiPromise;
}

/**
 * Greedy continuation with wasmllm.
 * @param {string[]} files the GGUF (or its shards in order)
 * @param {{ promptTokens: number[], promptText?: string, nPredict?: number, threads?: number, contextSize?: number,
 *   kvType?: 'f16' | 'q8_0' }} options
 * @returns {Promise<{ tokens: number[], textTokens?: number[], loadMs: number, genMs: number,
 *   timings: object, promptEvaluated: number }>}
 *   textTokens: wasmllm's own tokenization of promptText (BOS as the model asks), when given.
 */
export async function greedyWasmllm(files, options) {
  const { loadModel } = await wasmllm();
  const { promptTokens, promptText, nPredict = 64, threads = 1, contextSize = 512, kvType } = options;
  const t0 = performance.now();
  const model = await loadModel(files.length === 1 ? files[0] : files, { threads, contextSize, kvType });
  const loadMs = performance.now() - t0;
  try {
    const textTokens = promptText === undefined ? undefined : model.tokenize(promptText);
    const t1 = performance.now();
    const tokens = [];
    const it = model.complete(promptTokens, { maxTokens: nPredict, temperature: 0, repeatPenalty: 1, seed: 0 });
    for await (const { token } of it) if (token >= 0) tokens.push(token);
    const genMs = performance.now() - t1;
    const last = model.lastCompletion;
    return { tokens, textTokens, loadMs, genMs, timings: last?.timings ?? {}, promptEvaluated: last?.promptEvaluated ?? 0 };
  } finally {
    model.dispose();
  }
}

/**
 * Teacher-forced agreement: at each position i, wasmllm's greedy pick after
 * the prompt plus the reference's first i tokens. Unlike free-running
 * decoding, one near-tie does not derail every later position, so this
 * counts how often the two runtimes' logits rank the same token first.
 * @param {string[]} files
 * @param {{ promptTokens: number[], refTokens: number[], threads?: number, contextSize?: number,
 *   kvType?: 'f16' | 'q8_0' }} options
 * @returns {Promise<number[]>} wasmllm's pick at each position
 */
export async function teacherForcedWasmllm(files, options) {
  const { loadModel } = await wasmllm();
  const { promptTokens, refTokens, threads = 1, contextSize = 512, kvType } = options;
  const model = await loadModel(files.length === 1 ? files[0] : files, { threads, contextSize, kvType });
  try {
    const picks = [];
    for (let i = 0; i < refTokens.length; i++) {
      // complete() keeps the shared prefix in the KV cache, so each step decodes one token.
      const ids = [...promptTokens, ...refTokens.slice(0, i)];
      let pick = -1;
      for await (const { token } of model.complete(ids, { maxTokens: 1, temperature: 0, repeatPenalty: 1, seed: 0 })) if (token >= 0) pick = token;
      picks.push(pick);
    }
    return picks;
  } finally {
    model.dispose();
  }
}
