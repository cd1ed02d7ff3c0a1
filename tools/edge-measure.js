#!/usr/bin/env node
/**
 * Cold start, memory and decode speed of the edge worker in workerd, with the
 * model embedded as a data module (as demo/edge-worker bundles it).
 *
 *   node tools/edge-measure.js [--model FILE.gguf] [--tokens N] [--prompt TEXT]
 *
 * Cold start = the first request's latency (max_tokens 1) once workerd
 * listens: wasm instantiation, copying the GGUF into the wasm heap, parsing,
 * KV cache allocation and a one-token generation. Memory = workerd's RSS
 * (idle, after loading, after generating) and its peak. Decode speed is read
 * by the client from a streamed completion: (chunks - 1) / (last - first
 * chunk time); workerd freezes the clock inside the worker, so it cannot time
 * itself.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startWorkerd, processMemory } from './workerd.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/shakespeare.gguf' },
    tokens: { type: 'string', default: '128' },
    prompt: { type: 'string', default: 'ROMEO:' },
    runs: { type: 'string', default: '2' },
  },
});
const tokens = Number(values.tokens);
const runs = Number(values.runs);
const MiB = (b) => `${(b / 1048576).toFixed(1)} MiB`;

async function post(url, body) {
  const t0 = performance.now();
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${JSON.stringify(json)}`);
  return { ms: performance.now() - t0, json };
}

/** Streams a completion and times each content chunk. */
async function streamTimed(url, body) {
  const t0 = performance.now();
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const times = [];
  let usage = null;
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const bytes of r.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let i;
    while ((i = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.usage) usage = chunk.usage;
      else times.push(performance.now() - t0);
    }
  }
  const decodeMs = times[times.length - 1] - times[0];
  return { firstMs: times[0], chunks: times.length, usage, decodeTokensPerSecond: ((times.length - 1) * 1000) / decodeMs };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-edge-measure-'));
const modelFile = path.resolve(values.model);
const results = [];
try {
  for (let run = 0; run < runs; run++) {
    const w = await startWorkerd({ dir, model: modelFile, timeoutMs: 60000 });
    try {
      const idle = processMemory(w.pid);
      const cold = await post(`${w.url}/v1/completions`, { prompt: values.prompt, max_tokens: 1, temperature: 0 });
      const loaded = processMemory(w.pid);
      const warm = await streamTimed(`${w.url}/v1/completions`, { prompt: values.prompt, max_tokens: tokens, temperature: 0, seed: 1 });
      const after = processMemory(w.pid);
      results.push({ startMs: w.startMs, coldMs: cold.ms, idle, loaded, after, warm });
    } finally {
      await w.stop();
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const size = fs.statSync(modelFile).size;
console.log(JSON.stringify({ model: values.model, bytes: size, results }, null, 2));
console.log([
  `model ${path.basename(modelFile)} (${MiB(size)}), ${runs} fresh workerd runs:`,
  `  workerd listening after ${results.map((r) => `${r.startMs} ms`).join(', ')} (config + worker startup, model embedded)`,
  `  cold start (first request, max_tokens 1): ${results.map((r) => `${r.coldMs.toFixed(0)} ms`).join(', ')}`,
  `  RSS idle ${MiB(median(results.map((r) => r.idle.rss)))}, after load ${MiB(median(results.map((r) => r.loaded.rss)))}, after ${tokens} tokens ${MiB(median(results.map((r) => r.after.rss)))}, peak ${MiB(median(results.map((r) => r.after.peak)))}`,
  `  decode ${results.map((r) => `${r.warm.decodeTokensPerSecond.toFixed(1)}`).join(', ')} tokens/s over ${results[0].warm.chunks} chunks (usage ${results[0].warm.usage?.completion_tokens} tokens), warm time to first chunk ${results.map((r) => `${r.warm.firstMs.toFixed(0)} ms`).join(', ')}`,
].join('\n'));
