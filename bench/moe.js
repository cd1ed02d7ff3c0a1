#!/usr/bin/env node
/**
 * Mixture-of-experts decode against a dense model of its active size, side
 * by side in one run: the Granite 3.0 1B-A400M shape (32 experts of 512
 * rows, 8 used per token) and a llama of the same attention whose one FFN
 * has 8 x 512 rows, so a decode step reads the same weights in both (bar
 * the 32-row router). A MoE step reads only its tokens' experts, so on a
 * memory-bound CPU it should run near the dense model's speed; the ratio
 * dense / MoE tokens per second is what this reports (issue 25: within 1.5x).
 *
 *   node bench/moe.js [--types Q4_0,Q8_0] [--threads 1,2] [--prompt 64] [--gen 64] [--repeat 3]
 *     [--runtimes wasmllm,llama.cpp]
 *
 * Each measurement is one child process of bench/run.js (the same timing
 * code as the main benchmark); MoE and dense runs alternate, and each keeps
 * its best of `repeat`. Output: one JSON line per runtime, type and thread
 * count, then a Markdown table.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSynthetic, VOCAB_LLAMA_SPM } from '../tests/parity/models.js';
import { SHAPES } from '../tools/make-synthetic.js';
import { benchPrompt, parseBenchArgs } from './models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MOE = 'granite-moe-1b-a400m';
const DENSE = 'granite-moe-1b-a400m-dense';

function measure(spec) {
  const res = spawnSync(process.execPath, [path.join(here, 'run.js'), '--child', JSON.stringify(spec)], {
    cwd: path.resolve(here, '..'), encoding: 'utf8', maxBuffer: 1 << 24, timeout: 15 * 60 * 1000,
  });
  const line = res.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (res.status !== 0 || !line) throw new Error(`bench/moe: ${spec.runtime} ${path.basename(spec.file)} failed: ${(res.stderr || '').slice(-300)}`);
  return JSON.parse(line);
}

const opts = { types: ['Q4_0', 'Q8_0'], threads: [1, 2], prompt: 64, gen: 64, repeat: 3, runtimes: ['wasmllm', 'llama.cpp'],
  ...parseBenchArgs(process.argv.slice(2), 'bench/moe') };
// Both shapes take llama-spm's 32000 tokens: the output projection is the same work in both.
const prompt = benchPrompt('smollm2-135m', opts.prompt);
const rows = [];
for (const type of opts.types) {
  const file = (shape) => ensureSynthetic({ vocab: VOCAB_LLAMA_SPM, arch: SHAPES[shape].arch, shape, type, seed: 1 })[0];
  const files = { moe: file(MOE), dense: file(DENSE) };
  for (const runtime of opts.runtimes) {
    for (const threads of opts.threads) {
      const best = { moe: null, dense: null };
      for (let r = 0; r < opts.repeat; r++) {
        for (const which of ['moe', 'dense']) {
          const m = measure({ runtime, file: files[which], threads, prompt, gen: opts.gen });
          if (!best[which] || m.tg > best[which].tg) best[which] = m;
        }
      }
      const row = {
        runtime, type, threads, moe_tg_tok_s: +best.moe.tg.toFixed(2), dense_tg_tok_s: +best.dense.tg.toFixed(2),
        dense_over_moe: +(best.dense.tg / best.moe.tg).toFixed(2),
        moe_pp_tok_s: +best.moe.pp.toFixed(1), dense_pp_tok_s: +best.dense.pp.toFixed(1),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
}
console.log(`\n| runtime | type | threads | MoE decode tok/s | dense decode tok/s | dense / MoE | MoE prompt tok/s | dense prompt tok/s |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.runtime} | ${r.type} | ${r.threads} | ${r.moe_tg_tok_s} | ${r.dense_tg_tok_s} | ${r.dense_over_moe} | ${r.moe_pp_tok_s} | ${r.dense_pp_tok_s} |`);
}
