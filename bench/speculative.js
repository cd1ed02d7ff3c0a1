#!/usr/bin/env node
/**
 * Speculative decoding against plain decoding on the embedded model, side by
 * side in one process (issue 23 item 4):
 *  (i)  prompt lookup on an input-grounded task: the prompt is a passage of
 *       the play followed by its first line, so the model continues by
 *       repeating it (greedy);
 *  (ii) the trained draft model (models/shakespeare-draft.gguf) on free
 *       continuations of a speaker's name, greedy and sampled.
 * Each pair of runs checks that the speculative text equals the plain one
 * (the same seed when sampled) and reports decode tokens/s of both, their
 * ratio and the acceptance rate; runs alternate, best of `repeat`.
 *
 *   node bench/speculative.js [--threads 1] [--gen 128] [--repeat 3] [--draft-max 8] [--draft models/shakespeare-draft.gguf]
 *
 * Output: one JSON line per case, then a Markdown table and the load average.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../web/node/index.js';
import { sharedPath } from '../tools/shared-data.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parse(argv) {
  const o = { threads: 1, gen: 128, repeat: 3, 'draft-max': 4, draft: path.join(root, 'models/shakespeare-draft.gguf') };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in o) || argv[i + 1] === undefined) throw new Error(`usage: bench/speculative.js [--threads N] [--gen N] [--repeat N] [--draft-max N] [--draft FILE] (bad ${argv[i]})`);
    o[key] = key === 'draft' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return o;
}

/** Passages of the play (the training part of the corpus): a speech of 4-8 lines. */
function passages(n) {
  const text = fs.readFileSync(sharedPath('data/corpus/tinyshakespeare.txt'), 'utf8');
  const speeches = text.split('\n\n').filter((s) => {
    const lines = s.split('\n');
    return lines.length >= 5 && lines.length <= 9 && s.length < 400;
  });
  // Spread over the first 90% (the training split), the same ones every run.
  return Array.from({ length: n }, (_, i) => speeches[Math.floor(((i + 0.5) / n) * speeches.length * 0.9)]);
}

async function generate(session, prompt, options) {
  const it = session.complete(prompt, options);
  let r;
  while (!(r = await it.next()).done);
  return r.value;
}

/** Plain and speculative runs alternated; the best decode rate of each. */
async function pair(target, prompt, options, speculative, repeat) {
  let plain = null, spec = null;
  for (let r = 0; r < repeat; r++) {
    const a = await generate(target, prompt, options);
    const b = await generate(target, prompt, { ...options, speculative });
    if (b.text !== a.text) throw new Error(`speculative text differs from plain:\n${JSON.stringify(a.text)}\n${JSON.stringify(b.text)}`);
    if (!plain || a.timings.decodeTokensPerSecond > plain.timings.decodeTokensPerSecond) plain = a;
    if (!spec || b.timings.decodeTokensPerSecond > spec.timings.decodeTokensPerSecond) spec = b;
  }
  return { plain, spec };
}

const o = parse(process.argv.slice(2));
const target = await loadModel(path.join(root, 'models/shakespeare.gguf'), { threads: o.threads, sessions: 2 });
const draft = fs.existsSync(o.draft) ? await loadModel(o.draft, { threads: o.threads }) : null;
if (!draft) console.error(`bench/speculative: ${o.draft} not found; the draft-model cases are skipped`);
const greedy = { temperature: 0, maxTokens: o.gen };
const cases = [];
for (const [i, p] of passages(4).entries()) {
  const first = p.split('\n').slice(0, 2).join('\n') + '\n';
  cases.push({ group: 'lookup, all passages', name: `lookup, passage ${i + 1} + its start`, prompt: `${p}\n\n${first}`, options: greedy, speculative: { lookup: true, maxDraft: o['draft-max'] } });
}
if (draft) {
  for (const prompt of ['ROMEO:', 'First Citizen:\n', 'KING RICHARD III:\n']) {
    cases.push({ group: 'draft model, greedy, all prompts', name: `draft model, ${JSON.stringify(prompt)}, greedy`, prompt, options: greedy, speculative: { draft, maxDraft: o['draft-max'] } });
  }
  cases.push({ name: 'draft model, "ROMEO:", T=0.8 seed 1', prompt: 'ROMEO:', options: { ...greedy, temperature: 0.8, seed: 1 }, speculative: { draft, maxDraft: o['draft-max'] } });
}
const rows = [];
for (const c of cases) {
  const { plain, spec } = await pair(target, c.prompt, c.options, c.speculative, o.repeat);
  const st = spec.timings.speculative;
  const row = {
    case: c.name, tokens: plain.tokens.length, identical: true,
    plain_tok_s: +plain.timings.decodeTokensPerSecond.toFixed(1), spec_tok_s: +spec.timings.decodeTokensPerSecond.toFixed(1),
    speedup: +(spec.timings.decodeTokensPerSecond / plain.timings.decodeTokensPerSecond).toFixed(2),
    drafted: st.drafted, accepted: st.accepted, acceptance: +st.acceptanceRate.toFixed(3), max_draft: st.maxDraft,
    group: c.group, plain_ms: plain.timings.decodeMs, spec_ms: spec.timings.decodeMs, decoded: plain.tokens.length - 1,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
// Each group as one workload: its decode time summed, plain against speculative.
for (const group of [...new Set(rows.map((r) => r.group).filter(Boolean))]) {
  const g = rows.filter((r) => r.group === group);
  const sum = (k) => g.reduce((a, r) => a + r[k], 0);
  const plainRate = (1000 * sum('decoded')) / sum('plain_ms'), specRate = (1000 * sum('decoded')) / sum('spec_ms');
  rows.push({ case: `**${group}**`, tokens: sum('tokens'), identical: true, plain_tok_s: +plainRate.toFixed(1), spec_tok_s: +specRate.toFixed(1),
    speedup: +(specRate / plainRate).toFixed(2), drafted: sum('drafted'), accepted: sum('accepted'), acceptance: sum('accepted') / sum('drafted') });
  console.log(JSON.stringify(rows.at(-1)));
}
console.log('\n| case | tokens | plain tok/s | speculative tok/s | speed-up | drafted | accepted | acceptance |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.case} | ${r.tokens} | ${r.plain_tok_s} | ${r.spec_tok_s} | ${r.speedup}x | ${r.drafted} | ${r.accepted} | ${(100 * r.acceptance).toFixed(1)}% |`);
}
console.log(`\n${new Date().toISOString()}, ${o.threads} thread(s), up to ${o['draft-max']} drafted, best of ${o.repeat}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
draft?.dispose();
target.dispose();
