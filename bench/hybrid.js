#!/usr/bin/env node
/**
 * Hybrid decode cost against context length, side by side in one run: the
 * LFM2-350M shape (10 short-convolution + 6 attention layers), the same
 * with convolutions only, and a llama of the same size with attention only;
 * likewise a Granite-4.0-H-350M-like shape (28 Mamba-2 + 4 attention
 * layers), its Mamba-2-only twin and a llama of its size. A Mamba-2 step
 * reads a fixed state (d_conv - 1 rows and n_head x head_dim x d_state).
 * Each decodes `gen` tokens after a short and after a long prompt; a
 * convolution layer's step reads a fixed window (l_cache - 1 rows), so the
 * conv-only model should decode as fast at the long context as at the
 * short one, and attention layers are what slows the others (issue 25:
 * hybrids' decode cost flat in context length for their recurrent layers).
 *
 *   node bench/hybrid.js [--family lfm2,granitehybrid] [--types Q8_0] [--threads 1] [--short 64] [--long 1024]
 *     [--gen 32] [--repeat 2]
 *
 * Each measurement is one child process of bench/run.js, best of `repeat`.
 * Output: one JSON line per model, type and thread count, then a Markdown table.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSynthetic, VOCAB_LLAMA_SPM } from '../tests/parity/models.js';
import { SHAPES } from '../tools/make-synthetic.js';
import { benchPrompt, parseBenchArgs } from './models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FAMILIES = {
  lfm2: ['lfm2-350m', 'lfm2-350m-conv', 'lfm2-350m-llama'],
  granitehybrid: ['granite-4.0-h-350m', 'granite-4.0-h-350m-ssm', 'granite-4.0-h-350m-llama'],
};

function measure(spec) {
  const res = spawnSync(process.execPath, [path.join(here, 'run.js'), '--child', JSON.stringify(spec)], {
    cwd: path.resolve(here, '..'), encoding: 'utf8', maxBuffer: 1 << 24, timeout: 15 * 60 * 1000,
  });
  const line = res.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (res.status !== 0 || !line) throw new Error(`bench/hybrid: ${path.basename(spec.file)} failed: ${(res.stderr || '').slice(-300)}`);
  return JSON.parse(line);
}

const opts = { types: ['Q8_0'], threads: [1], short: 64, long: 1024, gen: 32, repeat: 2, family: 'lfm2,granitehybrid',
  ...parseBenchArgs(process.argv.slice(2), 'bench/hybrid', { short: Number, long: Number, family: String }) };
const MODELS = opts.family.split(',').flatMap((f) => {
  if (!FAMILIES[f]) throw new Error(`bench/hybrid: unknown --family ${f} (have ${Object.keys(FAMILIES).join(', ')})`);
  return FAMILIES[f];
});
const rows = [];
for (const type of opts.types) {
  for (const threads of opts.threads) {
    for (const shape of MODELS) {
      const file = ensureSynthetic({ vocab: VOCAB_LLAMA_SPM, arch: SHAPES[shape].arch, shape, type, seed: 1 })[0];
      const best = { short: 0, long: 0 };
      for (let r = 0; r < opts.repeat; r++) {
        for (const ctx of ['short', 'long']) {
          const m = measure({ runtime: 'wasmllm', file, threads, prompt: benchPrompt('smollm2-135m', opts[ctx]), gen: opts.gen });
          best[ctx] = Math.max(best[ctx], m.tg);
        }
      }
      const row = { model: shape, type, threads, [`tg_tok_s_at_${opts.short}`]: +best.short.toFixed(2),
        [`tg_tok_s_at_${opts.long}`]: +best.long.toFixed(2), long_over_short: +(best.long / best.short).toFixed(3) };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
}
console.log(`\n| model | type | threads | decode tok/s after ${opts.short} | after ${opts.long} | long / short |`);
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.model} | ${r.type} | ${r.threads} | ${r[`tg_tok_s_at_${opts.short}`]} | ${r[`tg_tok_s_at_${opts.long}`]} | ${r.long_over_short} |`);
}
