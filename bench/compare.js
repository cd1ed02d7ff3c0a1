#!/usr/bin/env node
/**
 * Side-by-side table of saved bench/run.js JSON lines: for each file and thread
 * count, every runtime's prompt and decode tokens per second and its ratio to a
 * base runtime. Used for the llama.cpp-wasm comparison and the 16-core scaling
 * table in docs/BENCHMARKS.md.
 *
 *   node bench/compare.js RESULTS.jsonl [...more] --base llama-bench
 *
 * A column is a runtime (wasmllm and wasmllm-relaxed are the two wasm builds).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { base: { type: 'string' } }, allowPositionals: true, strict: true });
if (!positionals.length || !values.base) {
  console.error('usage: node bench/compare.js RESULTS.jsonl [...] --base RUNTIME');
  process.exit(2);
}
const rows = positionals.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)))
  .filter((r) => r.runtime && r.model);
const runtimes = [...new Set(rows.map((r) => r.runtime))].filter((r) => r !== values.base);
const cells = [...new Set(rows.map((r) => `${r.model}|${r.type}|${r.threads}`))];
const find = (cell, runtime) => rows.findLast((r) => `${r.model}|${r.type}|${r.threads}` === cell && r.runtime === runtime);
const num = (v) => (v == null ? 'n/a' : v.toFixed(1));
const ratio = (a, b) => (a != null && b ? (a / b).toFixed(2) : 'n/a');

for (const [field, label] of [['pp_tok_s', 'prompt'], ['tg_tok_s', 'decode']]) {
  console.log(`\n${label}, tokens/s (ratio to ${values.base})\n`);
  console.log(`| model | type | threads | ${values.base} | ${runtimes.map((r) => `${r} | / ${values.base}`).join(' | ')} |`);
  console.log(`| --- | --- | ---: | ---: | ${runtimes.map(() => '---: | ---:').join(' | ')} |`);
  for (const cell of cells) {
    const [model, type, threads] = cell.split('|');
    const base = find(cell, values.base)?.[field];
    const cols = runtimes.map((r) => { const v = find(cell, r)?.[field]; return `${num(v)} | ${ratio(v, base)}`; });
    console.log(`| ${model} | ${type} | ${threads} | ${num(base)} | ${cols.join(' | ')} |`);
  }
}
