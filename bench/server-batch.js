#!/usr/bin/env node
/**
 * Continuous batching as a client sees it: the real `wasmllm serve --slots 8`
 * on a synthetic file, c concurrent streamed /v1/completions requests, and
 * the same server with --no-batch (the slots' old turns) side by side: both
 * servers run at once and every burst alternates between them, so load on the
 * host hits both alike.
 *
 *   node bench/server-batch.js [--models smollm2-135m,llama-3.2-1b] [--type Q4_0] [--threads 1,2]
 *     [--streams 1,4,8] [--gen 32] [--prompt 32] [--repeat 2]
 *
 * Per burst and stream: time to first token (request sent -> first text),
 * time per token after it, and completion_tokens (include_usage). Aggregate
 * decode tokens/s is the sum of the streams' decode rates ((n - 1) / (last -
 * first token)), which run at the same time. End-of-generation tokens are
 * banned (logit_bias) so every stream generates `gen` tokens. Each figure is
 * the best of `repeat` bursts. Output: a JSON line per row, then a Markdown table.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchFile, benchPrompt, benchTokenizer } from './models.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'web/node/cli.js');

function parseArgs(argv) {
  const o = { models: ['smollm2-135m', 'llama-3.2-1b'], type: 'Q4_0', threads: [1, 2], streams: [1, 4, 8], gen: 32, prompt: 32, repeat: 2 };
  const lists = { models: String, threads: Number, streams: Number };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (!(key in o) || v === undefined) throw new Error(`bench/server-batch: unknown or valueless option ${argv[i]}`);
    o[key] = key in lists ? v.split(',').map(lists[key]) : typeof o[key] === 'number' ? Number(v) : v;
  }
  return o;
}

/** Starts `wasmllm serve`; resolves with its URL and child process. */
function startServe(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '-q', '--port', '0', ...args], { cwd: ROOT });
    let out = '', err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /on (http:\/\/\S+)\/v1/.exec(out);
      if (m) resolve({ url: m[1], child, banner: out.trim() });
    });
    child.on('close', (code) => reject(new Error(`serve exited (${code}) before listening:\n${err}`)));
  });
}

/** One streamed request: { ttftMs, tpotMs, tokens, decodeTokS }. */
async function streamOnce(url, body) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (r.status !== 200) throw new Error(`bench/server-batch: ${r.status} ${await r.text()}`);
  let first = null, last = null, tokens = null, buf = '';
  const decoder = new TextDecoder();
  for await (const bytes of r.body) {
    buf += decoder.decode(bytes, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const data = buf.slice(0, i).replace(/^data: /, '');
      buf = buf.slice(i + 2);
      if (data === '[DONE]') continue;
      const j = JSON.parse(data);
      if (j.error) throw new Error(`bench/server-batch: ${j.error.message}`);
      if (j.usage) tokens = j.usage.completion_tokens;
      else if (j.choices[0].text) { last = performance.now(); first ??= last; }
    }
  }
  if (first === null || tokens === null) throw new Error('bench/server-batch: a stream sent no text or no usage');
  const tpotMs = tokens > 1 ? (last - first) / (tokens - 1) : 0;
  return { ttftMs: first - t0, tpotMs, tokens, decodeTokS: tpotMs > 0 ? 1000 / tpotMs : 0 };
}

/** c streams at once: aggregate decode tokens/s, mean time to first token and per token. */
async function burst(url, c, body) {
  const runs = await Promise.all(Array.from({ length: c }, (_, k) => streamOnce(url, { ...body, prompt: [...body.prompt.slice(0, -1), body.prompt.at(-1) + k] })));
  const mean = (f) => runs.reduce((s, r) => s + f(r), 0) / c;
  if (runs.some((r) => r.tokens !== body.max_tokens)) throw new Error(`bench/server-batch: a stream ended before ${body.max_tokens} tokens`);
  return { aggTokS: runs.reduce((s, r) => s + r.decodeTokS, 0), ttftMs: mean((r) => r.ttftMs), tpotMs: mean((r) => r.tpotMs) };
}

const opts = parseArgs(process.argv.slice(2));
const rows = [];
for (const model of opts.models) {
  const file = benchFile(model, opts.type);
  const tok = benchTokenizer(model);
  const banned = {};
  for (let id = 0; id < tok.nVocab; id++) if (tok.isEog(id)) banned[id] = -100;
  const prompt = benchPrompt(model, opts.prompt);
  const body = { model: 'bench', prompt, max_tokens: opts.gen, temperature: 0, logit_bias: banned, stream: true, stream_options: { include_usage: true } };
  for (const threads of opts.threads) {
    const ctx = String(opts.prompt + opts.gen + 16);
    const common = ['-m', file, '--name', 'bench', '--slots', String(Math.max(...opts.streams)), '-t', String(threads), '-c', ctx];
    const servers = { batch: await startServe(common), turns: await startServe([...common, '--no-batch']) };
    try {
      for (const s of Object.values(servers)) await burst(s.url, 1, { ...body, max_tokens: 4 }); // warm-up
      let one = null;
      for (const c of opts.streams) {
        const best = { batch: null, turns: null };
        for (let r = 0; r < opts.repeat; r++) {
          for (const mode of r % 2 ? ['turns', 'batch'] : ['batch', 'turns']) {
            const b = await burst(servers[mode].url, c, body);
            if (!best[mode] || b.aggTokS > best[mode].aggTokS) best[mode] = b;
          }
        }
        if (c === 1) one = best.batch;
        const row = {
          model, type: opts.type, threads, streams: c,
          batch_tok_s: +best.batch.aggTokS.toFixed(1), turns_tok_s: +best.turns.aggTokS.toFixed(1),
          batch_over_turns: +(best.batch.aggTokS / best.turns.aggTokS).toFixed(2),
          batch_over_one_stream: one ? +(best.batch.aggTokS / one.aggTokS).toFixed(2) : null,
          batch_ttft_ms: Math.round(best.batch.ttftMs), turns_ttft_ms: Math.round(best.turns.ttftMs),
          batch_ms_per_token: +best.batch.tpotMs.toFixed(1), turns_ms_per_token: +best.turns.tpotMs.toFixed(1),
          load: +os.loadavg()[0].toFixed(1),
        };
        console.log(JSON.stringify(row));
        rows.push(row);
      }
    } finally {
      for (const s of Object.values(servers)) s.child.kill('SIGKILL');
    }
  }
}
console.log(`\n${opts.type}, prompt ${opts.prompt} tokens, ${opts.gen} generated per stream, best of ${opts.repeat}; load average (1 min) at each row`);
console.log('\n| model | threads | streams | batched tok/s | turns tok/s | batched / turns | batched / 1 stream | TTFT ms batched / turns | ms per token batched / turns | load |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.model} | ${r.threads} | ${r.streams} | ${r.batch_tok_s} | ${r.turns_tok_s} | ${r.batch_over_turns} | ${r.batch_over_one_stream ?? ''} | ${r.batch_ttft_ms} / ${r.turns_ttft_ms} | ${r.batch_ms_per_token} / ${r.turns_ms_per_token} | ${r.load} |`);
}
