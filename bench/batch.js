#!/usr/bin/env node
/**
 * Aggregate decode throughput of N sequences decoding together
 * (wl_decode_batch: one pass over the weights per step for all of them)
 * against the same N sequences each decoding alone in turn (wl_decode, one
 * pass per token per sequence, as the server's slots do today), side by side
 * in one process on one wasm instance. Decode reads every weight once per
 * step, so a batch step should cost little more than one sequence's.
 *
 *   node bench/batch.js [--shape smollm2-135m] [--type Q4_0] [--seqs 1,2,4,8] [--gen 32] [--prompt 16]
 *     [--threads 1] [--repeat 3]
 *
 * Output: one JSON line per N, then a Markdown table. Tokens/s counts every
 * sequence's tokens; each mode keeps the best of `repeat` runs, alternating.
 */
import fs from 'node:fs';
import { ensureSynthetic, VOCAB_LLAMA_SPM } from '../tests/parity/models.js';
import { loadWasm } from '../web/wasm-loader.js';
import { loadNodeBuild } from '../web/node/wasm-build.js';
import { SHAPES } from '../tools/make-synthetic.js';

function parseArgs(argv) {
  const o = { shape: 'smollm2-135m', type: 'Q4_0', seqs: [1, 2, 4, 8], gen: 32, prompt: 16, threads: 1, repeat: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (!(key in o) || v === undefined) throw new Error(`bench/batch: unknown or valueless option ${argv[i]}`);
    o[key] = key === 'seqs' ? v.split(',').map(Number) : typeof o[key] === 'number' ? Number(v) : v;
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const file = ensureSynthetic({ vocab: VOCAB_LLAMA_SPM, arch: SHAPES[opts.shape].arch, shape: opts.shape, type: opts.type, seed: 1 })[0];
const wasm = await loadWasm({ threads: opts.threads, sessions: Math.max(...opts.seqs) * 2, loadBuild: loadNodeBuild });
const M = wasm.module;
const err = M._wl_error_new();
const check = (ok, what) => {
  if (!ok) throw new Error(`bench/batch: ${what}: ${M.UTF8ToString(M._wl_error_message(err))}`);
};

const bytes = fs.readFileSync(file);
const shard = M._wl_alloc(bytes.length) >>> 0;
wasm.heapU8().set(bytes, shard);
const table = M._wl_alloc(16) >>> 0;
new Uint32Array(wasm.heapU8().buffer, table, 1)[0] = shard;
new Float64Array(wasm.heapU8().buffer, table + 8, 1)[0] = bytes.length;
const wlFile = M._wl_file_open(table, table + 8, 1, 0, err);
check(wlFile, 'open');
const model = M._wl_model_load(wlFile, err);
check(model, 'load');
M._wl_model_prepare(model);
const nVocab = M._wl_model_n_vocab(model);
const nCtx = opts.prompt + opts.gen + 8;

const maxSeqs = Math.max(...opts.seqs);
const ctxs = [];
for (let i = 0; i < maxSeqs; i++) {
  const c = M._wl_context_new(model, nCtx, opts.threads, 1, err);
  check(c, 'context');
  ctxs.push(c);
}
const buf = M._wl_alloc(4 * (opts.prompt * maxSeqs + 3 * maxSeqs)) >>> 0;
const i32 = (ptr, n) => new Int32Array(wasm.heapU8().buffer, ptr, n);
const counts = buf + 4 * opts.prompt * maxSeqs;
const ctxTable = counts + 4 * maxSeqs;

function argmax(ctx) {
  const p = M._wl_context_logits(ctx) >>> 0;
  const l = new Float32Array(wasm.heapU8().buffer, p, nVocab);
  let best = 0;
  for (let i = 1; i < nVocab; i++) if (l[i] > l[best]) best = i;
  return best;
}

/** Prompts n sequences (a different prompt each), then times `gen` greedy steps of all of them. */
function run(n, batched) {
  const next = [];
  for (let s = 0; s < n; s++) {
    M._wl_context_truncate(ctxs[s], 0);
    const ids = Array.from({ length: opts.prompt }, (_, i) => 1 + ((s * 977 + i * 131) % (nVocab - 1)));
    i32(buf, ids.length).set(ids);
    check(M._wl_decode(ctxs[s], buf, ids.length, err) === 0, 'prompt');
    next.push(argmax(ctxs[s]));
  }
  i32(ctxTable, n).set(ctxs.slice(0, n));
  i32(counts, n).fill(1);
  const t0 = performance.now();
  for (let g = 0; g < opts.gen; g++) {
    if (batched) {
      i32(buf, n).set(next);
      check(M._wl_decode_batch(ctxTable, buf, counts, n, err) === 0, 'decode_batch');
    } else {
      for (let s = 0; s < n; s++) {
        i32(buf, 1)[0] = next[s];
        check(M._wl_decode(ctxs[s], buf, 1, err) === 0, 'decode');
      }
    }
    for (let s = 0; s < n; s++) next[s] = argmax(ctxs[s]);
  }
  return { tokS: (n * opts.gen * 1000) / (performance.now() - t0), last: next.slice() };
}

// Warm-up: the first calls run in V8's baseline wasm tier, which would slow whichever N came first.
run(maxSeqs, false);
run(maxSeqs, true);
const rows = [];
let oneAlone = 0;
for (const n of opts.seqs) {
  let turns = null, batch = null;
  for (let r = 0; r < opts.repeat; r++) {
    const a = run(n, false), b = run(n, true);
    if (a.last.join() !== b.last.join()) throw new Error(`bench/batch: ${n} sequences: batched greedy tokens differ`);
    if (!turns || a.tokS > turns.tokS) turns = a;
    if (!batch || b.tokS > batch.tokS) batch = b;
  }
  if (n === 1) oneAlone = turns.tokS;
  const row = {
    shape: opts.shape, type: opts.type, threads: opts.threads, seqs: n,
    turns_tok_s: +turns.tokS.toFixed(1), batch_tok_s: +batch.tokS.toFixed(1),
    batch_over_turns: +(batch.tokS / turns.tokS).toFixed(2),
    batch_over_one: oneAlone ? +(batch.tokS / oneAlone).toFixed(2) : null,
  };
  console.log(JSON.stringify(row));
  rows.push(row);
}
console.log('\n| seqs | alone in turns tok/s | batched tok/s | batched / turns | batched / one sequence |');
console.log('|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.seqs} | ${r.turns_tok_s} | ${r.batch_tok_s} | ${r.batch_over_turns} | ${r.batch_over_one ?? ''} |`);
wasm.terminate();
