#!/usr/bin/env node
/**
 * KV cache bytes of a Gemma-3-1B-shaped model with sliding-window rings
 * against the same model keeping every position in every layer (issue 25:
 * report the bytes before/after at 4096 tokens). The cache's shape is
 * Gemma-3-1B's (26 layers, every 6th global, the others a 512-token window,
 * 1 K/V head of 256 dims); the rest is small (dim 256, FFN 768, Q8_0), since
 * the cache does not depend on it. "Before" is the same file with a window
 * as long as the context, so no layer's ring is shorter than the context,
 * which is what every layer kept before rings. Both are read from
 * model.memory().kvCacheBytes after a prompt, with the heap in use.
 *
 *   node bench/swa-kv.js [--ctx 4096] [--kv f16|q8_0]
 */
import path from 'node:path';
import { ensureSynthetic, VOCAB_LLAMA_SPM } from '../tests/parity/models.js';
import { loadModel } from '../web/node/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const ctx = Number(opt('ctx', 4096));
const kvType = opt('kv', 'f16');
const SHAPE = { layers: 26, dim: 256, heads: 4, kvHeads: 1, headDim: 256, ffn: 768 };

const rows = [];
for (const [label, window] of [['before (every position, every layer)', ctx], ['after (rings of the 512-token window)', 512]]) {
  const [file] = ensureSynthetic({ arch: 'gemma3', shape: 'tiny-gqa', type: 'Q8_0', seed: 1, vocab: VOCAB_LLAMA_SPM,
    overrides: { ...SHAPE, slidingWindow: window }, name: `gemma-3-1b-kv-w${window}` });
  const model = await loadModel(file, { threads: 1, contextSize: ctx, kvType });
  try {
    for await (const _ of model.complete('Once upon a time', { maxTokens: 4, temperature: 0 })) { /* fill some cache */ }
    const m = model.memory();
    rows.push({ label, file: path.basename(file), kvCacheBytes: m.kvCacheBytes, heapInUseBytes: m.heapInUseBytes });
    console.log(JSON.stringify({ ctx, kvType, ...rows.at(-1) }));
  } finally {
    model.dispose();
  }
}
console.log(`\n| Gemma-3-1B-shaped KV cache, ${ctx} tokens, ${kvType} | KV bytes | MiB | heap in use (MiB) |\n| --- | ---: | ---: | ---: |`);
for (const r of rows) {
  console.log(`| ${r.label} | ${r.kvCacheBytes} | ${(r.kvCacheBytes / 1048576).toFixed(1)} | ${(r.heapInUseBytes / 1048576).toFixed(1)} |`);
}
console.log(`\nafter / before: ${(rows[1].kvCacheBytes / rows[0].kvCacheBytes).toFixed(3)}`);
