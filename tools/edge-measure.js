#!/usr/bin/env node
/**
 * Cold start, memory and decode speed of the edge worker in workerd, with the
 * model embedded as a data module (as demo/edge-worker bundles it).
 *
 *   node tools/edge-measure.js [--model FILE.gguf] [--tokens N] [--prompt TEXT] [--runs N]
 *                              [--source embedded|url]
 *
 * --source url runs tests/edge/fixtures/url-worker.mjs instead, which fetches
 * the model from a local HTTP server on its first request (like R2: nothing
 * but code is bundled) with a 512-token context.
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
    source: { type: 'string', default: 'embedded' },
  },
});
if (!['embedded', 'url'].includes(values.source)) throw new Error('--source is embedded or url');
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
/** --source url: the worker fetches the model from this process (as it would from R2) instead of bundling it. */
let server = null;
let workerOptions = { dir, model: modelFile, timeoutMs: 60000 };
if (values.source === 'url') {
  const http = await import('node:http');
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': fs.statSync(modelFile).size });
    fs.createReadStream(modelFile).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  workerOptions = { dir, entry: 'tests/edge/fixtures/url-worker.mjs', localFetch: true, timeoutMs: 60000,
    vars: { MODEL_URL: `http://127.0.0.1:${server.address().port}/model.gguf` } };
}
try {
  for (let run = 0; run < runs; run++) {
    const w = await startWorkerd(workerOptions);
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
  server?.close();
}

/**
 * The same model in Node's single-threaded build, in this process right after
 * the workerd runs: the decode speed to compare with, and the wasm heap the
 * worker's isolate needs (the Cloudflare limit counts it; workerd's RSS is
 * the whole process). The heap is read from the instance's exported memory.
 */
async function nodeReference(file, contextSize) {
  const instantiate = WebAssembly.instantiate;
  let instance = null;
  WebAssembly.instantiate = async (...args) => {
    const r = await instantiate(...args);
    instance = r.instance ?? r;
    return r;
  };
  try {
    const { loadModel } = await import('../web/node/index.js');
    const model = await loadModel(file, { variant: 'st', threads: 1, contextSize });
    try {
      // Timed like the client times the worker: from the first piece to the
      // last, sampling and detokenizing included (the runtime's own
      // decodeTokensPerSecond counts wl_decode alone).
      const times = [];
      for await (const piece of model.complete(values.prompt, { maxTokens: tokens, temperature: 0, seed: 1 })) {
        if (piece.token >= 0) times.push(performance.now());
      }
      const memory = Object.values(instance.exports).find((e) => e instanceof WebAssembly.Memory);
      return {
        decodeTokensPerSecond: ((times.length - 1) * 1000) / (times[times.length - 1] - times[0]),
        runtimeDecodeTokensPerSecond: model.lastCompletion.timings.decodeTokensPerSecond,
        heapBytes: memory.buffer.byteLength, contextSize: model.info().contextSize,
      };
    } finally {
      model.dispose();
    }
  } finally {
    WebAssembly.instantiate = instantiate;
  }
}

const { readHeaders } = await import('../web/node/index.js');
const [{ header }] = await readHeaders(modelFile);
const trained = Number(header.metadata.get(`${header.metadata.get('general.architecture')}.context_length`));
// The worker's context: min(training, 2048) when embedded; url-worker.mjs asks for 512.
const node = await nodeReference(modelFile, values.source === 'url' ? Math.min(trained, 512) : Math.min(trained, 2048));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const size = fs.statSync(modelFile).size;
console.log(JSON.stringify({ model: values.model, bytes: size, results, node }, null, 2));
console.log([
  `model ${path.basename(modelFile)} (${MiB(size)}), ${values.source === 'url' ? 'fetched by URL on the first request' : 'embedded as a data module'}, ${runs} fresh workerd runs:`,
  `  workerd listening after ${results.map((r) => `${r.startMs} ms`).join(', ')} (config + worker startup)`,
  `  cold start (first request, max_tokens 1): ${results.map((r) => `${r.coldMs.toFixed(0)} ms`).join(', ')}`,
  `  RSS idle ${MiB(median(results.map((r) => r.idle.rss)))}, after load ${MiB(median(results.map((r) => r.loaded.rss)))}, after ${tokens} tokens ${MiB(median(results.map((r) => r.after.rss)))}, peak ${MiB(median(results.map((r) => r.after.peak)))}`,
  `  decode ${results.map((r) => `${r.warm.decodeTokensPerSecond.toFixed(1)}`).join(', ')} tokens/s over ${results[0].warm.chunks} chunks (usage ${results[0].warm.usage?.completion_tokens} tokens), warm time to first chunk ${results.map((r) => `${r.warm.firstMs.toFixed(0)} ms`).join(', ')}`,
  `  Node st build, same machine, right after: ${node.decodeTokensPerSecond.toFixed(1)} tokens/s timed the same way (wl_decode alone: ${node.runtimeDecodeTokensPerSecond.toFixed(1)}); wasm heap ${MiB(node.heapBytes)} at context ${node.contextSize}`,
  `  load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores`,
].join('\n'));
